/*
 * test_breakglass_vault.c - helper of test_breakglass.sh: builds and
 * tampers with escrowed vaults through the store and escrow APIs.
 *
 *   seal DIR TARGET VERSION STATE MODE PARTY=PUB...
 *	Creates the vault in DIR (key file DIR.key) when missing, stores the
 *	password read from stdin's first line as TARGET's VERSION in STATE,
 *	and seals it to the parties in MODE ("any", "2-of-3" ...).
 *   hold DIR TARGET VERSION STATE MODE PARTY=PUB...
 *	As seal, but never commits: prints "ready" once the version and its
 *	envelopes are written in the open write transaction, then waits to be
 *	killed (a vaultd killed mid-rotation, holding the write lock).
 *   copy DIR FROM_TARGET FROM_V TO_TARGET TO_V PARTY
 *	Copies PARTY's raw envelope to another place (a "moved" envelope).
 *   flip DIR TARGET V PARTY OFFSET
 *	Flips one bit of the byte at OFFSET of PARTY's envelope.
 *   reports DIR
 *	Prints "TARGET VERSION OPENINGS" per break-glass report record.
 *   forge DIR TARGET VERSION MODE PARTY=PUB...
 *	The attacker of issue 14 item 1: with write access to DIR and no
 *	vault key, seals the password read from stdin's first line to the
 *	parties' public keys, signed by a fresh vault's key (made in a
 *	scratch directory), and stores the envelopes raw in DIR as TARGET's
 *	VERSION.
 *   audit DIR N
 *	Appends N audit entries (with the vault's key, as vaultd would).
 *   savehead DIR FILE
 *	Saves the raw sealed audit head (no key needed) to FILE.
 *   lastaudit DIR
 *	Prints the newest audit entry (with the vault's key) as JSON.
 *   cut DIR FROM FILE
 *	The attacker of issue 14 item 3, without any key: deletes audit
 *	entries FROM and newer and puts back the sealed head saved in FILE.
 *   bundle IN OUT drop TARGET VERSION
 *   bundle IN OUT take OTHER TARGET VERSION PARTY
 *   bundle IN OUT resign
 *   bundle IN OUT strip
 *	The attacker of a version 2 bundle (bundle_index.h), without the
 *	vault's key, writes OUT from IN: drop removes TARGET's VERSION (a
 *	hidden version), the index kept; take puts PARTY's envelope of
 *	TARGET's VERSION from bundle OTHER in place of IN's (a swapped
 *	envelope, or a planted one when IN has none); resign re-signs the
 *	index with a fresh key; strip leaves the envelopes without the index.
 */
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "escrow.h"
#include "mem.h"
#include "store.h"
#include "util.h"
#include "wire.h"

static void
die(int r, const char *what)
{
	fprintf(stderr, "test_breakglass_vault: %s: %s (%s)\n", what,
	    vd_strerror(r), vd_err_detail());
	exit(1);
}

static uint64_t
num(const char *s)
{
	long long v;

	if (vd_parse_int(s, 0, INT64_MAX, &v) != 0)
		die(VD_EINVAL, s);
	return (uint64_t)v;
}

static struct vd_store *
open_rw(const char *dir)
{
	struct vd_secret *key = NULL;
	struct vd_store *st;
	char kf[512];
	int r;

	if (snprintf(kf, sizeof(kf), "%s.key", dir) >= (int)sizeof(kf))
		die(VD_EINVAL, "path");
	if (access(kf, F_OK) != 0) {
		if ((r = vd_keyfile_create(kf)) != 0 ||
		    (r = vd_keyfile_load(kf, &key)) != 0 ||
		    (r = vd_store_create(dir, VD_KDF_KEYFILE, key, NULL, &st))
		    != 0)
			die(r, "create");
	} else if ((r = vd_keyfile_load(kf, &key)) != 0 ||
	    (r = vd_store_open(dir, 0, &st)) != 0 ||
	    (r = vd_store_unlock(st, key)) != 0)
		die(r, "open");
	vd_secret_free(key);
	return st;
}

/*
 * Sets party to value "PUB" or "PUB KEYID": a test tool sets the vault up
 * as its administrator would, so a bare PUB is pinned to the key id the
 * file holds (vaultd itself refuses an unpinned party).
 */
static int
set_party(struct vd_escrow_cfg *ec, const char *party, const char *value)
{
	struct vd_escrow_pub pub;
	char v[PATH_MAX + VD_ESCROW_KEYIDLEN + 2];
	int r;

	if (strchr(value, ' ') != NULL)
		return vd_escrow_cfg_set(ec, party, value);
	if ((r = vd_escrow_pub_load(value, &pub)) != 0)
		return r;
	if (snprintf(v, sizeof(v), "%s %s", value, pub.keyid) >=
	    (int)sizeof(v))
		return VD_ETOOBIG;
	return vd_escrow_cfg_set(ec, party, v);
}

static int
seal(int argc, char **argv, int commit)
{
	struct vd_escrow_cfg *ec;
	struct vd_secret *pw;
	struct vd_store *st;
	struct vd_txn *t;
	json_t *meta, *obj;
	int r;

	if (argc < 7)
		die(VD_EINVAL, "usage");
	if ((r = vd_escrow_cfg_new(&ec)) != 0 ||
	    (r = vd_escrow_cfg_set(ec, "mode", argv[5])) != 0)
		die(r, "mode");
	for (int i = 6; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL)
			die(VD_EINVAL, "PARTY=PUB");
		*eq = '\0';
		if ((r = set_party(ec, argv[i], eq + 1)) != 0)
			die(r, "party");
	}
	if ((r = vd_escrow_cfg_finalize(ec)) != 0)
		die(r, "finalize");
	if ((r = vd_read_secret(STDIN_FILENO, NULL, 0, 0, &pw)) != 0)
		die(r, "password");
	st = open_rw(argv[1]);
	meta = json_pack("{s:s,s:s}", "state", argv[4], "trigger", "test");
	if ((r = vd_txn_begin(st, 1, &t)) != 0)
		die(r, "begin");
	if (vd_target_get(t, argv[2], &obj) == VD_ENOTFOUND) {
		obj = json_pack("{s:s}", "host", "localhost");
		if ((r = vd_target_put(t, argv[2], obj, 1)) != 0)
			die(r, "target");
	}
	json_decref(obj);
	if ((r = vd_secret_put(t, argv[2], num(argv[3]), pw)) != 0 ||
	    (r = vd_version_put(t, argv[2], num(argv[3]), meta)) != 0 ||
	    (r = vd_escrow_seal_version(ec, st, t, argv[2], num(argv[3]), pw))
	    != 0)
		die(r, "seal");
	if (!commit) {
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	if ((r = vd_txn_commit(t)) != 0)
		die(r, "commit");
	json_decref(meta);
	vd_secret_free(pw);
	vd_escrow_cfg_free(ec);
	vd_store_close(st);
	return 0;
}

static int
forge_cb(const char *target, uint64_t v, const char *party,
    const unsigned char *env, size_t len, void *arg)
{
	/* Every envelope of the scratch vault goes into the victim's. */
	return vd_envelope_put(arg, target, v, party, env, len);
}

static int
forge(int argc, char **argv)
{
	char scratch[] = "/tmp/vdforge.XXXXXX", sdir[PATH_MAX], cmd[PATH_MAX];
	struct vd_escrow_cfg *ec;
	struct vd_secret *pw;
	struct vd_store *st, *victim;
	struct vd_txn *t, *vt;
	int r;

	if (argc < 6)
		die(VD_EINVAL, "usage");
	if ((r = vd_escrow_cfg_new(&ec)) != 0 ||
	    (r = vd_escrow_cfg_set(ec, "mode", argv[4])) != 0)
		die(r, "mode");
	for (int i = 5; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL)
			die(VD_EINVAL, "PARTY=PUB");
		*eq = '\0';
		if ((r = set_party(ec, argv[i], eq + 1)) != 0)
			die(r, "party");
	}
	if ((r = vd_escrow_cfg_finalize(ec)) != 0)
		die(r, "finalize");
	if ((r = vd_read_secret(STDIN_FILENO, NULL, 0, 0, &pw)) != 0)
		die(r, "password");
	if (mkdtemp(scratch) == NULL ||
	    snprintf(sdir, sizeof(sdir), "%s/v", scratch) >= (int)sizeof(sdir))
		die(VD_EINVAL, "scratch");
	st = open_rw(sdir);		/* a vault of the attacker's own */
	if ((r = vd_txn_begin(st, 1, &t)) != 0 ||
	    (r = vd_escrow_seal_version(ec, st, t, argv[2], num(argv[3]), pw))
	    != 0 || (r = vd_txn_commit(t)) != 0)
		die(r, "seal");
	/* The victim's data directory, opened without any key. */
	if ((r = vd_store_open(argv[1], 0, &victim)) != 0 ||
	    (r = vd_txn_begin(victim, 1, &vt)) != 0 ||
	    (r = vd_txn_begin(st, 0, &t)) != 0 ||
	    (r = vd_envelope_each(t, argv[2], forge_cb, vt)) != 0 ||
	    (r = vd_txn_commit(vt)) != 0)
		die(r, "plant");
	vd_txn_abort(t);
	vd_store_close(st);
	vd_store_close(victim);
	vd_secret_free(pw);
	vd_escrow_cfg_free(ec);
	if (snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch) <
	    (int)sizeof(cmd) && system(cmd) != 0)
		die(VD_EINVAL, "rm scratch");
	return 0;
}

static int
audit_n(int argc, char **argv)
{
	struct vd_store *st;
	struct vd_txn *t;
	uint64_t n;
	int r;

	if (argc != 3)
		die(VD_EINVAL, "usage");
	n = num(argv[2]);
	st = open_rw(argv[1]);
	/* A thousand entries per transaction: big logs in seconds. */
	for (uint64_t i = 0; i < n; i += 1000) {
		if ((r = vd_txn_begin(st, 1, &t)) != 0)
			die(r, "audit");
		for (uint64_t k = i; k < n && k < i + 1000; k++) {
			json_t *e = json_pack("{s:s,s:I}", "event", "test",
			    "n", (json_int_t)k);

			if ((r = vd_audit_append(t, e, NULL)) != 0)
				die(r, "audit");
			json_decref(e);
		}
		if ((r = vd_txn_commit(t)) != 0)
			die(r, "audit");
	}
	vd_store_close(st);
	return 0;
}

struct head_arg {
	FILE	*f;	/* where the head goes */
	int	 found;
};

static int
head_cb(const char *db, const void *key, size_t klen, const void *val,
    size_t vlen, void *arg)
{
	struct head_arg *a = arg;

	if (strcmp(db, "meta") == 0 && klen == 10 &&
	    memcmp(key, "audit-head", 10) == 0) {
		if (fwrite(val, 1, vlen, a->f) != vlen)
			die(VD_EINVAL, "write head");
		a->found = 1;
	}
	return 0;
}

static int
savehead(int argc, char **argv)
{
	struct head_arg a = { NULL, 0 };
	struct vd_store *st;
	struct vd_txn *t;
	int r;

	if (argc != 3 || (a.f = fopen(argv[2], "w")) == NULL)
		die(VD_EINVAL, "usage");
	if ((r = vd_store_open(argv[1], VD_STORE_RDONLY, &st)) != 0 ||
	    (r = vd_txn_begin(st, 0, &t)) != 0 ||
	    (r = vd_store_raw_each(t, head_cb, &a)) != 0)
		die(r, "savehead");
	if (!a.found || fclose(a.f) != 0)
		die(VD_ENOTFOUND, "no audit head");
	vd_txn_abort(t);
	vd_store_close(st);
	return 0;
}

static int
cut(int argc, char **argv)
{
	unsigned char head[4096], key[8];
	struct vd_store *st;
	struct vd_txn *t;
	uint64_t from, seq;
	size_t hlen;
	FILE *f;
	int r;

	if (argc != 4 || (f = fopen(argv[3], "r")) == NULL)
		die(VD_EINVAL, "usage");
	hlen = fread(head, 1, sizeof(head), f);
	fclose(f);
	from = num(argv[2]);
	/* No key: the store stays sealed, raw access only. */
	if ((r = vd_store_open(argv[1], 0, &st)) != 0 ||
	    (r = vd_txn_begin(st, 1, &t)) != 0)
		die(r, "open");
	for (seq = from;; seq++) {
		for (int i = 7, x = 0; i >= 0; i--, x += 8)
			key[i] = (unsigned char)(seq >> x);
		if ((r = vd_store_raw_del(t, "audit", key, 8)) == VD_ENOTFOUND)
			break;
		if (r != 0)
			die(r, "cut");
	}
	if ((r = vd_store_raw_put(t, "meta", "audit-head", 10, head, hlen))
	    != 0 || (r = vd_txn_commit(t)) != 0)
		die(r, "put head");
	printf("%llu\n", (unsigned long long)(seq - from));
	vd_store_close(st);
	return 0;
}

static int
last_cb(uint64_t seq, json_t *entry, void *arg)
{
	char *s = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);

	(void)seq;
	(void)arg;
	printf("%s\n", s != NULL ? s : "?");
	free(s);
	return 0;
}

static int
lastaudit(int argc, char **argv)
{
	struct vd_store *st;
	struct vd_txn *t;
	int r;

	if (argc != 2)
		die(VD_EINVAL, "usage");
	st = open_rw(argv[1]);
	if ((r = vd_txn_begin(st, 0, &t)) != 0 ||
	    (r = vd_audit_each(t, 1, last_cb, NULL)) != 0)
		die(r, "lastaudit");
	vd_txn_abort(t);
	vd_store_close(st);
	return 0;
}

static int
tamper(int argc, char **argv, int flip)
{
	struct vd_store *st;
	struct vd_txn *t = NULL;
	unsigned char *env = NULL;
	size_t len = 0;
	int r;

	if (argc != (flip ? 6 : 7))
		die(VD_EINVAL, "usage");
	/* Raw envelopes need no vault key, like an attacker's edit. */
	if ((r = vd_store_open(argv[1], 0, &st)) != 0)
		die(r, "open");
	if ((r = vd_txn_begin(st, 1, &t)) != 0 ||
	    (r = vd_envelope_get(t, argv[2], num(argv[3]), flip ? argv[4] :
	    argv[6], &env, &len)) != 0)
		die(r, "get");
	if (flip) {
		uint64_t off = num(argv[5]);

		if (off >= len)
			die(VD_EINVAL, "offset past the envelope");
		env[off] ^= 0x10;
		r = vd_envelope_put(t, argv[2], num(argv[3]), argv[4], env, len);
	} else
		r = vd_envelope_put(t, argv[4], num(argv[5]), argv[6], env, len);
	if (r != 0 || (r = vd_txn_commit(t)) != 0)
		die(r, "put");
	printf("%zu\n", len);
	free(env);
	vd_store_close(st);
	return 0;
}

static int
report_cb(const char *target, uint64_t v, const char *json, size_t len,
    void *arg)
{
	json_t *a = json_loadb(json, len, 0, NULL);

	printf("%s %llu %zu\n", target, (unsigned long long)v,
	    json_array_size(a));
	json_decref(a);
	return 0;
}

static int
reports(int argc, char **argv)
{
	struct vd_store *st = NULL;
	struct vd_txn *t = NULL;
	int r;

	if (argc != 2)
		die(VD_EINVAL, "usage");
	if ((r = vd_store_open(argv[1], VD_STORE_RDONLY, &st)) != 0 ||
	    (r = vd_txn_begin(st, 0, &t)) != 0 ||
	    (r = vd_escrow_reports(t, report_cb, NULL)) != 0)
		die(r, "reports");
	vd_txn_abort(t);
	vd_store_close(st);
	return 0;
}

/* Reads a whole file into a malloc'd buffer. */
static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (f == NULL)
		die(-2, path);
	for (;;) {
		if (*len == cap && (buf = realloc(buf, cap = cap * 2 + 4096)) ==
		    NULL)
			die(VD_ENOMEM, "read");
		if ((n = fread(buf + *len, 1, cap - *len, f)) == 0)
			break;
		*len += n;
	}
	fclose(f);
	return buf;
}

/* Splits a version 2 bundle: *ix, *ixlen its index; returns the v1 part. */
static const unsigned char *
split2(const unsigned char *buf, size_t len, const unsigned char **ix,
    size_t *ixlen, size_t *v1len)
{
	if (len < 12 || memcmp(buf, "VDBUNDL2", 8) != 0)
		die(VD_EINVAL, "not a version 2 bundle");
	*ixlen = (size_t)get_be(buf + 8, 4);
	if (*ixlen > len - 12)
		die(VD_EINVAL, "index length");
	*ix = buf + 12;
	*v1len = len - 12 - *ixlen;
	return buf + 12 + *ixlen;
}

static int
bundle(int argc, char **argv)
{
	struct vd_escrow_set set = { NULL, 0, 0 }, other = { NULL, 0, 0 };
	const unsigned char *ixp, *v1;
	unsigned char *buf, *ix, x[8];
	size_t len, ixlen, v1len, olen = 0, n = 0;
	FILE *f;
	int r, strip = 0;

	if (argc < 4)
		die(VD_EINVAL, "usage");
	buf = slurp(argv[1], &len);
	v1 = split2(buf, len, &ixp, &ixlen, &v1len);
	if ((ix = malloc(ixlen)) == NULL)
		die(VD_ENOMEM, "index");
	memcpy(ix, ixp, ixlen);
	if ((r = vd_escrow_set_parse_bundle(v1, v1len, &set)) != 0)
		die(r, "parse");
	if (strcmp(argv[3], "drop") == 0 && argc == 6) {
		for (size_t i = 0; i < set.n; i++)
			if (strcmp(set.items[i].target, argv[4]) == 0 &&
			    set.items[i].version == num(argv[5]))
				set.items[i].len = 0;	/* dropped below */
	} else if (strcmp(argv[3], "take") == 0 && argc == 8) {
		const unsigned char *oix, *ov1;
		size_t oixlen, ov1len;
		unsigned char *ob = slurp(argv[4], &olen);
		int found = 0;

		ov1 = split2(ob, olen, &oix, &oixlen, &ov1len);
		if ((r = vd_escrow_set_parse_bundle(ov1, ov1len, &other)) != 0)
			die(r, "parse other");
		free(ob);
		for (size_t j = 0; j < other.n; j++) {
			struct vd_escrow_item *o = &other.items[j];

			if (strcmp(o->target, argv[5]) != 0 ||
			    o->version != num(argv[6]) ||
			    strcmp(o->party, argv[7]) != 0)
				continue;
			for (size_t i = 0; i < set.n; i++)
				if (strcmp(set.items[i].target, o->target) ==
				    0 && set.items[i].version == o->version &&
				    strcmp(set.items[i].party, o->party) == 0) {
					free(set.items[i].env);
					set.items[i] = *o;
					o->env = NULL;
					found = 1;
				}
			if (!found) {
				/* Planted: appended (the set owns it now). */
				if ((set.items = realloc(set.items,
				    (set.n + 1) * sizeof(*set.items))) == NULL)
					die(VD_ENOMEM, "plant");
				set.items[set.n++] = *o;
				o->env = NULL;
				found = 1;
			}
		}
		if (!found)
			die(VD_ENOTFOUND, "no such envelope in OTHER");
	} else if (strcmp(argv[3], "resign") == 0 && argc == 4) {
		unsigned char pk[crypto_sign_PUBLICKEYBYTES];
		unsigned char sk[crypto_sign_SECRETKEYBYTES];
		unsigned char *m;
		const char dom[] = "vaultd-index-sig-v1";

		crypto_sign_keypair(pk, sk);
		memcpy(ix + 8, pk, sizeof(pk));
		if ((m = malloc(sizeof(dom) + ixlen)) == NULL)
			die(VD_ENOMEM, "resign");
		memcpy(m, dom, sizeof(dom));
		memcpy(m + sizeof(dom), ix, ixlen - crypto_sign_BYTES);
		crypto_sign_detached(ix + ixlen - crypto_sign_BYTES, NULL, m,
		    sizeof(dom) + ixlen - crypto_sign_BYTES, sk);
		free(m);
	} else if (strcmp(argv[3], "strip") == 0 && argc == 4)
		strip = 1;
	else
		die(VD_EINVAL, "usage: bundle IN OUT drop|take|resign|strip");
	if ((f = fopen(argv[2], "wb")) == NULL)
		die(-2, argv[2]);
	if (!strip) {
		fwrite("VDBUNDL2", 1, 8, f);
		put_be(x, ixlen, 4);
		fwrite(x, 1, 4, f);
		fwrite(ix, 1, ixlen, f);
	}
	for (size_t i = 0; i < set.n; i++)
		n += set.items[i].len > 0;
	fwrite("VDBUNDL1", 1, 8, f);
	put_be(x, n, 4);
	fwrite(x, 1, 4, f);
	for (size_t i = 0; i < set.n; i++) {
		struct vd_escrow_item *it = &set.items[i];
		unsigned char l;

		if (it->len == 0)
			continue;
		l = (unsigned char)strlen(it->target);
		fwrite(&l, 1, 1, f);
		fwrite(it->target, 1, l, f);
		put_be(x, it->version, 8);
		fwrite(x, 1, 8, f);
		l = (unsigned char)strlen(it->party);
		fwrite(&l, 1, 1, f);
		fwrite(it->party, 1, l, f);
		put_be(x, it->len, 4);
		fwrite(x, 1, 4, f);
		fwrite(it->env, 1, it->len, f);
	}
	if (fclose(f) != 0)
		die(-5, "write");
	vd_escrow_set_clear(&set);
	vd_escrow_set_clear(&other);
	free(ix);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	int r;

	if ((r = vd_mem_init()) != 0)
		die(r, "init");
	if (argc >= 2 && strcmp(argv[1], "seal") == 0)
		return seal(argc - 1, argv + 1, 1);
	if (argc >= 2 && strcmp(argv[1], "hold") == 0)
		return seal(argc - 1, argv + 1, 0);
	if (argc >= 2 && strcmp(argv[1], "copy") == 0)
		return tamper(argc - 1, argv + 1, 0);
	if (argc >= 2 && strcmp(argv[1], "flip") == 0)
		return tamper(argc - 1, argv + 1, 1);
	if (argc >= 2 && strcmp(argv[1], "reports") == 0)
		return reports(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "forge") == 0)
		return forge(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "audit") == 0)
		return audit_n(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "savehead") == 0)
		return savehead(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "cut") == 0)
		return cut(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "lastaudit") == 0)
		return lastaudit(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "bundle") == 0)
		return bundle(argc - 1, argv + 1);
	die(VD_EINVAL, "usage: seal|hold|copy|flip|reports|forge|audit|"
	    "savehead|cut|lastaudit|bundle ...");
	return 1;
}
