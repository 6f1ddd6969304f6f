/*
 * escrow.c - escrow envelopes, party keys, break-glass.
 *
 * Formats (all integers big-endian; docs/escrow.md has the full text):
 *
 *   FILE.pub   "vaultd-escrow-v1 PARTY BASE64(pk) KEYID\n"
 *   FILE       "vaultd-escrow-key-v1 PARTY KEYID none BASE64(sk)\n"  or
 *              "vaultd-escrow-key-v1 PARTY KEYID argon2id OPS MEM
 *               BASE64(salt) BASE64(nonce) BASE64(XChaCha20-Poly1305(sk))\n"
 *              (one line; the AEAD's associated data is every byte of the
 *              line before the nonce)
 *              then optionally the pin line "vaultd-escrow-vault-v1 FP\n":
 *              the vault signing key the party trusts
 *   KEYID      first 8 bytes of BLAKE2b-128(pk), hex
 *
 *   envelope   "VDESCRW1" | u8 tlen | target | u64 version | u8 plen |
 *              party | i64 created | u8 mode | u8 m | u8 n |
 *              vault sign pk[32] | recipient pk[32] | commitment[32] |
 *              u32 boxlen | crypto_box_seal(plaintext) |
 *              Ed25519 signature[64] over SIG_PREFIX || every byte before it
 *   plaintext  "VDESCPT1" | u8 tlen | target | u64 version | u8 plen |
 *              party | i64 created | u8 mode | u8 m | u8 n | u8 x |
 *              split id[16] | salt[32] | u16 slen | secret (password, or
 *              the share's values at x)
 *   commitment BLAKE2b-256 keyed with COMMIT_KEY over the plaintext (the
 *              random salt keeps it hiding)
 *   bundle     "VDBUNDL1" | u32 count | count x (u8 tlen | target |
 *              u64 version | u8 plen | party | u32 len | envelope)
 *   share file "VDSHARE1" | u32 envlen | envelope | u32 boxlen |
 *              crypto_box_seal(plaintext, combiner pk)
 *
 * Layering: escrow sits above the store, which knows nothing of it.  All
 * escrow needs of the store is this small interface (storage/store.h):
 * the raw envelope records (vd_envelope_put/get/each/del/del_party), the
 * signing key's seed (vd_store_derive), the lists of targets and versions
 * (vd_target_each, vd_version_each) and the audit log (vd_audit_append).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "escrow.h"
#include "shamir.h"
#include "wire.h"

#define PUB_MAGIC	"vaultd-escrow-v1"
#define KEY_MAGIC	"vaultd-escrow-key-v1"
#define PIN_MAGIC	"vaultd-escrow-vault-v1"	/* key file pin line */
#define ENV_MAGIC	"VDESCRW1"
#define PT_MAGIC	"VDESCPT1"
#define BUNDLE_MAGIC	"VDBUNDL1"
#define SHARE_MAGIC	"VDSHARE1"
#define SIG_PREFIX	"vaultd-escrow-sig-v1"	/* domain of the signature */
#define COMMIT_KEY	"vaultd-escrow-commit-v1"	/* BLAKE2b key */
#define SIGN_CTX	"vdescrow"	/* vd_store_derive context, 8 bytes */
#define SIGN_ID		1		/* vd_store_derive id */
#define SPLITBYTES	16		/* one sealing's id */
#define SALTBYTES	32		/* plaintext salt */
#define SKBYTES		crypto_box_SECRETKEYBYTES
#define PKBYTES		VD_ESCROW_PKBYTES
#define NONCEBYTES	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAGBYTES	crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SECRET_MAXLEN	VD_SECRET_MAX	/* longest escrowed password */
#define BUNDLE_MAXITEMS	1000000u	/* bounds a hostile count */

/* ---- small helpers -------------------------------------------------- */

static void
keyid_of(const unsigned char *pk, char *out)
{
	unsigned char h[crypto_generichash_BYTES_MIN];

	crypto_generichash(h, sizeof(h), pk, PKBYTES, NULL, 0);
	sodium_bin2hex(out, VD_ESCROW_KEYIDLEN + 1, h, VD_ESCROW_KEYIDLEN / 2);
}

static void
fp_of(const unsigned char *pk, char *out)
{
	unsigned char h[VD_ESCROW_FPLEN / 2];

	crypto_generichash(h, sizeof(h), pk, PKBYTES, NULL, 0);
	sodium_bin2hex(out, VD_ESCROW_FPLEN + 1, h, sizeof(h));
}

static int
write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Creates path (O_EXCL, mode) holding p; fsynced.  Removes it on failure. */
static int
create_file(const char *path, mode_t mode, const void *p, size_t n)
{
	int fd, r;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, mode)) < 0) {
		if (errno == EEXIST)
			return vd_err_set(VD_EEXIST, "%s exists; refusing to "
			    "overwrite it", path);
		return vd_err_set(-errno, "cannot create %s: %s", path,
		    strerror(errno));
	}
	if ((r = write_all(fd, p, n)) != 0 || fsync(fd) != 0) {
		r = vd_err_set(r ? r : -errno, "cannot write %s", path);
		close(fd);
		unlink(path);
		return r;
	}
	if (close(fd) != 0) {
		r = vd_err_set(-errno, "cannot write %s", path);
		unlink(path);
		return r;
	}
	return 0;
}

/* ---- key file lines ------------------------------------------------- */

struct tok {
	const char	*p;	/* into the line */
	size_t		 n;	/* length */
};

/*
 * Splits one line (optionally ending in a single \n) into at most max
 * tokens separated by single spaces; only printable ASCII.  Returns the
 * number of tokens, or -1.
 */
static int
tokenize(const char *buf, size_t len, struct tok *t, int max)
{
	size_t start = 0;
	int n = 0;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0 || len > VD_ESCROW_LINEMAX)
		return -1;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || buf[i] == ' ') {
			if (i == start || n >= max)
				return -1;
			t[n].p = buf + start;
			t[n].n = i - start;
			n++;
			start = i + 1;
		} else if ((unsigned char)buf[i] < 0x21 ||
		    (unsigned char)buf[i] > 0x7e)
			return -1;
	}
	return n;
}

static int
tok_is(const struct tok *t, const char *s)
{
	return t->n == strlen(s) && memcmp(t->p, s, t->n) == 0;
}

static int
tok_name(const struct tok *t, char *out)
{
	if (t->n == 0 || t->n > VD_NAME_MAX)
		return -1;
	memcpy(out, t->p, t->n);
	out[t->n] = '\0';
	return vd_name_valid(out) ? 0 : -1;
}

static int
tok_u64(const struct tok *t, uint64_t *v)
{
	uint64_t x = 0;

	if (t->n == 0 || t->n > 19 || (t->n > 1 && t->p[0] == '0'))
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		if (t->p[i] < '0' || t->p[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(t->p[i] - '0');
	}
	*v = x;
	return 0;
}

/* Decodes exactly want bytes of canonical padded base64. */
static int
tok_b64(const struct tok *t, unsigned char *out, size_t want)
{
	const char *end = NULL;
	size_t binlen = 0;

	if (t->n != sodium_base64_ENCODED_LEN(want,
	    sodium_base64_VARIANT_ORIGINAL) - 1)
		return -1;
	if (sodium_base642bin(out, want, t->p, t->n, NULL, &binlen, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || binlen != want ||
	    end != t->p + t->n) {
		sodium_memzero(out, want);
		return -1;
	}
	return 0;
}

static int
tok_keyid(const struct tok *t, char *out)
{
	if (t->n != VD_ESCROW_KEYIDLEN)
		return -1;
	for (size_t i = 0; i < t->n; i++)
		if (!((t->p[i] >= '0' && t->p[i] <= '9') ||
		    (t->p[i] >= 'a' && t->p[i] <= 'f')))
			return -1;
	memcpy(out, t->p, t->n);
	out[t->n] = '\0';
	return 0;
}

int
vd_escrow_pub_parse(const char *line, size_t len, struct vd_escrow_pub *out)
{
	struct tok t[4];
	char keyid[VD_ESCROW_KEYIDLEN + 1], want[VD_ESCROW_KEYIDLEN + 1];

	memset(out, 0, sizeof(*out));
	if (tokenize(line, len, t, 4) != 4 || !tok_is(&t[0], PUB_MAGIC))
		return vd_err_set(VD_EINVAL, "not an escrow public key line "
		    "(\"" PUB_MAGIC " PARTY KEY KEYID\")");
	if (tok_name(&t[1], out->party) != 0)
		return vd_err_set(VD_EINVAL, "escrow public key: bad party "
		    "name");
	if (tok_b64(&t[2], out->pk, PKBYTES) != 0)
		return vd_err_set(VD_EINVAL, "escrow public key: the key is "
		    "not %d bytes of base64", PKBYTES);
	if (tok_keyid(&t[3], keyid) != 0)
		return vd_err_set(VD_EINVAL, "escrow public key: bad key id");
	keyid_of(out->pk, want);
	if (strcmp(keyid, want) != 0)
		return vd_err_set(VD_EINVAL, "escrow public key: key id %s "
		    "does not match the key (damaged file?)", keyid);
	memcpy(out->keyid, want, sizeof(want));
	return 0;
}

int
vd_escrow_pub_format(const struct vd_escrow_pub *pub, char *buf, size_t len)
{
	char b64[sodium_base64_ENCODED_LEN(PKBYTES,
	    sodium_base64_VARIANT_ORIGINAL)];
	int n;

	sodium_bin2base64(b64, sizeof(b64), pub->pk, PKBYTES,
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(buf, len, "%s %s %s %s\n", PUB_MAGIC, pub->party, b64,
	    pub->keyid);
	if (n < 0 || (size_t)n >= len)
		return VD_ETOOBIG;
	return 0;
}

int
vd_escrow_pub_load(const char *path, struct vd_escrow_pub *out)
{
	char buf[VD_ESCROW_LINEMAX + 2];
	struct stat sb;
	ssize_t n;
	int fd, r;

	memset(out, 0, sizeof(*out));
	/*
	 * Checked as vaultd's config file is (issue 14 item 8): whoever can
	 * write this file decides to whom every password is sealed.  No
	 * symbolic link is followed (O_NOFOLLOW), and the checks are made on
	 * the file opened (fstat), not on a name that may change meanwhile.
	 */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK))
	    < 0)
		return vd_err_set(errno == ELOOP ? VD_EKEYPERM : -errno,
		    "cannot open %s: %s", path, errno == ELOOP ?
		    "a symbolic link" : strerror(errno));
	if (fstat(fd, &sb) != 0) {
		r = vd_err_set(-errno, "cannot stat %s", path);
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		r = vd_err_set(VD_EKEYPERM, "%s: not a regular file", path);
		goto fail;
	}
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		r = vd_err_set(VD_EKEYPERM, "%s: writable by %s (mode %04o): "
		    "chmod go-w", path, sb.st_mode & S_IWOTH ? "others" :
		    "its group", (unsigned)(sb.st_mode & 07777));
		goto fail;
	}
	if (sb.st_uid != 0 && sb.st_uid != geteuid()) {
		r = vd_err_set(VD_EKEYPERM, "%s: owned by uid %u, neither root "
		    "nor the reader (uid %u)", path, (unsigned)sb.st_uid,
		    (unsigned)geteuid());
		goto fail;
	}
	n = read(fd, buf, sizeof(buf));
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r != 0)
		return vd_err_set(r, "cannot read %s", path);
	if ((size_t)n >= sizeof(buf))
		return vd_err_set(VD_EINVAL, "%s: too long for a public key "
		    "file", path);
	if ((r = vd_escrow_pub_parse(buf, (size_t)n, out)) != 0) {
		char d[512];

		snprintf(d, sizeof(d), "%s", vd_err_detail());
		return vd_err_set(r, "%s: %s", path, d);
	}
	return 0;
 fail:
	close(fd);
	return r;
}

int
vd_escrow_keygen(const char *party, struct vd_escrow_key **out)
{
	struct vd_escrow_key *k;

	*out = NULL;
	if (!vd_name_valid(party))
		return vd_err_set(VD_EINVAL, "invalid party name (1-%d of "
		    "A-Z a-z 0-9 . _ -)", VD_NAME_MAX);
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return VD_ENOMEM;
	if ((k->sk = vd_secret_new(SKBYTES)) == NULL) {
		free(k);
		return VD_ENOMEM;
	}
	crypto_box_keypair(k->pub.pk, k->sk->data);
	k->sk->len = SKBYTES;
	memcpy(k->pub.party, party, strlen(party) + 1);
	keyid_of(k->pub.pk, k->pub.keyid);
	*out = k;
	return 0;
}

void
vd_escrow_key_free(struct vd_escrow_key *k)
{
	if (k == NULL)
		return;
	vd_secret_free(k->sk);
	free(k);
}

/* Appends the base64 of n bytes at p to text (secure memory). */
static int
text_b64(struct vd_secret *text, const unsigned char *p, size_t n)
{
	size_t need = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_ORIGINAL);

	if (text->len + need > text->cap)
		return VD_ETOOBIG;
	sodium_bin2base64((char *)text->data + text->len, need, p, n,
	    sodium_base64_VARIANT_ORIGINAL);
	text->len += need - 1;
	return 0;
}

static int
text_str(struct vd_secret *text, const char *s)
{
	size_t n = strlen(s);

	if (text->len + n > text->cap)
		return VD_ETOOBIG;
	memcpy(text->data + text->len, s, n);
	text->len += n;
	return 0;
}

int
vd_escrow_key_format(const struct vd_escrow_key *k,
    const struct vd_secret *pass, const struct vd_kdf_params *params,
    struct vd_secret **textp)
{
	struct vd_secret *text = NULL, *wk = NULL;
	unsigned char salt[crypto_pwhash_SALTBYTES], nonce[NONCEBYTES];
	unsigned char ct[SKBYTES + TAGBYTES];
	unsigned long long ops;
	size_t mem;
	char head[256];
	int n, r;

	*textp = NULL;
	if ((text = vd_secret_new(VD_ESCROW_LINEMAX)) == NULL)
		return VD_ENOMEM;
	if (pass == NULL || pass->len == 0) {
		n = snprintf(head, sizeof(head), "%s %s %s none ", KEY_MAGIC,
		    k->pub.party, k->pub.keyid);
		if (n < 0 || (size_t)n >= sizeof(head)) {
			r = VD_ETOOBIG;
			goto out;
		}
		if ((r = text_str(text, head)) != 0 ||
		    (r = text_b64(text, k->sk->data, SKBYTES)) != 0 ||
		    (r = text_str(text, "\n")) != 0)
			goto out;
		goto done;
	}
	ops = params ? params->opslimit : crypto_pwhash_OPSLIMIT_MODERATE;
	mem = params ? params->memlimit : crypto_pwhash_MEMLIMIT_MODERATE;
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	if ((wk = vd_secret_new(crypto_aead_xchacha20poly1305_ietf_KEYBYTES))
	    == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if (crypto_pwhash(wk->data, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	    (const char *)pass->data, pass->len, salt, ops, mem,
	    crypto_pwhash_ALG_ARGON2ID13) != 0) {
		r = vd_err_set(VD_ENOMEM, "Argon2id ran out of memory");
		goto out;
	}
	n = snprintf(head, sizeof(head), "%s %s %s argon2id %llu %zu ",
	    KEY_MAGIC, k->pub.party, k->pub.keyid, ops, mem);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		r = VD_ETOOBIG;
		goto out;
	}
	if ((r = text_str(text, head)) != 0 ||
	    (r = text_b64(text, salt, sizeof(salt))) != 0 ||
	    (r = text_str(text, " ")) != 0)
		goto out;
	/* The associated data: every byte of the line before the nonce. */
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, k->sk->data,
	    SKBYTES, text->data, text->len, NULL, nonce, wk->data);
	if ((r = text_b64(text, nonce, sizeof(nonce))) != 0 ||
	    (r = text_str(text, " ")) != 0 ||
	    (r = text_b64(text, ct, sizeof(ct))) != 0 ||
	    (r = text_str(text, "\n")) != 0)
		goto out;
 done:
	if (k->vault_fp[0] != '\0') {
		n = snprintf(head, sizeof(head), "%s %s\n", PIN_MAGIC,
		    k->vault_fp);
		if (n < 0 || (size_t)n >= sizeof(head) ||
		    (r = text_str(text, head)) != 0) {
			r = VD_ETOOBIG;
			goto out;
		}
	}
	text->data[text->len] = '\0';
	*textp = text;
	text = NULL;
	r = 0;
 out:
	vd_secret_free(text);
	vd_secret_free(wk);
	return r;
}

/* Length of buf's first line, its newline included. */
static size_t
first_line(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);

	return nl != NULL ? (size_t)(nl - buf) + 1 : len;
}

/*
 * Parses what follows a key file's key line: nothing, or one pin line
 * "vaultd-escrow-vault-v1 FP" (at most one trailing newline) into fp.
 */
static int
pin_line_parse(const char *buf, size_t len, char fp[VD_ESCROW_FPLEN + 1])
{
	struct tok t[2];
	char tmp[VD_ESCROW_FPLEN + 1];

	fp[0] = '\0';
	if (len == 0)
		return 0;
	if (tokenize(buf, len, t, 2) != 2 || !tok_is(&t[0], PIN_MAGIC) ||
	    t[1].n != VD_ESCROW_FPLEN)
		return -1;
	memcpy(tmp, t[1].p, t[1].n);
	tmp[t[1].n] = '\0';
	return vd_escrow_fp_parse(tmp, fp) == 0 ? 0 : -1;
}

int
vd_escrow_fp_parse(const char *s, char out[VD_ESCROW_FPLEN + 1])
{
	if (s == NULL || strlen(s) != VD_ESCROW_FPLEN)
		return vd_err_set(VD_EINVAL, "a vault key fingerprint is %d hex "
		    "digits", VD_ESCROW_FPLEN);
	for (size_t i = 0; i < VD_ESCROW_FPLEN; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return vd_err_set(VD_EINVAL, "a vault key fingerprint is "
			    "%d hex digits", VD_ESCROW_FPLEN);
		out[i] = c;
	}
	out[VD_ESCROW_FPLEN] = '\0';
	return 0;
}

int
vd_escrow_key_protected(const char *buf, size_t len)
{
	struct tok t[9];
	int n = tokenize(buf, first_line(buf, len), t, 9);

	if (n == 5 && tok_is(&t[0], KEY_MAGIC) && tok_is(&t[3], "none"))
		return 0;
	if (n == 9 && tok_is(&t[0], KEY_MAGIC) && tok_is(&t[3], "argon2id"))
		return 1;
	return vd_err_set(VD_EINVAL, "not an escrow private key file");
}

int
vd_escrow_key_parse(const char *buf, size_t len,
    const struct vd_secret *pass, struct vd_escrow_key **out)
{
	struct vd_escrow_key *k = NULL;
	struct vd_secret *wk = NULL;
	unsigned char salt[crypto_pwhash_SALTBYTES], nonce[NONCEBYTES];
	unsigned char ct[SKBYTES + TAGBYTES], pk[PKBYTES];
	char keyid[VD_ESCROW_KEYIDLEN + 1];
	struct tok t[9];
	uint64_t ops, mem;
	int n, r, prot;

	*out = NULL;
	if ((prot = vd_escrow_key_protected(buf, len)) < 0)
		return prot;
	n = tokenize(buf, first_line(buf, len), t, 9);
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return VD_ENOMEM;
	if (pin_line_parse(buf + first_line(buf, len), len - first_line(buf,
	    len), k->vault_fp) != 0) {
		r = vd_err_set(VD_EINVAL, "escrow private key: the line after "
		    "the key is not \"" PIN_MAGIC " FINGERPRINT\"");
		goto out;
	}
	if ((k->sk = vd_secret_new(SKBYTES)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if (tok_name(&t[1], k->pub.party) != 0 || tok_keyid(&t[2], keyid)
	    != 0) {
		r = vd_err_set(VD_EINVAL, "escrow private key: bad party name "
		    "or key id");
		goto out;
	}
	if (!prot) {
		if (n != 5 || tok_b64(&t[4], k->sk->data, SKBYTES) != 0) {
			r = vd_err_set(VD_EINVAL, "escrow private key: bad key");
			goto out;
		}
	} else {
		if (tok_u64(&t[4], &ops) != 0 || tok_u64(&t[5], &mem) != 0 ||
		    ops < crypto_pwhash_OPSLIMIT_MIN ||
		    ops > 4ULL * crypto_pwhash_OPSLIMIT_SENSITIVE ||
		    mem < crypto_pwhash_MEMLIMIT_MIN ||
		    mem > crypto_pwhash_MEMLIMIT_SENSITIVE ||
		    tok_b64(&t[6], salt, sizeof(salt)) != 0 ||
		    tok_b64(&t[7], nonce, sizeof(nonce)) != 0 ||
		    tok_b64(&t[8], ct, sizeof(ct)) != 0) {
			r = vd_err_set(VD_EINVAL, "escrow private key: bad "
			    "Argon2id parameters or sealed key");
			goto out;
		}
		if (pass == NULL || pass->len == 0) {
			r = vd_err_set(VD_EBADKEY, "the escrow key is "
			    "passphrase-protected: a passphrase is needed");
			goto out;
		}
		if ((wk = vd_secret_new(
		    crypto_aead_xchacha20poly1305_ietf_KEYBYTES)) == NULL) {
			r = VD_ENOMEM;
			goto out;
		}
		if (crypto_pwhash(wk->data,
		    crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
		    (const char *)pass->data, pass->len, salt, ops,
		    (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) != 0) {
			r = vd_err_set(VD_ENOMEM, "Argon2id ran out of memory");
			goto out;
		}
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(k->sk->data,
		    NULL, NULL, ct, sizeof(ct), (const unsigned char *)buf,
		    (size_t)(t[7].p - buf), nonce, wk->data) != 0) {
			r = vd_err_set(VD_EBADKEY, "wrong passphrase");
			goto out;
		}
	}
	k->sk->len = SKBYTES;
	crypto_scalarmult_base(pk, k->sk->data);
	memcpy(k->pub.pk, pk, PKBYTES);
	keyid_of(pk, k->pub.keyid);
	if (strcmp(keyid, k->pub.keyid) != 0) {
		r = vd_err_set(VD_ECORRUPT, "escrow private key does not match "
		    "its key id %s (damaged file?)", keyid);
		goto out;
	}
	*out = k;
	k = NULL;
	r = 0;
 out:
	sodium_memzero(ct, sizeof(ct));
	vd_secret_free(wk);
	vd_escrow_key_free(k);
	return r;
}

int
vd_escrow_key_read(const char *path, struct vd_secret **textp)
{
	struct vd_secret *text = NULL;
	struct stat sb;
	ssize_t n;
	int fd, r;

	*textp = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return vd_err_set(-errno, "cannot open escrow key %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &sb) != 0) {
		r = vd_err_set(-errno, "cannot stat %s", path);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		r = vd_err_set(VD_EINVAL, "%s is not a regular file", path);
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		r = vd_err_set(VD_EKEYPERM, "escrow key %s has mode %04o; it "
		    "must not be accessible by group or others (chmod 600)",
		    path, (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (sb.st_size <= 0 || sb.st_size > VD_ESCROW_LINEMAX) {
		r = vd_err_set(VD_EINVAL, "%s is not an escrow private key "
		    "file (size)", path);
		goto out;
	}
	if ((text = vd_secret_new((size_t)sb.st_size)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if ((n = read(fd, text->data, (size_t)sb.st_size)) != sb.st_size) {
		r = vd_err_set(n < 0 ? -errno : -EIO, "cannot read %s", path);
		goto out;
	}
	text->len = (size_t)n;
	*textp = text;
	text = NULL;
	r = 0;
 out:
	vd_secret_free(text);
	close(fd);
	return r;
}

int
vd_escrow_key_write(const char *path, const struct vd_escrow_key *k,
    const struct vd_secret *pass, const struct vd_kdf_params *params)
{
	struct vd_secret *text = NULL;
	char pubpath[4096], line[VD_ESCROW_LINEMAX];
	int n, r;

	n = snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
	if (n < 0 || (size_t)n >= sizeof(pubpath))
		return vd_err_set(VD_EINVAL, "key file path too long");
	if (access(pubpath, F_OK) == 0)
		return vd_err_set(VD_EEXIST, "%s exists; refusing to overwrite "
		    "it", pubpath);
	if ((r = vd_escrow_pub_format(&k->pub, line, sizeof(line))) != 0 ||
	    (r = vd_escrow_key_format(k, pass, params, &text)) != 0)
		goto out;
	if ((r = create_file(path, 0600, text->data, text->len)) != 0)
		goto out;
	if ((r = create_file(pubpath, 0644, line, strlen(line))) != 0) {
		unlink(path);
		goto out;
	}
	r = 0;
 out:
	vd_secret_free(text);
	return r;
}

int
vd_escrow_key_pin(const char *path, const char *fp, int replace)
{
	struct vd_secret *text = NULL, *nt = NULL;
	char want[VD_ESCROW_FPLEN + 1], have[VD_ESCROW_FPLEN + 1];
	char tmp[4096], dirpath[4096], line[128];
	struct stat sb;
	size_t fl;
	int fd = -1, n, r;

	if ((r = vd_escrow_fp_parse(fp, want)) != 0)
		return r;
	if (lstat(path, &sb) != 0)
		return vd_err_set(-errno, "cannot stat escrow key %s: %s", path,
		    strerror(errno));
	if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1 ||
	    sb.st_uid != geteuid())
		return vd_err_set(VD_EKEYPERM, "escrow key %s is not a regular "
		    "file of yours with one link: not rewriting it", path);
	if ((r = vd_escrow_key_read(path, &text)) != 0)
		goto out;
	if (vd_escrow_key_protected((const char *)text->data, text->len) < 0) {
		r = vd_err_set(VD_EINVAL, "%s is not an escrow private key "
		    "file", path);
		goto out;
	}
	fl = first_line((const char *)text->data, text->len);
	if (pin_line_parse((const char *)text->data + fl, text->len - fl,
	    have) != 0) {
		r = vd_err_set(VD_EINVAL, "%s: malformed pin line", path);
		goto out;
	}
	if (strcmp(have, want) == 0) {
		r = 0;
		goto out;
	}
	if (have[0] != '\0' && !replace) {
		r = vd_err_set(VD_EEXIST, "escrow key %s already trusts vault "
		    "key %s, not %s (replace it deliberately)", path, have,
		    want);
		goto out;
	}
	n = snprintf(line, sizeof(line), "%s %s\n", PIN_MAGIC, want);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    (nt = vd_secret_new(fl + 1 + (size_t)n)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	memcpy(nt->data, text->data, fl);
	nt->len = fl;
	if (fl == 0 || nt->data[fl - 1] != '\n')
		nt->data[nt->len++] = '\n';
	memcpy(nt->data + nt->len, line, (size_t)n);
	nt->len += (size_t)n;
	/* A new file beside the old one, then rename: never half-written. */
	n = snprintf(tmp, sizeof(tmp), "%s.pinXXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		r = vd_err_set(VD_EINVAL, "key file path too long");
		goto out;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		r = vd_err_set(-errno, "cannot create a file beside %s: %s",
		    path, strerror(errno));
		goto out;
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (fchmod(fd, 0600) != 0 || (r = write_all(fd, nt->data, nt->len))
	    != 0 || fsync(fd) != 0) {
		r = vd_err_set(r ? r : -errno, "cannot write beside %s", path);
		unlink(tmp);
		goto out;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		fd = -1;
		r = vd_err_set(-errno, "cannot replace %s: %s", path,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	fd = -1;
	n = snprintf(dirpath, sizeof(dirpath), "%s", path);
	if (n > 0 && (size_t)n < sizeof(dirpath)) {
		char *slash = strrchr(dirpath, '/');
		int dfd;

		if (slash == NULL)
			snprintf(dirpath, sizeof(dirpath), ".");
		else if (slash == dirpath)
			dirpath[1] = '\0';
		else
			*slash = '\0';
		if ((dfd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC))
		    >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	r = 0;
 out:
	if (fd >= 0)
		close(fd);
	vd_secret_free(text);
	vd_secret_free(nt);
	return r;
}

/* ---- configuration -------------------------------------------------- */

struct vd_escrow_cfg {
	enum vd_escrow_mode mode;	/* any or quorum */
	int		 mode_set;	/* a mode line was seen */
	unsigned	 m;		/* quorum threshold (1 for any) */
	unsigned	 n;		/* quorum parties (0 for any) */
	size_t		 nparties;	/* entries in parties */
	struct vd_escrow_pub parties[VD_ESCROW_MAXPARTIES];	/* in order */
};

int
vd_escrow_cfg_new(struct vd_escrow_cfg **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return VD_ENOMEM;
	(*out)->mode = VD_ESCROW_ANY;
	(*out)->m = 1;
	return 0;
}

void
vd_escrow_cfg_free(struct vd_escrow_cfg *ec)
{
	free(ec);
}

int
vd_escrow_cfg_from_json(const json_t *obj, struct vd_escrow_cfg **out)
{
	struct vd_escrow_cfg *ec = NULL;
	const char *key;
	json_t *val;
	int r;

	*out = NULL;
	if (obj != NULL && !json_is_object(obj))
		return vd_err_set(VD_EINVAL, "[escrow] is not a key list");
	if ((r = vd_escrow_cfg_new(&ec)) != 0)
		return r;
	/* The mode first, whatever the file order. */
	if (obj != NULL && (val = json_object_get(obj, "mode")) != NULL &&
	    (!json_is_string(val) ||
	    (r = vd_escrow_cfg_set(ec, "mode", json_string_value(val))) != 0)) {
		r = r ? r : vd_err_set(VD_EINVAL, "[escrow] mode is repeated");
		goto out;
	}
	if (obj != NULL)
		json_object_foreach((json_t *)obj, key, val) {
			if (strcmp(key, "mode") == 0)
				continue;
			if (!json_is_string(val)) {
				r = vd_err_set(VD_EINVAL, "[escrow] party %.64s "
				    "is named more than once", key);
				goto out;
			}
			if ((r = vd_escrow_cfg_set(ec, key,
			    json_string_value(val))) != 0)
				goto out;
		}
	if ((r = vd_escrow_cfg_finalize(ec)) != 0)
		goto out;
	*out = ec;
	ec = NULL;
	r = 0;
 out:
	vd_escrow_cfg_free(ec);
	return r;
}

size_t
vd_escrow_cfg_parties(const struct vd_escrow_cfg *ec)
{
	return ec ? ec->nparties : 0;
}

/* Parses "M-of-N" with 1..2-digit numbers. */
static int
parse_quorum(const char *s, unsigned *m, unsigned *n)
{
	const char *p = s;
	unsigned a = 0, b = 0;
	int da = 0, db = 0;

	while (*p >= '0' && *p <= '9' && da < 3) {
		a = a * 10 + (unsigned)(*p++ - '0');
		da++;
	}
	if (da == 0 || da > 2 || strncmp(p, "-of-", 4) != 0)
		return -1;
	p += 4;
	while (*p >= '0' && *p <= '9' && db < 3) {
		b = b * 10 + (unsigned)(*p++ - '0');
		db++;
	}
	if (db == 0 || db > 2 || *p != '\0')
		return -1;
	*m = a;
	*n = b;
	return 0;
}

/*
 * Splits a party's value "PATH KEYID" at its last space into path (room
 * for len) and pin (the key id, lower case).  A value without a key id is
 * refused: an unpinned party would let whoever can write its .pub file
 * have every password sealed to a key of their own (issue 14 item 8).
 */
static int
split_pin(const char *party, const char *value, char *path, size_t len,
    char pin[VD_ESCROW_KEYIDLEN + 1])
{
	const char *sp = strrchr(value, ' ');
	size_t plen;

	if (sp == NULL || strlen(sp + 1) != VD_ESCROW_KEYIDLEN) {
		return vd_err_set(VD_EINVAL, "escrow party %s: no key id pinned: "
		    "write \"%s = PATH KEYID\" with the key id `vaultctl escrow "
		    "keygen` printed for the party (compare it with the party "
		    "before you paste it)", party, party);
	}
	for (size_t i = 0; i < VD_ESCROW_KEYIDLEN; i++) {
		char c = sp[1 + i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return vd_err_set(VD_EINVAL, "escrow party %s: the key "
			    "id after the path must be %d hex digits", party,
			    VD_ESCROW_KEYIDLEN);
		pin[i] = c;
	}
	pin[VD_ESCROW_KEYIDLEN] = '\0';
	while (sp > value && sp[-1] == ' ')
		sp--;
	plen = (size_t)(sp - value);
	if (plen == 0 || plen >= len)
		return vd_err_set(VD_EINVAL, "escrow party %s: no path before "
		    "the key id", party);
	memcpy(path, value, plen);
	path[plen] = '\0';
	return 0;
}

int
vd_escrow_cfg_set(struct vd_escrow_cfg *ec, const char *key,
    const char *value)
{
	struct vd_escrow_pub pub;
	char path[PATH_MAX], pin[VD_ESCROW_KEYIDLEN + 1];
	unsigned m, n;
	int r;

	if (strcmp(key, "mode") == 0) {
		if (strcmp(value, "any") == 0) {
			ec->mode = VD_ESCROW_ANY;
			ec->m = 1;
			ec->n = 0;
		} else if (parse_quorum(value, &m, &n) == 0 && m >= 2 &&
		    m <= n && n <= VD_ESCROW_MAXPARTIES) {
			ec->mode = VD_ESCROW_QUORUM;
			ec->m = m;
			ec->n = n;
		} else
			return vd_err_set(VD_EINVAL, "escrow mode must be "
			    "\"any\" or \"M-of-N\" with 2 <= M <= N <= %d "
			    "(e.g. 2-of-2)", VD_ESCROW_MAXPARTIES);
		ec->mode_set = 1;
		return 0;
	}
	if (!vd_name_valid(key) || strcmp(key, VD_ESCROW_REPORT) == 0)
		return vd_err_set(VD_EINVAL, "invalid escrow party name (1-%d "
		    "of A-Z a-z 0-9 . _ -; not \"%s\")", VD_NAME_MAX,
		    VD_ESCROW_REPORT);
	for (size_t i = 0; i < ec->nparties; i++)
		if (strcmp(ec->parties[i].party, key) == 0)
			return vd_err_set(VD_EINVAL, "escrow party %s is named "
			    "twice", key);
	if (ec->nparties >= VD_ESCROW_MAXPARTIES)
		return vd_err_set(VD_EINVAL, "more than %d escrow parties",
		    VD_ESCROW_MAXPARTIES);
	if ((r = split_pin(key, value, path, sizeof(path), pin)) != 0)
		return r;
	if ((r = vd_escrow_pub_load(path, &pub)) != 0) {
		char d[600];

		snprintf(d, sizeof(d), "%s", vd_err_detail()[0] ?
		    vd_err_detail() : vd_strerror(r));
		return vd_err_set(VD_EINVAL, "escrow party %s: %s", key, d);
	}
	if (strcmp(pub.party, key) != 0)
		return vd_err_set(VD_EINVAL, "escrow party %s: %s holds the key "
		    "of party %s", key, path, pub.party);
	if (strcmp(pub.keyid, pin) != 0)
		return vd_err_set(VD_EINVAL, "escrow party %s: %s holds key id "
		    "%s, not the pinned %s: refused (a replaced key file?)",
		    key, path, pub.keyid, pin);
	for (size_t i = 0; i < ec->nparties; i++)
		if (sodium_memcmp(ec->parties[i].pk, pub.pk, PKBYTES) == 0)
			return vd_err_set(VD_EINVAL, "escrow parties %s and %s "
			    "have the same key", ec->parties[i].party, key);
	ec->parties[ec->nparties++] = pub;
	return 0;
}

int
vd_escrow_cfg_finalize(struct vd_escrow_cfg *ec)
{
	if (ec->nparties == 0) {
		if (ec->mode_set)
			return vd_err_set(VD_ECONFIG, "[escrow] sets a mode but "
			    "names no party");
		return 0;
	}
	if (ec->mode == VD_ESCROW_QUORUM && ec->nparties != ec->n)
		return vd_err_set(VD_ECONFIG, "[escrow] mode %u-of-%u needs "
		    "exactly %u parties; %zu are configured", ec->m, ec->n,
		    ec->n, ec->nparties);
	return 0;
}

/* ---- envelopes ------------------------------------------------------ */

/* An envelope's clear fields, as parsed. */
struct hdr {
	char		 target[VD_NAME_MAX + 1];
	uint64_t	 version;
	char		 party[VD_NAME_MAX + 1];
	int64_t		 created;
	unsigned	 mode, m, n;
	unsigned char	 vpk[PKBYTES];		/* vault signing key */
	unsigned char	 rpk[PKBYTES];		/* recipient party key */
	unsigned char	 commit[32];		/* plaintext commitment */
	const unsigned char *box;		/* into the envelope */
	size_t		 boxlen;
};

/* An opened envelope. */
struct opened {
	struct hdr	 h;			/* its clear fields */
	unsigned	 x;			/* share x (0: whole secret) */
	unsigned char	 split[SPLITBYTES];	/* sealing id */
	struct vd_secret *pt;			/* the whole plaintext */
	const unsigned char *val;		/* secret bytes, into pt */
	size_t		 vallen;
};

static int
mode_ok(unsigned mode, unsigned m, unsigned n)
{
	if (mode == VD_ESCROW_ANY)
		return m == 1 && n >= 1 && n <= VD_ESCROW_MAXPARTIES;
	if (mode == VD_ESCROW_QUORUM)
		return m >= 2 && m <= n && n <= VD_ESCROW_MAXPARTIES;
	return 0;
}

static void
commit_of(const unsigned char *pt, size_t len, unsigned char *out)
{
	crypto_generichash(out, 32, pt, len, (const unsigned char *)COMMIT_KEY,
	    sizeof(COMMIT_KEY) - 1);
}

/* Returns a malloc'd SIG_PREFIX (with its NUL) || msg, *outlen bytes. */
static unsigned char *
sig_input(const unsigned char *msg, size_t len, size_t *outlen)
{
	size_t plen = sizeof(SIG_PREFIX);	/* with its NUL: a separator */
	unsigned char *buf;

	if ((buf = malloc(plen + len)) == NULL)
		return NULL;
	memcpy(buf, SIG_PREFIX, plen);
	memcpy(buf + plen, msg, len);
	*outlen = plen + len;
	return buf;
}

/* Signs SIG_PREFIX || msg with sk into sig. */
static int
sig_make(unsigned char *sig, const unsigned char *msg, size_t len,
    const unsigned char *sk)
{
	unsigned char *buf;
	size_t n;

	if ((buf = sig_input(msg, len, &n)) == NULL)
		return VD_ENOMEM;
	crypto_sign_detached(sig, NULL, buf, n, sk);
	free(buf);
	return 0;
}

/* Verifies sig over SIG_PREFIX || msg with pk; 0 or VD_ECORRUPT. */
static int
sig_check(const unsigned char *sig, const unsigned char *msg, size_t len,
    const unsigned char *pk)
{
	unsigned char *buf;
	size_t n;
	int r;

	if ((buf = sig_input(msg, len, &n)) == NULL)
		return VD_ENOMEM;
	r = crypto_sign_verify_detached(sig, buf, n, pk) != 0 ? VD_ECORRUPT : 0;
	free(buf);
	return r;
}

/*
 * Parses an envelope and checks its signature.  h->box points into env.
 * Returns 0 or VD_ECORRUPT (no detail: callers name the envelope).
 */
static int
env_parse(const unsigned char *env, size_t len, struct hdr *h)
{
	struct rd r = { env, len, 0, 0 };
	const unsigned char *p, *sig;
	size_t signedlen;

	memset(h, 0, sizeof(*h));
	if (len > VD_ESCROW_ENVMAX)
		return VD_ECORRUPT;
	if ((p = rd_take(&r, 8)) == NULL || memcmp(p, ENV_MAGIC, 8) != 0)
		return VD_ECORRUPT;
	rd_name(&r, h->target);
	h->version = rd_be(&r, 8);
	rd_name(&r, h->party);
	h->created = (int64_t)rd_be(&r, 8);
	h->mode = (unsigned)rd_be(&r, 1);
	h->m = (unsigned)rd_be(&r, 1);
	h->n = (unsigned)rd_be(&r, 1);
	if ((p = rd_take(&r, PKBYTES)) != NULL)
		memcpy(h->vpk, p, PKBYTES);
	if ((p = rd_take(&r, PKBYTES)) != NULL)
		memcpy(h->rpk, p, PKBYTES);
	if ((p = rd_take(&r, 32)) != NULL)
		memcpy(h->commit, p, 32);
	h->boxlen = (size_t)rd_be(&r, 4);
	h->box = rd_take(&r, h->boxlen);
	signedlen = r.off;
	sig = rd_take(&r, crypto_sign_BYTES);
	if (r.bad || r.off != len || h->version == 0 ||
	    !mode_ok(h->mode, h->m, h->n) ||
	    h->boxlen <= crypto_box_SEALBYTES)
		return VD_ECORRUPT;
	return sig_check(sig, env, signedlen, h->vpk);
}

/* Builds the plaintext for (h, x, split, secret) in secure memory. */
static struct vd_secret *
pt_build(const struct hdr *h, unsigned x, const unsigned char *split,
    const unsigned char *sec, size_t seclen)
{
	size_t tl = strlen(h->target), pl = strlen(h->party), len, p = 0;
	struct vd_secret *pt;

	len = 8 + 1 + tl + 8 + 1 + pl + 8 + 4 + SPLITBYTES + SALTBYTES + 2 +
	    seclen;
	if ((pt = vd_secret_new(len)) == NULL)
		return NULL;
	memcpy(pt->data, PT_MAGIC, 8);
	p = 8;
	pt->data[p++] = (unsigned char)tl;
	memcpy(pt->data + p, h->target, tl);
	p += tl;
	put_be(pt->data + p, h->version, 8);
	p += 8;
	pt->data[p++] = (unsigned char)pl;
	memcpy(pt->data + p, h->party, pl);
	p += pl;
	put_be(pt->data + p, (uint64_t)h->created, 8);
	p += 8;
	pt->data[p++] = (unsigned char)h->mode;
	pt->data[p++] = (unsigned char)h->m;
	pt->data[p++] = (unsigned char)h->n;
	pt->data[p++] = (unsigned char)x;
	memcpy(pt->data + p, split, SPLITBYTES);
	p += SPLITBYTES;
	randombytes_buf(pt->data + p, SALTBYTES);
	p += SALTBYTES;
	put_be(pt->data + p, seclen, 2);
	p += 2;
	memcpy(pt->data + p, sec, seclen);
	pt->len = p + seclen;
	return pt;
}

/*
 * Parses o->pt and checks it names exactly what the clear header o->h
 * says and matches its commitment.  Returns 0 or VD_ECORRUPT.
 */
static int
pt_check(struct opened *o)
{
	struct rd r = { o->pt->data, o->pt->len, 0, 0 };
	char target[VD_NAME_MAX + 1], party[VD_NAME_MAX + 1];
	unsigned char c[32];
	const unsigned char *p;
	uint64_t version;
	int64_t created;
	unsigned mode, m, n;

	commit_of(o->pt->data, o->pt->len, c);
	if (sodium_memcmp(c, o->h.commit, 32) != 0)
		return VD_ECORRUPT;
	if ((p = rd_take(&r, 8)) == NULL || memcmp(p, PT_MAGIC, 8) != 0)
		return VD_ECORRUPT;
	rd_name(&r, target);
	version = rd_be(&r, 8);
	rd_name(&r, party);
	created = (int64_t)rd_be(&r, 8);
	mode = (unsigned)rd_be(&r, 1);
	m = (unsigned)rd_be(&r, 1);
	n = (unsigned)rd_be(&r, 1);
	o->x = (unsigned)rd_be(&r, 1);
	if ((p = rd_take(&r, SPLITBYTES)) != NULL)
		memcpy(o->split, p, SPLITBYTES);
	rd_take(&r, SALTBYTES);
	o->vallen = (size_t)rd_be(&r, 2);
	o->val = rd_take(&r, o->vallen);
	if (r.bad || r.off != o->pt->len || o->vallen == 0)
		return VD_ECORRUPT;
	if (strcmp(target, o->h.target) != 0 || version != o->h.version ||
	    strcmp(party, o->h.party) != 0 || created != o->h.created ||
	    mode != o->h.mode || m != o->h.m || n != o->h.n)
		return VD_ECORRUPT;
	if ((mode == VD_ESCROW_ANY) != (o->x == 0))
		return VD_ECORRUPT;
	return 0;
}

static void
opened_clear(struct opened *o)
{
	vd_secret_free(o->pt);
	memset(o, 0, sizeof(*o));
}

/* Encodes and signs an envelope for h (box already set). */
static int
env_encode(const struct hdr *h, const unsigned char *signsk, struct obuf *b)
{
	unsigned char sig[crypto_sign_BYTES];
	int r;

	ob_add(b, ENV_MAGIC, 8);
	ob_name(b, h->target);
	ob_be(b, h->version, 8);
	ob_name(b, h->party);
	ob_be(b, (uint64_t)h->created, 8);
	ob_be(b, h->mode, 1);
	ob_be(b, h->m, 1);
	ob_be(b, h->n, 1);
	ob_add(b, h->vpk, PKBYTES);
	ob_add(b, h->rpk, PKBYTES);
	ob_add(b, h->commit, 32);
	ob_be(b, h->boxlen, 4);
	ob_add(b, h->box, h->boxlen);
	if (b->err)
		return b->err;
	if ((r = sig_make(sig, b->p, b->len, signsk)) != 0)
		return r;
	ob_add(b, sig, sizeof(sig));
	return b->err;
}

/* Seals one envelope of h (with h->rpk set) holding sec at x. */
static int
seal_one(struct hdr *h, const unsigned char *signsk, unsigned x,
    const unsigned char *split, const unsigned char *sec, size_t seclen,
    struct obuf *b)
{
	struct vd_secret *pt;
	unsigned char *box;
	int r;

	if ((pt = pt_build(h, x, split, sec, seclen)) == NULL)
		return VD_ENOMEM;
	commit_of(pt->data, pt->len, h->commit);
	h->boxlen = crypto_box_SEALBYTES + pt->len;
	if ((box = malloc(h->boxlen)) == NULL) {
		vd_secret_free(pt);
		return VD_ENOMEM;
	}
	crypto_box_seal(box, pt->data, pt->len, h->rpk);
	vd_secret_free(pt);
	h->box = box;
	r = env_encode(h, signsk, b);
	h->box = NULL;
	free(box);
	return r;
}

/*
 * The last signing key pair sign_keys() computed (libsodium's Ed25519
 * secret key is seed | public key), in secure memory, under sign_mu.
 * Issue 18: the key pair (a base-point multiplication, ~7 % of a
 * rotation's instructions with two parties) was recomputed for every
 * version.  The seed is still derived each time (a BLAKE2b) and compared,
 * so another vault's key is never taken from the cache.
 */
static pthread_mutex_t sign_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vd_secret *sign_cache;

/* Derives the vault's escrow signing key pair; sk in secure memory. */
static int
sign_keys(struct vd_store *st, unsigned char *pk, struct vd_secret **skp)
{
	struct vd_secret *seed = NULL, *sk = NULL;
	int r;

	*skp = NULL;
	if ((seed = vd_secret_new(crypto_sign_SEEDBYTES)) == NULL ||
	    (sk = vd_secret_new(crypto_sign_SECRETKEYBYTES)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if ((r = vd_store_derive(st, SIGN_ID, SIGN_CTX, seed->data,
	    crypto_sign_SEEDBYTES)) != 0)
		goto out;
	pthread_mutex_lock(&sign_mu);
	if (sign_cache != NULL && sodium_memcmp(sign_cache->data, seed->data,
	    crypto_sign_SEEDBYTES) == 0)
		memcpy(sk->data, sign_cache->data, crypto_sign_SECRETKEYBYTES);
	else {
		crypto_sign_seed_keypair(pk, sk->data, seed->data);
		if (sign_cache == NULL)
			sign_cache = vd_secret_new(crypto_sign_SECRETKEYBYTES);
		if (sign_cache != NULL)
			memcpy(sign_cache->data, sk->data,
			    crypto_sign_SECRETKEYBYTES);
	}
	pthread_mutex_unlock(&sign_mu);
	memcpy(pk, sk->data + crypto_sign_SEEDBYTES, crypto_sign_PUBLICKEYBYTES);
	sk->len = crypto_sign_SECRETKEYBYTES;
	*skp = sk;
	sk = NULL;
	r = 0;
 out:
	vd_secret_free(seed);
	vd_secret_free(sk);
	return r;
}

int
vd_escrow_vault_fp(struct vd_store *st, char fp[VD_ESCROW_FPLEN + 1])
{
	unsigned char pk[PKBYTES];
	struct vd_secret *sk = NULL;
	int r;

	if ((r = sign_keys(st, pk, &sk)) != 0)
		return r;
	vd_secret_free(sk);
	fp_of(pk, fp);
	return 0;
}

int
vd_escrow_vault_sign(struct vd_store *st, const char *domain,
    const unsigned char *msg, size_t len,
    unsigned char sig[VD_ESCROW_SIGBYTES],
    unsigned char pk[VD_ESCROW_PKBYTES])
{
	struct vd_secret *sk = NULL;
	unsigned char *buf = NULL;
	size_t dlen;
	int r;

	/* The envelopes' own domain is theirs alone. */
	if (domain == NULL || strcmp(domain, SIG_PREFIX) == 0)
		return vd_err_set(VD_EINVAL, "bad signature domain");
	dlen = strlen(domain) + 1;	/* with its NUL: a separator */
	if ((r = sign_keys(st, pk, &sk)) != 0)
		return r;
	if ((buf = malloc(dlen + len)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	memcpy(buf, domain, dlen);
	memcpy(buf + dlen, msg, len);
	crypto_sign_detached(sig, NULL, buf, dlen + len, sk->data);
	r = 0;
 out:
	free(buf);
	vd_secret_free(sk);
	return r;
}

static int
cfg_has(const struct vd_escrow_cfg *ec, const char *party)
{
	for (size_t i = 0; i < ec->nparties; i++)
		if (strcmp(ec->parties[i].party, party) == 0)
			return 1;
	return 0;
}

/* (target, version, party) triples collected for deletion. */
struct triples {
	struct vd_escrow_item	*v;	/* env unused */
	size_t			 n, cap;
};

static int
triples_add(struct triples *tr, const char *target, uint64_t v,
    const char *party)
{
	if (tr->n == tr->cap) {
		size_t cap = tr->cap ? tr->cap * 2 : 16;
		struct vd_escrow_item *nv;

		if ((nv = realloc(tr->v, cap * sizeof(*nv))) == NULL)
			return VD_ENOMEM;
		tr->v = nv;
		tr->cap = cap;
	}
	memset(&tr->v[tr->n], 0, sizeof(tr->v[0]));
	snprintf(tr->v[tr->n].target, sizeof(tr->v[0].target), "%s", target);
	snprintf(tr->v[tr->n].party, sizeof(tr->v[0].party), "%s", party);
	tr->v[tr->n].version = v;
	tr->n++;
	return 0;
}

/* Collects envelopes whose party ec does not name (one version or all). */
struct stale_arg {
	const struct vd_escrow_cfg *ec;
	uint64_t		 only_v;	/* 0: every version */
	struct triples		 tr;
};

static int
stale_cb(const char *target, uint64_t v, const char *party,
    const unsigned char *env, size_t len, void *arg)
{
	struct stale_arg *a = arg;

	if (a->only_v != 0 && v != a->only_v)
		return 0;
	if (strcmp(party, VD_ESCROW_REPORT) == 0 || cfg_has(a->ec, party))
		return 0;
	return triples_add(&a->tr, target, v, party);
}

static int
drop_stale(const struct vd_escrow_cfg *ec, struct vd_txn *t,
    const char *target, uint64_t only_v)
{
	struct stale_arg a = { ec, only_v, { NULL, 0, 0 } };
	int r;

	if ((r = vd_envelope_each(t, target, stale_cb, &a)) == 0)
		for (size_t i = 0; i < a.tr.n && r == 0; i++)
			r = vd_envelope_del_party(t, a.tr.v[i].target,
			    a.tr.v[i].version, a.tr.v[i].party);
	free(a.tr.v);
	return r;
}

/*
 * One version's sealing, split in three so the expensive middle (per
 * party: crypto_box_seal and an Ed25519 signature) can run off the loop
 * thread (issue 18): everything it needs is copied in by
 * vd_escrow_seal_prepare(), so it reads neither the store nor the
 * configuration.
 */
struct vd_escrow_sealed {
	struct vd_escrow_cfg ec;	/* the parties and mode sealed to */
	char		 target[VD_NAME_MAX + 1];
	uint64_t	 version;
	struct vd_secret *pw;		/* copy; wiped by compute */
	struct vd_secret *signsk;	/* vault signing key; wiped by compute */
	unsigned char	 vpk[PKBYTES];	/* its public key */
	int		 done;		/* compute ran: r, env hold its outcome */
	int		 r;		/* compute's result */
	unsigned char	*env[VD_ESCROW_MAXPARTIES];	/* envelopes (public) */
	size_t		 envlen[VD_ESCROW_MAXPARTIES];
};

int
vd_escrow_seal_prepare(const struct vd_escrow_cfg *ec, struct vd_store *st,
    const char *target, uint64_t version, const struct vd_secret *pw,
    struct vd_escrow_sealed **out)
{
	struct vd_escrow_sealed *s = NULL;
	int r;

	*out = NULL;
	if (ec == NULL || ec->nparties == 0)
		return 0;
	if (!vd_name_valid(target) || version == 0)
		return vd_err_set(VD_EINVAL, "escrow: bad target or version");
	if (pw->len == 0 || pw->len > SECRET_MAXLEN)
		return vd_err_set(VD_EINVAL, "escrow: password length out of "
		    "range");
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->pw = vd_secret_dup(pw)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	s->ec = *ec;
	snprintf(s->target, sizeof(s->target), "%s", target);
	s->version = version;
	if ((r = sign_keys(st, s->vpk, &s->signsk)) != 0)
		goto out;
	*out = s;
	s = NULL;
	r = 0;
 out:
	vd_escrow_sealed_free(s);
	return r;
}

void
vd_escrow_seal_compute(struct vd_escrow_sealed *s)
{
	const struct vd_escrow_cfg *ec = &s->ec;
	struct vd_secret *shares[VD_ESCROW_MAXPARTIES];
	unsigned char split[SPLITBYTES];
	struct obuf b = { NULL, 0, 0, 0 };
	struct hdr h;
	int r = 0, nshares = 0;

	if (s->done)
		return;
	memset(&h, 0, sizeof(h));
	memcpy(h.vpk, s->vpk, PKBYTES);
	snprintf(h.target, sizeof(h.target), "%s", s->target);
	h.version = s->version;
	h.created = vd_now();
	h.mode = ec->mode;
	h.m = ec->mode == VD_ESCROW_ANY ? 1 : ec->m;
	h.n = (unsigned)ec->nparties;
	randombytes_buf(split, sizeof(split));
	if (ec->mode == VD_ESCROW_QUORUM) {
		if ((r = vd_shamir_split(s->pw, ec->m,
		    (unsigned)ec->nparties, shares)) != 0)
			goto out;
		nshares = (int)ec->nparties;
	}
	for (size_t i = 0; i < ec->nparties; i++) {
		const struct vd_escrow_pub *p = &ec->parties[i];

		snprintf(h.party, sizeof(h.party), "%s", p->party);
		memcpy(h.rpk, p->pk, PKBYTES);
		b.len = 0;
		if (ec->mode == VD_ESCROW_ANY)
			r = seal_one(&h, s->signsk->data, 0, split,
			    s->pw->data, s->pw->len, &b);
		else
			r = seal_one(&h, s->signsk->data, shares[i]->data[0],
			    split, shares[i]->data + 1, shares[i]->len - 1,
			    &b);
		if (r != 0)
			goto out;
		if ((s->env[i] = malloc(b.len)) == NULL) {
			r = VD_ENOMEM;
			goto out;
		}
		memcpy(s->env[i], b.p, b.len);
		s->envlen[i] = b.len;
	}
 out:
	for (int i = 0; i < nshares; i++)
		vd_secret_free(shares[i]);
	/* The secrets are spent: wiped now, not when the result is stored. */
	vd_secret_free(s->signsk);
	s->signsk = NULL;
	vd_secret_free(s->pw);
	s->pw = NULL;
	free(b.p);
	s->r = r;
	s->done = 1;
}

int
vd_escrow_seal_store(const struct vd_escrow_cfg *ec,
    const struct vd_escrow_sealed *s, struct vd_txn *t)
{
	int r;

	if (s == NULL)
		return 0;
	if (!s->done)
		return vd_err_set(VD_EINVAL, "escrow: sealing not computed");
	if (s->r != 0)
		return s->r;
	for (size_t i = 0; i < s->ec.nparties; i++)
		if ((r = vd_envelope_put(t, s->target, s->version,
		    s->ec.parties[i].party, s->env[i], s->envlen[i])) != 0)
			return r;
	return drop_stale(ec != NULL ? ec : &s->ec, t, s->target,
	    s->version);
}

void
vd_escrow_sealed_free(struct vd_escrow_sealed *s)
{
	if (s == NULL)
		return;
	vd_secret_free(s->signsk);
	vd_secret_free(s->pw);
	for (size_t i = 0; i < VD_NELEM(s->env); i++)
		free(s->env[i]);
	free(s);
}

int
vd_escrow_sealed_for(const struct vd_escrow_sealed *s,
    const struct vd_escrow_cfg *ec, const char *target, uint64_t version)
{
	if (s == NULL || ec == NULL || !s->done || s->r != 0 ||
	    s->version != version ||
	    strcmp(s->target, target) != 0 || s->ec.mode != ec->mode ||
	    s->ec.m != ec->m || s->ec.nparties != ec->nparties)
		return 0;
	for (size_t i = 0; i < ec->nparties; i++)
		if (strcmp(s->ec.parties[i].party, ec->parties[i].party) != 0 ||
		    memcmp(s->ec.parties[i].pk, ec->parties[i].pk,
		    VD_ESCROW_PKBYTES) != 0)
			return 0;
	return 1;
}

int
vd_escrow_seal_version(const struct vd_escrow_cfg *ec, struct vd_store *st,
    struct vd_txn *t, const char *target, uint64_t version,
    const struct vd_secret *pw)
{
	struct vd_escrow_sealed *s = NULL;
	int r;

	if ((r = vd_escrow_seal_prepare(ec, st, target, version, pw, &s)) != 0
	    || s == NULL)
		return r;
	vd_escrow_seal_compute(s);
	r = vd_escrow_seal_store(ec, s, t);
	vd_escrow_sealed_free(s);
	return r;
}

/* Target names, collected before writing. */
struct names {
	char	(*v)[VD_NAME_MAX + 1];
	size_t	 n, cap;
};

static int
names_cb(const char *name, json_t *obj, void *arg)
{
	struct names *nm = arg;

	if (nm->n == nm->cap) {
		size_t cap = nm->cap ? nm->cap * 2 : 16;
		char (*nv)[VD_NAME_MAX + 1];

		if ((nv = realloc(nm->v, cap * sizeof(*nv))) == NULL)
			return VD_ENOMEM;
		nm->v = nv;
		nm->cap = cap;
	}
	snprintf(nm->v[nm->n++], VD_NAME_MAX + 1, "%s", name);
	return 0;
}

/* The current version and any pending versions newer than it. */
struct live {
	uint64_t	 v[8];	/* newest first */
	size_t		 n;
	uint64_t	 current;	/* 0: none */
};

static int
live_cb(uint64_t v, json_t *meta, void *arg)
{
	struct live *l = arg;
	const char *s = json_string_value(json_object_get(meta, "state"));

	if (s == NULL)
		return 0;
	if (strcmp(s, "current") == 0) {
		if (l->n < VD_NELEM(l->v))
			l->v[l->n++] = v;
		l->current = v;
		return 1;	/* older versions are not live */
	}
	if (strcmp(s, "pending") == 0 && l->n < VD_NELEM(l->v) - 1)
		l->v[l->n++] = v;
	return 0;
}

static int
live_versions(struct vd_txn *t, const char *target, struct live *l)
{
	int r;

	memset(l, 0, sizeof(*l));
	r = vd_version_each(t, target, 0, live_cb, l);
	return r == 1 ? 0 : r;
}

int
vd_escrow_reseal(const struct vd_escrow_cfg *ec, struct vd_store *st,
    struct vd_txn *t)
{
	struct names nm = { NULL, 0, 0 };
	struct vd_secret *pw = NULL;
	json_t *e = NULL, *parties = NULL;
	char mode[16];
	size_t count = 0;
	int r;

	if (ec == NULL || ec->nparties == 0)
		return 0;
	if ((r = vd_target_each(t, names_cb, &nm)) != 0)
		goto out;
	for (size_t i = 0; i < nm.n; i++) {
		struct live l;

		if ((r = live_versions(t, nm.v[i], &l)) != 0)
			goto out;
		for (size_t j = 0; j < l.n; j++) {
			r = vd_secret_get(t, nm.v[i], l.v[j], &pw);
			if (r == VD_ENOTFOUND)
				continue;
			if (r != 0 || (r = vd_escrow_seal_version(ec, st, t,
			    nm.v[i], l.v[j], pw)) != 0)
				goto out;
			vd_secret_free(pw);
			pw = NULL;
			count++;
		}
	}
	if ((r = drop_stale(ec, t, NULL, 0)) != 0)
		goto out;
	if (ec->mode == VD_ESCROW_ANY)
		snprintf(mode, sizeof(mode), "any");
	else
		snprintf(mode, sizeof(mode), "%u-of-%u", ec->m, ec->n);
	if ((parties = json_array()) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ec->nparties; i++) {
		json_t *p = json_pack("{s:s,s:s}", "party",
		    ec->parties[i].party, "key_id", ec->parties[i].keyid);

		if (p == NULL || json_array_append_new(parties, p) != 0) {
			r = VD_ENOMEM;
			goto out;
		}
	}
	if ((e = json_pack("{s:s,s:s,s:s,s:O,s:I}", "event", "escrow-reseal",
	    "result", "ok", "mode", mode, "parties", parties, "versions",
	    (json_int_t)count)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	r = vd_audit_append(t, e, NULL);
 out:
	vd_secret_free(pw);
	json_decref(e);
	json_decref(parties);
	free(nm.v);
	return r;
}

/* Checks one live version's envelopes against ec; sets *stale. */
struct check_arg {
	const struct vd_escrow_cfg *ec;
	uint64_t	 v;
	int		 seen[VD_ESCROW_MAXPARTIES];
	int		 stale;
};

static int
check_cb(const char *target, uint64_t v, const char *party,
    const unsigned char *env, size_t len, void *arg)
{
	struct check_arg *a = arg;
	const struct vd_escrow_cfg *ec = a->ec;
	struct hdr h;

	if (v != a->v || strcmp(party, VD_ESCROW_REPORT) == 0)
		return 0;
	for (size_t i = 0; i < ec->nparties; i++) {
		if (strcmp(ec->parties[i].party, party) != 0)
			continue;
		if (env_parse(env, len, &h) != 0 ||
		    memcmp(h.rpk, ec->parties[i].pk, PKBYTES) != 0 ||
		    h.mode != (unsigned)ec->mode || h.n != ec->nparties ||
		    (ec->mode == VD_ESCROW_QUORUM && h.m != ec->m))
			a->stale = 1;
		a->seen[i] = 1;
		return 0;
	}
	a->stale = 1;	/* a party no longer configured */
	return 0;
}

int
vd_escrow_stale(const struct vd_escrow_cfg *ec, struct vd_txn *t, int *stale)
{
	struct names nm = { NULL, 0, 0 };
	int r;

	*stale = 0;
	if (ec == NULL || ec->nparties == 0)
		return 0;
	if ((r = vd_target_each(t, names_cb, &nm)) != 0)
		goto out;
	for (size_t i = 0; i < nm.n && !*stale; i++) {
		struct check_arg a;
		struct live l;

		if ((r = live_versions(t, nm.v[i], &l)) != 0)
			goto out;
		if (l.current == 0)
			continue;
		memset(&a, 0, sizeof(a));
		a.ec = ec;
		a.v = l.current;
		if ((r = vd_envelope_each(t, nm.v[i], check_cb, &a)) != 0)
			goto out;
		for (size_t j = 0; j < ec->nparties; j++)
			if (!a.seen[j])
				a.stale = 1;
		*stale = a.stale;
	}
 out:
	free(nm.v);
	return r;
}

/* Checks one target's live envelopes against ec for exposure. */
struct expose_arg {
	const struct vd_escrow_cfg *ec;
	const struct live *l;
	const char	*why;		/* first reason found, or NULL */
	char		 party[VD_NAME_MAX + 1];	/* whose envelope */
};

static int
expose_cb(const char *target, uint64_t v, const char *party,
    const unsigned char *env, size_t len, void *arg)
{
	struct expose_arg *a = arg;
	const struct vd_escrow_cfg *ec = a->ec;
	struct hdr h;
	size_t i, live = 0;

	if (a->why != NULL || strcmp(party, VD_ESCROW_REPORT) == 0)
		return 0;
	for (i = 0; i < a->l->n; i++)
		live |= a->l->v[i] == v;
	if (!live)
		return 0;
	if (env_parse(env, len, &h) != 0)
		return 0;	/* opens nothing: break-glass refuses it */
	for (i = 0; ec != NULL && i < ec->nparties; i++)
		if (memcmp(h.rpk, ec->parties[i].pk, PKBYTES) == 0)
			break;
	if (ec == NULL || i == ec->nparties)
		a->why = ec == NULL || ec->nparties == 0 ? "escrow turned off" :
		    "a party was removed or re-keyed";
	else if (ec->mode == VD_ESCROW_QUORUM && h.m < ec->m)
		a->why = "the escrow mode is stricter";
	if (a->why != NULL)
		snprintf(a->party, sizeof(a->party), "%s", party);
	return 0;
}

int
vd_escrow_exposed(const struct vd_escrow_cfg *ec, struct vd_txn *t,
    int (*cb)(const char *target, uint64_t newest, const char *why,
    const char *party, void *arg), void *arg)
{
	struct names nm = { NULL, 0, 0 };
	int r;

	if ((r = vd_target_each(t, names_cb, &nm)) != 0)
		goto out;
	for (size_t i = 0; i < nm.n; i++) {
		struct expose_arg a;
		struct live l;

		if ((r = live_versions(t, nm.v[i], &l)) != 0)
			goto out;
		if (l.n == 0)
			continue;
		memset(&a, 0, sizeof(a));
		a.ec = ec;
		a.l = &l;
		if ((r = vd_envelope_each(t, nm.v[i], expose_cb, &a)) != 0)
			goto out;
		if (a.why != NULL && (r = cb(nm.v[i], l.v[0], a.why, a.party,
		    arg)) != 0)
			goto out;
	}
 out:
	free(nm.v);
	return r;
}

/* ---- envelope sets ------------------------------------------------- */

static int
set_add(struct vd_escrow_set *set, const char *target, uint64_t v,
    const char *party, const unsigned char *env, size_t len)
{
	struct vd_escrow_item *it;

	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		struct vd_escrow_item *nv;

		if ((nv = realloc(set->items, cap * sizeof(*nv))) == NULL)
			return VD_ENOMEM;
		set->items = nv;
		set->cap = cap;
	}
	it = &set->items[set->n];
	memset(it, 0, sizeof(*it));
	if ((it->env = malloc(len ? len : 1)) == NULL)
		return VD_ENOMEM;
	memcpy(it->env, env, len);
	it->len = len;
	it->version = v;
	snprintf(it->target, sizeof(it->target), "%s", target);
	snprintf(it->party, sizeof(it->party), "%s", party);
	set->n++;
	return 0;
}

static int
load_cb(const char *target, uint64_t v, const char *party,
    const unsigned char *env, size_t len, void *arg)
{
	if (strcmp(party, VD_ESCROW_REPORT) == 0)
		return 0;
	return set_add(arg, target, v, party, env, len);
}

int
vd_escrow_set_load(struct vd_txn *t, const char *target,
    struct vd_escrow_set *set)
{
	return vd_envelope_each(t, target, load_cb, set);
}

void
vd_escrow_set_clear(struct vd_escrow_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->items[i].env);
	free(set->items);
	memset(set, 0, sizeof(*set));
}

int
vd_escrow_set_parse_bundle(const unsigned char *buf, size_t len,
    struct vd_escrow_set *set)
{
	struct rd r = { buf, len, 0, 0 };
	const unsigned char *p;
	uint64_t count;
	int rc;

	if ((p = rd_take(&r, 8)) == NULL || memcmp(p, BUNDLE_MAGIC, 8) != 0)
		return vd_err_set(VD_EINVAL, "not an escrow bundle");
	count = rd_be(&r, 4);
	if (count > BUNDLE_MAXITEMS)
		return vd_err_set(VD_EINVAL, "escrow bundle: too many entries");
	for (uint64_t i = 0; i < count; i++) {
		char target[VD_NAME_MAX + 1], party[VD_NAME_MAX + 1];
		uint64_t v;
		size_t elen;

		rd_name(&r, target);
		v = rd_be(&r, 8);
		rd_name(&r, party);
		elen = (size_t)rd_be(&r, 4);
		if (elen > VD_ESCROW_ENVMAX)
			r.bad = 1;
		p = rd_take(&r, elen);
		if (r.bad || v == 0)
			return vd_err_set(VD_EINVAL, "escrow bundle: entry "
			    "%llu is malformed", (unsigned long long)i + 1);
		if ((rc = set_add(set, target, v, party, p, elen)) != 0)
			return rc;
	}
	if (r.off != len)
		return vd_err_set(VD_EINVAL, "escrow bundle: trailing bytes");
	return 0;
}

/* qsort order: newest (highest) version first. */
static int
cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

void
vd_escrow_set_versions(const struct vd_escrow_set *set, const char *target,
    uint64_t *vs, size_t max, size_t *n)
{
	uint64_t *all;
	size_t m = 0, d = 0;

	*n = 0;
	/*
	 * Sort, then skip repeats: n log n in the set's size.  A hostile
	 * bundle may hold 10^6 versions of one target (BUNDLE_MAXITEMS), so
	 * a repeated maximum search (n times the number of versions) would
	 * never finish (issue 14 item 8).
	 */
	if (set->n > 0 && (all = malloc(set->n * sizeof(*all))) != NULL) {
		for (size_t i = 0; i < set->n; i++)
			if (strcmp(set->items[i].target, target) == 0)
				all[m++] = set->items[i].version;
		qsort(all, m, sizeof(*all), cmp_desc);
		for (size_t i = 0; i < m; i++) {
			if (i > 0 && all[i] == all[i - 1])
				continue;
			if (d < max)
				vs[d] = all[i];
			d++;
		}
		free(all);
		*n = d;
		return;
	}
	/*
	 * Out of memory (or an empty set): the newest max versions kept in
	 * vs by insertion, n times max; *n then counts only those.
	 */
	for (size_t i = 0; i < set->n; i++) {
		uint64_t v = set->items[i].version;
		size_t k;

		if (strcmp(set->items[i].target, target) != 0)
			continue;
		for (k = 0; k < d && vs[k] > v; k++)
			;
		if (k < d && vs[k] == v)
			continue;
		if (k >= max)
			continue;
		if (d < max)
			d++;
		memmove(vs + k + 1, vs + k, (d - 1 - k) * sizeof(*vs));
		vs[k] = v;
	}
	*n = d;
}

static int
bundle_cb(const char *target, uint64_t v, const char *party,
    const unsigned char *env, size_t len, void *arg)
{
	struct obuf *b = arg;

	if (strcmp(party, VD_ESCROW_REPORT) == 0)
		return 0;
	ob_name(b, target);
	ob_be(b, v, 8);
	ob_name(b, party);
	ob_be(b, len, 4);
	ob_add(b, env, len);
	/* The count lives at offset 8; bumped here. */
	if (!b->err)
		put_be(b->p + 8, get_be(b->p + 8, 4) + 1, 4);
	return b->err;
}

int
vd_escrow_bundle_build(struct vd_txn *t, unsigned char **buf, size_t *len)
{
	struct obuf b = { NULL, 0, 0, 0 };
	int r;

	*buf = NULL;
	*len = 0;
	ob_add(&b, BUNDLE_MAGIC, 8);
	ob_be(&b, 0, 4);
	if (b.err) {
		r = b.err;
		goto out;
	}
	if ((r = vd_envelope_each(t, NULL, bundle_cb, &b)) != 0)
		goto out;
	*buf = b.p;
	*len = b.len;
	b.p = NULL;
	r = 0;
 out:
	free(b.p);
	return r;
}

int
vd_escrow_bundle_save(const char *path, const unsigned char *buf, size_t len)
{
	return create_file(path, 0600, buf, len);
}

int
vd_escrow_bundle_write(struct vd_txn *t, const char *path)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = vd_escrow_bundle_build(t, &buf, &len)) == 0)
		r = create_file(path, 0600, buf, len);
	free(buf);
	return r;
}

/* ---- break-glass ---------------------------------------------------- */

void
vd_escrow_result_clear(struct vd_escrow_result *res)
{
	if (res == NULL)
		return;
	vd_secret_free(res->pw);
	memset(res, 0, sizeof(*res));
}

/* Picks version (0: newest in set for target); VD_ENOTFOUND. */
static int
pick_version(const struct vd_escrow_set *set, const char *target,
    uint64_t *version)
{
	uint64_t vs[1];
	size_t n;

	if (*version != 0) {
		for (size_t i = 0; i < set->n; i++)
			if (strcmp(set->items[i].target, target) == 0 &&
			    set->items[i].version == *version)
				return 0;
		return vd_err_set(VD_ENOTFOUND, "no escrow envelopes for "
		    "version %llu of target %s", (unsigned long long)*version,
		    target);
	}
	vd_escrow_set_versions(set, target, vs, 1, &n);
	if (n == 0)
		return vd_err_set(VD_ENOTFOUND, "no escrow envelopes for "
		    "target %s", target);
	*version = vs[0];
	return 0;
}

int
vd_escrow_set_signer(const struct vd_escrow_set *set, const char *target,
    uint64_t version, char fp[VD_ESCROW_FPLEN + 1])
{
	struct hdr h;
	int r;

	fp[0] = '\0';
	if ((r = pick_version(set, target, &version)) != 0)
		return r;
	for (size_t i = 0; i < set->n; i++) {
		const struct vd_escrow_item *it = &set->items[i];

		if (it->version == version && strcmp(it->target, target) == 0 &&
		    env_parse(it->env, it->len, &h) == 0) {
			fp_of(h.vpk, fp);
			return 0;
		}
	}
	return vd_err_set(VD_ENOTFOUND, "no envelope of %s version %llu has a "
	    "valid signature", target, (unsigned long long)version);
}

int
vd_escrow_item_check(const struct vd_escrow_item *it,
    char fp[VD_ESCROW_FPLEN + 1])
{
	struct hdr h;

	fp[0] = '\0';
	if (env_parse(it->env, it->len, &h) != 0)
		return vd_err_set(VD_ECORRUPT, "envelope of %s version %llu for "
		    "%s is damaged (it does not parse or its signature does not "
		    "verify)", it->target, (unsigned long long)it->version,
		    it->party);
	if (strcmp(h.target, it->target) != 0 || h.version != it->version ||
	    strcmp(h.party, it->party) != 0)
		return vd_err_set(VD_ECORRUPT, "envelope of %s version %llu for "
		    "%s names another place (moved)", it->target,
		    (unsigned long long)it->version, it->party);
	fp_of(h.vpk, fp);
	return 0;
}

int
vd_escrow_pw_check(const struct vd_secret *pw, size_t *at)
{
	for (size_t i = 0; i < pw->len; i++)
		if (pw->data[i] < 0x20 || pw->data[i] > 0x7e) {
			if (at != NULL)
				*at = i;
			return vd_err_set(VD_EINVAL, "the password holds a "
			    "control or non-ASCII character at byte %zu", i + 1);
		}
	return 0;
}

int
vd_escrow_pw_mycnf(const struct vd_secret *pw, struct vd_secret **out)
{
	static const char head[] = "[client]\npassword=\"", tail[] = "\"\n";
	struct vd_secret *s;
	int r;

	*out = NULL;
	if ((r = vd_escrow_pw_check(pw, NULL)) != 0)
		return r;
	/* Worst case every byte escaped. */
	if ((s = vd_secret_new(sizeof(head) + 2 * pw->len + sizeof(tail))) ==
	    NULL)
		return VD_ENOMEM;
	memcpy(s->data, head, sizeof(head) - 1);
	s->len = sizeof(head) - 1;
	for (size_t i = 0; i < pw->len; i++) {
		if (pw->data[i] == '\\' || pw->data[i] == '"')
			s->data[s->len++] = '\\';
		s->data[s->len++] = pw->data[i];
	}
	memcpy(s->data + s->len, tail, sizeof(tail) - 1);
	s->len += sizeof(tail) - 1;
	*out = s;
	return 0;
}

/*
 * Opens the envelope it with key: checks signature, place and recipient.
 * Returns 0, VD_EBADKEY when the envelope is sealed to another key, or
 * VD_ECORRUPT (with a detail) when it is tampered with or moved.
 */
static int
open_item(const struct vd_escrow_item *it, const struct vd_escrow_key *key,
    struct opened *o)
{
	memset(o, 0, sizeof(*o));
	if (env_parse(it->env, it->len, &o->h) != 0)
		return vd_err_set(VD_ECORRUPT, "the envelope of party %s for "
		    "%s version %llu fails its vault signature (tampered "
		    "with)", it->party, it->target,
		    (unsigned long long)it->version);
	if (strcmp(o->h.target, it->target) != 0 ||
	    o->h.version != it->version || strcmp(o->h.party, it->party) != 0)
		return vd_err_set(VD_ECORRUPT, "the envelope found as party %s "
		    "of %s version %llu was sealed for party %s of %s version "
		    "%llu (moved or swapped): refused", it->party, it->target,
		    (unsigned long long)it->version, o->h.party, o->h.target,
		    (unsigned long long)o->h.version);
	if (memcmp(o->h.rpk, key->pub.pk, PKBYTES) != 0)
		return VD_EBADKEY;
	if ((o->pt = vd_secret_new(o->h.boxlen - crypto_box_SEALBYTES)) ==
	    NULL)
		return VD_ENOMEM;
	o->pt->len = o->h.boxlen - crypto_box_SEALBYTES;
	if (crypto_box_seal_open(o->pt->data, o->h.box, o->h.boxlen,
	    key->pub.pk, key->sk->data) != 0 || pt_check(o) != 0) {
		opened_clear(o);
		return vd_err_set(VD_ECORRUPT, "the envelope of party %s for "
		    "%s version %llu does not open to what it names: refused",
		    it->party, it->target, (unsigned long long)it->version);
	}
	o->h.box = NULL;	/* points into it->env; not needed after */
	return 0;
}

/* Pin check: pin is hex, any case. */
static int
pin_ok(const char *pin, const char *fp)
{
	if (pin == NULL)
		return 1;
	if (strlen(pin) != VD_ESCROW_FPLEN)
		return 0;
	for (size_t i = 0; i < VD_ESCROW_FPLEN; i++) {
		char c = pin[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (c != fp[i])
			return 0;
	}
	return 1;
}

/*
 * Turns opened envelopes (all of one target/version) into res: one vault
 * key (pinned when pin is set), one sealing, then the password or the
 * count of distinct shares.
 */
static int
gather(struct opened *o, size_t n, const char *pin,
    struct vd_escrow_result *res)
{
	struct vd_secret *sh[VD_ESCROW_MAXPARTIES];
	unsigned char seen[256];
	size_t nsh = 0;
	int r = 0;

	fp_of(o[0].h.vpk, res->vault_fp);
	if (!pin_ok(pin, res->vault_fp))
		return vd_err_set(VD_ECORRUPT, "the envelopes of %s version %llu "
		    "are signed by vault key %s, not the trusted %s (planted by "
		    "someone without the vault's key, or another vault's): "
		    "refused", o[0].h.target, (unsigned long long)o[0].h.version,
		    res->vault_fp, pin);
	res->version = o[0].h.version;
	res->created = o[0].h.created;
	res->mode = (enum vd_escrow_mode)o[0].h.mode;
	res->m = o[0].h.m;
	for (size_t i = 1; i < n; i++) {
		if (memcmp(o[i].h.vpk, o[0].h.vpk, PKBYTES) != 0)
			return vd_err_set(VD_ECORRUPT, "the envelopes are "
			    "signed by different vault keys: refused");
		if (strcmp(o[i].h.target, o[0].h.target) != 0 ||
		    o[i].h.version != o[0].h.version ||
		    o[i].h.mode != o[0].h.mode || o[i].h.m != o[0].h.m ||
		    memcmp(o[i].split, o[0].split, SPLITBYTES) != 0)
			return vd_err_set(VD_ECORRUPT, "the envelopes come from "
			    "different sealings (re-sealed or mixed): "
			    "refused");
	}
	if (res->mode == VD_ESCROW_ANY) {
		res->have = 1;
		if ((res->pw = vd_secret_from(o[0].val, o[0].vallen)) == NULL)
			return VD_ENOMEM;
		return 0;
	}
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < n; i++) {
		if (seen[o[i].x] || nsh >= VD_ESCROW_MAXPARTIES)
			continue;
		seen[o[i].x] = 1;
		if ((sh[nsh] = vd_secret_new(1 + o[i].vallen)) == NULL) {
			r = VD_ENOMEM;
			goto out;
		}
		sh[nsh]->data[0] = (unsigned char)o[i].x;
		memcpy(sh[nsh]->data + 1, o[i].val, o[i].vallen);
		sh[nsh]->len = 1 + o[i].vallen;
		nsh++;
	}
	res->have = (unsigned)nsh;
	if (nsh >= res->m)
		r = vd_shamir_combine(sh, nsh, &res->pw);
 out:
	for (size_t i = 0; i < nsh; i++)
		vd_secret_free(sh[i]);
	return r;
}

/* Finds the item of (target, version) for key: by party, else by pk. */
static const struct vd_escrow_item *
find_item(const struct vd_escrow_set *set, const char *target,
    uint64_t version, const struct vd_escrow_key *key)
{
	struct hdr h;

	for (size_t i = 0; i < set->n; i++) {
		const struct vd_escrow_item *it = &set->items[i];

		if (it->version == version && strcmp(it->target, target) == 0
		    && strcmp(it->party, key->pub.party) == 0)
			return it;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct vd_escrow_item *it = &set->items[i];

		if (it->version == version && strcmp(it->target, target) == 0
		    && env_parse(it->env, it->len, &h) == 0 &&
		    memcmp(h.rpk, key->pub.pk, PKBYTES) == 0)
			return it;
	}
	return NULL;
}

int
vd_escrow_recover(const struct vd_escrow_set *set, const char *target,
    uint64_t version, struct vd_escrow_key *const *keys, size_t nkeys,
    const char *pin, struct vd_escrow_result *res)
{
	struct opened o[VD_ESCROW_MAXPARTIES];
	size_t no = 0;
	int r;

	memset(res, 0, sizeof(*res));
	memset(o, 0, sizeof(o));
	if (nkeys == 0 || nkeys > VD_ESCROW_MAXPARTIES)
		return vd_err_set(VD_EINVAL, "give 1..%d escrow keys",
		    VD_ESCROW_MAXPARTIES);
	if ((r = pick_version(set, target, &version)) != 0)
		return r;
	res->version = version;
	for (size_t k = 0; k < nkeys; k++) {
		const struct vd_escrow_item *it;

		if ((it = find_item(set, target, version, keys[k])) == NULL)
			continue;
		r = open_item(it, keys[k], &o[no]);
		if (r == VD_EBADKEY)
			continue;
		if (r != 0)
			goto out;
		snprintf(res->keyids[res->nkeyids++], VD_ESCROW_KEYIDLEN + 1,
		    "%s", keys[k]->pub.keyid);
		no++;
	}
	if (no == 0) {
		r = vd_err_set(VD_EBADKEY, "none of the given escrow keys opens "
		    "an envelope of %s version %llu", target,
		    (unsigned long long)version);
		goto out;
	}
	r = gather(o, no, pin, res);
 out:
	for (size_t i = 0; i < no; i++)
		opened_clear(&o[i]);
	if (r != 0)
		vd_escrow_result_clear(res);
	return r;
}

int
vd_escrow_share_make(const struct vd_escrow_set *set, const char *target,
    uint64_t version, const struct vd_escrow_key *key,
    const struct vd_escrow_pub *to, const char *pin, unsigned char **out,
    size_t *outlen, uint64_t *vout)
{
	const struct vd_escrow_item *it;
	struct obuf b = { NULL, 0, 0, 0 };
	struct opened o;
	unsigned char *box = NULL;
	char fp[VD_ESCROW_FPLEN + 1];
	size_t boxlen;
	int r;

	*out = NULL;
	*outlen = 0;
	memset(&o, 0, sizeof(o));
	if ((r = pick_version(set, target, &version)) != 0)
		return r;
	*vout = version;
	if ((it = find_item(set, target, version, key)) == NULL)
		return vd_err_set(VD_EBADKEY, "no envelope of %s version %llu "
		    "for party %s", target, (unsigned long long)version,
		    key->pub.party);
	if ((r = open_item(it, key, &o)) != 0) {
		if (r == VD_EBADKEY)
			r = vd_err_set(VD_EBADKEY, "escrow key %s does not open "
			    "party %s's envelope of %s version %llu",
			    key->pub.keyid, it->party, target,
			    (unsigned long long)version);
		goto out;
	}
	fp_of(o.h.vpk, fp);
	if (!pin_ok(pin, fp)) {
		r = vd_err_set(VD_ECORRUPT, "the envelope is signed by vault "
		    "key %s, not the pinned %s: refused", fp, pin);
		goto out;
	}
	boxlen = crypto_box_SEALBYTES + o.pt->len;
	if ((box = malloc(boxlen)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	crypto_box_seal(box, o.pt->data, o.pt->len, to->pk);
	ob_add(&b, SHARE_MAGIC, 8);
	ob_be(&b, it->len, 4);
	ob_add(&b, it->env, it->len);
	ob_be(&b, boxlen, 4);
	ob_add(&b, box, boxlen);
	if ((r = b.err) != 0)
		goto out;
	*out = b.p;
	*outlen = b.len;
	b.p = NULL;
	r = 0;
 out:
	free(box);
	free(b.p);
	opened_clear(&o);
	return r;
}

/* Parses and opens one share file with the combiner's key into o. */
static int
share_open(const unsigned char *buf, size_t len,
    const struct vd_escrow_key *key, struct opened *o)
{
	struct rd r = { buf, len, 0, 0 };
	const unsigned char *p, *env, *box;
	size_t envlen, boxlen;

	memset(o, 0, sizeof(*o));
	if ((p = rd_take(&r, 8)) == NULL || memcmp(p, SHARE_MAGIC, 8) != 0)
		return vd_err_set(VD_EINVAL, "not an escrow share file");
	envlen = (size_t)rd_be(&r, 4);
	env = rd_take(&r, envlen);
	boxlen = (size_t)rd_be(&r, 4);
	box = rd_take(&r, boxlen);
	if (r.bad || r.off != len || boxlen <= crypto_box_SEALBYTES ||
	    boxlen > VD_ESCROW_ENVMAX)
		return vd_err_set(VD_EINVAL, "escrow share file is malformed");
	if (env_parse(env, envlen, &o->h) != 0)
		return vd_err_set(VD_ECORRUPT, "the envelope in the share file "
		    "fails its vault signature (tampered with): refused");
	if ((o->pt = vd_secret_new(boxlen - crypto_box_SEALBYTES)) == NULL)
		return VD_ENOMEM;
	o->pt->len = boxlen - crypto_box_SEALBYTES;
	if (crypto_box_seal_open(o->pt->data, box, boxlen, key->pub.pk,
	    key->sk->data) != 0) {
		opened_clear(o);
		return vd_err_set(VD_EBADKEY, "the share file is not sealed to "
		    "escrow key %s", key->pub.keyid);
	}
	if (pt_check(o) != 0) {
		opened_clear(o);
		return vd_err_set(VD_ECORRUPT, "the share file's contents do "
		    "not match its signed envelope: refused");
	}
	o->h.box = NULL;
	return 0;
}

int
vd_escrow_combine(const unsigned char *const *files, const size_t *lens,
    size_t n, const struct vd_escrow_key *key, const char *pin,
    char *target, struct vd_escrow_result *res)
{
	struct opened o[VD_ESCROW_MAXPARTIES];
	size_t no = 0;
	int r = 0;

	memset(res, 0, sizeof(*res));
	memset(o, 0, sizeof(o));
	target[0] = '\0';
	if (n == 0 || n > VD_ESCROW_MAXPARTIES)
		return vd_err_set(VD_EINVAL, "give 1..%d share files",
		    VD_ESCROW_MAXPARTIES);
	for (size_t i = 0; i < n; i++) {
		if ((r = share_open(files[i], lens[i], key, &o[no])) != 0)
			goto out;
		no++;
	}
	memcpy(target, o[0].h.target, strlen(o[0].h.target) + 1);
	r = gather(o, no, pin, res);
 out:
	for (size_t i = 0; i < no; i++)
		opened_clear(&o[i]);
	if (r != 0)
		vd_escrow_result_clear(res);
	return r;
}

/* ---- reports -------------------------------------------------------- */

int
vd_escrow_report_check(const json_t *obj, const char **target, uint64_t *v)
{
	const char *t;
	json_int_t n;

	if (!json_is_object(obj))
		return vd_err_set(VD_EINVAL, "a break-glass report is a JSON "
		    "object");
	t = json_string_value(json_object_get(obj, "target"));
	n = json_integer_value(json_object_get(obj, "version"));
	if (t == NULL || !vd_name_valid(t) || n < 1 ||
	    !json_is_integer(json_object_get(obj, "version")))
		return vd_err_set(VD_EINVAL, "a break-glass report names a "
		    "valid \"target\" and \"version\"");
	*target = t;
	*v = (uint64_t)n;
	return 0;
}

int
vd_escrow_report_add(struct vd_txn *t, const char *target, uint64_t v,
    const json_t *opening)
{
	unsigned char *old = NULL;
	json_t *arr = NULL;
	json_error_t jerr;
	size_t len;
	char *s = NULL;
	int r;

	if (!json_is_object(opening))
		return vd_err_set(VD_EINVAL, "a break-glass report is a JSON "
		    "object");
	r = vd_envelope_get(t, target, v, VD_ESCROW_REPORT, &old, &len);
	if (r == 0) {
		arr = json_loadb((const char *)old, len, 0, &jerr);
		if (!json_is_array(arr)) {
			json_decref(arr);
			arr = NULL;	/* damaged: start again */
		}
	} else if (r != VD_ENOTFOUND)
		goto out;
	if (arr == NULL && (arr = json_array()) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if (json_array_append_new(arr, json_deep_copy(opening)) != 0 ||
	    (s = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	r = vd_envelope_put(t, target, v, VD_ESCROW_REPORT, s, strlen(s));
 out:
	free(s);
	free(old);
	json_decref(arr);
	return r;
}

struct reports_arg {
	int	(*cb)(const char *, uint64_t, const char *, size_t, void *);
	void	*arg;
};

static int
reports_cb(const char *target, uint64_t v, const char *party,
    const unsigned char *env, size_t len, void *arg)
{
	struct reports_arg *a = arg;

	if (strcmp(party, VD_ESCROW_REPORT) != 0)
		return 0;
	return a->cb(target, v, (const char *)env, len, a->arg);
}

int
vd_escrow_reports(struct vd_txn *t, int (*cb)(const char *target,
    uint64_t v, const char *json, size_t len, void *arg), void *arg)
{
	struct reports_arg a = { cb, arg };

	return vd_envelope_each(t, NULL, reports_cb, &a);
}

int
vd_escrow_report_clear(struct vd_txn *t, const char *target, uint64_t v)
{
	return vd_envelope_del_party(t, target, v, VD_ESCROW_REPORT);
}
