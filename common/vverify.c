/*
 * vverify.c - verification of a whole data directory (see vverify.h).
 */
#define _GNU_SOURCE	/* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "escrow.h"
#include "store.h"
#include "vverify.h"

/* State of the record walk. */
struct recs {
	struct vd_txn	*t;		/* the read transaction */
	int		 open;		/* open each sealed record */
	uint64_t	 n;		/* records read */
	unsigned	 sum;		/* touches every byte (no key) */
};

/* Reads 8 big-endian bytes. */
static uint64_t
be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * A record's key, printable, for messages: the store's keys are
 * name [\0 be64 [\0 party]] or, in the audit log, be64 alone; shown as
 * "name #N party" or "#N".  Other bytes are escaped.
 */
static void
key_str(const unsigned char *k, size_t klen, char *out, size_t len)
{
	size_t o = 0, i = 0;

	out[0] = '\0';
	if (klen == 8 && (k[0] < 0x21 || k[0] >= 0x7f)) {
		snprintf(out, len, "#%llu", (unsigned long long)be64(k));
		return;
	}
	while (i < klen && o + 24 < len) {
		if (k[i] == '\0' && klen - i >= 9 && (klen - i == 9 ||
		    k[i + 9] == '\0')) {
			o += (size_t)snprintf(out + o, len - o, " #%llu",
			    (unsigned long long)be64(k + i + 1));
			i += 9;
		} else if (k[i] == '\0') {
			out[o++] = ' ';
			i++;
		} else if (k[i] >= 0x21 && k[i] < 0x7f)
			out[o++] = (char)k[i++];
		else
			o += (size_t)snprintf(out + o, len - o, "\\x%02x",
			    k[i++]);
	}
	out[o] = '\0';
}

static int
rec_cb(const char *db, const void *key, size_t klen, const void *val,
    size_t vlen, void *arg)
{
	struct recs *rs = arg;
	char ks[128];
	int r;

	rs->n++;
	/* Without the key, reading each value still makes LMDB follow it. */
	for (size_t i = 0; i < vlen; i += 64)
		rs->sum += ((const unsigned char *)val)[i];
	if (!rs->open)
		return 0;
	vd_err_clear();
	if ((r = vd_store_raw_check(rs->t, db, key, klen, val, vlen)) != 0) {
		key_str(key, klen, ks, sizeof(ks));
		return vd_err_set(r, "record '%s' in the %s database: %s", ks,
		    db, vd_err_detail());
	}
	return 0;
}

/* Checks every envelope; all must carry one vault key (want, if set). */
static int
envelopes(struct vd_txn *t, const char *want, struct vd_vverify *out)
{
	struct vd_escrow_set set = { NULL, 0, 0 };
	char fp[VD_ESCROW_FPLEN + 1];
	int r;

	if ((r = vd_escrow_set_load(t, NULL, &set)) != 0)
		goto out;
	for (size_t i = 0; i < set.n; i++) {
		if ((r = vd_escrow_item_check(&set.items[i], fp)) != 0)
			goto out;
		if (out->signer[0] == '\0')
			memcpy(out->signer, fp, sizeof(out->signer));
		if (strcmp(fp, out->signer) != 0 ||
		    (want != NULL && strcmp(fp, want) != 0)) {
			r = vd_err_set(VD_ECORRUPT, "envelope of %s version "
			    "%llu for %s is signed by vault key %s, not %s "
			    "(forged, or another vault's)",
			    set.items[i].target,
			    (unsigned long long)set.items[i].version,
			    set.items[i].party, fp, want != NULL ? want :
			    out->signer);
			goto out;
		}
		out->envelopes++;
	}
	r = 0;
 out:
	vd_escrow_set_clear(&set);
	return r;
}

int
vd_vverify_store(struct vd_store *st, const char *pin, struct vd_vverify *out)
{
	struct vd_txn *t = NULL;
	struct recs rs;
	char own[VD_ESCROW_FPLEN + 1];
	const char *want = pin;
	uint64_t bad = 0;
	int r, found = 0;

	out->unlocked = vd_store_unlocked(st);
	if (out->unlocked) {
		out->stage = "escrow";
		if ((r = vd_escrow_vault_fp(st, own)) != 0)
			goto out;
		if (pin != NULL && strcmp(pin, own) != 0) {
			r = vd_err_set(VD_ECORRUPT, "the vault's signing key is "
			    "%s, not the pinned %s", own, pin);
			goto out;
		}
		want = own;
	}
	out->stage = "records";
	if ((r = vd_txn_begin(st, 0, &t)) != 0)
		goto out;
	memset(&rs, 0, sizeof(rs));
	rs.t = t;
	rs.open = out->unlocked;
	r = vd_store_raw_each(t, rec_cb, &rs);
	out->records = rs.n;
	if (r != 0)
		goto out;
	out->stage = "escrow";
	if ((r = envelopes(t, want, out)) != 0)
		goto out;
	if (out->unlocked) {
		out->stage = "audit";
		vd_err_clear();
		if ((r = vd_audit_verify(t, &out->audit, &bad)) != 0) {
			vd_err_set(r, "audit entry %llu: %s",
			    (unsigned long long)bad, vd_err_detail());
			goto out;
		}
		vd_txn_abort(t);
		t = NULL;
		out->stage = "anchor";
		if ((r = vd_store_anchor_check(st, NULL, NULL, &found)) != 0)
			goto out;
		out->anchor = found;
	}
	out->stage = NULL;
	r = 0;
 out:
	vd_txn_abort(t);
	return r;
}

int
vd_vverify_pages(const char *dir, struct vd_vverify *out)
{
	char path[4096];
	int n, r;

	memset(out, 0, sizeof(*out));
	out->anchor = -1;
	out->stage = "pages";
	n = snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return vd_err_set(VD_EINVAL, "data directory path too long");
	/* A live vault: a commit during the walk means walk again. */
	for (int i = 0; i < 5; i++) {
		vd_err_clear();
		if ((r = vd_pagewalk_file(path, &out->pages)) != VD_EBUSY)
			break;
	}
	if (r != 0) {
		if (r == VD_ECORRUPT)
			vd_err_set(r, "%s/%s", dir, vd_err_detail());
		return r;
	}
	out->stage = NULL;
	return 0;
}

int
vd_vverify(const char *dir, const struct vd_secret *key, const char *pin,
    const char *anchor, struct vd_vverify *out)
{
	struct vd_store *st = NULL;
	int r;

	if ((r = vd_vverify_pages(dir, out)) != 0)
		return r;
	out->stage = "open";
	if ((r = vd_store_open(dir, VD_STORE_RDONLY, &st)) != 0)
		goto out;
	if (anchor != NULL && (r = vd_store_set_anchor(st, anchor)) != 0)
		goto out;
	if (key != NULL) {
		out->stage = "unlock";
		if ((r = vd_store_unlock(st, key)) != 0)
			goto out;
	}
	r = vd_vverify_store(st, pin, out);
 out:
	vd_store_close(st);
	return r;
}

/* Reads exactly len bytes; 0, or -1 at end of file or on an error. */
static int
read_full(int fd, void *p, size_t len)
{
	unsigned char *b = p;

	while (len > 0) {
		ssize_t n = read(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* What the child sends back: its result, then the detail's bytes. */
struct answer {
	int		 r;		/* vd_vverify()'s return */
	struct vd_vverify v;		/* its summary */
	char		 detail[512];	/* vd_err_detail() */
};

int
vd_vverify_child(const char *dir, const struct vd_secret *key,
    const char *pin, const char *anchor, struct vd_vverify *out)
{
	struct answer a;
	int fds[2], st, r;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	out->anchor = -1;
	out->stage = "pages";
	if (pipe2(fds, O_CLOEXEC) != 0)
		return vd_err_set(-errno, "cannot start the checker process");
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		return vd_err_set(r, "cannot start the checker process");
	}
	if (pid == 0) {
		close(fds[0]);
		memset(&a, 0, sizeof(a));
		vd_err_clear();
		a.r = vd_vverify(dir, key, pin, anchor, &a.v);
		snprintf(a.detail, sizeof(a.detail), "%s", vd_err_detail());
		_exit(write(fds[1], &a, sizeof(a)) == (ssize_t)sizeof(a) ? 0 :
		    1);
	}
	close(fds[1]);
	memset(&a, 0, sizeof(a));
	r = read_full(fds[0], &a, sizeof(a));
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return vd_err_set(-errno, "waiting for the checker");
	if (WIFSIGNALED(st))
		return vd_err_set(VD_ECORRUPT, "%s/data.mdb is damaged: reading "
		    "it killed the checker process (%s)", dir,
		    strsignal(WTERMSIG(st)));
	if (r != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return vd_err_set(VD_ESTORE, "the checker process failed");
	*out = a.v;
	if (a.r != 0)
		return vd_err_set(a.r, "%s", a.detail);
	return 0;
}
