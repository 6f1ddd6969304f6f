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
 */
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
		    "| passphrase DIR | tamper-audit DIR KEYFILE SEQ\n");
		return 2;
	}
	vd_store_close(st);
	vd_secret_free(key);
	return 0;
}
