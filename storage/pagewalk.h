/*
 * pagewalk.h - a check of data.mdb's pages made without LMDB (issue 14
 * item 7).
 *
 * LMDB trusts every page it follows: a damaged page number, node offset or
 * page count sends it outside the map (SIGSEGV, SIGBUS) or into an
 * assertion (SIGABRT).  This walk reads the file the way LMDB 0.9 lays it
 * out (two meta pages, then B+trees of branch, leaf and overflow pages) and
 * checks every page LMDB could follow from the newer meta page before
 * anything opens the environment: the main tree, every named database's
 * tree, and the free-page tree with the page lists it holds.  It checks
 * bounds (every offset, size and page number against the page and the
 * file), page kinds and numbers, key order, tree depth, the counts the
 * database records keep, and that every page of the file up to the last
 * one is in exactly one place (in use once, or free).  It never writes
 * and it reads nothing outside the buffer it is given, whatever the bytes:
 * it is a parser (tests/fuzz/fuzz_pagewalk.c).
 *
 * The layout is LMDB 0.9's on a 64-bit host (liblmdb0 0.9.24 here):
 * 16-byte page headers, 8-byte page numbers, 48-byte database records.
 * The vault's named databases use the default key order and no flags; the
 * walk refuses anything else as "not this vault's layout".
 */
#ifndef VD_PAGEWALK_H
#define VD_PAGEWALK_H

#include <stddef.h>
#include <stdint.h>

/* What a walk found; filled on success and, as far as it got, on failure. */
struct vd_pagewalk {
	size_t		 psize;		/* page size */
	uint64_t	 txnid;		/* transaction of the meta page used */
	uint64_t	 last_pg;	/* last page in use */
	uint64_t	 inuse;		/* pages reachable from the trees */
	uint64_t	 free;		/* pages on the free list */
	uint64_t	 entries;	/* records in the named databases */
	unsigned	 ndbs;		/* named databases */
};

/*
 * Walks the data file image map (len bytes; a copy or a read-only mapping
 * of data.mdb) into *out.  Returns 0 when every page checks, or
 * VD_ECORRUPT with a detail (vd_err_set) naming the first damage found:
 * the page, its database and what is wrong ("page 7 (database 'audit',
 * leaf): node 3 runs past the page").  Work is bounded by the file's
 * pages: each page is visited at most once.
 */
int vd_pagewalk_mem(const unsigned char *map, size_t len,
    struct vd_pagewalk *out);

/*
 * Walks the file at path (opened read-only, O_NOFOLLOW, mapped private and
 * read-only) as vd_pagewalk_mem().  Returns -errno when it cannot be read,
 * and VD_EBUSY instead of VD_ECORRUPT when a writer committed while the
 * walk ran (the meta pages changed): the damage seen may be the writer's
 * new pages, so the caller walks again or walks a copy.
 */
int vd_pagewalk_file(const char *path, struct vd_pagewalk *out);

#endif
