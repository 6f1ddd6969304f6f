/*
 * cmd_status.c - vaultctl status [--json]: the daemon's state and, per
 * target, its state, current version, last rotation, next due and last
 * error (operator role).
 */
#include <getopt.h>
#include <stdio.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"

static void
status_usage(FILE *f)
{
	fprintf(f, "usage: vaultctl status [--json] [--socket PATH]\n"
	    "Shows whether the vault is sealed and each target's state.\n");
}

/* vaultctl status … */
int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *res = NULL, *t;
	size_t i;
	int ch, json = 0, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 'S': vc_set_socket(optarg); break;
		case 'h':
			status_usage(stdout);
			return VC_EXIT_OK;
		default:
			status_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		status_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if ((rc = vc_call_exit("status", "status", NULL, 0, &res)) !=
	    VC_EXIT_OK)
		return rc;
	if (json) {
		rc = vc_print_json(res);
		json_decref(res);
		return rc;
	}
	printf("vault %s: %s\n", vc_str(json_object_get(res, "vault_id")),
	    json_is_true(json_object_get(res, "sealed")) ? "SEALED "
	    "(run vaultctl unseal)" : "unsealed");
	printf("vaultd %s, up %ss, ", vc_str(json_object_get(res, "version")),
	    vc_str(json_object_get(res, "uptime")));
	printf("%s connections\n", vc_str(json_object_get(res,
	    "connections")));
	if (json_array_size(json_object_get(res, "targets")) > 0)
		printf("\n%-24s %-12s %-7s %-20s %-20s %s\n", "TARGET",
		    "STATE", "VERSION", "LAST ROTATION", "NEXT DUE",
		    "LAST ERROR");
	json_array_foreach(json_object_get(res, "targets"), i, t) {
		printf("%-24s ", vc_str(json_object_get(t, "name")));
		printf("%-12s ", vc_str(json_object_get(t, "state")));
		printf("%-7s ", vc_str(json_object_get(t, "current_version")));
		printf("%-20s ", vc_str(json_object_get(t, "last_rotation")));
		printf("%-20s ", vc_str(json_object_get(t, "next_due")));
		printf("%s\n", vc_str(json_object_get(t, "last_error")));
	}
	json_decref(res);
	return VC_EXIT_OK;
}
