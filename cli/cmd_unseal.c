/*
 * cmd_unseal.c - vaultctl unseal: gives vaultd the vault's passphrase
 * (admin role).  The passphrase is read from the terminal without echo, or
 * from the first line of stdin, and goes only over the socket.
 */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"
#include "mem.h"
#include "util.h"

static void
unseal_usage(FILE *f)
{
	fprintf(f, "usage: vaultctl unseal [--json] [--socket PATH]\n"
	    "Reads the vault's passphrase (terminal without echo, or the "
	    "first line of\n"
	    "stdin) and gives it to vaultd over its socket.\n");
}

/* vaultctl unseal … */
int
cmd_unseal(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vd_secret *pass = NULL;
	json_t *params, *res = NULL;
	int ch, json = 0, rc, r;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 'S': vc_set_socket(optarg); break;
		case 'h':
			unseal_usage(stdout);
			return VC_EXIT_OK;
		default:
			unseal_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		unseal_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if ((r = vd_read_secret(STDIN_FILENO, "Vault passphrase: ", 0, 0,
	    &pass)) != 0) {
		vc_err(r, "reading the passphrase");
		return VC_EXIT_FAIL;
	}
	/* jansson's copy is wiped on free (vd_proto_init()). */
	params = json_pack("{s:s%}", "passphrase", (const char *)pass->data,
	    pass->len);
	vd_secret_free(pass);
	if (params == NULL) {
		fprintf(stderr, "vaultctl: the passphrase must be UTF-8\n");
		return VC_EXIT_FAIL;
	}
	if ((rc = vc_call_exit("unseal", "unseal", params, 0, &res)) !=
	    VC_EXIT_OK)
		return rc;
	if (json)
		rc = vc_print_json(res);
	else
		printf("vault unsealed\n");
	json_decref(res);
	return rc;
}
