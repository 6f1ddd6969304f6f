/*
 * store.c - the encrypted vault store on LMDB.
 *
 * Layout: one environment, named databases:
 *   meta      "meta"        the meta record (binary, below)
 *             "audit-head"  sealed JSON {count, hash} of the audit chain
 *   targets   name                    sealed JSON
 *   secrets   name \0 be64(version)   sealed password bytes
 *   versions  name \0 be64(version)   sealed JSON
 *   escrow    name \0 be64(v) \0 party   raw envelope, stored as given
 *   history   name \0 be64(seq)       sealed JSON
 *   audit     be64(seq)               sealed JSON (hash-chained)
 *   schedule  name                    sealed JSON
 *   requests  id (10 digits)          sealed JSON (access requests)
 *
 * "requests" came later (issue 17): a vault made before it gets the
 * database when first opened read-write; opened read-only, it reads as
 * empty.
 *
 * A sealed value is nonce(24) || XChaCha20-Poly1305 ciphertext+tag, with
 * associated data "vaultd/rec/1" || db name || \0 || key, under the
 * "records" sub-key of the data key.
 *
 * The meta record (all integers big-endian):
 *   magic[8] "VDVAULT\0" | u32 format | u32 kdf | u64 opslimit |
 *   u64 memlimit | salt[16] | vault id[16] | u64 created |
 *   nonce[24] | wrapped data key[32 + 16]
 * The wrap's associated data is every byte before the nonce, so the KDF
 * parameters and id cannot be altered without the unwrap failing.
 */
#define _GNU_SOURCE	/* F_OFD_SETLK */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "err.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define NONCEBYTES	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAGBYTES	crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SALTBYTES	crypto_pwhash_SALTBYTES
#define IDBYTES		16
#define META_MAGIC	"VDVAULT"	/* 7 chars + NUL = 8 bytes */
#define META_HDRBYTES	(8 + 4 + 4 + 8 + 8 + SALTBYTES + IDBYTES + 8)
#define META_BYTES	(META_HDRBYTES + NONCEBYTES + VD_KEYBYTES + TAGBYTES)
#define KEYMAX		(VD_NAME_MAX + 1 + 8 + 1 + VD_NAME_MAX + 1)
#define AD_PREFIX	"vaultd/rec/1"
#define SUBKEY_RECORDS	1
#define SUBKEY_CTX	"vaultd01"	/* crypto_kdf context, 8 bytes */
#define RECMAX		(16u << 20)	/* largest record we will open */
#define VD_STORE_NEWANCHOR 0x100	/* internal: a new vault's anchor */
#define MSET_BYTES	crypto_core_ristretto255_SCALARBYTES	/* 32 */
#define MSET_KEY	"integrity"	/* the integrity record, meta db */
#define MSET_CTX	"vdmset01"	/* crypto_kdf context, 8 bytes */

enum {
	DB_META,
	DB_TARGETS,
	DB_SECRETS,
	DB_VERSIONS,
	DB_ESCROW,
	DB_HISTORY,
	DB_AUDIT,
	DB_SCHEDULE,
	DB_REQUESTS,		/* added later: may be absent (read-only) */
	DB_COUNT
};

static const char *const db_names[DB_COUNT] = {
	"meta", "targets", "secrets", "versions", "escrow", "history", "audit",
	"schedule", "requests",
};

struct vd_store {
	MDB_env		*env;		/* the LMDB environment */
	MDB_dbi		 dbi[DB_COUNT];	/* named databases */
	int		 absent[DB_COUNT];	/* a later database missing from
					 * an older vault opened read-only */
	unsigned	 flags;		/* VD_STORE_* */
	enum vd_kdf	 kdf;		/* how the root key is obtained */
	unsigned long long opslimit;	/* Argon2id cost (kdf == ARGON2ID) */
	size_t		 memlimit;	/* Argon2id memory (kdf == ARGON2ID) */
	unsigned char	 meta[META_BYTES];	/* the meta record as read */
	char		 id[2 * IDBYTES + 1];	/* vault id in hex */
	struct vd_secret *reckey;	/* records sub-key; NULL while sealed */
	struct vd_secret *datakey;	/* data key, for vd_store_derive() */
	struct vd_secret *msetkey;	/* integrity hash key; NULL: sealed */
	size_t		 mapsize;	/* current map size */
	int		 active;	/* open transactions in this process */
	pthread_mutex_t	 lock;		/* active and env against a read
					 * transaction begun on another thread
					 * (status counters, issue 14) */
	char		*dir;		/* the data directory */
	char		*anchor_path;	/* freshness anchor; NULL: dir.anchor */
	int		 anchor_fd;	/* open for writing, or -1 */
	int		 anchor_warned;	/* a failed write was logged */
	int		 head_known;	/* head holds the vault's state */
	struct vd_anchor head;		/* audit head and versions now */
};

struct vd_txn {
	struct vd_store	*st;		/* owning store */
	MDB_txn		*txn;		/* the LMDB transaction */
	int		 write;		/* read-write? */
	int		 fresh;		/* audit or versions grew: anchor */
	uint64_t	 count;		/* audit entries after this txn (0: none
					 * appended) */
	char		 hash[2 * VD_HASHBYTES + 1];	/* their head hash */
	uint64_t	 vgrow;		/* growth of the versions sum */
	unsigned char	 mdelta[MSET_BYTES];	/* integrity sum change */
	int64_t		 mcount;	/* change of the records counted */
	int		 mdirty;	/* a covered record changed */
	uint64_t	 gen;		/* integrity generation committed, or 0 */
};

/* Maps an LMDB return code to a vaultd error, with a detail. */
static int
mdb_err(int rc, const char *what)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return VD_ENOTFOUND;
	case MDB_KEYEXIST:
		return VD_EEXIST;
	case MDB_MAP_FULL:
		return vd_err_set(VD_EMAPFULL, "%s: the vault's map is full; "
		    "retry (the map grows on the next write) or free disk space",
		    what);
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return vd_err_set(VD_ENOTVAULT, "%s: %s", what,
		    mdb_strerror(rc));
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_BAD_TXN:
		/* What a damaged page of data.mdb shows as (issue 14). */
		return vd_err_set(VD_ECORRUPT, "%s: data.mdb is damaged (%s): "
		    "use a backup of the data directory", what,
		    mdb_strerror(rc));
	default:
		if (rc > 0)
			return vd_err_set(-rc, "%s: %s", what, strerror(rc));
		return vd_err_set(VD_ESTORE, "%s: %s", what, mdb_strerror(rc));
	}
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static uint64_t
get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get_be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

/*
 * Builds a key: name [\0 be64(num) [\0 party]].  with_num selects the
 * numeric part.  Returns the key's length, or 0 for an invalid name.
 */
static size_t
make_key(unsigned char *buf, const char *name, int with_num, uint64_t num,
    const char *party)
{
	size_t n, p = 0;

	if (!vd_name_valid(name))
		return 0;
	n = strlen(name);
	memcpy(buf, name, n);
	p = n;
	if (with_num) {
		buf[p++] = '\0';
		put_be64(buf + p, num);
		p += 8;
	}
	if (party != NULL) {
		if (!vd_name_valid(party))
			return 0;
		n = strlen(party);
		buf[p++] = '\0';
		memcpy(buf + p, party, n);
		p += n;
	}
	return p;
}

static int
bad_name(const char *what, const char *name)
{
	(void)name;	/* may be user input: do not echo an invalid one */
	return vd_err_set(VD_EINVAL, "invalid %s name (1-%d of A-Z a-z 0-9 . _ -,"
	    " not starting with . or -)", what, VD_NAME_MAX);
}

/* Fills ad with the associated data for (db, key); returns its length. */
static size_t
make_ad(unsigned char *ad, int db, const void *key, size_t klen)
{
	size_t p = 0, n;

	memcpy(ad, AD_PREFIX, sizeof(AD_PREFIX) - 1);
	p += sizeof(AD_PREFIX) - 1;
	n = strlen(db_names[db]);
	memcpy(ad + p, db_names[db], n);
	p += n;
	ad[p++] = '\0';
	memcpy(ad + p, key, klen);
	return p + klen;
}

/* ---- integrity: the records' multiset hash (per write) ------------- */

/*
 * The integrity sum is MSet-Add-Hash (Clarke, Devadas, van Dijk, Gassend,
 * Suh: "Incremental Multiset Hash Functions and Their Application to
 * Memory Integrity Checking", ASIACRYPT 2003): the sum, modulo the order L
 * of ristretto255's group (libsodium's scalar arithmetic), of a keyed
 * BLAKE2b-512 of each record (database, key, stored value), reduced mod L.
 * Keyed with a sub-key of the data key, it is multiset-collision resistant
 * for anyone without that key -- the same key that seals the integrity
 * record, so nothing weaker is assumed.  Adding and removing a record is
 * one hash and one scalar addition (about 1 us); the unkeyed alternative,
 * crypto_core_ristretto255_from_hash with point additions, measured 25 us
 * per record here, which a start-up pass over 100,000 targets would pay
 * some ten times over.
 *
 * Covered: every record except the meta record (fixed at creation, and
 * checked by unlocking), the integrity record itself, and break-glass
 * reports (escrow slot VD_STORE_REPORT_PARTY), which vaultctl breakglass
 * writes without the vault's key by design; vaultd only reads them to
 * audit and rotate.
 */
static int
mset_covered(int db, const MDB_val *k)
{
	static const char rep[] = "\0" VD_STORE_REPORT_PARTY;
	const size_t rlen = sizeof(rep) - 1;

	if (db == DB_META)
		return !((k->mv_size == 4 && memcmp(k->mv_data, "meta", 4) ==
		    0) || (k->mv_size == sizeof(MSET_KEY) - 1 &&
		    memcmp(k->mv_data, MSET_KEY, sizeof(MSET_KEY) - 1) == 0));
	if (db == DB_ESCROW)
		return !(k->mv_size > rlen && memcmp((const unsigned char *)
		    k->mv_data + k->mv_size - rlen, rep, rlen) == 0);
	return 1;
}

/* The element of record (db, k, v) into e (MSET_BYTES, a scalar mod L). */
static void
mset_elem(const struct vd_store *st, int db, const MDB_val *k,
    const MDB_val *v, unsigned char *e)
{
	crypto_generichash_state hs;
	unsigned char h[crypto_core_ristretto255_NONREDUCEDSCALARBYTES];
	unsigned char hdr[1 + 4 + 4];

	/* Lengths framed, so (key, value) splits cannot collide. */
	hdr[0] = (unsigned char)db;
	put_be32(hdr + 1, (uint32_t)k->mv_size);
	put_be32(hdr + 5, (uint32_t)v->mv_size);
	crypto_generichash_init(&hs, st->msetkey->data, st->msetkey->len,
	    sizeof(h));
	crypto_generichash_update(&hs, hdr, sizeof(hdr));
	crypto_generichash_update(&hs, k->mv_data, k->mv_size);
	crypto_generichash_update(&hs, v->mv_data, v->mv_size);
	crypto_generichash_final(&hs, h, sizeof(h));
	crypto_core_ristretto255_scalar_reduce(e, h);
}

/* Adds (sign > 0) or removes element e to/from t's pending change. */
static void
mset_apply(struct vd_txn *t, const unsigned char *e, int sign)
{
	if (sign > 0)
		crypto_core_ristretto255_scalar_add(t->mdelta, t->mdelta, e);
	else
		crypto_core_ristretto255_scalar_sub(t->mdelta, t->mdelta, e);
	t->mcount += sign > 0 ? 1 : -1;
	t->mdirty = 1;
}

/*
 * Counts record (db, k, v) in (sign > 0) or out of t's pending change.  A
 * sealed store has no hash key: what it writes is not counted and shows as
 * a mismatch at the next check (only break-glass reports, not covered, are
 * written so).
 */
static void
mset_change(struct vd_txn *t, int db, const MDB_val *k, const MDB_val *v,
    int sign)
{
	unsigned char e[MSET_BYTES];

	if (t->st->msetkey == NULL || !mset_covered(db, k))
		return;
	mset_elem(t->st, db, k, v, e);
	mset_apply(t, e, sign);
}

/*
 * Before a record under k is replaced or deleted: *had 1 and its element
 * in e when one is stored (and covered), to be taken out once the write
 * succeeded.
 */
static int
mset_old(struct vd_txn *t, int db, const MDB_val *k, unsigned char *e,
    int *had)
{
	MDB_val v;
	int rc;

	*had = 0;
	if (t->st->msetkey == NULL || !mset_covered(db, k))
		return 0;
	if ((rc = mdb_get(t->txn, t->st->dbi[db], (MDB_val *)k, &v)) != 0)
		return rc == MDB_NOTFOUND ? 0 : mdb_err(rc, "load");
	mset_elem(t->st, db, k, &v, e);
	*had = 1;
	return 0;
}

/*
 * Seals pt into a fresh LMDB value under (db, key) and stores it.  The
 * value is reserved in the map (MDB_RESERVE) so no plaintext copy is made.
 */
static int
seal_put(struct vd_txn *t, int db, const unsigned char *key, size_t klen,
    const void *pt, size_t ptlen, unsigned flags)
{
	unsigned char ad[sizeof(AD_PREFIX) + 16 + KEYMAX], old[MSET_BYTES];
	MDB_val k = { klen, (void *)key }, v;
	size_t adlen;
	int rc, r, had = 0;

	if (t->st->reckey == NULL)
		return VD_ESEALED;
	if (!t->write)
		return VD_ERDONLY;
	if (!(flags & MDB_NOOVERWRITE) &&
	    (r = mset_old(t, db, &k, old, &had)) != 0)
		return r;
	adlen = make_ad(ad, db, key, klen);
	v.mv_size = NONCEBYTES + ptlen + TAGBYTES;
	v.mv_data = NULL;
	if ((rc = mdb_put(t->txn, t->st->dbi[db], &k, &v,
	    MDB_RESERVE | flags)) != 0)
		return mdb_err(rc, "store");
	randombytes_buf(v.mv_data, NONCEBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    (unsigned char *)v.mv_data + NONCEBYTES, NULL, pt, ptlen, ad, adlen,
	    NULL, v.mv_data, t->st->reckey->data);
	if (had)
		mset_apply(t, old, -1);
	mset_change(t, db, &k, &v, +1);
	return 0;
}

/*
 * Opens a sealed value v stored under (db, key) into out, which must hold
 * v->mv_size - NONCEBYTES - TAGBYTES bytes.
 */
static int
open_val(struct vd_store *st, int db, const void *key, size_t klen,
    const MDB_val *v, unsigned char *out)
{
	unsigned char ad[sizeof(AD_PREFIX) + 16 + KEYMAX];
	size_t adlen;

	if (klen > KEYMAX || v->mv_size < NONCEBYTES + TAGBYTES)
		return vd_err_set(VD_ECORRUPT, "record in %s is malformed",
		    db_names[db]);
	adlen = make_ad(ad, db, key, klen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL,
	    (const unsigned char *)v->mv_data + NONCEBYTES,
	    v->mv_size - NONCEBYTES, ad, adlen, v->mv_data, st->reckey->data)
	    != 0)
		return vd_err_set(VD_ECORRUPT,
		    "record in %s failed authentication (tampered or moved)",
		    db_names[db]);
	return 0;
}

/* Opens a sealed value as a JSON object into *obj. */
static int
open_json(struct vd_store *st, int db, const void *key, size_t klen,
    const MDB_val *v, json_t **obj)
{
	unsigned char stackbuf[1024], *buf = stackbuf;
	json_error_t jerr;
	size_t n;
	int r;

	*obj = NULL;
	if (st->reckey == NULL)
		return VD_ESEALED;
	if (v->mv_size < NONCEBYTES + TAGBYTES || v->mv_size > RECMAX)
		return vd_err_set(VD_ECORRUPT, "record in %s is malformed",
		    db_names[db]);
	n = v->mv_size - NONCEBYTES - TAGBYTES;
	if (n > sizeof(stackbuf) && (buf = malloc(n)) == NULL)
		return VD_ENOMEM;
	if ((r = open_val(st, db, key, klen, v, buf)) != 0)
		goto out;
	if ((*obj = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL || !json_is_object(*obj)) {
		json_decref(*obj);
		*obj = NULL;
		r = vd_err_set(VD_ECORRUPT, "record in %s is not a JSON object",
		    db_names[db]);
		goto out;
	}
	r = 0;
 out:
	sodium_memzero(buf, n);
	if (buf != stackbuf)
		free(buf);
	return r;
}

/* Serialises obj compactly and seals it under (db, key). */
static int
put_json(struct vd_txn *t, int db, const unsigned char *key, size_t klen,
    const json_t *obj, unsigned flags)
{
	char *s;
	int r;

	if (!json_is_object(obj))
		return vd_err_set(VD_EINVAL, "record must be a JSON object");
	if ((s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		return VD_ENOMEM;
	r = seal_put(t, db, key, klen, s, strlen(s), flags);
	free(s);
	return r;
}

static int
get_json(struct vd_txn *t, int db, const unsigned char *key, size_t klen,
    json_t **obj)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc;

	*obj = NULL;
	if (t->st->reckey == NULL)
		return VD_ESEALED;
	if ((rc = mdb_get(t->txn, t->st->dbi[db], &k, &v)) != 0)
		return mdb_err(rc, "load");
	return open_json(t->st, db, key, klen, &v, obj);
}

static int
del_key(struct vd_txn *t, int db, const unsigned char *key, size_t klen)
{
	unsigned char old[MSET_BYTES];
	MDB_val k = { klen, (void *)key };
	int r, rc, had = 0;

	if (!t->write)
		return VD_ERDONLY;
	if ((r = mset_old(t, db, &k, old, &had)) != 0)
		return r;
	if ((rc = mdb_del(t->txn, t->st->dbi[db], &k, NULL)) != 0)
		return mdb_err(rc, "delete");
	if (had)
		mset_apply(t, old, -1);
	return 0;
}

/* ---- key files ------------------------------------------------------ */

int
vd_keyfile_create(const char *path)
{
	unsigned char key[VD_KEYBYTES];
	ssize_t n;
	int fd, r;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) < 0) {
		if (errno == EEXIST)
			return VD_EEXIST;
		return vd_err_set(-errno, "cannot create key file %s: %s", path,
		    strerror(errno));
	}
	randombytes_buf(key, sizeof(key));
	n = write(fd, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	if (n != (ssize_t)sizeof(key) || fsync(fd) != 0) {
		r = vd_err_set(n < 0 ? -errno : -EIO,
		    "cannot write key file %s", path);
		close(fd);
		unlink(path);
		return r;
	}
	if (close(fd) != 0)
		return vd_err_set(-errno, "cannot write key file %s", path);
	return 0;
}

int
vd_keyfile_load(const char *path, struct vd_secret **key)
{
	struct vd_secret *k = NULL;
	struct stat sb;
	ssize_t n;
	int fd, r;

	*key = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return vd_err_set(-errno, "cannot open key file %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &sb) != 0) {
		r = vd_err_set(-errno, "cannot stat key file %s", path);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		r = vd_err_set(VD_EKEYFILE, "key file %s is not a regular file",
		    path);
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		r = vd_err_set(VD_EKEYPERM, "key file %s has mode %04o; it must "
		    "not be accessible by group or others (chmod 600)", path,
		    (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (sb.st_size != VD_KEYBYTES) {
		r = vd_err_set(VD_EKEYFILE, "key file %s is %lld bytes; a vault "
		    "key file holds exactly %d", path, (long long)sb.st_size,
		    VD_KEYBYTES);
		goto out;
	}
	if ((k = vd_secret_new(VD_KEYBYTES)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if ((n = read(fd, k->data, VD_KEYBYTES)) != VD_KEYBYTES) {
		r = vd_err_set(n < 0 ? -errno : VD_EKEYFILE,
		    "cannot read key file %s", path);
		goto out;
	}
	k->len = VD_KEYBYTES;
	*key = k;
	k = NULL;
	r = 0;
 out:
	vd_secret_free(k);
	close(fd);
	return r;
}

/* ---- open / create -------------------------------------------------- */

/* Refuses a data dir that others could write into (or swap files in). */
static int
check_dir(const char *dir, int must_exist)
{
	struct stat sb;

	if (stat(dir, &sb) != 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		if (errno == ENOENT)
			return vd_err_set(VD_ENOTVAULT, "%s does not exist", dir);
		return vd_err_set(-errno, "cannot stat %s: %s", dir,
		    strerror(errno));
	}
	if (!S_ISDIR(sb.st_mode))
		return vd_err_set(VD_ENOTVAULT, "%s is not a directory", dir);
	if ((sb.st_mode & 022) != 0)
		return vd_err_set(VD_EKEYPERM, "data directory %s has mode %04o; "
		    "it must not be writable by group or others (chmod 700)", dir,
		    (unsigned)(sb.st_mode & 07777));
	return 0;
}

/*
 * LMDB creates lock.mdb owned by whoever opens the directory first.  Root
 * now opens a directory it does not own as its owner (as_owner), but a
 * vaultctl before that change, run as root, left a 0600 root-owned lock
 * file that stops a vaultd running as the directory's owner.  So root
 * hands a lock file it finds owned by someone else than the directory's
 * owner to that owner, before opening.  Through a descriptor opened
 * without following links, and only for a plain file with one link: the
 * directory's owner cannot point root's chown at another file.  Best
 * effort: a failure leaves the file as it was (check_env_file refuses it).
 */
static void
lock_owner(const char *dir)
{
	struct stat ds, ls;
	char path[PATH_MAX];
	int fd, n;

	if (geteuid() != 0 || stat(dir, &ds) != 0 || ds.st_uid == 0)
		return;
	n = snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) < 0)
		return;
	if (fstat(fd, &ls) == 0 && S_ISREG(ls.st_mode) && ls.st_nlink == 1 &&
	    ls.st_dev == ds.st_dev &&
	    (ls.st_uid != ds.st_uid || ls.st_gid != ds.st_gid))
		if (fchown(fd, ds.st_uid, ds.st_gid) != 0)
			vd_log(LOG_DEBUG, "%s: chown: %s", path,
			    strerror(errno));
	close(fd);
}

/* ---- the one-writer lock of a data directory ------------------------- */

#define HOLDER_MAX	128	/* bytes of "PID HOST\n" read back */
#define HOLDER_TRIES	50	/* x 10 ms: a holder between lock and write */

/*
 * Reads the holder's "PID HOST" from the lock file into a message naming
 * it.  The holder writes it just after it got the lock, so an empty file is
 * read again for a moment; it stays "pid unknown" after that (a holder on
 * a full disk cannot write it).  The host is named only when it is not
 * ours (shared storage).  Nothing read is trusted beyond printable text.
 */
static void
lock_holder(int fd, char *out, size_t len)
{
	char buf[HOLDER_MAX + 1], host[HOST_NAME_MAX + 1], *end, *h;
	long long pid = 0;
	ssize_t n = 0;

	snprintf(out, len, "pid unknown");
	for (int i = 0; i < HOLDER_TRIES; i++) {
		if ((n = pread(fd, buf, HOLDER_MAX, 0)) > 0)
			break;
		usleep(10000);
	}
	if (n <= 0)
		return;
	buf[n] = '\0';
	errno = 0;
	pid = strtoll(buf, &end, 10);
	if (errno != 0 || end == buf || pid <= 0 || pid > INT_MAX)
		return;
	h = end + strspn(end, " ");
	h[strcspn(h, "\n")] = '\0';
	for (char *c = h; *c != '\0'; c++)
		if (*c < 0x21 || *c > 0x7e)
			*c = '?';
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if (*h == '\0' || strcmp(h, host) == 0)
		snprintf(out, len, "pid %lld", pid);
	else
		snprintf(out, len, "pid %lld on host %.64s", pid, h);
}

/*
 * Writes "PID HOST\n" into the lock file we hold: over the old bytes first,
 * then cut to length, so a full disk (ENOSPC) costs only the name, never
 * the lock; on a failed write the file is emptied, never left naming a
 * former holder.
 */
static void
lock_write_holder(int fd, const char *path)
{
	char host[HOST_NAME_MAX + 1], buf[HOLDER_MAX];
	int n;

	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	n = snprintf(buf, sizeof(buf), "%ld %.64s\n", (long)getpid(), host);
	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    pwrite(fd, buf, (size_t)n, 0) != n || ftruncate(fd, n) != 0) {
		vd_log(LOG_WARNING, "%s: cannot record our pid: %s", path,
		    strerror(errno));
		if (ftruncate(fd, 0) != 0)
			vd_log(LOG_DEBUG, "%s: truncate: %s", path,
			    strerror(errno));
		return;
	}
	/* Seen from another host on shared storage too. */
	(void)fdatasync(fd);
}

int
vd_store_lock_dir(const char *dir, int *fdp)
{
	struct flock fl;
	struct stat ds, ls;
	char path[PATH_MAX], who[HOLDER_MAX + 96];
	int dfd = -1, fd = -1, n, r;

	*fdp = -1;
	if ((r = check_dir(dir, 1)) != 0)
		return r;
	n = snprintf(path, sizeof(path), "%s/%s", dir, VD_STORE_LOCKFILE);
	if (n < 0 || (size_t)n >= sizeof(path))
		return vd_err_set(VD_EINVAL, "data directory path too long");
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fstat(dfd, &ds) != 0) {
		r = vd_err_set(-errno, "cannot open %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	/* O_NONBLOCK: a FIFO planted here must not hang the start. */
	if ((fd = openat(dfd, VD_STORE_LOCKFILE, O_RDWR | O_CREAT |
	    O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600)) < 0) {
		if (errno == ELOOP)
			r = vd_err_set(-ELOOP, "%s is a symbolic link; vaultd "
			    "does not follow it (remove it)", path);
		else if (errno == EACCES)
			r = vd_err_set(-EACCES, "cannot open %s: %s (it must "
			    "belong to the data directory's owner)", path,
			    strerror(errno));
		else
			r = vd_err_set(-errno, "cannot open %s: %s", path,
			    strerror(errno));
		goto out;
	}
	if (fstat(fd, &ls) != 0) {
		r = vd_err_set(-errno, "cannot stat %s", path);
		goto out;
	}
	/*
	 * We write into it (as root, maybe): never into a file that is also
	 * reachable under another name.
	 */
	if (!S_ISREG(ls.st_mode) || ls.st_nlink != 1 ||
	    ls.st_dev != ds.st_dev) {
		r = vd_err_set(-ELOOP, "%s is not a plain file with one link; "
		    "vaultd does not use it (remove it)", path);
		goto out;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;		/* l_start 0, l_len 0: the whole file */
	if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
		if (errno == EAGAIN || errno == EACCES) {
			lock_holder(fd, who, sizeof(who));
			r = vd_err_set(VD_EBUSY, "data directory %s is in use "
			    "by vaultd (%s); one vaultd per data directory",
			    dir, who);
		} else if (errno == ENOLCK || errno == EINVAL)
			r = vd_err_set(-errno, "cannot lock %s: %s: the file "
			    "system must support locks (fcntl OFD locks) so "
			    "that only one vaultd uses the data directory",
			    path, strerror(errno));
		else
			r = vd_err_set(-errno, "cannot lock %s: %s", path,
			    strerror(errno));
		goto out;
	}
	/* Ours now.  Files the daemon keeps are 0600, its owner's. */
	if ((ls.st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0) {
		r = vd_err_set(-errno, "cannot chmod %s", path);
		goto out;
	}
	if (geteuid() == 0 && ds.st_uid != 0 &&
	    (ls.st_uid != ds.st_uid || ls.st_gid != ds.st_gid) &&
	    fchown(fd, ds.st_uid, ds.st_gid) != 0)
		vd_log(LOG_WARNING, "%s: chown: %s", path, strerror(errno));
	lock_write_holder(fd, path);
	*fdp = fd;
	fd = -1;
	r = 0;
 out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return r;
}

void
vd_store_unlock_dir(int fd)
{
	if (fd >= 0)
		close(fd);
}

/*
 * LMDB opens data.mdb and lock.mdb by name, following symbolic links, and
 * writes lock.mdb even for MDB_RDONLY: a lock.mdb planted as a link to
 * another file would be overwritten by whoever opens the vault, root
 * included.  So before LMDB sees them, each is looked at through a
 * descriptor opened with O_NOFOLLOW: a symbolic link, anything but a
 * regular file, a file with more than one link (a hard link to a file
 * elsewhere; data.mdb only when writing: backups made of hard links are
 * read fine) or one owned by neither the directory's owner nor us is
 * refused.  A missing lock.mdb is created here (O_EXCL, 0600), so LMDB
 * finds a file rather than creating one through a link planted after this
 * check.  Against a swap after the check, root opens as the directory's
 * owner (as_owner).  Returns 0, or VD_EKEYPERM with a detail; a file we
 * may not open is left to LMDB (a read-only copy then opens without a
 * lock file).
 */
/* The rules of check_env_file() for one stat of path. */
static int
env_file_ok(const char *path, const struct stat *sb, const struct stat *ds,
    int one_link)
{
	if (S_ISLNK(sb->st_mode))
		return vd_err_set(VD_EKEYPERM, "%s is a symbolic link: refusing "
		    "to open the vault (it would be followed and written)",
		    path);
	if (!S_ISREG(sb->st_mode))
		return vd_err_set(VD_EKEYPERM, "%s is not a regular file: "
		    "refusing to open the vault", path);
	if (sb->st_nlink != 1 && one_link)
		return vd_err_set(VD_EKEYPERM, "%s has %lu links (a hard link "
		    "to a file elsewhere?): refusing to open the vault", path,
		    (unsigned long)sb->st_nlink);
	if (sb->st_uid != ds->st_uid && sb->st_uid != geteuid())
		return vd_err_set(VD_EKEYPERM, "%s belongs to uid %lu, not to "
		    "the data directory's owner (uid %lu): refusing to open the "
		    "vault", path, (unsigned long)sb->st_uid,
		    (unsigned long)ds->st_uid);
	return 0;
}

static int
check_env_file(const char *at, const char *dir, const char *name,
    const struct stat *ds, int writing, int create)
{
	char path[PATH_MAX], rel[PATH_MAX];
	struct stat sb;
	int fd, n, r = 0;

	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    (n = snprintf(rel, sizeof(rel), "%s/%s", at, name)) < 0 ||
	    (size_t)n >= sizeof(rel))
		return vd_err_set(VD_EINVAL, "data directory path too long");
	/* lstat first: it needs no read permission on the file itself. */
	if (lstat(rel, &sb) == 0 && (r = env_file_ok(path, &sb, ds, writing ||
	    create)) != 0)
		return r;
	fd = open(rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT && create) {
		fd = open(rel, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd < 0 && (errno == EACCES || errno == EROFS ||
		    errno == EPERM))
			return 0;
	}
	if (fd < 0) {
		if (errno == ELOOP || errno == EEXIST)
			return vd_err_set(VD_EKEYPERM, "%s is a symbolic link: "
			    "refusing to open the vault (it would be followed "
			    "and written)", path);
		if (errno == ENOENT || errno == EACCES)
			return 0;
		return vd_err_set(-errno, "cannot open %s: %s", path,
		    strerror(errno));
	}
	if (fstat(fd, &sb) != 0)
		r = vd_err_set(-errno, "cannot stat %s: %s", path,
		    strerror(errno));
	else
		r = env_file_ok(path, &sb, ds, writing || create);
	close(fd);
	return r;
}

static int env_open_checked(struct vd_store *st, const char *at,
    const char *dir, int create, const struct stat *ds);

/* The identity set aside while root opens a vault as its owner. */
struct ids {
	int	 switched;	/* as_owner() changed the identity */
	int	 cwd;		/* the working directory to return to */
	uid_t	 euid;		/* root's */
	gid_t	 egid;
	int	 ngroups;	/* supplementary groups, in groups */
	gid_t	 groups[256];
};

/*
 * When root opens a data directory that belongs to another user, LMDB
 * runs as that user (effective ids and groups): whatever link it might be
 * made to follow, it can only touch what the owner could touch anyway.
 * The owner may not be able to reach the directory through its parents (a
 * copy under /root), so root first changes into it (dirfd; the old working
 * directory in sv->cwd) and LMDB opens ".".  Returns 0 (sv->switched says
 * whether anything changed) or an error; nothing is opened as root when
 * switching fails.
 */
static int
as_owner(const char *dir, const struct stat *ds, struct ids *sv)
{
	int dfd;

	memset(sv, 0, sizeof(*sv));
	sv->cwd = -1;
	if (geteuid() != 0 || ds->st_uid == 0)
		return 0;
	if ((sv->cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return vd_err_set(-errno, "cannot open the working directory: "
		    "%s", strerror(errno));
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fchdir(dfd) != 0) {
		int e = errno;

		if (dfd >= 0)
			close(dfd);
		close(sv->cwd);
		sv->cwd = -1;
		return vd_err_set(-e, "cannot enter %s: %s", dir, strerror(e));
	}
	close(dfd);
	sv->euid = geteuid();
	sv->egid = getegid();
	sv->ngroups = getgroups((int)VD_NELEM(sv->groups), sv->groups);
	if (sv->ngroups < 0 || setgroups(1, &ds->st_gid) != 0 ||
	    setegid(ds->st_gid) != 0 || seteuid(ds->st_uid) != 0) {
		int e = errno;

		if (sv->ngroups < 0) {
			/* Nothing changed yet but the working directory. */
			if (fchdir(sv->cwd) != 0)
				abort();
			close(sv->cwd);
			sv->cwd = -1;
			return vd_err_set(-e, "getgroups: %s", strerror(e));
		}

		if (seteuid(sv->euid) != 0 || setegid(sv->egid) != 0 ||
		    setgroups((size_t)sv->ngroups, sv->groups) != 0 ||
		    fchdir(sv->cwd) != 0)
			abort();	/* an unknown identity: do not go on */
		close(sv->cwd);
		sv->cwd = -1;
		return vd_err_set(-e, "cannot act as the data directory's "
		    "owner (uid %lu): %s", (unsigned long)ds->st_uid,
		    strerror(e));
	}
	sv->switched = 1;
	return 0;
}

/* Back to the identity as_owner() set aside; aborts if it cannot. */
static void
as_self(struct ids *sv)
{
	if (!sv->switched)
		return;
	if (seteuid(sv->euid) != 0 || setegid(sv->egid) != 0 ||
	    setgroups((size_t)sv->ngroups, sv->groups) != 0 ||
	    fchdir(sv->cwd) != 0)
		abort();	/* running on as someone else would be worse */
	close(sv->cwd);
	sv->cwd = -1;
	sv->switched = 0;
}

static int
env_open(struct vd_store *st, const char *dir, int create)
{
	struct ids ids;
	struct stat ds;
	int r;

	if (stat(dir, &ds) != 0)
		return vd_err_set(-errno, "cannot stat %s: %s", dir,
		    strerror(errno));
	/* Root first hands a lock.mdb of another owner to the dir's owner. */
	lock_owner(dir);
	if ((r = as_owner(dir, &ds, &ids)) != 0)
		return r;
	r = env_open_checked(st, ids.switched ? "." : dir, dir, create, &ds);
	as_self(&ids);
	return r;
}

/* env_open() once the identity is settled: opens at (dir, or "."). */
static int
env_open_checked(struct vd_store *st, const char *at, const char *dir,
    int create, const struct stat *ds)
{
	unsigned eflags = MDB_NOTLS | MDB_NORDAHEAD;
	int writing = !(st->flags & VD_STORE_RDONLY);
	MDB_txn *txn = NULL;
	int rc, r;

	if ((r = check_env_file(at, dir, "data.mdb", ds, writing, 0)) != 0 ||
	    (r = check_env_file(at, dir, "lock.mdb", ds, 1, 1)) != 0)
		return r;
	if ((rc = mdb_env_create(&st->env)) != 0)
		return mdb_err(rc, "create environment");
	st->mapsize = VD_MAP_SIZE_DEFAULT;
	if ((rc = mdb_env_set_mapsize(st->env, st->mapsize)) != 0 ||
	    (rc = mdb_env_set_maxdbs(st->env, DB_COUNT + 2)) != 0 ||
	    (rc = mdb_env_set_maxreaders(st->env, 256)) != 0)
		return mdb_err(rc, "configure environment");
	if (st->flags & VD_STORE_RDONLY)
		eflags |= MDB_RDONLY;
	rc = mdb_env_open(st->env, at, eflags, 0600);
	if ((rc == EACCES || rc == EROFS) && (st->flags & VD_STORE_RDONLY)) {
		/*
		 * A read-only copy (another machine, a read-only mount) cannot
		 * take the lock file; without a writer there is nothing to
		 * lock against.
		 */
		mdb_env_close(st->env);
		if ((rc = mdb_env_create(&st->env)) != 0)
			return mdb_err(rc, "create environment");
		mdb_env_set_mapsize(st->env, st->mapsize);
		mdb_env_set_maxdbs(st->env, DB_COUNT + 2);
		rc = mdb_env_open(st->env, at, eflags | MDB_NOLOCK, 0600);
	}
	if (rc != 0)
		return mdb_err(rc, dir);
	{
		MDB_envinfo info;

		/* Another process may have grown the map already. */
		if (mdb_env_info(st->env, &info) == 0 &&
		    info.me_mapsize > st->mapsize)
			st->mapsize = info.me_mapsize;
	}
	if ((rc = mdb_txn_begin(st->env, NULL,
	    (st->flags & VD_STORE_RDONLY) ? MDB_RDONLY : 0, &txn)) != 0)
		return mdb_err(rc, "begin");
	for (int i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, db_names[i], create ? MDB_CREATE : 0,
		    &st->dbi[i]);
		if (rc == MDB_NOTFOUND && i >= DB_REQUESTS) {
			/* A vault older than this database: add it. */
			if (st->flags & VD_STORE_RDONLY) {
				st->absent[i] = 1;
				continue;
			}
			rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE,
			    &st->dbi[i]);
		}
		if (rc == MDB_NOTFOUND) {
			MDB_stat ms;

			/*
			 * Other databases there, this one not: a damaged
			 * page lost it (issue 14), not an empty directory.
			 */
			if (i > 0 || (mdb_stat(txn, 0, &ms) == 0 &&
			    ms.ms_entries > 0))
				r = vd_err_set(VD_ECORRUPT, "%s/data.mdb is "
				    "damaged: its %s database is missing; use a "
				    "backup of the data directory", dir,
				    db_names[i]);
			else
				r = vd_err_set(VD_ENOTVAULT, "%s holds no vault "
				    "(create one with `vaultctl init`)", dir);
			goto fail;
		}
		if (rc != 0) {
			r = mdb_err(rc, "open database");
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return mdb_err(rc, "commit");
	return 0;
 fail:
	mdb_txn_abort(txn);
	return r;
}

static void
hex(char *out, const unsigned char *p, size_t n)
{
	sodium_bin2hex(out, 2 * n + 1, p, n);
}

/* Parses and checks the meta record bytes (not the wrapped key). */
static int
parse_meta(struct vd_store *st, const MDB_val *v, const char *dir)
{
	const unsigned char *p = v->mv_data;
	uint32_t format, kdf;

	if (v->mv_size < 12 || memcmp(p, META_MAGIC, 8) != 0)
		return vd_err_set(VD_ENOTVAULT, "%s holds no vault (bad meta "
		    "record)", dir);
	format = get_be32(p + 8);
	if (format > VD_FORMAT_VERSION)
		return vd_err_set(VD_EFORMAT, "the vault in %s has format %u; "
		    "this vaultd supports up to %d: upgrade vaultd", dir,
		    format, VD_FORMAT_VERSION);
	if (format < 1 || v->mv_size != META_BYTES)
		return vd_err_set(VD_ENOTVAULT, "%s: meta record is malformed",
		    dir);
	kdf = get_be32(p + 12);
	if (kdf != VD_KDF_KEYFILE && kdf != VD_KDF_ARGON2ID)
		return vd_err_set(VD_ENOTVAULT, "%s: unknown key type %u", dir,
		    kdf);
	st->kdf = (enum vd_kdf)kdf;
	st->opslimit = get_be64(p + 16);
	st->memlimit = (size_t)get_be64(p + 24);
	/* Bounds keep a damaged record from asking for absurd work. */
	if (kdf == VD_KDF_ARGON2ID &&
	    (st->opslimit < crypto_pwhash_OPSLIMIT_MIN ||
	    st->opslimit > 4ULL * crypto_pwhash_OPSLIMIT_SENSITIVE ||
	    st->memlimit < crypto_pwhash_MEMLIMIT_MIN ||
	    st->memlimit > (size_t)4 * crypto_pwhash_MEMLIMIT_SENSITIVE))
		return vd_err_set(VD_ENOTVAULT, "%s: meta record has "
		    "implausible Argon2id parameters", dir);
	memcpy(st->meta, p, META_BYTES);
	hex(st->id, p + 32 + SALTBYTES, IDBYTES);
	return 0;
}

static struct vd_store *
store_alloc(unsigned flags)
{
	struct vd_store *st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->flags = flags;
	st->anchor_fd = -1;
	pthread_mutex_init(&st->lock, NULL);
	return st;
}

int
vd_store_open(const char *dir, unsigned flags, struct vd_store **out)
{
	struct vd_store *st = NULL;
	char path[PATH_MAX];
	MDB_txn *txn = NULL;
	MDB_val k = { 4, "meta" }, v;
	int n, r, rc;

	*out = NULL;
	if ((r = check_dir(dir, 1)) != 0)
		return r;
	n = snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return vd_err_set(VD_EINVAL, "data directory path too long");
	if (access(path, F_OK) != 0)
		return vd_err_set(VD_ENOTVAULT, "%s holds no vault (no data.mdb; "
		    "create one with `vaultctl init`)", dir);
	if ((st = store_alloc(flags)) == NULL)
		return VD_ENOMEM;
	if ((st->dir = strdup(dir)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if ((r = env_open(st, dir, 0)) != 0)
		goto out;
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0) {
		r = mdb_err(rc, "begin");
		goto out;
	}
	if ((rc = mdb_get(txn, st->dbi[DB_META], &k, &v)) != 0) {
		r = rc == MDB_NOTFOUND ? vd_err_set(VD_ECORRUPT,
		    "%s/data.mdb is damaged: it has the vault's databases but "
		    "no meta record; use a backup of the data directory",
		    dir) :
		    mdb_err(rc, "read meta");
		goto out;
	}
	if ((r = parse_meta(st, &v, dir)) != 0)
		goto out;
	*out = st;
	st = NULL;
	r = 0;
 out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	vd_store_close(st);
	return r;
}

static int anchor_on_unlock(struct vd_store *st);
static int mset_on_unlock(struct vd_store *st);
static int mset_get(struct vd_txn *t, uint64_t *gen, uint64_t *records,
    unsigned char *sum, int *present);

/* Derives the root key for this vault's KDF from secret into rk. */
static int
root_key(const struct vd_store *st, const struct vd_secret *secret,
    unsigned char *rk)
{
	const unsigned char *salt = st->meta + 32;

	if (st->kdf == VD_KDF_KEYFILE) {
		if (secret->len != VD_KEYBYTES)
			return vd_err_set(VD_EKEYFILE, "a key file vault needs "
			    "a %d-byte key", VD_KEYBYTES);
		memcpy(rk, secret->data, VD_KEYBYTES);
		return 0;
	}
	if (crypto_pwhash(rk, VD_KEYBYTES, (const char *)secret->data,
	    secret->len, salt, st->opslimit, st->memlimit,
	    crypto_pwhash_ALG_ARGON2ID13) != 0)
		return vd_err_set(VD_ENOMEM, "Argon2id ran out of memory");
	return 0;
}

int
vd_store_unlock(struct vd_store *st, const struct vd_secret *secret)
{
	struct vd_secret *rk = NULL, *dk = NULL, *sub = NULL, *mk = NULL;
	const unsigned char *nonce = st->meta + META_HDRBYTES;
	int r;

	if (st->reckey != NULL)
		return 0;
	if ((rk = vd_secret_new(VD_KEYBYTES)) == NULL ||
	    (dk = vd_secret_new(VD_KEYBYTES)) == NULL ||
	    (sub = vd_secret_new(VD_KEYBYTES)) == NULL ||
	    (mk = vd_secret_new(crypto_generichash_KEYBYTES)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if ((r = root_key(st, secret, rk->data)) != 0)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dk->data, NULL, NULL,
	    nonce + NONCEBYTES, VD_KEYBYTES + TAGBYTES, st->meta,
	    META_HDRBYTES, nonce, rk->data) != 0) {
		r = vd_err_set(VD_EBADKEY, "%s", st->kdf == VD_KDF_KEYFILE ?
		    "the key file does not open this vault" :
		    "the passphrase does not open this vault");
		goto out;
	}
	crypto_kdf_derive_from_key(sub->data, VD_KEYBYTES, SUBKEY_RECORDS,
	    SUBKEY_CTX, dk->data);
	crypto_kdf_derive_from_key(mk->data, crypto_generichash_KEYBYTES, 1,
	    MSET_CTX, dk->data);
	sub->len = VD_KEYBYTES;
	dk->len = VD_KEYBYTES;
	mk->len = crypto_generichash_KEYBYTES;
	st->reckey = sub;
	sub = NULL;
	st->datakey = dk;
	dk = NULL;
	st->msetkey = mk;
	mk = NULL;
	if ((r = anchor_on_unlock(st)) != 0) {
		/* Older than its anchor, or modified: stay sealed. */
		vd_secret_free(st->reckey);
		vd_secret_free(st->datakey);
		vd_secret_free(st->msetkey);
		st->reckey = st->datakey = st->msetkey = NULL;
		goto out;
	}
	r = 0;
 out:
	vd_secret_free(rk);
	vd_secret_free(dk);
	vd_secret_free(sub);
	vd_secret_free(mk);
	return r;
}

int
vd_store_create(const char *dir, enum vd_kdf kdf,
    const struct vd_secret *secret, const struct vd_kdf_params *params,
    struct vd_store **out)
{
	struct vd_store *st = NULL;
	struct vd_secret *rk = NULL, *dk = NULL;
	unsigned char *p;
	char path[PATH_MAX];
	MDB_txn *txn = NULL;
	MDB_val k = { 4, "meta" }, v;
	int n, r, rc;

	*out = NULL;
	if (kdf != VD_KDF_KEYFILE && kdf != VD_KDF_ARGON2ID)
		return VD_EINVAL;
	if (kdf == VD_KDF_ARGON2ID && secret->len == 0)
		return vd_err_set(VD_EINVAL, "empty passphrase");
	if ((r = check_dir(dir, 0)) != 0)
		return r;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return vd_err_set(-errno, "cannot create %s: %s", dir,
		    strerror(errno));
	n = snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return vd_err_set(VD_EINVAL, "data directory path too long");
	if (access(path, F_OK) == 0)
		return vd_err_set(VD_EEXIST, "%s already holds a vault; "
		    "refusing to overwrite it", dir);
	if ((st = store_alloc(0)) == NULL)
		return VD_ENOMEM;
	if ((st->dir = strdup(dir)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if ((r = env_open(st, dir, 1)) != 0)
		goto out;

	/* The meta header. */
	p = st->meta;
	memcpy(p, META_MAGIC, 8);
	put_be32(p + 8, VD_FORMAT_VERSION);
	put_be32(p + 12, (uint32_t)kdf);
	st->kdf = kdf;
	if (kdf == VD_KDF_ARGON2ID) {
		st->opslimit = params ? params->opslimit :
		    crypto_pwhash_OPSLIMIT_MODERATE;
		st->memlimit = params ? params->memlimit :
		    crypto_pwhash_MEMLIMIT_MODERATE;
	}
	put_be64(p + 16, st->opslimit);
	put_be64(p + 24, st->memlimit);
	randombytes_buf(p + 32, SALTBYTES);
	randombytes_buf(p + 32 + SALTBYTES, IDBYTES);
	put_be64(p + 32 + SALTBYTES + IDBYTES, (uint64_t)vd_now());
	hex(st->id, p + 32 + SALTBYTES, IDBYTES);

	/* A fresh data key, wrapped by the root key. */
	if ((rk = vd_secret_new(VD_KEYBYTES)) == NULL ||
	    (dk = vd_secret_new(VD_KEYBYTES)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if ((r = root_key(st, secret, rk->data)) != 0)
		goto out;
	crypto_aead_xchacha20poly1305_ietf_keygen(dk->data);
	randombytes_buf(p + META_HDRBYTES, NONCEBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    p + META_HDRBYTES + NONCEBYTES, NULL, dk->data, VD_KEYBYTES, p,
	    META_HDRBYTES, NULL, p + META_HDRBYTES, rk->data);

	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) {
		r = mdb_err(rc, "begin");
		goto out;
	}
	v.mv_size = META_BYTES;
	v.mv_data = st->meta;
	if ((rc = mdb_put(txn, st->dbi[DB_META], &k, &v, MDB_NOOVERWRITE))
	    != 0) {
		r = rc == MDB_KEYEXIST ? vd_err_set(VD_EEXIST, "%s already "
		    "holds a vault; refusing to overwrite it", dir) :
		    mdb_err(rc, "write meta");
		goto out;
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		r = mdb_err(rc, "commit");
		goto out;
	}
	/*
	 * A new vault: an anchor left at its place by an earlier vault says
	 * nothing about this one and is replaced (vd_store_unlock writes it).
	 */
	st->flags |= VD_STORE_NEWANCHOR;
	r = vd_store_unlock(st, secret);
	st->flags &= ~(unsigned)VD_STORE_NEWANCHOR;
	if (r != 0)
		goto out;
	*out = st;
	st = NULL;
	r = 0;
 out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	vd_secret_free(rk);
	vd_secret_free(dk);
	vd_store_close(st);
	return r;
}

enum vd_kdf
vd_store_kdf(const struct vd_store *st)
{
	return st->kdf;
}

int
vd_store_unlocked(const struct vd_store *st)
{
	return st->reckey != NULL;
}

const char *
vd_store_id(const struct vd_store *st)
{
	return st->id;
}

int
vd_store_derive(struct vd_store *st, uint64_t id, const char ctx[8],
    unsigned char *out, size_t len)
{
	if (st->datakey == NULL)
		return VD_ESEALED;
	if (len < crypto_kdf_BYTES_MIN || len > crypto_kdf_BYTES_MAX)
		return vd_err_set(VD_EINVAL, "sub-key length out of range");
	/* The records key stays inside this file. */
	if (memcmp(ctx, SUBKEY_CTX, crypto_kdf_CONTEXTBYTES) == 0)
		return vd_err_set(VD_EINVAL, "sub-key context is reserved");
	crypto_kdf_derive_from_key(out, len, id, ctx, st->datakey->data);
	return 0;
}

void
vd_store_release_pages(struct vd_store *st)
{
	/*
	 * LMDB does not expose its map's address, so the way to drop the
	 * pages is a fresh mapping: close and reopen the environment (no
	 * transaction may be open; the keys stay in st).  Close first: two
	 * environments on one file in one process would share, and then
	 * drop, each other's POSIX locks.
	 */
	pthread_mutex_lock(&st->lock);
	if (st->active != 0 || st->dir == NULL || st->env == NULL) {
		pthread_mutex_unlock(&st->lock);
		return;
	}
	mdb_env_close(st->env);
	st->env = NULL;
	if (env_open(st, st->dir, 0) != 0) {
		if (st->env != NULL)
			mdb_env_close(st->env);
		st->env = NULL;
		vd_log(LOG_CRIT, "cannot reopen the vault in %s: %s", st->dir,
		    vd_err_detail());
	}
	pthread_mutex_unlock(&st->lock);
}

void
vd_store_close(struct vd_store *st)
{
	if (st == NULL)
		return;
	if (st->env != NULL)
		mdb_env_close(st->env);
	if (st->anchor_fd >= 0)
		close(st->anchor_fd);
	free(st->dir);
	free(st->anchor_path);
	vd_secret_free(st->reckey);
	vd_secret_free(st->datakey);
	vd_secret_free(st->msetkey);
	pthread_mutex_destroy(&st->lock);
	sodium_memzero(st, sizeof(*st));
	free(st);
}

/* ---- transactions --------------------------------------------------- */

static void anchor_update(struct vd_store *st, int force);
static int mset_commit(struct vd_txn *t);

/* Doubles the map when it is more than 3/4 used (no txn may be open). */
static void
maybe_grow(struct vd_store *st)
{
	MDB_envinfo info;
	MDB_stat ms;
	size_t used;

	if (st->active != 0 || mdb_env_info(st->env, &info) != 0 ||
	    mdb_env_stat(st->env, &ms) != 0)
		return;
	used = (info.me_last_pgno + 1) * (size_t)ms.ms_psize;
	if (info.me_mapsize > st->mapsize)
		st->mapsize = info.me_mapsize;
	if (used < st->mapsize / 4 * 3)
		return;
	if (mdb_env_set_mapsize(st->env, st->mapsize * 2) == 0) {
		vd_log(LOG_NOTICE, "vault map grown to %zu MiB",
		    st->mapsize * 2 >> 20);
		st->mapsize *= 2;
	}
}

int
vd_txn_begin(struct vd_store *st, int write, struct vd_txn **out)
{
	struct vd_txn *t;
	int rc;

	*out = NULL;
	if (write && (st->flags & VD_STORE_RDONLY))
		return vd_err_set(VD_ERDONLY, "the vault is open read-only");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return VD_ENOMEM;
	pthread_mutex_lock(&st->lock);
	if (st->env == NULL) {
		pthread_mutex_unlock(&st->lock);
		free(t);
		return vd_err_set(VD_ESTORE, "the vault is not open");
	}
	if (write)
		maybe_grow(st);
	t->st = st;
	t->write = write;
	rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size and retry. */
		if (st->active == 0 && mdb_env_set_mapsize(st->env, 0) == 0)
			rc = mdb_txn_begin(st->env, NULL,
			    write ? 0 : MDB_RDONLY, &t->txn);
	}
	if (rc != 0) {
		pthread_mutex_unlock(&st->lock);
		free(t);
		return mdb_err(rc, "begin");
	}
	st->active++;
	pthread_mutex_unlock(&st->lock);
	*out = t;
	return 0;
}

int
vd_txn_commit(struct vd_txn *t)
{
	struct vd_store *st;
	int rc;

	int r;

	if (t == NULL)
		return VD_EINVAL;
	st = t->st;
	/* The integrity record follows the records, in the same txn. */
	if (t->write && t->mdirty && (r = mset_commit(t)) != 0) {
		vd_txn_abort(t);
		return r;
	}
	rc = mdb_txn_commit(t->txn);
	pthread_mutex_lock(&st->lock);
	st->active--;
	pthread_mutex_unlock(&st->lock);
	if (rc == 0 && t->fresh && st->head_known) {
		/* Durable now: the anchor may follow (never lead). */
		if (t->count != 0) {
			st->head.audit_count = t->count;
			memcpy(st->head.audit_hash, t->hash, sizeof(t->hash));
		}
		if (t->gen != 0)
			st->head.gen = t->gen;
		st->head.versions += t->vgrow;
		anchor_update(st, 0);
	}
	free(t);
	return rc ? mdb_err(rc, "commit") : 0;
}

void
vd_txn_abort(struct vd_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	pthread_mutex_lock(&t->st->lock);
	t->st->active--;
	pthread_mutex_unlock(&t->st->lock);
	free(t);
}

/* ---- targets and schedule ------------------------------------------ */

static int
named_put(struct vd_txn *t, int db, const char *name, const json_t *obj,
    unsigned flags)
{
	unsigned char key[KEYMAX];
	size_t klen;

	if ((klen = make_key(key, name, 0, 0, NULL)) == 0)
		return bad_name("target", name);
	return put_json(t, db, key, klen, obj, flags);
}

static int
named_get(struct vd_txn *t, int db, const char *name, json_t **obj)
{
	unsigned char key[KEYMAX];
	size_t klen;

	*obj = NULL;
	if ((klen = make_key(key, name, 0, 0, NULL)) == 0)
		return bad_name("target", name);
	return get_json(t, db, key, klen, obj);
}

static int
named_del(struct vd_txn *t, int db, const char *name)
{
	unsigned char key[KEYMAX];
	size_t klen;

	if ((klen = make_key(key, name, 0, 0, NULL)) == 0)
		return bad_name("target", name);
	return del_key(t, db, key, klen);
}

static int
named_each(struct vd_txn *t, int db,
    int (*cb)(const char *name, json_t *obj, void *arg), void *arg)
{
	char name[VD_NAME_MAX + 1];
	MDB_cursor *c = NULL;
	MDB_val k, v;
	json_t *obj;
	int r = 0, rc;

	if (t->st->reckey == NULL)
		return VD_ESEALED;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[db], &c)) != 0)
		return mdb_err(rc, "cursor");
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size == 0 || k.mv_size > VD_NAME_MAX) {
			r = vd_err_set(VD_ECORRUPT, "bad key in %s",
			    db_names[db]);
			break;
		}
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if ((r = open_json(t->st, db, k.mv_data, k.mv_size, &v,
		    &obj)) != 0)
			break;
		r = cb(name, obj, arg);
		json_decref(obj);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != 0 && rc != MDB_NOTFOUND)
		r = mdb_err(rc, "cursor");
	mdb_cursor_close(c);
	return r;
}

int
vd_target_put(struct vd_txn *t, const char *name, const json_t *obj,
    int create)
{
	int r = named_put(t, DB_TARGETS, name, obj,
	    create ? MDB_NOOVERWRITE : 0);

	if (r == VD_EEXIST)
		return vd_err_set(VD_EEXIST, "target %s already exists", name);
	return r;
}

int
vd_target_get(struct vd_txn *t, const char *name, json_t **obj)
{
	return named_get(t, DB_TARGETS, name, obj);
}

int
vd_target_del(struct vd_txn *t, const char *name)
{
	return named_del(t, DB_TARGETS, name);
}

int
vd_target_each(struct vd_txn *t,
    int (*cb)(const char *name, json_t *obj, void *arg), void *arg)
{
	return named_each(t, DB_TARGETS, cb, arg);
}

int
vd_sched_put(struct vd_txn *t, const char *target, const json_t *obj)
{
	return named_put(t, DB_SCHEDULE, target, obj, 0);
}

int
vd_sched_get(struct vd_txn *t, const char *target, json_t **obj)
{
	return named_get(t, DB_SCHEDULE, target, obj);
}

int
vd_sched_del(struct vd_txn *t, const char *target)
{
	return named_del(t, DB_SCHEDULE, target);
}

/* ---- access requests (issue 17) --------------------------------------- */

/* The key of request id: 10 decimal digits, so key order is id order. */
static int
request_key(uint64_t id, char *buf, size_t len)
{
	int n;

	if (id == 0 || id > 9999999999ULL)
		return vd_err_set(VD_EINVAL, "bad request id");
	n = snprintf(buf, len, "%010llu", (unsigned long long)id);
	return n < 0 || (size_t)n >= len ? VD_EINVAL : 0;
}

int
vd_request_put(struct vd_txn *t, uint64_t id, const json_t *obj)
{
	char key[16];
	int r;

	if (t->st->absent[DB_REQUESTS])
		return vd_err_set(VD_EINVAL, "read-only vault without requests");
	if ((r = request_key(id, key, sizeof(key))) != 0)
		return r;
	return named_put(t, DB_REQUESTS, key, obj, 0);
}

int
vd_request_get(struct vd_txn *t, uint64_t id, json_t **obj)
{
	char key[16];
	int r;

	*obj = NULL;
	if ((r = request_key(id, key, sizeof(key))) != 0)
		return r;
	if (t->st->absent[DB_REQUESTS])
		return VD_ENOTFOUND;
	return named_get(t, DB_REQUESTS, key, obj);
}

/* Calls the caller's callback with the id parsed from the key. */
struct req_each {
	int	(*cb)(uint64_t id, json_t *obj, void *arg);
	void	*arg;
};

static int
req_each_cb(const char *key, json_t *obj, void *arg)
{
	struct req_each *re = arg;
	long long id;

	if (vd_parse_int(key, 1, 9999999999LL, &id) != 0)
		return vd_err_set(VD_ECORRUPT, "bad key in requests");
	return re->cb((uint64_t)id, obj, re->arg);
}

int
vd_request_each(struct vd_txn *t,
    int (*cb)(uint64_t id, json_t *obj, void *arg), void *arg)
{
	struct req_each re = { cb, arg };

	if (t->st->absent[DB_REQUESTS])
		return 0;
	return named_each(t, DB_REQUESTS, req_each_cb, &re);
}

int
vd_request_last(struct vd_txn *t, uint64_t *id)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	char key[16];
	long long n;
	int rc, r = 0;

	*id = 0;
	if (t->st->absent[DB_REQUESTS])
		return 0;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_REQUESTS], &c)) != 0)
		return mdb_err(rc, "cursor");
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == 0) {
		if (k.mv_size == 0 || k.mv_size >= sizeof(key))
			r = vd_err_set(VD_ECORRUPT, "bad key in requests");
		else {
			memcpy(key, k.mv_data, k.mv_size);
			key[k.mv_size] = '\0';
			if (vd_parse_int(key, 1, 9999999999LL, &n) != 0)
				r = vd_err_set(VD_ECORRUPT, "bad key in "
				    "requests");
			else
				*id = (uint64_t)n;
		}
	} else if (rc != MDB_NOTFOUND)
		r = mdb_err(rc, "cursor");
	mdb_cursor_close(c);
	return r;
}

int
vd_sched_update(struct vd_txn *t, const char *target, const json_t *fields)
{
	json_t *s = NULL, *v;
	const char *k;
	int r;

	if ((r = vd_sched_get(t, target, &s)) == VD_ENOTFOUND)
		s = json_object();
	else if (r != 0)
		return r;
	if (s == NULL)
		return VD_ENOMEM;
	json_object_foreach((json_t *)fields, k, v) {
		if (json_is_null(v))
			json_object_del(s, k);
		else
			json_object_set(s, k, v);
	}
	r = vd_sched_put(t, target, s);
	json_decref(s);
	return r;
}

int
vd_sched_each(struct vd_txn *t,
    int (*cb)(const char *target, json_t *obj, void *arg), void *arg)
{
	return named_each(t, DB_SCHEDULE, cb, arg);
}

/* ---- secret versions ------------------------------------------------ */

int
vd_secret_put(struct vd_txn *t, const char *target, uint64_t v,
    const struct vd_secret *pw)
{
	unsigned char key[KEYMAX];
	size_t klen;
	int r;

	if (v == 0)
		return vd_err_set(VD_EINVAL, "versions start at 1");
	if ((klen = make_key(key, target, 1, v, NULL)) == 0)
		return bad_name("target", target);
	r = seal_put(t, DB_SECRETS, key, klen, pw->data, pw->len,
	    MDB_NOOVERWRITE);
	if (r == VD_EEXIST)
		return vd_err_set(VD_EEXIST, "version %llu of %s already exists",
		    (unsigned long long)v, target);
	return r;
}

static int
secret_get(struct vd_txn *t, const char *target, uint64_t v,
    struct vd_secret **pw);

int
vd_secret_get(struct vd_txn *t, const char *target, uint64_t v,
    struct vd_secret **pw)
{
	*pw = NULL;
	if (v == 0)
		return VD_ENOTFOUND;
	return secret_get(t, target, v, pw);
}

int
vd_admin_secret_put(struct vd_txn *t, const char *target,
    const struct vd_secret *pw)
{
	unsigned char key[KEYMAX];
	size_t klen;

	if ((klen = make_key(key, target, 1, 0, NULL)) == 0)
		return bad_name("target", target);
	return seal_put(t, DB_SECRETS, key, klen, pw->data, pw->len, 0);
}

int
vd_admin_secret_get(struct vd_txn *t, const char *target,
    struct vd_secret **pw)
{
	return secret_get(t, target, 0, pw);
}

int
vd_admin_secret_del(struct vd_txn *t, const char *target)
{
	unsigned char key[KEYMAX];
	size_t klen;

	if ((klen = make_key(key, target, 1, 0, NULL)) == 0)
		return bad_name("target", target);
	return del_key(t, DB_SECRETS, key, klen);
}

/* Opens slot v (0: the admin account's password) of target's secrets. */
static int
secret_get(struct vd_txn *t, const char *target, uint64_t v,
    struct vd_secret **pw)
{
	struct vd_secret *s = NULL;
	unsigned char key[KEYMAX];
	MDB_val k, val;
	size_t klen;
	int r, rc;

	*pw = NULL;
	if (t->st->reckey == NULL)
		return VD_ESEALED;
	if ((klen = make_key(key, target, 1, v, NULL)) == 0)
		return bad_name("target", target);
	k.mv_size = klen;
	k.mv_data = key;
	if ((rc = mdb_get(t->txn, t->st->dbi[DB_SECRETS], &k, &val)) != 0)
		return mdb_err(rc, "load");
	if (val.mv_size < NONCEBYTES + TAGBYTES ||
	    val.mv_size > NONCEBYTES + TAGBYTES + VD_SECRET_MAX)
		return vd_err_set(VD_ECORRUPT, "secret record is malformed");
	if ((s = vd_secret_new(val.mv_size - NONCEBYTES - TAGBYTES)) == NULL)
		return VD_ENOMEM;
	if ((r = open_val(t->st, DB_SECRETS, key, klen, &val, s->data)) != 0) {
		vd_secret_free(s);
		return r;
	}
	s->len = s->cap;
	*pw = s;
	return 0;
}

int
vd_secret_del(struct vd_txn *t, const char *target, uint64_t v)
{
	unsigned char key[KEYMAX];
	size_t klen;

	if (v == 0)
		return VD_ENOTFOUND;
	if ((klen = make_key(key, target, 1, v, NULL)) == 0)
		return bad_name("target", target);
	return del_key(t, DB_SECRETS, key, klen);
}

static int seq_last(struct vd_txn *t, int db, const char *prefix,
    uint64_t *last);

int
vd_version_put(struct vd_txn *t, const char *target, uint64_t v,
    const json_t *meta)
{
	unsigned char key[KEYMAX];
	size_t klen;

	uint64_t last = 0;
	int r;

	if (v == 0)
		return vd_err_set(VD_EINVAL, "versions start at 1");
	if ((klen = make_key(key, target, 1, v, NULL)) == 0)
		return bad_name("target", target);
	/* A new highest version raises the anchor's versions sum. */
	if (t->write && (r = seq_last(t, DB_VERSIONS, target, &last)) != 0)
		return r;
	if ((r = put_json(t, DB_VERSIONS, key, klen, meta, 0)) != 0)
		return r;
	if (v > last) {
		t->vgrow += v - last;
		t->fresh = 1;
	}
	return 0;
}

int
vd_version_get(struct vd_txn *t, const char *target, uint64_t v,
    json_t **meta)
{
	unsigned char key[KEYMAX];
	size_t klen;

	*meta = NULL;
	if ((klen = make_key(key, target, 1, v, NULL)) == 0)
		return bad_name("target", target);
	return get_json(t, DB_VERSIONS, key, klen, meta);
}

/*
 * Walks the keys "prefix \0 be64(n)" of db newest first, starting below
 * before (0: from the newest), calling cb with the opened JSON, at most
 * limit entries (0: all).  Positions the cursor with MDB_SET_RANGE just
 * past the wanted range, then walks backwards: no full scan.
 */
static int
seq_each_desc(struct vd_txn *t, int db, const char *prefix, uint64_t before,
    size_t limit, int (*cb)(uint64_t n, json_t *obj, void *arg), void *arg)
{
	unsigned char key[KEYMAX];
	size_t plen, klen, count = 0;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	json_t *obj;
	int r = 0, rc;

	if (t->st->reckey == NULL)
		return VD_ESEALED;
	if ((klen = make_key(key, prefix, 1, before ? before : UINT64_MAX,
	    NULL)) == 0)
		return bad_name("target", prefix);
	plen = klen - 8;	/* name \0 */
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[db], &c)) != 0)
		return mdb_err(rc, "cursor");
	k.mv_size = klen;
	k.mv_data = key;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && (before != 0 || k.mv_size != klen ||
	    memcmp(k.mv_data, key, klen) != 0))
		rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
		uint64_t n;

		if (k.mv_size != plen + 8 || memcmp(k.mv_data, key, plen) != 0)
			break;	/* left this prefix */
		n = get_be64((const unsigned char *)k.mv_data + plen);
		if (before != 0 && n >= before)
			continue;
		if ((r = open_json(t->st, db, k.mv_data, k.mv_size, &v,
		    &obj)) != 0)
			break;
		r = cb(n, obj, arg);
		json_decref(obj);
		if (r != 0 || (limit != 0 && ++count >= limit))
			break;
	}
	if (r == 0 && rc != 0 && rc != MDB_NOTFOUND)
		r = mdb_err(rc, "cursor");
	mdb_cursor_close(c);
	return r;
}

/* Finds the highest number under "prefix \0 be64(n)" in db (0: none). */
static int
seq_last(struct vd_txn *t, int db, const char *prefix, uint64_t *last)
{
	unsigned char key[KEYMAX];
	size_t plen, klen;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc;

	*last = 0;
	if ((klen = make_key(key, prefix, 1, UINT64_MAX, NULL)) == 0)
		return bad_name("target", prefix);
	plen = klen - 8;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[db], &c)) != 0)
		return mdb_err(rc, "cursor");
	k.mv_size = klen;
	k.mv_data = key;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && !(k.mv_size == klen && memcmp(k.mv_data, key, klen) ==
	    0))
		rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == plen + 8 &&
	    memcmp(k.mv_data, key, plen) == 0)
		*last = get_be64((const unsigned char *)k.mv_data + plen);
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_err(rc, "cursor");
	return 0;
}

int
vd_version_last(struct vd_txn *t, const char *target, uint64_t *v)
{
	return seq_last(t, DB_VERSIONS, target, v);
}

int
vd_version_each(struct vd_txn *t, const char *target, size_t limit,
    int (*cb)(uint64_t v, json_t *meta, void *arg), void *arg)
{
	return seq_each_desc(t, DB_VERSIONS, target, 0, limit, cb, arg);
}

/* ---- envelopes: raw records, stored as given (the caller seals them) - */

int
vd_envelope_put(struct vd_txn *t, const char *target, uint64_t v,
    const char *party, const void *env, size_t len)
{
	unsigned char key[KEYMAX], old[MSET_BYTES];
	MDB_val k, val = { len, (void *)env };
	size_t klen;
	int r, rc, had = 0;

	if (!t->write)
		return VD_ERDONLY;
	if ((klen = make_key(key, target, 1, v, party)) == 0)
		return bad_name("target or party", target);
	k.mv_size = klen;
	k.mv_data = key;
	if ((r = mset_old(t, DB_ESCROW, &k, old, &had)) != 0)
		return r;
	if ((rc = mdb_put(t->txn, t->st->dbi[DB_ESCROW], &k, &val, 0)) != 0)
		return mdb_err(rc, "store envelope");
	if (had)
		mset_apply(t, old, -1);
	mset_change(t, DB_ESCROW, &k, &val, +1);
	return 0;
}

int
vd_envelope_get(struct vd_txn *t, const char *target, uint64_t v,
    const char *party, unsigned char **env, size_t *len)
{
	unsigned char key[KEYMAX];
	MDB_val k, val;
	size_t klen;
	int rc;

	*env = NULL;
	*len = 0;
	if ((klen = make_key(key, target, 1, v, party)) == 0)
		return bad_name("target or party", target);
	k.mv_size = klen;
	k.mv_data = key;
	if ((rc = mdb_get(t->txn, t->st->dbi[DB_ESCROW], &k, &val)) != 0)
		return mdb_err(rc, "load envelope");
	if ((*env = malloc(val.mv_size ? val.mv_size : 1)) == NULL)
		return VD_ENOMEM;
	memcpy(*env, val.mv_data, val.mv_size);
	*len = val.mv_size;
	return 0;
}

/* Splits an envelope key into its parts; returns 0 or VD_ECORRUPT. */
static int
split_escrow_key(const MDB_val *k, char *target, uint64_t *v, char *party)
{
	const unsigned char *p = k->mv_data, *z;
	size_t tlen, plen;

	if ((z = memchr(p, '\0', k->mv_size)) == NULL)
		return VD_ECORRUPT;
	tlen = (size_t)(z - p);
	if (tlen == 0 || tlen > VD_NAME_MAX || k->mv_size < tlen + 1 + 8 + 2)
		return VD_ECORRUPT;
	plen = k->mv_size - tlen - 1 - 8 - 1;
	if (plen == 0 || plen > VD_NAME_MAX || p[tlen + 9] != '\0')
		return VD_ECORRUPT;
	memcpy(target, p, tlen);
	target[tlen] = '\0';
	*v = get_be64(p + tlen + 1);
	memcpy(party, p + tlen + 10, plen);
	party[plen] = '\0';
	return 0;
}

int
vd_envelope_each(struct vd_txn *t, const char *target,
    int (*cb)(const char *target, uint64_t v, const char *party,
    const unsigned char *env, size_t len, void *arg), void *arg)
{
	char tname[VD_NAME_MAX + 1], party[VD_NAME_MAX + 1];
	unsigned char key[KEYMAX];
	size_t plen = 0;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint64_t ver;
	int r = 0, rc;

	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_ESCROW], &c)) != 0)
		return mdb_err(rc, "cursor");
	if (target != NULL) {
		if ((plen = make_key(key, target, 0, 0, NULL)) == 0) {
			mdb_cursor_close(c);
			return bad_name("target", target);
		}
		key[plen++] = '\0';
		k.mv_size = plen;
		k.mv_data = key;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	} else
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (target != NULL && (k.mv_size < plen ||
		    memcmp(k.mv_data, key, plen) != 0))
			break;
		if (split_escrow_key(&k, tname, &ver, party) != 0) {
			r = vd_err_set(VD_ECORRUPT, "bad key in escrow");
			break;
		}
		if ((r = cb(tname, ver, party, v.mv_data, v.mv_size, arg)) != 0)
			break;
	}
	if (r == 0 && rc != 0 && rc != MDB_NOTFOUND)
		r = mdb_err(rc, "cursor");
	mdb_cursor_close(c);
	return r;
}

int
vd_envelope_del(struct vd_txn *t, const char *target, uint64_t v)
{
	unsigned char key[KEYMAX];
	size_t plen;
	MDB_cursor *c = NULL;
	MDB_val k, val;
	int r = 0, rc;

	if (!t->write)
		return VD_ERDONLY;
	if ((plen = make_key(key, target, 1, v, NULL)) == 0)
		return bad_name("target", target);
	key[plen++] = '\0';
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_ESCROW], &c)) != 0)
		return mdb_err(rc, "cursor");
	k.mv_size = plen;
	k.mv_data = key;
	for (rc = mdb_cursor_get(c, &k, &val, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &val, MDB_NEXT)) {
		unsigned char old[MSET_BYTES];
		int had = 0;

		if (k.mv_size < plen || memcmp(k.mv_data, key, plen) != 0)
			break;
		if (t->st->msetkey != NULL && mset_covered(DB_ESCROW, &k)) {
			mset_elem(t->st, DB_ESCROW, &k, &val, old);
			had = 1;
		}
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		if (had)
			mset_apply(t, old, -1);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		r = mdb_err(rc, "delete envelope");
	mdb_cursor_close(c);
	return r;
}

int
vd_envelope_del_party(struct vd_txn *t, const char *target, uint64_t v,
    const char *party)
{
	unsigned char key[KEYMAX];
	size_t klen;

	if ((klen = make_key(key, target, 1, v, party)) == 0)
		return bad_name("target or party", target);
	return del_key(t, DB_ESCROW, key, klen);
}

/* ---- history -------------------------------------------------------- */

int
vd_history_append(struct vd_txn *t, const char *target, const json_t *entry,
    uint64_t *seq)
{
	unsigned char key[KEYMAX];
	uint64_t last;
	size_t klen;
	int r;

	if ((r = seq_last(t, DB_HISTORY, target, &last)) != 0)
		return r;
	if ((klen = make_key(key, target, 1, last + 1, NULL)) == 0)
		return bad_name("target", target);
	if ((r = put_json(t, DB_HISTORY, key, klen, entry, MDB_NOOVERWRITE))
	    != 0)
		return r;
	if (seq != NULL)
		*seq = last + 1;
	return 0;
}

int
vd_history_update(struct vd_txn *t, const char *target, uint64_t seq,
    const json_t *entry)
{
	unsigned char key[KEYMAX];
	MDB_val k, v;
	size_t klen;
	int rc;

	if ((klen = make_key(key, target, 1, seq, NULL)) == 0)
		return bad_name("target", target);
	k.mv_size = klen;
	k.mv_data = key;
	if ((rc = mdb_get(t->txn, t->st->dbi[DB_HISTORY], &k, &v)) != 0)
		return mdb_err(rc, "history entry");
	return put_json(t, DB_HISTORY, key, klen, entry, 0);
}

int
vd_history_each(struct vd_txn *t, const char *target, uint64_t before,
    size_t limit, int (*cb)(uint64_t seq, json_t *entry, void *arg),
    void *arg)
{
	return seq_each_desc(t, DB_HISTORY, target, before, limit, cb, arg);
}

/* ---- audit ---------------------------------------------------------- */

#define AUDIT_HEAD_KEY	"audit-head"

/* Hash of a stored audit entry: BLAKE2b-256 over its canonical JSON. */
static int
audit_hash(const json_t *entry, unsigned char *h)
{
	char *s;

	if ((s = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		return VD_ENOMEM;
	crypto_generichash(h, VD_HASHBYTES, (const unsigned char *)s,
	    strlen(s), NULL, 0);
	free(s);
	return 0;
}

/*
 * The chain head lives in the meta database as a sealed JSON record, so
 * truncating the newest entries (or the whole log) is detected.
 */
static int
audit_head(struct vd_txn *t, uint64_t *count, char *hash_hex)
{
	const unsigned char *k = (const unsigned char *)AUDIT_HEAD_KEY;
	json_t *obj = NULL;
	const char *h;
	json_int_t n;
	int r;

	*count = 0;
	memset(hash_hex, '0', 2 * VD_HASHBYTES);
	hash_hex[2 * VD_HASHBYTES] = '\0';
	r = get_json(t, DB_META, k, strlen(AUDIT_HEAD_KEY), &obj);
	if (r == VD_ENOTFOUND)
		return 0;
	if (r != 0)
		return r;
	n = json_integer_value(json_object_get(obj, "count"));
	h = json_string_value(json_object_get(obj, "hash"));
	if (n < 0 || h == NULL || strlen(h) != 2 * VD_HASHBYTES) {
		json_decref(obj);
		return vd_err_set(VD_ECORRUPT, "audit head record is malformed");
	}
	*count = (uint64_t)n;
	memcpy(hash_hex, h, 2 * VD_HASHBYTES + 1);
	json_decref(obj);
	return 0;
}

int
vd_audit_append(struct vd_txn *t, const json_t *entry, uint64_t *seq)
{
	unsigned char key[8], h[VD_HASHBYTES];
	char prev[2 * VD_HASHBYTES + 1], cur[2 * VD_HASHBYTES + 1];
	json_t *e = NULL, *head = NULL;
	uint64_t count;
	int r;

	if (!json_is_object(entry))
		return vd_err_set(VD_EINVAL, "audit entry must be an object");
	if ((r = audit_head(t, &count, prev)) != 0)
		return r;
	if ((e = json_deep_copy(entry)) == NULL)
		return VD_ENOMEM;
	if (json_object_set_new(e, "seq", json_integer((json_int_t)count + 1))
	    || json_object_set_new(e, "prev", json_string(prev))) {
		r = VD_ENOMEM;
		goto out;
	}
	if (json_object_get(e, "time") == NULL) {
		char ts[VD_TIME_STRLEN];

		json_object_set_new(e, "time",
		    json_string(vd_time_rfc3339(vd_now(), ts, sizeof(ts))));
	}
	put_be64(key, count + 1);
	if ((r = put_json(t, DB_AUDIT, key, 8, e, MDB_NOOVERWRITE)) != 0)
		goto out;
	if ((r = audit_hash(e, h)) != 0)
		goto out;
	hex(cur, h, VD_HASHBYTES);
	if ((head = json_pack("{s:I,s:s}", "count", (json_int_t)count + 1,
	    "hash", cur)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if ((r = put_json(t, DB_META, (const unsigned char *)AUDIT_HEAD_KEY,
	    strlen(AUDIT_HEAD_KEY), head, 0)) != 0)
		goto out;
	if (seq != NULL)
		*seq = count + 1;
	t->fresh = 1;
	t->count = count + 1;
	memcpy(t->hash, cur, sizeof(cur));
	r = 0;
 out:
	json_decref(e);
	json_decref(head);
	return r;
}

int
vd_audit_each(struct vd_txn *t, size_t limit,
    int (*cb)(uint64_t seq, json_t *entry, void *arg), void *arg)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	json_t *obj;
	size_t count = 0;
	int r = 0, rc;

	if (t->st->reckey == NULL)
		return VD_ESEALED;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_AUDIT], &c)) != 0)
		return mdb_err(rc, "cursor");
	for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
		if (k.mv_size != 8) {
			r = vd_err_set(VD_ECORRUPT, "bad key in audit");
			break;
		}
		if ((r = open_json(t->st, DB_AUDIT, k.mv_data, 8, &v, &obj))
		    != 0)
			break;
		r = cb(get_be64(k.mv_data), obj, arg);
		json_decref(obj);
		if (r != 0 || (limit != 0 && ++count >= limit))
			break;
	}
	if (r == 0 && rc != 0 && rc != MDB_NOTFOUND)
		r = mdb_err(rc, "cursor");
	mdb_cursor_close(c);
	return r;
}

int
vd_audit_verify(struct vd_txn *t, uint64_t *count, uint64_t *bad)
{
	char prev[2 * VD_HASHBYTES + 1], head[2 * VD_HASHBYTES + 1];
	unsigned char h[VD_HASHBYTES];
	uint64_t expect = 1, headcount;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	json_t *obj = NULL;
	const char *p;
	int r = 0, rc;

	*count = 0;
	*bad = 0;
	if (t->st->reckey == NULL)
		return VD_ESEALED;
	if ((r = audit_head(t, &headcount, head)) != 0) {
		*bad = 1;
		return r;
	}
	memset(prev, '0', 2 * VD_HASHBYTES);
	prev[2 * VD_HASHBYTES] = '\0';
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_AUDIT], &c)) != 0)
		return mdb_err(rc, "cursor");
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), expect++) {
		uint64_t seq;

		if (k.mv_size != 8) {
			r = vd_err_set(VD_ECHAIN, "audit entry %llu: bad key",
			    (unsigned long long)expect);
			*bad = expect;
			goto out;
		}
		seq = get_be64(k.mv_data);
		if (seq != expect) {
			*bad = expect;
			r = vd_err_set(VD_ECHAIN, "audit entry %llu is missing "
			    "(next found: %llu)", (unsigned long long)expect,
			    (unsigned long long)seq);
			goto out;
		}
		if ((r = open_json(t->st, DB_AUDIT, k.mv_data, 8, &v, &obj))
		    != 0) {
			*bad = seq;
			r = vd_err_set(VD_ECORRUPT, "audit entry %llu failed "
			    "authentication (edited or moved)",
			    (unsigned long long)seq);
			goto out;
		}
		p = json_string_value(json_object_get(obj, "prev"));
		if (p == NULL || strcmp(p, prev) != 0 ||
		    json_integer_value(json_object_get(obj, "seq")) !=
		    (json_int_t)seq) {
			*bad = seq;
			r = vd_err_set(VD_ECHAIN, "audit entry %llu does not "
			    "follow entry %llu (chain broken: re-ordered or "
			    "replaced)", (unsigned long long)seq,
			    (unsigned long long)seq - 1);
			goto out;
		}
		if ((r = audit_hash(obj, h)) != 0)
			goto out;
		hex(prev, h, VD_HASHBYTES);
		json_decref(obj);
		obj = NULL;
		(*count)++;
	}
	if (rc != MDB_NOTFOUND) {
		r = mdb_err(rc, "cursor");
		goto out;
	}
	if (*count != headcount || strcmp(prev, head) != 0) {
		*bad = *count + 1 <= headcount ? *count + 1 : headcount;
		r = vd_err_set(VD_ECHAIN, "audit log ends at entry %llu but its "
		    "head records %llu entries (entries dropped from the end)",
		    (unsigned long long)*count, (unsigned long long)headcount);
		goto out;
	}
	r = 0;
 out:
	json_decref(obj);
	mdb_cursor_close(c);
	return r;
}

int
vd_audit_head(struct vd_txn *t, uint64_t *count, char *hash)
{
	if (t->st->reckey == NULL)
		return VD_ESEALED;
	return audit_head(t, count, hash);
}

int
vd_audit_entry_hash(struct vd_txn *t, uint64_t n, char *hash)
{
	unsigned char key[8], h[VD_HASHBYTES];
	json_t *obj = NULL;
	int r;

	if (t->st->reckey == NULL)
		return VD_ESEALED;
	put_be64(key, n);
	if ((r = get_json(t, DB_AUDIT, key, 8, &obj)) == 0 &&
	    (r = audit_hash(obj, h)) == 0)
		hex(hash, h, VD_HASHBYTES);
	json_decref(obj);
	return r;
}

/* ---- freshness anchor ------------------------------------------------ */

/*
 * The audit head in the meta database proves the log was not cut only to
 * someone who trusts the meta database: whoever can write the data
 * directory can put back an older sealed head with the entries it covers,
 * or an older copy of the whole directory.  So the head also goes outside
 * the directory, into the anchor file (default: DIR.anchor beside the data
 * directory), with the vault's versions watermark (the sum over targets of
 * the highest version number: versions are never deleted, so it only
 * grows), and the integrity generation (below).  The anchor is written
 * after each commit that appended to the audit log, created a version or
 * changed any covered record, so it may lag the data (a crash between
 * the two, a failed write) but never leads it; data older than the anchor
 * means a rollback.
 *
 * File: two slots of ANCHOR_SLOT bytes, each
 *   "VDANCHR2" | vault id[16] | u64 audit count | audit hash[32] |
 *   u64 versions | i64 written | u64 integrity generation |
 *   BLAKE2b-256 MAC[32] | zero padding
 * ("VDANCHR1" slots, without the generation, are read as generation 0).
 * Every commit that changes a record raises the generation, so the anchor
 * is written after each of them.
 * the MAC keyed with a sub-key of the data key (context "vdanchor"), so
 * only the vault writes it and an anchor of another vault is not taken.
 * A write goes to the slot not holding the newest valid state (under
 * flock), and never replaces a newer state with an older one; a torn
 * write leaves the other slot.  No fsync: the anchor may lag by design.
 */
#define ANCHOR_MAGIC	"VDANCHR2"	/* with the integrity generation */
#define ANCHOR_MAGIC1	"VDANCHR1"	/* read: before the generation */
#define ANCHOR_SLOT	128
#define ANCHOR_BODY1	(8 + IDBYTES + 8 + VD_HASHBYTES + 8 + 8)
#define ANCHOR_BODY	(ANCHOR_BODY1 + 8)
#define ANCHOR_CTX	"vdanchor"	/* crypto_kdf context, 8 bytes */
#define ANCHOR_SUFFIX	".anchor"

/* Returns the anchor's path (built once from the data directory). */
static const char *
anchor_file(struct vd_store *st)
{
	size_t n;

	if (st->anchor_path != NULL || st->dir == NULL)
		return st->anchor_path;
	n = strlen(st->dir);
	while (n > 1 && st->dir[n - 1] == '/')
		n--;		/* "dir/" + ".anchor" would land inside */
	if ((st->anchor_path = malloc(n + sizeof(ANCHOR_SUFFIX))) == NULL)
		return NULL;
	memcpy(st->anchor_path, st->dir, n);
	memcpy(st->anchor_path + n, ANCHOR_SUFFIX, sizeof(ANCHOR_SUFFIX));
	return st->anchor_path;
}

int
vd_store_set_anchor(struct vd_store *st, const char *path)
{
	char *p;

	if (path == NULL || path[0] == '\0')
		return vd_err_set(VD_EINVAL, "empty anchor path");
	if ((p = strdup(path)) == NULL)
		return VD_ENOMEM;
	free(st->anchor_path);
	st->anchor_path = p;
	if (st->anchor_fd >= 0) {
		close(st->anchor_fd);
		st->anchor_fd = -1;
	}
	return 0;
}

const char *
vd_store_anchor_path(struct vd_store *st)
{
	const char *p = anchor_file(st);

	return p != NULL ? p : "(none)";
}

/* The anchor's MAC of body under the vault's anchor sub-key. */
static void
anchor_mac(const struct vd_store *st, const unsigned char *body,
    size_t blen, unsigned char *mac)
{
	unsigned char key[crypto_generichash_KEYBYTES];

	crypto_kdf_derive_from_key(key, sizeof(key), 1, ANCHOR_CTX,
	    st->datakey->data);
	crypto_generichash(mac, VD_HASHBYTES, body, blen, key,
	    sizeof(key));
	sodium_memzero(key, sizeof(key));
}

static const unsigned char *
vault_id(const struct vd_store *st)
{
	return st->meta + 32 + SALTBYTES;
}

static int
anchor_encode(const struct vd_store *st, const struct vd_anchor *a,
    unsigned char *slot)
{
	memset(slot, 0, ANCHOR_SLOT);
	memcpy(slot, ANCHOR_MAGIC, 8);
	memcpy(slot + 8, vault_id(st), IDBYTES);
	put_be64(slot + 24, a->audit_count);
	if (sodium_hex2bin(slot + 32, VD_HASHBYTES, a->audit_hash,
	    2 * VD_HASHBYTES, NULL, NULL, NULL) != 0)
		return VD_EINVAL;
	put_be64(slot + 64, a->versions);
	put_be64(slot + 72, (uint64_t)a->written);
	put_be64(slot + ANCHOR_BODY1, a->gen);
	anchor_mac(st, slot, ANCHOR_BODY, slot + ANCHOR_BODY);
	return 0;
}

/* Decodes one slot: 0, or -1 when it is empty, damaged or not ours. */
static int
anchor_decode(const struct vd_store *st, const unsigned char *slot,
    struct vd_anchor *a)
{
	unsigned char mac[VD_HASHBYTES];
	size_t blen;

	if (memcmp(slot, ANCHOR_MAGIC, 8) == 0)
		blen = ANCHOR_BODY;
	else if (memcmp(slot, ANCHOR_MAGIC1, 8) == 0)
		blen = ANCHOR_BODY1;
	else
		return -1;
	if (memcmp(slot + 8, vault_id(st), IDBYTES) != 0)
		return -1;
	anchor_mac(st, slot, blen, mac);
	if (sodium_memcmp(mac, slot + blen, VD_HASHBYTES) != 0)
		return -1;
	a->gen = blen == ANCHOR_BODY ? get_be64(slot + ANCHOR_BODY1) : 0;
	a->audit_count = get_be64(slot + 24);
	hex(a->audit_hash, slot + 32, VD_HASHBYTES);
	a->versions = get_be64(slot + 64);
	a->written = (int64_t)get_be64(slot + 72);
	return 0;
}

/* Of two states, is a newer than b? */
static int
anchor_newer(const struct vd_anchor *a, const struct vd_anchor *b)
{
	/* Every commit raises the generation: the finest order there is. */
	if (a->gen != b->gen)
		return a->gen > b->gen;
	return a->audit_count > b->audit_count ||
	    (a->audit_count == b->audit_count && a->versions > b->versions);
}

/*
 * Reads both slots of the open anchor fd: *best the newest valid state,
 * *bestslot its slot (-1: none valid), *empty set for a file with no
 * content at all (made, never written).
 */
static int
anchor_slots(const struct vd_store *st, int fd, struct vd_anchor *best,
    int *bestslot, int *empty)
{
	unsigned char buf[2 * ANCHOR_SLOT];
	struct vd_anchor a;
	ssize_t n;

	*bestslot = -1;
	*empty = 0;
	memset(best, 0, sizeof(*best));
	memset(buf, 0, sizeof(buf));
	if ((n = pread(fd, buf, sizeof(buf), 0)) < 0)
		return vd_err_set(-errno, "cannot read the freshness anchor: "
		    "%s", strerror(errno));
	if (n == 0) {
		*empty = 1;
		return 0;
	}
	for (int i = 0; i < 2; i++)
		if (anchor_decode(st, buf + i * ANCHOR_SLOT, &a) == 0 &&
		    (*bestslot < 0 || anchor_newer(&a, best))) {
			*best = a;
			*bestslot = i;
		}
	return 0;
}

/*
 * Opens the anchor without following a link: a regular file with one
 * link, owned by us, or (reading only) by the data directory's owner.
 * Returns the fd, or -1 with *r set (0 and *r == 0: no anchor file).
 */
static int
anchor_open(struct vd_store *st, int write, int *r)
{
	const char *path = anchor_file(st);
	struct stat sb, ds;
	int fd;

	*r = 0;
	if (path == NULL) {
		*r = VD_ENOMEM;
		return -1;
	}
	fd = open(path, (write ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0) {
		if (errno == ENOENT && !write)
			return -1;
		*r = vd_err_set(errno == ELOOP ? VD_EKEYPERM : -errno,
		    "freshness anchor %s: %s", path, errno == ELOOP ?
		    "a symbolic link: refused" : strerror(errno));
		return -1;
	}
	if (st->dir == NULL || stat(st->dir, &ds) != 0)
		ds.st_uid = geteuid();
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1 ||
	    (sb.st_uid != geteuid() && sb.st_uid != ds.st_uid)) {
		*r = vd_err_set(VD_EKEYPERM, "freshness anchor %s is not a "
		    "regular file of the vault's owner with one link: refused",
		    path);
		close(fd);
		return -1;
	}
	/*
	 * Root (vaultd before it drops privileges, an offline command) makes
	 * the anchor the data directory's owner's, as it does lock.mdb: the
	 * owner writes it from then on.  Through this descriptor, no link.
	 */
	if (write && geteuid() == 0 && sb.st_uid != ds.st_uid &&
	    fchown(fd, ds.st_uid, ds.st_gid) != 0)
		vd_log(LOG_DEBUG, "%s: chown: %s", path, strerror(errno));
	return fd;
}

/*
 * Writes st->head to the anchor unless the anchor already holds a state
 * as new (another writer was faster) — or always, into both slots, with
 * force (a new vault, a deliberate restore).  Failures are logged once and
 * otherwise ignored: the commit is durable, the anchor just lags.
 */
static void
anchor_update(struct vd_store *st, int force)
{
	unsigned char slot[ANCHOR_SLOT];
	struct vd_anchor best, now;
	int r, bestslot, empty, fd;

	if (!st->head_known || st->datakey == NULL ||
	    (st->flags & VD_STORE_RDONLY))
		return;
	if (st->anchor_fd < 0 && (st->anchor_fd = anchor_open(st, 1, &r)) < 0)
		goto fail;
	fd = st->anchor_fd;
	if (flock(fd, LOCK_EX) != 0) {
		r = vd_err_set(-errno, "flock: %s", strerror(errno));
		goto fail;
	}
	if ((r = anchor_slots(st, fd, &best, &bestslot, &empty)) != 0)
		goto unlock;
	now = st->head;
	now.written = vd_now();
	if (!force && bestslot >= 0 && !anchor_newer(&now, &best))
		goto unlock;
	if ((r = anchor_encode(st, &now, slot)) != 0)
		goto unlock;
	for (int i = 0; i < 2; i++) {
		if (!force && i == bestslot)
			continue;
		if (pwrite(fd, slot, sizeof(slot), (off_t)i * ANCHOR_SLOT) !=
		    (ssize_t)sizeof(slot)) {
			r = vd_err_set(-EIO, "cannot write");
			goto unlock;
		}
		if (!force)
			break;
	}
	st->anchor_warned = 0;
 unlock:
	(void)flock(fd, LOCK_UN);
	sodium_memzero(slot, sizeof(slot));
	if (r == 0)
		return;
 fail:
	if (!st->anchor_warned)
		vd_log(LOG_WARNING, "freshness anchor %s not updated (%s): a "
		    "rolled-back data directory will not be detected until it "
		    "is", vd_store_anchor_path(st), vd_err_detail());
	st->anchor_warned = 1;
}

/*
 * Adds a target's highest version to *sum, once its record is shown to be
 * the vault's own: a raw key planted with a high number (no key needed to
 * add one) must not make up for a version dropped elsewhere.
 */
static int
sum_last(struct vd_txn *t, const MDB_val *k, const MDB_val *v, uint64_t *sum)
{
	json_t *obj = NULL;
	int r;

	if ((r = open_json(t->st, DB_VERSIONS, k->mv_data, k->mv_size, v,
	    &obj)) != 0)
		return vd_err_set(VD_ECORRUPT, "a newest version record fails "
		    "authentication (planted or moved)");
	json_decref(obj);
	*sum += get_be64((const unsigned char *)k->mv_data + k->mv_size - 8);
	return 0;
}

/* Sum over targets of the highest version number (one walk of keys). */
static int
versions_sum(struct vd_txn *t, uint64_t *sum)
{
	MDB_cursor *c = NULL;
	MDB_val k, v, lk = { 0, NULL }, lv = { 0, NULL };
	int r = 0, rc;

	*sum = 0;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_VERSIONS], &c)) != 0)
		return mdb_err(rc, "cursor");
	/* Keys are name \0 be64(v), in order: a name's last key is its max. */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const unsigned char *p = k.mv_data;

		if (k.mv_size < 10 || p[k.mv_size - 9] != '\0')
			continue;
		if (lk.mv_data != NULL && (k.mv_size != lk.mv_size ||
		    memcmp(p, lk.mv_data, k.mv_size - 8) != 0) &&
		    (r = sum_last(t, &lk, &lv, sum)) != 0)
			break;
		lk = k;
		lv = v;
	}
	if (r == 0 && lk.mv_data != NULL && (rc == 0 || rc == MDB_NOTFOUND))
		r = sum_last(t, &lk, &lv, sum);
	mdb_cursor_close(c);
	if (r != 0)
		return r;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_err(rc, "cursor");
}

/* The vault's state now: audit head and versions sum. */
static int
head_now(struct vd_store *st, struct vd_anchor *now)
{
	struct vd_txn *t = NULL;
	int r;

	memset(now, 0, sizeof(*now));
	if ((r = vd_txn_begin(st, 0, &t)) != 0)
		return r;
	if ((r = audit_head(t, &now->audit_count, now->audit_hash)) == 0 &&
	    (r = versions_sum(t, &now->versions)) == 0) {
		unsigned char sum[MSET_BYTES];
		uint64_t records;
		int present;

		r = mset_get(t, &now->gen, &records, sum, &present);
	}
	vd_txn_abort(t);
	return r;
}

/* Hex hash of audit entry n as stored; VD_ECHAIN when it cannot open. */
static int
entry_hash(struct vd_store *st, uint64_t n, char *out)
{
	struct vd_txn *t = NULL;
	int r;

	if ((r = vd_txn_begin(st, 0, &t)) != 0)
		return r;
	r = vd_audit_entry_hash(t, n, out);
	vd_txn_abort(t);
	return r;
}

/* Reads the anchor into *a; *found 0 when there is none (or empty). */
static int
anchor_get(struct vd_store *st, struct vd_anchor *a, int *found)
{
	int fd, r, slot, empty;

	*found = 0;
	memset(a, 0, sizeof(*a));
	if ((fd = anchor_open(st, 0, &r)) < 0)
		return r;
	(void)flock(fd, LOCK_SH);
	r = anchor_slots(st, fd, a, &slot, &empty);
	close(fd);
	if (r != 0 || empty)
		return r;
	if (slot < 0)
		return vd_err_set(VD_ECORRUPT, "freshness anchor %s is damaged "
		    "or belongs to another vault", vd_store_anchor_path(st));
	*found = 1;
	return 0;
}

/*
 * Reads the anchor, then the vault's state into *now, and compares them:
 * 0 when now is not older.  In that order: the anchor never leads the
 * data, so a writer committing meanwhile (vaultd beside an offline audit
 * verify) can only make the state read second newer, never older.
 */
static int
anchor_compare(struct vd_store *st, struct vd_anchor *now,
    struct vd_anchor *a, int *found)
{
	char h[2 * VD_HASHBYTES + 1], ts[VD_TIME_STRLEN];
	int r;

	if ((r = anchor_get(st, a, found)) != 0 ||
	    (r = head_now(st, now)) != 0 || !*found)
		return r;
	vd_time_rfc3339(a->written, ts, sizeof(ts));
	if (now->audit_count < a->audit_count)
		return vd_err_set(VD_ECHAIN, "the data directory is older than "
		    "its freshness anchor %s (written %s): the audit log ends "
		    "at entry %llu, the anchor records entry %llu, so entries "
		    "%llu-%llu are missing (cut, or an older copy restored)",
		    vd_store_anchor_path(st), ts,
		    (unsigned long long)now->audit_count,
		    (unsigned long long)a->audit_count,
		    (unsigned long long)now->audit_count + 1,
		    (unsigned long long)a->audit_count);
	if (a->audit_count > 0) {
		r = entry_hash(st, a->audit_count, h);
		if (r != 0 || strcmp(h, a->audit_hash) != 0)
			return vd_err_set(VD_ECHAIN, "audit entry %llu is not "
			    "the one the freshness anchor %s recorded (written "
			    "%s): the log was replaced",
			    (unsigned long long)a->audit_count,
			    vd_store_anchor_path(st), ts);
	}
	if (now->versions < a->versions)
		return vd_err_set(VD_ECHAIN, "the data directory is older than "
		    "its freshness anchor %s (written %s): its versions sum to "
		    "%llu, the anchor records %llu (versions dropped, or "
		    "records of an older copy put back)",
		    vd_store_anchor_path(st), ts,
		    (unsigned long long)now->versions,
		    (unsigned long long)a->versions);
	if (now->gen < a->gen)
		return vd_err_set(VD_ECHAIN, "the data directory is older than "
		    "its freshness anchor %s (written %s): its integrity "
		    "record has generation %llu, the anchor records %llu (an "
		    "older integrity record with older records put back, or "
		    "an older copy restored)", vd_store_anchor_path(st), ts,
		    (unsigned long long)now->gen, (unsigned long long)a->gen);
	return 0;
}

int
vd_store_anchor_check(struct vd_store *st, struct vd_anchor *anchor,
    struct vd_anchor *now, int *found)
{
	struct vd_anchor a, n;
	int r;

	*found = 0;
	memset(&a, 0, sizeof(a));
	memset(&n, 0, sizeof(n));
	if (st->reckey == NULL)
		return VD_ESEALED;
	r = anchor_compare(st, &n, &a, found);
	if (anchor != NULL)
		*anchor = a;
	if (now != NULL)
		*now = n;
	return r;
}

/*
 * At unlock (read-write stores only; offline readers call
 * vd_store_anchor_check): learns the vault's state, refuses data older
 * than the anchor, and brings the anchor up to date (creating it after an
 * upgrade).
 */
static int
anchor_on_unlock(struct vd_store *st)
{
	struct vd_anchor a;
	int r, found = 0;

	if (st->flags & VD_STORE_RDONLY)
		return 0;
	if (st->flags & (VD_STORE_NEWANCHOR | VD_STORE_NOFRESH)) {
		if ((r = head_now(st, &st->head)) != 0)
			return r;
		st->head_known = 1;
		if (st->flags & VD_STORE_NEWANCHOR)
			anchor_update(st, 1);
		return mset_on_unlock(st);
	}
	if ((r = anchor_compare(st, &st->head, &a, &found)) != 0) {
		vd_log(LOG_CRIT, "refusing the vault in %s: %s", st->dir,
		    vd_err_detail());
		return r;
	}
	if (!found)
		vd_log(LOG_NOTICE, "no freshness anchor at %s yet: writing one",
		    vd_store_anchor_path(st));
	st->head_known = 1;
	if ((r = mset_on_unlock(st)) != 0)
		return r;
	anchor_update(st, 0);
	return 0;
}

int
vd_store_anchor_restore(struct vd_store *st, const json_t *by,
    struct vd_anchor *was, int *found)
{
	struct vd_anchor a, now;
	struct vd_txn *t = NULL;
	json_t *e = NULL;
	int r;

	*found = 0;
	memset(&a, 0, sizeof(a));
	if (st->reckey == NULL || !st->head_known)
		return VD_ESEALED;
	if (!(st->flags & VD_STORE_NOFRESH))
		return vd_err_set(VD_EINVAL, "a restore needs the vault opened "
		    "with VD_STORE_NOFRESH");
	r = anchor_get(st, &a, found);
	if (r != 0 && r != VD_ECORRUPT)
		return r;
	now = st->head;
	e = json_pack("{s:s,s:s,s:{s:I,s:I,s:I},s:O*}", "event", "restore",
	    "result", "ok", "found", "audit_count",
	    (json_int_t)now.audit_count, "versions", (json_int_t)now.versions,
	    "generation", (json_int_t)now.gen, "by", by);
	if (e == NULL)
		return VD_ENOMEM;
	if (*found)
		json_object_set_new(e, "anchor", json_pack(
		    "{s:I,s:s,s:I,s:I,s:I}", "audit_count",
		    (json_int_t)a.audit_count, "audit_hash", a.audit_hash,
		    "versions", (json_int_t)a.versions, "generation",
		    (json_int_t)a.gen, "written", (json_int_t)a.written));
	else
		json_object_set_new(e, "anchor", r == VD_ECORRUPT ?
		    json_string("damaged or another vault's") : json_null());
	if ((r = vd_txn_begin(st, 1, &t)) != 0 ||
	    (r = vd_audit_append(t, e, NULL)) != 0) {
		vd_txn_abort(t);
		goto out;
	}
	if ((r = vd_txn_commit(t)) != 0)
		goto out;
	/* The anchor now starts from here, whatever it held. */
	st->anchor_warned = 0;
	anchor_update(st, 1);
	if (st->anchor_warned) {
		r = vd_err_set(VD_ESTORE, "the restore is audited but the "
		    "freshness anchor %s could not be written",
		    vd_store_anchor_path(st));
		goto out;
	}
	if (was != NULL)
		*was = a;
	r = 0;
 out:
	json_decref(e);
	return r;
}

/* ---- integrity: the record, the full pass, the first computation ---- */

/*
 * The integrity record (meta database, key MSET_KEY, sealed like any
 * record): {"gen": generation, "records": count, "sum": hex of the sum}.
 * *present 0 (and the rest zero) when the vault has none yet.
 */
static int
mset_get(struct vd_txn *t, uint64_t *gen, uint64_t *records,
    unsigned char *sum, int *present)
{
	json_t *obj = NULL;
	json_int_t g, n;
	const char *h;
	int r;

	*gen = *records = 0;
	*present = 0;
	memset(sum, 0, MSET_BYTES);
	r = get_json(t, DB_META, (const unsigned char *)MSET_KEY,
	    sizeof(MSET_KEY) - 1, &obj);
	if (r == VD_ENOTFOUND)
		return 0;
	if (r != 0)
		return r;
	g = json_integer_value(json_object_get(obj, "gen"));
	n = json_integer_value(json_object_get(obj, "records"));
	h = json_string_value(json_object_get(obj, "sum"));
	if (g < 1 || n < 0 || h == NULL || strlen(h) != 2 * MSET_BYTES ||
	    sodium_hex2bin(sum, MSET_BYTES, h, 2 * MSET_BYTES, NULL, NULL,
	    NULL) != 0) {
		json_decref(obj);
		return vd_err_set(VD_ECORRUPT, "the integrity record is "
		    "malformed");
	}
	*gen = (uint64_t)g;
	*records = (uint64_t)n;
	*present = 1;
	json_decref(obj);
	return 0;
}

/* Writes the integrity record (not itself covered) in t. */
static int
mset_put(struct vd_txn *t, uint64_t gen, uint64_t records,
    const unsigned char *sum)
{
	char h[2 * MSET_BYTES + 1];
	json_t *obj;
	int r;

	hex(h, sum, MSET_BYTES);
	if ((obj = json_pack("{s:I,s:I,s:s}", "gen", (json_int_t)gen,
	    "records", (json_int_t)records, "sum", h)) == NULL)
		return VD_ENOMEM;
	r = put_json(t, DB_META, (const unsigned char *)MSET_KEY,
	    sizeof(MSET_KEY) - 1, obj, 0);
	json_decref(obj);
	return r;
}

/*
 * At commit of a write transaction that changed covered records: adds
 * the transaction's change to the integrity record and raises its
 * generation (the anchor follows after the commit).  Costs one record
 * read and one write per commit, not per record.
 */
static int
mset_commit(struct vd_txn *t)
{
	unsigned char sum[MSET_BYTES];
	uint64_t gen, records;
	int r, present;

	if ((r = mset_get(t, &gen, &records, sum, &present)) != 0)
		return r;
	if (!present)
		return vd_err_set(VD_ECHAIN, "the vault's integrity record is "
		    "missing: the store was modified outside vaultd");
	if (t->mcount < 0 && (uint64_t)-t->mcount > records)
		return vd_err_set(VD_ECHAIN, "the vault's integrity record "
		    "counts fewer records than are being removed: the store "
		    "was modified outside vaultd");
	crypto_core_ristretto255_scalar_add(sum, sum, t->mdelta);
	records = (uint64_t)((int64_t)records + t->mcount);
	if ((r = mset_put(t, gen + 1, records, sum)) != 0)
		return r;
	t->gen = gen + 1;
	t->fresh = 1;
	return 0;
}

/* Sums every covered record of t's snapshot into sum, *count of them. */
static int
mset_full(struct vd_txn *t, unsigned char *sum, uint64_t *count)
{
	unsigned char e[MSET_BYTES];
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	memset(sum, 0, MSET_BYTES);
	*count = 0;
	for (int i = 0; i < DB_COUNT; i++) {
		/* A later database an older vault lacks holds no record. */
		if (t->st->absent[i])
			continue;
		if ((rc = mdb_cursor_open(t->txn, t->st->dbi[i], &c)) != 0)
			return mdb_err(rc, "cursor");
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			if (!mset_covered(i, &k))
				continue;
			mset_elem(t->st, i, &k, &v, e);
			crypto_core_ristretto255_scalar_add(sum, sum, e);
			(*count)++;
		}
		mdb_cursor_close(c);
		if (rc != MDB_NOTFOUND)
			return mdb_err(rc, "cursor");
	}
	return 0;
}

int
vd_store_integrity_check(struct vd_store *st, struct vd_integrity *out)
{
	unsigned char want[MSET_BYTES], got[MSET_BYTES];
	struct vd_integrity in;
	struct vd_txn *t = NULL;
	int r;

	memset(&in, 0, sizeof(in));
	if (out != NULL)
		*out = in;
	if (st->msetkey == NULL)
		return VD_ESEALED;
	if ((r = vd_txn_begin(st, 0, &t)) != 0)
		return r;
	if ((r = mset_get(t, &in.gen, &in.records, want, &in.present)) != 0 ||
	    !in.present || (r = mset_full(t, got, &in.found)) != 0)
		goto out;
	if (in.found != in.records || sodium_memcmp(want, got, MSET_BYTES)
	    != 0) {
		const char *what = in.found < in.records ? "records removed" :
		    in.found > in.records ? "records added" :
		    "a record replaced: an older authentic copy put back, or "
		    "one edited";
		r = vd_err_set(VD_ECHAIN, "the store was modified outside "
		    "vaultd: its records do not match the vault's integrity "
		    "record (generation %llu, %llu records recorded, %llu "
		    "found: %s); use a backup of the data directory",
		    (unsigned long long)in.gen,
		    (unsigned long long)in.records,
		    (unsigned long long)in.found, what);
		goto out;
	}
	r = 0;
 out:
	vd_txn_abort(t);
	sodium_memzero(want, sizeof(want));
	sodium_memzero(got, sizeof(got));
	if (out != NULL)
		*out = in;
	return r;
}

/*
 * A vault without an integrity record (created before it existed, or
 * new): sums its records once, writes the record at generation 1, and,
 * unless new, says so in an audit entry in the same transaction.
 */
static int
mset_first(struct vd_store *st, int audited, uint64_t *count)
{
	unsigned char sum[MSET_BYTES];
	struct vd_txn *t = NULL;
	json_t *e = NULL;
	uint64_t gen, records;
	int r, present;

	if ((r = vd_txn_begin(st, 1, &t)) != 0)
		return r;
	/* Inside the write txn: nobody can add a record meanwhile. */
	if ((r = mset_get(t, &gen, &records, sum, &present)) != 0 ||
	    present || (r = mset_full(t, sum, count)) != 0 ||
	    (r = mset_put(t, 1, *count, sum)) != 0)
		goto out;
	t->gen = 1;
	t->fresh = 1;
	if (audited) {
		if ((e = json_pack("{s:s,s:s,s:I,s:s}", "event", "integrity",
		    "result", "ok", "records", (json_int_t)*count, "detail",
		    "integrity record computed over the records found (first "
		    "start with a vaultd that keeps one)")) == NULL) {
			r = VD_ENOMEM;
			goto out;
		}
		if ((r = vd_audit_append(t, e, NULL)) != 0)
			goto out;
	}
	r = vd_txn_commit(t);
	t = NULL;
 out:
	vd_txn_abort(t);
	json_decref(e);
	sodium_memzero(sum, sizeof(sum));
	return r;
}

/*
 * At a read-write unlock: the full pass (refuses a store modified outside
 * vaultd), or the first computation of the integrity record.
 */
static int
mset_on_unlock(struct vd_store *st)
{
	struct vd_integrity in;
	uint64_t count = 0;
	int r, isnew = (st->flags & VD_STORE_NEWANCHOR) != 0;

	if ((r = vd_store_integrity_check(st, &in)) != 0) {
		vd_log(LOG_CRIT, "refusing the vault in %s: %s", st->dir,
		    vd_err_detail());
		return r;
	}
	if (in.present)
		return 0;
	if ((r = mset_first(st, !isnew, &count)) != 0) {
		vd_log(LOG_CRIT, "cannot write the vault's integrity record: "
		    "%s", vd_err_detail());
		return r;
	}
	if (!isnew)
		vd_log(LOG_NOTICE, "vault in %s: integrity record computed over "
		    "%llu records (audited)", st->dir, (unsigned long long)count);
	return 0;
}

/* ---- raw access for tamper tests ------------------------------------ */

static int
db_index(const char *db)
{
	for (int i = 0; i < DB_COUNT; i++)
		if (strcmp(db, db_names[i]) == 0)
			return i;
	return -1;
}

int
vd_store_raw_each(struct vd_txn *t,
    int (*cb)(const char *db, const void *key, size_t klen, const void *val,
    size_t vlen, void *arg), void *arg)
{
	MDB_cursor *c;
	MDB_val k, v;
	int r = 0, rc;

	for (int i = 0; i < DB_COUNT && r == 0; i++) {
		if (t->st->absent[i])
			continue;
		if ((rc = mdb_cursor_open(t->txn, t->st->dbi[i], &c)) != 0)
			return mdb_err(rc, "cursor");
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
			if ((r = cb(db_names[i], k.mv_data, k.mv_size,
			    v.mv_data, v.mv_size, arg)) != 0)
				break;
		mdb_cursor_close(c);
	}
	return r;
}

int
vd_store_raw_put(struct vd_txn *t, const char *db, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	int i = db_index(db), rc;

	if (i < 0)
		return VD_EINVAL;
	if ((rc = mdb_put(t->txn, t->st->dbi[i], &k, &v, 0)) != 0)
		return mdb_err(rc, "raw put");
	return 0;
}

int
vd_store_raw_del(struct vd_txn *t, const char *db, const void *key,
    size_t klen)
{
	MDB_val k = { klen, (void *)key };
	int i = db_index(db), rc;

	if (i < 0)
		return VD_EINVAL;
	/* Not del_key(): an attacker's delete leaves the sum alone. */
	if ((rc = mdb_del(t->txn, t->st->dbi[i], &k, NULL)) != 0)
		return mdb_err(rc, "raw delete");
	return 0;
}

int
vd_store_raw_check(struct vd_txn *t, const char *db, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	MDB_val v = { vlen, (void *)val };
	unsigned char *pt;
	int i = db_index(db), r;

	if (i < 0)
		return VD_EINVAL;
	/* Envelopes are the escrow module's; the meta record opens at unlock. */
	if (i == DB_ESCROW || (i == DB_META && klen == 4 &&
	    memcmp(key, "meta", 4) == 0))
		return 0;
	if (t->st->reckey == NULL)
		return VD_ESEALED;
	if (vlen < NONCEBYTES + TAGBYTES)
		return vd_err_set(VD_ECORRUPT, "record in %s is malformed", db);
	/*
	 * Passwords (the secrets database) open into locked memory; the other
	 * records are JSON without secrets, and a whole-vault check opens
	 * every one of them: sodium_malloc's mmap and guard pages per record
	 * made it several times slower.
	 */
	pt = i == DB_SECRETS ? sodium_malloc(vlen - NONCEBYTES - TAGBYTES + 1) :
	    malloc(vlen - NONCEBYTES - TAGBYTES + 1);
	if (pt == NULL)
		return VD_ENOMEM;
	r = open_val(t->st, i, key, klen, &v, pt);
	sodium_memzero(pt, vlen - NONCEBYTES - TAGBYTES + 1);
	if (i == DB_SECRETS)
		sodium_free(pt);
	else
		free(pt);
	return r;
}
