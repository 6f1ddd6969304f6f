/*
 * shamir.c - Shamir's secret sharing over GF(2^8), constant time.
 */
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "shamir.h"

unsigned char
vd__gf256_mul(unsigned char a, unsigned char b)
{
	unsigned p = 0, x = a, y = b;

	/*
	 * Eight rounds whatever the operands: the masks replace the usual
	 * "if (b & 1)" and "if (a & 0x80)" branches.
	 */
	for (int i = 0; i < 8; i++) {
		p ^= x & (0u - (y & 1u));
		y >>= 1;
		x = ((x << 1) ^ (0x11bu & (0u - ((x >> 7) & 1u)))) & 0xffu;
	}
	return (unsigned char)p;
}

/* a^254 = a^-1 for a != 0 (and 0 for 0), by a fixed square-and-multiply. */
static unsigned char
gf_inv(unsigned char a)
{
	unsigned char r = 1, sq = a;

	/* 254 = 0b11111110: multiply in a^2, a^4, ..., a^128. */
	for (int i = 0; i < 8; i++) {
		if (i > 0)
			r = vd__gf256_mul(r, sq);
		sq = vd__gf256_mul(sq, sq);
	}
	return r;
}

static void
free_shares(struct vd_secret **shares, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		vd_secret_free(shares[k]);
		shares[k] = NULL;
	}
}

/* Evaluates every byte's polynomial at x = 1..n; coeffs as documented. */
static int
split(const struct vd_secret *secret, unsigned m, unsigned n,
    const unsigned char *coeffs, struct vd_secret **shares)
{
	size_t len = secret->len;

	if (m < 2 || n < m || n > VD_SHAMIR_MAXSHARES || len == 0 ||
	    len > VD_SHAMIR_MAXLEN)
		return vd_err_set(VD_EINVAL, "Shamir: need 2 <= m <= n <= %d "
		    "and a secret of 1..%d bytes", VD_SHAMIR_MAXSHARES,
		    VD_SHAMIR_MAXLEN);
	for (unsigned k = 0; k < n; k++)
		shares[k] = NULL;
	for (unsigned k = 0; k < n; k++) {
		unsigned char x = (unsigned char)(k + 1);

		if ((shares[k] = vd_secret_new(1 + len)) == NULL) {
			free_shares(shares, n);
			return VD_ENOMEM;
		}
		shares[k]->len = 1 + len;
		shares[k]->data[0] = x;
		for (size_t i = 0; i < len; i++) {
			/* Horner, from the highest coefficient down. */
			unsigned char y = 0;

			for (unsigned j = m - 1; j >= 1; j--)
				y = vd__gf256_mul(y, x) ^
				    coeffs[(size_t)(j - 1) * len + i];
			y = vd__gf256_mul(y, x) ^ secret->data[i];
			shares[k]->data[1 + i] = y;
		}
	}
	return 0;
}

int
vd__shamir_split_with(const struct vd_secret *secret, unsigned m, unsigned n,
    const unsigned char *coeffs, struct vd_secret **shares)
{
	return split(secret, m, n, coeffs, shares);
}

int
vd_shamir_split(const struct vd_secret *secret, unsigned m, unsigned n,
    struct vd_secret **shares)
{
	struct vd_secret *coeffs = NULL;
	int r;

	if (m < 2 || n < m || n > VD_SHAMIR_MAXSHARES || secret->len == 0 ||
	    secret->len > VD_SHAMIR_MAXLEN)
		return split(secret, m, n, NULL, shares);	/* the error */
	if ((coeffs = vd_secret_new((size_t)(m - 1) * secret->len)) == NULL)
		return VD_ENOMEM;
	coeffs->len = (size_t)(m - 1) * secret->len;
	randombytes_buf(coeffs->data, coeffs->len);
	r = split(secret, m, n, coeffs->data, shares);
	vd_secret_free(coeffs);
	return r;
}

int
vd_shamir_combine(struct vd_secret *const *shares, size_t k,
    struct vd_secret **out)
{
	struct vd_secret *s = NULL;
	unsigned char seen[256];
	size_t len;

	*out = NULL;
	if (k < 2 || k > VD_SHAMIR_MAXSHARES)
		return vd_err_set(VD_EINVAL, "Shamir: combine needs 2..%d "
		    "shares", VD_SHAMIR_MAXSHARES);
	len = shares[0]->len;
	if (len < 2 || len > 1 + VD_SHAMIR_MAXLEN)
		return vd_err_set(VD_EINVAL, "Shamir: malformed share");
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < k; i++) {
		unsigned char x = shares[i]->data[0];

		if (shares[i]->len != len)
			return vd_err_set(VD_EINVAL, "Shamir: shares differ "
			    "in length");
		if (x == 0)
			return vd_err_set(VD_EINVAL, "Shamir: share with x = 0");
		if (seen[x])
			return vd_err_set(VD_EINVAL, "Shamir: two shares with "
			    "x = %u", x);
		seen[x] = 1;
	}
	if ((s = vd_secret_new(len - 1)) == NULL)
		return VD_ENOMEM;
	s->len = len - 1;
	for (size_t i = 0; i < k; i++) {
		/* Lagrange basis at 0: prod_{j != i} x_j / (x_j - x_i). */
		unsigned char xi = shares[i]->data[0], num = 1, den = 1, li;

		for (size_t j = 0; j < k; j++) {
			unsigned char xj = shares[j]->data[0];

			if (j == i)
				continue;
			num = vd__gf256_mul(num, xj);
			den = vd__gf256_mul(den, (unsigned char)(xj ^ xi));
		}
		li = vd__gf256_mul(num, gf_inv(den));
		for (size_t b = 0; b < len - 1; b++)
			s->data[b] ^= vd__gf256_mul(li, shares[i]->data[1 + b]);
	}
	*out = s;
	return 0;
}
