/*
 * cmd_rotate.c - vaultctl rotate NAME [--wait] [--json]: asks vaultd for a
 * rotation now (operator role).
 */
#include <getopt.h>
#include <stdio.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"

#define WAIT_TIMEOUT	3600	/* seconds --wait waits at most */

static void
rotate_usage(FILE *f)
{
	fprintf(f, "usage: vaultctl rotate NAME [--wait] [--json] "
	    "[--socket PATH]\n"
	    "Asks vaultd to rotate the target's password now; with --wait, "
	    "exits 0 only\n"
	    "once the rotation succeeded.\n");
}

/* vaultctl rotate … */
int
cmd_rotate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *res = NULL;
	int ch, json = 0, wait = 0, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'w': wait = 1; break;
		case 'j': json = 1; break;
		case 'S': vc_set_socket(optarg); break;
		case 'h':
			rotate_usage(stdout);
			return VC_EXIT_OK;
		default:
			rotate_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		rotate_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if ((rc = vc_call_exit("rotate", "rotate", json_pack("{s:s, s:b}",
	    "name", argv[optind], "wait", wait), wait ? WAIT_TIMEOUT : 0,
	    &res)) != VC_EXIT_OK)
		return rc;
	if (json)
		rc = vc_print_json(res);
	else if (wait)
		printf("%s rotated, version %s\n", argv[optind],
		    vc_str(json_object_get(res, "version")));
	else
		printf("rotation of %s requested\n", argv[optind]);
	json_decref(res);
	return rc;
}
