/*
 * cmd_status.c - vaultctl status [--json | --check [--grace DUR] |
 * --prometheus]: the daemon's state and, per target, its state, current
 * version, last rotation, next due and last error (operator role).
 *
 * --check follows the Nagios/Icinga/Zabbix plugin convention: one summary
 * line on stdout, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 * --prometheus prints the Prometheus text exposition format (version
 * 0.0.4) for node_exporter's textfile collector.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"
#include "err.h"
#include "util.h"

#define CHECK_TIMEOUT	30	/* seconds --check waits for vaultd */
#define GRACE_DEFAULT	3600	/* --grace: overdue after next_due + 1h */
#define NAMES_MAX	5	/* target names one --check line lists */

/* Plugin exit codes (Nagios plugin guidelines). */
enum {
	CHECK_OK = 0,
	CHECK_WARNING = 1,
	CHECK_CRITICAL = 2,
	CHECK_UNKNOWN = 3,
};

static void
status_usage(FILE *f)
{
	fprintf(f, "usage: vaultctl status [--state S1,S2,...] [--json] "
	    "[--socket PATH]\n"
	    "       vaultctl status --check [--grace DUR] [--socket PATH]\n"
	    "       vaultctl status --prometheus [--socket PATH]\n"
	    "Shows whether the vault is sealed and each target's state.\n"
	    "--check: one line and exit 0 OK, 1 WARNING (a target overdue by "
	    "more than\n"
	    "--grace, default 1h, or retrying/pending), 2 CRITICAL (drift, "
	    "failed, unrecorded, sealed),\n"
	    "3 UNKNOWN (vaultd unreachable).  --prometheus: metrics in the "
	    "Prometheus\n"
	    "text format (vaultd_up 0 when vaultd does not answer).\n"
	    "--state lists only the targets in those states (ok, retrying, "
	    "pending,\n"
	    "failed, drift, unrecorded, no-password; checked-out: the ones "
	    "checked out).\n"
	    "LAST OK is the last successful change of the password; LAST "
	    "ERROR the\n"
	    "newest entry's error.  A checked-out target gets a line below the "
	    "table:\n"
	    "its holder, request id and the checkout's end.\n");
}

/* --- --check ------------------------------------------------------------ */

/* Targets of one severity, for the summary line. */
struct names {
	size_t	n;			/* targets counted */
	char	buf[512];		/* "db1 drift, db2 failed" ... */
};

static void
names_add(struct names *nm, const char *name, const char *why)
{
	size_t used = strlen(nm->buf);
	int k;

	nm->n++;
	if (nm->n > NAMES_MAX) {
		if (nm->n == NAMES_MAX + 1 && used + 6 < sizeof(nm->buf))
			memcpy(nm->buf + used, ", ...", sizeof(", ..."));
		return;
	}
	k = snprintf(nm->buf + used, sizeof(nm->buf) - used, "%s%s %s",
	    used ? ", " : "", name, why);
	if (k < 0 || (size_t)k >= sizeof(nm->buf) - used)
		nm->buf[used] = '\0';	/* too long: leave the name out */
}

static int
status_check(int64_t grace)
{
	struct names crit, warn;
	json_t *res = NULL, *t;
	json_int_t now;
	size_t i, n;
	int r;

	memset(&crit, 0, sizeof(crit));
	memset(&warn, 0, sizeof(warn));
	vd_err_clear();
	if ((r = vc_call("status", NULL, CHECK_TIMEOUT, &res)) != 0) {
		printf("VAULTD UNKNOWN - %s\n", vd_err_detail()[0] ?
		    vd_err_detail() : vd_strerror(r));
		return CHECK_UNKNOWN;
	}
	if (!json_is_boolean(json_object_get(res, "sealed")) ||
	    !json_is_array(json_object_get(res, "targets")) ||
	    !json_is_integer(json_object_get(res, "time"))) {
		printf("VAULTD UNKNOWN - unexpected status answer (vaultd "
		    "too old?)\n");
		json_decref(res);
		return CHECK_UNKNOWN;
	}
	if (json_is_true(json_object_get(res, "sealed"))) {
		printf("VAULTD CRITICAL - vault %s is sealed: run vaultctl "
		    "unseal\n", vc_str(json_object_get(res, "vault_id")));
		json_decref(res);
		return CHECK_CRITICAL;
	}
	now = json_integer_value(json_object_get(res, "time"));
	n = json_array_size(json_object_get(res, "targets"));
	json_array_foreach(json_object_get(res, "targets"), i, t) {
		const char *name = vc_str(json_object_get(t, "name"));
		const char *st = json_string_value(json_object_get(t, "state"));
		json_t *due = json_object_get(t, "next_due_unix");
		char why[64];

		if (st == NULL)
			st = "unknown";
		if (strcmp(st, "drift") == 0 || strcmp(st, "failed") == 0 ||
		    strcmp(st, "no-password") == 0 ||
		    strcmp(st, "unrecorded") == 0)
			names_add(&crit, name, st);
		else if (strcmp(st, "retrying") == 0 ||
		    strcmp(st, "pending") == 0)
			names_add(&warn, name, st);
		else if (json_is_integer(due) &&
		    now - json_integer_value(due) > grace) {
			snprintf(why, sizeof(why), "overdue %llds",
			    (long long)(now - json_integer_value(due)));
			names_add(&warn, name, why);
		}
	}
	json_decref(res);
	if (crit.n > 0) {
		printf("VAULTD CRITICAL - %zu of %zu targets: %s%s%s\n",
		    crit.n + warn.n, n, crit.buf, warn.n ? "; " : "",
		    warn.buf);
		return CHECK_CRITICAL;
	}
	if (warn.n > 0) {
		printf("VAULTD WARNING - %zu of %zu targets: %s\n", warn.n, n,
		    warn.buf);
		return CHECK_WARNING;
	}
	printf("VAULTD OK - vault unsealed, %zu targets ok\n", n);
	return CHECK_OK;
}

/* --- --prometheus ------------------------------------------------------- */

/* Prints s as a label value: backslash, double quote and newline escaped. */
static void
label(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", stdout);
		else if (*s == '"')
			fputs("\\\"", stdout);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void
family(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample per target: key under t (or t.counters), skipped if absent. */
static void
per_target(const json_t *targets, const char *metric, const char *type,
    const char *help, const char *key, int counter)
{
	const json_t *t, *v;
	size_t i;

	family(metric, type, help);
	json_array_foreach(targets, i, t) {
		v = json_object_get(counter ? json_object_get(t, "counters") :
		    t, key);
		if (!json_is_integer(v))
			continue;
		printf("%s{target=\"", metric);
		label(json_string_value(json_object_get(t, "name")));
		printf("\"} %lld\n", (long long)json_integer_value(v));
	}
}

static const char *const states[] = {
	"ok", "pending", "retrying", "failed", "drift", "no-password",
	"unrecorded",
};

static int
status_prometheus(void)
{
	json_t *res = NULL, *targets, *t, *v;
	json_int_t now;
	size_t i, k;
	int r;

	vd_err_clear();
	r = vc_call("status", json_pack("{s:b}", "counters", 1),
	    CHECK_TIMEOUT, &res);
	family("vaultd_up", "gauge", "1 when vaultd answered the status "
	    "call, else 0.");
	if (r != 0 || !json_is_integer(json_object_get(res, "time"))) {
		fprintf(stderr, "vaultctl: status: %s\n", r == 0 ?
		    "unexpected answer" : vd_err_detail()[0] ?
		    vd_err_detail() : vd_strerror(r));
		printf("vaultd_up 0\n");
		json_decref(res);
		return fflush(stdout) != 0 ? VC_EXIT_FAIL : VC_EXIT_OK;
	}
	printf("vaultd_up 1\n");
	now = json_integer_value(json_object_get(res, "time"));
	targets = json_object_get(res, "targets");
	family("vaultd_sealed", "gauge", "1 while the vault is sealed "
	    "(vaultctl unseal).");
	printf("vaultd_sealed %d\n", json_is_true(json_object_get(res,
	    "sealed")) ? 1 : 0);
	family("vaultd_uptime_seconds", "gauge", "Seconds since vaultd "
	    "started.");
	printf("vaultd_uptime_seconds %lld\n", (long long)json_integer_value(
	    json_object_get(res, "uptime")));
	family("vaultd_rotations_running", "gauge", "Rotations in flight "
	    "now.");
	printf("vaultd_rotations_running %lld\n", (long long)
	    json_integer_value(json_object_get(res, "rotations_running")));
	family("vaultd_targets", "gauge", "Targets registered (0 while "
	    "sealed).");
	printf("vaultd_targets %zu\n", json_array_size(targets));
	if ((v = json_object_get(res, "reveals_total")) != NULL) {
		family("vaultd_reveals_total", "counter", "Passwords revealed "
		    "(vaultctl get), every target.");
		printf("vaultd_reveals_total %lld\n", (long long)
		    json_integer_value(v));
	}
	per_target(targets, "vaultd_target_current_version", "gauge",
	    "The target's current password version.", "current_version", 0);
	family("vaultd_target_state", "gauge", "1 for the target's state, 0 "
	    "for the others.");
	json_array_foreach(targets, i, t) {
		const char *st = json_string_value(json_object_get(t, "state"));
		int known = 0;

		for (k = 0; k < VD_NELEM(states); k++) {
			printf("vaultd_target_state{target=\"");
			label(json_string_value(json_object_get(t, "name")));
			printf("\",state=\"%s\"} %d\n", states[k],
			    st != NULL && strcmp(st, states[k]) == 0);
			known |= st != NULL && strcmp(st, states[k]) == 0;
		}
		if (!known && st != NULL) {
			printf("vaultd_target_state{target=\"");
			label(json_string_value(json_object_get(t, "name")));
			printf("\",state=\"");
			label(st);
			printf("\"} 1\n");
		}
	}
	family("vaultd_target_seconds_since_last_rotation", "gauge",
	    "Seconds since the target's password last changed successfully.");
	json_array_foreach(targets, i, t) {
		v = json_object_get(t, "last_ok_unix");
		if (!json_is_integer(v))
			continue;
		printf("vaultd_target_seconds_since_last_rotation{target=\"");
		label(json_string_value(json_object_get(t, "name")));
		printf("\"} %lld\n", (long long)(now - json_integer_value(v)));
	}
	family("vaultd_target_checked_out", "gauge", "1 while the target is "
	    "checked out (vaultctl request), else 0.");
	json_array_foreach(targets, i, t) {
		printf("vaultd_target_checked_out{target=\"");
		label(json_string_value(json_object_get(t, "name")));
		printf("\"} %d\n", json_is_object(json_object_get(t,
		    "checkout")));
	}
	family("vaultd_target_checkout_end_timestamp_seconds", "gauge",
	    "When the target's checkout ends at the latest (Unix time).");
	json_array_foreach(targets, i, t) {
		v = json_object_get(json_object_get(t, "checkout"),
		    "until_unix");
		if (!json_is_integer(v))
			continue;
		printf("vaultd_target_checkout_end_timestamp_seconds{target="
		    "\"");
		label(json_string_value(json_object_get(t, "name")));
		printf("\"} %lld\n", (long long)json_integer_value(v));
	}
	per_target(targets, "vaultd_target_next_due_timestamp_seconds",
	    "gauge", "When the next scheduled rotation is due (Unix time).",
	    "next_due_unix", 0);
	per_target(targets, "vaultd_target_retries", "gauge",
	    "Failed attempts since the last success.", "retries", 0);
	per_target(targets, "vaultd_target_rotations_total", "counter",
	    "Successful rotations (the initial version not counted).",
	    "rotations", 1);
	per_target(targets, "vaultd_target_rotation_failures_total",
	    "counter", "Rotations that failed (refused, unreachable, "
	    "partial).", "failures", 1);
	per_target(targets, "vaultd_target_drift_total", "counter",
	    "Times the vault's password was found refused by the server.",
	    "drift", 1);
	per_target(targets, "vaultd_target_reveals_total", "counter",
	    "Reveals of the target's passwords (vaultctl get).", "reveals",
	    1);
	json_decref(res);
	return fflush(stdout) != 0 ? VC_EXIT_FAIL : VC_EXIT_OK;
}

/* --- plain and --json ----------------------------------------------------- */

/* --state's filter for the targets a checkout holds (not a state). */
#define CHECKED_OUT	"checked-out"

/*
 * Checks a --state list ("drift,failed"): 0, or -1 after naming the
 * state that is not one.
 */
static int
states_valid(const char *list)
{
	const char *p = list, *comma;

	for (;;) {
		size_t n, k;

		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		for (k = 0; k < sizeof(states) / sizeof(states[0]); k++)
			if (strlen(states[k]) == n &&
			    strncmp(states[k], p, n) == 0)
				break;
		if (k == sizeof(states) / sizeof(states[0]) &&
		    (n != strlen(CHECKED_OUT) || strncmp(p, CHECKED_OUT, n) !=
		    0)) {
			fprintf(stderr, "vaultctl: --state: '%.*s' is not a "
			    "state (ok, retrying, pending, failed, drift, "
			    "unrecorded, no-password, checked-out)\n", (int)n,
			    p);
			return -1;
		}
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* 1 when state is in the comma list (NULL: every state). */
static int
state_in(const char *list, const char *state)
{
	size_t n = strlen(state);
	const char *p = list;

	if (list == NULL)
		return 1;
	for (; (p = strstr(p, state)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' ||
		    p[n] == '\0'))
			return 1;
	return 0;
}

static int
status_show(int json, const char *only)
{
	json_t *res = NULL, *t, *keep;
	size_t i;
	json_int_t total;
	int rc;

	if ((rc = vc_call_exit("status", "status", NULL, 0, &res)) !=
	    VC_EXIT_OK)
		return rc;
	if (only != NULL && (keep = json_array()) != NULL) {
		json_array_foreach(json_object_get(res, "targets"), i, t)
			if (state_in(only, vc_str(json_object_get(t,
			    "state"))) || (json_is_object(json_object_get(t,
			    "checkout")) && state_in(only, CHECKED_OUT)))
				json_array_append(keep, t);
		json_object_set_new(res, "targets", keep);
	}
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
		    "STATE", "VERSION", "LAST OK", "NEXT DUE",
		    "LAST ERROR");
	json_array_foreach(json_object_get(res, "targets"), i, t) {
		printf("%-24s ", vc_str(json_object_get(t, "name")));
		printf("%-12s ", vc_str(json_object_get(t, "state")));
		printf("%-7s ", vc_str(json_object_get(t, "current_version")));
		{
			/* The last success, not a failed check's time. */
			json_t *lo = json_object_get(t, "last_ok_unix");
			char ts[32] = "-";
			time_t secs = (time_t)json_integer_value(lo);
			struct tm tm;

			if (json_is_integer(lo) && gmtime_r(&secs, &tm) != NULL)
				strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ",
				    &tm);
			printf("%-20s ", ts);
		}
		printf("%-20s ", vc_str(json_object_get(t, "next_due")));
		printf("%s\n", vc_str(json_object_get(t, "last_error")));
	}
	json_array_foreach(json_object_get(res, "targets"), i, t) {
		json_t *co = json_object_get(t, "checkout");

		if (json_is_object(co))
			printf("checked out: target %s by %s until %s (request "
			    "%s)\n", vc_str(json_object_get(t, "name")), vc_str(
			    json_object_get(co, "holder")), vc_str(
			    json_object_get(co, "until")), vc_str(
			    json_object_get(co, "request")));
	}
	json_array_foreach(json_object_get(res, "targets"), i, t)
		if (json_is_string(json_object_get(t, "warning")))
			printf("warning: target %s: %s\n", vc_str(
			    json_object_get(t, "name")), vc_str(
			    json_object_get(t, "warning")));
	total = json_integer_value(json_object_get(res, "targets_total"));
	if ((size_t)total > json_array_size(json_object_get(res, "targets"))) {
		const char *k;
		json_t *n;

		/* A large vault: the daemon lists healthy targets up
		 * to its limit (targets needing attention beyond it)
		 * and counts them all. */
		printf("\n%lld targets in all, %zu listed; by state:",
		    (long long)total, json_array_size(json_object_get(res,
		    "targets")));
		json_object_foreach(json_object_get(res, "targets_by_state"),
		    k, n)
			printf(" %s=%lld", k, (long long)json_integer_value(n));
		printf("\n");
	}
	json_decref(res);
	return VC_EXIT_OK;
}

/* vaultctl status … */
int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "check", no_argument, NULL, 'c' },
		{ "grace", required_argument, NULL, 'g' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "state", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t grace = GRACE_DEFAULT;
	const char *only = NULL;
	int ch, json = 0, check = 0, prom = 0, have_grace = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 'c': check = 1; break;
		case 'p': prom = 1; break;
		case 's':
			if (states_valid(optarg) != 0)
				return VC_EXIT_USAGE;
			only = optarg;
			break;
		case 'S': vc_set_socket(optarg); break;
		case 'g':
			if (vd_parse_duration(optarg, &grace) != 0) {
				fprintf(stderr, "vaultctl: --grace: expected a "
				    "duration (e.g. 1h)\n");
				return check ? CHECK_UNKNOWN : VC_EXIT_USAGE;
			}
			have_grace = 1;
			break;
		case 'h':
			status_usage(stdout);
			return VC_EXIT_OK;
		default:
			status_usage(stderr);
			/* A plugin's usage error is UNKNOWN, not WARNING. */
			return check ? CHECK_UNKNOWN : VC_EXIT_USAGE;
		}
	}
	if (optind != argc || json + check + prom > 1 ||
	    (have_grace && !check) || (only != NULL && (check || prom))) {
		status_usage(stderr);
		return check ? CHECK_UNKNOWN : VC_EXIT_USAGE;
	}
	if (check)
		return status_check(grace);
	if (prom)
		return status_prometheus();
	return status_show(json, only);
}
