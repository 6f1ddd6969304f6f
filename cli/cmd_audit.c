/*
 * cmd_audit.c - vaultctl audit list (online, auditor role) and
 * vaultctl audit verify (offline: opens the data directory read-only and
 * checks the audit log's hash chain).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"
#include "err.h"
#include "list.h"
#include "mem.h"
#include "store.h"
#include "util.h"

static void
audit_usage(FILE *f)
{
	fprintf(f, "usage: vaultctl audit list [--limit N] [--json] "
	    "[--socket PATH]\n"
	    "       vaultctl audit verify --data-dir DIR [--key-file FILE]\n"
	    "\n"
	    "list shows the newest audit entries.  verify checks, offline "
	    "and read-only,\n"
	    "that no entry was edited, dropped or re-ordered; it exits 1 "
	    "naming the first\n"
	    "bad entry.  A passphrase vault's passphrase is read from the "
	    "terminal or stdin.\n");
}

/* Prints one audit entry: seq, time, then key=value for all but prev. */
static void
audit_row(json_t *e)
{
	const char *key;
	json_t *v;

	printf("%s %s", vc_str(json_object_get(e, "seq")),
	    vc_str(json_object_get(e, "time")));
	json_object_foreach(e, key, v) {
		if (strcmp(key, "seq") == 0 || strcmp(key, "time") == 0 ||
		    strcmp(key, "prev") == 0)
			continue;
		printf(" %s=%s", key, vc_str(v));
	}
	putchar('\n');
}

static int
audit_list(int argc, char **argv)
{
	struct vc_list l = { .usage = audit_usage, .row = audit_row };
	int rc;

	if ((rc = vc_list_options(&l, argc, argv)) >= 0)
		return rc;
	return vc_list_print(&l, "audit list", "audit.list",
	    json_pack("{s:I}", "limit", (json_int_t)l.limit));
}

static int
audit_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *keyfile = NULL;
	struct vd_store *st = NULL;
	struct vd_secret *key = NULL;
	struct vd_txn *t = NULL;
	uint64_t count = 0, bad = 0;
	int ch, r, rc = VC_EXIT_FAIL;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'h':
			audit_usage(stdout);
			return VC_EXIT_OK;
		default:
			audit_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (dir == NULL || optind != argc) {
		audit_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if ((r = vd_store_open(dir, VD_STORE_RDONLY, &st)) != 0) {
		vc_err(r, "%s", dir);
		goto out;
	}
	if (vd_store_kdf(st) == VD_KDF_KEYFILE) {
		if (keyfile == NULL) {
			fprintf(stderr, "vaultctl: this vault uses a key file: "
			    "give --key-file\n");
			rc = VC_EXIT_USAGE;
			goto out;
		}
		r = vd_keyfile_load(keyfile, &key);
	} else
		r = vd_read_secret(STDIN_FILENO, "Vault passphrase: ", 0, 0,
		    &key);
	if (r != 0 || (r = vd_store_unlock(st, key)) != 0) {
		vc_err(r, "cannot unlock the vault");
		goto out;
	}
	if ((r = vd_txn_begin(st, 0, &t)) != 0) {
		vc_err(r, "read transaction");
		goto out;
	}
	vd_err_clear();
	r = vd_audit_verify(t, &count, &bad);
	if (r == VD_ECHAIN || r == VD_ECORRUPT) {
		fprintf(stderr, "vaultctl: audit verify: entry %" PRIu64
		    " is bad: %s\n", bad, vd_err_detail());
		goto out;
	}
	if (r != 0) {
		vc_err(r, "audit verify");
		goto out;
	}
	printf("audit log intact: %" PRIu64 " entries\n", count);
	rc = VC_EXIT_OK;
 out:
	vd_txn_abort(t);
	vd_store_close(st);
	vd_secret_free(key);
	return rc;
}

/* vaultctl audit SUBCOMMAND … */
int
cmd_audit(int argc, char **argv)
{
	if (argc < 2) {
		audit_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		audit_usage(stdout);
		return VC_EXIT_OK;
	}
	if (strcmp(argv[1], "list") == 0)
		return audit_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return audit_verify(argc - 1, argv + 1);
	fprintf(stderr, "vaultctl: unknown audit command '%s'\n", argv[1]);
	audit_usage(stderr);
	return VC_EXIT_USAGE;
}
