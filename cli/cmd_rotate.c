/*
 * cmd_rotate.c - vaultctl rotate (NAME | --all) [--wait] [--json]: asks
 * vaultd for a rotation now (operator role); vaultctl check (NAME | --all):
 * a drift check now.
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

/*
 * Prints "NAME WHAT V (hosts)" for one job's answer, saying how many host
 * rows were not verified by a login (the summary's "h=ok h2=held …" fields
 * other than ok) instead of letting "rotated" claim them all.
 */
static void
print_hosts(const char *name, const char *what, const json_t *res)
{
	const char *h = json_string_value(json_object_get(res, "hosts"));
	const char *p, *sp, *eq;
	int n = 0, bad = 0;

	for (p = h; p != NULL && *p != '\0'; p = sp != NULL ? sp + 1 : "") {
		sp = strchr(p, ' ');
		eq = strchr(p, '=');
		if (eq == NULL || (sp != NULL && eq > sp))
			continue;
		n++;
		if (strncmp(eq + 1, "ok", 2) != 0 || (eq[3] != ' ' &&
		    eq[3] != '\0'))
			bad++;
	}
	if (bad == 0)
		printf("%s %s %s (%s)\n", name, what, vc_str(json_object_get(res,
		    "version")), h != NULL && *h ? h : "-");
	else
		printf("%s %s %s, but %d of %d host rows not verified by a "
		    "login from here: %s\n", name, what, vc_str(
		    json_object_get(res, "version")), bad, n, h);
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
		print_hosts(argv[optind], "rotated to version", res);
	else
		printf("rotation of %s requested\n", argv[optind]);
	json_decref(res);
	return rc;
}

static void
check_usage(FILE *f)
{
	fprintf(f, "usage: vaultctl check NAME [--json] [--socket PATH]\n"
	    "       vaultctl check --all [--json] [--socket PATH]\n"
	    "Runs a drift check now: vaultd logs in with the current password "
	    "on every\n"
	    "host of the account (or every target's, with --all) and records "
	    "the outcome\n"
	    "as a scheduled check would.  Exits 0 only when every check "
	    "passed.\n");
}

/* vaultctl check (NAME | --all) */
int
cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *res = NULL, *params;
	const json_t *t;
	size_t i;
	int ch, json = 0, all = 0, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'a': all = 1; break;
		case 'j': json = 1; break;
		case 'S': vc_set_socket(optarg); break;
		case 'h':
			check_usage(stdout);
			return VC_EXIT_OK;
		default:
			check_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind + (all ? 0 : 1) != argc) {
		check_usage(stderr);
		return VC_EXIT_USAGE;
	}
	params = all ? json_pack("{s:b}", "all", 1) : json_pack("{s:s}",
	    "name", argv[optind]);
	if ((rc = vc_call_exit("check", "check", params, WAIT_TIMEOUT,
	    &res)) != VC_EXIT_OK)
		return rc;
	if (json)
		rc = vc_print_json(res);
	else if (!all)
		print_hosts(argv[optind], "checked: version", res);
	else {
		json_array_foreach(json_object_get(res, "results"), i, t) {
			const char *r = json_string_value(json_object_get(t,
			    "result"));

			if (r != NULL && strcmp(r, "ok") == 0)
				print_hosts(vc_str(json_object_get(t, "name")),
				    "checked: version", t);
			else
				printf("%s: %s: %s\n", vc_str(json_object_get(t,
				    "name")), r != NULL ? r : "failed",
				    vc_str(json_object_get(t, "error")));
		}
		printf("checked %lld targets, %lld failed\n", (long long)
		    json_integer_value(json_object_get(res, "total")),
		    (long long)json_integer_value(json_object_get(res,
		    "failed")));
	}
	if (json_integer_value(json_object_get(res, "failed")) != 0)
		rc = VC_EXIT_FAIL;
	json_decref(res);
	return rc;
}
