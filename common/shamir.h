/*
 * shamir.h - Shamir's secret sharing over GF(2^8).
 *
 * A secret of L bytes is split into n shares with threshold m
 * (2 <= m <= n <= 255): byte i of the secret is the constant term of a
 * random polynomial of degree m - 1 over GF(2^8) (the AES field, reduction
 * polynomial x^8 + x^4 + x^3 + x + 1, 0x11b), and share k holds the
 * x-coordinate k (1..n) followed by the L polynomial values at x = k.
 * Any m distinct shares give the secret back by Lagrange interpolation at
 * x = 0; m - 1 shares are consistent with every secret.
 *
 * Field arithmetic uses no secret-dependent table lookups or branches.
 * Secrets, shares and coefficients live in struct vd_secret memory.
 */
#ifndef VD_SHAMIR_H
#define VD_SHAMIR_H

#include <stddef.h>

#include "mem.h"

#define VD_SHAMIR_MAXSHARES	255	/* x-coordinates 1..255 */
#define VD_SHAMIR_MAXLEN	4096	/* longest secret split */

/*
 * Splits secret into n shares with threshold m.  shares must have room
 * for n pointers; on success shares[k] (k = 0..n-1) is a new secret of
 * 1 + secret->len bytes: x = k + 1, then the values.  The caller frees
 * each with vd_secret_free().  Returns 0, VD_EINVAL (bad m, n or length)
 * or VD_ENOMEM; on failure no share is left allocated.
 */
int vd_shamir_split(const struct vd_secret *secret, unsigned m, unsigned n,
    struct vd_secret **shares);

/*
 * Combines k >= 2 shares (each 1 + L bytes, all the same length, distinct
 * non-zero x) into *out, a new secret of L bytes.  With at least m shares of
 * one split the result is the secret; with fewer it is unrelated bytes
 * (nothing here can tell).  Returns 0 or VD_EINVAL (duplicate or zero x,
 * lengths differ, fewer than 2 shares) or VD_ENOMEM.
 */
int vd_shamir_combine(struct vd_secret *const *shares, size_t k,
    struct vd_secret **out);

/*
 * Test hook: vd_shamir_split() with fixed coefficients instead of random
 * ones.  coeffs holds (m - 1) * L bytes: coeffs[(j - 1) * L + i] is the
 * coefficient of x^j for secret byte i.  Not for production use.
 */
int vd__shamir_split_with(const struct vd_secret *secret, unsigned m,
    unsigned n, const unsigned char *coeffs, struct vd_secret **shares);

/* GF(2^8) product of a and b (constant time); exposed for tests. */
unsigned char vd__gf256_mul(unsigned char a, unsigned char b);

#endif
