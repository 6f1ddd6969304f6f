/*
 * mem.c - secure memory and process hardening.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <sodium.h>

#include "err.h"
#include "mem.h"
#include "util.h"

/*
 * The secure arena (issue 18).  Every sodium_malloc()/sodium_free() pair
 * costs about ten system calls (mmap, four mprotect, mlock, munlock, two
 * madvise, munmap) and a TLB shootdown on every thread; a rotation made 14
 * such pairs, ~18 % of vaultd's samples.  Small secrets (passwords, keys,
 * SQL text: almost all of them) therefore come from one arena allocated
 * once with sodium_malloc() — so the arena as a whole has its guard pages,
 * its canary, mlock and MADV_DONTDUMP — cut into fixed-size slots (struct
 * slots below).  Each slot ends in a canary (random per process) that
 * vd_secret_free() checks and aborts on, as sodium_free() does for its own;
 * a freed slot is wiped whole before it goes back on the free list.  What
 * the arena gives up against one sodium_malloc() each is the guard page
 * between two neighbouring slots: an overrun into the next slot is caught
 * by the canary at free, not by a fault at the write.  Bigger secrets, and
 * any when the arena is full, still get a sodium_malloc() of their own.
 */
#define CANARY_BYTES	16

/*
 * Two slot sizes: small secrets (passwords, keys, most SQL text) and the
 * larger ones a rotation also makes each time (a password change's
 * statement buffer, sized for every method's hash; an opened record).
 * 128 KiB + 256 KiB locked in all.
 */
struct slots {
	size_t		 bytes;		/* per slot: header, data, NUL, canary */
	size_t		 n;		/* slots */
	unsigned char	*base;		/* n * bytes, or NULL */
	uint16_t	*free;		/* stack of free slot indexes */
	size_t		 nfree;		/* entries in free */
};

static uint16_t free_small[512], free_large[64];
static struct slots arenas[] = {
	{ 256, 512, NULL, free_small, 0 },
	{ 4096, 64, NULL, free_large, 0 },
};

static pthread_once_t arena_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t arena_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char canary[CANARY_BYTES];	/* ends every slot */

static void
arena_init(void)
{
	if (sodium_init() < 0)
		return;
	randombytes_buf(canary, sizeof(canary));
	for (size_t a = 0; a < VD_NELEM(arenas); a++) {
		struct slots *sl = &arenas[a];

		/* None: every secret of this size is sodium_malloc'd. */
		if ((sl->base = sodium_malloc(sl->n * sl->bytes)) == NULL)
			continue;
		for (size_t i = 0; i < sl->n; i++) {
			unsigned char *slot = sl->base + i * sl->bytes;

			memset(slot, 0, sl->bytes - CANARY_BYTES);
			memcpy(slot + sl->bytes - CANARY_BYTES, canary,
			    CANARY_BYTES);
			sl->free[i] = (uint16_t)(sl->n - 1 - i);
		}
		sl->nfree = sl->n;
	}
}

/* A zeroed slot for a secret of size bytes (header included), or NULL. */
static void *
arena_get(size_t size)
{
	unsigned char *slot = NULL;

	(void)pthread_once(&arena_once, arena_init);
	pthread_mutex_lock(&arena_mu);
	for (size_t a = 0; a < VD_NELEM(arenas) && slot == NULL; a++) {
		struct slots *sl = &arenas[a];

		if (sl->base != NULL && size <= sl->bytes - CANARY_BYTES &&
		    sl->nfree > 0)
			slot = sl->base + (size_t)sl->free[--sl->nfree] *
			    sl->bytes;
	}
	pthread_mutex_unlock(&arena_mu);
	return slot;
}

/* Whether p is a slot of an arena (then it is given back there). */
static int
arena_put(void *p)
{
	unsigned char *slot = p;

	for (size_t a = 0; a < VD_NELEM(arenas); a++) {
		struct slots *sl = &arenas[a];
		size_t i;

		if (sl->base == NULL || slot < sl->base ||
		    slot >= sl->base + sl->n * sl->bytes)
			continue;
		i = (size_t)(slot - sl->base) / sl->bytes;
		if (slot != sl->base + i * sl->bytes ||
		    sodium_memcmp(slot + sl->bytes - CANARY_BYTES, canary,
		    CANARY_BYTES) != 0)
			abort();	/* overrun or a bad pointer */
		sodium_memzero(slot, sl->bytes - CANARY_BYTES);
		pthread_mutex_lock(&arena_mu);
		sl->free[sl->nfree++] = (uint16_t)i;
		pthread_mutex_unlock(&arena_mu);
		return 1;
	}
	return 0;
}

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
	if ((s = arena_get(size)) == NULL &&
	    (s = sodium_malloc(size)) == NULL)
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
	if (s == NULL || arena_put(s))	/* a slot: checked, wiped, back */
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
