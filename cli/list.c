/*
 * list.c - the options and output vaultctl's list commands share.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		{ "csv", no_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	l->limit = VC_LIST_LIMIT;
	l->json = 0;
	l->as_csv = 0;
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
		case 'c': l->as_csv = 1; break;
		case 'S': vc_set_socket(optarg); break;
		case 'h':
			l->usage(stdout);
			return VC_EXIT_OK;
		default:
			l->usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (argc - optind != l->nargs || (l->json && l->as_csv)) {
		l->usage(stderr);
		return VC_EXIT_USAGE;
	}
	return -1;
}

const char *
vc_cell(const json_t *v, char *buf, size_t len)
{
	char *s;

	buf[0] = '\0';
	if (v == NULL || json_is_null(v))
		return buf;
	if (json_is_array(v) || json_is_object(v)) {
		if ((s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS)) != NULL) {
			snprintf(buf, len, "%s", s);
			free(s);
		}
		return buf;
	}
	snprintf(buf, len, "%s", vc_str(v));
	return buf;
}

/* Writes s as one CSV field (RFC 4180): quoted when it needs to be. */
static void
csv_field(const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* Calls method and prints its entries, as JSON, CSV or a table. */
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
	else if (l->as_csv) {
		for (size_t k = 0; l->csv[k] != NULL; k++)
			printf("%s%s", k ? "," : "", l->csv[k]);
		printf("\r\n");
		json_array_foreach(json_object_get(res, "entries"), i, e) {
			for (size_t k = 0; l->csv[k] != NULL; k++) {
				char buf[4096];

				if (k)
					putchar(',');
				csv_field(vc_cell(json_object_get(e, l->csv[k]),
				    buf, sizeof(buf)));
			}
			printf("\r\n");
		}
		rc = fflush(stdout) != 0 ? VC_EXIT_FAIL : VC_EXIT_OK;
	} else {
		if (l->header != NULL)
			l->header();
		json_array_foreach(json_object_get(res, "entries"), i, e)
			l->row(e);
	}
	json_decref(res);
	return rc;
}
