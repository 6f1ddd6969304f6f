/*
 * bench.h - what the C benchmarks share: a monotonic clock in seconds and
 * the random passwords bench_raw and bench_fill give their accounts.
 * Header only: each benchmark is one file.
 */
#ifndef VD_BENCH_H
#define VD_BENCH_H

#include <string.h>
#include <time.h>

#include <sodium.h>

#include "mem.h"

#define PW_LEN	24	/* generated password length */

static inline double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A random password without quote, backslash or space, in secure memory. */
static inline struct vd_secret *
gen_pw(void)
{
	static const char cs[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	    "23456789!%*+-=?@^_";
	struct vd_secret *s = vd_secret_new(PW_LEN + 1);

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < PW_LEN; i++)
		s->data[i] = (unsigned char)cs[randombytes_uniform(
		    sizeof(cs) - 1)];
	/* all four classes, whatever was drawn */
	memcpy(s->data, "Qz7#", 4);
	s->len = PW_LEN;
	s->data[PW_LEN] = '\0';
	return s;
}

#endif
