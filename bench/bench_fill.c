/*
 * bench_fill.c - fills a new vault directly through storage/store.h, in a
 * few big transactions, for the scale and history benchmarks.
 *
 * usage: bench_fill --data-dir DIR --key-file FILE --socket PATH
 *                   [--targets N] [--due K --due-in SEC --due-span S]
 *                   [--history H] [--commits C]
 *
 * Creates the key file and the vault (as `vaultctl init` does), then N
 * targets t000000.. in the shape vaultd's target.add writes: the target
 * record, version 1 current with a random password, its history entry,
 * and a schedule record whose next_due is ten years away.  The first K
 * targets are real: an account bs000000..@'localhost' is created on the
 * server at --socket (as root, empty password: the throwaway server of
 * scripts/bench.sh) with the stored password, and their next_due is spread
 * evenly over [T, T + S), T being SEC seconds after the fill ends (written
 * last, printed as due_start=T).  With --history, target t000000 gets H
 * more history entries.  Passwords live only in secure memory here and in
 * the vault.  Prints what it did and how long it took.
 *
 * With --commits, the vault is then closed and opened again as vaultd
 * does (read-write, unlocked: the freshness anchor and the integrity
 * record's full pass over every record), timed, and C small write
 * transactions like a rotation's last step (a version record rewritten,
 * a history and an audit entry appended, a schedule record rewritten) are
 * committed one by one and timed (full sync: fsync included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "bench.h"
#include "driver.h"
#include "err.h"
#include "mem.h"
#include "store.h"
#include "util.h"

#define BATCH		10000	/* targets per transaction */
#define HBATCH		100000	/* history entries per transaction */
#define FAR_AWAY	(10LL * 365 * 86400)	/* next_due of idle targets */

static int
fail(const char *what, int r)
{
	char buf[300];

	fprintf(stderr, "bench_fill: %s: %s\n", what,
	    vd_err_format(r, buf, sizeof(buf)));
	return 1;
}

/* Creates bsNNNNNN@localhost with password pw on the server. */
static int
make_account(struct vd_drv_conn *rc, const char *user,
    const struct vd_secret *pw)
{
	char sql[160], err[VD_DRV_ERRLEN];
	int r;

	snprintf(sql, sizeof(sql), "DROP USER IF EXISTS '%s'@'localhost'", user);
	if ((r = vd_drv_exec(rc, sql, err, sizeof(err))) != 0)
		goto out;
	snprintf(sql, sizeof(sql), "CREATE USER '%s'@'localhost'", user);
	if ((r = vd_drv_exec(rc, sql, err, sizeof(err))) != 0)
		goto out;
	r = vd_drv_set_password(rc, user, "localhost", pw, err, sizeof(err));
 out:
	if (r != 0)
		fprintf(stderr, "bench_fill: account %s: %s\n", user, err);
	return r;
}

/* CPU time of this process (user + system), seconds. */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * --commits: reopens the vault as vaultd does (timed), then times n small
 * write transactions, one commit each.
 */
static int
commits(struct vd_store **stp, const char *dir, const struct vd_secret *key,
    long long n, const char *ts)
{
	json_t *meta, *hist, *audit, *sched;
	double t0, t1, c0, c1;
	int r;

	vd_store_close(*stp);
	*stp = NULL;
	t0 = now_s();
	if ((r = vd_store_open(dir, 0, stp)) != 0 ||
	    (r = vd_store_unlock(*stp, key)) != 0)
		return r;
	t1 = now_s();
	printf("bench_fill: reopen + unlock (vaultd's start-up checks) in "
	    "%.2f s\n", t1 - t0);
	meta = json_pack("{s:s,s:s,s:s}", "state", "previous", "trigger",
	    "initial", "created_at", ts);
	hist = json_pack("{s:I,s:s,s:s}", "version", (json_int_t)2, "trigger",
	    "schedule", "result", "ok");
	audit = json_pack("{s:s,s:s,s:s}", "event", "rotate", "target",
	    "t000000", "result", "ok");
	sched = json_pack("{s:I,s:s,s:I}", "next_due", (json_int_t)0, "state",
	    "ok", "retries", (json_int_t)0);
	if (!meta || !hist || !audit || !sched)
		return VD_ENOMEM;
	t0 = now_s();
	c0 = cpu_s();
	for (long long i = 0; i < n; i++) {
		struct vd_txn *t = NULL;

		if ((r = vd_txn_begin(*stp, 1, &t)) != 0)
			break;
		if ((r = vd_version_put(t, "t000000", 1, meta)) != 0 ||
		    (r = vd_history_append(t, "t000000", hist, NULL)) != 0 ||
		    (r = vd_audit_append(t, audit, NULL)) != 0 ||
		    (r = vd_sched_put(t, "t000000", sched)) != 0) {
			vd_txn_abort(t);
			break;
		}
		if ((r = vd_txn_commit(t)) != 0)
			break;
	}
	t1 = now_s();
	c1 = cpu_s();
	json_decref(meta);
	json_decref(hist);
	json_decref(audit);
	json_decref(sched);
	if (r == 0)
		printf("bench_fill: %lld commits (4 records each) in %.2f s: "
		    "%.0f us per commit, %.0f us of it CPU time\n", n, t1 - t0,
		    (t1 - t0) * 1e6 / n, (c1 - c0) * 1e6 / n);
	return r;
}

int
main(int argc, char **argv)
{
	const char *dir = NULL, *keyfile = NULL, *sock = NULL;
	long long ntargets = 1, ndue = 0, due_in = 30, due_span = 1;
	long long due_start;
	long long nhist = 0, ncommits = 0;
	struct vd_secret *key = NULL, *empty = NULL;
	struct vd_store *st = NULL;
	struct vd_drv_conn *rc = NULL;
	char ts[VD_TIME_STRLEN], err[VD_DRV_ERRLEN];
	int64_t now = vd_now();
	double t0;
	int r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			goto usage;
		if (strcmp(a, "--data-dir") == 0)
			dir = v;
		else if (strcmp(a, "--key-file") == 0)
			keyfile = v;
		else if (strcmp(a, "--socket") == 0)
			sock = v;
		else if (strcmp(a, "--targets") == 0)
			ntargets = strtoll(v, NULL, 10);
		else if (strcmp(a, "--due") == 0)
			ndue = strtoll(v, NULL, 10);
		else if (strcmp(a, "--due-in") == 0)
			due_in = strtoll(v, NULL, 10);
		else if (strcmp(a, "--due-span") == 0)
			due_span = strtoll(v, NULL, 10);
		else if (strcmp(a, "--history") == 0)
			nhist = strtoll(v, NULL, 10);
		else if (strcmp(a, "--commits") == 0)
			ncommits = strtoll(v, NULL, 10);
		else
			goto usage;
		i++;
	}
	if (dir == NULL || keyfile == NULL || sock == NULL || ntargets < 1 ||
	    ndue < 0 || ndue > ntargets || due_span < 1 || nhist < 0 ||
	    ncommits < 0)
		goto usage;
	if (vd_mem_init() != 0)
		return 1;
	vd_time_rfc3339(now, ts, sizeof(ts));
	if ((r = vd_keyfile_create(keyfile)) != 0)
		return fail("key file", r);
	if ((r = vd_keyfile_load(keyfile, &key)) != 0)
		return fail("key file", r);
	if ((r = vd_store_create(dir, VD_KDF_KEYFILE, key, NULL, &st)) != 0)
		return fail("vault", r);
	if (ndue > 0) {
		struct vd_dbtarget t = { .unix_socket = sock, .user = "root" };

		if ((empty = vd_secret_new(1)) == NULL)
			return 1;
		if (vd_drv_init() != 0 || vd_drv_connect(&t, "root", empty,
		    &rc, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_fill: root login: %s\n", err);
			return 1;
		}
	}

	t0 = now_s();
	for (long long b = 0; b < ntargets; b += BATCH) {
		struct vd_txn *t = NULL;

		if ((r = vd_txn_begin(st, 1, &t)) != 0)
			return fail("begin", r);
		for (long long i = b; i < ntargets && i < b + BATCH; i++) {
			char name[32], user[32];
			struct vd_secret *pw = gen_pw();
			json_t *rec, *meta, *hist, *sched;
			int64_t due = now + FAR_AWAY;	/* idle targets */

			snprintf(name, sizeof(name), "t%06lld", i);
			if (i < ndue) {
				snprintf(user, sizeof(user), "bs%06lld", i);
				if (make_account(rc, user, pw) != 0)
					return 1;
			} else
				snprintf(user, sizeof(user), "idle%06lld", i);
			rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:I}",
			    "name", name, "user", user, "policy", "default",
			    "created_at", ts, "created_by", "bench",
			    "unix_socket", sock, "account_hosts", "localhost",
			    "every", (json_int_t)(90 * 86400));
			meta = json_pack("{s:s,s:s,s:s,s:s}", "state", "current",
			    "trigger", "initial", "created_at", ts,
			    "created_by", "bench");
			hist = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "version",
			    (json_int_t)1, "trigger", "initial", "result", "ok",
			    "started_at", ts, "finished_at", ts, "by", "bench");
			sched = json_pack("{s:I,s:s,s:I,s:I}", "next_due",
			    (json_int_t)due, "state", "ok", "retries",
			    (json_int_t)0, "check_due",
			    (json_int_t)(now + 80000));
			if (pw == NULL || !rec || !meta || !hist || !sched)
				return fail("json", VD_ENOMEM);
			if ((r = vd_target_put(t, name, rec, 1)) != 0 ||
			    (r = vd_secret_put(t, name, 1, pw)) != 0 ||
			    (r = vd_version_put(t, name, 1, meta)) != 0 ||
			    (r = vd_history_append(t, name, hist, NULL)) != 0 ||
			    (i >= ndue && (r = vd_sched_put(t, name,
			    sched)) != 0))
				return fail(name, r);
			vd_secret_free(pw);
			json_decref(rec);
			json_decref(meta);
			json_decref(hist);
			json_decref(sched);
		}
		if ((r = vd_txn_commit(t)) != 0)
			return fail("commit", r);
	}
	printf("bench_fill: %lld targets (%lld due, real accounts) in %.2f s\n",
	    ntargets, ndue, now_s() - t0);
	if (ndue > 0) {
		/*
		 * The due targets' schedules last, relative to the end of the
		 * fill, so that the wave starts a known time from now.
		 */
		struct vd_txn *t = NULL;

		due_start = vd_now() + due_in;
		if ((r = vd_txn_begin(st, 1, &t)) != 0)
			return fail("begin", r);
		for (long long i = 0; i < ndue; i++) {
			char name[32];
			json_t *sched = json_pack("{s:I,s:s,s:I,s:I}",
			    "next_due", (json_int_t)(due_start + i * due_span /
			    ndue), "state", "ok", "retries", (json_int_t)0,
			    "check_due", (json_int_t)(now + 80000));

			snprintf(name, sizeof(name), "t%06lld", i);
			if (sched == NULL)
				return fail("json", VD_ENOMEM);
			if ((r = vd_sched_put(t, name, sched)) != 0)
				return fail(name, r);
			json_decref(sched);
		}
		if ((r = vd_txn_commit(t)) != 0)
			return fail("commit", r);
		printf("due_start=%lld due_span=%lld due=%lld\n", due_start,
		    due_span, ndue);
	}

	t0 = now_s();
	for (long long b = 0; b < nhist; b += HBATCH) {
		struct vd_txn *t = NULL;

		if ((r = vd_txn_begin(st, 1, &t)) != 0)
			return fail("begin", r);
		for (long long i = b; i < nhist && i < b + HBATCH; i++) {
			json_t *h = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}",
			    "version", (json_int_t)(2 + i), "trigger",
			    "schedule", "result", "ok", "started_at", ts,
			    "finished_at", ts, "hosts", "localhost ok");

			if (h == NULL)
				return fail("json", VD_ENOMEM);
			if ((r = vd_history_append(t, "t000000", h, NULL)) != 0)
				return fail("history", r);
			json_decref(h);
		}
		if ((r = vd_txn_commit(t)) != 0)
			return fail("commit", r);
	}
	if (nhist > 0)
		printf("bench_fill: %lld history entries in %.2f s\n", nhist,
		    now_s() - t0);
	if (ncommits > 0 && (r = commits(&st, dir, key, ncommits, ts)) != 0)
		return fail("commits", r);
	vd_secret_free(key);
	vd_drv_close(rc);
	vd_secret_free(empty);
	vd_store_close(st);
	if (ndue > 0)
		vd_drv_end();
	return 0;
 usage:
	fprintf(stderr, "usage: bench_fill --data-dir DIR --key-file FILE "
	    "--socket PATH [--targets N] [--due K --due-in SEC "
	    "--due-span S] [--history H] [--commits C]\n");
	return 2;
}
