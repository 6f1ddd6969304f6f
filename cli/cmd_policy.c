/*
 * cmd_policy.c - vaultctl policy: show, check and generate passwords to a
 * policy (offline; docs/policy.md).
 *
 *   vaultctl policy generate [--config FILE] [--policy NAME] [--count N]
 *   vaultctl policy check    [--config FILE] [--policy NAME]
 *   vaultctl policy show     [--config FILE] [--policy NAME] [--json]
 *
 * --config reads the `[policy NAME]` sections of the daemon's config file.
 * Passwords and candidates only ever pass through secure memory and
 * write(2)/read(2) on stdout/stdin: never stdio buffers, never argv.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cmds.h"
#include "err.h"
#include "mem.h"
#include "policy.h"
#include "util.h"

#define COUNT_MAX	1000000	/* --count bound */

/* Options shared by the three subcommands. */
struct popts {
	const char	*config;	/* --config FILE, or NULL */
	const char	*policy;	/* --policy NAME, or NULL */
	long long	 count;		/* --count N (generate) */
	int		 json;		/* --json (show) */
};

/* Prints the usage of vaultctl policy to f. */
static void
policy_usage(FILE *f)
{
	fprintf(f,
	    "usage: vaultctl policy generate [--config FILE] [--policy NAME] "
	    "[--count N]\n"
	    "       vaultctl policy check [--config FILE] [--policy NAME]\n"
	    "       vaultctl policy show [--config FILE] [--policy NAME] "
	    "[--json]\n\n"
	    "generate  print N passwords (default 1), one per line\n"
	    "check     read candidates on stdin, one per line; print \"ok\" or "
	    "the\n"
	    "          rules each breaks (never the candidate); exit 1 if any "
	    "fails\n"
	    "show      print the effective policy (all policies without "
	    "--policy)\n"
	    "          and its entropy\n\n"
	    "--config FILE  read [policy NAME] sections of a vaultd config "
	    "file\n"
	    "--policy NAME  the policy to use (default: \"default\")\n"
	    "--count N      passwords to generate (1..%d)\n"
	    "--json         machine-readable output\n", COUNT_MAX);
}

/* Writes all of buf to fd; 0 or -errno. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
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

/* Loads the policy set (built-in plus --config) and finalizes it. */
static int
load_set(const struct popts *o, struct vd_policyset **out)
{
	struct vd_policyset *ps = NULL;
	int r;

	*out = NULL;
	if ((r = vd_policyset_new(&ps)) != 0) {
		vc_err(r, "policy");
		goto out;
	}
	if (o->config != NULL &&
	    (r = vd_policyset_load_file(ps, o->config)) != 0) {
		vc_err(r, "cannot load the config");
		goto out;
	}
	if ((r = vd_policyset_finalize(ps)) != 0) {
		vc_err(r, "policy refused");
		goto out;
	}
	*out = ps;
	ps = NULL;
	r = 0;
 out:
	vd_policyset_free(ps);
	return r;
}

/* Looks up --policy (or "default"); prints an error when missing. */
static const struct vd_policy *
get_policy(const struct vd_policyset *ps, const struct popts *o)
{
	const char *name = o->policy != NULL ? o->policy : "default";
	const struct vd_policy *p;

	if ((p = vd_policyset_get(ps, name)) == NULL)
		fprintf(stderr, "vaultctl policy: no policy named '%s'\n", name);
	return p;
}

/* vaultctl policy generate: --count passwords, one per line. */
static int
do_generate(const struct vd_policyset *ps, const struct popts *o)
{
	const struct vd_policy *p;
	struct vd_secret *s = NULL;
	int r, rc = VC_EXIT_FAIL;

	if ((p = get_policy(ps, o)) == NULL)
		return VC_EXIT_NOTFOUND;
	/* One secure buffer, reused: room for the password and "\n". */
	if ((s = vd_secret_new(vd_policy_length(p) + 1)) == NULL) {
		vc_err(VD_ENOMEM, "no secure memory");
		goto out;
	}
	for (long long i = 0; i < o->count; i++) {
		if ((r = vd_policy_generate_into(p, s)) != 0) {
			vc_err(r, "generate");
			goto out;
		}
		s->data[s->len] = '\n';
		if ((r = write_all(STDOUT_FILENO, s->data, s->len + 1)) != 0) {
			vc_err(r, "cannot write");
			goto out;
		}
	}
	rc = VC_EXIT_OK;
 out:
	vd_secret_free(s);
	return rc;
}

/* Checks one candidate and prints "ok" or its broken rules. */
static int
check_one(const struct vd_policy *p, const struct vd_secret *line, int *bad)
{
	char why[VD_POLICY_WHY_MAX], out[VD_POLICY_WHY_MAX + 2];
	int r, n;

	r = vd_policy_check(p, (const char *)line->data, line->len, why,
	    sizeof(why));
	if (r != 0 && r != VD_EPOLICY)
		return r;
	if (r != 0)
		*bad = 1;
	n = snprintf(out, sizeof(out), "%s\n", r == 0 ? "ok" : why);
	if (n < 0 || (size_t)n >= sizeof(out))
		return vd_err_set(VD_EINVAL, "message too long");
	return write_all(STDOUT_FILENO, out, (size_t)n);
}

/*
 * Reads candidates from a pipe or file on stdin, in chunks into secure
 * memory.  A line longer than VD_POLICY_LEN_MAX is kept to one byte more,
 * enough for the check to refuse it as too long.
 */
static int
check_stream(const struct vd_policy *p, int *bad)
{
	struct vd_secret *in = NULL, *line = NULL;
	ssize_t n;
	int r;

	if ((in = vd_secret_new(4096)) == NULL ||
	    (line = vd_secret_new(VD_POLICY_LEN_MAX + 1)) == NULL) {
		r = vd_err_set(VD_ENOMEM, "no secure memory");
		goto out;
	}
	for (;;) {
		n = read(STDIN_FILENO, in->data, in->cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			unsigned char c = in->data[i];

			if (c != '\n') {
				if (line->len < line->cap)
					line->data[line->len++] = c;
				continue;
			}
			if (line->len > 0 && line->len <= VD_POLICY_LEN_MAX &&
			    line->data[line->len - 1] == '\r')
				line->len--;
			if ((r = check_one(p, line, bad)) != 0)
				goto out;
			sodium_memzero(line->data, line->cap);
			line->len = 0;
		}
	}
	/* A last line without a newline is a candidate too. */
	if (line->len > 0 && (r = check_one(p, line, bad)) != 0)
		goto out;
	r = 0;
 out:
	vd_secret_free(in);
	vd_secret_free(line);
	return r;
}

/* Reads candidates from the terminal, echo off, until end of input. */
static int
check_tty(const struct vd_policy *p, int *bad)
{
	struct vd_secret *s = NULL;
	int r;

	fprintf(stderr, "Enter candidates, one per line (not echoed); "
	    "end with Ctrl-D.\n");
	for (;;) {
		if (vd_read_secret(STDIN_FILENO, "Candidate: ", 0, 1, &s) != 0)
			break;	/* end of input */
		r = check_one(p, s, bad);
		vd_secret_free(s);
		s = NULL;
		if (r != 0)
			return r;
	}
	return 0;
}

/* vaultctl policy check: candidates on stdin; exit 1 if any fails. */
static int
do_check(const struct vd_policyset *ps, const struct popts *o)
{
	const struct vd_policy *p;
	int r, bad = 0;

	if ((p = get_policy(ps, o)) == NULL)
		return VC_EXIT_NOTFOUND;
	if (isatty(STDIN_FILENO))
		r = check_tty(p, &bad);
	else
		r = check_stream(p, &bad);
	if (r != 0) {
		vc_err(r, "check");
		return VC_EXIT_FAIL;
	}
	return bad ? VC_EXIT_FAIL : VC_EXIT_OK;
}

/* Prints one policy for people. */
static void
show_text(const struct vd_policy *p)
{
	json_t *o, *v;
	size_t i;
	const char *ex;

	if ((o = vd_policy_to_json(p)) == NULL) {
		vc_err(VD_ENOMEM, "show");
		return;
	}
	printf("policy %s\n", vd_policy_name(p));
	printf("  length          %zu\n", vd_policy_length(p));
	printf("  classes         upper>=%lld lower>=%lld digit>=%lld "
	    "special>=%lld\n",
	    (long long)json_integer_value(json_object_get(o, "min_upper")),
	    (long long)json_integer_value(json_object_get(o, "min_lower")),
	    (long long)json_integer_value(json_object_get(o, "min_digit")),
	    (long long)json_integer_value(json_object_get(o, "min_special")));
	printf("  special         %s\n",
	    json_string_value(json_object_get(o, "special")));
	printf("  excluded        ");
	for (ex = json_string_value(json_object_get(o, "exclude")); *ex; ex++) {
		if (*ex == ' ')
			printf("\\s");
		else if (*ex == '\t')
			printf("\\t");
		else
			putchar(*ex);
	}
	printf("\n  alphabet        %lld characters\n",
	    (long long)json_integer_value(json_object_get(o,
	    "alphabet_size")));
	printf("  deny_words      ");
	json_array_foreach(json_object_get(o, "deny_words"), i, v)
		printf("%s%s", i > 0 ? ", " : "", json_string_value(v));
	printf("%s\n", json_array_size(json_object_get(o, "deny_words")) ?
	    "" : "(none)");
	printf("  years           %s\n",
	    json_is_true(json_object_get(o, "years")) ?
	    "refused (19xx, 20xx)" : "allowed");
	printf("  max_run         %lld (sequences, repeats, keyboard walks)\n",
	    (long long)json_integer_value(json_object_get(o, "max_run")));
	printf("  max_steps       %lld (neighbours one apart, cracklib)\n",
	    (long long)json_integer_value(json_object_get(o, "max_steps")));
	printf("  min_guess_bits  %lld (zxcvbn)\n",
	    (long long)json_integer_value(json_object_get(o,
	    "min_guess_bits")));
	v = json_object_get(o, "pwquality");
	if (json_is_object(v)) {
		char *d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

		printf("  pwquality       %s\n", d != NULL ? d : "?");
		free(d);
	} else
		printf("  pwquality       off\n");
	printf("  entropy         %.1f bits\n", vd_policy_entropy_bits(p));
	json_decref(o);
}

/* vd_policyset_each callback: adds one policy to a JSON array. */
static int
add_json(const struct vd_policy *p, void *arg)
{
	json_t *o;

	if ((o = vd_policy_to_json(p)) == NULL)
		return VD_ENOMEM;
	return json_array_append_new(arg, o) == 0 ? 0 : VD_ENOMEM;
}

/* vd_policyset_each callback: prints one policy, a blank line between. */
static int
add_text(const struct vd_policy *p, void *arg)
{
	int *first = arg;

	if (!*first)
		printf("\n");
	*first = 0;
	show_text(p);
	return 0;
}

/* vaultctl policy show: one policy, or all, as text or JSON. */
static int
do_show(const struct vd_policyset *ps, const struct popts *o)
{
	const struct vd_policy *p = NULL;
	json_t *j = NULL;
	int r, first = 1, rc = VC_EXIT_FAIL;

	if (o->policy != NULL && (p = get_policy(ps, o)) == NULL)
		return VC_EXIT_NOTFOUND;
	if (!o->json) {
		if (p != NULL)
			show_text(p);
		else
			vd_policyset_each(ps, add_text, &first);
		return VC_EXIT_OK;
	}
	if (p != NULL)
		j = vd_policy_to_json(p);
	else if ((j = json_array()) != NULL &&
	    (r = vd_policyset_each(ps, add_json, j)) != 0) {
		json_decref(j);
		j = NULL;
	}
	if (j == NULL) {
		vc_err(VD_ENOMEM, "show");
		goto out;
	}
	if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) !=
	    0 || printf("\n") < 0)
		goto out;
	rc = VC_EXIT_OK;
 out:
	json_decref(j);
	return rc;
}

/* vaultctl policy generate|check|show; returns an exit code. */
int
cmd_policy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "policy", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct popts o = { NULL, NULL, 1, 0 };
	struct vd_policyset *ps = NULL;
	const char *sub;
	int c, rc;

	if (argc < 2) {
		policy_usage(stderr);
		return VC_EXIT_USAGE;
	}
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
	    strcmp(sub, "help") == 0) {
		policy_usage(stdout);
		return VC_EXIT_OK;
	}
	if (strcmp(sub, "generate") != 0 && strcmp(sub, "check") != 0 &&
	    strcmp(sub, "show") != 0) {
		fprintf(stderr, "vaultctl policy: unknown subcommand '%s'\n",
		    sub);
		policy_usage(stderr);
		return VC_EXIT_USAGE;
	}
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 'p':
			o.policy = optarg;
			break;
		case 'n':
			if (strcmp(sub, "generate") != 0 ||
			    vd_parse_int(optarg, 1, COUNT_MAX, &o.count) != 0) {
				fprintf(stderr, "vaultctl policy: --count is for "
				    "generate, 1..%d\n", COUNT_MAX);
				return VC_EXIT_USAGE;
			}
			break;
		case 'j':
			if (strcmp(sub, "show") != 0) {
				fprintf(stderr, "vaultctl policy: --json is for "
				    "show\n");
				return VC_EXIT_USAGE;
			}
			o.json = 1;
			break;
		case 'h':
			policy_usage(stdout);
			return VC_EXIT_OK;
		default:
			policy_usage(stderr);
			return VC_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vaultctl policy %s: unexpected argument\n", sub);
		policy_usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (load_set(&o, &ps) != 0)
		return VC_EXIT_FAIL;
	if (strcmp(sub, "generate") == 0)
		rc = do_generate(ps, &o);
	else if (strcmp(sub, "check") == 0)
		rc = do_check(ps, &o);
	else
		rc = do_show(ps, &o);
	vd_policyset_free(ps);
	return rc;
}
