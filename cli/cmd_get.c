/*
 * cmd_get.c - vaultctl get NAME [--version N] [--json]: prints a target's
 * password (reveal role; audited by vaultd).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"
#include "err.h"
#include "proto.h"
#include "util.h"

static void
get_usage(FILE *f)
{
	fprintf(f, "usage: vaultctl get NAME [--version N] [--json] "
	    "[--socket PATH]\n"
	    "Prints the target's current password (or version N) and a "
	    "newline.\n"
	    "Every reveal is audited; with after_reveal set, vaultd rotates "
	    "it afterwards.\n");
}

/* Writes all of p with write(2): a password never sits in stdio buffers. */
static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* vaultctl get … */
int
cmd_get(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "version", required_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *params, *res = NULL, *pw;
	long long version = 0;
	char *s = NULL;
	int ch, json = 0, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			if (vd_parse_int(optarg, 1, INT64_MAX, &version) != 0) {
				fprintf(stderr, "vaultctl: --version: expected "
				    "a positive number\n");
				return VC_EXIT_USAGE;
			}
			break;
		case 'j': json = 1; break;
		case 'S': vc_set_socket(optarg); break;
		case 'h':
			get_usage(stdout);
			return VC_EXIT_OK;
		default:
			get_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		get_usage(stderr);
		return VC_EXIT_USAGE;
	}
	params = json_pack("{s:s}", "name", argv[optind]);
	if (params != NULL && version != 0)
		json_object_set_new(params, "version", json_integer(version));
	if ((rc = vc_call_exit("get", "get", params, 0, &res)) != VC_EXIT_OK)
		return rc;
	pw = json_object_get(res, "password");
	if (!json_is_string(pw)) {
		fprintf(stderr, "vaultctl: get: answer without a password\n");
		rc = VC_EXIT_FAIL;
	} else if (json) {
		if ((s = json_dumps(res, JSON_COMPACT)) == NULL ||
		    write_all(STDOUT_FILENO, s, strlen(s)) != 0 ||
		    write_all(STDOUT_FILENO, "\n", 1) != 0)
			rc = VC_EXIT_FAIL;
	} else if (write_all(STDOUT_FILENO, json_string_value(pw),
	    json_string_length(pw)) != 0 ||
	    write_all(STDOUT_FILENO, "\n", 1) != 0)
		rc = VC_EXIT_FAIL;
	vd_proto_free(s);
	json_decref(res);	/* wiped on free (vd_proto_init()) */
	return rc;
}
