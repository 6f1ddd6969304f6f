/*
 * mem.h - secure memory for secrets.
 *
 * A struct vd_secret lives in sodium_malloc() memory (guard pages, canary,
 * mlock where the limit allows) and is wiped when freed.  Every password,
 * key and passphrase in vaultd is held in one.  Small ones (up to ~230
 * bytes) take a slot of one locked arena allocated that way, each slot
 * ending in a canary checked when it is freed (mem.c says why).
 */
#ifndef VD_MEM_H
#define VD_MEM_H

#include <stddef.h>

struct vd_secret {
	size_t		 len;	/* bytes in use */
	size_t		 cap;	/* bytes allocated in data */
	unsigned char	 data[];	/* the secret; NUL after len when len < cap */
};

/*
 * Initialises libsodium and hardens the process: not dumpable, no core
 * files.  Returns 0, or a negative error.  Call first in every program.
 */
int vd_mem_init(void);

/* Returns a new zeroed secret of capacity cap (len 0), or NULL. */
struct vd_secret *vd_secret_new(size_t cap);

/*
 * Returns a new secret holding a copy of len bytes at p, NUL-terminated
 * (capacity len + 1), or NULL.
 */
struct vd_secret *vd_secret_from(const void *p, size_t len);

/* Returns a copy of s, or NULL. */
struct vd_secret *vd_secret_dup(const struct vd_secret *s);

/* Wipes and frees s; NULL-safe. */
void vd_secret_free(struct vd_secret *s);

/* Returns 1 when a and b hold the same bytes (constant time in length). */
int vd_secret_eq(const struct vd_secret *a, const struct vd_secret *b);

#endif
