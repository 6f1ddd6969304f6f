/*
 * test_store.c - the encrypted LMDB store: round trips, tamper detection,
 * wrong keys, read-only access beside a writer, durability, the audit chain,
 * history paging over 100,000 entries, and the data directory's one-writer
 * lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "err.h"
#include "mem.h"
#include "store.h"
#include "util.h"

static char tmproot[] = "/tmp/vd-test-store.XXXXXX";

static void
path_in(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", tmproot, name);

	CHECK(n > 0 && (size_t)n < len);
}

/* Creates a key-file vault in tmproot/name; returns it open, unlocked. */
static struct vd_store *
new_vault(const char *name, struct vd_secret **keyp)
{
	char dir[256], kf[256];
	struct vd_secret *key;
	struct vd_store *st;

	path_in(dir, sizeof(dir), name);
	CHECK(snprintf(kf, sizeof(kf), "%.200s.key", dir) > 0);
	CHECK_OK(vd_keyfile_create(kf));
	CHECK_OK(vd_keyfile_load(kf, &key));
	CHECK_OK(vd_store_create(dir, VD_KDF_KEYFILE, key, NULL, &st));
	if (keyp)
		*keyp = key;
	else
		vd_secret_free(key);
	return st;
}

static struct vd_secret *
pw(const char *s)
{
	struct vd_secret *p = vd_secret_from(s, strlen(s));

	CHECK(p != NULL);
	return p;
}

/* ---- round trips of every record type ------------------------------- */

static int
count_cb(const char *name, json_t *obj, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int
ver_cb(uint64_t v, json_t *meta, void *arg)
{
	uint64_t *last = arg;

	CHECK(*last == 0 || v < *last);	/* newest first */
	*last = v;
	return 0;
}

static int
esc_cb(const char *target, uint64_t v, const char *party,
    const unsigned char *env, size_t len, void *arg)
{
	(*(int *)arg)++;
	CHECK_STR_EQ(target, "db1");
	CHECK(v == 1 || v == 2);
	CHECK(strcmp(party, "customer") == 0 || strcmp(party, "vendor") == 0);
	return 0;
}

static void
test_roundtrip(void)
{
	struct vd_store *st = new_vault("rt", NULL);
	struct vd_txn *t;
	struct vd_secret *p1 = pw("Str0ng!pass-word#1"), *p2 = pw("x"), *out;
	json_t *obj, *got;
	unsigned char *env;
	size_t envlen;
	uint64_t last = 0, seq;
	int n = 0;

	CHECK_OK(vd_txn_begin(st, 1, &t));
	obj = json_pack("{s:s,s:i,s:s}", "host", "127.0.0.1", "port", 3306,
	    "user", "root");
	CHECK_OK(vd_target_put(t, "db1", obj, 1));
	CHECK_INT_EQ(vd_target_put(t, "db1", obj, 1), VD_EEXIST);
	CHECK_OK(vd_target_put(t, "db2", obj, 1));
	CHECK_INT_EQ(vd_target_put(t, "../bad", obj, 1), VD_EINVAL);
	json_decref(obj);
	CHECK_OK(vd_secret_put(t, "db1", 1, p1));
	CHECK_OK(vd_secret_put(t, "db1", 2, p2));
	CHECK_INT_EQ(vd_secret_put(t, "db1", 2, p1), VD_EEXIST);
	CHECK_INT_EQ(vd_secret_put(t, "db1", 0, p1), VD_EINVAL);
	obj = json_pack("{s:s}", "state", "current");
	CHECK_OK(vd_version_put(t, "db1", 1, obj));
	CHECK_OK(vd_version_put(t, "db1", 2, obj));
	CHECK_OK(vd_version_put(t, "db10", 7, obj));	/* a name sharing a prefix */
	json_decref(obj);
	CHECK_OK(vd_envelope_put(t, "db1", 1, "customer", "env-c1", 6));
	CHECK_OK(vd_envelope_put(t, "db1", 1, "vendor", "env-v1", 6));
	CHECK_OK(vd_envelope_put(t, "db1", 2, "vendor", "env-v2", 6));
	CHECK_OK(vd_envelope_put(t, "db2", 1, "vendor", "other", 5));
	obj = json_pack("{s:s}", "result", "ok");
	CHECK_OK(vd_history_append(t, "db1", obj, &seq));
	CHECK_INT_EQ(seq, 1);
	CHECK_OK(vd_history_append(t, "db1", obj, &seq));
	CHECK_INT_EQ(seq, 2);
	CHECK_OK(vd_audit_append(t, obj, &seq));
	CHECK_INT_EQ(seq, 1);
	CHECK_OK(vd_sched_put(t, "db1", obj));
	json_decref(obj);
	CHECK_OK(vd_txn_commit(t));

	CHECK_OK(vd_txn_begin(st, 0, &t));
	CHECK_OK(vd_target_get(t, "db1", &got));
	CHECK_STR_EQ(json_string_value(json_object_get(got, "host")),
	    "127.0.0.1");
	CHECK_INT_EQ(json_integer_value(json_object_get(got, "port")), 3306);
	json_decref(got);
	CHECK_INT_EQ(vd_target_get(t, "nope", &got), VD_ENOTFOUND);
	CHECK_OK(vd_target_each(t, count_cb, &n));
	CHECK_INT_EQ(n, 2);
	CHECK_OK(vd_secret_get(t, "db1", 1, &out));
	CHECK(vd_secret_eq(out, p1));
	CHECK_INT_EQ(out->data[out->len], 0);
	vd_secret_free(out);
	CHECK_OK(vd_secret_get(t, "db1", 2, &out));
	CHECK(vd_secret_eq(out, p2));
	vd_secret_free(out);
	CHECK_INT_EQ(vd_secret_get(t, "db1", 3, &out), VD_ENOTFOUND);
	CHECK_INT_EQ(vd_secret_get(t, "db1", 0, &out), VD_ENOTFOUND);
	CHECK_INT_EQ(vd_admin_secret_get(t, "db1", &out), VD_ENOTFOUND);
	CHECK_OK(vd_version_last(t, "db1", &last));
	CHECK_INT_EQ(last, 2);
	CHECK_OK(vd_version_last(t, "db10", &last));
	CHECK_INT_EQ(last, 7);
	CHECK_OK(vd_version_last(t, "db2", &last));
	CHECK_INT_EQ(last, 0);
	last = 0;
	CHECK_OK(vd_version_each(t, "db1", 0, ver_cb, &last));
	CHECK_INT_EQ(last, 1);
	CHECK_OK(vd_envelope_get(t, "db1", 2, "vendor", &env, &envlen));
	CHECK(envlen == 6 && memcmp(env, "env-v2", 6) == 0);
	free(env);
	n = 0;
	CHECK_OK(vd_envelope_each(t, "db1", esc_cb, &n));
	CHECK_INT_EQ(n, 3);
	CHECK_OK(vd_sched_get(t, "db1", &got));
	CHECK_STR_EQ(json_string_value(json_object_get(got, "result")), "ok");
	json_decref(got);
	vd_txn_abort(t);

	/* Deletes and escrow pruning. */
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_envelope_del(t, "db1", 1));
	CHECK_OK(vd_secret_del(t, "db1", 1));
	CHECK_OK(vd_admin_secret_put(t, "db1", p2));
	CHECK_OK(vd_admin_secret_put(t, "db1", p1));	/* replaces */
	CHECK_OK(vd_admin_secret_get(t, "db1", &out));
	CHECK(vd_secret_eq(out, p1));
	vd_secret_free(out);
	CHECK_OK(vd_version_last(t, "db1", &last));
	CHECK_INT_EQ(last, 2);	/* the admin slot is not a version */
	CHECK_OK(vd_target_del(t, "db2"));
	CHECK_INT_EQ(vd_target_del(t, "db2"), VD_ENOTFOUND);
	CHECK_OK(vd_txn_commit(t));
	CHECK_OK(vd_txn_begin(st, 0, &t));
	n = 0;
	CHECK_OK(vd_envelope_each(t, "db1", esc_cb, &n));
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(vd_secret_get(t, "db1", 1, &out), VD_ENOTFOUND);
	vd_txn_abort(t);

	vd_secret_free(p1);
	vd_secret_free(p2);
	vd_store_close(st);
}

/* ---- swapped ciphertexts and byte flips ----------------------------- */

struct rawrec {
	char		 db[16];
	unsigned char	 key[160];
	size_t		 klen;
	unsigned char	*val;
	size_t		 vlen;
};

struct rawset {
	struct rawrec	 r[64];
	int		 n;
};

static int
collect_cb(const char *db, const void *key, size_t klen, const void *val,
    size_t vlen, void *arg)
{
	struct rawset *rs = arg;
	struct rawrec *r;

	CHECK(rs->n < 64 && klen <= sizeof(r->key));
	r = &rs->r[rs->n++];
	snprintf(r->db, sizeof(r->db), "%s", db);
	memcpy(r->key, key, klen);
	r->klen = klen;
	CHECK((r->val = malloc(vlen)) != NULL);
	memcpy(r->val, val, vlen);
	r->vlen = vlen;
	return 0;
}

static int
hist_nop(uint64_t seq, json_t *e, void *arg)
{
	return 0;
}

/*
 * Tries to open the record rr as its type; returns 0 when it opened (and,
 * for secrets, sets *opened).
 */
static int
open_rec(struct vd_txn *t, const struct rawrec *rr, struct vd_secret **opened)
{
	char name[VD_NAME_MAX + 1];
	json_t *obj = NULL;
	uint64_t v = 0, cnt, bad;
	size_t nl = strnlen((const char *)rr->key, rr->klen);
	int r;

	*opened = NULL;
	memcpy(name, rr->key, nl);
	name[nl] = '\0';
	if (nl + 9 == rr->klen)
		for (int i = 0; i < 8; i++)
			v = (v << 8) | rr->key[nl + 1 + i];
	if (strcmp(rr->db, "targets") == 0)
		r = vd_target_get(t, name, &obj);
	else if (strcmp(rr->db, "schedule") == 0)
		r = vd_sched_get(t, name, &obj);
	else if (strcmp(rr->db, "secrets") == 0)
		r = vd_secret_get(t, name, v, opened);
	else if (strcmp(rr->db, "versions") == 0)
		r = vd_version_get(t, name, v, &obj);
	else if (strcmp(rr->db, "history") == 0) {
		/* history_each opens every entry of the target */
		r = vd_history_each(t, name, 0, 0, hist_nop, NULL);
	} else if (strcmp(rr->db, "audit") == 0 || strcmp(rr->db, "meta") == 0)
		r = vd_audit_verify(t, &cnt, &bad);
	else if (strcmp(rr->db, "requests") == 0) {
		long long id;

		CHECK_OK(vd_parse_int(name, 1, 9999999999LL, &id));
		r = vd_request_get(t, (uint64_t)id, &obj);
	} else
		r = -1;
	json_decref(obj);
	return r;
}

static void
test_tamper(void)
{
	struct vd_secret *key, *a = pw("alpha-secret-1"), *b = pw("beta-secret-2");
	struct vd_store *st = new_vault("tamper", &key);
	struct rawset rs = { .n = 0 };
	struct vd_txn *t;
	json_t *obj;
	int flips = 0;

	CHECK_OK(vd_txn_begin(st, 1, &t));
	obj = json_pack("{s:s}", "host", "h");
	CHECK_OK(vd_target_put(t, "t1", obj, 1));
	CHECK_OK(vd_target_put(t, "t2", obj, 1));
	CHECK_OK(vd_secret_put(t, "t1", 1, a));
	CHECK_OK(vd_secret_put(t, "t1", 2, b));
	CHECK_OK(vd_secret_put(t, "t2", 1, b));
	CHECK_OK(vd_version_put(t, "t1", 1, obj));
	CHECK_OK(vd_history_append(t, "t1", obj, NULL));
	CHECK_OK(vd_audit_append(t, obj, NULL));
	CHECK_OK(vd_sched_put(t, "t1", obj));
	CHECK_OK(vd_request_put(t, 1, obj));
	CHECK_OK(vd_request_put(t, 2, obj));
	json_decref(obj);
	CHECK_OK(vd_txn_commit(t));

	/* Swap: request 1's ciphertext placed at request 2 must not open. */
	CHECK_OK(vd_txn_begin(st, 0, &t));
	CHECK_OK(vd_store_raw_each(t, collect_cb, &rs));
	vd_txn_abort(t);
	{
		struct rawrec *q1 = NULL, *q2 = NULL;
		uint64_t last;

		for (int i = 0; i < rs.n; i++)
			if (strcmp(rs.r[i].db, "requests") == 0 &&
			    rs.r[i].klen == 10)
				*(rs.r[i].key[9] == '1' ? &q1 : &q2) = &rs.r[i];
		CHECK(q1 && q2);
		CHECK_OK(vd_txn_begin(st, 1, &t));
		CHECK_OK(vd_request_last(t, &last));
		CHECK(last == 2);
		CHECK_OK(vd_request_get(t, 2, &obj));
		json_decref(obj);
		CHECK_OK(vd_store_raw_put(t, "requests", q2->key, q2->klen,
		    q1->val, q1->vlen));
		CHECK_INT_EQ(vd_request_get(t, 2, &obj), VD_ECORRUPT);
		CHECK_INT_EQ(vd_request_get(t, 3, &obj), VD_ENOTFOUND);
		CHECK_INT_EQ(vd_request_get(t, 0, &obj), VD_EINVAL);
		vd_txn_abort(t);
	}
	for (int i = 0; i < rs.n; i++)
		free(rs.r[i].val);
	rs.n = 0;

	/* Swap: version 1's ciphertext placed at version 2 must not open. */
	CHECK_OK(vd_txn_begin(st, 0, &t));
	CHECK_OK(vd_store_raw_each(t, collect_cb, &rs));
	vd_txn_abort(t);
	{
		struct rawrec *s1 = NULL, *s2 = NULL, *s3 = NULL;
		struct vd_secret *out;

		for (int i = 0; i < rs.n; i++) {
			if (strcmp(rs.r[i].db, "secrets") != 0)
				continue;
			if (rs.r[i].key[1] == '1' && rs.r[i].key[10] == 1)
				s1 = &rs.r[i];
			else if (rs.r[i].key[1] == '1')
				s2 = &rs.r[i];
			else
				s3 = &rs.r[i];
		}
		CHECK(s1 && s2 && s3);
		CHECK_OK(vd_txn_begin(st, 1, &t));
		/* t1 v1 -> t1 v2 (another version) and t1 v1 -> t2 v1. */
		CHECK_OK(vd_store_raw_put(t, "secrets", s2->key, s2->klen,
		    s1->val, s1->vlen));
		CHECK_OK(vd_store_raw_put(t, "secrets", s3->key, s3->klen,
		    s1->val, s1->vlen));
		CHECK_INT_EQ(vd_secret_get(t, "t1", 2, &out), VD_ECORRUPT);
		CHECK(out == NULL);
		CHECK_INT_EQ(vd_secret_get(t, "t2", 1, &out), VD_ECORRUPT);
		CHECK_OK(vd_secret_get(t, "t1", 1, &out));
		CHECK(vd_secret_eq(out, a));
		vd_secret_free(out);
		vd_txn_abort(t);
	}

	/* Every single-byte flip of every sealed record fails to open. */
	for (int i = 0; i < rs.n; i++) {
		struct rawrec *rr = &rs.r[i];

		if (strcmp(rr->db, "escrow") == 0)
			continue;	/* stored raw; escrow authenticates */
		if (strcmp(rr->db, "meta") == 0 && rr->klen == 4)
			continue;	/* the meta record: checked below */
		if (strcmp(rr->db, "meta") == 0 && rr->klen == 9 &&
		    memcmp(rr->key, "integrity", 9) == 0)
			continue;	/* test_integrity */
		for (size_t off = 0; off < rr->vlen; off++) {
			struct vd_secret *opened = NULL;
			unsigned char *mod = malloc(rr->vlen);
			int r;

			CHECK(mod != NULL);
			memcpy(mod, rr->val, rr->vlen);
			mod[off] ^= (unsigned char)(1u << (off % 8));
			CHECK_OK(vd_txn_begin(st, 1, &t));
			CHECK_OK(vd_store_raw_put(t, rr->db, rr->key, rr->klen,
			    mod, rr->vlen));
			r = open_rec(t, rr, &opened);
			if (r == 0)
				fprintf(stderr, "flip %s off %zu opened\n",
				    rr->db, off);
			CHECK(r == VD_ECORRUPT || r == VD_ECHAIN);
			CHECK(opened == NULL);
			vd_txn_abort(t);
			free(mod);
			flips++;
		}
	}
	CHECK(flips > 300);

	/* Every flip of the meta record: the key no longer opens it. */
	for (int i = 0; i < rs.n; i++) {
		struct rawrec *rr = &rs.r[i];
		char dir[256];

		if (strcmp(rr->db, "meta") != 0 || rr->klen != 4)
			continue;
		path_in(dir, sizeof(dir), "tamper");
		for (size_t off = 0; off < rr->vlen; off++) {
			unsigned char *mod = malloc(rr->vlen);
			struct vd_store *st2;
			int r;

			CHECK(mod != NULL);
			memcpy(mod, rr->val, rr->vlen);
			mod[off] ^= 0x01;
			CHECK_OK(vd_txn_begin(st, 1, &t));
			CHECK_OK(vd_store_raw_put(t, "meta", rr->key, 4, mod,
			    rr->vlen));
			CHECK_OK(vd_txn_commit(t));
			r = vd_store_open(dir, VD_STORE_RDONLY, &st2);
			if (r == 0) {
				r = vd_store_unlock(st2, key);
				vd_store_close(st2);
			}
			CHECK(r == VD_EBADKEY || r == VD_ENOTVAULT ||
			    r == VD_EFORMAT);
			free(mod);
		}
		CHECK_OK(vd_txn_begin(st, 1, &t));
		CHECK_OK(vd_store_raw_put(t, "meta", rr->key, 4, rr->val,
		    rr->vlen));
		CHECK_OK(vd_txn_commit(t));
	}
	for (int i = 0; i < rs.n; i++)
		free(rs.r[i].val);
	vd_store_close(st);
	vd_secret_free(key);
	vd_secret_free(a);
	vd_secret_free(b);
}

/* ---- keys, passphrases, bad directories ----------------------------- */

static void
test_keys(void)
{
	struct vd_secret *key, *other, *pass, *wrong;
	struct vd_kdf_params fast = { crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE };
	struct vd_store *st = new_vault("keys", &key);
	char dir[256], kf[256], pdir[256], empty[256];
	struct vd_txn *t;
	int fd;

	vd_store_close(st);
	path_in(dir, sizeof(dir), "keys");
	path_in(kf, sizeof(kf), "other.key");
	CHECK_OK(vd_keyfile_create(kf));
	CHECK_INT_EQ(vd_keyfile_create(kf), VD_EEXIST);
	CHECK_OK(vd_keyfile_load(kf, &other));

	/* Wrong key. */
	CHECK_OK(vd_store_open(dir, 0, &st));
	CHECK(!vd_store_unlocked(st));
	CHECK_INT_EQ(vd_txn_begin(st, 0, &t), 0);
	{
		json_t *o;

		CHECK_INT_EQ(vd_target_get(t, "x", &o), VD_ESEALED);
	}
	vd_txn_abort(t);
	CHECK_INT_EQ(vd_store_unlock(st, other), VD_EBADKEY);
	CHECK_OK(vd_store_unlock(st, key));
	CHECK(vd_store_unlocked(st));
	vd_store_close(st);

	/* A vault already there is never overwritten. */
	CHECK_INT_EQ(vd_store_create(dir, VD_KDF_KEYFILE, other, NULL, &st),
	    VD_EEXIST);

	/* Key file: loose permissions, wrong size. */
	CHECK_OK(chmod(kf, 0640));
	CHECK_INT_EQ(vd_keyfile_load(kf, &wrong), VD_EKEYPERM);
	CHECK_OK(chmod(kf, 0600));
	CHECK(truncate(kf, 31) == 0);
	CHECK_INT_EQ(vd_keyfile_load(kf, &wrong), VD_EKEYFILE);

	/* Not a vault: empty dir, missing dir, dir writable by others. */
	path_in(empty, sizeof(empty), "empty");
	CHECK_OK(mkdir(empty, 0700));
	CHECK_INT_EQ(vd_store_open(empty, 0, &st), VD_ENOTVAULT);
	path_in(empty, sizeof(empty), "missing");
	CHECK_INT_EQ(vd_store_open(empty, 0, &st), VD_ENOTVAULT);
	path_in(empty, sizeof(empty), "garbage");
	CHECK_OK(mkdir(empty, 0700));
	{
		char f[300];

		snprintf(f, sizeof(f), "%s/data.mdb", empty);
		CHECK((fd = open(f, O_WRONLY | O_CREAT, 0600)) >= 0);
		CHECK(write(fd, "not an lmdb file at all, not even close....",
		    40) == 40);
		close(fd);
		CHECK(vd_store_open(empty, 0, &st) == VD_ENOTVAULT);
	}
	CHECK_OK(chmod(dir, 0777));
	CHECK_INT_EQ(vd_store_open(dir, 0, &st), VD_EKEYPERM);
	CHECK_OK(chmod(dir, 0700));

	/* Passphrase vault: right and wrong passphrase. */
	path_in(pdir, sizeof(pdir), "pass");
	pass = pw("correct horse battery staple");
	wrong = pw("correct horse battery stapler");
	CHECK_OK(vd_store_create(pdir, VD_KDF_ARGON2ID, pass, &fast, &st));
	vd_store_close(st);
	CHECK_OK(vd_store_open(pdir, 0, &st));
	CHECK_INT_EQ(vd_store_kdf(st), VD_KDF_ARGON2ID);
	CHECK_INT_EQ(vd_store_unlock(st, wrong), VD_EBADKEY);
	CHECK_INT_EQ(vd_store_unlock(st, key), VD_EBADKEY);
	CHECK_OK(vd_store_unlock(st, pass));
	vd_store_close(st);

	/* A newer format is refused before any key is tried. */
	CHECK_OK(vd_store_open(dir, 0, &st));
	CHECK_OK(vd_store_unlock(st, key));
	{
		struct rawset rs = { .n = 0 };

		CHECK_OK(vd_txn_begin(st, 0, &t));
		CHECK_OK(vd_store_raw_each(t, collect_cb, &rs));
		vd_txn_abort(t);
		for (int i = 0; i < rs.n; i++) {
			if (strcmp(rs.r[i].db, "meta") == 0 &&
			    rs.r[i].klen == 4) {
				rs.r[i].val[11] = VD_FORMAT_VERSION + 1;
				CHECK_OK(vd_txn_begin(st, 1, &t));
				CHECK_OK(vd_store_raw_put(t, "meta", "meta", 4,
				    rs.r[i].val, rs.r[i].vlen));
				CHECK_OK(vd_txn_commit(t));
			}
			free(rs.r[i].val);
		}
	}
	vd_store_close(st);
	CHECK_INT_EQ(vd_store_open(dir, 0, &st), VD_EFORMAT);
	CHECK(strstr(vd_err_detail(), "upgrade") != NULL);

	vd_secret_free(key);
	vd_secret_free(other);
	vd_secret_free(pass);
	vd_secret_free(wrong);
}

/* ---- a reader beside a writer; durability --------------------------- */

static void
test_processes(void)
{
	struct vd_secret *key, *p = pw("durable-password-42"), *out;
	struct vd_store *st = new_vault("proc", &key);
	struct vd_txn *t;
	char dir[256];
	json_t *obj;
	pid_t pid;
	int status, pfd[2];

	path_in(dir, sizeof(dir), "proc");
	CHECK_OK(vd_txn_begin(st, 1, &t));
	obj = json_pack("{s:s}", "host", "h");
	CHECK_OK(vd_target_put(t, "committed", obj, 1));
	CHECK_OK(vd_txn_commit(t));

	/*
	 * The parent holds a write transaction open (uncommitted target
	 * "pending"); a child opens the vault read-only and must see the
	 * committed target and not the pending one.
	 */
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_target_put(t, "pending", obj, 1));
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct vd_store *ro;
		struct vd_txn *rt;
		json_t *o;

		if (vd_store_open(dir, VD_STORE_RDONLY, &ro) != 0 ||
		    vd_store_unlock(ro, key) != 0 ||
		    vd_txn_begin(ro, 0, &rt) != 0)
			_exit(10);
		if (vd_target_get(rt, "committed", &o) != 0)
			_exit(11);
		json_decref(o);
		if (vd_target_get(rt, "pending", &o) != VD_ENOTFOUND)
			_exit(12);
		vd_txn_abort(rt);
		{
			struct vd_txn *wt;

			if (vd_txn_begin(ro, 1, &wt) != VD_ERDONLY)
				_exit(13);
		}
		vd_store_close(ro);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_INT_EQ(WEXITSTATUS(status), 0);
	CHECK_OK(vd_txn_commit(t));
	vd_store_close(st);

	/*
	 * Durability: a child commits a secret, reports back, then dies
	 * with _exit (no close, no atexit); the parent finds it.
	 */
	CHECK(pipe(pfd) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct vd_store *w;
		struct vd_txn *wt;

		close(pfd[0]);
		if (vd_store_open(dir, 0, &w) != 0 ||
		    vd_store_unlock(w, key) != 0 ||
		    vd_txn_begin(w, 1, &wt) != 0 ||
		    vd_secret_put(wt, "committed", 1, p) != 0 ||
		    vd_txn_commit(wt) != 0)
			_exit(20);
		if (write(pfd[1], "k", 1) != 1)
			_exit(21);
		_exit(0);
	}
	close(pfd[1]);
	{
		char c;

		CHECK(read(pfd[0], &c, 1) == 1);
		close(pfd[0]);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_OK(vd_store_open(dir, 0, &st));
	CHECK_OK(vd_store_unlock(st, key));
	CHECK_OK(vd_txn_begin(st, 0, &t));
	CHECK_OK(vd_secret_get(t, "committed", 1, &out));
	CHECK(vd_secret_eq(out, p));
	vd_secret_free(out);
	vd_txn_abort(t);
	vd_store_close(st);
	json_decref(obj);
	vd_secret_free(p);
	vd_secret_free(key);
}

/* ---- audit chain ---------------------------------------------------- */

/* The raw record key (klen bytes) of database db into *out (val malloc'd). */
static void
raw_pick(struct vd_store *st, const char *db, const void *key, size_t klen,
    struct rawrec *out)
{
	struct rawset rs = { .n = 0 };
	struct vd_txn *t;
	int found = 0;

	CHECK_OK(vd_txn_begin(st, 0, &t));
	CHECK_OK(vd_store_raw_each(t, collect_cb, &rs));
	vd_txn_abort(t);
	for (int i = 0; i < rs.n; i++) {
		struct rawrec *r = &rs.r[i];

		if (!found && strcmp(r->db, db) == 0 && r->klen == klen &&
		    memcmp(r->key, key, klen) == 0) {
			*out = *r;
			found = 1;
			continue;
		}
		free(r->val);
	}
	CHECK(found);
}

static void
audit_raw(struct vd_store *st, uint64_t seq, struct rawrec *out)
{
	unsigned char key[8];

	for (int j = 0; j < 8; j++)		/* big-endian, as the store */
		key[j] = (unsigned char)(seq >> (56 - 8 * j));
	raw_pick(st, "audit", key, sizeof(key), out);
}

static void
verify_expect(struct vd_store *st, int want_r, uint64_t want_bad)
{
	struct vd_txn *t;
	uint64_t count, bad;
	int r;

	CHECK_OK(vd_txn_begin(st, 0, &t));
	r = vd_audit_verify(t, &count, &bad);
	vd_txn_abort(t);
	if (r != want_r || bad != want_bad)
		fprintf(stderr, "verify: r=%d bad=%llu (%s)\n", r,
		    (unsigned long long)bad, vd_err_detail());
	CHECK_INT_EQ(r, want_r);
	CHECK_INT_EQ(bad, want_bad);
}

static int
audit_list_cb(uint64_t seq, json_t *e, void *arg)
{
	uint64_t *expect = arg;

	CHECK_INT_EQ(seq, *expect);
	CHECK_INT_EQ(json_integer_value(json_object_get(e, "n")), seq);
	(*expect)--;
	return 0;
}

static void
test_audit(void)
{
	struct vd_store *st = new_vault("audit", NULL);
	struct rawrec r3, r4, r10;
	struct vd_txn *t;
	uint64_t count, bad, expect = 10;
	unsigned char k[8] = { 0 };

	CHECK_OK(vd_txn_begin(st, 1, &t));
	for (int i = 1; i <= 10; i++) {
		json_t *e = json_pack("{s:i,s:s}", "n", i, "method", "get");

		CHECK_OK(vd_audit_append(t, e, NULL));
		json_decref(e);
	}
	CHECK_OK(vd_txn_commit(t));
	CHECK_OK(vd_txn_begin(st, 0, &t));
	CHECK_OK(vd_audit_verify(t, &count, &bad));
	CHECK_INT_EQ(count, 10);
	CHECK_OK(vd_audit_each(t, 0, audit_list_cb, &expect));
	CHECK_INT_EQ(expect, 0);
	vd_txn_abort(t);

	/* Edited: a flipped byte in entry 4. */
	audit_raw(st, 4, &r4);
	r4.val[30] ^= 0x20;
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_put(t, "audit", r4.key, 8, r4.val, r4.vlen));
	CHECK_OK(vd_txn_commit(t));
	verify_expect(st, VD_ECORRUPT, 4);
	r4.val[30] ^= 0x20;
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_put(t, "audit", r4.key, 8, r4.val, r4.vlen));
	CHECK_OK(vd_txn_commit(t));
	verify_expect(st, 0, 0);

	/* Re-ordered: entries 3 and 4 swapped. */
	audit_raw(st, 3, &r3);
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_put(t, "audit", r3.key, 8, r4.val, r4.vlen));
	CHECK_OK(vd_store_raw_put(t, "audit", r4.key, 8, r3.val, r3.vlen));
	CHECK_OK(vd_txn_commit(t));
	verify_expect(st, VD_ECORRUPT, 3);
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_put(t, "audit", r3.key, 8, r3.val, r3.vlen));
	CHECK_OK(vd_store_raw_put(t, "audit", r4.key, 8, r4.val, r4.vlen));
	CHECK_OK(vd_txn_commit(t));
	verify_expect(st, 0, 0);

	/* Dropped: entry 4 deleted. */
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_del(t, "audit", r4.key, 8));
	CHECK_OK(vd_txn_commit(t));
	verify_expect(st, VD_ECHAIN, 4);
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_put(t, "audit", r4.key, 8, r4.val, r4.vlen));
	CHECK_OK(vd_txn_commit(t));
	verify_expect(st, 0, 0);

	/* Dropped from the end: entry 10 deleted; the head notices. */
	audit_raw(st, 10, &r10);
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_del(t, "audit", r10.key, 8));
	CHECK_OK(vd_txn_commit(t));
	verify_expect(st, VD_ECHAIN, 10);

	/* Entry 10 put back: whole again.  (A well-formed entry with a
	 * stale chain: test_audit_stale_chain().) */
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_put(t, "audit", r10.key, 8, r10.val, r10.vlen));
	CHECK_OK(vd_txn_commit(t));
	verify_expect(st, 0, 0);
	(void)k;

	free(r3.val);
	free(r4.val);
	free(r10.val);
	vd_store_close(st);
}

/* The raw sealed value of meta's audit-head into *out (val malloc'd). */
static void
head_raw(struct vd_store *st, struct rawrec *out)
{
	raw_pick(st, "meta", "audit-head", 10, out);
}

/*
 * An entry replaced by a well-formed one with a stale chain (issue 14:
 * the old version of this test only restored the entry, so disabling the
 * prev check passed every test).  History A: entries 1..10.  The log is
 * rewound to 4 (entries 5..10 deleted, the sealed head of 4 put back, no
 * key needed) and history B appends 5'..10' with other contents.  Then A's
 * entry 7 — authentic, sealed for key 7, the right seq — replaces 7': only
 * its prev (the hash of A's 6, not of 6') gives it away; the head (of 10')
 * still matches.
 */
static void
test_audit_stale_chain(void)
{
	struct vd_store *st = new_vault("stalechain", NULL);
	struct rawrec h4, a7;
	struct vd_txn *t;
	unsigned char k[8] = { 0 };

	for (int i = 1; i <= 10; i++) {
		json_t *e = json_pack("{s:i,s:s}", "n", i, "history", "A");

		CHECK_OK(vd_txn_begin(st, 1, &t));
		CHECK_OK(vd_audit_append(t, e, NULL));
		CHECK_OK(vd_txn_commit(t));
		json_decref(e);
		if (i == 4)
			head_raw(st, &h4);
	}
	verify_expect(st, 0, 0);
	audit_raw(st, 7, &a7);
	CHECK_OK(vd_txn_begin(st, 1, &t));
	for (int i = 5; i <= 10; i++) {
		k[7] = (unsigned char)i;
		CHECK_OK(vd_store_raw_del(t, "audit", k, 8));
	}
	CHECK_OK(vd_store_raw_put(t, "meta", h4.key, h4.klen, h4.val,
	    h4.vlen));
	CHECK_OK(vd_txn_commit(t));
	verify_expect(st, 0, 0);		/* a whole log of 4 */
	for (int i = 5; i <= 10; i++) {
		json_t *e = json_pack("{s:i,s:s}", "n", i, "history", "B");

		CHECK_OK(vd_txn_begin(st, 1, &t));
		CHECK_OK(vd_audit_append(t, e, NULL));
		CHECK_OK(vd_txn_commit(t));
		json_decref(e);
	}
	verify_expect(st, 0, 0);		/* a whole log of 10 */
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_put(t, "audit", a7.key, 8, a7.val, a7.vlen));
	CHECK_OK(vd_txn_commit(t));
	verify_expect(st, VD_ECHAIN, 7);
	free(h4.val);
	free(a7.val);
	vd_store_close(st);
}

/* ---- history: newest first, limit, paging, 100,000 entries ---------- */

struct hist_walk {
	uint64_t	 next;	/* expected next seq */
	int		 n;	/* entries seen */
};

static int
hist_cb(uint64_t seq, json_t *e, void *arg)
{
	struct hist_walk *w = arg;

	CHECK_INT_EQ(seq, w->next);
	CHECK_INT_EQ(json_integer_value(json_object_get(e, "version")), seq);
	w->next--;
	w->n++;
	return 0;
}

static void
test_history(void)
{
	struct vd_store *st = new_vault("hist", NULL);
	struct hist_walk w;
	struct vd_txn *t;
	const int total = 100000, batch = 10000;

	for (int b = 0; b < total / batch; b++) {
		CHECK_OK(vd_txn_begin(st, 1, &t));
		for (int i = 1; i <= batch; i++) {
			int v = b * batch + i;
			json_t *e = json_pack("{s:i,s:s,s:s}", "version", v,
			    "trigger", "schedule", "result", "ok");
			uint64_t seq;

			CHECK_OK(vd_history_append(t, "big", e, &seq));
			CHECK_INT_EQ(seq, v);
			/* Neighbours on both sides of the key space. */
			if (i % 1000 == 0) {
				CHECK_OK(vd_history_append(t, "bia", e, NULL));
				CHECK_OK(vd_history_append(t, "bigger", e,
				    NULL));
			}
			json_decref(e);
		}
		CHECK_OK(vd_txn_commit(t));
	}
	CHECK_OK(vd_txn_begin(st, 0, &t));
	w.next = total;
	w.n = 0;
	CHECK_OK(vd_history_each(t, "big", 0, 20, hist_cb, &w));
	CHECK_INT_EQ(w.n, 20);
	CHECK_INT_EQ(w.next, total - 20);
	/* The next page starts below the last seq seen. */
	w.n = 0;
	CHECK_OK(vd_history_each(t, "big", total - 19, 20, hist_cb, &w));
	CHECK_INT_EQ(w.n, 20);
	CHECK_INT_EQ(w.next, total - 40);
	/* The tail: fewer than the limit. */
	w.next = 5;
	w.n = 0;
	CHECK_OK(vd_history_each(t, "big", 6, 20, hist_cb, &w));
	CHECK_INT_EQ(w.n, 5);
	/* All of it, newest first. */
	w.next = total;
	w.n = 0;
	CHECK_OK(vd_history_each(t, "big", 0, 0, hist_cb, &w));
	CHECK_INT_EQ(w.n, total);
	/* An unknown target has no history. */
	w.n = 0;
	CHECK_OK(vd_history_each(t, "bif", 0, 20, hist_cb, &w));
	CHECK_INT_EQ(w.n, 0);
	vd_txn_abort(t);
	vd_store_close(st);
}

/* ---- lock.mdb made by root goes to the directory's owner ------------- */

/* Opens dir read-only as an offline tool does, and closes it. */
static void
open_ro(const char *dir)
{
	struct vd_store *st;

	CHECK_OK(vd_store_open(dir, VD_STORE_RDONLY, &st));
	vd_store_close(st);
}

/* A sentinel file: its bytes and times, to prove nothing touched it. */
struct sentinel {
	char		path[300];
	struct stat	sb;
	char		text[64];
};

static void
sentinel_make(struct sentinel *s, const char *name)
{
	int fd;

	path_in(s->path, sizeof(s->path), name);
	CHECK((fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0);
	snprintf(s->text, sizeof(s->text), "sentinel %s\n", name);
	CHECK(write(fd, s->text, strlen(s->text)) == (ssize_t)strlen(s->text));
	close(fd);
	CHECK(stat(s->path, &s->sb) == 0);
}

static void
sentinel_check(const struct sentinel *s)
{
	char buf[128];
	struct stat sb;
	ssize_t n;
	int fd;

	CHECK(stat(s->path, &sb) == 0);
	CHECK_INT_EQ(sb.st_size, (long long)strlen(s->text));
	CHECK_INT_EQ(sb.st_uid, s->sb.st_uid);
	CHECK_INT_EQ(sb.st_gid, s->sb.st_gid);
	CHECK_INT_EQ(sb.st_mode, s->sb.st_mode);
	CHECK(sb.st_mtim.tv_sec == s->sb.st_mtim.tv_sec &&
	    sb.st_mtim.tv_nsec == s->sb.st_mtim.tv_nsec);
	CHECK((fd = open(s->path, O_RDONLY)) >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	CHECK(n == (ssize_t)strlen(s->text) && memcmp(buf, s->text, n) == 0);
}

/* Both ways of opening dir are refused with VD_EKEYPERM. */
static void
open_refused(const char *dir, const char *what)
{
	struct vd_store *st = NULL;
	int r;

	r = vd_store_open(dir, VD_STORE_RDONLY, &st);
	if (r != VD_EKEYPERM)
		fprintf(stderr, "%s: read-only open gave %d\n", what, r);
	CHECK_INT_EQ(r, VD_EKEYPERM);
	CHECK(st == NULL);
	CHECK(strstr(vd_err_detail(), "refusing") != NULL);
	r = vd_store_open(dir, 0, &st);
	CHECK_INT_EQ(r, VD_EKEYPERM);
	CHECK(st == NULL);
}

/*
 * Issue 14 item 2: lock.mdb (or data.mdb) planted as a symlink, a hard
 * link to another file, or a FIFO: every open is refused and the file it
 * points at is untouched.  As root, the vault belongs to "nobody" and the
 * sentinel to root, as in the attack (root running an offline command).
 */
static void
test_lock_links(void)
{
	char dir[256], lock[300], data[300], moved[300];
	struct sentinel sen;
	struct stat sb;
	int root = geteuid() == 0;

	vd_store_close(new_vault("lk", NULL));
	path_in(dir, sizeof(dir), "lk");
	CHECK(snprintf(lock, sizeof(lock), "%s/lock.mdb", dir) > 0);
	CHECK(snprintf(data, sizeof(data), "%s/data.mdb", dir) > 0);
	path_in(moved, sizeof(moved), "lk-data.mdb");
	if (root) {
		/* The vault belongs to "nobody"; root runs an offline command. */
		CHECK(chown(dir, 65534, 65534) == 0 &&
		    chown(data, 65534, 65534) == 0);
		/* A lock file root made earlier goes to the owner. */
		CHECK(chown(lock, 0, 0) == 0);
		open_ro(dir);
		CHECK(stat(lock, &sb) == 0);
		CHECK_INT_EQ(sb.st_uid, 65534);
		CHECK_INT_EQ(sb.st_gid, 65534);
		/* A lock file made now is made as the owner. */
		CHECK(unlink(lock) == 0);
		open_ro(dir);
		CHECK(stat(lock, &sb) == 0);
		CHECK_INT_EQ(sb.st_uid, 65534);
		CHECK_INT_EQ(sb.st_mode & 07777, 0600);
	} else {
		CHECK(unlink(lock) == 0);
		open_ro(dir);
		CHECK(stat(lock, &sb) == 0 && sb.st_uid == geteuid());
	}
	sentinel_make(&sen, "sentinel");

	/* lock.mdb -> sentinel (symlink). */
	CHECK(unlink(lock) == 0 && symlink(sen.path, lock) == 0);
	open_refused(dir, "symlink lock.mdb");
	sentinel_check(&sen);
	/* A dangling symlink: LMDB would create its target. */
	CHECK(unlink(lock) == 0);
	path_in(moved, sizeof(moved), "created-through-link");
	CHECK(symlink(moved, lock) == 0);
	open_refused(dir, "dangling symlink lock.mdb");
	CHECK(access(moved, F_OK) != 0);
	/* lock.mdb and the sentinel: one file, two links. */
	CHECK(unlink(lock) == 0 && link(sen.path, lock) == 0);
	open_refused(dir, "hard link lock.mdb");
	sentinel_check(&sen);
	/* A FIFO: refused, and the open does not hang. */
	CHECK(unlink(lock) == 0 && mkfifo(lock, 0600) == 0);
	open_refused(dir, "fifo lock.mdb");
	CHECK(unlink(lock) == 0);
	/* data.mdb -> elsewhere (symlink): refused too. */
	path_in(moved, sizeof(moved), "lk-data.mdb");
	CHECK(rename(data, moved) == 0 && symlink(moved, data) == 0);
	open_refused(dir, "symlink data.mdb");
	CHECK(unlink(data) == 0 && rename(moved, data) == 0);
	/* Put right, the vault opens again. */
	open_ro(dir);
	if (!root)
		printf("lock links: not root, the root-owned sentinel case "
		    "is run by the root CI job\n");
}

/* ---- freshness anchor (issue 14 item 3) ------------------------------ */

static void
cp_file(const char *from, const char *to)
{
	char cmd[1024];
	int n = snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);

	CHECK(n > 0 && (size_t)n < sizeof(cmd));
	CHECK(system(cmd) == 0);
}

/* Opens dir (flags) and unlocks it with key; returns unlock's code. */
static int
reopen(const char *dir, unsigned flags, struct vd_secret *key,
    struct vd_store **stp)
{
	CHECK_OK(vd_store_open(dir, flags, stp));
	return vd_store_unlock(*stp, key);
}

/* ---- integrity: single records replayed, added, removed ------------- */

/* The raw value of (db, key) into *rec (val malloc'd); CHECKs it exists. */
struct onerec {
	const char	*db;
	const void	*key;
	size_t		 klen;
	struct rawrec	*out;
};

static int
one_cb(const char *db, const void *key, size_t klen, const void *val,
    size_t vlen, void *arg)
{
	struct onerec *o = arg;

	if (strcmp(db, o->db) != 0 || klen != o->klen ||
	    memcmp(key, o->key, klen) != 0)
		return 0;
	snprintf(o->out->db, sizeof(o->out->db), "%s", db);
	memcpy(o->out->key, key, klen);
	o->out->klen = klen;
	CHECK((o->out->val = malloc(vlen)) != NULL);
	memcpy(o->out->val, val, vlen);
	o->out->vlen = vlen;
	return 1;
}

static void
raw_get(struct vd_store *st, const char *db, const void *key, size_t klen,
    struct rawrec *out)
{
	struct onerec o = { db, key, klen, out };
	struct vd_txn *t;

	CHECK_OK(vd_txn_begin(st, 0, &t));
	CHECK_INT_EQ(vd_store_raw_each(t, one_cb, &o), 1);
	vd_txn_abort(t);
}

static void
raw_set(struct vd_store *st, const struct rawrec *r)
{
	struct vd_txn *t;

	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_put(t, r->db, r->key, r->klen, r->val, r->vlen));
	CHECK_OK(vd_txn_commit(t));
}

/* vd_store_integrity_check() must refuse, naming the outside change. */
static void
integrity_refused(struct vd_store *st, const char *what)
{
	struct vd_integrity in;

	vd_err_clear();
	CHECK_INT_EQ(vd_store_integrity_check(st, &in), VD_ECHAIN);
	CHECK(strstr(vd_err_detail(), "modified outside vaultd") != NULL);
	CHECK(strstr(vd_err_detail(), what) != NULL);
}

static void
target_tls(struct vd_store *st, const char *name, const char *tls)
{
	json_t *obj = json_pack("{s:s,s:s}", "host", "db.example", "tls", tls);
	struct vd_txn *t;

	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_target_put(t, name, obj, 0));
	CHECK_OK(vd_txn_commit(t));
	json_decref(obj);
}

static int
integ_event_cb(uint64_t seq, json_t *e, void *arg)
{
	const char *ev = json_string_value(json_object_get(e, "event"));

	(void)seq;
	if (ev != NULL && strcmp(ev, "integrity") == 0)
		(*(int *)arg)++;
	return 0;
}

static void
test_integrity(void)
{
	struct vd_secret *key, *a = pw("alpha-secret-1");
	struct vd_store *st = new_vault("integ", &key), *st2;
	struct rawrec told = { .val = NULL }, tnew = { .val = NULL };
	struct rawrec vold = { .val = NULL }, iold = { .val = NULL };
	struct rawrec inew = { .val = NULL }, h1 = { .val = NULL };
	struct vd_integrity in, in2;
	unsigned char vkey[16], hkey[16];
	struct vd_txn *t;
	json_t *obj;
	char dir[256], anchor[300];
	int events = 0;

	path_in(dir, sizeof(dir), "integ");
	CHECK(snprintf(anchor, sizeof(anchor), "%s.anchor", dir) > 0);
	memcpy(vkey, "t1\0\0\0\0\0\0\0\0\1", 11);
	memcpy(hkey, "t1\0\0\0\0\0\0\0\0\1", 11);

	/* A new vault has its integrity record, covering nothing yet. */
	CHECK_OK(vd_store_integrity_check(st, &in));
	CHECK(in.present && in.records == 0 && in.found == 0 && in.gen == 1);

	target_tls(st, "t1", "disabled");
	CHECK_OK(vd_txn_begin(st, 1, &t));
	obj = json_pack("{s:s}", "state", "pending");
	CHECK_OK(vd_secret_put(t, "t1", 1, a));
	CHECK_OK(vd_version_put(t, "t1", 1, obj));
	CHECK_OK(vd_history_append(t, "t1", obj, NULL));
	CHECK_OK(vd_envelope_put(t, "t1", 1, "customer", "env-c1", 6));
	CHECK_OK(vd_audit_append(t, obj, NULL));
	json_decref(obj);
	CHECK_OK(vd_txn_commit(t));
	raw_get(st, "targets", "t1", 2, &told);
	raw_get(st, "versions", vkey, 11, &vold);
	raw_get(st, "meta", "integrity", 9, &iold);

	/* Legitimate changes: TLS turned on, the version made current. */
	target_tls(st, "t1", "required");
	CHECK_OK(vd_txn_begin(st, 1, &t));
	obj = json_pack("{s:s}", "state", "current");
	CHECK_OK(vd_version_put(t, "t1", 1, obj));
	CHECK_OK(vd_envelope_del_party(t, "t1", 1, "customer"));
	CHECK_OK(vd_envelope_put(t, "t1", 1, "customer", "env-c2", 6));
	json_decref(obj);
	CHECK_OK(vd_txn_commit(t));
	CHECK_OK(vd_store_integrity_check(st, &in));
	/* target, secret, version, history, escrow, audit, audit-head */
	CHECK_INT_EQ(in.records, 7);
	CHECK_INT_EQ(in.found, 7);
	CHECK(in.gen >= 4);
	raw_get(st, "targets", "t1", 2, &tnew);
	raw_get(st, "meta", "integrity", 9, &inew);

	/* 1: the target record from before TLS, put back: refused. */
	raw_set(st, &told);
	integrity_refused(st, "a record replaced");
	/* ... by vaultd's start (a read-write unlock) too, which stays
	 * sealed. */
	CHECK_INT_EQ(reopen(dir, 0, key, &st2), VD_ECHAIN);
	CHECK(!vd_store_unlocked(st2));
	vd_store_close(st2);
	raw_set(st, &tnew);
	CHECK_OK(vd_store_integrity_check(st, NULL));

	/* 2: the version record with its older state. */
	raw_get(st, "versions", vkey, 11, &h1);
	raw_set(st, &vold);
	integrity_refused(st, "a record replaced");
	raw_set(st, &h1);
	free(h1.val);
	CHECK_OK(vd_store_integrity_check(st, NULL));

	/* 3: a record removed, and one added (a copy under a new key). */
	raw_get(st, "history", hkey, 11, &h1);
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_del(t, "history", hkey, 11));
	CHECK_OK(vd_txn_commit(t));
	integrity_refused(st, "records removed");
	raw_set(st, &h1);
	CHECK_OK(vd_store_integrity_check(st, NULL));
	h1.key[10] = 2;
	raw_set(st, &h1);
	integrity_refused(st, "records added");
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_del(t, "history", h1.key, 11));
	CHECK_OK(vd_txn_commit(t));
	CHECK_OK(vd_store_integrity_check(st, NULL));

	/*
	 * 4: the older integrity record put back with the older target (TLS
	 * required, then disabled by the operator; the attacker wants it
	 * back): the sum agrees with itself, but its generation is older
	 * than the anchor's.
	 */
	free(iold.val);
	free(told.val);
	iold = inew;
	told = tnew;
	inew.val = tnew.val = NULL;
	target_tls(st, "t1", "disabled");
	raw_get(st, "targets", "t1", 2, &tnew);
	raw_get(st, "meta", "integrity", 9, &inew);
	raw_set(st, &told);
	raw_set(st, &iold);
	vd_store_close(st);
	vd_err_clear();
	CHECK_INT_EQ(reopen(dir, 0, key, &st), VD_ECHAIN);
	CHECK(strstr(vd_err_detail(), "generation") != NULL);
	vd_store_close(st);
	CHECK_OK(reopen(dir, VD_STORE_RDONLY, key, &st));
	CHECK_OK(vd_store_integrity_check(st, NULL));
	CHECK_INT_EQ(vd_store_anchor_check(st, NULL, NULL, &events),
	    VD_ECHAIN);
	CHECK(events == 1);
	events = 0;
	vd_store_close(st);
	/* The newer records back, through a restore's (NOFRESH) open. */
	CHECK_OK(reopen(dir, VD_STORE_NOFRESH, key, &st));
	raw_set(st, &tnew);
	raw_set(st, &inew);
	vd_store_close(st);
	CHECK_OK(reopen(dir, 0, key, &st));

	/*
	 * 5: removing the integrity record does not buy a fresh one: the
	 * anchor knows the generation.  A vault that never had one (no
	 * anchor either, as before this version) gets it computed, audited.
	 */
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_del(t, "meta", "integrity", 9));
	CHECK_OK(vd_txn_commit(t));
	vd_store_close(st);
	vd_err_clear();
	CHECK_INT_EQ(reopen(dir, 0, key, &st), VD_ECHAIN);
	CHECK(strstr(vd_err_detail(), "generation") != NULL);
	vd_store_close(st);
	CHECK(unlink(anchor) == 0);
	CHECK_OK(reopen(dir, 0, key, &st));
	CHECK_OK(vd_store_integrity_check(st, &in2));
	CHECK(in2.present && in2.gen == 2);
	/* the 7 records, the audit entry of the computation (and the audit
	 * head it replaced) */
	CHECK_INT_EQ(in2.records, 8);
	CHECK_OK(vd_txn_begin(st, 0, &t));
	CHECK_OK(vd_audit_each(t, 0, integ_event_cb, &events));
	vd_txn_abort(t);
	CHECK_INT_EQ(events, 1);
	vd_store_close(st);

	/*
	 * 6: a break-glass report, written by vaultctl without the key, is
	 * not covered: the vault still opens.
	 */
	CHECK_OK(vd_store_open(dir, 0, &st));
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_envelope_put(t, "t1", 1, VD_STORE_REPORT_PARTY, "[]", 2));
	CHECK_OK(vd_txn_commit(t));
	vd_store_close(st);
	CHECK_OK(reopen(dir, 0, key, &st));
	CHECK_OK(vd_store_integrity_check(st, NULL));
	vd_store_close(st);

	free(told.val);
	free(tnew.val);
	free(vold.val);
	free(iold.val);
	free(inew.val);
	free(h1.val);
	vd_secret_free(key);
	vd_secret_free(a);
}

static void
audit_n(struct vd_store *st, int n)
{
	struct vd_txn *t;

	CHECK_OK(vd_txn_begin(st, 1, &t));
	for (int i = 0; i < n; i++) {
		json_t *e = json_pack("{s:i}", "n", i);

		CHECK_OK(vd_audit_append(t, e, NULL));
		json_decref(e);
	}
	CHECK_OK(vd_txn_commit(t));
}

static void
version_n(struct vd_store *st, const char *target, uint64_t v)
{
	json_t *meta = json_pack("{s:s}", "state", "current");
	struct vd_txn *t;

	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_version_put(t, target, v, meta));
	CHECK_OK(vd_txn_commit(t));
	json_decref(meta);
}

/* The anchor's state as the store reads it; CHECKs it is found. */
static struct vd_anchor
anchor_of(struct vd_store *st)
{
	struct vd_anchor a, now;
	int found = 0;

	CHECK_OK(vd_store_anchor_check(st, &a, &now, &found));
	CHECK(found);
	return a;
}

/*
 * The anchor beside the data directory follows each audit commit and each
 * new version; an anchor that lags is fine; data older than the anchor (a
 * cut tail, a dropped version, an older copy) keeps a writer from
 * unlocking; one damaged slot is survived, two are not; a deliberate
 * restore is audited and moves the anchor.
 */
static void
test_anchor(void)
{
	char dir[256], anc[300], saved[300], olddata[300], data[300];
	struct vd_secret *key;
	struct vd_store *st = new_vault("anc", &key), *ro;
	struct vd_anchor a;
	unsigned char vkey[32];
	struct vd_txn *t;
	int found;
	size_t klen;

	path_in(dir, sizeof(dir), "anc");
	CHECK(snprintf(anc, sizeof(anc), "%s.anchor", dir) > 0);
	path_in(saved, sizeof(saved), "anc-anchor.saved");
	path_in(olddata, sizeof(olddata), "anc-data.old");
	CHECK(access(anc, F_OK) == 0);
	CHECK_STR_EQ(vd_store_anchor_path(st), anc);
	audit_n(st, 5);
	version_n(st, "t1", 1);
	version_n(st, "t1", 2);
	version_n(st, "t2", 1);
	version_n(st, "t1", 2);		/* a state change: no growth */
	a = anchor_of(st);
	CHECK_INT_EQ(a.audit_count, 5);
	CHECK_INT_EQ(a.versions, 3);
	cp_file(anc, saved);
	CHECK(snprintf(data, sizeof(data), "%s/data.mdb", dir) > 0);
	cp_file(data, olddata);
	audit_n(st, 2);
	CHECK_INT_EQ(anchor_of(st).audit_count, 7);
	vd_store_close(st);

	/* Lagging (the older anchor put back): accepted, and caught up. */
	cp_file(saved, anc);
	CHECK_OK(reopen(dir, 0, key, &st));
	CHECK_INT_EQ(anchor_of(st).audit_count, 7);
	vd_store_close(st);

	/* Damaged slots: one is survived (the other holds a valid state),
	 * two are not. */
	{
		unsigned char b0, b1, x;
		int fd;

		CHECK((fd = open(anc, O_RDWR)) >= 0);
		CHECK(pread(fd, &b0, 1, 40) == 1 &&
		    pread(fd, &b1, 1, 128 + 40) == 1);
		x = b0 ^ 1;
		CHECK(pwrite(fd, &x, 1, 40) == 1);
		CHECK_OK(reopen(dir, VD_STORE_RDONLY, key, &ro));
		CHECK_OK(vd_store_anchor_check(ro, &a, NULL, &found));
		CHECK(found && a.audit_count <= 7);
		x = b1 ^ 1;
		CHECK(pwrite(fd, &x, 1, 128 + 40) == 1);
		CHECK_INT_EQ(vd_store_anchor_check(ro, &a, NULL, &found),
		    VD_ECORRUPT);
		CHECK(pwrite(fd, &b0, 1, 40) == 1 &&
		    pwrite(fd, &b1, 1, 128 + 40) == 1);
		CHECK_OK(vd_store_anchor_check(ro, &a, NULL, &found));
		CHECK_INT_EQ(a.audit_count, 7);
		close(fd);
		vd_store_close(ro);
	}

	/* A dropped newest version (no key needed): a writer is refused. */
	CHECK_OK(vd_store_open(dir, 0, &st));
	klen = 3 + 8;
	memcpy(vkey, "t1\0\0\0\0\0\0\0\0\2", klen);
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_del(t, "versions", vkey, klen));
	CHECK_OK(vd_txn_commit(t));
	vd_store_close(st);
	CHECK_INT_EQ(reopen(dir, 0, key, &st), VD_ECHAIN);
	CHECK(strstr(vd_err_detail(), "versions sum to 2") != NULL);
	CHECK(!vd_store_unlocked(st));
	vd_store_close(st);
	/* Offline: read-only opens, and the check says the same. */
	CHECK_OK(reopen(dir, VD_STORE_RDONLY, key, &ro));
	CHECK_INT_EQ(vd_store_anchor_check(ro, &a, NULL, &found), VD_ECHAIN);
	vd_store_close(ro);
	/* A planted key with a high version does not make up for it. */
	CHECK_OK(vd_store_open(dir, 0, &st));
	memcpy(vkey, "zz\0\0\0\0\0\0\0\0\x64", klen);
	CHECK_OK(vd_txn_begin(st, 1, &t));
	CHECK_OK(vd_store_raw_put(t, "versions", vkey, klen, "forged-forged-"
	    "forged-forged-forged-forged-forged", 41));
	CHECK_OK(vd_txn_commit(t));
	vd_store_close(st);
	CHECK_INT_EQ(reopen(dir, 0, key, &st), VD_ECORRUPT);
	CHECK(!vd_store_unlocked(st));
	vd_store_close(st);

	/* An older copy of the data file: entries 6-7 missing. */
	cp_file(olddata, data);
	CHECK_INT_EQ(reopen(dir, 0, key, &st), VD_ECHAIN);
	CHECK(strstr(vd_err_detail(), "entries 6-7 are missing") != NULL);
	vd_store_close(st);

	/* The deliberate restore: audited, then the anchor starts again. */
	CHECK_INT_EQ(reopen(dir, 0, key, &st), VD_ECHAIN);
	vd_store_close(st);
	CHECK_OK(reopen(dir, VD_STORE_NOFRESH, key, &st));
	{
		json_t *by = json_pack("{s:s}", "user", "test");
		struct vd_anchor was;

		CHECK_OK(vd_store_anchor_restore(st, by, &was, &found));
		CHECK(found);
		CHECK_INT_EQ(was.audit_count, 7);
		json_decref(by);
	}
	vd_store_close(st);
	CHECK_OK(reopen(dir, 0, key, &st));
	a = anchor_of(st);
	CHECK_INT_EQ(a.audit_count, 6);		/* 5 + the restore entry */
	{
		struct rawrec r6;

		audit_raw(st, 6, &r6);
		free(r6.val);
	}
	vd_store_close(st);
	vd_secret_free(key);
}

/*
 * The one-writer lock: OFD locks conflict between two open files even in
 * one process, so a second vd_store_lock_dir() here stands for a second
 * vaultd.  It names our pid; closing the first lets it in; the lock file
 * is 0600; a symlink or hard link planted as the lock file is refused and
 * its target left as it was.
 */
static void
test_lock_dir(void)
{
	char dir[256], lock[300], victim[300], want[64];
	struct stat sb;
	int fd1, fd2, fd;

	vd_store_close(new_vault("ld", NULL));
	path_in(dir, sizeof(dir), "ld");
	CHECK(snprintf(lock, sizeof(lock), "%s/%s", dir,
	    VD_STORE_LOCKFILE) > 0);
	path_in(victim, sizeof(victim), "ld-victim");
	CHECK_OK(vd_store_lock_dir(dir, &fd1));
	CHECK(fd1 >= 0);
	CHECK(stat(lock, &sb) == 0 && S_ISREG(sb.st_mode));
	CHECK_INT_EQ(sb.st_mode & 07777, 0600);
	vd_err_clear();
	CHECK_INT_EQ(vd_store_lock_dir(dir, &fd2), VD_EBUSY);
	CHECK_INT_EQ(fd2, -1);
	CHECK(snprintf(want, sizeof(want), "in use by vaultd (pid %ld);",
	    (long)getpid()) > 0);
	CHECK(strstr(vd_err_detail(), want) != NULL);
	CHECK(strstr(vd_err_detail(), "one vaultd per data directory"));
	CHECK(strstr(vd_err_detail(), dir) != NULL);
	/* The store itself still opens beside the lock (offline readers). */
	open_ro(dir);
	vd_store_unlock_dir(fd1);
	CHECK_OK(vd_store_lock_dir(dir, &fd2));
	vd_store_unlock_dir(fd2);
	/* A symlink planted as the lock file: not followed, nothing written. */
	CHECK((fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0);
	CHECK(fchmod(fd, 0644) == 0);	/* past the umask */
	close(fd);
	CHECK(unlink(lock) == 0 && symlink(victim, lock) == 0);
	CHECK_INT_EQ(vd_store_lock_dir(dir, &fd2), -ELOOP);
	CHECK(strstr(vd_err_detail(), "symbolic link") != NULL);
	CHECK(stat(victim, &sb) == 0 && sb.st_size == 0);
	CHECK_INT_EQ(sb.st_mode & 07777, 0644);
	/* A hard link: refused too (we would write into another file). */
	CHECK(unlink(lock) == 0 && link(victim, lock) == 0);
	CHECK_INT_EQ(vd_store_lock_dir(dir, &fd2), -ELOOP);
	CHECK(stat(victim, &sb) == 0 && sb.st_size == 0);
	CHECK(unlink(lock) == 0 && unlink(victim) == 0);
	/* A lock file left 0644 (restored by hand) is made 0600 again. */
	CHECK((fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0);
	CHECK(fchmod(fd, 0644) == 0);
	close(fd);
	CHECK_OK(vd_store_lock_dir(dir, &fd2));
	CHECK(stat(lock, &sb) == 0);
	CHECK_INT_EQ(sb.st_mode & 07777, 0600);
	vd_store_unlock_dir(fd2);
	if (geteuid() == 0) {
		/* Root on a directory of nobody's: the file becomes nobody's. */
		CHECK(chown(dir, 65534, 65534) == 0 && unlink(lock) == 0);
		CHECK_OK(vd_store_lock_dir(dir, &fd2));
		CHECK(stat(lock, &sb) == 0);
		CHECK_INT_EQ(sb.st_uid, 65534);
		CHECK_INT_EQ(sb.st_gid, 65534);
		vd_store_unlock_dir(fd2);
	}
}

static void
rm_rf(const char *dir)
{
	char cmd[512];
	int n = snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);

	CHECK(n > 0 && (size_t)n < sizeof(cmd));
	CHECK(system(cmd) == 0);
}

int
main(void)
{
	CHECK_OK(vd_mem_init());
	CHECK(mkdtemp(tmproot) != NULL);
	umask(077);
	test_roundtrip();
	test_tamper();
	test_keys();
	test_processes();
	test_audit();
	test_audit_stale_chain();
	test_history();
	test_lock_dir();
	test_lock_links();
	test_anchor();
	test_integrity();
	if (!getenv("VD_KEEP")) rm_rf(tmproot);
	printf("test_store: ok\n");
	return 0;
}
