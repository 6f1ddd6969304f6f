/*
 * cmd_init.c - vaultctl init: create a new vault (offline).
 *
 *   vaultctl init --data-dir DIR (--key-file FILE | --passphrase)
 *                 [--kdf-cost interactive|moderate|sensitive]
 *
 * With --key-file, FILE is created with a fresh random key when it does not
 * exist (mode 0600) and used as is when it does.  With --passphrase, the
 * passphrase is read twice from the terminal, or once from stdin's first
 * line.  An existing vault is never overwritten.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cmds.h"
#include "err.h"
#include "store.h"
#include "util.h"

static void
init_usage(FILE *f)
{
	fprintf(f,
	    "usage: vaultctl init --data-dir DIR --key-file FILE\n"
	    "       vaultctl init --data-dir DIR --passphrase "
	    "[--kdf-cost interactive|moderate|sensitive]\n\n"
	    "Creates a new, empty vault in DIR (created 0700 when missing).\n"
	    "--key-file FILE  root key file; created with 32 random bytes "
	    "(mode 0600)\n"
	    "                 when missing, used as is when present\n"
	    "--passphrase     derive the root key from a passphrase (Argon2id),"
	    " read\n"
	    "                 twice from the terminal or once from stdin\n"
	    "--kdf-cost COST  Argon2id cost (default moderate)\n");
}

int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "passphrase", no_argument, NULL, 'p' },
		{ "kdf-cost", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *keyfile = NULL, *cost = "moderate";
	struct vd_kdf_params params;
	struct vd_secret *secret = NULL;
	struct vd_store *st = NULL;
	int c, r, pass = 0, created_key = 0, rc = VC_EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'p':
			pass = 1;
			break;
		case 'c':
			cost = optarg;
			break;
		case 'h':
			init_usage(stdout);
			return VC_EXIT_OK;
		default:
			init_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind != argc || dir == NULL || (keyfile == NULL) == !pass) {
		fprintf(stderr, "vaultctl init: give --data-dir and exactly one "
		    "of --key-file or --passphrase\n");
		init_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (strcmp(cost, "interactive") == 0) {
		params.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		params.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	} else if (strcmp(cost, "moderate") == 0) {
		params.opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
		params.memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
	} else if (strcmp(cost, "sensitive") == 0) {
		params.opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE;
		params.memlimit = crypto_pwhash_MEMLIMIT_SENSITIVE;
	} else {
		fprintf(stderr, "vaultctl init: --kdf-cost must be interactive, "
		    "moderate or sensitive\n");
		return VC_EXIT_USAGE;
	}

	if (keyfile != NULL) {
		r = vd_keyfile_create(keyfile);
		if (r == 0)
			created_key = 1;
		else if (r != VD_EEXIST) {
			vc_err(r, "init");
			goto out;
		}
		if ((r = vd_keyfile_load(keyfile, &secret)) != 0) {
			vc_err(r, "init");
			goto out;
		}
		r = vd_store_create(dir, VD_KDF_KEYFILE, secret, NULL, &st);
	} else {
		if ((r = vd_read_secret(STDIN_FILENO, "Vault passphrase: ", 1, 0,
		    &secret)) != 0) {
			vc_err(r, "cannot read the passphrase");
			goto out;
		}
		r = vd_store_create(dir, VD_KDF_ARGON2ID, secret, &params, &st);
	}
	if (r != 0) {
		vc_err(r, "init");
		if (created_key)
			unlink(keyfile);	/* ours, and now useless */
		goto out;
	}
	printf("vault %s created in %s (%s)\n", vd_store_id(st), dir,
	    keyfile ? "key file" : "passphrase, Argon2id");
	if (created_key)
		printf("new key file %s (mode 0600): back it up apart from the "
		    "data directory\n", keyfile);
	rc = VC_EXIT_OK;
 out:
	vd_store_close(st);
	vd_secret_free(secret);
	return rc;
}
