/*
 * test_shamir.c - Shamir over GF(2^8): known answers (hand-checked literals
 * and shares recomputed here by an independently written naive polynomial
 * evaluation with its own field multiply), reconstruction from every
 * quorum, "m - 1 shares fit every secret", and rejected inputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "err.h"
#include "mem.h"
#include "shamir.h"

/*
 * The reference multiply: a carry-less product into 16 bits, then long
 * division by 0x11b.  Written apart from the library's bit loop.
 */
static unsigned
ref_mul(unsigned a, unsigned b)
{
	unsigned prod = 0;

	for (int i = 0; i < 8; i++)
		if (b & (1u << i))
			prod ^= a << i;
	for (int bit = 15; bit >= 8; bit--)
		if (prod & (1u << bit))
			prod ^= 0x11bu << (bit - 8);
	return prod;
}

/* Naive evaluation: sum of c_j * x^j with x^j by repeated multiplication. */
static unsigned
ref_eval(const unsigned *c, unsigned deg, unsigned x)
{
	unsigned sum = 0;

	for (unsigned j = 0; j <= deg; j++) {
		unsigned xp = 1;

		for (unsigned e = 0; e < j; e++)
			xp = ref_mul(xp, x);
		sum ^= ref_mul(c[j], xp);
	}
	return sum;
}

static struct vd_secret *
sec(const void *p, size_t len)
{
	struct vd_secret *s = vd_secret_from(p, len);

	CHECK(s != NULL);
	return s;
}

static void
free_all(struct vd_secret **sh, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		vd_secret_free(sh[k]);
}

static void
test_field(void)
{
	/* FIPS-197 section 4.2 examples. */
	CHECK_INT_EQ(vd__gf256_mul(0x57, 0x83), 0xc1);
	CHECK_INT_EQ(vd__gf256_mul(0x57, 0x13), 0xfe);
	CHECK_INT_EQ(ref_mul(0x57, 0x83), 0xc1);
	CHECK_INT_EQ(ref_mul(0x57, 0x13), 0xfe);
	/* 0x53 and 0xca are inverses (FIPS-197 section 5.1.1). */
	CHECK_INT_EQ(vd__gf256_mul(0x53, 0xca), 0x01);
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++)
			CHECK_INT_EQ(vd__gf256_mul((unsigned char)a,
			    (unsigned char)b), ref_mul(a, b));
}

/* Literal vectors, worked by hand in the comments. */
static void
test_literals(void)
{
	struct vd_secret *s, *sh[3], *out;
	unsigned char c2[] = { 0x02 }, c3[] = { 0x01, 0x01 }, c4[] = { 0x83 };

	/* f(x) = 1 + 2x: f(1) = 3, f(2) = 1 ^ 4 = 5, f(3) = 1 ^ 6 = 7. */
	s = sec("\x01", 1);
	CHECK_OK(vd__shamir_split_with(s, 2, 3, c2, sh));
	CHECK_INT_EQ(sh[0]->len, 2);
	CHECK_INT_EQ(sh[0]->data[0], 1);
	CHECK_INT_EQ(sh[0]->data[1], 0x03);
	CHECK_INT_EQ(sh[1]->data[0], 2);
	CHECK_INT_EQ(sh[1]->data[1], 0x05);
	CHECK_INT_EQ(sh[2]->data[0], 3);
	CHECK_INT_EQ(sh[2]->data[1], 0x07);
	CHECK_OK(vd_shamir_combine(sh + 1, 2, &out));
	CHECK_INT_EQ(out->len, 1);
	CHECK_INT_EQ(out->data[0], 0x01);
	vd_secret_free(out);
	free_all(sh, 3);
	vd_secret_free(s);

	/* f(x) = x + x^2: f(1) = 0, f(2) = 2 ^ 4 = 6, f(3) = 3 ^ 5 = 6. */
	s = sec("\x00", 1);
	CHECK_OK(vd__shamir_split_with(s, 3, 3, c3, sh));
	CHECK_INT_EQ(sh[0]->data[1], 0x00);
	CHECK_INT_EQ(sh[1]->data[1], 0x06);
	CHECK_INT_EQ(sh[2]->data[1], 0x06);
	CHECK_OK(vd_shamir_combine(sh, 3, &out));
	CHECK_INT_EQ(out->data[0], 0x00);
	vd_secret_free(out);
	free_all(sh, 3);
	vd_secret_free(s);

	/* f(x) = 0x57 + 0x83 x: f(1) = 0x57 ^ 0x83 = 0xd4. */
	s = sec("\x57", 1);
	CHECK_OK(vd__shamir_split_with(s, 2, 2, c4, sh));
	CHECK_INT_EQ(sh[0]->data[1], 0xd4);
	/* f(2) = 0x57 ^ 0x83*2 = 0x57 ^ (0x106 ^ 0x11b) = 0x57 ^ 0x1d. */
	CHECK_INT_EQ(sh[1]->data[1], 0x57 ^ 0x1d);
	free_all(sh, 2);
	vd_secret_free(s);
}

/* Shares from fixed random coefficients against the naive evaluation. */
static void
test_kat(void)
{
	static const unsigned mn[][2] = { { 2, 2 }, { 2, 3 }, { 3, 5 },
	    { 5, 9 }, { 16, 20 }, { 255, 255 } };

	for (size_t t = 0; t < sizeof(mn) / sizeof(mn[0]); t++) {
		unsigned m = mn[t][0], n = mn[t][1];
		unsigned char secret[24], *coeffs;
		unsigned c[256];
		struct vd_secret *s, *sh[255], *out;
		size_t len = sizeof(secret);

		randombytes_buf(secret, len);
		CHECK((coeffs = malloc((m - 1) * len)) != NULL);
		randombytes_buf(coeffs, (m - 1) * len);
		s = sec(secret, len);
		CHECK_OK(vd__shamir_split_with(s, m, n, coeffs, sh));
		for (unsigned k = 0; k < n; k++) {
			CHECK_INT_EQ(sh[k]->len, 1 + len);
			CHECK_INT_EQ(sh[k]->data[0], k + 1);
			for (size_t i = 0; i < len; i++) {
				c[0] = secret[i];
				for (unsigned j = 1; j < m; j++)
					c[j] = coeffs[(j - 1) * len + i];
				CHECK_INT_EQ(sh[k]->data[1 + i],
				    ref_eval(c, m - 1, k + 1));
			}
		}
		/* The last m shares give the secret back. */
		CHECK_OK(vd_shamir_combine(sh + (n - m), m, &out));
		CHECK_INT_EQ(out->len, len);
		CHECK(memcmp(out->data, secret, len) == 0);
		vd_secret_free(out);
		free_all(sh, n);
		vd_secret_free(s);
		free(coeffs);
	}
}

/* Every subset of the n shares: size >= m rebuilds, size m - 1 does not. */
static void
test_subsets(void)
{
	static const unsigned mn[][2] = { { 2, 2 }, { 2, 3 }, { 3, 3 },
	    { 3, 5 }, { 4, 7 } };

	for (size_t t = 0; t < sizeof(mn) / sizeof(mn[0]); t++) {
		unsigned m = mn[t][0], n = mn[t][1];
		const char *pw = "Xr7#kP2m!Lq9zW4&vB8n";
		struct vd_secret *s = sec(pw, strlen(pw)), *sh[8], *pick[8];
		struct vd_secret *out;
		unsigned ok = 0, short_sets = 0;

		CHECK_OK(vd_shamir_split(s, m, n, sh));
		for (unsigned mask = 1; mask < (1u << n); mask++) {
			unsigned cnt = 0;

			for (unsigned k = 0; k < n; k++)
				if (mask & (1u << k))
					pick[cnt++] = sh[k];
			if (cnt < 2)
				continue;
			CHECK_OK(vd_shamir_combine(pick, cnt, &out));
			if (cnt >= m) {
				CHECK(vd_secret_eq(out, s));
				ok++;
			} else {
				/* 2^-160 chance of a false alarm. */
				CHECK(!vd_secret_eq(out, s));
				short_sets++;
			}
			vd_secret_free(out);
		}
		CHECK(ok > 0);
		CHECK(m == 2 || short_sets > 0);
		free_all(sh, n);
		vd_secret_free(s);
	}
}

/*
 * m - 1 shares reveal nothing checkable: for a 1-byte secret, each of the
 * 256 candidate secrets is produced by exactly one choice of the random
 * coefficients given those shares (m = 2 with one share, m = 3 with two),
 * so the shares leave every secret equally likely.
 */
static void
test_reveal_nothing(void)
{
	static unsigned char tab[256][256];
	struct vd_secret *s, *sh[3];
	unsigned char c[2];
	unsigned counts[256];

	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++)
			tab[a][b] = (unsigned char)ref_mul(a, b);

	/* m = 2, n = 2: one share (x = 2). */
	randombytes_buf(c, 1);
	s = sec("\xa5", 1);
	CHECK_OK(vd__shamir_split_with(s, 2, 2, c, sh));
	memset(counts, 0, sizeof(counts));
	for (unsigned cand = 0; cand < 256; cand++)
		for (unsigned c1 = 0; c1 < 256; c1++)
			if ((cand ^ tab[c1][2]) == sh[1]->data[1])
				counts[cand]++;
	for (unsigned cand = 0; cand < 256; cand++)
		CHECK_INT_EQ(counts[cand], 1);
	free_all(sh, 2);
	vd_secret_free(s);

	/* m = 3, n = 3: two shares (x = 1 and x = 3). */
	randombytes_buf(c, 2);
	s = sec("\x3c", 1);
	CHECK_OK(vd__shamir_split_with(s, 3, 3, c, sh));
	memset(counts, 0, sizeof(counts));
	for (unsigned cand = 0; cand < 256; cand++)
		for (unsigned c1 = 0; c1 < 256; c1++)
			for (unsigned c2 = 0; c2 < 256; c2++) {
				unsigned y1 = cand ^ c1 ^ c2;
				unsigned y3 = cand ^ tab[c1][3] ^
				    tab[c2][tab[3][3]];

				if (y1 == sh[0]->data[1] &&
				    y3 == sh[2]->data[1])
					counts[cand]++;
			}
	for (unsigned cand = 0; cand < 256; cand++)
		CHECK_INT_EQ(counts[cand], 1);
	free_all(sh, 3);
	vd_secret_free(s);
}

static void
test_rejects(void)
{
	struct vd_secret *s = sec("secret", 6), *sh[4], *out, *dup[2];
	unsigned char zero[7] = { 0 };

	CHECK_INT_EQ(vd_shamir_split(s, 1, 3, sh), VD_EINVAL);
	CHECK_INT_EQ(vd_shamir_split(s, 3, 2, sh), VD_EINVAL);
	CHECK_INT_EQ(vd_shamir_split(s, 2, 256, sh), VD_EINVAL);
	CHECK_OK(vd_shamir_split(s, 2, 4, sh));

	/* Duplicate x. */
	dup[0] = sh[1];
	dup[1] = sh[1];
	CHECK_INT_EQ(vd_shamir_combine(dup, 2, &out), VD_EINVAL);
	CHECK(out == NULL);
	/* x = 0. */
	dup[0] = sec(zero, sizeof(zero));
	dup[1] = sh[0];
	CHECK_INT_EQ(vd_shamir_combine(dup, 2, &out), VD_EINVAL);
	vd_secret_free(dup[0]);
	/* Lengths differ. */
	dup[0] = sec("\x05" "abc", 4);
	CHECK_INT_EQ(vd_shamir_combine(dup, 2, &out), VD_EINVAL);
	vd_secret_free(dup[0]);
	/* One share is not enough to combine. */
	CHECK_INT_EQ(vd_shamir_combine(sh, 1, &out), VD_EINVAL);
	/* Any two distinct ones are. */
	dup[0] = sh[3];
	dup[1] = sh[0];
	CHECK_OK(vd_shamir_combine(dup, 2, &out));
	CHECK(vd_secret_eq(out, s));
	vd_secret_free(out);
	free_all(sh, 4);
	vd_secret_free(s);
}

int
main(void)
{
	CHECK_OK(vd_mem_init());
	test_field();
	test_literals();
	test_kat();
	test_subsets();
	test_reveal_nothing();
	test_rejects();
	printf("test_shamir: ok\n");
	return 0;
}
