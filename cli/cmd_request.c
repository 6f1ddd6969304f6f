/*
 * cmd_request.c - access requests and checkouts (issue 17):
 *
 *   vaultctl request NAME --reason TEXT [--for DUR] [--json]
 *   vaultctl requests [--all] [--json]
 *   vaultctl approve ID [--comment TEXT] [--json]
 *   vaultctl deny ID --comment TEXT [--json]
 *   vaultctl checkin NAME [--json]
 *   vaultctl revoke (NAME | --id ID) [--comment TEXT] [--json]
 *
 * vaultd checks who may do what (checkout.h); nothing here is secret.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"
#include "util.h"

static void
request_usage(FILE *f)
{
	fprintf(f,
	    "usage: vaultctl request NAME --reason TEXT [--for DUR] [--json]\n"
	    "       vaultctl requests [--all] [--json]\n"
	    "       vaultctl approve ID [--comment TEXT] [--json]\n"
	    "       vaultctl deny ID --comment TEXT [--json]\n"
	    "       vaultctl checkin NAME [--json]\n"
	    "       vaultctl revoke (NAME | --id ID) [--comment TEXT] [--json]\n"
	    "\n"
	    "A target set with --approvals N is revealed only under an "
	    "approved request:\n"
	    "request asks (reason required; --for up to the target's "
	    "checkout-max, default\n"
	    "1h or less), N approvers other than the requester approve, and "
	    "the requester\n"
	    "alone may then get the password until checkin, the end of the "
	    "granted time,\n"
	    "or an admin's revoke; each of them rotates the password at "
	    "once.\n"
	    "requests lists open requests (--all: ended ones too).\n"
	    "Every command takes --socket PATH.\n");
}

enum { O_REASON = 256, O_FOR, O_COMMENT, O_ID, O_ALL, O_JSON, O_SOCKET,
	O_HELP };

static const struct option opts[] = {
	{ "reason", required_argument, NULL, O_REASON },
	{ "for", required_argument, NULL, O_FOR },
	{ "comment", required_argument, NULL, O_COMMENT },
	{ "id", required_argument, NULL, O_ID },
	{ "all", no_argument, NULL, O_ALL },
	{ "json", no_argument, NULL, O_JSON },
	{ "socket", required_argument, NULL, O_SOCKET },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

/* The options of one invocation. */
struct args {
	const char	*reason, *fors, *comment;
	long long	 id;
	int		 all, json;
};

/*
 * Parses argv into *a, allowing the options in allowed (a string of
 * O_* - 256 + 'a' letters) and nargs positionals.  Returns -1 to go on,
 * or the exit code.
 */
static int
parse(int argc, char **argv, const char *allowed, int nargs, struct args *a)
{
	int ch;

	memset(a, 0, sizeof(*a));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch >= O_REASON && ch <= O_ALL &&
		    strchr(allowed, 'a' + ch - O_REASON) == NULL)
			goto usage;
		switch (ch) {
		case O_REASON: a->reason = optarg; break;
		case O_FOR: a->fors = optarg; break;
		case O_COMMENT: a->comment = optarg; break;
		case O_ID:
			if (vd_parse_int(optarg, 1, 9999999999LL, &a->id) !=
			    0) {
				fprintf(stderr, "vaultctl: --id: expected a "
				    "request id\n");
				return VC_EXIT_USAGE;
			}
			break;
		case O_ALL: a->all = 1; break;
		case O_JSON: a->json = 1; break;
		case O_SOCKET: vc_set_socket(optarg); break;
		case O_HELP:
			request_usage(stdout);
			return VC_EXIT_OK;
		default:
			goto usage;
		}
	}
	if (argc - optind == nargs)
		return -1;
 usage:
	request_usage(stderr);
	return VC_EXIT_USAGE;
}

/* Prints one request as a line of the table. */
static void
row(const json_t *r)
{
	const char *st = vc_str(json_object_get(r, "state"));
	const char *when = strcmp(st, "approved") == 0 ? "until" :
	    strcmp(st, "pending") == 0 ? "expires_at" : "ended_at";
	char appr[32];

	snprintf(appr, sizeof(appr), "%zu/%s", json_array_size(
	    json_object_get(r, "approvals")), vc_str(json_object_get(r,
	    "needed")));
	printf("%-6s %-20s %-12s %-10s %-9s %-20s %s\n",
	    vc_str(json_object_get(r, "id")),
	    vc_str(json_object_get(r, "target")),
	    vc_str(json_object_get(r, "user")), st, appr,
	    vc_str(json_object_get(r, when)),
	    vc_str(json_object_get(r, "reason")));
}

static void
header(void)
{
	printf("%-6s %-20s %-12s %-10s %-9s %-20s %s\n", "ID", "TARGET",
	    "REQUESTER", "STATE", "APPROVALS", "UNTIL/EXPIRES", "REASON");
}

/* Calls method with params and prints the request it answers with. */
static int
call_one(const char *what, const char *method, json_t *params, int json)
{
	json_t *res = NULL, *rot;
	int rc;

	if ((rc = vc_call_exit(what, method, params, 0, &res)) != VC_EXIT_OK)
		return rc;
	if (json)
		rc = vc_print_json(res);
	else {
		header();
		row(res);
	}
	rot = json_object_get(res, "rotation");
	if (json_is_object(rot)) {
		const char *err = json_string_value(json_object_get(rot,
		    "error"));

		if (err != NULL) {
			fprintf(stderr, "vaultctl: %s: the rotation after it "
			    "failed: %s (vaultd retries it)\n", what, err);
			rc = VC_EXIT_FAIL;
		} else if (!json)
			printf("rotated: version %s, %s\n",
			    vc_str(json_object_get(rot, "version")),
			    vc_str(json_object_get(rot, "result")));
	}
	json_decref(res);
	return rc;
}

/* vaultctl request NAME --reason TEXT [--for DUR] */
int
cmd_request(int argc, char **argv)
{
	struct args a;
	json_t *p;
	int rc;

	if ((rc = parse(argc, argv, "ab", 1, &a)) >= 0)
		return rc;
	if (a.reason == NULL) {
		fprintf(stderr, "vaultctl: request: --reason TEXT is "
		    "required\n");
		return VC_EXIT_USAGE;
	}
	p = json_pack("{s:s, s:s}", "name", argv[optind], "reason", a.reason);
	if (p != NULL && a.fors != NULL)
		json_object_set_new(p, "for", json_string(a.fors));
	return call_one("request", "request", p, a.json);
}

/* vaultctl requests [--all] */
int
cmd_requests(int argc, char **argv)
{
	struct args a;
	json_t *res = NULL, *r;
	size_t i;
	int rc;

	if ((rc = parse(argc, argv, "e", 0, &a)) >= 0)
		return rc;
	if ((rc = vc_call_exit("requests", "requests", json_pack("{s:b}",
	    "all", a.all), 0, &res)) != VC_EXIT_OK)
		return rc;
	if (a.json)
		rc = vc_print_json(json_object_get(res, "requests"));
	else {
		header();
		json_array_foreach(json_object_get(res, "requests"), i, r)
			row(r);
	}
	json_decref(res);
	return rc;
}

/* approve / deny ID */
static int
answer(int argc, char **argv, const char *method)
{
	struct args a;
	long long id;
	json_t *p;
	int rc;

	if ((rc = parse(argc, argv, "c", 1, &a)) >= 0)
		return rc;
	if (vd_parse_int(argv[optind], 1, 9999999999LL, &id) != 0) {
		fprintf(stderr, "vaultctl: %s: ID: expected a request id\n",
		    method);
		return VC_EXIT_USAGE;
	}
	if (strcmp(method, "deny") == 0 && a.comment == NULL) {
		fprintf(stderr, "vaultctl: deny: --comment TEXT is required\n");
		return VC_EXIT_USAGE;
	}
	p = json_pack("{s:I}", "id", (json_int_t)id);
	if (p != NULL && a.comment != NULL)
		json_object_set_new(p, "comment", json_string(a.comment));
	return call_one(method, method, p, a.json);
}

int
cmd_approve(int argc, char **argv)
{
	return answer(argc, argv, "approve");
}

int
cmd_deny(int argc, char **argv)
{
	return answer(argc, argv, "deny");
}

/* vaultctl checkin NAME */
int
cmd_checkin(int argc, char **argv)
{
	struct args a;
	int rc;

	if ((rc = parse(argc, argv, "", 1, &a)) >= 0)
		return rc;
	return call_one("checkin", "checkin", json_pack("{s:s}", "name",
	    argv[optind]), a.json);
}

/* vaultctl revoke (NAME | --id ID) [--comment TEXT] */
int
cmd_revoke(int argc, char **argv)
{
	struct args a;
	json_t *p;
	int rc, n;

	optind = 0;
	/* NAME, or --id and no NAME. */
	for (n = 1; n < argc; n++)
		if (strcmp(argv[n], "--id") == 0 ||
		    strncmp(argv[n], "--id=", 5) == 0)
			break;
	if ((rc = parse(argc, argv, "cd", n < argc ? 0 : 1, &a)) >= 0)
		return rc;
	if (a.id != 0)
		p = json_pack("{s:I}", "id", (json_int_t)a.id);
	else
		p = json_pack("{s:s}", "name", argv[optind]);
	if (p != NULL && a.comment != NULL)
		json_object_set_new(p, "comment", json_string(a.comment));
	return call_one("revoke", "revoke", p, a.json);
}
