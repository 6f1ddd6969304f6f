/*
 * test_daemon_vault.c - helper for test_daemon.py (not a test by itself):
 * creates vaults and tampers with them through the store API, so the
 * daemon tests need nothing but the store.
 *
 *   test_daemon_vault keyfile DIR KEYFILE    key-file vault
 *   test_daemon_vault passphrase DIR         passphrase (stdin line 1),
 *                                            cheapest Argon2id cost
 *   test_daemon_vault tamper-audit DIR KEYFILE SEQ
 *                                            flips a byte of audit entry
 *                                            SEQ's ciphertext (daemon
 *                                            stopped)
 *   test_daemon_vault save-record DIR DB KEYHEX FILE
 *                                            copies the stored bytes of
 *                                            one record into FILE (no key:
 *                                            what an attacker can read)
 *   test_daemon_vault put-record DIR DB KEYHEX FILE
 *                                            puts FILE's bytes back as that
 *                                            record (no key; daemon
 *                                            stopped): a replay
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "mem.h"
#include "store.h"
#include "util.h"

/* What tamper_cb looks for and whether it found it. */
struct tamper {
	unsigned long long	 seq;		/* entry to damage (1-based) */
	unsigned long long	 seen;		/* audit records walked */
	unsigned char		*key;		/* its raw key (copied) */
	size_t			 klen;		/* bytes in key */
	unsigned char		*val;		/* its ciphertext (copied) */
	size_t			 vlen;		/* bytes in val */
};

static int
tamper_cb(const char *db, const void *key, size_t klen, const void *val,
    size_t vlen, void *arg)
{
	struct tamper *tp = arg;

	if (strcmp(db, "audit") != 0)
		return 0;
	if (++tp->seen != tp->seq)
		return 0;
	tp->key = malloc(klen);
	tp->val = malloc(vlen);
	if (tp->key == NULL || tp->val == NULL)
		return VD_ENOMEM;
	memcpy(tp->key, key, klen);
	memcpy(tp->val, val, vlen);
	tp->klen = klen;
	tp->vlen = vlen;
	return 1;
}

static int die(int r, const char *what);

/* One record's raw bytes, found by save_cb. */
struct rec {
	const char		*db;		/* its database */
	unsigned char		 key[512];	/* its key */
	size_t			 klen;		/* bytes in key */
	FILE			*out;		/* where its value goes */
	int			 found;		/* written */
};

static int
save_cb(const char *db, const void *key, size_t klen, const void *val,
    size_t vlen, void *arg)
{
	struct rec *rc = arg;

	if (strcmp(db, rc->db) != 0 || klen != rc->klen ||
	    memcmp(key, rc->key, klen) != 0)
		return 0;
	if (fwrite(val, 1, vlen, rc->out) != vlen)
		return VD_EINVAL;
	rc->found = 1;
	return 1;
}

/* save-record / put-record: raw bytes of one record, without the key. */
static int
record(const char *cmd, const char *dir, const char *db, const char *hex,
    const char *file)
{
	static unsigned char val[1 << 20];
	struct vd_store *st = NULL;
	struct vd_txn *t = NULL;
	struct rec rc = { .db = db };
	size_t n = 0;
	FILE *f;
	int r, save = strcmp(cmd, "save-record") == 0;

	if (sodium_hex2bin(rc.key, sizeof(rc.key), hex, strlen(hex), NULL,
	    &rc.klen, NULL) != 0) {
		fprintf(stderr, "test_daemon_vault: bad KEYHEX\n");
		return 2;
	}
	if ((f = fopen(file, save ? "wb" : "rb")) == NULL) {
		perror(file);
		return 1;
	}
	if (!save)
		n = fread(val, 1, sizeof(val), f);
	if ((r = vd_store_open(dir, save ? VD_STORE_RDONLY : 0, &st)) != 0 ||
	    (r = vd_txn_begin(st, !save, &t)) != 0) {
		fclose(f);
		vd_store_close(st);
		return die(r, "open");
	}
	rc.out = f;
	if (save)
		r = vd_store_raw_each(t, save_cb, &rc) < 0 ? VD_EINVAL :
		    rc.found ? 0 : VD_ENOTFOUND;
	else if ((r = vd_store_raw_put(t, db, rc.key, rc.klen, val, n)) == 0) {
		r = vd_txn_commit(t);
		t = NULL;
	}
	vd_txn_abort(t);
	vd_store_close(st);
	if (fclose(f) != 0 && r == 0)
		r = -EIO;
	return r == 0 ? 0 : die(r, cmd);
}

static int
die(int r, const char *what)
{
	char buf[600];

	fprintf(stderr, "test_daemon_vault: %s: %s\n", what,
	    vd_err_format(r, buf, sizeof(buf)));
	return 1;
}

int
main(int argc, char **argv)
{
	struct vd_kdf_params cheap = {
		crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN
	};
	struct vd_store *st = NULL;
	struct vd_secret *key = NULL;
	struct vd_txn *t = NULL;
	struct tamper tp;
	int r;

	if (vd_mem_init() != 0)
		return 1;
	if (argc == 6 && (strcmp(argv[1], "save-record") == 0 ||
	    strcmp(argv[1], "put-record") == 0))
		return record(argv[1], argv[2], argv[3], argv[4], argv[5]);
	if (argc == 4 && strcmp(argv[1], "keyfile") == 0) {
		if ((r = vd_keyfile_create(argv[3])) != 0)
			return die(r, "keyfile");
		if ((r = vd_keyfile_load(argv[3], &key)) != 0 ||
		    (r = vd_store_create(argv[2], VD_KDF_KEYFILE, key, NULL,
		    &st)) != 0)
			return die(r, "create");
	} else if (argc == 3 && strcmp(argv[1], "passphrase") == 0) {
		if ((r = vd_read_secret(STDIN_FILENO, "passphrase: ", 0, 0,
		    &key)) != 0 ||
		    (r = vd_store_create(argv[2], VD_KDF_ARGON2ID, key,
		    &cheap, &st)) != 0)
			return die(r, "create");
	} else if (argc == 5 && strcmp(argv[1], "tamper-audit") == 0) {
		memset(&tp, 0, sizeof(tp));
		tp.seq = strtoull(argv[4], NULL, 10);
		if ((r = vd_keyfile_load(argv[3], &key)) != 0 ||
		    (r = vd_store_open(argv[2], 0, &st)) != 0 ||
		    (r = vd_store_unlock(st, key)) != 0 ||
		    (r = vd_txn_begin(st, 1, &t)) != 0)
			return die(r, "open");
		if ((r = vd_store_raw_each(t, tamper_cb, &tp)) < 0 ||
		    tp.val == NULL)
			return die(r < 0 ? r : VD_ENOTFOUND, "find entry");
		tp.val[tp.vlen / 2] ^= 0x01;
		if ((r = vd_store_raw_put(t, "audit", tp.key, tp.klen, tp.val,
		    tp.vlen)) != 0 || (r = vd_txn_commit(t)) != 0)
			return die(r, "tamper");
		free(tp.key);
		free(tp.val);
	} else {
		fprintf(stderr, "usage: test_daemon_vault keyfile DIR KEYFILE "
		    "| passphrase DIR | tamper-audit DIR KEYFILE SEQ\n"
		    "       | save-record|put-record DIR DB KEYHEX FILE\n");
		return 2;
	}
	vd_store_close(st);
	vd_secret_free(key);
	return 0;
}
