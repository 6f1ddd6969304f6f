/*
 * fuzz_rng.h - a deterministic randombytes implementation for fuzz targets
 * that generate passwords: the same input always takes the same path (a
 * crash found is a crash reproduced), and no getrandom(2) per draw.
 * splitmix64, reseeded by fuzz_rng_reset() at the start of every input.
 * Never linked into vaultd or vaultctl.
 */
#ifndef VD_FUZZ_RNG_H
#define VD_FUZZ_RNG_H

#include <stdint.h>
#include <string.h>

#include <sodium.h>

static uint64_t fuzz_rng_state;

static uint64_t
fuzz_rng_next(void)
{
	uint64_t z = (fuzz_rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static const char *
fuzz_rng_name(void)
{
	return "vaultd-fuzz-splitmix64";
}

static uint32_t
fuzz_rng_random(void)
{
	return (uint32_t)(fuzz_rng_next() >> 32);
}

static void
fuzz_rng_buf(void *buf, size_t size)
{
	unsigned char *p = buf;

	while (size > 0) {
		uint64_t v = fuzz_rng_next();
		size_t n = size < sizeof(v) ? size : sizeof(v);

		memcpy(p, &v, n);
		p += n;
		size -= n;
	}
}

static struct randombytes_implementation fuzz_rng_impl = {
	.implementation_name = fuzz_rng_name,
	.random = fuzz_rng_random,
	.buf = fuzz_rng_buf,
	/* uniform NULL: libsodium's own rejection sampling over random(). */
};

/* Installs the generator; call before vd_mem_init() (sodium_init). */
static void
fuzz_rng_install(void)
{
	(void)randombytes_set_implementation(&fuzz_rng_impl);
}

/* The same stream for every run of one input. */
static void
fuzz_rng_reset(void)
{
	fuzz_rng_state = 0x76617574ULL;
}

#endif
