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

/*
 * The secure arena (issue 18).  Every sodium_malloc()/sodium_free() pair
 * costs about ten system calls (mmap, four mprotect, mlock, munlock, two
 * madvise, munmap) and a TLB shootdown on every thread; a rotation made 14
 * such pairs, ~18 % of vaultd's samples.  Small secrets (passwords, keys,
 * SQL text: almost all of them) therefore come from one arena allocated
 * once with sodium_malloc() — so the arena as a whole has its guard pages,
 * its canary, mlock and MADV_DONTDUMP — cut into ARENA_SLOTS slots of
 * SLOT_BYTES.  Each slot ends in a canary (random per process) that
 * vd_secret_free() checks and aborts on, as sodium_free() does for its own;
 * a freed slot is wiped whole before it goes back on the free list.  What
 * the arena gives up against one sodium_malloc() each is the guard page
 * between two neighbouring slots: an overrun into the next slot is caught
 * by the canary at free, not by a fault at the write.  Bigger secrets, and
 * any when the arena is full, still get a sodium_malloc() of their own.
 */
#define SLOT_BYTES	256	/* bytes per slot: header, data, NUL, canary */
#define ARENA_SLOTS	512	/* 128 KiB locked */
#define CANARY_BYTES	16

static pthread_once_t arena_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t arena_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *arena;		/* ARENA_SLOTS * SLOT_BYTES, or NULL */
static uint16_t arena_free[ARENA_SLOTS];	/* stack of free slot indexes */
static size_t arena_nfree;		/* entries in arena_free */
static unsigned char canary[CANARY_BYTES];	/* ends every slot */

static void
arena_init(void)
{
	if (sodium_init() < 0 ||
	    (arena = sodium_malloc((size_t)ARENA_SLOTS * SLOT_BYTES)) == NULL)
		return;		/* no arena: every secret is sodium_malloc'd */
	randombytes_buf(canary, sizeof(canary));
	for (size_t i = 0; i < ARENA_SLOTS; i++) {
		unsigned char *slot = arena + i * SLOT_BYTES;

		memset(slot, 0, SLOT_BYTES - CANARY_BYTES);
		memcpy(slot + SLOT_BYTES - CANARY_BYTES, canary, CANARY_BYTES);
		arena_free[i] = (uint16_t)(ARENA_SLOTS - 1 - i);
	}
	arena_nfree = ARENA_SLOTS;
}

/* A zeroed slot for a secret of size bytes (header included), or NULL. */
static void *
arena_get(size_t size)
{
	unsigned char *slot = NULL;

	if (size > SLOT_BYTES - CANARY_BYTES)
		return NULL;
	(void)pthread_once(&arena_once, arena_init);
	if (arena == NULL)
		return NULL;
	pthread_mutex_lock(&arena_mu);
	if (arena_nfree > 0)
		slot = arena + (size_t)arena_free[--arena_nfree] * SLOT_BYTES;
	pthread_mutex_unlock(&arena_mu);
	return slot;
}

/* Whether p is a slot of the arena (then it is given back there). */
static int
arena_put(void *p)
{
	unsigned char *slot = p;
	size_t i;

	if (arena == NULL || slot < arena ||
	    slot >= arena + (size_t)ARENA_SLOTS * SLOT_BYTES)
		return 0;
	i = (size_t)(slot - arena) / SLOT_BYTES;
	if (slot != arena + i * SLOT_BYTES ||
	    sodium_memcmp(slot + SLOT_BYTES - CANARY_BYTES, canary,
	    CANARY_BYTES) != 0)
		abort();	/* overrun or a bad pointer: as sodium_free() */
	sodium_memzero(slot, SLOT_BYTES - CANARY_BYTES);
	pthread_mutex_lock(&arena_mu);
	arena_free[arena_nfree++] = (uint16_t)i;
	pthread_mutex_unlock(&arena_mu);
	return 1;
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
