/*
 * mem.c - secure memory and process hardening.
 */
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <sodium.h>

#include "err.h"
#include "mem.h"

int
vd_mem_init(void)
{
	struct rlimit rl = { 0, 0 };

	if (sodium_init() < 0)
		return vd_err_set(VD_ENOMEM, "libsodium failed to initialise");
	/* A core file or ptrace attach would expose every secret in memory. */
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return vd_err_set(VD_EINVAL, "cannot disable core dumps");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return vd_err_set(VD_EINVAL, "cannot make the process non-dumpable");
	return 0;
}

struct vd_secret *
vd_secret_new(size_t cap)
{
	struct vd_secret *s;
	size_t size;

	if (cap > ((size_t)1 << 30))
		return NULL;
	/*
	 * sodium_malloc() puts the block against its guard page, so its
	 * address is only aligned when the size is a multiple of 16.
	 */
	size = (sizeof(*s) + cap + 1 + 15) & ~(size_t)15;
	if ((s = sodium_malloc(size)) == NULL)
		return NULL;
	memset(s, 0, size);
	s->cap = cap;
	return s;
}

struct vd_secret *
vd_secret_from(const void *p, size_t len)
{
	struct vd_secret *s;

	if ((s = vd_secret_new(len)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(s->data, p, len);
	s->len = len;
	return s;
}

struct vd_secret *
vd_secret_dup(const struct vd_secret *s)
{
	return vd_secret_from(s->data, s->len);
}

void
vd_secret_free(struct vd_secret *s)
{
	if (s == NULL)
		return;
	sodium_free(s);	/* wipes before unmapping */
}

int
vd_secret_eq(const struct vd_secret *a, const struct vd_secret *b)
{
	if (a->len != b->len)
		return 0;
	return sodium_memcmp(a->data, b->data, a->len) == 0;
}
