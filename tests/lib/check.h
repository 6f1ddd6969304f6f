/*
 * check.h - minimal test assertions: a failure prints file:line and both
 * values, then exits 1 (so ctest reports it).
 */
#ifndef VD_CHECK_H
#define VD_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: CHECK failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		exit(1);						\
	}								\
} while (0)

#define CHECK_INT_EQ(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_) {							\
		fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n",\
		    __FILE__, __LINE__, #a, #b, a_, b_);		\
		exit(1);						\
	}								\
} while (0)

#define CHECK_STR_EQ(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {		\
		fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n",\
		    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",	\
		    b_ ? b_ : "(null)");				\
		exit(1);						\
	}								\
} while (0)

/* Checks an expression returning 0 on success; prints the error code. */
#define CHECK_OK(expr) do {						\
	int r_ = (expr);						\
	if (r_ != 0) {							\
		fprintf(stderr, "%s:%d: %s returned %d (%s)\n",	\
		    __FILE__, __LINE__, #expr, r_, vd_err_detail());	\
		exit(1);						\
	}								\
} while (0)

#endif
