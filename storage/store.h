/*
 * store.h - the encrypted vault store (LMDB + libsodium).
 *
 * One LMDB environment in a data directory (0700, files 0600), fully synced:
 * a commit that returned is on disk.  Named databases hold targets, secret
 * versions, version metadata, envelopes, history, audit and schedule
 * state.  Every record except envelopes (raw records sealed by their
 * writer, which must open without the vault's key) is sealed with
 * XChaCha20-Poly1305 under a sub-key of the vault's data key, with associated
 * data naming its database and key, so a ciphertext copied or swapped to
 * another place fails to open.
 *
 * Keys: a root key (32 bytes from a key file, or Argon2id of a passphrase)
 * wraps a random data key in the meta record.
 *
 * Life cycle: vd_store_open() opens the environment and reads the meta record
 * (the vault is then "sealed": only raw envelope access works);
 * vd_store_unlock() derives the keys.  All record access goes through a
 * transaction.  Only one thread at a time may use a write transaction;
 * read transactions may run on any thread (MDB_NOTLS).
 *
 * Non-secret records (targets, version metadata, history, audit, schedule)
 * are JSON objects (jansson); secrets come and go only in struct vd_secret.
 *
 * Every function returns 0 on success or a negative VD_E* / -errno code,
 * with a detail set through vd_err_set() where one helps.
 */
#ifndef VD_STORE_H
#define VD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mem.h"

#define VD_KEYBYTES		32	/* root key, data key, sub-keys */
#define VD_FORMAT_VERSION	1	/* on-disk format written by this code */
#define VD_MAP_SIZE_DEFAULT	((size_t)1 << 30)	/* 1 GiB, grows */
#define VD_HASHBYTES		32	/* BLAKE2b-256 audit chain hash */

struct vd_store;
struct vd_txn;

/* How the root key is obtained (stored in the meta record). */
enum vd_kdf {
	VD_KDF_KEYFILE = 0,	/* 32 random bytes in a key file */
	VD_KDF_ARGON2ID = 1,	/* crypto_pwhash of a passphrase */
};

/* Flags for vd_store_open(). */
#define VD_STORE_RDONLY	0x1	/* offline tools: never write */
#define VD_STORE_NOFRESH 0x2	/* unlock does not check the freshness
				 * anchor: only for vd_store_anchor_restore */

/* Argon2id strength for vd_store_create() with a passphrase. */
struct vd_kdf_params {
	unsigned long long	opslimit;	/* crypto_pwhash opslimit */
	size_t			memlimit;	/* crypto_pwhash memlimit, bytes */
};

/*
 * Creates a key file at path holding 32 fresh random bytes, mode 0600,
 * fsynced.  Returns VD_EEXIST when path exists (it is left alone).
 */
int vd_keyfile_create(const char *path);

/*
 * Loads a key file into *key (secure memory).  Refuses a file that is not a
 * regular file, is readable or writable by group or others (VD_EKEYPERM), or
 * is not exactly VD_KEYBYTES long (VD_EKEYFILE).
 */
int vd_keyfile_load(const char *path, struct vd_secret **key);

/*
 * Creates a new vault in dir (created 0700 when missing).  With kdf
 * VD_KDF_KEYFILE, secret is the 32-byte root key; with VD_KDF_ARGON2ID it
 * is the passphrase and params (NULL: moderate) set the Argon2id cost.
 * Refuses a dir that already holds a vault (VD_EEXIST).  The new store is
 * open, unlocked and read-write; close it with vd_store_close().
 */
int vd_store_create(const char *dir, enum vd_kdf kdf,
    const struct vd_secret *secret, const struct vd_kdf_params *params,
    struct vd_store **out);

/*
 * Opens the vault in dir, sealed.  flags: VD_STORE_RDONLY, VD_STORE_NOFRESH.
 * Refuses a dir without a vault (VD_ENOTVAULT), a vault of a newer format
 * (VD_EFORMAT), a data dir writable by group or others (VD_EKEYPERM), and
 * (VD_EKEYPERM) a data.mdb or lock.mdb that LMDB would follow or write
 * elsewhere: a symbolic link, not a regular file, lock.mdb (data.mdb when
 * writing) with more than one link, owned by neither the directory's owner
 * nor the caller.  Run as root on a directory of another owner, the
 * environment is opened as that owner (effective ids), so nothing a link
 * swapped in later points at is written with root's rights.
 */
int vd_store_open(const char *dir, unsigned flags, struct vd_store **out);

/*
 * The one-writer lock of a data directory (DESIGN.md, "High availability").
 * vaultd takes it before it opens the store and keeps it for its life, so
 * a second vaultd on the same directory (this host, or another host on
 * shared storage whose locks work across hosts: NFSv4, GFS2, OCFS2)
 * refuses to start.  Offline commands do not take it: they open the store
 * read-only, or write under LMDB's own lock beside a running vaultd.
 */
#define VD_STORE_LOCKFILE	"vaultd.lock"

/*
 * Takes the exclusive lock of data directory dir: an open-file-description
 * lock (F_OFD_SETLK, whole file) on dir/vaultd.lock, opened read-write,
 * created 0600 when missing, never through a symbolic link, and refused
 * unless it is a plain file with one link; "PID HOST" is written into it
 * for the next one to name.  Run as root on a directory owned by someone
 * else, the file is given to the directory's owner (as for lock.mdb).  On
 * success *fd holds the descriptor that holds the lock (close-on-exec):
 * keep it open as long as the lock must hold, across setuid() too; the
 * kernel releases the lock when it is closed or the process dies.  The
 * file is never removed (a removed lock file lets two holders coexist).
 * Returns 0; VD_EBUSY when another open file holds the lock, with the
 * detail "data directory DIR is in use by vaultd (pid N); one vaultd per
 * data directory"; VD_ENOTVAULT / VD_EKEYPERM as vd_store_open() for the
 * directory; -ELOOP for a link planted as the lock file; -ENOLCK when the
 * file system has no locks; or another -errno.
 */
int vd_store_lock_dir(const char *dir, int *fd);

/* Releases the lock taken by vd_store_lock_dir(); fd < 0 is a no-op. */
void vd_store_unlock_dir(int fd);

/* Returns how the vault's root key is obtained. */
enum vd_kdf vd_store_kdf(const struct vd_store *st);

/*
 * Unlocks an open store with the root key (key file vaults) or the
 * passphrase (Argon2id vaults).  Returns VD_EBADKEY when it does not open
 * the data key.  A read-write store (without VD_STORE_NOFRESH) is then
 * checked against its freshness anchor and stays sealed with VD_ECHAIN
 * (or VD_ECORRUPT, VD_EKEYPERM for a bad anchor file) when the data is
 * older; see vd_store_anchor_check().  Idempotent once unlocked.
 */
int vd_store_unlock(struct vd_store *st, const struct vd_secret *secret);

/* Returns 1 when the store is unlocked. */
int vd_store_unlocked(const struct vd_store *st);

/* Returns the 16-byte vault id as 32 hex characters (static per store). */
const char *vd_store_id(const struct vd_store *st);

/*
 * Derives a purpose sub-key of len bytes (crypto_kdf_BYTES_MIN..MAX) from
 * the vault's data key into out: crypto_kdf_derive_from_key(id, ctx).  ctx
 * is 8 bytes, not NUL-terminated; the records key's context "vaultd01" is
 * refused.  Returns 0, VD_ESEALED while the store is sealed, or VD_EINVAL.
 */
int vd_store_derive(struct vd_store *st, uint64_t id, const char ctx[8],
    unsigned char *out, size_t len);

/*
 * Drops this process's mappings of the vault file's pages (they stay in the
 * page cache and fault back in on use): after a start-up that read every
 * record, the resident set shrinks to what is really private.  Only
 * ciphertext lives in the map, so nothing secret is involved.
 */
void vd_store_release_pages(struct vd_store *st);

/* Closes the store, wiping keys; NULL-safe.  No transaction may be open. */
void vd_store_close(struct vd_store *st);

/*
 * Begins a transaction (write != 0: read-write).  Before a write
 * transaction, the map grows when it is more than 3/4 used.
 */
int vd_txn_begin(struct vd_store *st, int write, struct vd_txn **out);

/* Commits and frees t (on failure too).  Durable once it returns 0. */
int vd_txn_commit(struct vd_txn *t);

/* Aborts and frees t; NULL-safe. */
void vd_txn_abort(struct vd_txn *t);

/* --- targets: name -> JSON object ------------------------------------ */

/* Stores obj under name; with create, VD_EEXIST when name exists. */
int vd_target_put(struct vd_txn *t, const char *name, const json_t *obj,
    int create);
/* Loads target name into *obj (caller json_decref()s); VD_ENOTFOUND. */
int vd_target_get(struct vd_txn *t, const char *name, json_t **obj);
/*
 * Deletes target name's record (VD_ENOTFOUND); its versions and history
 * are the caller's (vaultd's target.remove tombstones the versions).
 */
int vd_target_del(struct vd_txn *t, const char *name);
/*
 * Calls cb for each target in name order; a non-zero return from cb stops
 * the walk and is returned.  obj is borrowed for the call.
 */
int vd_target_each(struct vd_txn *t,
    int (*cb)(const char *name, json_t *obj, void *arg), void *arg);

/* --- secret versions -------------------------------------------------- */

/*
 * Stores password pw as version v of target (immutable: VD_EEXIST when
 * that version exists).  Versions start at 1.
 */
int vd_secret_put(struct vd_txn *t, const char *target, uint64_t v,
    const struct vd_secret *pw);
/* Loads version v's password into *pw (secure memory); VD_ENOTFOUND. */
int vd_secret_get(struct vd_txn *t, const char *target, uint64_t v,
    struct vd_secret **pw);
/* Deletes version v's password (retention); its metadata stays. */
int vd_secret_del(struct vd_txn *t, const char *target, uint64_t v);

/*
 * The password of a target's separate admin (rotation/reconcile) account,
 * kept beside its versions (in the secrets database, slot 0).  put replaces
 * it; get gives VD_ENOTFOUND when the target has none.
 */
int vd_admin_secret_put(struct vd_txn *t, const char *target,
    const struct vd_secret *pw);
int vd_admin_secret_get(struct vd_txn *t, const char *target,
    struct vd_secret **pw);
int vd_admin_secret_del(struct vd_txn *t, const char *target);

/*
 * Version metadata (state, times, trigger …) of target's version v: a JSON
 * object, rewritten as the version moves pending -> current -> previous ->
 * retired (or failed).
 */
int vd_version_put(struct vd_txn *t, const char *target, uint64_t v,
    const json_t *meta);
int vd_version_get(struct vd_txn *t, const char *target, uint64_t v,
    json_t **meta);
/* Sets *v to target's highest version number, 0 when it has none. */
int vd_version_last(struct vd_txn *t, const char *target, uint64_t *v);
/*
 * Calls cb for target's versions, newest first, at most limit (0: all);
 * a non-zero return from cb stops the walk and is returned.
 */
int vd_version_each(struct vd_txn *t, const char *target, size_t limit,
    int (*cb)(uint64_t v, json_t *meta, void *arg), void *arg);

/* --- envelopes: raw bytes, readable without the vault's key ---------- */

/*
 * Envelopes are records the store keeps as given, keyed by (target,
 * version, slot), readable and writable on a sealed store: their writer
 * (escrow/, which sits above the store) seals them and binds them to
 * their place itself.  The store knows nothing of what they hold.
 *
 * Stores an envelope for (target, v, party).  Works on a sealed store.
 */
int vd_envelope_put(struct vd_txn *t, const char *target, uint64_t v,
    const char *party, const void *env, size_t len);
/* Copies the envelope into a malloc'd *env (caller frees) of *len bytes. */
int vd_envelope_get(struct vd_txn *t, const char *target, uint64_t v,
    const char *party, unsigned char **env, size_t *len);
/*
 * Calls cb for every envelope (target == NULL) or target's envelopes, in key
 * order (target, version ascending, party).  Buffers are borrowed.
 */
int vd_envelope_each(struct vd_txn *t, const char *target,
    int (*cb)(const char *target, uint64_t v, const char *party,
    const unsigned char *env, size_t len, void *arg), void *arg);
/* Deletes every envelope of (target, v). */
int vd_envelope_del(struct vd_txn *t, const char *target, uint64_t v);
/* Deletes party's envelope of (target, v); VD_ENOTFOUND when absent. */
int vd_envelope_del_party(struct vd_txn *t, const char *target, uint64_t v,
    const char *party);

/* --- history: per target, append-only, newest first ------------------- */

/* Appends entry to target's history; *seq (may be NULL) gets its number. */
int vd_history_append(struct vd_txn *t, const char *target,
    const json_t *entry, uint64_t *seq);
/* Rewrites entry seq of target's history (e.g. to record its outcome). */
int vd_history_update(struct vd_txn *t, const char *target, uint64_t seq,
    const json_t *entry);
/*
 * Calls cb for target's history newest first, starting below before (0:
 * from the newest), at most limit entries (0: all).  Uses a cursor: cost is
 * proportional to the entries returned, not the history's length.
 */
int vd_history_each(struct vd_txn *t, const char *target, uint64_t before,
    size_t limit, int (*cb)(uint64_t seq, json_t *entry, void *arg),
    void *arg);

/* --- audit: global, append-only, hash-chained ------------------------- */

/*
 * Appends entry to the audit log, adding "seq", "time" (if absent) and
 * "prev" (hex BLAKE2b-256 of the previous entry's stored form).  *seq may
 * be NULL.  The chain head (count and hash) is kept in the meta database,
 * so dropping the newest entries is detected too.
 */
int vd_audit_append(struct vd_txn *t, const json_t *entry, uint64_t *seq);
/* Calls cb for audit entries newest first, at most limit (0: all). */
int vd_audit_each(struct vd_txn *t, size_t limit,
    int (*cb)(uint64_t seq, json_t *entry, void *arg), void *arg);
/*
 * Walks the whole audit log oldest first and checks every entry opens, the
 * sequence has no gap, each "prev" matches the previous entry, and the head
 * matches.  Returns 0 with *count entries, or VD_ECHAIN/VD_ECORRUPT with
 * *bad the first bad sequence number and a detail saying what is wrong.
 */
int vd_audit_verify(struct vd_txn *t, uint64_t *count, uint64_t *bad);
/*
 * The audit chain head: *count entries, hash (hex, 2 * VD_HASHBYTES + 1
 * bytes) of the newest one ("000…0" for an empty log), as the sealed head
 * record has them.  Needs an unlocked store.
 */
int vd_audit_head(struct vd_txn *t, uint64_t *count, char *hash);
/*
 * The hash (hex) of audit entry n as stored, the value entry n + 1 carries
 * as "prev".  VD_ENOTFOUND when there is no entry n.
 */
int vd_audit_entry_hash(struct vd_txn *t, uint64_t n, char *hash);

/* --- freshness anchor: the vault's state, outside the data directory -- */

/*
 * The anchor (default: the data directory's path + ".anchor", a file
 * beside it) records the audit head, the versions watermark (the sum
 * over targets of the highest version number) and the integrity record's
 * generation, MAC'd with a sub-key of the data key.  A read-write store
 * writes it after every commit that changed a record (it may lag the
 * data, never lead it), and vd_store_unlock() of a read-write store
 * refuses data older than the anchor (VD_ECHAIN): a cut audit tail, an
 * older audit head or integrity record put back, an older copy of the
 * directory restored.  A deliberate
 * restore goes through vd_store_anchor_restore().
 */
struct vd_anchor {
	uint64_t	 audit_count;	/* audit entries */
	char		 audit_hash[2 * VD_HASHBYTES + 1];	/* their head */
	uint64_t	 versions;	/* sum of each target's highest version */
	uint64_t	 gen;		/* integrity generation (0: none yet) */
	int64_t		 written;	/* when written (epoch s); 0 for "now" */
};

/* Sets the anchor file's path (before vd_store_unlock); copies path. */
int vd_store_set_anchor(struct vd_store *st, const char *path);

/* Returns the anchor file's path. */
const char *vd_store_anchor_path(struct vd_store *st);

/*
 * Checks the vault (unlocked; read-only is fine) against its anchor.
 * Returns 0 with *found 1 when the data is not older than the anchor, 0
 * with *found 0 when there is no anchor file; VD_ECHAIN with a detail
 * naming what is missing when the data is older; VD_ECORRUPT when the
 * anchor is damaged or another vault's; VD_EKEYPERM when it is a link or
 * not the vault owner's.  *anchor and *now (may be NULL) get the anchor's
 * and the vault's state.
 */
int vd_store_anchor_check(struct vd_store *st, struct vd_anchor *anchor,
    struct vd_anchor *now, int *found);

/*
 * A deliberate restore of an older data directory: on a store opened
 * read-write with VD_STORE_NOFRESH and unlocked, appends the audit entry
 * {"event": "restore", "anchor": {what the anchor held}, "found": {the
 * vault's state}, "by": by} and rewrites the anchor to the vault's state.
 * *was (may be NULL) gets the old anchor, *found whether there was one.
 */
int vd_store_anchor_restore(struct vd_store *st, const json_t *by,
    struct vd_anchor *was, int *found);

/* --- integrity: a multiset hash of every record ------------------------ */

/*
 * Every record a key-holder writes (all databases; not the meta record,
 * not the integrity record itself, not break-glass reports, which are
 * written without the key by design) is summed into a keyed multiset hash
 * kept, with a record count and a generation counter, in a sealed record
 * of the meta database.  Each write transaction updates it in the same
 * LMDB transaction as the records; the generation also goes into the
 * freshness anchor.  So one older authentic record put back (a target from
 * before TLS was on, an older version state or meta record), a record
 * removed or one added outside vaultd no longer matches the sum, and an
 * older integrity record put back with it is older than the anchor.
 */
#define VD_STORE_REPORT_PARTY	"breakglass"	/* = VD_ESCROW_REPORT */

/* What vd_store_integrity_check() found. */
struct vd_integrity {
	int		 present;	/* the vault has an integrity record */
	uint64_t	 gen;		/* its generation */
	uint64_t	 records;	/* records it counts */
	uint64_t	 found;		/* records found in the file */
};

/*
 * Reads every covered record of the unlocked store (read-only is fine) in
 * one read transaction and compares their multiset hash and count with the
 * integrity record.  Returns 0 when they match, or when there is none yet
 * (*out present 0: vaultd computes it at its next start, audited);
 * VD_ECHAIN with a detail saying the store was modified outside vaultd when
 * they differ; VD_ESEALED; an LMDB error.  out may be NULL.  Cost: one
 * keyed BLAKE2b per record (bench/bench_fill reports it).
 */
int vd_store_integrity_check(struct vd_store *st, struct vd_integrity *out);

/* --- schedule state: target -> JSON ----------------------------------- */

int vd_sched_put(struct vd_txn *t, const char *target, const json_t *obj);
int vd_sched_get(struct vd_txn *t, const char *target, json_t **obj);
int vd_sched_del(struct vd_txn *t, const char *target);
/*
 * Merges fields into target's schedule record (created when missing): each
 * key is set, or removed when its value is JSON null.  fields is borrowed.
 */
int vd_sched_update(struct vd_txn *t, const char *target,
    const json_t *fields);
int vd_sched_each(struct vd_txn *t,
    int (*cb)(const char *target, json_t *obj, void *arg), void *arg);

/* --- access requests: id -> JSON (issue 17) ---------------------------- */

/*
 * Access requests, keyed by id (1 .. 9999999999), sealed like every record
 * and bound to their id.  put creates or replaces; get gives VD_ENOTFOUND;
 * each walks them in id order (cb's non-zero return stops the walk and is
 * returned; obj is borrowed); last sets *id to the highest id, 0 when none.
 */
int vd_request_put(struct vd_txn *t, uint64_t id, const json_t *obj);
int vd_request_get(struct vd_txn *t, uint64_t id, json_t **obj);
int vd_request_each(struct vd_txn *t,
    int (*cb)(uint64_t id, json_t *obj, void *arg), void *arg);
int vd_request_last(struct vd_txn *t, uint64_t *id);

/* --- test and tooling hooks ------------------------------------------- */

/*
 * Calls cb with every stored record's database name, key and value (the
 * raw ciphertext), for tamper tests and tools.  Read transaction.
 */
int vd_store_raw_each(struct vd_txn *t,
    int (*cb)(const char *db, const void *key, size_t klen, const void *val,
    size_t vlen, void *arg), void *arg);
/*
 * Overwrites one raw value (tamper tests only); write transaction.  Like
 * an attacker's write, raw puts and deletes leave the integrity sum alone.
 */
int vd_store_raw_put(struct vd_txn *t, const char *db, const void *key,
    size_t klen, const void *val, size_t vlen);
/*
 * Checks that one raw record (as vd_store_raw_each() gives it) opens under
 * the records key bound to its place: 0, or VD_ECORRUPT with a detail.
 * Escrow envelopes (the escrow module checks them) and the meta record
 * (it opens at unlock) pass unchecked.  VD_ESEALED while sealed.  The
 * plaintext is wiped before it returns.  For vault verification.
 */
int vd_store_raw_check(struct vd_txn *t, const char *db, const void *key,
    size_t klen, const void *val, size_t vlen);
/* Deletes one raw value (tamper tests only); write transaction. */
int vd_store_raw_del(struct vd_txn *t, const char *db, const void *key,
    size_t klen);

#endif
