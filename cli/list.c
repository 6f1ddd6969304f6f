/*
 * list.c - the options and output vaultctl's list commands share.
 */
#include <getopt.h>
#include <stdio.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"
#include "list.h"
#include "util.h"

/* Parses --limit, --json, --socket and --help, then counts operands. */
int
vc_list_options(struct vc_list *l, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	l->limit = VC_LIST_LIMIT;
	l->json = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (vd_parse_int(optarg, 1, VC_LIST_MAX, &l->limit) !=
			    0) {
				fprintf(stderr, "vaultctl: --limit: expected "
				    "1..%d\n", VC_LIST_MAX);
				return VC_EXIT_USAGE;
			}
			break;
		case 'j': l->json = 1; break;
		case 'S': vc_set_socket(optarg); break;
		case 'h':
			l->usage(stdout);
			return VC_EXIT_OK;
		default:
			l->usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (argc - optind != l->nargs) {
		l->usage(stderr);
		return VC_EXIT_USAGE;
	}
	return -1;
}

/* Calls method and prints its entries, as JSON or as a table. */
int
vc_list_print(const struct vc_list *l, const char *what, const char *method,
    json_t *params)
{
	json_t *res = NULL, *e;
	size_t i;
	int rc;

	if ((rc = vc_call_exit(what, method, params, 0, &res)) != VC_EXIT_OK)
		return rc;
	if (l->json)
		rc = vc_print_json(json_object_get(res, "entries"));
	else {
		if (l->header != NULL)
			l->header();
		json_array_foreach(json_object_get(res, "entries"), i, e)
			l->row(e);
	}
	json_decref(res);
	return rc;
}
