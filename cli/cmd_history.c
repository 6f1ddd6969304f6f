/*
 * cmd_history.c - vaultctl history NAME [--limit N] [--json]: a target's
 * rotation history, newest first (operator or auditor role).
 */
#include <getopt.h>
#include <stdio.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"
#include "list.h"

static void
history_usage(FILE *f)
{
	fprintf(f, "usage: vaultctl history NAME [--limit N] [--json | --csv] "
	    "[--socket PATH]\n"
	    "Lists the target's rotations and checkout events (trigger "
	    "checkout), newest\n"
	    "first: version, trigger, result (a request's state),\n"
	    "started_at, finished_at, the host rows and what each did, and "
	    "the error\n"
	    "(or a repair's note).\n");
}

/* Prints the table's header, over history_row()'s columns. */
static void
history_header(void)
{
	printf("%-7s %-12s %-8s %-20s %-20s %-30s %s\n", "VERSION", "TRIGGER",
	    "RESULT", "STARTED", "FINISHED", "HOSTS", "ERROR/NOTE");
}

/* Prints one rotation as a table row. */
static void
history_row(json_t *e)
{
	printf("%-7s ", vc_str(json_object_get(e, "version")));
	printf("%-12s ", vc_str(json_object_get(e, "trigger")));
	/* A checkout note (issue 17) has the request's state instead. */
	printf("%-8s ", vc_str(json_object_get(e, json_object_get(e,
	    "result") != NULL ? "result" : "state")));
	printf("%-20s ", vc_str(json_object_get(e, "started_at")));
	printf("%-20s ", vc_str(json_object_get(e, "finished_at")));
	printf("%-30s ", vc_str(json_object_get(e, "hosts")));
	/* A repair's note says which version the server held. */
	if (json_is_string(json_object_get(e, "note")) &&
	    json_is_string(json_object_get(e, "error")))
		printf("%s (%s)\n", vc_str(json_object_get(e, "error")),
		    vc_str(json_object_get(e, "note")));
	else
		printf("%s\n", vc_str(json_object_get(e, json_is_string(
		    json_object_get(e, "note")) ? "note" : "error")));
}

/* vaultctl history … */
int
cmd_history(int argc, char **argv)
{
	static const char *const cols[] = { "seq", "version", "trigger",
	    "result", "started_at", "finished_at", "hosts", "error", "note",
	    "by", "request", NULL };
	struct vc_list l = { .usage = history_usage,
	    .header = history_header, .row = history_row, .csv = cols,
	    .nargs = 1 };
	int rc;

	if ((rc = vc_list_options(&l, argc, argv)) >= 0)
		return rc;
	return vc_list_print(&l, "history", "history", json_pack("{s:s, s:I}",
	    "name", argv[optind], "limit", (json_int_t)l.limit));
}
