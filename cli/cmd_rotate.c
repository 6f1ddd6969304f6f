/*
 * cmd_rotate.c - vaultctl rotate (NAME | --all) [--wait] [--json]: asks
 * vaultd for a rotation now (operator role).
 *
 * --all is one call: vaultd requests every target's rotation and runs them
 * within its [rotation] concurrency.  With --wait it answers once all have
 * ended, sending "rotate.progress" notifications on the way (docs/api.md);
 * on a terminal they become a progress line on stderr, in a pipe nothing
 * but the final summary is printed.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"
#include "err.h"

#define WAIT_TIMEOUT	3600	/* seconds --wait waits (per progress line) */

static void
rotate_usage(FILE *f)
{
	fprintf(f, "usage: vaultctl rotate NAME [--wait] [--json] "
	    "[--socket PATH]\n"
	    "       vaultctl rotate --all [--wait] [--json] [--socket PATH]\n"
	    "Asks vaultd to rotate the target's password (or every target's, "
	    "with --all) now;\n"
	    "with --wait, exits 0 only once every rotation succeeded.  "
	    "--all --wait shows\n"
	    "a progress line when stderr is a terminal.\n");
}

/* The progress line's state (a terminal on stderr only). */
struct progress {
	int	shown;		/* a line is on the terminal */
};

static void
progress_cb(const json_t *params, void *arg)
{
	struct progress *p = arg;
	json_int_t total, ended, failed;

	total = json_integer_value(json_object_get(params, "total"));
	ended = json_integer_value(json_object_get(params, "ended"));
	failed = json_integer_value(json_object_get(params, "failed"));
	/* \r and erase-to-end: one line, rewritten in place. */
	fprintf(stderr, "\rrotated %lld/%lld, %lld failed\033[K",
	    (long long)(ended - failed), (long long)total, (long long)failed);
	fflush(stderr);
	p->shown = 1;
}

/* Prints the answer to rotate --all; returns the exit code. */
static int
print_all(const json_t *res, int wait, int json)
{
	json_int_t total, failed;
	const json_t *t;
	size_t i;
	int rc = VC_EXIT_OK;

	total = json_integer_value(json_object_get(res, "total"));
	failed = json_integer_value(json_object_get(res, "failed"));
	if (failed != 0)
		rc = VC_EXIT_FAIL;
	if (json)
		return vc_print_json(res) != 0 ? VC_EXIT_FAIL : rc;
	json_array_foreach(json_object_get(res, "results"), i, t) {
		const char *r = json_string_value(json_object_get(t, "result"));

		if (r != NULL && (strcmp(r, "ok") == 0 ||
		    strcmp(r, "requested") == 0))
			continue;
		printf("%s: %s: %s\n", vc_str(json_object_get(t, "name")),
		    r != NULL ? r : "failed", vc_str(json_object_get(t,
		    "error")));
	}
	if (wait)
		printf("rotated %lld of %lld targets, %lld failed\n",
		    (long long)(total - failed), (long long)total,
		    (long long)failed);
	else
		printf("rotation of %lld targets requested, %lld refused\n",
		    (long long)(total - failed), (long long)failed);
	return rc;
}

/* vaultctl rotate … */
int
cmd_rotate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "wait", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct progress prog = { 0 };
	json_t *res = NULL;
	int ch, json = 0, wait = 0, all = 0, rc, r;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'a': all = 1; break;
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
	if (optind + (all ? 0 : 1) != argc) {
		rotate_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (all) {
		/*
		 * Progress is always asked for with --wait: each line also
		 * restarts the timeout, so a long batch is not cut off.
		 */
		r = vc_call_notify("rotate", json_pack("{s:b, s:b, s:b}",
		    "all", 1, "wait", wait, "progress", wait), wait ?
		    WAIT_TIMEOUT : 0, wait && isatty(STDERR_FILENO) ?
		    progress_cb : NULL, &prog, &res);
		if (prog.shown)
			fputs("\r\033[K", stderr);
		if (r != 0) {
			fprintf(stderr, "vaultctl: rotate: %s\n",
			    vd_err_detail()[0] ? vd_err_detail() :
			    vd_strerror(r));
			return vc_exit_code(r);
		}
		rc = print_all(res, wait, json);
		json_decref(res);
		return rc;
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
