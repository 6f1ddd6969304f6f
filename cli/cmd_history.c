/*
 * cmd_history.c - vaultctl history NAME [--limit N] [--json]: a target's
 * rotation history, newest first (operator or auditor role).
 */
#include <getopt.h>
#include <stdio.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"
#include "util.h"

static void
history_usage(FILE *f)
{
	fprintf(f, "usage: vaultctl history NAME [--limit N] [--json] "
	    "[--socket PATH]\n"
	    "Lists the target's rotations, newest first: version, trigger, "
	    "result,\n"
	    "started_at, finished_at and error.\n");
}

/* vaultctl history … */
int
cmd_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *params, *res = NULL, *e;
	long long limit = 20;
	size_t i;
	int ch, json = 0, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (vd_parse_int(optarg, 1, 10000, &limit) != 0) {
				fprintf(stderr, "vaultctl: --limit: expected "
				    "1..10000\n");
				return VC_EXIT_USAGE;
			}
			break;
		case 'j': json = 1; break;
		case 'S': vc_set_socket(optarg); break;
		case 'h':
			history_usage(stdout);
			return VC_EXIT_OK;
		default:
			history_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		history_usage(stderr);
		return VC_EXIT_USAGE;
	}
	params = json_pack("{s:s, s:I}", "name", argv[optind], "limit",
	    (json_int_t)limit);
	if ((rc = vc_call_exit("history", "history", params, 0, &res)) !=
	    VC_EXIT_OK)
		return rc;
	if (json)
		rc = vc_print_json(json_object_get(res, "entries"));
	else {
		printf("%-7s %-12s %-8s %-20s %-20s %s\n", "VERSION",
		    "TRIGGER", "RESULT", "STARTED", "FINISHED", "ERROR");
		json_array_foreach(json_object_get(res, "entries"), i, e) {
			printf("%-7s ", vc_str(json_object_get(e, "version")));
			printf("%-12s ", vc_str(json_object_get(e, "trigger")));
			printf("%-8s ", vc_str(json_object_get(e, "result")));
			printf("%-20s ", vc_str(json_object_get(e,
			    "started_at")));
			printf("%-20s ", vc_str(json_object_get(e,
			    "finished_at")));
			printf("%s\n", vc_str(json_object_get(e, "error")));
		}
	}
	json_decref(res);
	return rc;
}
