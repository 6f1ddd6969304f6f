/*
 * escrow.h - escrow of password versions to the customer and the vendor,
 * and the offline break-glass that opens them.
 *
 * Each escrow party has an X25519 key pair (crypto_box_keypair); vaultd
 * holds only the public halves.  Every password version is sealed
 * (crypto_box_seal) to each party: in mode "any" each envelope holds the
 * whole password, in mode "M-of-N" each holds one Shamir share (shamir.h).
 * Each envelope names its target, version, time, mode and party in the
 * clear and again inside the sealed box, carries a commitment to its
 * plaintext, and is signed (Ed25519) by the vault's escrow signing key, a
 * sub-key of the data key.  The vault's signing public key travels in every
 * envelope, so a signature alone proves nothing: break-glass trusts only
 * the vault key pinned in the party's key file (or given explicitly), and
 * refuses envelopes signed by any other key.
 *
 * Envelopes are stored raw in the store's escrow database, so break-glass
 * needs no vault key: it opens the data directory read-only (or reads a
 * bundle file) and a party's private key.  The file and envelope formats
 * are documented in docs/escrow.md.
 *
 * Every function returns 0 or a negative VD_E* / -errno code, with a detail
 * through vd_err_set() that never contains a secret.
 */
#ifndef VD_ESCROW_H
#define VD_ESCROW_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"
#include "store.h"
#include "util.h"

#define VD_ESCROW_PKBYTES	32	/* X25519 / Ed25519 public key */
#define VD_ESCROW_SIGBYTES	64	/* Ed25519 signature */
#define VD_ESCROW_KEYIDLEN	16	/* hex chars of a party key id */
#define VD_ESCROW_FPLEN		32	/* hex chars of a vault key fingerprint */
#define VD_ESCROW_MAXPARTIES	16	/* parties in one [escrow] section */
#define VD_ESCROW_ENVMAX	(64u << 10)	/* largest envelope accepted */
#define VD_ESCROW_LINEMAX	1024	/* longest key file line */
#define VD_ESCROW_REPORT	"breakglass"	/* party slot of reports */

/* Escrow modes. */
enum vd_escrow_mode {
	VD_ESCROW_ANY = 1,	/* each party alone opens the password */
	VD_ESCROW_QUORUM = 2,	/* m of the n parties' shares needed */
};

/* A party's public key, as in its FILE.pub line. */
struct vd_escrow_pub {
	char		 party[VD_NAME_MAX + 1];	/* party name */
	unsigned char	 pk[VD_ESCROW_PKBYTES];		/* X25519 public key */
	char		 keyid[VD_ESCROW_KEYIDLEN + 1];	/* hex BLAKE2b(pk) */
};

/* A party's key pair, as in its private key file. */
struct vd_escrow_key {
	struct vd_escrow_pub	 pub;	/* the public half */
	struct vd_secret	*sk;	/* 32-byte X25519 secret key */
	char		 vault_fp[VD_ESCROW_FPLEN + 1];
					/* pinned vault signing key
					 * fingerprint; "" when none */
};

/* --- party keys -------------------------------------------------------- */

/*
 * Parses one FILE.pub line "vaultd-escrow-v1 PARTY BASE64PK KEYID", with
 * at most one trailing newline, into *out.  Strict: single spaces, a valid
 * party name, a 32-byte key in padded standard base64, the key id matching
 * the key.  Returns 0 or VD_EINVAL with a detail.
 */
int vd_escrow_pub_parse(const char *line, size_t len,
    struct vd_escrow_pub *out);

/* Formats pub as its FILE.pub line (with newline) into buf; VD_ETOOBIG. */
int vd_escrow_pub_format(const struct vd_escrow_pub *pub, char *buf,
    size_t len);

/*
 * Reads and parses the FILE.pub at path, checked as vaultd's config file
 * is: not a symbolic link (VD_EKEYPERM), a regular file, not writable by
 * group or others, owned by root or the caller (all VD_EKEYPERM).
 * Returns 0, -errno or VD_EINVAL.
 */
int vd_escrow_pub_load(const char *path, struct vd_escrow_pub *out);

/* Makes a fresh key pair for party (a valid name) into *out. */
int vd_escrow_keygen(const char *party, struct vd_escrow_key **out);

/* Wipes and frees k; NULL-safe. */
void vd_escrow_key_free(struct vd_escrow_key *k);

/*
 * Formats k as a private key file's text (one line) in *text, secure
 * memory.  With pass (non-empty), the secret key is sealed with
 * XChaCha20-Poly1305 under Argon2id(pass) at params (NULL: moderate).
 */
int vd_escrow_key_format(const struct vd_escrow_key *k,
    const struct vd_secret *pass, const struct vd_kdf_params *params,
    struct vd_secret **text);

/*
 * Returns 1 when the private key file text in buf is passphrase-protected,
 * 0 when not, VD_EINVAL when it is no escrow key file.
 */
int vd_escrow_key_protected(const char *buf, size_t len);

/*
 * Parses a private key file's text into *out: the key line, then
 * optionally one pin line "vaultd-escrow-vault-v1 FP" naming the vault
 * signing key the party trusts (into out->vault_fp).  pass is needed (and
 * only used) for a protected file.  Returns VD_EINVAL for a malformed
 * file, VD_EBADKEY "wrong passphrase" when the passphrase does not open it
 * (or none was given), VD_ECORRUPT when the key does not match its key id.
 */
int vd_escrow_key_parse(const char *buf, size_t len,
    const struct vd_secret *pass, struct vd_escrow_key **out);

/*
 * Reads a private key file into *text (secure memory).  Refuses a file
 * readable or writable by group or others (VD_EKEYPERM) or longer than
 * VD_ESCROW_LINEMAX.
 */
int vd_escrow_key_read(const char *path, struct vd_secret **text);

/*
 * Writes k to path (mode 0600, O_EXCL: never overwrites) and its public
 * line to path.pub (0644, O_EXCL), both fsynced; see vd_escrow_key_format
 * for pass and params (k->vault_fp, when set, is written as the pin line).
 * On failure neither file is left behind.
 */
int vd_escrow_key_write(const char *path, const struct vd_escrow_key *k,
    const struct vd_secret *pass, const struct vd_kdf_params *params);

/*
 * Normalises a vault key fingerprint (VD_ESCROW_FPLEN hex digits, any
 * case) into out (lower case).  Returns 0 or VD_EINVAL.
 */
int vd_escrow_fp_parse(const char *s, char out[VD_ESCROW_FPLEN + 1]);

/*
 * Records fp (a vault key fingerprint) as the vault key the private key
 * file at path trusts: the file's key line is kept byte for byte (no
 * passphrase needed) and its pin line set.  A file already pinned to
 * another key is refused (VD_EEXIST) unless replace.  The file must be the
 * caller's own regular file (mode 0600, no links); it is replaced
 * atomically (a new file in the same directory, fsynced, renamed over).
 */
int vd_escrow_key_pin(const char *path, const char *fp, int replace);

/* --- configuration ----------------------------------------------------- */

struct vd_escrow_cfg;

/* Returns a new, empty configuration (no parties: no escrow) in *out. */
int vd_escrow_cfg_new(struct vd_escrow_cfg **out);

/*
 * Applies one [escrow] key: "mode" = "any" or "M-of-N" (2 <= M <= N <=
 * VD_ESCROW_MAXPARTIES), or PARTY = "PATH KEYID": PATH of PARTY's .pub
 * file, loaded now (vd_escrow_pub_load's checks), and KEYID the key id
 * pinned for PARTY.  The party named in the file must be PARTY and its key
 * id KEYID; a party without a pin is refused.  Returns VD_EINVAL with a
 * detail on a bad name, mode, file, missing or mismatched pin, a repeated
 * party or public key.
 */
int vd_escrow_cfg_set(struct vd_escrow_cfg *ec, const char *key,
    const char *value);

/*
 * Checks the parties fit the mode: "any" needs at least one party, "M-of-N"
 * exactly N.  Parties without a mode line mean "any".  No parties at all is
 * valid (escrow off).  Returns 0 or VD_ECONFIG with a detail.
 */
int vd_escrow_cfg_finalize(struct vd_escrow_cfg *ec);

/*
 * Builds and finalizes a configuration from a JSON object of [escrow] keys
 * (string values, in file order; an array value means the key was
 * repeated, which is refused).  Returns 0 with *out, or VD_EINVAL /
 * VD_ECONFIG with a detail.
 */
int vd_escrow_cfg_from_json(const json_t *obj, struct vd_escrow_cfg **out);

/* Returns the number of parties (0: escrow off); NULL-safe. */
size_t vd_escrow_cfg_parties(const struct vd_escrow_cfg *ec);

/* Frees ec; NULL-safe. */
void vd_escrow_cfg_free(struct vd_escrow_cfg *ec);

/* --- sealing (vaultd) -------------------------------------------------- */

/*
 * Writes the vault's escrow signing key fingerprint (VD_ESCROW_FPLEN hex
 * characters) into fp.  The store must be unlocked.
 */
int vd_escrow_vault_fp(struct vd_store *st, char fp[VD_ESCROW_FPLEN + 1]);

/*
 * Signs domain (a NUL-terminated name, not the envelopes' own), its NUL,
 * then msg with the vault's escrow signing key (Ed25519, detached) into
 * sig; pk gets the signing public key, written before msg is read, so pk
 * may point into msg (a document that names its signer signs its name
 * too).  For documents the vault vouches for beside its envelopes
 * (bundle_index.h).  The store must be unlocked.
 */
int vd_escrow_vault_sign(struct vd_store *st, const char *domain,
    const unsigned char *msg, size_t len,
    unsigned char sig[VD_ESCROW_SIGBYTES],
    unsigned char pk[VD_ESCROW_PKBYTES]);

/*
 * Seals password pw of target's version to every configured party and
 * stores the envelopes in the caller's write transaction t (so they commit
 * with the version itself), replacing any earlier envelopes of that version
 * and dropping those of parties no longer configured.  A NULL or empty ec
 * does nothing and returns 0.  st must be unlocked (the signing key).
 */
int vd_escrow_seal_version(const struct vd_escrow_cfg *ec,
    struct vd_store *st, struct vd_txn *t, const char *target,
    uint64_t version, const struct vd_secret *pw);

/*
 * The same sealing in three steps, so that the expensive middle can run
 * on another thread (issue 18: the rotation engine seals on the thread
 * pool, before the pending commit):
 *   vd_escrow_seal_prepare() (the thread that owns st): copies ec, target,
 *     version and pw and derives the vault's signing key into *out, in
 *     secure memory.  NULL or empty ec: *out = NULL, returns 0.
 *   vd_escrow_seal_compute() (any thread, no store, no configuration):
 *     seals one envelope per party; wipes and frees the password copy and
 *     the signing key whatever happens.  Its result is kept in s.
 *   vd_escrow_seal_store() (in write transaction t): writes the envelopes
 *     and drops those of version's other parties not in ec (NULL: the
 *     parties s was sealed to); returns compute's error if it failed.
 *     The caller checks vd_escrow_sealed_for() first when the
 *     configuration may have changed since prepare.
 * vd_escrow_sealed_free() wipes and frees s (NULL-safe).
 */
struct vd_escrow_sealed;
int vd_escrow_seal_prepare(const struct vd_escrow_cfg *ec,
    struct vd_store *st, const char *target, uint64_t version,
    const struct vd_secret *pw, struct vd_escrow_sealed **out);
void vd_escrow_seal_compute(struct vd_escrow_sealed *s);
int vd_escrow_seal_store(const struct vd_escrow_cfg *ec,
    const struct vd_escrow_sealed *s, struct vd_txn *t);
void vd_escrow_sealed_free(struct vd_escrow_sealed *s);

/*
 * 1 when s was computed without error and seals version of target to
 * exactly ec's parties (names, keys, order) and mode; 0 otherwise (s or ec
 * NULL included).
 */
int vd_escrow_sealed_for(const struct vd_escrow_sealed *s,
    const struct vd_escrow_cfg *ec, const char *target, uint64_t version);

/*
 * After the party list or mode changed: re-seals every target's current
 * version (and a pending version newer than it) to ec's parties, drops the
 * envelopes of parties no longer configured (every version), and appends
 * an audit entry {"event": "escrow-reseal", ...}; all in t.  NULL or empty
 * ec: nothing is done (old envelopes stay).
 */
int vd_escrow_reseal(const struct vd_escrow_cfg *ec, struct vd_store *st,
    struct vd_txn *t);

/*
 * Sets *stale to 1 when some target's current version lacks a valid
 * envelope for a configured party (key, mode) or has one of a party no
 * longer configured: the daemon then calls vd_escrow_reseal().
 */
int vd_escrow_stale(const struct vd_escrow_cfg *ec, struct vd_txn *t,
    int *stale);

/*
 * Finds the targets whose password in force (the current version, and a
 * pending one newer than it) can be opened by someone ec no longer
 * trusts as much (issue 14 item 4): an envelope sealed to a key no party
 * of ec has (a party removed or re-keyed; every envelope when ec is NULL
 * or empty: escrow turned off), or a share of a quorum smaller than ec's
 * M (a stricter mode).  Such envelopes may sit in bundles and backups
 * made before the change, so re-sealing does not help: the target must be
 * rotated.  Calls cb(target, newest live version, why, party of the
 * first such envelope, arg) once per such target; a non-zero return
 * stops.  Must run before vd_escrow_reseal() drops those envelopes.
 */
int vd_escrow_exposed(const struct vd_escrow_cfg *ec, struct vd_txn *t,
    int (*cb)(const char *target, uint64_t newest, const char *why,
    const char *party, void *arg), void *arg);

/* --- envelope sets: from a store or a bundle --------------------------- */

/* One envelope and where it was found. */
struct vd_escrow_item {
	char		 target[VD_NAME_MAX + 1];	/* target it sits under */
	uint64_t	 version;			/* version it sits under */
	char		 party[VD_NAME_MAX + 1];	/* party slot */
	unsigned char	*env;				/* malloc'd bytes */
	size_t		 len;				/* bytes in env */
};

/* A list of envelopes (break-glass input). */
struct vd_escrow_set {
	struct vd_escrow_item	*items;	/* malloc'd array */
	size_t			 n;	/* items in use */
	size_t			 cap;	/* items allocated */
};

/*
 * Appends every envelope of target (NULL: all) in t to set (reports are
 * skipped).  Works on a sealed, read-only store.
 */
int vd_escrow_set_load(struct vd_txn *t, const char *target,
    struct vd_escrow_set *set);

/* Parses a bundle file's bytes into set; VD_EINVAL when malformed. */
int vd_escrow_set_parse_bundle(const unsigned char *buf, size_t len,
    struct vd_escrow_set *set);

/*
 * Fills vs (room for max) with target's versions that have envelopes in
 * set, newest first; *n gets how many there are (may exceed max).  Costs
 * n log n in the set's size (a temporary array; without memory, only the
 * newest max are found and counted).
 */
void vd_escrow_set_versions(const struct vd_escrow_set *set,
    const char *target, uint64_t *vs, size_t max, size_t *n);

/* Frees the set's items (the set itself is the caller's). */
void vd_escrow_set_clear(struct vd_escrow_set *set);

/*
 * Writes every envelope in t (no reports, no plaintext) to a new bundle
 * file at path (0600, O_EXCL, fsynced).
 */
int vd_escrow_bundle_write(struct vd_txn *t, const char *path);

/*
 * Builds the same bundle in memory: *buf (malloc'd, caller frees) of *len
 * bytes.  For the daemon's online export.
 */
int vd_escrow_bundle_build(struct vd_txn *t, unsigned char **buf,
    size_t *len);

/* Writes a bundle built elsewhere to a new file (O_EXCL, 0600, fsynced). */
int vd_escrow_bundle_save(const char *path, const unsigned char *buf,
    size_t len);

/* --- break-glass ------------------------------------------------------- */

/* What break-glass opened. */
struct vd_escrow_result {
	uint64_t	 version;	/* the version opened */
	int64_t		 created;	/* when it was sealed (epoch s) */
	enum vd_escrow_mode mode;	/* its escrow mode */
	unsigned	 m;		/* shares needed (1 in mode any) */
	unsigned	 have;		/* distinct shares opened */
	char		 vault_fp[VD_ESCROW_FPLEN + 1];	/* signer */
	char		 keyids[VD_ESCROW_MAXPARTIES][VD_ESCROW_KEYIDLEN + 1];
					/* key ids that opened an envelope */
	size_t		 nkeyids;	/* entries in keyids */
	struct vd_secret *pw;		/* the password; NULL when have < m */
};

/*
 * Sets fp to the fingerprint of the key that signs target's version (0:
 * the newest) in set: the first envelope whose own signature verifies.
 * Informational only (it trusts nothing): for the message that asks a
 * party to compare the fingerprint before pinning it.  VD_ENOTFOUND.
 */
int vd_escrow_set_signer(const struct vd_escrow_set *set, const char *target,
    uint64_t version, char fp[VD_ESCROW_FPLEN + 1]);

/*
 * Checks one envelope without a party key (vault verification): it parses,
 * its signature verifies under the vault key it carries, and the target,
 * version and party it names in the clear are the place it was found.
 * Sets fp to that vault key's fingerprint: the caller compares it with the
 * vault's own or a pin.  Returns 0 or VD_ECORRUPT with a detail.
 */
int vd_escrow_item_check(const struct vd_escrow_item *it,
    char fp[VD_ESCROW_FPLEN + 1]);

/*
 * Opens target's version (0: the newest with envelopes in set) with the
 * given party keys.  Every envelope used is checked: the vault signature,
 * the place it was found against the target/version/party it names (in
 * the clear and sealed), one vault key for all, and that key's fingerprint
 * against pin.  pin NULL accepts any signer: only for a trust-on-first-use
 * the user asked for explicitly; every other caller passes the pin.  On 0,
 * res->pw holds the password, or is NULL when fewer than m shares opened
 * (res->have of res->m: "need m - have more").
 * Returns VD_ENOTFOUND (no envelopes), VD_EBADKEY (no key opens any
 * envelope), VD_ECORRUPT (an envelope is tampered with or moved, or the
 * vault key differs from pin).  Free res with vd_escrow_result_clear().
 */
int vd_escrow_recover(const struct vd_escrow_set *set, const char *target,
    uint64_t version, struct vd_escrow_key *const *keys, size_t nkeys,
    const char *pin, struct vd_escrow_result *res);

/* Wipes res's password; NULL-safe. */
void vd_escrow_result_clear(struct vd_escrow_result *res);

/*
 * Checks a recovered password is printable ASCII (0x20..0x7e), the
 * alphabet of the password generator: no newline, no control character,
 * nothing a terminal or an option file would interpret.  Returns 0, or
 * VD_EINVAL with *at (may be NULL) the offset of the first bad byte.
 */
int vd_escrow_pw_check(const struct vd_secret *pw, size_t *at);

/*
 * Formats pw as a MariaDB option file "[client]\npassword=\"...\"\n" in
 * secure memory (*out), with \ and " escaped as MARIADB.md says.  pw must
 * pass vd_escrow_pw_check() (VD_EINVAL otherwise).
 */
int vd_escrow_pw_mycnf(const struct vd_secret *pw, struct vd_secret **out);

/*
 * For parties that cannot meet: opens key's envelope of target's version
 * (0: newest) in set, checked as in vd_escrow_recover(), and re-seals its
 * contents to the combiner's public key.  *out (malloc'd, *outlen bytes)
 * is the share file: the original signed envelope plus the re-sealed
 * contents.  *vout gets the version.
 */
int vd_escrow_share_make(const struct vd_escrow_set *set, const char *target,
    uint64_t version, const struct vd_escrow_key *key,
    const struct vd_escrow_pub *to, const char *pin, unsigned char **out,
    size_t *outlen, uint64_t *vout);

/*
 * Combines share files (from vd_escrow_share_make(), all re-sealed to key)
 * into res as vd_escrow_recover() would: every share's envelope signature
 * and commitment are checked, and all must name one target, version,
 * vault key and sealing.  *target (room for VD_NAME_MAX + 1) gets the
 * target's name.
 */
int vd_escrow_combine(const unsigned char *const *files, const size_t *lens,
    size_t n, const struct vd_escrow_key *key, const char *pin,
    char *target, struct vd_escrow_result *res);

/* --- break-glass reports ----------------------------------------------- */

/*
 * Records one break-glass opening of (target, v): opening is a JSON object
 * (time, uid, user, host, keys ...) appended to the report record, a JSON
 * array stored raw in the escrow database under party "breakglass".  Works
 * on a sealed store (write transaction).
 */
int vd_escrow_report_add(struct vd_txn *t, const char *target, uint64_t v,
    const json_t *opening);

/*
 * Calls cb for every report record: json is the JSON array of openings
 * (len bytes, not NUL-terminated, borrowed).  A non-zero cb return stops.
 */
int vd_escrow_reports(struct vd_txn *t, int (*cb)(const char *target,
    uint64_t v, const char *json, size_t len, void *arg), void *arg);

/* Deletes the report record of (target, v) once handled; VD_ENOTFOUND. */
int vd_escrow_report_clear(struct vd_txn *t, const char *target, uint64_t v);

/*
 * Checks a report (one opening object, as printed by break-glass) for
 * import: target and version present and valid.  Returns 0 with *target
 * borrowed from obj, or VD_EINVAL.
 */
int vd_escrow_report_check(const json_t *obj, const char **target,
    uint64_t *v);

#endif
