/*
 * cmd_target.c - vaultctl target add|list|show|remove|set-password
 * (online, admin for add/remove/set-password; docs/api.md target.*).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"
#include "err.h"
#include "mem.h"
#include "proto.h"
#include "util.h"

static void
target_usage(FILE *f)
{
	fprintf(f,
	    "usage: vaultctl target add NAME (--host H [--port P] | "
	    "--unix-socket PATH) --user USER\n"
	    "           [--account-hosts h1,h2,...|auto] [--policy P] "
	    "[--every DUR]\n"
	    "           [--window HH:MM-HH:MM[ DAYS]] [--after-reveal DUR] "
	    "[--admin-user U]\n"
	    "           [--tls required|disabled] [--tls-ca FILE] "
	    "[--replica-of T] [--force]\n"
	    "           [--approvals N] [--checkout-max DUR] [--no-check] "
	    "[--json]\n"
	    "       vaultctl target check NAME [--json]\n"
	    "       vaultctl target set NAME [--host H [--port P] | "
	    "--unix-socket PATH]\n"
	    "           [--account-hosts h1,h2,...|auto] [--policy P] "
	    "[--every DUR]\n"
	    "           [--window HH:MM-HH:MM[ DAYS]|''] [--after-reveal "
	    "DUR|0]\n"
	    "           [--admin-user U|''] [--tls required|disabled] "
	    "[--tls-ca FILE|''] [--force] [--json]\n"
	    "           [--approvals N|0] [--checkout-max DUR]\n"
	    "       vaultctl target list [--json]\n"
	    "       vaultctl target show NAME [--json]\n"
	    "       vaultctl target remove NAME [--wait]\n"
	    "       vaultctl target set-password NAME [--json]\n"
	    "       vaultctl target abandon NAME [--json]\n"
	    "\n"
	    "target add reads the account's current password from the first "
	    "line of stdin\n"
	    "(and the admin account's from the second with --admin-user), or "
	    "prompts on a\n"
	    "terminal without echo; vaultd logs in with it before storing "
	    "it.\n"
	    "target set changes only the options given (history and versions "
	    "stay); a new\n"
	    "server, account hosts, TLS or admin account is proven by a login "
	    "with the\n"
	    "current password before it is stored (a new --admin-user's "
	    "password is read\n"
	    "like add's).  '' clears --window, --tls-ca, --admin-user; "
	    "--after-reveal 0 clears it.\n"
	    "--approvals N (1..16): get needs an approved request (vaultctl "
	    "request) with N\n"
	    "approvers other than the requester; 0 removes it.  "
	    "--checkout-max: the longest\n"
	    "checkout a request may ask for (default 4h).\n"
	    "--force registers an account (server, user, host rows) that "
	    "another target has.\n"
	    "target check logs in with the current password on every host of "
	    "the account\n"
	    "(listing them, for auto), checks that the session a rotation "
	    "changes each row\n"
	    "through may change it, and prints per row ok, unreachable (from "
	    "here), refused,\n"
	    "no-privilege or error, and why; target add does the same before "
	    "storing the\n"
	    "password (--no-check: one login by the target's route only).\n"
	    "target set-password reads, the same way, the password now in "
	    "force on the server\n"
	    "(changed outside the vault); vaultd stores it as the new current "
	    "version once it\n"
	    "logs in on every host of the account, and replaces it after the "
	    "after-reveal\n"
	    "grace (at once without one).\n"
	    "target abandon drops a pending version that no host holds "
	    "(vaultd proves it),\n"
	    "keeping the current one.\n"
	    "target remove refuses while a rotation of the target runs; "
	    "--wait waits for\n"
	    "its end, then removes (versions and escrow envelopes stay "
	    "in the vault).\n"
	    "Every command takes --socket PATH.\n");
}

enum {
	O_HOST = 256, O_PORT, O_USOCK, O_USER, O_AHOSTS, O_POLICY, O_EVERY,
	O_WINDOW, O_AFTER, O_ADMIN, O_TLS, O_TLSCA, O_SOCKET, O_JSON, O_HELP,
	O_WAIT, O_REPLICA, O_FORCE, O_CHECK, O_NOCHECK, O_APPROVALS, O_COMAX
};

static const struct option add_opts[] = {
	{ "host", required_argument, NULL, O_HOST },
	{ "port", required_argument, NULL, O_PORT },
	{ "unix-socket", required_argument, NULL, O_USOCK },
	{ "user", required_argument, NULL, O_USER },
	{ "account-hosts", required_argument, NULL, O_AHOSTS },
	{ "policy", required_argument, NULL, O_POLICY },
	{ "every", required_argument, NULL, O_EVERY },
	{ "window", required_argument, NULL, O_WINDOW },
	{ "after-reveal", required_argument, NULL, O_AFTER },
	{ "admin-user", required_argument, NULL, O_ADMIN },
	{ "tls", required_argument, NULL, O_TLS },
	{ "tls-ca", required_argument, NULL, O_TLSCA },
	{ "replica-of", required_argument, NULL, O_REPLICA },
	{ "force", no_argument, NULL, O_FORCE },
	{ "check", no_argument, NULL, O_CHECK },
	{ "no-check", no_argument, NULL, O_NOCHECK },
	{ "approvals", required_argument, NULL, O_APPROVALS },
	{ "checkout-max", required_argument, NULL, O_COMAX },
	{ "socket", required_argument, NULL, O_SOCKET },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Splits "h1,h2" into a JSON array; NULL on an empty element. */
static json_t *
host_list(const char *s)
{
	json_t *arr = json_array();
	const char *p = s, *comma;

	while (arr != NULL) {
		comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n == 0 || json_array_append_new(arr, json_stringn(p, n)) !=
		    0) {
			json_decref(arr);
			return NULL;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return arr;
}

/*
 * Reads a password (the next line of stdin, or a prompt without echo on a
 * terminal) into params[key], for target add and target set-password.
 * The secure copy is wiped here; jansson's copies are wiped on free
 * (vd_proto_init()).  Returns VC_EXIT_OK, or an exit code after saying
 * why on stderr (never the input).
 */
static int
read_password(json_t *params, const char *key, const char *prompt,
    const char *what)
{
	struct vd_secret *pw = NULL;
	int r, rc = VC_EXIT_OK;

	if ((r = vd_read_secret(STDIN_FILENO, prompt, 0, 0, &pw)) != 0) {
		vc_err(r, "reading %s", what);
		return VC_EXIT_FAIL;
	}
	if (json_object_set_new(params, key, json_stringn((const char *)
	    pw->data, pw->len)) != 0) {
		fprintf(stderr, "vaultctl: %s must be valid UTF-8\n", what);
		rc = VC_EXIT_FAIL;
	}
	vd_secret_free(pw);
	return rc;
}

/* Adds key: string to params when v is set. */
static int
put_str(json_t *params, const char *key, const char *v)
{
	if (v == NULL)
		return 0;
	return json_object_set_new(params, key, json_string(v));
}

/*
 * target add NAME … and target set NAME … (set: only the options given;
 * no password of the account, a new admin account's password).
 */
static int
target_edit(int argc, char **argv, int set)
{
	const char *host = NULL, *usock = NULL, *user = NULL, *ahosts = NULL,
	    *policy = NULL, *every = NULL, *window = NULL, *after = NULL,
	    *admin = NULL, *tls = NULL, *tls_ca = NULL, *replica = NULL,
	    *comax = NULL;
	json_t *params = NULL, *res = NULL, *v;
	long long port = 0, approvals = -1;
	char prompt[160];
	int ch, json = 0, force = 0, pre = 1, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", add_opts, NULL)) != -1) {
		switch (ch) {
		case O_HOST: host = optarg; break;
		case O_PORT:
			if (vd_parse_int(optarg, 1, 65535, &port) != 0) {
				fprintf(stderr, "vaultctl: --port: expected "
				    "1..65535\n");
				return VC_EXIT_USAGE;
			}
			break;
		case O_USOCK: usock = optarg; break;
		case O_USER: user = optarg; break;
		case O_AHOSTS: ahosts = optarg; break;
		case O_POLICY: policy = optarg; break;
		case O_EVERY: every = optarg; break;
		case O_WINDOW: window = optarg; break;
		case O_AFTER: after = optarg; break;
		case O_ADMIN: admin = optarg; break;
		case O_TLS: tls = optarg; break;
		case O_TLSCA: tls_ca = optarg; break;
		case O_REPLICA: replica = optarg; break;
		case O_APPROVALS:
			if (vd_parse_int(optarg, 0, 16, &approvals) != 0) {
				fprintf(stderr, "vaultctl: --approvals: "
				    "expected 0..16\n");
				return VC_EXIT_USAGE;
			}
			break;
		case O_COMAX: comax = optarg; break;
		case O_SOCKET: vc_set_socket(optarg); break;
		case O_JSON: json = 1; break;
		case O_FORCE: force = 1; break;
		case O_CHECK: pre = 1; break;	/* the default */
		case O_NOCHECK: pre = 0; break;
		case O_HELP:
			target_usage(stdout);
			return VC_EXIT_OK;
		default:
			target_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (set && (optind + 1 != argc || user != NULL || (host != NULL &&
	    usock != NULL))) {
		fprintf(stderr, "vaultctl: target set needs NAME and takes no "
		    "--user (the account is the target; add another), and at "
		    "most one of --host / --unix-socket\n");
		target_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (!set && (optind + 1 != argc || user == NULL || (host == NULL) ==
	    (usock == NULL))) {
		fprintf(stderr, "vaultctl: target add needs NAME, --user and "
		    "one of --host / --unix-socket\n");
		target_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (!vd_name_valid(argv[optind])) {
		fprintf(stderr, "vaultctl: bad target name (use "
		    "[A-Za-z0-9._-], at most %d)\n", VD_NAME_MAX);
		return VC_EXIT_USAGE;
	}
	if ((params = json_pack("{s:s}", "name", argv[optind])) == NULL ||
	    (force && json_object_set_new(params, "force", json_true()) != 0) ||
	    (!set && json_object_set_new(params, "check", json_boolean(pre)) !=
	    0)) {
		rc = VC_EXIT_FAIL;
		goto out;
	}
	if (put_str(params, "user", user) != 0 ||
	    put_str(params, "host", host) != 0 ||
	    put_str(params, "unix_socket", usock) != 0 ||
	    put_str(params, "policy", policy) != 0 ||
	    put_str(params, "every", every) != 0 ||
	    put_str(params, "window", window) != 0 ||
	    put_str(params, "tls", tls) != 0 ||
	    put_str(params, "tls_ca", tls_ca) != 0 ||
	    put_str(params, "after_reveal", after) != 0 ||
	    put_str(params, "admin_user", admin) != 0 ||
	    put_str(params, "replica_of", replica) != 0 ||
	    put_str(params, "checkout_max", comax) != 0 ||
	    (approvals >= 0 && json_object_set_new(params, "approvals",
	    json_integer(approvals)) != 0) ||
	    (port != 0 && json_object_set_new(params, "port",
	    json_integer(port)) != 0)) {
		rc = VC_EXIT_FAIL;
		goto out;
	}
	if (ahosts != NULL) {
		v = strcmp(ahosts, "auto") == 0 ? json_string("auto") :
		    host_list(ahosts);
		if (v == NULL) {
			fprintf(stderr, "vaultctl: --account-hosts: a comma "
			    "list of hosts, or auto\n");
			rc = VC_EXIT_USAGE;
			goto out;
		}
		json_object_set_new(params, "account_hosts", v);
	}
	if (!set) {
		snprintf(prompt, sizeof(prompt), "Current password of %.80s: ",
		    user);
		if ((rc = read_password(params, "password", prompt,
		    "the password")) != VC_EXIT_OK)
			goto out;
	}
	if (admin != NULL && *admin != '\0') {
		snprintf(prompt, sizeof(prompt), "Password of admin account "
		    "%.80s: ", admin);
		if ((rc = read_password(params, "admin_password", prompt,
		    "the admin password")) != VC_EXIT_OK)
			goto out;
	}
	rc = vc_call_exit(set ? "target set" : "target add", set ?
	    "target.set" : "target.add", params, 0, &res);
	params = NULL;
	if (rc != VC_EXIT_OK)
		goto out;
	if (json)
		rc = vc_print_json(res);
	else if (set) {
		const char *h = vc_str(json_object_get(res, "hosts"));

		printf("target %s changed: %s%s%s\n", argv[optind],
		    vc_str(json_object_get(res, "changed")), *h && strcmp(h,
		    "-") != 0 ? "; proven by login: " : "", *h && strcmp(h,
		    "-") != 0 ? h : "");
	} else if (pre && json_string_length(json_object_get(res, "hosts")))
		printf("target %s added, version %s; every host checked: %s\n",
		    argv[optind], vc_str(json_object_get(res, "version")),
		    vc_str(json_object_get(res, "hosts")));
	else
		printf("target %s added, version %s\n", argv[optind],
		    vc_str(json_object_get(res, "version")));
 out:
	json_decref(params);
	json_decref(res);
	return rc;
}

static const struct option simple_opts[] = {
	{ "socket", required_argument, NULL, O_SOCKET },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, O_HELP },
	{ "wait", no_argument, NULL, O_WAIT },
	{ NULL, 0, NULL, 0 },
};

/*
 * Parses --socket/--json/--help, --wait where wait is not NULL, and nargs
 * positionals; -1: go on.
 */
static int
simple_args(int argc, char **argv, int nargs, int *json, int *wait)
{
	int ch;

	*json = 0;
	if (wait != NULL)
		*wait = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", simple_opts, NULL)) != -1) {
		switch (ch) {
		case O_SOCKET: vc_set_socket(optarg); break;
		case O_JSON: *json = 1; break;
		case O_WAIT:
			if (wait == NULL)
				goto usage;
			*wait = 1;
			break;
		case O_HELP:
			target_usage(stdout);
			return VC_EXIT_OK;
		default:
			goto usage;
		}
	}
	if (argc - optind != nargs)
		goto usage;
	return -1;
 usage:
	target_usage(stderr);
	return VC_EXIT_USAGE;
}

static const char *
endpoint(const json_t *t, char *buf, size_t len)
{
	json_t *sock = json_object_get(t, "unix_socket");

	if (json_is_string(sock))
		return json_string_value(sock);
	snprintf(buf, len, "%s:%s", vc_str(json_object_get(t, "host")),
	    vc_str(json_object_get(t, "port")));
	return buf;
}

static int
target_list(int argc, char **argv)
{
	json_t *res = NULL, *t;
	char buf[300];
	size_t i;
	int json, rc;

	if ((rc = simple_args(argc, argv, 0, &json, NULL)) >= 0)
		return rc;
	if ((rc = vc_call_exit("target list", "target.list", NULL, 0,
	    &res)) != VC_EXIT_OK)
		return rc;
	if (json)
		rc = vc_print_json(json_object_get(res, "targets"));
	else {
		printf("%-24s %-30s %-16s %s\n", "NAME", "SERVER", "USER",
		    "POLICY");
		json_array_foreach(json_object_get(res, "targets"), i, t)
			printf("%-24s %-30s %-16s %s\n",
			    vc_str(json_object_get(t, "name")),
			    endpoint(t, buf, sizeof(buf)),
			    vc_str(json_object_get(t, "user")),
			    vc_str(json_object_get(t, "policy")));
	}
	json_decref(res);
	return rc;
}

/*
 * Writes seconds as the largest whole unit vaultctl takes (90d, 12h, 15m,
 * 30s): the way the operator wrote --every and --after-reveal.
 */
static const char *
dur_str(const json_t *v, char *buf, size_t len)
{
	static const struct { long long secs; char unit; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
	};
	long long s;

	if (!json_is_integer(v))
		return vc_str(v);
	s = (long long)json_integer_value(v);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (s > 0 && s % units[i].secs == 0) {
			snprintf(buf, len, "%lld%c", s / units[i].secs,
			    units[i].unit);
			return buf;
		}
	snprintf(buf, len, "%llds", s);
	return buf;
}

static int
target_show(int argc, char **argv)
{
	json_t *res = NULL, *v;
	const char *key;
	size_t i;
	int json, rc;

	if ((rc = simple_args(argc, argv, 1, &json, NULL)) >= 0)
		return rc;
	if ((rc = vc_call_exit("target show", "target.show",
	    json_pack("{s:s}", "name", argv[optind]), 0, &res)) != VC_EXIT_OK)
		return rc;
	if (json) {
		rc = vc_print_json(res);
		json_decref(res);
		return rc;
	}
	json_object_foreach(res, key, v) {
		if (strcmp(key, "versions") == 0)
			continue;
		if (json_is_array(v)) {
			char *s = json_dumps(v, JSON_COMPACT);

			printf("%-14s %s\n", key, s != NULL ? s : "-");
			vd_proto_free(s);
		} else if (strcmp(key, "every") == 0 ||
		    strcmp(key, "after_reveal") == 0 ||
		    strcmp(key, "checkout_max") == 0) {
			char dbuf[32];

			printf("%-14s %s\n", key, dur_str(v, dbuf,
			    sizeof(dbuf)));
		} else
			printf("%-14s %s\n", key, vc_str(v));
	}
	printf("versions:\n");
	json_array_foreach(json_object_get(res, "versions"), i, v)
		printf("  %-6s %-10s %-12s %s\n",
		    vc_str(json_object_get(v, "version")),
		    vc_str(json_object_get(v, "state")),
		    vc_str(json_object_get(v, "trigger")),
		    vc_str(json_object_get(v, "created_at")));
	json_decref(res);
	return VC_EXIT_OK;
}

static int
target_remove(int argc, char **argv)
{
	json_t *res = NULL;
	int json, rc, wait;

	if ((rc = simple_args(argc, argv, 1, &json, &wait)) >= 0)
		return rc;
	if ((rc = vc_call_exit("target remove", "target.remove",
	    json_pack("{s:s, s:b}", "name", argv[optind], "wait", wait), 0,
	    &res)) != VC_EXIT_OK)
		return rc;
	if (json)
		rc = vc_print_json(res);
	else
		printf("target %s removed (history and audit kept)\n",
		    argv[optind]);
	json_decref(res);
	return rc;
}

/*
 * target abandon NAME: the pending version is held by no row of the
 * account (vaultd proves it by each row's stored hash): it fails and the
 * current version stands.
 */
static int
target_abandon(int argc, char **argv)
{
	json_t *res = NULL;
	int json, rc;

	if ((rc = simple_args(argc, argv, 1, &json, NULL)) >= 0)
		return rc;
	if ((rc = vc_call_exit("target abandon", "target.abandon",
	    json_pack("{s:s}", "name", argv[optind]), 0, &res)) !=
	    VC_EXIT_OK)
		return rc;
	if (json)
		rc = vc_print_json(res);
	else
		printf("target %s: pending version %lld abandoned; no row "
		    "holds it (%s)\n", argv[optind], (long long)
		    json_integer_value(json_object_get(res, "version")),
		    vc_str(json_object_get(res, "hosts")));
	json_decref(res);
	return rc;
}

/*
 * target check NAME: the pre-flight; one line per account row, with what
 * was found and why.  Exits 0 when every row that can be reached logs in
 * and every row may be changed.
 */
/* target check's line on the plugins logins may use (issue 14 item 5). */
static void
auth_line(json_t *res)
{
	const char *now = json_string_value(json_object_get(res, "auth"));
	const char *rec = json_string_value(json_object_get(res,
	    "auth_stored"));

	if (now == NULL)
		return;
	if (rec == NULL)
		printf("  plugins: %s (not recorded: logins allow "
		    "mysql_native_password and client_ed25519)\n", now);
	else if (strcmp(now, rec) != 0)
		printf("  plugins: %s, but the record names %s: logins allow "
		    "only those; if the account's methods were changed on "
		    "purpose, remove the target and add it again\n", now, rec);
	else
		printf("  plugins: %s (recorded: logins allow only these)\n",
		    now);
}

static int
target_check(int argc, char **argv)
{
	json_t *res = NULL, *rows, *row;
	const char *err;
	size_t i;
	int json, rc;

	if ((rc = simple_args(argc, argv, 1, &json, NULL)) >= 0)
		return rc;
	if ((rc = vc_call_exit("target check", "target.check",
	    json_pack("{s:s}", "name", argv[optind]), 0, &res)) !=
	    VC_EXIT_OK)
		return rc;
	rc = strcmp(vc_str(json_object_get(res, "result")), "ok") == 0 ?
	    VC_EXIT_OK : VC_EXIT_FAIL;
	if (json) {
		if (vc_print_json(res) != 0)
			rc = VC_EXIT_FAIL;
		json_decref(res);
		return rc;
	}
	err = json_string_value(json_object_get(res, "error"));
	printf("target %s: %s\n", argv[optind], rc == VC_EXIT_OK ? "every "
	    "account row that can be reached from here logs in, and may be "
	    "changed" : "NOT READY");
	rows = json_object_get(res, "rows");
	json_array_foreach(rows, i, row) {
		const char *why = json_string_value(json_object_get(row,
		    "why"));

		printf("  %-30s %s%s%s\n", vc_str(json_object_get(row, "host")),
		    vc_str(json_object_get(row, "result")), why ? ": " : "",
		    why ? why : "");
	}
	if (err != NULL && json_array_size(rows) == 0)
		printf("  why: %s\n", err);
	auth_line(res);
	json_decref(res);
	return rc;
}

/*
 * target set-password NAME: hands vaultd the password now in force (read
 * like target add's), after it was changed outside the vault.
 */
static int
target_set_password(int argc, char **argv)
{
	json_t *params = NULL, *res = NULL;
	char prompt[160];
	int json, rc;

	if ((rc = simple_args(argc, argv, 1, &json, NULL)) >= 0)
		return rc;
	if (!vd_name_valid(argv[optind])) {
		fprintf(stderr, "vaultctl: bad target name (use "
		    "[A-Za-z0-9._-], at most %d)\n", VD_NAME_MAX);
		return VC_EXIT_USAGE;
	}
	if ((params = json_pack("{s:s}", "name", argv[optind])) == NULL)
		return VC_EXIT_FAIL;
	snprintf(prompt, sizeof(prompt), "Password now in force for "
	    "%.64s: ", argv[optind]);
	if ((rc = read_password(params, "password", prompt,
	    "the password")) != VC_EXIT_OK) {
		json_decref(params);
		return rc;
	}
	rc = vc_call_exit("target set-password", "target.set_password",
	    params, 0, &res);
	if (rc != VC_EXIT_OK)
		return rc;
	if (json)
		rc = vc_print_json(res);
	else
		printf("target %s: password set as version %s (%s); its "
		    "replacement is due %s\n", argv[optind],
		    vc_str(json_object_get(res, "version")),
		    vc_str(json_object_get(res, "hosts")),
		    vc_str(json_object_get(res, "next_rotation")));
	json_decref(res);
	return rc;
}

/* vaultctl target SUBCOMMAND … */
int
cmd_target(int argc, char **argv)
{
	if (argc < 2) {
		target_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		target_usage(stdout);
		return VC_EXIT_OK;
	}
	if (strcmp(argv[1], "add") == 0)
		return target_edit(argc - 1, argv + 1, 0);
	if (strcmp(argv[1], "set") == 0)
		return target_edit(argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "list") == 0)
		return target_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return target_show(argc - 1, argv + 1);
	if (strcmp(argv[1], "remove") == 0)
		return target_remove(argc - 1, argv + 1);
	if (strcmp(argv[1], "set-password") == 0)
		return target_set_password(argc - 1, argv + 1);
	if (strcmp(argv[1], "abandon") == 0)
		return target_abandon(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return target_check(argc - 1, argv + 1);
	fprintf(stderr, "vaultctl: unknown target command '%s'\n", argv[1]);
	target_usage(stderr);
	return VC_EXIT_USAGE;
}
