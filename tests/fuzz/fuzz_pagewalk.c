/*
 * fuzz_pagewalk.c - libFuzzer target for storage/pagewalk.c, the walk of
 * data.mdb's pages made without LMDB (issue 14 item 7).
 *
 * Input: a whole data.mdb image (the seeds are small vaults' files).
 * vd_pagewalk_mem() must return 0 or VD_ECORRUPT, read nothing outside
 * the input, and never crash.  And the walk must mean what it says: when
 * it passes an image, the image is written as a data directory's data.mdb
 * and opened read-only through the store, and every record is read
 * (vd_store_raw_each: every leaf and overflow page LMDB reaches) — that
 * must not crash either.  A crash there is a page the walk should have
 * refused.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "pagewalk.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/vd-fuzz-pagewalk.XXXXXX";
static char data_dir[64], data_file[96], lock_file[96];
static int ready;

static void
cleanup(void)
{
	(void)unlink(data_file);
	(void)unlink(lock_file);
	(void)rmdir(data_dir);
	(void)rmdir(dir);
}

static void
init(void)
{
	if (vd_mem_init() != 0 || mkdtemp(dir) == NULL)
		abort();
	snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
	snprintf(data_file, sizeof(data_file), "%s/data.mdb", data_dir);
	snprintf(lock_file, sizeof(lock_file), "%s/lock.mdb", data_dir);
	if (mkdir(data_dir, 0700) != 0)
		abort();
	atexit(cleanup);
	ready = 1;
}

static int
touch(const char *db, const void *key, size_t klen, const void *val,
    size_t vlen, void *arg)
{
	unsigned *sum = arg;

	/* Read every byte LMDB hands out: it must lie inside the map. */
	for (size_t i = 0; i < klen; i++)
		*sum += ((const unsigned char *)key)[i];
	for (size_t i = 0; i < vlen; i++)
		*sum += ((const unsigned char *)val)[i];
	return 0;
}

/* Opens the image through the store and reads every record. */
static void
through_lmdb(const uint8_t *data, size_t size)
{
	struct vd_store *st = NULL;
	struct vd_txn *t = NULL;
	unsigned sum = 0;
	int fd;

	(void)unlink(lock_file);
	if ((fd = open(data_file, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (vd_store_open(data_dir, VD_STORE_RDONLY, &st) == 0) {
		if (vd_txn_begin(st, 0, &t) == 0) {
			(void)vd_store_raw_each(t, touch, &sum);
			vd_txn_abort(t);
		}
		vd_store_close(st);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vd_pagewalk w;
	int r;

	if (!ready)
		init();
	r = vd_pagewalk_mem(data, size, &w);
	if (r != 0 && r != VD_ECORRUPT && r != VD_ENOMEM)
		abort();
	if (r == 0)
		through_lmdb(data, size);
	return 0;
}
