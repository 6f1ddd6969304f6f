/*
 * bench_policy.c - password generation speed for a policy, and where the
 * time goes.  Prints figures; asserts nothing.
 *
 *   bench_policy [--config FILE] [--policy NAME] [--seconds S]
 *
 * Single-threaded; times are the thread's CPU time, so the figures are per
 * core even when other processes compete for it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>
#include <zxcvbn.h>

#include "err.h"
#include "mem.h"
#include "policy.h"
#include "util.h"

#define SAMPLE	20000	/* passwords kept for the per-stage timings */

/*
 * This thread's CPU time, in seconds: the figures are per core and stay
 * meaningful on a machine busy with other work (wall time would not).
 */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(int r, const char *what)
{
	char buf[768];

	fprintf(stderr, "bench_policy: %s: %s\n", what,
	    vd_err_format(r, buf, sizeof(buf)));
	exit(1);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "policy", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *name = "default", *alpha;
	struct vd_policyset *ps;
	const struct vd_policy *p;
	struct vd_secret *s, *keep, *one;
	long long secs = 3;
	size_t len, n, ok;
	double t0, t, dt, sink = 0.0;
	char why[VD_POLICY_WHY_MAX];
	json_t *j;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'p':
			name = optarg;
			break;
		case 's':
			if (vd_parse_int(optarg, 1, 600, &secs) != 0) {
				fprintf(stderr, "bench_policy: --seconds 1..600\n");
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: bench_policy [--config FILE] "
			    "[--policy NAME] [--seconds S]\n");
			return 2;
		}
	}
	if ((r = vd_mem_init()) != 0)
		die(r, "init");
	if ((r = vd_policyset_new(&ps)) != 0)
		die(r, "policyset");
	if (config != NULL && (r = vd_policyset_load_file(ps, config)) != 0)
		die(r, "config");
	if ((r = vd_policyset_finalize(ps)) != 0)
		die(r, "finalize");
	if ((p = vd_policyset_get(ps, name)) == NULL) {
		fprintf(stderr, "bench_policy: no policy %s\n", name);
		return 1;
	}
	len = vd_policy_length(p);
	if ((j = vd_policy_to_json(p)) == NULL)
		die(VD_ENOMEM, "json");
	alpha = json_string_value(json_object_get(j, "alphabet"));
	printf("policy %s: length %zu, alphabet %zu, entropy %.1f bits\n",
	    name, len, strlen(alpha), vd_policy_entropy_bits(p));

	/* 1. The headline: generate-and-check into a reused buffer. */
	if ((s = vd_secret_new(len)) == NULL ||
	    (keep = vd_secret_new(SAMPLE * (len + 1))) == NULL)
		die(VD_ENOMEM, "alloc");
	n = 0;
	t0 = now();
	do {
		for (int i = 0; i < 1000; i++, n++) {
			if ((r = vd_policy_generate_into(p, s)) != 0)
				die(r, "generate");
			if (n < SAMPLE)
				memcpy(keep->data + n * (len + 1), s->data, len + 1);
		}
		t = now();
	} while (t - t0 < (double)secs);
	dt = t - t0;
	printf("vd_policy_generate_into   %9.0f passwords/s  (%.2f us each, "
	    "%zu in %.1f s CPU)\n", (double)n / dt, dt / (double)n * 1e6, n, dt);

	/* 2. The allocating form: one sodium_malloc'd secret each. */
	t0 = now();
	for (int i = 0; i < SAMPLE; i++) {
		if ((r = vd_policy_generate(p, &one)) != 0)
			die(r, "generate");
		vd_secret_free(one);
	}
	dt = now() - t0;
	printf("vd_policy_generate        %9.0f passwords/s  (%.2f us each)\n",
	    SAMPLE / dt, dt / SAMPLE * 1e6);

	/* 3. Stages, on the kept passwords. */
	t0 = now();
	for (int i = 0; i < SAMPLE; i++)
		sink += ZxcvbnMatch((const char *)keep->data + i * (len + 1),
		    NULL, NULL);
	dt = now() - t0;
	printf("  zxcvbn alone            %9.2f us per password\n",
	    dt / SAMPLE * 1e6);
	t0 = now();
	for (int i = 0; i < SAMPLE; i++)
		if (vd_policy_check(p, (const char *)keep->data + i * (len + 1),
		    len, why, sizeof(why)) != 0)
			die(VD_EPOLICY, "a generated password failed its check");
	dt = now() - t0;
	printf("  vd_policy_check (all)   %9.2f us per password\n",
	    dt / SAMPLE * 1e6);
	t0 = now();
	for (int i = 0; i < SAMPLE; i++)
		sink += (double)randombytes_uniform(59969536);	/* 88^4 */
	dt = now() - t0;
	printf("  randombytes_uniform     %9.2f us per call (%s; one call "
	    "draws up to 4 characters)\n", dt / SAMPLE * 1e6,
	    randombytes_implementation_name());
	t0 = now();
	for (int i = 0; i < SAMPLE; i++)
		vd_secret_free(vd_secret_new(len));
	dt = now() - t0;
	printf("  vd_secret_new+free      %9.2f us per call (mmap, mlock, "
	    "guard pages)\n", dt / SAMPLE * 1e6);

	/* 4. How often a uniform draw is redrawn. */
	ok = 0;
	for (int i = 0; i < SAMPLE; i++) {
		for (size_t k = 0; k < len; k++)
			s->data[k] = (unsigned char)alpha[randombytes_uniform(
			    (uint32_t)strlen(alpha))];
		if (vd_policy_check(p, (const char *)s->data, len, why,
		    sizeof(why)) == 0)
			ok++;
	}
	printf("  uniform draws accepted  %9.1f %%  (the rest are redrawn)\n",
	    100.0 * (double)ok / SAMPLE);
	if (sink < 0)
		printf("%f\n", sink);

	vd_secret_free(s);
	vd_secret_free(keep);
	json_decref(j);
	vd_policyset_free(ps);
	return 0;
}
