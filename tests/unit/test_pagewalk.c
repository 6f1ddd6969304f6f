/*
 * test_pagewalk.c - storage/pagewalk.c and common/vverify.c (issue 14
 * item 7): a real vault's data.mdb passes the page walk and the whole
 * vault walk; each kind of damage LMDB would follow into a crash is
 * refused with a message naming the page, its database and what is wrong.
 *
 * The vault: 400 audit entries committed in 40 transactions (a branch
 * page above the audit log's leaves, and free pages), a schedule record
 * larger than a page (overflow pages), a target with a secret version.
 * Each damage is made on a copy of the file image, found by reading the
 * layout the way the walk does (LMDB 0.9, 64-bit, 4096-byte pages).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "err.h"
#include "mem.h"
#include "pagewalk.h"
#include "store.h"
#include "vverify.h"

static char tmproot[] = "/tmp/vd-test-pagewalk.XXXXXX";
static char dir[256], keyf[256], file[300];
static unsigned char *image;
static size_t imagelen;
#define PS 4096

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static void
put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint16_t
get16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static void
put16(unsigned char *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/* Builds the vault and reads its data.mdb into image. */
static void
build(void)
{
	struct vd_secret *key, *pw;
	struct vd_store *st;
	struct vd_txn *t;
	json_t *o;
	char big[6000];
	struct stat sb;
	int fd;

	CHECK(mkdtemp(tmproot) != NULL);
	snprintf(dir, sizeof(dir), "%s/v", tmproot);
	snprintf(keyf, sizeof(keyf), "%s/v.key", tmproot);
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	CHECK_OK(vd_keyfile_create(keyf));
	CHECK_OK(vd_keyfile_load(keyf, &key));
	CHECK_OK(vd_store_create(dir, VD_KDF_KEYFILE, key, NULL, &st));
	vd_secret_free(key);
	for (int i = 0; i < 40; i++) {
		CHECK_OK(vd_txn_begin(st, 1, &t));
		for (int j = 0; j < 10; j++) {
			o = json_pack("{s:s,s:i}", "event", "test", "n",
			    i * 10 + j);
			CHECK_OK(vd_audit_append(t, o, NULL));
			json_decref(o);
		}
		CHECK_OK(vd_txn_commit(t));
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_OK(vd_txn_begin(st, 1, &t));
	o = json_pack("{s:s}", "user", "root");
	CHECK_OK(vd_target_put(t, "db1", o, 1));
	json_decref(o);
	o = json_pack("{s:s}", "note", big);
	CHECK_OK(vd_sched_put(t, "db1", o));
	json_decref(o);
	pw = vd_secret_from("Pw-db1-1-q7Zx", 13);
	CHECK(pw != NULL);
	CHECK_OK(vd_secret_put(t, "db1", 1, pw));
	vd_secret_free(pw);
	CHECK_OK(vd_txn_commit(t));
	vd_store_close(st);
	CHECK((fd = open(file, O_RDONLY)) >= 0);
	CHECK(fstat(fd, &sb) == 0);
	imagelen = (size_t)sb.st_size;
	CHECK((image = malloc(imagelen)) != NULL);
	CHECK(read(fd, image, imagelen) == (ssize_t)imagelen);
	close(fd);
}

/* The meta page the walk uses (the newer one). */
static unsigned char *
meta(unsigned char *img)
{
	unsigned char *m0 = img + 16, *m1 = img + PS + 16;

	return get64(m0 + 128) < get64(m1 + 128) ? m1 : m0;
}

static unsigned char *
page(unsigned char *img, uint64_t pgno)
{
	CHECK((pgno + 1) * PS <= imagelen);
	return img + pgno * PS;
}

static unsigned
nkeys(const unsigned char *p)
{
	return (get16(p + 12) - 16U) / 2;
}

static unsigned char *
node(unsigned char *p, unsigned i)
{
	return p + get16(p + 16 + 2 * i);
}

/* The database record of named database name (in the main tree's root). */
static unsigned char *
dbrec(unsigned char *img, const char *name)
{
	unsigned char *root = page(img, get64(meta(img) + 72 + 40));

	CHECK(get16(root + 10) == 2);	/* a leaf: 8 databases fit */
	for (unsigned i = 0; i < nkeys(root); i++) {
		unsigned char *n = node(root, i);

		if (get16(n + 6) == strlen(name) &&
		    memcmp(n + 8, name, strlen(name)) == 0)
			return n + 8 + get16(n + 6);
	}
	CHECK(!"database not found");
	return NULL;
}

/* Walks a damaged copy: must fail, naming want. */
static void
expect(unsigned char *img, size_t len, const char *want, int line)
{
	struct vd_pagewalk w;
	int r;

	vd_err_clear();
	r = vd_pagewalk_mem(img, len, &w);
	if (r != VD_ECORRUPT || strstr(vd_err_detail(), want) == NULL) {
		fprintf(stderr, "%s:%d: walk returned %d (%s), want "
		    "VD_ECORRUPT and \"%s\"\n", __FILE__, line, r,
		    vd_err_detail(), want);
		exit(1);
	}
	free(img);
}
#define EXPECT(img, len, want)	expect(img, len, want, __LINE__)

static unsigned char *
copy(void)
{
	unsigned char *c = malloc(imagelen);

	CHECK(c != NULL);
	memcpy(c, image, imagelen);
	return c;
}

static void
test_intact(void)
{
	struct vd_pagewalk w;
	struct vd_vverify v;
	struct vd_secret *key;

	CHECK_OK(vd_pagewalk_mem(image, imagelen, &w));
	CHECK_INT_EQ(w.psize, PS);
	CHECK_INT_EQ(w.ndbs, 9);	/* with "requests" (issue 17) */
	CHECK_INT_EQ(w.inuse + w.free + 2, w.last_pg + 1);
	CHECK(w.free > 0);
	/*
	 * 400 audit entries + head + meta + the integrity record (issue 14
	 * item 3) + target + secret + schedule.
	 */
	CHECK_INT_EQ(w.entries, 400 + 3 + 3);
	CHECK_OK(vd_pagewalk_file(file, &w));
	CHECK_OK(vd_keyfile_load(keyf, &key));
	CHECK_OK(vd_vverify(dir, key, NULL, NULL, &v));
	CHECK(v.stage == NULL && v.unlocked);
	CHECK_INT_EQ(v.audit, 400);
	CHECK_INT_EQ(v.records, 406);
	/* Without the key: pages and records read, nothing opened. */
	CHECK_OK(vd_vverify_child(dir, NULL, NULL, NULL, &v));
	CHECK(!v.unlocked);
	CHECK_INT_EQ(v.records, 406);
	vd_secret_free(key);
}

static void
test_damage(void)
{
	unsigned char *c, *a, *root, *leaf, *n, *fr;
	uint64_t aroot, child0, pg;

	/* The file ends before the last page in use: LMDB's SIGBUS. */
	EXPECT(copy(), imagelen - PS, "beyond the file");
	/* A meta page's magic. */
	c = copy();
	meta(c)[0] ^= 1;
	EXPECT(c, imagelen, "bad magic");
	/*
	 * The older meta page given a newer transaction of the other parity:
	 * LMDB's readers would take the page (txnid & 1), the other tree.
	 */
	c = copy();
	{
		unsigned char *m = meta(c), *o = m == c + 16 ? c + PS + 16 :
		    c + 16;

		put64(o + 128, get64(m + 128) + 2);
	}
	EXPECT(c, imagelen, "wrong meta page");
	/* The audit log's root is a branch page (depth 2). */
	a = dbrec(image, "audit");
	CHECK_INT_EQ(get16(a + 6), 2);
	aroot = get64(a + 40);
	root = page(image, aroot);
	CHECK(get16(root + 10) == 1 && nkeys(root) >= 2);
	child0 = get64(node(root, 0)) & 0xffffffffffffULL;
	/* A child page number beyond the file. */
	c = copy();
	put16(node(page(c, aroot), 1), 0xfff0);
	EXPECT(c, imagelen, "out of range");
	/* Two children on one page (a loop or a shared page). */
	c = copy();
	memcpy(node(page(c, aroot), 1), node(page(c, aroot), 0), 6);
	EXPECT(c, imagelen, "used elsewhere");
	/* A page that says it is another one. */
	c = copy();
	put64(page(c, child0), child0 + 1);
	EXPECT(c, imagelen, "says it is page");
	/* A leaf where a branch page was. */
	c = copy();
	put16(page(c, aroot) + 10, 2);
	EXPECT(c, imagelen, "has flags");
	/* A node pointer into the page header: mdb.c's "Assertion 'i > 0'". */
	c = copy();
	put16(page(c, child0) + 16, 2);
	EXPECT(c, imagelen, "outside the page's node area");
	/* A node's key size past the page. */
	c = copy();
	leaf = page(c, child0);
	put16(node(leaf, 0) + 6, 5000);
	EXPECT(c, imagelen, "runs past the page");
	/* Keys out of order. */
	c = copy();
	leaf = page(c, child0);
	{
		uint16_t p0 = get16(leaf + 16), p1 = get16(leaf + 18);

		put16(leaf + 16, p1);
		put16(leaf + 18, p0);
	}
	EXPECT(c, imagelen, "out of order");
	/* The database record's count. */
	c = copy();
	a = dbrec(c, "audit");
	put64(a + 32, get64(a + 32) + 1);
	EXPECT(c, imagelen, "counts");
	/* The node area's bounds. */
	c = copy();
	put16(page(c, child0) + 14, PS + 2);
	EXPECT(c, imagelen, "bad node area");
	/* The schedule record lives on overflow pages; damage their count. */
	a = dbrec(image, "schedule");
	leaf = page(image, get64(a + 40));
	n = node(leaf, 0);
	CHECK(get16(n + 4) == 1);	/* F_BIGDATA */
	pg = get64(n + 8 + get16(n + 6));
	c = copy();
	put16(page(c, pg) + 12, get16(page(c, pg) + 12) + 1);
	EXPECT(c, imagelen, "overflow page");
	/* The overflow page number itself. */
	c = copy();
	n = node(page(c, get64(dbrec(c, "schedule") + 40)), 0);
	put64(n + 8 + get16(n + 6), aroot);
	EXPECT(c, imagelen, "used elsewhere");
	/* A free-listed page that is in use: a writer would overwrite it. */
	fr = page(image, get64(meta(image) + 24 + 40));
	CHECK(get16(fr + 10) == 2);
	c = copy();
	fr = page(c, get64(meta(c) + 24 + 40));
	n = node(fr, 0);
	CHECK(get64(n + 8 + 8) >= 1);	/* count, then the pages */
	put64(n + 8 + 8 + 8, aroot);
	EXPECT(c, imagelen, "on the free list");
	/* A page neither in use nor free: a free-list count cut short. */
	c = copy();
	fr = page(c, get64(meta(c) + 24 + 40));
	n = node(fr, 0);
	CHECK(get64(n + 16) >= 2);
	put64(n + 16, get64(n + 16) - 1);
	put16(n, get16(n) - 8);	/* its data size: one page less */
	EXPECT(c, imagelen, "neither in use nor free");
}

/* A sealed record damaged inside its ciphertext: pages fine, record not. */
static void
test_record(void)
{
	struct vd_secret *key;
	struct vd_vverify v;
	unsigned char *c = copy(), *a, *leaf, *n;
	int fd, r;

	a = dbrec(c, "secrets");
	leaf = page(c, get64(a + 40));
	n = node(leaf, 0);
	n[8 + get16(n + 6) + 30] ^= 0x40;
	CHECK((fd = open(file, O_WRONLY | O_TRUNC)) >= 0);
	CHECK(write(fd, c, imagelen) == (ssize_t)imagelen);
	close(fd);
	free(c);
	CHECK_OK(vd_keyfile_load(keyf, &key));
	vd_err_clear();
	r = vd_vverify_child(dir, key, NULL, NULL, &v);
	vd_secret_free(key);
	CHECK_INT_EQ(r, VD_ECORRUPT);
	CHECK_STR_EQ(v.stage, "records");
	CHECK(strstr(vd_err_detail(), "record 'db1 #1' in the secrets "
	    "database") != NULL);
	/* Without the key the record is read, not opened: it passes. */
	CHECK_OK(vd_vverify(dir, NULL, NULL, NULL, &v));
}

static void
cleanup(void)
{
	char p[320];

	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	unlink(file);
	snprintf(p, sizeof(p), "%s.anchor", dir);
	unlink(p);
	rmdir(dir);
	unlink(keyf);
	rmdir(tmproot);
}

int
main(void)
{
	CHECK_OK(vd_mem_init());
	build();
	test_intact();
	test_damage();
	test_record();
	free(image);
	cleanup();
	printf("test_pagewalk: ok\n");
	return 0;
}
