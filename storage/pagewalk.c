/*
 * pagewalk.c - checks data.mdb's pages without LMDB (see pagewalk.h).
 *
 * LMDB 0.9's layout, 64-bit (lmdb/mdb.c, liblmdb0 0.9.24):
 *
 *   page header (16 bytes): pgno u64 | pad u16 | flags u16 |
 *       lower u16 | upper u16  (overflow pages: pages u32 in lower/upper)
 *   node pointers: u16 offsets from the page start, 16 + 2 * i
 *   node (8 bytes + key + data): lo u16 | hi u16 | flags u16 | ksize u16
 *       leaf:   data size = lo | hi << 16; F_BIGDATA: the data is the u64
 *               number of its first overflow page; F_SUBDATA: a database
 *               record (the main tree's named databases)
 *       branch: child page = lo | hi << 16 | flags << 32
 *   meta page i (0, 1), after its header: magic u32 | version u32 |
 *       address u64 | mapsize u64 | free db (48) | main db (48) |
 *       last_pg u64 | txnid u64
 *   database record (48): pad u32 (the page size, in the free db of a
 *       meta page) | flags u16 | depth u16 | branch_pages u64 |
 *       leaf_pages u64 | overflow_pages u64 | entries u64 | root u64
 *
 * Everything is read with memcpy from offsets checked against the page and
 * the buffer first; nothing is trusted before it is checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "pagewalk.h"

#define PAGEHDRSZ	16
#define NODESIZE	8
#define DBRECSZ		48
#define METASZ		136
#define NUM_METAS	2
#define P_BRANCH	0x01
#define P_LEAF		0x02
#define P_OVERFLOW	0x04
#define P_META		0x08
#define F_BIGDATA	0x01
#define F_SUBDATA	0x02
#define MDB_MAGIC	0xBEEFC0DEU
#define MDB_DATA_VERSION 1
#define MDB_INTEGERKEY	0x08
#define P_INVALID	(~(uint64_t)0)
#define MAXKEY		511	/* mdb_env_get_maxkeysize() */
#define MAXDEPTH	32	/* LMDB's cursor stack (CURSOR_STACK) */
#define MAXDBS		128	/* named databases we follow */
#define NAMEMAX		64	/* of a named database, in messages */

enum { SEEN_NONE, SEEN_USED, SEEN_FREE };

/* A database record (MDB_db). */
struct dbrec {
	uint16_t	 flags;		/* MDB_* database flags */
	uint16_t	 depth;		/* tree depth; 0 when empty */
	uint64_t	 branch;	/* branch pages */
	uint64_t	 leaf;		/* leaf pages */
	uint64_t	 overflow;	/* overflow pages */
	uint64_t	 entries;	/* records */
	uint64_t	 root;		/* root page, P_INVALID when empty */
};

/* A named database found in the main tree, walked after it. */
struct named {
	char		 name[NAMEMAX];	/* printable form of its key */
	struct dbrec	 rec;		/* its record */
};

/* One walk. */
struct walk {
	const unsigned char *map;	/* the file image */
	size_t		 len;		/* its bytes */
	size_t		 psize;		/* page size */
	uint64_t	 last_pg;	/* last page in use */
	unsigned char	*seen;		/* SEEN_* per page, last_pg + 1 */
	const char	*db;		/* tree being walked, for messages */
	int		 intkey;	/* the free tree: 8-byte integer keys */
	int		 main;		/* the main tree: named databases */
	uint64_t	 nbranch, nleaf, nover, nentries;	/* tallies */
	struct named	*named;		/* named databases found */
	unsigned	 nnamed;	/* entries in named */
	struct vd_pagewalk *out;	/* the caller's summary */
};

static uint16_t
rd16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t
rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t
rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Sets the detail "data.mdb page N (database 'X'): ..." and VD_ECORRUPT. */
static int __attribute__((format(printf, 3, 4)))
bad(const struct walk *w, uint64_t pgno, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->db != NULL)
		return vd_err_set(VD_ECORRUPT, "data.mdb page %llu (database "
		    "'%s'): %s", (unsigned long long)pgno, w->db, msg);
	return vd_err_set(VD_ECORRUPT, "data.mdb page %llu: %s",
	    (unsigned long long)pgno, msg);
}

static void
dbrec_read(const unsigned char *p, struct dbrec *d)
{
	d->flags = rd16(p + 4);
	d->depth = rd16(p + 6);
	d->branch = rd64(p + 8);
	d->leaf = rd64(p + 16);
	d->overflow = rd64(p + 24);
	d->entries = rd64(p + 32);
	d->root = rd64(p + 40);
}

/*
 * Marks pages pgno .. pgno + n - 1 as how (SEEN_USED or SEEN_FREE); each
 * page may be claimed once.  The caller has checked n >= 1.
 */
static int
claim(struct walk *w, uint64_t pgno, uint64_t n, int how, const char *what)
{
	if (pgno < NUM_METAS || pgno > w->last_pg || n > w->last_pg - pgno + 1)
		return bad(w, pgno, "%s page number out of range (last page "
		    "%llu)", what, (unsigned long long)w->last_pg);
	for (uint64_t i = pgno; i < pgno + n; i++) {
		if (w->seen[i] != SEEN_NONE)
			return bad(w, i, "%s page is also %s", what,
			    w->seen[i] == SEEN_FREE ? "on the free list" :
			    "used elsewhere (a loop or a shared page)");
		w->seen[i] = (unsigned char)how;
	}
	return 0;
}

/* Orders two keys as the tree does (memcmp, or integers in the free tree). */
static int
keycmp(const struct walk *w, const unsigned char *a, size_t alen,
    const unsigned char *b, size_t blen)
{
	int c;

	/* A bound's length is checked after its subtree: never read past it. */
	if (w->intkey && alen == 8 && blen == 8) {
		uint64_t x = rd64(a), y = rd64(b);

		return x < y ? -1 : x > y;
	}
	if ((c = memcmp(a, b, alen < blen ? alen : blen)) != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* A key, for the bounds passed down the tree; p NULL: unbounded. */
struct key {
	const unsigned char *p;
	size_t		 len;
};

/*
 * Checks node i of page p (page number pgno): its pointer, header and key
 * lie inside the page.  Sets *node and *key.
 */
static int
node_get(const struct walk *w, const unsigned char *p, uint64_t pgno,
    unsigned i, unsigned upper, const unsigned char **node, struct key *key)
{
	unsigned off = rd16(p + PAGEHDRSZ + 2 * i), ksize;

	if (off < upper || off > w->psize - NODESIZE)
		return bad(w, pgno, "node %u is outside the page's node area "
		    "(offset %u)", i, off);
	ksize = rd16(p + off + 6);
	if (ksize > w->psize - NODESIZE - off)
		return bad(w, pgno, "node %u's key runs past the page", i);
	*node = p + off;
	key->p = p + off + NODESIZE;
	key->len = ksize;
	return 0;
}

/* Checks a leaf key's size and its order against the one before and bounds. */
static int
key_check(const struct walk *w, uint64_t pgno, unsigned i,
    const struct key *k, const struct key *prev, const struct key *lo,
    const struct key *hi)
{
	if (k->len == 0 || k->len > MAXKEY || (w->intkey && k->len != 8))
		return bad(w, pgno, "node %u has a key of %zu bytes", i, k->len);
	if (prev != NULL && keycmp(w, prev->p, prev->len, k->p, k->len) >= 0)
		return bad(w, pgno, "node %u's key is out of order", i);
	if (lo->p != NULL && keycmp(w, lo->p, lo->len, k->p, k->len) > 0)
		return bad(w, pgno, "node %u's key is below its parent's "
		    "separator", i);
	if (hi->p != NULL && keycmp(w, k->p, k->len, hi->p, hi->len) >= 0)
		return bad(w, pgno, "node %u's key is above the next "
		    "separator", i);
	return 0;
}

/* Checks a free-list value: a page-number list (count, then the pages). */
static int
freelist_check(struct walk *w, uint64_t pgno, unsigned i,
    const unsigned char *d, size_t dsize)
{
	uint64_t n;

	if (dsize < 16 || dsize % 8 != 0 || (n = rd64(d)) != dsize / 8 - 1)
		return bad(w, pgno, "free-list node %u is malformed", i);
	for (uint64_t j = 1; j <= n; j++) {
		uint64_t fp = rd64(d + 8 * j);
		int r;

		if ((r = claim(w, fp, 1, SEEN_FREE, "free-listed")) != 0)
			return r;
		w->out->free++;
	}
	return 0;
}

/* Checks one leaf node's data (inline, overflow pages, database record). */
static int
leaf_data(struct walk *w, const unsigned char *p, uint64_t pgno, unsigned i,
    const unsigned char *node, const struct key *k)
{
	unsigned flags = rd16(node + 4);
	size_t dsize = (size_t)rd16(node) | (size_t)rd16(node + 2) << 16;
	size_t room = w->psize - (size_t)(k->p + k->len - p);
	const unsigned char *d = k->p + k->len;
	int r;

	if (flags & ~(unsigned)(F_BIGDATA | F_SUBDATA) ||
	    flags == (F_BIGDATA | F_SUBDATA) ||
	    ((flags & F_SUBDATA) && !w->main))
		return bad(w, pgno, "node %u has flags %#x", i, flags);
	if (flags & F_BIGDATA) {
		uint64_t ov, n;
		const unsigned char *op;

		if (room < 8)
			return bad(w, pgno, "node %u's overflow page number runs "
			    "past the page", i);
		ov = rd64(d);
		/* OVPAGES(): the pages LMDB reads for dsize bytes. */
		n = (PAGEHDRSZ - 1 + (uint64_t)dsize) / w->psize + 1;
		/* mdb_leaf_size(): only a node over me_nodemax goes there. */
		if (NODESIZE + k->len + dsize <= (((w->psize - PAGEHDRSZ) / 2) &
		    ~(size_t)1) - 2)
			return bad(w, pgno, "node %u's %zu bytes are too small "
			    "for overflow pages", i, dsize);
		if ((r = claim(w, ov, n, SEEN_USED, "overflow")) != 0)
			return r;
		op = w->map + ov * w->psize;
		if (rd64(op) != ov || rd16(op + 10) != P_OVERFLOW ||
		    rd32(op + 12) != n)
			return bad(w, ov, "overflow page of node %u of page %llu "
			    "has a damaged header", i, (unsigned long long)pgno);
		w->nover += n;
		d = op + PAGEHDRSZ;
	} else if (dsize > room)
		return bad(w, pgno, "node %u's data runs past the page", i);
	if (flags & F_SUBDATA) {
		struct named *nd;
		size_t j;

		if (dsize != DBRECSZ)
			return bad(w, pgno, "node %u's database record has %zu "
			    "bytes", i, dsize);
		if (w->nnamed >= MAXDBS)
			return bad(w, pgno, "more than %d named databases",
			    MAXDBS);
		nd = &w->named[w->nnamed++];
		for (j = 0; j < k->len && j < sizeof(nd->name) - 1; j++)
			nd->name[j] = (k->p[j] >= 0x20 && k->p[j] < 0x7f) ?
			    (char)k->p[j] : '?';
		nd->name[j] = '\0';
		dbrec_read(d, &nd->rec);
	} else if (w->intkey)
		return freelist_check(w, pgno, i, d, dsize);
	return 0;
}

/*
 * Walks the subtree at pgno, which sits at level (1: the root) of a tree of
 * depth levels; its keys lie in [lo, hi).  Recursion is bounded by depth
 * (at most MAXDEPTH).
 */
static int
walk_page(struct walk *w, uint64_t pgno, unsigned level, unsigned depth,
    struct key lo, struct key hi)
{
	const unsigned char *p, *node;
	unsigned flags, lower, upper, nkeys, want;
	struct key k, prev = { NULL, 0 };
	int r;

	if ((r = claim(w, pgno, 1, SEEN_USED, "tree")) != 0)
		return r;
	p = w->map + pgno * w->psize;
	flags = rd16(p + 10);
	lower = rd16(p + 12);
	upper = rd16(p + 14);
	want = level < depth ? P_BRANCH : P_LEAF;
	if (rd64(p) != pgno)
		return bad(w, pgno, "the page says it is page %llu",
		    (unsigned long long)rd64(p));
	if (flags != want)
		return bad(w, pgno, "a %s page at level %u of %u has flags "
		    "%#x", want == P_BRANCH ? "branch" : "leaf", level, depth,
		    flags);
	if (lower < PAGEHDRSZ || lower % 2 != 0 || lower > upper ||
	    upper > w->psize)
		return bad(w, pgno, "bad node area (lower %u, upper %u)", lower,
		    upper);
	nkeys = (lower - PAGEHDRSZ) / 2;
	if (nkeys < (want == P_BRANCH ? 2U : 1U))
		return bad(w, pgno, "%u keys in a %s page", nkeys,
		    want == P_BRANCH ? "branch" : "leaf");
	if (want == P_LEAF) {
		w->nleaf++;
		for (unsigned i = 0; i < nkeys; i++) {
			if ((r = node_get(w, p, pgno, i, upper, &node, &k))
			    != 0 ||
			    (r = key_check(w, pgno, i, &k, i ? &prev : NULL,
			    &lo, &hi)) != 0 ||
			    (r = leaf_data(w, p, pgno, i, node, &k)) != 0)
				return r;
			prev = k;
			w->nentries++;
		}
		return 0;
	}
	w->nbranch++;
	for (unsigned i = 0; i < nkeys; i++) {
		struct key clo, chi = hi, nk;
		const unsigned char *nn;
		uint64_t child;

		if ((r = node_get(w, p, pgno, i, upper, &node, &k)) != 0)
			return r;
		/* Node 0's key is not used: its subtree starts at lo. */
		if (i > 0 && (r = key_check(w, pgno, i, &k, i > 1 ? &prev :
		    NULL, &lo, &hi)) != 0)
			return r;
		clo = i > 0 ? k : lo;
		if (i + 1 < nkeys) {
			if ((r = node_get(w, p, pgno, i + 1, upper, &nn, &nk))
			    != 0)
				return r;
			chi = nk;
		}
		child = (uint64_t)rd16(node) | (uint64_t)rd16(node + 2) << 16 |
		    (uint64_t)rd16(node + 4) << 32;
		if ((r = walk_page(w, child, level + 1, depth, clo, chi)) != 0)
			return r;
		if (i > 0)
			prev = k;
	}
	return 0;
}

/* Walks one tree described by rec and checks its counts. */
static int
walk_tree(struct walk *w, const char *name, const struct dbrec *rec)
{
	struct key none = { NULL, 0 };
	int r;

	w->db = name;
	w->nbranch = w->nleaf = w->nover = w->nentries = 0;
	if (rec->root == P_INVALID) {
		if (rec->depth != 0 || rec->entries != 0 || rec->branch != 0 ||
		    rec->leaf != 0 || rec->overflow != 0)
			return bad(w, 0, "an empty database's record has "
			    "counts");
		return 0;
	}
	if (rec->depth < 1 || rec->depth > MAXDEPTH)
		return bad(w, rec->root, "the database record's depth is %u",
		    rec->depth);
	if ((r = walk_page(w, rec->root, 1, rec->depth, none, none)) != 0)
		return r;
	if (w->nbranch != rec->branch || w->nleaf != rec->leaf ||
	    w->nover != rec->overflow || w->nentries != rec->entries)
		return bad(w, rec->root, "the database record counts %llu/%llu/"
		    "%llu pages and %llu records, the tree has %llu/%llu/%llu "
		    "and %llu", (unsigned long long)rec->branch,
		    (unsigned long long)rec->leaf,
		    (unsigned long long)rec->overflow,
		    (unsigned long long)rec->entries,
		    (unsigned long long)w->nbranch,
		    (unsigned long long)w->nleaf,
		    (unsigned long long)w->nover,
		    (unsigned long long)w->nentries);
	return 0;
}

/* Checks meta page i's header; sets its page size, txnid and records. */
static int
meta_read(struct walk *w, unsigned i, size_t psize, size_t *mpsize,
    uint64_t *txnid, uint64_t *last_pg, uint64_t *mapsize,
    struct dbrec *fdb, struct dbrec *mdb)
{
	const unsigned char *p = w->map + i * psize, *m = p + PAGEHDRSZ;

	if ((size_t)i * psize + PAGEHDRSZ + METASZ > w->len)
		return bad(w, i, "the file ends inside the meta page");
	if (rd16(p + 10) != P_META || rd64(p) != i)
		return bad(w, i, "not a meta page (flags %#x)", rd16(p + 10));
	if (rd32(m) != MDB_MAGIC || rd32(m + 4) != MDB_DATA_VERSION)
		return bad(w, i, "bad magic or version in the meta page");
	if (rd64(m + 8) != 0)
		return bad(w, i, "the meta page asks for a fixed address");
	*mpsize = rd32(m + 24);
	*mapsize = rd64(m + 16);
	dbrec_read(m + 24, fdb);
	dbrec_read(m + 72, mdb);
	*last_pg = rd64(m + 120);
	*txnid = rd64(m + 128);
	return 0;
}

int
vd_pagewalk_mem(const unsigned char *map, size_t len, struct vd_pagewalk *out)
{
	struct walk w;
	struct dbrec fdb[2], mdb[2];
	uint64_t txn[2], last[2], msz[2];
	size_t ps[2];
	unsigned use;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	w.map = map;
	w.len = len;
	w.out = out;
	w.db = NULL;
	/* Meta page 0 names the page size; LMDB then reads meta page 1. */
	if ((r = meta_read(&w, 0, 0, &ps[0], &txn[0], &last[0], &msz[0],
	    &fdb[0], &mdb[0])) != 0)
		return r;
	if (ps[0] < 512 || ps[0] > 65536 || (ps[0] & (ps[0] - 1)) != 0)
		return bad(&w, 0, "bad page size %zu", ps[0]);
	if ((r = meta_read(&w, 1, ps[0], &ps[1], &txn[1], &last[1], &msz[1],
	    &fdb[1], &mdb[1])) != 0)
		return r;
	if (ps[1] != ps[0])
		return bad(&w, 1, "the meta pages disagree on the page size");
	w.psize = ps[0];
	/*
	 * mdb_env_pick_meta(): the newer transaction.  A reader then takes
	 * meta page (txnid & 1) (mdb_txn_renew0() through the lock file's
	 * txnid): transaction T is always written to page T % 2, so a newer
	 * meta on the wrong page sends readers to the other tree (found by
	 * fuzz_pagewalk: LMDB then died in mdb_dbi_open()).
	 */
	use = txn[0] < txn[1];
	if ((txn[use] & 1) != use)
		return bad(&w, use, "transaction %llu is on the wrong meta page",
		    (unsigned long long)txn[use]);
	out->psize = w.psize;
	out->txnid = txn[use];
	out->last_pg = w.last_pg = last[use];
	if (w.last_pg < NUM_METAS - 1 || w.last_pg >= len / w.psize)
		return bad(&w, use, "the last page (%llu) is beyond the file's "
		    "%zu pages", (unsigned long long)w.last_pg, len / w.psize);
	if (msz[use] / w.psize <= w.last_pg)
		return bad(&w, use, "the map size is smaller than the file's "
		    "pages in use");
	if (fdb[use].flags != MDB_INTEGERKEY || mdb[use].flags != 0)
		return bad(&w, use, "the database flags are not this vault's "
		    "layout (free %#x, main %#x)", fdb[use].flags,
		    mdb[use].flags);
	if ((w.seen = calloc(w.last_pg + 1, 1)) == NULL ||
	    (w.named = calloc(MAXDBS, sizeof(*w.named))) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	w.intkey = 1;
	if ((r = walk_tree(&w, "(free pages)", &fdb[use])) != 0)
		goto out;
	w.intkey = 0;
	w.main = 1;
	if ((r = walk_tree(&w, "(main)", &mdb[use])) != 0)
		goto out;
	w.main = 0;
	for (unsigned i = 0; i < w.nnamed; i++) {
		if (w.named[i].rec.flags != 0) {
			w.db = w.named[i].name;
			r = bad(&w, w.named[i].rec.root, "database flags %#x are "
			    "not this vault's layout", w.named[i].rec.flags);
			goto out;
		}
		if ((r = walk_tree(&w, w.named[i].name, &w.named[i].rec)) != 0)
			goto out;
		out->entries += w.named[i].rec.entries;
	}
	out->ndbs = w.nnamed;
	w.db = NULL;
	for (uint64_t i = NUM_METAS; i <= w.last_pg; i++) {
		if (w.seen[i] == SEEN_USED)
			out->inuse++;
		else if (w.seen[i] == SEEN_NONE) {
			r = bad(&w, i, "the page is neither in use nor free "
			    "(lost by a damaged page)");
			goto out;
		}
	}
	r = 0;
 out:
	free(w.seen);
	free(w.named);
	return r;
}

/*
 * Both meta pages' transaction ids, read from the file (not the map),
 * mixed into one value that changes when either does; 0 when unreadable.
 */
static uint64_t
metas_txnid(int fd)
{
	unsigned char m[PAGEHDRSZ + METASZ];
	uint64_t a, b;
	uint32_t ps;

	if (pread(fd, m, sizeof(m), 0) != (ssize_t)sizeof(m))
		return 0;
	a = rd64(m + PAGEHDRSZ + 128);
	ps = rd32(m + PAGEHDRSZ + 24);
	if (ps < 512 || ps > 65536 || pread(fd, m, sizeof(m), ps) !=
	    (ssize_t)sizeof(m))
		return a;
	b = rd64(m + PAGEHDRSZ + 128);
	return a * 0x9e3779b97f4a7c15ULL ^ b;
}

int
vd_pagewalk_file(const char *path, struct vd_pagewalk *out)
{
	struct stat sb;
	uint64_t before;
	void *map;
	int fd, r;

	memset(out, 0, sizeof(*out));
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK))
	    < 0)
		return vd_err_set(-errno, "%s", path);
	if (fstat(fd, &sb) != 0) {
		r = vd_err_set(-errno, "%s", path);
		close(fd);
		return r;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return vd_err_set(VD_ECORRUPT, "%s is not a regular file", path);
	}
	if (sb.st_size == 0) {
		close(fd);
		return vd_err_set(VD_ECORRUPT, "%s is empty", path);
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		r = vd_err_set(-errno, "%s: cannot map it", path);
		close(fd);
		return r;
	}
	before = metas_txnid(fd);
	r = vd_pagewalk_mem(map, (size_t)sb.st_size, out);
	/*
	 * A writer (vaultd) may commit while the walk reads: pages of the
	 * snapshot walked can then be reused under it.  A failure seen while
	 * the meta pages changed is no finding.
	 */
	if (r == VD_ECORRUPT && metas_txnid(fd) != before)
		r = vd_err_set(VD_EBUSY, "%s changed while it was walked (a "
		    "writer is running): verify a copy (mdb_copy -c)", path);
	munmap(map, (size_t)sb.st_size);
	close(fd);
	return r;
}
