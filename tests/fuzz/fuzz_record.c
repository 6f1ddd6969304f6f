/*
 * fuzz_record.c - libFuzzer target for stored record decoding
 * (storage/store.c, and the escrow readers of escrow/escrow.c): a vault is
 * created once in a temp dir and filled with one record of every kind;
 * each input then changes one record inside a write transaction that is
 * always aborted, and every typed read runs over the vault.  Each must
 * fail cleanly (VD_ECORRUPT …) or succeed, never crash or leak.
 *
 * Input: byte 0 picks the record (mod the number of records), byte 1 the
 * change, the rest is its payload:
 *   0  replace the raw value with the payload
 *   1  XOR the payload into the raw value at offset byte 2
 *   2  truncate the raw value to byte 2 * 4 bytes, or extend it with the
 *      payload
 *   3  parse the payload as JSON and store it through the typed put of the
 *      record's kind (a valid seal around an unexpected document)
 *   4  replace the raw key (same value) with the payload: a record moved
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "escrow.h"
#include "mem.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXREC	64

struct rec {
	char		 db[16];	/* database name */
	unsigned char	*key;		/* raw key (malloc'd) */
	size_t		 klen;
	unsigned char	*val;		/* original raw value (malloc'd) */
	size_t		 vlen;
};

static struct vd_store *st;
static struct rec recs[MAXREC];
static size_t nrec;
static char dir[] = "/tmp/vd-fuzz-record.XXXXXX";

/* Removes the temp vault at exit (libFuzzer ends with exit()). */
static void
cleanup(void)
{
	static const char *const files[] = {
		"data/data.mdb", "data/lock.mdb", "data", "customer.pub", "key",
	};
	char path[128];
	size_t i;

	vd_store_close(st);
	st = NULL;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (unlink(path) != 0)
			(void)rmdir(path);
	}
	(void)rmdir(dir);
}

static int
collect(const char *db, const void *key, size_t klen, const void *val,
    size_t vlen, void *arg)
{
	struct rec *r;

	if (nrec >= MAXREC)
		return 0;
	r = &recs[nrec++];
	snprintf(r->db, sizeof(r->db), "%s", db);
	if ((r->key = malloc(klen + 1)) == NULL ||
	    (r->val = malloc(vlen + 1)) == NULL)
		abort();
	memcpy(r->key, key, klen);
	memcpy(r->val, val, vlen);
	r->klen = klen;
	r->vlen = vlen;
	return 0;
}

static void
must(int r, const char *what)
{
	if (r != 0) {
		fprintf(stderr, "fuzz_record: %s: %s\n", what, vd_strerror(r));
		abort();
	}
}

/* Creates and fills the vault once. */
static void
init(void)
{
	char path[128];
	struct vd_escrow_cfg *ec = NULL;
	struct vd_escrow_key *ek = NULL;
	struct vd_secret *key = NULL, *pw;
	struct vd_txn *t;
	json_t *o;
	char pub[256];
	FILE *f;
	uint64_t seq;
	int i;

	must(vd_mem_init(), "mem init");
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/key", dir);
	must(vd_keyfile_create(path), "keyfile");
	must(vd_keyfile_load(path, &key), "keyfile load");
	snprintf(path, sizeof(path), "%s/data", dir);
	must(vd_store_create(path, VD_KDF_KEYFILE, key, NULL, &st), "create");
	vd_secret_free(key);
	/* One escrow party, so the vault holds real envelopes. */
	must(vd_escrow_keygen("customer", &ek), "keygen");
	must(vd_escrow_pub_format(&ek->pub, pub, sizeof(pub)), "pub format");
	snprintf(path, sizeof(path), "%s/customer.pub", dir);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fputs(pub, f);
	fclose(f);
	must(vd_escrow_cfg_new(&ec), "cfg");
	/* The party pinned by its key id, as vaultd.conf has it. */
	strncat(path, " ", sizeof(path) - strlen(path) - 1);
	strncat(path, ek->pub.keyid, sizeof(path) - strlen(path) - 1);
	must(vd_escrow_cfg_set(ec, "customer", path), "cfg set");
	must(vd_escrow_cfg_finalize(ec), "cfg finalize");

	must(vd_txn_begin(st, 1, &t), "begin");
	o = json_pack("{s:s,s:s,s:[s,s]}", "unix_socket", "/tmp/s", "user",
	    "root", "account_hosts", "localhost", "127.0.0.1");
	must(vd_target_put(t, "t", o, 1), "target put");
	json_decref(o);
	for (i = 1; i <= 2; i++) {
		pw = vd_secret_from("Fuzz#pw-123456789", 17);
		must(vd_secret_put(t, "t", (uint64_t)i, pw), "secret put");
		must(vd_escrow_seal_version(ec, st, t, "t", (uint64_t)i, pw),
		    "seal");
		vd_secret_free(pw);
		o = json_pack("{s:s,s:I}", "state", i == 2 ? "current" :
		    "previous", "created", (json_int_t)1700000000 + i);
		must(vd_version_put(t, "t", (uint64_t)i, o), "version put");
		json_decref(o);
		o = json_pack("{s:I,s:s,s:s}", "version", (json_int_t)i,
		    "trigger", "manual", "result", "ok");
		must(vd_history_append(t, "t", o, &seq), "history");
		json_decref(o);
		o = json_pack("{s:s,s:s}", "event", "reveal", "target", "t");
		must(vd_audit_append(t, o, &seq), "audit");
		json_decref(o);
	}
	pw = vd_secret_from("Admin#pw-123456789", 18);
	must(vd_admin_secret_put(t, "t", pw), "admin put");
	vd_secret_free(pw);
	o = json_pack("{s:I,s:s}", "next_due", (json_int_t)1800000000, "state",
	    "idle");
	must(vd_sched_put(t, "t", o), "sched put");
	json_decref(o);
	o = json_pack("{s:s,s:s,s:I}", "event", "breakglass", "target", "t",
	    "version", (json_int_t)2);
	must(vd_escrow_report_add(t, "t", 2, o), "report");
	json_decref(o);
	/* An access request (issue 17). */
	o = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I,s:[{s:s,s:I}]}", "target",
	    "t", "uid", (json_int_t)1000, "user", "vendor", "reason", "job",
	    "state", "approved", "until", (json_int_t)1800000000,
	    "approvals", "user", "bank", "uid", (json_int_t)1001);
	must(vd_request_put(t, 1, o), "request put");
	json_decref(o);
	must(vd_txn_commit(t), "commit");
	vd_escrow_cfg_free(ec);
	vd_escrow_key_free(ek);

	must(vd_txn_begin(st, 0, &t), "begin read");
	must(vd_store_raw_each(t, collect, NULL), "raw each");
	vd_txn_abort(t);
	if (nrec == 0)
		abort();
}

static int
cb_json(const char *name, json_t *obj, void *arg)
{
	(void)name; (void)obj; (void)arg;
	return 0;
}

static int
cb_seq(uint64_t seq, json_t *obj, void *arg)
{
	(void)seq; (void)obj; (void)arg;
	return 0;
}

static int
cb_env(const char *target, uint64_t v, const char *party,
    const unsigned char *env, size_t len, void *arg)
{
	(void)target; (void)v; (void)party; (void)env; (void)len; (void)arg;
	return 0;
}

static int
cb_report(const char *target, uint64_t v, const char *json, size_t len,
    void *arg)
{
	json_t *j = json_loadb(json, len, 0, NULL);

	(void)target; (void)v; (void)arg;
	json_decref(j);
	return 0;
}

/* Every typed read of the vault, results discarded. */
static void
read_all(struct vd_txn *t)
{
	struct vd_escrow_set set = { NULL, 0, 0 };
	struct vd_secret *pw = NULL;
	unsigned char *env = NULL;
	size_t len;
	uint64_t v, count, bad;
	json_t *o = NULL;

	if (vd_target_get(t, "t", &o) == 0)
		json_decref(o);
	(void)vd_target_each(t, cb_json, NULL);
	for (v = 0; v <= 3; v++) {
		if (vd_secret_get(t, "t", v, &pw) == 0)
			vd_secret_free(pw);
		pw = NULL;
		if (vd_version_get(t, "t", v, &o) == 0)
			json_decref(o);
		o = NULL;
		if (vd_envelope_get(t, "t", v, "customer", &env, &len) == 0)
			free(env);
		env = NULL;
	}
	if (vd_admin_secret_get(t, "t", &pw) == 0)
		vd_secret_free(pw);
	(void)vd_version_last(t, "t", &v);
	(void)vd_version_each(t, "t", 0, cb_seq, NULL);
	(void)vd_envelope_each(t, NULL, cb_env, NULL);
	(void)vd_escrow_reports(t, cb_report, NULL);
	(void)vd_escrow_set_load(t, NULL, &set);
	vd_escrow_set_clear(&set);
	(void)vd_history_each(t, "t", 0, 0, cb_seq, NULL);
	(void)vd_audit_each(t, 0, cb_seq, NULL);
	(void)vd_audit_verify(t, &count, &bad);
	if (vd_sched_get(t, "t", &o) == 0)
		json_decref(o);
	(void)vd_sched_each(t, cb_json, NULL);
	if (vd_request_get(t, 1, &o) == 0)
		json_decref(o);
	(void)vd_request_each(t, cb_seq, NULL);
	(void)vd_request_last(t, &v);
}

/* The typed put for record r's kind with document j (mode 3). */
static void
typed_put(struct vd_txn *t, const struct rec *r, json_t *j)
{
	struct vd_secret *pw;
	const char *s;

	if (strcmp(r->db, "targets") == 0)
		(void)vd_target_put(t, "t", j, 0);
	else if (strcmp(r->db, "versions") == 0)
		(void)vd_version_put(t, "t", 2, j);
	else if (strcmp(r->db, "history") == 0)
		(void)vd_history_update(t, "t", 1, j);
	else if (strcmp(r->db, "audit") == 0)
		(void)vd_audit_append(t, j, NULL);
	else if (strcmp(r->db, "sched") == 0)
		(void)vd_sched_put(t, "t", j);
	else if (strcmp(r->db, "escrow") == 0)
		(void)vd_escrow_report_add(t, "t", 1, j);
	else if (strcmp(r->db, "requests") == 0)
		(void)vd_request_put(t, 1, j);
	else if (strcmp(r->db, "secrets") == 0 &&
	    (s = json_string_value(j)) != NULL &&
	    (pw = vd_secret_from(s, strlen(s))) != NULL) {
		(void)vd_admin_secret_put(t, "t", pw);
		vd_secret_free(pw);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const struct rec *r;
	unsigned char *buf = NULL;
	size_t n, off;
	struct vd_txn *t;
	json_t *j;

	if (!ready) {
		init();
		ready = 1;
	}
	if (size < 3 || size > 8192)
		return 0;
	r = &recs[data[0] % nrec];
	if (vd_txn_begin(st, 1, &t) != 0)
		abort();
	switch (data[1] % 5) {
	case 0:
		(void)vd_store_raw_put(t, r->db, r->key, r->klen, data + 2,
		    size - 2);
		break;
	case 1:
		if ((buf = malloc(r->vlen + 1)) == NULL)
			abort();
		memcpy(buf, r->val, r->vlen);
		off = r->vlen ? data[2] % r->vlen : 0;
		for (n = 3; n < size && off < r->vlen; n++, off++)
			buf[off] ^= data[n];
		(void)vd_store_raw_put(t, r->db, r->key, r->klen, buf, r->vlen);
		break;
	case 2:
		n = (size_t)data[2] * 4;
		if (n < r->vlen)
			(void)vd_store_raw_put(t, r->db, r->key, r->klen, r->val,
			    n);
		else {
			if ((buf = malloc(r->vlen + size)) == NULL)
				abort();
			memcpy(buf, r->val, r->vlen);
			memcpy(buf + r->vlen, data + 3, size - 3);
			(void)vd_store_raw_put(t, r->db, r->key, r->klen, buf,
			    r->vlen + size - 3);
		}
		break;
	case 3:
		if ((j = json_loadb((const char *)data + 2, size - 2,
		    JSON_DECODE_ANY, NULL)) != NULL) {
			typed_put(t, r, j);
			json_decref(j);
		}
		break;
	case 4:
		(void)vd_store_raw_put(t, r->db, data + 2, size - 2, r->val,
		    r->vlen);
		break;
	}
	read_all(t);
	vd_txn_abort(t);
	free(buf);
	return 0;
}
