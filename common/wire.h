/*
 * wire.h - the byte-level helpers of the binary formats (escrow envelopes,
 * bundles, share files, bundle indexes): big-endian integers, a growable
 * output buffer with a sticky error, and a bounded reader whose every
 * overrun sets a flag instead of reading past the end.  Header-only
 * (static inline): file-local helpers shared by common/escrow.c and
 * common/bundle_index.c, so both read and write the same way.
 */
#ifndef VD_WIRE_H
#define VD_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

static inline void
put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static inline uint64_t
get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* A growable byte buffer for non-secret output (envelopes, bundles). */
struct obuf {
	unsigned char	*p;	/* malloc'd */
	size_t		 len;	/* bytes used */
	size_t		 cap;	/* bytes allocated */
	int		 err;	/* sticky VD_ENOMEM */
};

static inline void
ob_add(struct obuf *b, const void *p, size_t n)
{
	if (b->err)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		unsigned char *np;

		while (cap < b->len + n)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->err = VD_ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static inline void
ob_be(struct obuf *b, uint64_t v, int n)
{
	unsigned char x[8];

	put_be(x, v, n);
	ob_add(b, x, (size_t)n);
}

static inline void
ob_name(struct obuf *b, const char *name)
{
	size_t n = strlen(name);

	ob_be(b, n, 1);
	ob_add(b, name, n);
}

/* A bounded reader over a buffer; any overrun sets bad. */
struct rd {
	const unsigned char	*p;	/* the buffer */
	size_t			 len;	/* its length */
	size_t			 off;	/* next byte */
	int			 bad;	/* overrun or bad field */
};

static inline const unsigned char *
rd_take(struct rd *r, size_t n)
{
	const unsigned char *p;

	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

static inline uint64_t
rd_be(struct rd *r, int n)
{
	const unsigned char *p = rd_take(r, (size_t)n);

	return p ? get_be(p, n) : 0;
}

/* Reads u8 length + name into out (VD_NAME_MAX + 1), checking validity. */
static inline void
rd_name(struct rd *r, char *out)
{
	size_t n = (size_t)rd_be(r, 1);
	const unsigned char *p;

	out[0] = '\0';
	if (n == 0 || n > VD_NAME_MAX || (p = rd_take(r, n)) == NULL) {
		r->bad = 1;
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	if (strlen(out) != n || !vd_name_valid(out))
		r->bad = 1;
}

#endif
