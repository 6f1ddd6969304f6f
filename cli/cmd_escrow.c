/*
 * cmd_escrow.c - vaultctl escrow: escrow party keys and bundles (offline).
 *
 *   vaultctl escrow keygen --out FILE [--name PARTY] [--passphrase]
 *                          [--kdf-cost interactive|moderate|sensitive]
 *                          [--vault-key FP]
 *   vaultctl escrow export --out FILE
 *   vaultctl escrow export --data-dir DIR (--key-file FILE | --passphrase |
 *                          --unindexed) --out FILE
 *   vaultctl escrow vault-key --data-dir DIR (--key-file FILE | --passphrase)
 *   vaultctl escrow pin --escrow-key FILE --vault-key FP [--replace]
 *
 * keygen writes a party's X25519 private key to FILE (0600, never
 * overwritten), optionally sealed under a passphrase (Argon2id), and its
 * public key line to FILE.pub.  export writes a bundle of every escrow
 * envelope of a vault for the parties to keep offline, with an index and
 * audit checkpoint signed by the vault (so offline it needs the vault's
 * key; --unindexed writes the old format without it).  vault-key prints
 * the fingerprint of the vault's escrow signing key (needs the vault's
 * key); pin records it in a party's key file
 * (keygen --vault-key at creation), and break-glass then trusts envelopes
 * signed by that key only.  Formats: docs/escrow.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "client.h"
#include "cmds.h"
#include "err.h"
#include "bundle_index.h"
#include "escrow.h"
#include "store.h"
#include "util.h"

static void
escrow_usage(FILE *f)
{
	fprintf(f,
	    "usage: vaultctl escrow keygen --out FILE [--name PARTY] "
	    "[--passphrase]\n"
	    "                              [--kdf-cost interactive|moderate|"
	    "sensitive]\n"
	    "                              [--vault-key FP]\n"
	    "       vaultctl escrow export [--data-dir DIR (--key-file FILE | "
	    "--passphrase |\n"
	    "                              --unindexed)] --out FILE\n"
	    "       vaultctl escrow vault-key --data-dir DIR "
	    "(--key-file FILE | --passphrase)\n"
	    "       vaultctl escrow pin --escrow-key FILE --vault-key FP "
	    "[--replace]\n\n"
	    "keygen  makes an escrow party's key pair: FILE holds the private "
	    "key\n"
	    "        (mode 0600; keep it offline), FILE.pub the public line for"
	    " the\n"
	    "        vault's [escrow] section.  PARTY defaults to FILE's base "
	    "name.\n"
	    "        --passphrase seals the private key under a passphrase "
	    "(Argon2id),\n"
	    "        read twice from the terminal or once from stdin.\n"
	    "export  writes every escrow envelope to a new bundle FILE (no\n"
	    "        plaintext inside) with an index and audit checkpoint "
	    "signed by\n"
	    "        the vault: from vaultd over its socket (admin), or with\n"
	    "        --data-dir from the vault in DIR (read-only, unlocked with "
	    "its key\n"
	    "        file or passphrase; --unindexed: no key, no index).\n"
	    "vault-key  prints the vault's escrow signing key fingerprint, "
	    "for the\n"
	    "        parties to record and pin; unlocks the vault read-only "
	    "with its\n"
	    "        key file or passphrase.\n"
	    "pin     records the vault key fingerprint FP in the party's key "
	    "file\n"
	    "        (no passphrase needed): break-glass with that key then "
	    "trusts\n"
	    "        only envelopes signed by that vault key.  keygen "
	    "--vault-key pins\n"
	    "        at creation.\n");
}

/* Default party name: FILE's base name up to its first dot. */
static int
default_party(const char *path, char *out, size_t len)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strcspn(b, ".");
	if (n == 0 || n >= len)
		return -1;
	memcpy(out, b, n);
	out[n] = '\0';
	return vd_name_valid(out) ? 0 : -1;
}

static int
keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "passphrase", no_argument, NULL, 'p' },
		{ "kdf-cost", required_argument, NULL, 'c' },
		{ "vault-key", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *name = NULL, *cost = "moderate", *vk = NULL;
	char fp[VD_ESCROW_FPLEN + 1] = "";
	struct vd_escrow_key *k = NULL;
	struct vd_secret *pass = NULL;
	struct vd_kdf_params params;
	char party[VD_NAME_MAX + 1];
	int c, r, prot = 0, rc = VC_EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'p':
			prot = 1;
			break;
		case 'c':
			cost = optarg;
			break;
		case 'f':
			vk = optarg;
			break;
		case 'h':
			escrow_usage(stdout);
			return VC_EXIT_OK;
		default:
			escrow_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind != argc || out == NULL) {
		escrow_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (vk != NULL && vd_escrow_fp_parse(vk, fp) != 0) {
		fprintf(stderr, "vaultctl escrow keygen: --vault-key takes the %d "
		    "hex digits of a vault key fingerprint\n", VD_ESCROW_FPLEN);
		return VC_EXIT_USAGE;
	}
	if (name != NULL) {
		if (!vd_name_valid(name)) {
			fprintf(stderr, "vaultctl escrow keygen: invalid party "
			    "name (1-%d of A-Z a-z 0-9 . _ -)\n", VD_NAME_MAX);
			return VC_EXIT_USAGE;
		}
		snprintf(party, sizeof(party), "%s", name);
	} else if (default_party(out, party, sizeof(party)) != 0) {
		fprintf(stderr, "vaultctl escrow keygen: give --name PARTY\n");
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
		fprintf(stderr, "vaultctl escrow keygen: --kdf-cost must be "
		    "interactive, moderate or sensitive\n");
		return VC_EXIT_USAGE;
	}
	if (prot && (r = vd_read_secret(STDIN_FILENO,
	    "Escrow key passphrase: ", 1, 0, &pass)) != 0) {
		vc_err(r, "cannot read the passphrase");
		goto out;
	}
	if ((r = vd_escrow_keygen(party, &k)) != 0) {
		vc_err(r, "escrow keygen");
		goto out;
	}
	memcpy(k->vault_fp, fp, sizeof(fp));
	if ((r = vd_escrow_key_write(out, k, pass, &params)) != 0) {
		vc_err(r, "escrow keygen");
		goto out;
	}
	printf("escrow key of party %s, key id %s\n"
	    "  private key: %s (mode 0600%s) - keep it offline\n"
	    "  public key:  %s.pub - give it to the vault's administrator\n",
	    k->pub.party, k->pub.keyid, out,
	    prot ? ", passphrase-protected" : "", out);
	/* The key id is pinned in vaultd's [escrow] (vaultd.conf(5)). */
	printf("  vaultd.conf [escrow] line (the key id pins this key):\n"
	    "    %s = %s.pub %s\n", k->pub.party, out, k->pub.keyid);
	if (fp[0] != '\0')
		printf("  trusts vault key %s for break-glass\n", fp);
	else
		printf("  no vault key pinned yet: when the vault's administrator"
		    " gives you its\n  fingerprint, run vaultctl escrow pin "
		    "--escrow-key %s --vault-key FP\n", out);
	rc = VC_EXIT_OK;
 out:
	vd_escrow_key_free(k);
	vd_secret_free(pass);
	return rc;
}

/* escrow export --out FILE without --data-dir: ask vaultd (admin). */
static int
export_online(const char *out)
{
	json_t *res = NULL;
	const char *b64;
	unsigned char *buf = NULL;
	size_t cap, len = 0;
	int r, rc;

	if ((rc = vc_call_exit("escrow export", "escrow.export", NULL, 0,
	    &res)) != VC_EXIT_OK)
		return rc;
	rc = VC_EXIT_FAIL;
	if ((b64 = json_string_value(json_object_get(res, "bundle"))) == NULL) {
		vc_err(0, "escrow export: vaultd sent no bundle");
		goto out;
	}
	cap = strlen(b64) / 4 * 3 + 3;
	if ((buf = malloc(cap)) == NULL ||
	    sodium_base642bin(buf, cap, b64, strlen(b64), NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0) {
		vc_err(0, "escrow export: bad bundle encoding");
		goto out;
	}
	if ((r = vd_escrow_bundle_save(out, buf, len)) != 0) {
		vc_err(r, "escrow export");
		goto out;
	}
	printf("escrow bundle of vault %s (%zu bytes) written to %s\n",
	    vc_str(json_object_get(res, "vault_id")), len, out);
	rc = VC_EXIT_OK;
 out:
	free(buf);
	json_decref(res);
	return rc;
}

/*
 * Opens the vault in dir read-only and unlocks it with the key file, or
 * the passphrase read from the terminal or stdin.  Returns 0 with *stp.
 */
static int
unlock_ro(const char *dir, const char *keyfile, struct vd_store **stp)
{
	struct vd_secret *secret = NULL;
	struct vd_store *st = NULL;
	int r;

	*stp = NULL;
	if (keyfile != NULL)
		r = vd_keyfile_load(keyfile, &secret);
	else
		r = vd_read_secret(STDIN_FILENO, "Vault passphrase: ", 0, 0,
		    &secret);
	if (r == 0 && (r = vd_store_open(dir, VD_STORE_RDONLY, &st)) == 0 &&
	    (r = vd_store_unlock(st, secret)) == 0) {
		*stp = st;
		st = NULL;
	}
	vd_store_close(st);
	vd_secret_free(secret);
	return r;
}

/*
 * Offline export: with the vault's key, a bundle with its signed index
 * and checkpoint; with --unindexed (no key), the old bundle without them,
 * which break-glass accepts only with --allow-unindexed.
 */
static int
export_offline(const char *dir, const char *keyfile, int unindexed,
    const char *out)
{
	struct vd_store *st = NULL;
	struct vd_txn *t = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	int r, rc = VC_EXIT_FAIL;

	if (unindexed)
		r = vd_store_open(dir, VD_STORE_RDONLY, &st);
	else
		r = unlock_ro(dir, keyfile, &st);
	if (r != 0 || (r = vd_txn_begin(st, 0, &t)) != 0)
		goto fail;
	if (unindexed)
		r = vd_escrow_bundle_build(t, &buf, &len);
	else
		r = vd_bundle_build(st, t, vd_now(), &buf, &len);
	if (r != 0 || (r = vd_escrow_bundle_save(out, buf, len)) != 0)
		goto fail;
	printf("escrow bundle of vault %s written to %s%s\n", vd_store_id(st),
	    out, unindexed ? " (unindexed: break-glass needs "
	    "--allow-unindexed)" : "");
	rc = VC_EXIT_OK;
	goto out;
 fail:
	vc_err(r, "escrow export");
	rc = vc_exit_code(r) == VC_EXIT_USAGE ? VC_EXIT_FAIL : vc_exit_code(r);
 out:
	free(buf);
	vd_txn_abort(t);
	vd_store_close(st);
	return rc;
}

static int
export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "passphrase", no_argument, NULL, 'p' },
		{ "unindexed", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *out = NULL, *keyfile = NULL;
	int c, pass = 0, unindexed = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'p':
			pass = 1;
			break;
		case 'u':
			unindexed = 1;
			break;
		case 'h':
			escrow_usage(stdout);
			return VC_EXIT_OK;
		default:
			escrow_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind != argc || out == NULL) {
		escrow_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (dir == NULL && (keyfile != NULL || pass || unindexed)) {
		fprintf(stderr, "vaultctl escrow export: --key-file, "
		    "--passphrase and --unindexed go with --data-dir\n");
		return VC_EXIT_USAGE;
	}
	if (dir == NULL)
		return export_online(out);
	if (unindexed ? keyfile != NULL || pass : (keyfile == NULL) == !pass) {
		fprintf(stderr, "vaultctl escrow export: --data-dir needs the "
		    "vault's --key-file or --passphrase (to sign the bundle's "
		    "index), or --unindexed for a bundle without one\n");
		return VC_EXIT_USAGE;
	}
	return export_offline(dir, keyfile, unindexed, out);
}

static int
vault_key(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "passphrase", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *keyfile = NULL;
	struct vd_store *st = NULL;
	char fp[VD_ESCROW_FPLEN + 1];
	int c, r, pass = 0, rc = VC_EXIT_FAIL;

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
		case 'h':
			escrow_usage(stdout);
			return VC_EXIT_OK;
		default:
			escrow_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind != argc || dir == NULL || (keyfile == NULL) == !pass) {
		escrow_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if ((r = unlock_ro(dir, keyfile, &st)) != 0 ||
	    (r = vd_escrow_vault_fp(st, fp)) != 0) {
		vc_err(r, "escrow vault-key");
		goto out;
	}
	printf("%s\n", fp);
	rc = VC_EXIT_OK;
 out:
	vd_store_close(st);
	return rc;
}

static int
pin(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "escrow-key", required_argument, NULL, 'k' },
		{ "vault-key", required_argument, NULL, 'f' },
		{ "replace", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *keyfile = NULL, *vk = NULL;
	char fp[VD_ESCROW_FPLEN + 1];
	int c, r, replace = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			keyfile = optarg;
			break;
		case 'f':
			vk = optarg;
			break;
		case 'r':
			replace = 1;
			break;
		case 'h':
			escrow_usage(stdout);
			return VC_EXIT_OK;
		default:
			escrow_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind != argc || keyfile == NULL || vk == NULL) {
		escrow_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (vd_escrow_fp_parse(vk, fp) != 0) {
		fprintf(stderr, "vaultctl escrow pin: --vault-key takes the %d "
		    "hex digits of a vault key fingerprint\n", VD_ESCROW_FPLEN);
		return VC_EXIT_USAGE;
	}
	if ((r = vd_escrow_key_pin(keyfile, fp, replace)) != 0) {
		vc_err(r, "escrow pin");
		return VC_EXIT_FAIL;
	}
	printf("escrow key %s trusts vault key %s for break-glass\n", keyfile,
	    fp);
	return VC_EXIT_OK;
}

/* vaultctl escrow keygen|export|vault-key|pin ...; returns an exit code. */
int
cmd_escrow(int argc, char **argv)
{
	if (argc < 2) {
		escrow_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (strcmp(argv[1], "keygen") == 0)
		return keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "export") == 0)
		return export(argc - 1, argv + 1);
	if (strcmp(argv[1], "vault-key") == 0)
		return vault_key(argc - 1, argv + 1);
	if (strcmp(argv[1], "pin") == 0)
		return pin(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		escrow_usage(stdout);
		return VC_EXIT_OK;
	}
	fprintf(stderr, "vaultctl escrow: unknown subcommand '%s'\n",
	    argv[1]);
	escrow_usage(stderr);
	return VC_EXIT_USAGE;
}
