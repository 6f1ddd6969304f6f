/*
 * rotate.c - the rotation engine's job life cycle (rotate.h says what and
 * why; engine.h holds the shared types).  The engine is four files along
 * its seams: sched.c (entries, due times, what may start when, the tick),
 * this file (prepare, run, record, finish), apply.c (the thread pool's
 * part: connect, apply per host, verify per host) and versions.c (version
 * records through the version machine of state.h).
 *
 * Jobs: VD_APPLY_NEW (a fresh version), VD_APPLY_RESOLVE (finish a pending
 * one), VD_APPLY_CHECK (drift check: does the current password still log
 * in?).  A job is prepared on the loop thread (reads, and for VD_APPLY_NEW
 * the durable pending commit; a rotation queued behind the concurrency
 * limit gets its password and escrow envelopes made ahead, the sealing on
 * the thread pool: struct preseal), runs its MariaDB work on the thread pool
 * with copies of everything it needs (struct vd_apply: no json_t, no store
 * access there), and records its outcome back on the loop thread, grouped
 * with the others that ended in the same loop iteration (one fsync).  Up
 * to vd__conc_limit() jobs are on the thread pool at once; as many again
 * may be prepared ahead (pending version committed) and held on
 * rot->held, so a finished job's slot is taken in after_work() at once,
 * not after the next commit (issue 18).  A held job is running in every
 * other respect (busy, joined by waiters, waited for at stop).
 *
 * Drift repair without an admin account (a database restored from backup
 * brings back an older mysql.user row, so an older password): a target
 * whose password is refused is repaired by a rotation, trigger
 * "reconcile", that logs in on each account host with the first password
 * that works there: current, then the pending one (a resolution), then the
 * kept older versions that may have been in force, newest first
 * (vd_versions_older()).  The rotation is an ordinary one: its new version
 * is durable as pending before any probe or change, applied through the
 * session that logged in, verified, promoted.  Drift found by a check or
 * by a rotation's login starts one such rotation (finish()); a resolution
 * (start-up, retries) tries the older versions itself.  Each password is
 * tried at most once per host per run; refused logins are counted across
 * runs (schedule field auth_fails) and kept under half the account's
 * max_password_errors (apply.c caps a run's tries, sched.c holds automatic
 * jobs past it).  When no kept version logs in, the target stays in drift
 * for a person (docs/operations.md, section 8).
 *
 * An outcome that cannot be written (disk full) is not lost: the store
 * still says pending, the entry is resolved again each tick until the
 * record succeeds (unrecorded()), and get serves the version the server
 * was verified to hold meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "apply.h"
#include "daemon.h"
#include "engine.h"
#include "err.h"
#include "escrow.h"
#include "escrowd.h"
#include "log.h"
#include "mem.h"
#include "policy.h"
#include "rotate.h"
#include "state.h"
#include "timing.h"
#include "store.h"
#include "target.h"
#include "util.h"
#include "versions.h"

/*
 * One engine per daemon; vaultd runs one daemon per process, so the
 * pointer lives here rather than in struct vd_daemon.
 */
static struct rot *engine;

#define VD_BATCH_MAX	64	/* jobs recorded or launched in one transaction */

static size_t pump_select(struct rot *, struct qreq **, size_t);
static int prep_batch(struct rot *, struct vd_txn *, struct qreq **, size_t,
    struct job **);
static void run_batch(struct rot *, struct qreq **, size_t, struct job **,
    int);
static void launch_each(struct rot *, struct qreq **, size_t);
static void dispatch_held(struct rot *);
static void qreq_free(struct rot *, struct qreq *);
static void preseal_pump(struct rot *);

static const char *
now_str(char *buf, size_t len)
{
	return vd_time_rfc3339(vd_now(), buf, len);
}

static void
crash_point(struct rot *rot, const char *step)
{
	if (rot->crash[0] != '\0' && strcmp(rot->crash, step) == 0) {
		vd_log(LOG_WARNING, "test crash point %s reached: exiting",
		    step);
		_exit(99);
	}
}

/* The thread pool's part of a job (apply.c). */
static void
work_cb(uv_work_t *w)
{
	vd_apply_run(&container_of(w, struct job, work)->a);
}

/* ---- recording outcomes (loop thread) --------------------------------- */

static void
notify(struct job *j, int err, json_t *res)
{
	struct waiter *w, *next;

	for (w = j->waiters; w != NULL; w = next) {
		next = w->next;
		if (err != 0)
			vd_err_set(err, "%s", j->a.err[0] ? j->a.err :
			    vd_outcome_name(j->a.out));
		w->cb(w->arg, err, res);
		free(w);
	}
	j->waiters = NULL;
}

/*
 * Sets j->repair when drift that j found, with no admin account and no
 * older version tried yet, may be repaired from an older version, and
 * then makes a reconcile due now in the schedule fields sf: finish()
 * starts it at once, and a restart before it ran finds it due.  A
 * reconcile that found drift itself does not start another (no loop): the
 * next try comes with the cadence.
 */
static int
repair_follows(struct vd_txn *t, struct job *j, json_t *sf)
{
	size_t n = 0;
	int r;

	j->repair = 0;
	if (j->a.admin_user != NULL || strcmp(j->trigger, "reconcile") == 0)
		return 0;
	if ((r = vd_versions_older(t, j->name, j->a.cur_v,
	    j->a.new_v, 0, NULL, NULL, &n)) != 0)
		return r;
	if ((j->repair = n > 0)) {
		json_object_set_new(sf, "next_due", json_integer(vd_now()));
		json_object_set_new(sf, "trigger", json_string("reconcile"));
	}
	return 0;
}

/*
 * Records job j's outcome in the caller's write transaction t: version
 * states, history, schedule.  On success *sfp holds the schedule fields
 * written, which apply_sched() mirrors into memory once t has committed.
 */
static int
record_in(struct rot *rot, struct job *j, const json_t *target,
    struct vd_txn *t, json_t **sfp)
{
	struct vd_daemon *d = rot->d;
	struct ent *e = vd__ent_find(rot, j->name);
	json_t *h = NULL, *sf = NULL;
	char ts[VD_TIME_STRLEN];
	const char *res = vd_outcome_name(j->a.out);
	struct vd_target tg;
	int64_t every, now = vd_now();
	long long retries = 0, revealed_v = 0, reveal_due = 0, prior_fails = 0;
	enum vd_tstate was = VD_TS_OK;
	int r = 0, was_drift;

	*sfp = NULL;
	now_str(ts, sizeof(ts));
	/* The record may be gone (removed): its defaults then. */
	(void)vd_target_decode(target, j->name, &tg);
	every = tg.every;
	{
		json_t *s = NULL;

		if (vd_sched_get(t, j->name, &s) == 0) {
			retries = jint(s, "retries", 0);
			revealed_v = jint(s, "revealed_v", 0);
			reveal_due = jint(s, "after_reveal_due", 0);
			prior_fails = jint(s, "auth_fails", 0);
			if (vd_tstate_parse(jstr(s, "state"), &was) != 0)
				was = VD_TS_OK;
			json_decref(s);
		}
	}
	was_drift = was == VD_TS_DRIFT;
	if ((sf = json_object()) == NULL)
		return VD_ENOMEM;
	if (j->a.pwerr_read)
		json_object_set_new(sf, "pw_errors_max", json_integer(
		    j->a.pwerr_max));
	/*
	 * Refused logins vaultd caused since the account last logged in
	 * everywhere (a success resets the server's count): vd__may_start() keeps
	 * the total below the server's max_password_errors.
	 */
	json_object_set_new(sf, "auth_fails", json_integer(j->a.out ==
	    VD_OUT_OK ? 0 : prior_fails + j->a.auth_fails));
	if (j->a.mode == VD_APPLY_CHECK) {
		json_object_set_new(sf, "check_due", json_integer(
		    vd__next_check(rot)));
		if (j->a.out == VD_OUT_OK) {
			json_object_set_new(sf, "last_check", json_integer(now));
			if (was_drift)
				json_object_set_new(sf, "state",
				    json_string(vd_tstate_name(vd_tstate_next(
				    was, j->a.out, 0))));
			goto commit;
		}
		if (j->a.out != VD_OUT_DRIFT) {
			json_object_set_new(sf, "last_error",
			    json_string(j->a.err));
			goto commit;
		}
		if (was_drift)
			goto commit;	/* known already: one entry, not one a
					 * check */
		h = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "version",
		    (json_int_t)j->a.cur_v, "trigger", "check", "result",
		    vd_outcome_name(j->a.out),
		    "started_at", ts, "finished_at", ts, "error", j->a.err);
		if (h == NULL) {
			r = VD_ENOMEM;
			goto fail;
		}
		if ((r = vd_history_append(t, j->name, h, NULL)) != 0 ||
		    (r = repair_follows(t, j, sf)) != 0)
			goto fail;
		json_object_set_new(sf, "state", json_string(vd_tstate_name(
		    vd_tstate_next(was, j->a.out, 0))));
		json_object_set_new(sf, "last_error", json_string(j->a.err));
		goto commit;
	}
	(void)e;

	/* Logged in with an older version somewhere: a repair. */
	if (j->a.repaired)
		snprintf(j->trigger, sizeof(j->trigger), "reconcile");

	/* The history entry of this run, opened by launch(). */
	{
		char st[VD_TIME_STRLEN];

		h = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "version",
		    (json_int_t)j->a.new_v, "trigger", j->trigger, "result",
		    res, "started_at", vd_time_rfc3339(j->started, st,
		    sizeof(st)), "finished_at", ts, "hosts", j->a.summary);
	}
	if (h == NULL) {
		r = VD_ENOMEM;
		goto fail;
	}
	if (j->a.err[0])
		json_object_set_new(h, "error", json_string(j->a.err));
	if (j->a.note[0])
		json_object_set_new(h, "note", json_string(j->a.note));
	if (j->checkout_req > 0)
		json_object_set_new(h, "request", json_integer(
		    j->checkout_req));

	if (j->a.mode == VD_APPLY_ABANDON) {
		/*
		 * Proven held by no row: the pending version was never in
		 * force, so it fails (its password goes at the next prune)
		 * and the current one stands.  Otherwise nothing changes.
		 */
		if (j->a.out == VD_OUT_OK) {
			if ((r = vd_versions_move(t, j->name, j->a.new_v,
			    VD_VE_ABANDON, ts)) != 0)
				goto fail;
			json_object_set_new(sf, "state", json_string(
			    vd_tstate_name(vd_tstate_next(was, j->a.out, 0))));
			json_object_set_new(sf, "retries", json_integer(0));
			json_object_set_new(sf, "last_error", json_null());
			json_object_set_new(sf, "trigger", json_null());
			json_object_set_new(sf, "next_due", json_integer(e ?
			    vd__next_due(e, every) : now + every));
		}
		if ((r = vd_history_update(t, j->name, j->hist_seq, h)) != 0)
			goto fail;
		goto commit;
	}
	switch (j->a.out) {
	case VD_OUT_OK: {
		crash_point(rot, "before-promote");
		if ((r = vd_versions_move(t, j->name, j->a.new_v, VD_VE_PROMOTE,
		    ts)) != 0 ||
		    (r = vd_versions_supersede(t, j->name, j->a.cur_v, j->a.new_v,
		    ts)) != 0)
			goto fail;
		json_object_set_new(sf, "state", json_string(vd_tstate_name(
		    vd_tstate_next(was, j->a.out, 0))));
		json_object_set_new(sf, "retries", json_integer(0));
		json_object_set_new(sf, "last_ok", json_integer(now));
		json_object_set_new(sf, "last_error", json_null());
		json_object_set_new(sf, "trigger", json_null());
		json_object_set_new(sf, "next_due", json_integer(e ?
		    vd__next_due(e, every) : now + every));
		if (revealed_v != 0 && (uint64_t)revealed_v == j->a.new_v) {
			/*
			 * The password now in force was disclosed while it
			 * was pending (get --version, break-glass): its
			 * after-reveal rotation stands.
			 */
			int64_t due = reveal_due > now ? reveal_due : now;

			json_object_set_new(sf, "after_reveal_due",
			    json_integer(due));
			json_object_set_new(sf, "next_due", json_integer(due));
			json_object_set_new(sf, "trigger",
			    json_string("after-reveal"));
		} else
			json_object_set_new(sf, "after_reveal_due",
			    json_null());
		break;
	}
	case VD_OUT_REFUSED:
	case VD_OUT_UNREACHABLE:
	case VD_OUT_DRIFT:
		/*
		 * Nothing was applied when a fresh rotation could not connect
		 * or its first statement was refused: that version is spent.
		 * A pending version being resolved stays pending.
		 */
		if (j->a.mode == VD_APPLY_NEW &&
		    (r = vd_versions_move(t, j->name, j->a.new_v,
		    VD_VE_FAIL, ts)) != 0)
			goto fail;
		/* FALLTHROUGH */
	case VD_OUT_UNCERTAIN:
	case VD_OUT__N: {	/* not an outcome: keep what may be pending */
		long long limit = cfg_ll(d->cfg->retry_limit, 10);
		int64_t delay;

		retries++;
		delay = vd_backoff(cfg_ll(d->cfg->retry_min, 30),
		    cfg_ll(d->cfg->retry_max, 3600), (unsigned)retries);
		if (j->a.out == VD_OUT_UNCERTAIN && retries == 1)
			delay = RESOLVE_DELAY;
		json_object_set_new(sf, "retries", json_integer(retries));
		json_object_set_new(sf, "last_error", json_string(j->a.err));
		json_object_set_new(sf, "trigger", json_string(
		    strcmp(j->trigger, "manual") == 0 ? "retry" : j->trigger));
		json_object_set_new(sf, "state", json_string(vd_tstate_name(
		    vd_tstate_next(was, j->a.out, retries > limit))));
		if (j->a.out == VD_OUT_DRIFT && j->a.admin_user == NULL)
			/*
			 * Nothing to retry with: wait for a person or the
			 * next cadence (or the repair made due below).
			 */
			json_object_set_new(sf, "next_due", json_integer(now +
			    every));
		else if (retries > limit && j->a.out != VD_OUT_UNCERTAIN)
			json_object_set_new(sf, "next_due", json_integer(now +
			    every));
		else
			json_object_set_new(sf, "next_due", json_integer(now +
			    delay));
		break;
	}
	}
	/* After the switch: a repair's due time and trigger win. */
	if (j->a.out == VD_OUT_DRIFT && j->a.nold == 0 &&
	    (r = repair_follows(t, j, sf)) != 0)
		goto fail;
	if ((r = vd_history_update(t, j->name, j->hist_seq, h)) != 0)
		goto fail;
 commit:
	/*
	 * What the jobs learned of the account (after_work()): kept with the
	 * schedule, so a restart does not ask again.
	 */
	if (e != NULL)
		json_object_set_new(sf, "learned_denied", json_integer(
		    (e->role_denied ? 1 : 0) | (e->log_off_denied ? 2 : 0)));
	if ((r = vd_sched_update(t, j->name, sf)) != 0)
		goto fail;
	*sfp = sf;
	sf = NULL;
 fail:
	json_decref(h);
	json_decref(sf);
	return r;
}

/* Mirrors the committed schedule fields sf of job j into its entry. */
static void
apply_sched(struct rot *rot, const struct job *j, const json_t *sf)
{
	struct ent *e = vd__ent_find(rot, j->name);

	if (e == NULL || sf == NULL)
		return;
	e->auth_fails = jint(sf, "auth_fails", e->auth_fails);
	e->pwerr_max = jint(sf, "pw_errors_max", e->pwerr_max);
	if (j->a.mode == VD_APPLY_CHECK) {
		e->check_due = jint(sf, "check_due", e->check_due);
		if (j->a.out == VD_OUT_OK || j->a.out == VD_OUT_DRIFT)
			e->drift = j->a.out == VD_OUT_DRIFT;
		return;
	}
	if (j->a.mode == VD_APPLY_ABANDON)
		e->pending = j->a.out != VD_OUT_OK;
	else
		e->pending = j->a.out == VD_OUT_UNCERTAIN ||
		    (j->a.mode == VD_APPLY_RESOLVE && j->a.out != VD_OUT_OK);
	e->drift = j->a.out == VD_OUT_DRIFT;
	e->unrec_v = 0;		/* recorded: the store says what is true */
	e->unrec_err = 0;
	e->due = jint(sf, "next_due", e->due);
	snprintf(e->trigger, sizeof(e->trigger), "%s",
	    jstr(sf, "trigger") ? jstr(sf, "trigger") : "schedule");
}

static void
job_free(struct job *j)
{
	vd_apply_clear(&j->a);
	free(j);
}

/*
 * Job j's outcome could not be written (disk full, I/O error, map full)
 * after the server may have changed: the vault still says its version is
 * pending, which is the truth it can keep.  The entry resolves it on the
 * next ticks, whatever the window says, until the record succeeds; a
 * version verified on the server is what get serves meanwhile, and status
 * reports the target as unrecorded (critical).  j->a.err tells the waiters.
 */
static void
unrecorded(struct rot *rot, struct job *j, int r, const char *why)
{
	struct ent *e = vd__ent_find(rot, j->name);

	snprintf(j->a.err, sizeof(j->a.err), "%s version %llu on the server, but "
	    "vaultd cannot record it: %.200s; it stays pending and is "
	    "recorded once the data directory allows", j->a.out == VD_OUT_OK ?
	    "verified" : "maybe applied", (unsigned long long)j->a.new_v, why);
	if (e == NULL || e->gone)
		return;
	e->pending = 1;
	e->unrec_err = r;
	if (j->a.out == VD_OUT_OK)
		e->unrec_v = j->a.new_v;
	e->due = vd_now() + 1;
	snprintf(e->trigger, sizeof(e->trigger), "recovery");
}

/* Logs, answers the waiters and releases job j once it is recorded. */
static void
finish(struct rot *rot, struct job *j, int r)
{
	struct ent *e;
	json_t *res;
	int reconcile;

	if (r != 0) {
		char buf[256];

		vd_err_format(r, buf, sizeof(buf));
		vd_log(LOG_CRIT, "%s: cannot record the outcome (%s) of version "
		    "%llu: %s", j->name, vd_outcome_name(j->a.out),
		    (unsigned long long)(j->a.mode == VD_APPLY_CHECK ? j->a.cur_v :
		    j->a.new_v), buf);
		if (j->a.mode != VD_APPLY_CHECK &&
		    j->a.mode != VD_APPLY_ABANDON)
			unrecorded(rot, j, r, buf);
	} else if (j->a.mode == VD_APPLY_ABANDON)
		vd_log(j->a.out == VD_OUT_OK ? LOG_NOTICE : LOG_WARNING,
		    "%s: pending version %llu %s: %s", j->name,
		    (unsigned long long)j->a.new_v, j->a.out == VD_OUT_OK ?
		    "abandoned (no row holds it)" : "not abandoned",
		    j->a.out == VD_OUT_OK ? j->a.summary : j->a.err);
	else if (j->a.out == VD_OUT_OK && j->a.repaired)
		vd_log(LOG_NOTICE, "%s: drift repaired: rotated to version "
		    "%llu (%s); %s: %s", j->name, (unsigned long long)j->a.new_v,
		    j->trigger, j->a.note, j->a.summary);
	else if (j->a.out == VD_OUT_OK)
		vd_log(LOG_NOTICE, "%s: %s version %llu (%s): %s", j->name,
		    j->a.mode == VD_APPLY_CHECK ? "checked" : "rotated to",
		    (unsigned long long)(j->a.mode == VD_APPLY_CHECK ? j->a.cur_v :
		    j->a.new_v), j->trigger, j->a.summary);
	else
		vd_log(j->a.out == VD_OUT_DRIFT ? LOG_ALERT : LOG_WARNING,
		    "%s: %s %s (%s): %s", j->name, j->a.mode == VD_APPLY_CHECK ?
		    "check" : "rotation", vd_outcome_name(j->a.out), j->trigger,
		    j->a.err);
	res = json_pack("{s:s,s:I,s:s,s:s}", "name", j->name, "version",
	    (json_int_t)(j->a.mode == VD_APPLY_CHECK ? j->a.cur_v : j->a.new_v),
	    "result", vd_outcome_name(j->a.out), "hosts", j->a.summary);
	if (r == 0 && j->a.out == VD_OUT_OK)
		notify(j, 0, res);
	else
		notify(j, r != 0 ? r : j->a.out == VD_OUT_DRIFT ? VD_EAUTH : VD_EDB,
		    res);
	/* Drift only once its record holds it. */
	if (r != 0)
		j->a.out = VD_OUT_UNCERTAIN;
	json_decref(res);
	/*
	 * Drift: reset through the admin account, or repair from an older
	 * version (j->repair, see record_in()); once, not by a reconcile.
	 */
	reconcile = j->a.out == VD_OUT_DRIFT && j->a.mode != VD_APPLY_ABANDON &&
	    strcmp(j->trigger, "reconcile") != 0 &&
	    (j->a.admin_user != NULL || j->repair);
	if ((e = vd__ent_find(rot, j->name)) != NULL) {
		e->busy = 0;
		if (e->gone) {
			vd__ent_del(rot, e);
			reconcile = 0;
		}
	} else
		reconcile = 0;
	if (r == 0 && j->a.out == VD_OUT_OK && (j->a.mode == VD_APPLY_NEW ||
	    j->a.mode == VD_APPLY_RESOLVE)) {
		/* Its replicas should take the change: check them soon. */
		for (size_t i = 0; i < rot->nents; i++)
			if (strcmp(rot->ents[i].replica_of, j->name) == 0)
				rot->ents[i].check_due = vd_now() +
				    REPLICA_DELAY;
	}
	if (reconcile && !rot->stopping)
		(void)vd__start_job(rot, j->name, "reconcile", VD_APPLY_NEW, NULL);
	job_free(j);
}

/* The target record as it is now (it may have been removed). */
static json_t *
target_now(struct vd_txn *t, const char *name)
{
	json_t *target = NULL;

	if (vd_target_get(t, name, &target) != 0 || target == NULL)
		target = json_object();
	return target;
}

/* Records and finishes job j in a transaction of its own. */
static void
record_one(struct rot *rot, struct job *j)
{
	struct vd_txn *t = NULL;
	json_t *target = NULL, *sf = NULL;
	int r;

	if ((r = vd_txn_begin(rot->d->st, 1, &t)) == 0) {
		target = target_now(t, j->name);
		if ((r = record_in(rot, j, target, t, &sf)) == 0) {
			r = vd_txn_commit(t);	/* frees t */
			t = NULL;
		}
		vd_txn_abort(t);
		if (r == 0)
			apply_sched(rot, j, sf);
	}
	json_decref(target);
	json_decref(sf);
	finish(rot, j, r);
}

/*
 * Group commit, once per loop iteration (a uv_check handle runs right after
 * the poll phase in which libuv delivered the finished thread-pool jobs):
 * every outcome that arrived in this iteration is recorded in one write
 * transaction, and the queued rotations that take the slots they free are
 * prepared in the same transaction, so one fsync covers both (with jobs
 * in flight finishing one per iteration, the outcome and the next pending
 * version would otherwise cost an fsync each).  Durability is unchanged: a
 * job's waiters hear of it only after its transaction committed, and a
 * new job reaches the thread pool only after its pending version did.  If
 * the batch fails, each outcome is recorded in a transaction of its own
 * and each queued request launched on its own, so one bad record cannot
 * cost the others theirs.
 */
static void
flush_done(uv_check_t *h)
{
	struct rot *rot = h->data;
	struct job *list = rot->done, *j, *next, *jobs[VD_BATCH_MAX];
	struct qreq *qs[VD_BATCH_MAX];
	struct vd_txn *t = NULL;
	json_t *sfs[VD_BATCH_MAX];
	size_t n = 0, nq = 0, i;
	int r;

	uv_check_stop(&rot->flush);
	if (list == NULL)
		return;
	/* At most VD_NELEM(sfs) a batch; the rest waits for the next pass. */
	for (j = list, n = 1; j->next != NULL && n < VD_NELEM(sfs); n++)
		j = j->next;
	rot->done = j->next;
	if (rot->done == NULL)
		rot->done_tail = NULL;
	else if (!rot->flush_closed)
		uv_check_start(&rot->flush, flush_done);
	j->next = NULL;
	memset(sfs, 0, sizeof(sfs));
	memset(jobs, 0, sizeof(jobs));
	if ((r = vd_txn_begin(rot->d->st, 1, &t)) == 0) {
		for (j = list, i = 0; j != NULL && r == 0; j = j->next, i++) {
			json_t *target = target_now(t, j->name);

			r = record_in(rot, j, target, t, &sfs[i]);
			json_decref(target);
		}
		if (r == 0 && !rot->flush_closed && !rot->stopping) {
			nq = pump_select(rot, qs, VD_NELEM(qs));
			if (prep_batch(rot, t, qs, nq, jobs) != 0)
				r = VD_EBUSY;	/* spoiled: one by one */
		}
		if (r == 0) {
			r = vd_txn_commit(t);	/* frees t */
			t = NULL;
		}
		vd_txn_abort(t);
	}
	if (r == 0)
		run_batch(rot, qs, nq, jobs, 0);
	else {
		for (i = 0; i < nq; i++)
			if (jobs[i] != NULL)
				job_free(jobs[i]);
		launch_each(rot, qs, nq);
	}
	for (j = list, i = 0; j != NULL; j = next, i++) {
		next = j->next;
		if (r == 0) {
			apply_sched(rot, j, sfs[i]);
			finish(rot, j, 0);
		} else
			record_one(rot, j);
		json_decref(sfs[i]);
	}
	if (rot->flush_closed && rot->done != NULL)
		flush_done(h);	/* stopping: record the rest now */
	vd__pump(rot);
}

/* Takes job j off rot->running (and out of the count). */
static void
running_unlink(struct rot *rot, struct job *j)
{
	struct job **pp;

	for (pp = &rot->running; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	rot->nrunning--;
}

static void
after_work(uv_work_t *w, int status)
{
	struct job *j = container_of(w, struct job, work);
	struct rot *rot = j->rot;
	struct ent *e = vd__ent_find(rot, j->name);

	running_unlink(rot, j);
	rot->nactive--;
	rot->d->inflight--;
	/* Its slot goes to the oldest job prepared ahead, now. */
	dispatch_held(rot);
	if (e != NULL) {
		/* What the job learned of the account, for the next ones. */
		e->role_denied |= j->a.role_denied;
		e->log_off_denied |= j->a.log_off_denied;
	}
	if (status == UV_ECANCELED) {
		j->a.out = VD_OUT_UNREACHABLE;
		snprintf(j->a.err, sizeof(j->a.err), "cancelled at shutdown");
	}
	if (j->a.mode != VD_APPLY_CHECK)
		crash_point(rot, "after-apply");
	j->next = NULL;
	if (rot->flush_closed) {
		/* Stopping: no batch any more, record it now. */
		record_one(rot, j);
		return;
	}
	if (rot->done_tail != NULL)
		rot->done_tail->next = j;
	else
		rot->done = j;
	rot->done_tail = j;
	uv_check_start(&rot->flush, flush_done);
}

/* ---- sealing ahead (issue 18) ------------------------------------------ */

/* Most queued rotations holding a preseal (passwords in locked memory). */
#define VD_PRESEAL_MAX	16

static void
preseal_free(struct preseal *ps)
{
	if (ps == NULL)
		return;
	vd_secret_free(ps->pw);
	vd_escrow_sealed_free(ps->s);
	free(ps);
}

/* Detaches q's preseal: freed now, or when its work ends. */
static void
preseal_drop(struct rot *rot, struct qreq *q)
{
	struct preseal *ps = q->ps;

	if (ps == NULL)
		return;
	q->ps = NULL;
	rot->npreseal--;
	if (ps->running)
		ps->q = NULL;	/* preseal_done() frees it */
	else
		preseal_free(ps);
}

static void
qreq_free(struct rot *rot, struct qreq *q)
{
	preseal_drop(rot, q);
	free(q);
}

static void
preseal_work(uv_work_t *w)
{
	vd_escrow_seal_compute(container_of(w, struct preseal, work)->s);
}

static void
preseal_done(uv_work_t *w, int status)
{
	struct preseal *ps = container_of(w, struct preseal, work);
	struct rot *rot = ps->rot;

	(void)status;	/* cancelled: s not computed, prep() seals anew */
	ps->running = 0;
	rot->d->inflight--;
	if (ps->q == NULL) {
		preseal_free(ps);
		return;
	}
	preseal_pump(rot);
}

/*
 * Generates the password of queued rotation q and hands its sealing to the
 * thread pool.  Any failure only means prep() does it as before.
 */
static void
preseal_start(struct rot *rot, struct qreq *q)
{
	struct vd_daemon *d = rot->d;
	struct preseal *ps = NULL;
	const struct vd_policy *pol;
	struct vd_txn *t = NULL;
	json_t *target = NULL;
	struct vd_target tg;
	uint64_t cur, pending, last;

	if ((ps = calloc(1, sizeof(*ps))) == NULL ||
	    vd_txn_begin(d->st, 0, &t) != 0 ||
	    vd_target_get(t, q->name, &target) != 0 ||
	    vd_target_decode(target, q->name, &tg) != 0 ||
	    tg.replica_of != NULL ||
	    vd_versions_find(t, q->name, &cur, &pending) != 0 ||
	    cur == 0 || pending != 0 ||
	    vd_version_last(t, q->name, &last) != 0 ||
	    d->cfg->policies == NULL ||
	    (pol = vd_policyset_get(d->cfg->policies, tg.policy)) == NULL)
		goto fail;
	snprintf(ps->policy, sizeof(ps->policy), "%s", tg.policy);
	ps->v = last + 1;
	ps->rot = rot;
	if (vd_policy_generate(pol, &ps->pw) != 0 ||
	    vd_escrowd_seal_prepare(d, q->name, ps->v, ps->pw, &ps->s) != 0 ||
	    ps->s == NULL)
		goto fail;
	vd_txn_abort(t);
	t = NULL;
	json_decref(target);
	target = NULL;
	if (uv_queue_work(d->loop, &ps->work, preseal_work, preseal_done) != 0)
		goto fail;
	ps->running = 1;
	ps->q = q;
	q->ps = ps;
	rot->npreseal++;
	d->inflight++;
	return;
 fail:
	q->ps_failed = 1;	/* (a pending version, a replica, …) */
	vd_txn_abort(t);
	json_decref(target);
	preseal_free(ps);
}

/*
 * Seals ahead for the queued rotations nearest the head, up to
 * VD_PRESEAL_MAX of them; only with escrow parties configured (without
 * them nothing expensive is left to move).  The requests the free slots
 * take at the next vd__pump() (a tick's batch) are left out: prep() would
 * not wait for their sealing and seal them again.
 */
static void
preseal_pump(struct rot *rot)
{
	long long limit = vd__run_capacity(rot);
	size_t seen = 0, skip = limit > (long long)rot->nrunning ?
	    (size_t)(limit - (long long)rot->nrunning) : 0;
	struct qreq *q;

	if (rot->stopping || vd_escrow_cfg_parties(vd_escrowd_cfg()) == 0)
		return;
	for (q = rot->qhead; q != NULL && rot->npreseal < VD_PRESEAL_MAX &&
	    seen < skip + 2 * VD_PRESEAL_MAX; q = q->next, seen++)
		if (seen >= skip && q->ps == NULL && !q->ps_failed &&
		    q->mode == VD_APPLY_NEW)
			preseal_start(rot, q);
}

/* ---- starting jobs (loop thread) -------------------------------------- */


/* Tells every waiter of list w that its request failed with err. */
static void
fail_waiters(struct waiter *w, int err, const char *why)
{
	struct waiter *next;

	for (; w != NULL; w = next) {
		next = w->next;
		vd_err_set(err, "%s", why);
		w->cb(w->arg, err, NULL);
		free(w);
	}
}

static void
free_waiters(struct waiter *w)
{
	struct waiter *next;

	for (; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
}

/* A new job for target name (fields filled by prep()). */
static struct job *
job_new(struct rot *rot, const char *name, const char *trigger,
    enum vd_apply_mode mode)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->rot = rot;
	j->a.mode = mode;
	j->a.pwerr_max = -1;
	j->started = vd_now();
	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->trigger, sizeof(j->trigger), "%s", trigger);
	return j;
}

/* Finds the newest history row of version v still "running". */
struct open_row {
	uint64_t	 v;
	uint64_t	 seq;	/* 0: none */
};

static int
open_row_cb(uint64_t seq, json_t *entry, void *arg)
{
	struct open_row *o = arg;
	const char *res = jstr(entry, "result");

	if ((uint64_t)jint(entry, "version", 0) != o->v)
		return 0;
	if (res != NULL && strcmp(res, "running") == 0)
		o->seq = seq;
	return 1;	/* the newest row of v decides */
}

/*
 * Prepares job j inside transaction t (read-write unless j is a check):
 * reads the target and its passwords and, for a rotation without a pending
 * version, generates the new password and writes it as the pending version
 * with its escrow envelopes and a "running" history entry.  *dirty is set
 * once something was written to t (a failure after that spoils t).
 */
static int
prep(struct rot *rot, struct job *j, struct vd_txn *t, int *dirty)
{
	struct vd_daemon *d = rot->d;
	const char *name = j->name, *trigger = j->trigger;
	json_t *target = NULL, *meta = NULL, *hist = NULL;
	const struct vd_policy *pol;
	char ts[VD_TIME_STRLEN];
	struct { uint64_t cur, pending; } vs;
	struct vd_target tg;
	int64_t checkout_req = 0;	/* the request a checkout end names */
	struct preseal *ps = NULL;	/* j->ps, taken */
	int r;

	*dirty = 0;
	now_str(ts, sizeof(ts));
	if ((r = vd_target_get(t, name, &target)) != 0 ||
	    (r = vd_target_decode(target, name, &tg)) != 0 ||
	    (r = vd_apply_set_target(&j->a, &tg,
	    (unsigned)cfg_ll(d->cfg->connect_timeout, 10))) != 0 ||
	    (r = vd_versions_find(t, name, &vs.cur, &vs.pending)) != 0)
		goto out;
	{
		/* The account's limit a check noted, and the refusals so far. */
		json_t *s = NULL;

		if (vd_sched_get(t, name, &s) == 0) {
			j->a.pwerr_max = jint(s, "pw_errors_max", -1);
			j->a.prior_fails = jint(s, "auth_fails", 0);
			checkout_req = jint(s, "checkout_req", 0);
			json_decref(s);
		}
	}
	if (tg.replica_of != NULL) {
		/*
		 * A replica: only checked, with its primary's password in
		 * force (a pending one there: its rotation is not over).
		 */
		const char *p = tg.replica_of;

		if (j->a.mode != VD_APPLY_CHECK) {
			r = vd_err_set(VD_EINVAL, "target %s is a replica of "
			    "target %s: it takes %s's password changes; rotate "
			    "%s", name, p, p, p);
			goto out;
		}
		if ((r = vd_versions_find(t, p, &vs.cur, &vs.pending)) != 0)
			goto out;
		name = p;
	}
	if (vs.cur == 0) {
		r = vd_err_set(VD_ENOTFOUND, "target %s has no current "
		    "version", name);
		goto out;
	}
	j->a.cur_v = vs.cur;
	if ((r = vd_secret_get(t, name, vs.cur, &j->a.cur_pw)) != 0)
		goto out;
	if (j->a.admin_user != NULL &&
	    (r = vd_admin_secret_get(t, name, &j->a.admin_pw)) != 0) {
		vd_err_set(r, "target %s: no password stored for its admin "
		    "account", name);
		goto out;
	}
	if (j->a.mode == VD_APPLY_CHECK) {
		if (vs.pending != 0)
			r = vd_err_set(VD_EBUSY, "target %s has a pending "
			    "version %llu: resolve it first (vaultctl rotate "
			    "%s), or abandon it (vaultctl target abandon %s)",
			    name, (unsigned long long)vs.pending, name, name);
		goto out;
	}
	if (j->a.mode == VD_APPLY_ABANDON && vs.pending == 0) {
		r = vd_err_set(VD_ENOTFOUND, "target %s has no pending version",
		    name);
		goto out;
	}
	if (vs.pending != 0) {
		/* Never generate anew for a version that may be in force. */
		if (j->a.mode != VD_APPLY_ABANDON)
			j->a.mode = VD_APPLY_RESOLVE;
		j->a.new_v = vs.pending;
		if ((r = vd_secret_get(t, name, vs.pending, &j->a.new_pw)) != 0)
			goto out;
	} else {
		if (d->cfg->policies == NULL || (pol = vd_policyset_get(
		    d->cfg->policies, tg.policy)) == NULL) {
			r = vd_err_set(VD_EPOLICY, "target %s: policy %s is not "
			    "configured", name, tg.policy);
			goto out;
		}
		if ((r = vd_version_last(t, name, &j->a.new_v)) != 0)
			goto out;
		j->a.new_v++;
		/* Sealed ahead on the thread pool: take it if it still fits. */
		if (j->ps != NULL && j->ps->pw != NULL &&
		    j->ps->v == j->a.new_v &&
		    strcmp(j->ps->policy, tg.policy) == 0) {
			j->a.new_pw = j->ps->pw;
			j->ps->pw = NULL;
			ps = j->ps;
			rot->sealed_ahead++;
		} else if ((r = vd_policy_generate(pol, &j->a.new_pw)) != 0)
			goto out;
		meta = json_pack("{s:s,s:s,s:s,s:s}", "state",
		    vd_vstate_name(VD_VS_PENDING),
		    "trigger", trigger, "created_at", ts, "policy", tg.policy);
		if (meta == NULL) {
			r = VD_ENOMEM;
			goto out;
		}
		/*
		 * The envelopes commit with the version itself: a password
		 * that may reach the server is always recoverable offline.
		 */
		*dirty = 1;
		if ((r = vd_secret_put(t, name, j->a.new_v, j->a.new_pw)) != 0 ||
		    (r = vd_version_put(t, name, j->a.new_v, meta)) != 0 ||
		    (r = vd_escrowd_seal_store(d, t, name, j->a.new_v,
		    j->a.new_pw, ps != NULL ? ps->s : NULL)) != 0)
			goto out;
	}
	/*
	 * Without an admin account, a resolution (its versions may not log
	 * in: drift found at start-up) and a reconcile can repair drift with
	 * an older version: load them, and the server's limit on failed
	 * logins a check noted.
	 */
	if (j->a.admin_user == NULL && (j->a.mode == VD_APPLY_RESOLVE ||
	    strcmp(trigger, "reconcile") == 0) &&
	    (r = vd_versions_older(t, name, j->a.cur_v, j->a.new_v,
	    VD_KEEP_VERSIONS, j->a.old_v, j->a.old_pw, &j->a.nold)) != 0)
		goto out;
	hist = json_pack("{s:I,s:s,s:s,s:s}", "version", (json_int_t)j->a.new_v,
	    "trigger", j->a.mode == VD_APPLY_RESOLVE && strcmp(trigger, "manual") != 0
	    && strcmp(trigger, "reconcile") != 0 ? "recovery" : trigger,
	    "result", "running", "started_at", ts);
	if (hist == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	/* A checkout's end: its request beside the rotation (issue 17). */
	if (checkout_req > 0 && vd_checkout_end_trigger(trigger)) {
		j->checkout_req = checkout_req;
		json_object_set_new(hist, "request", json_integer(
		    checkout_req));
	}
	if (j->a.mode == VD_APPLY_RESOLVE)
		snprintf(j->trigger, sizeof(j->trigger), "%s",
		    jstr(hist, "trigger"));
	/*
	 * A resolution finishes the run that left its version pending (a
	 * crash, a record that failed): that run's history row, still
	 * "running", gets the outcome instead of a second row.
	 */
	if (j->a.mode == VD_APPLY_RESOLVE) {
		struct open_row o = { j->a.new_v, 0 };

		if ((r = vd_history_each(t, name, 0, 4, open_row_cb, &o)) < 0)
			goto out;
		if ((j->hist_seq = o.seq) != 0) {
			r = 0;
			goto out;
		}
	}
	*dirty = 1;
	r = vd_history_append(t, name, hist, &j->hist_seq);
 out:
	json_decref(target);
	json_decref(meta);
	json_decref(hist);
	return r;
}

/* Logs why job j did not start and frees it. */
static void
not_started(struct job *j, int r)
{
	char buf[300];

	vd_err_format(r, buf, sizeof(buf));
	vd_log(LOG_WARNING, "%s: %s not started: %s", j->name,
	    j->a.mode == VD_APPLY_CHECK ? "check" : "rotation", buf);
	job_free(j);
}

/* Hands job j (on rot->running) to the thread pool.  Returns 0 or a
 * libuv error. */
static int
queue_job(struct rot *rot, struct job *j)
{
	int r;

	if ((r = uv_queue_work(rot->d->loop, &j->work, work_cb,
	    after_work)) == 0)
		rot->nactive++;
	return r;
}

/*
 * Job j (on rot->running) could not be queued (libuv error r): unwinds it
 * (after_work() will not run; its committed pending version is resolved
 * like any other) and frees it.  The caller keeps or fails the waiters.
 */
static void
unqueued(struct rot *rot, struct job *j, int r)
{
	struct ent *e = vd__ent_find(rot, j->name);

	running_unlink(rot, j);
	rot->d->inflight--;
	if (e != NULL)
		e->busy = 0;
	r = vd_err_set(VD_ENOMEM, "cannot queue work: %s", uv_strerror(r));
	not_started(j, r);
}

/* Queues held jobs, oldest first, while thread-pool slots are free. */
static void
dispatch_held(struct rot *rot)
{
	struct job *j;
	int r;

	while ((j = rot->held) != NULL &&
	    rot->nactive < (unsigned)vd__conc_limit(rot)) {
		rot->held = j->hnext;
		if (rot->held == NULL)
			rot->held_tail = NULL;
		j->hnext = NULL;
		if ((r = queue_job(rot, j)) != 0) {
			fail_waiters(j->waiters, VD_ENOMEM, "cannot queue work");
			j->waiters = NULL;
			unqueued(rot, j, r);
		}
	}
}

/*
 * Hands prepared (and, for a rotation, committed) job j to the thread
 * pool.  On success takes the waiters *wp (may be NULL).  On failure frees
 * j and leaves the waiters to the caller.
 */
static int
run_job(struct rot *rot, struct job *j, struct waiter **wp)
{
	struct vd_daemon *d = rot->d;
	struct ent *e;
	int r;

	if ((e = vd__ent_find(rot, j->name)) != NULL) {
		e->busy = 1;
		if (j->a.mode != VD_APPLY_CHECK)
			e->pending = 1;
		j->a.skip_role = e->role_denied;
		j->a.skip_log_off = e->log_off_denied;
	}
	j->next = rot->running;
	rot->running = j;
	rot->nrunning++;
	d->inflight++;
	if (rot->nactive >= (unsigned)vd__conc_limit(rot)) {
		/* Prepared ahead: held until a slot frees (after_work()). */
		j->hnext = NULL;
		if (rot->held_tail != NULL)
			rot->held_tail->hnext = j;
		else
			rot->held = j;
		rot->held_tail = j;
	} else if ((r = queue_job(rot, j)) != 0) {
		unqueued(rot, j, r);
		return r;
	}
	if (wp != NULL) {
		j->waiters = *wp;
		*wp = NULL;
	}
	return 0;
}

/*
 * Prepares and runs one job for target name.  A rotation's pending
 * version is committed (durable) before its work is queued.  On success
 * takes the waiters *wp (sets it NULL); on failure leaves them to the
 * caller.
 */
static int
launch(struct rot *rot, const char *name, const char *trigger,
    enum vd_apply_mode mode, struct waiter **wp)
{
	struct vd_txn *t = NULL;
	struct job *j;
	int r, dirty;

	if ((j = job_new(rot, name, trigger, mode)) == NULL)
		return VD_ENOMEM;
	if ((r = vd_txn_begin(rot->d->st, mode != VD_APPLY_CHECK, &t)) != 0 ||
	    (r = prep(rot, j, t, &dirty)) != 0) {
		vd_txn_abort(t);
		not_started(j, r);
		return r;
	}
	if (j->a.mode == VD_APPLY_CHECK)
		vd_txn_abort(t);
	else {
		/* Durable before anything touches the server. */
		if ((r = vd_txn_commit(t)) != 0) {
			not_started(j, r);
			return r;
		}
		crash_point(rot, "after-pending");
	}
	return run_job(rot, j, wp);
}

/*
 * Prepares the n queued requests qs into write transaction t, jobs[i] for
 * qs[i].  A request that fails before writing anything fails alone (its
 * waiters answered, qs[i]->name emptied, jobs[i] NULL).  Returns 0, or -1
 * when a failure after writing spoiled t: then every job is freed and t
 * must be aborted.
 */
static int
prep_batch(struct rot *rot, struct vd_txn *t, struct qreq **qs, size_t n,
    struct job **jobs)
{
	int r, dirty = 0;

	for (size_t i = 0; i < n; i++) {
		if ((jobs[i] = job_new(rot, qs[i]->name, qs[i]->trigger,
		    qs[i]->mode)) == NULL) {
			r = VD_ENOMEM;
			dirty = 1;	/* cannot tell: start over */
		} else {
			/* One still on the thread pool is not waited for. */
			if (qs[i]->ps != NULL && !qs[i]->ps->running)
				jobs[i]->ps = qs[i]->ps;
			r = prep(rot, jobs[i], t, &dirty);
			jobs[i]->ps = NULL;
		}
		if (r == 0)
			continue;
		if (dirty) {
			for (size_t k = 0; k < n; k++)
				if (jobs[k] != NULL) {
					job_free(jobs[k]);
					jobs[k] = NULL;
				}
			return -1;
		}
		fail_waiters(qs[i]->waiters, r, vd_err_detail());
		qs[i]->waiters = NULL;
		qs[i]->name[0] = '\0';	/* answered: not to be retried */
		not_started(jobs[i], r);
		jobs[i] = NULL;
	}
	return 0;
}

/*
 * After the transaction holding the pending versions of jobs[0..n)
 * committed (commit result r): hands them to the thread pool, or, when the
 * commit failed, tells their waiters.  Frees the requests.
 */
static void
run_batch(struct rot *rot, struct qreq **qs, size_t n, struct job **jobs,
    int r)
{
	if (r == 0)
		crash_point(rot, "after-pending");
	for (size_t i = 0; i < n; i++) {
		if (jobs[i] != NULL && r != 0) {
			fail_waiters(qs[i]->waiters, r, vd_strerror(r));
			qs[i]->waiters = NULL;
			not_started(jobs[i], r);
		} else if (jobs[i] != NULL && run_job(rot, jobs[i],
		    &qs[i]->waiters) != 0) {
			fail_waiters(qs[i]->waiters, VD_ENOMEM,
			    vd_err_detail());
			qs[i]->waiters = NULL;
		}
		qreq_free(rot, qs[i]);
	}
}

/* Launches each of the n requests qs on its own; frees them. */
static void
launch_each(struct rot *rot, struct qreq **qs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (qs[i]->name[0] != '\0' && launch(rot, qs[i]->name,
		    qs[i]->trigger, qs[i]->mode, &qs[i]->waiters) != 0) {
			fail_waiters(qs[i]->waiters, VD_EBUSY, vd_err_detail());
			qs[i]->waiters = NULL;
		}
		qreq_free(rot, qs[i]);
	}
}

/*
 * Launches the n queued requests qs in one write transaction (one fsync
 * for all their pending versions).  Requests that fail before writing
 * anything fail alone; a failure after writing spoils the transaction,
 * and then each request is launched on its own.  Frees the requests.
 */
static void
launch_batch(struct rot *rot, struct qreq **qs, size_t n)
{
	struct job *jobs[VD_BATCH_MAX];
	struct vd_txn *t = NULL;
	int r;

	memset(jobs, 0, sizeof(jobs));
	if (n > VD_NELEM(jobs) || vd_txn_begin(rot->d->st, 1, &t) != 0 ||
	    prep_batch(rot, t, qs, n, jobs) != 0) {
		vd_txn_abort(t);
		launch_each(rot, qs, n);
		return;
	}
	r = vd_txn_commit(t);	/* frees t */
	run_batch(rot, qs, n, jobs, r);
}

/*
 * Starts a job now, joins one running for the same target, or queues it
 * behind the concurrency limit.  On success takes the waiters *wp (sets it
 * NULL); on failure leaves them to the caller.
 */
int
vd__start_job(struct rot *rot, const char *name, const char *trigger,
    enum vd_apply_mode mode, struct waiter **wp)
{
	struct ent *e = vd__ent_find(rot, name);
	struct waiter *w = wp ? *wp : NULL;
	struct qreq *q;
	long long limit = vd__run_capacity(rot);

	if (rot->stopping)
		return vd_err_set(VD_EBUSY, "vaultd is shutting down");
	if (e != NULL && (e->busy || e->queued)) {
		/* Join: the running (or queued) job's outcome answers. */
		struct job *j;

		for (j = rot->running; j != NULL; j = j->next)
			if (strcmp(j->name, name) == 0 && j->a.mode != VD_APPLY_CHECK)
				break;
		if (j != NULL) {
			if (w != NULL) {
				w->next = j->waiters;
				j->waiters = w;
				*wp = NULL;
			}
			return 0;
		}
		for (q = rot->qhead; q != NULL; q = q->next)
			if (strcmp(q->name, name) == 0) {
				if (q->mode == VD_APPLY_CHECK) {
					q->mode = mode;	/* upgrade */
					snprintf(q->trigger,
					    sizeof(q->trigger), "%s", trigger);
				}
				if (w != NULL) {
					w->next = q->waiters;
					q->waiters = w;
					*wp = NULL;
				}
				return 0;
			}
		/* A check is running: queue behind it. */
		goto enqueue;
	}
	if (rot->nrunning < limit && !rot->defer)
		return launch(rot, name, trigger, mode, wp);
 enqueue:
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return VD_ENOMEM;
	snprintf(q->name, sizeof(q->name), "%s", name);
	snprintf(q->trigger, sizeof(q->trigger), "%s", trigger);
	q->mode = mode;
	q->waiters = w;
	if (wp != NULL)
		*wp = NULL;
	if (rot->qtail)
		rot->qtail->next = q;
	else
		rot->qhead = q;
	rot->qtail = q;
	if (e != NULL)
		e->queued = 1;
	preseal_pump(rot);
	return 0;
}

/*
 * Takes the queued requests that may start now into batch (at most max,
 * within the concurrency limit) off the queue; returns how many.
 */
static size_t
pump_select(struct rot *rot, struct qreq **batch, size_t max)
{
	long long limit = vd__run_capacity(rot);
	struct qreq *q, **pp = &rot->qhead, *prev = NULL;
	size_t n = 0;

	while ((q = *pp) != NULL && rot->nrunning + n < (size_t)limit &&
	    n < max && !rot->stopping) {
		struct ent *e = vd__ent_find(rot, q->name);

		if (e != NULL && e->busy) {
			prev = q;
			pp = &q->next;
			continue;	/* its target is still busy */
		}
		if (e != NULL && q->waiters == NULL && q->mode != VD_APPLY_CHECK &&
		    vd__may_start(rot, e, q->trigger, vd_now()) != 0) {
			/*
			 * Queued while it could start; the window closed, a
			 * pause or drift came since: the tick starts it again
			 * when it may.
			 */
			*pp = q->next;
			if (rot->qtail == q)
				rot->qtail = prev;
			e->queued = 0;
			qreq_free(rot, q);
			continue;
		}
		*pp = q->next;
		if (rot->qtail == q)
			rot->qtail = prev;
		if (e != NULL) {
			e->queued = 0;
			e->busy = 1;	/* until launched: no duplicates */
		}
		q->next = NULL;
		batch[n++] = q;
	}
	for (size_t i = 0; i < n; i++) {
		struct ent *e = vd__ent_find(rot, batch[i]->name);

		if (e != NULL)
			e->busy = 0;	/* run_job() sets it again */
	}
	return n;
}

/* Starts queued requests while slots are free, in one batch. */
void
vd__pump(struct rot *rot)
{
	struct qreq *q, *batch[VD_BATCH_MAX];
	size_t n = pump_select(rot, batch, VD_NELEM(batch));

	if (n == 1) {
		q = batch[0];
		if (launch(rot, q->name, q->trigger, q->mode, &q->waiters) != 0)
			fail_waiters(q->waiters, VD_EBUSY, vd_err_detail());
		qreq_free(rot, q);
	} else if (n > 1)
		launch_batch(rot, batch, n);
	preseal_pump(rot);
}

/* ---- public ----------------------------------------------------------- */

int
vd_rotate_start(struct vd_daemon *d)
{
	struct rot *rot = engine;
	struct load_ctx lc;
	const char *crash;
	int r;

	if (rot != NULL)
		return 0;
	if ((rot = calloc(1, sizeof(*rot))) == NULL)
		return VD_ENOMEM;
	rot->d = d;
	/*
	 * The pool's size as libuv reads it at its first use (main.c sets
	 * UV_THREADPOOL_SIZE to the concurrency + 2 unless the environment
	 * has it; libuv's default is 4): vd__conc_limit() keeps two threads
	 * free for target.add, unseal and name lookups.
	 */
	{
		/* libuv: atoi() into an unsigned; 0 is 1, at most 1024. */
		const char *ps = getenv("UV_THREADPOOL_SIZE");
		long long n = ps != NULL ? strtoll(ps, NULL, 10) : 4;

		rot->pool = n == 0 ? 1 : n < 0 || n > 1024 ? 1024 : n;
	}
	if ((crash = getenv(VD_ROTATE_CRASH_ENV)) != NULL)
		snprintf(rot->crash, sizeof(rot->crash), "%s", crash);
	if ((r = vd_apply_init()) != 0)
		goto fail;
	if ((r = vd_escrowd_load(d, 0)) != 0)
		vd_log(LOG_WARNING, "escrow is not in force: new versions are "
		    "not escrowed until [escrow] is fixed");
	memset(&lc, 0, sizeof(lc));
	lc.rot = rot;
	lc.now = vd_now();
	if ((r = vd_txn_begin(d->st, 0, &lc.t)) != 0)
		goto fail;
	r = vd_target_each(lc.t, vd__load_cb, &lc);
	vd_txn_abort(lc.t);
	if (r != 0)
		goto fail;
	vd__persist_new(rot);
	uv_check_init(d->loop, &rot->flush);
	rot->flush.data = rot;
	uv_timer_init(d->loop, &rot->timer);
	rot->timer.data = rot;
	uv_timer_start(&rot->timer, vd__tick, 0, 0);	/* vd__tick() re-arms itself */
	engine = rot;
	vd_log(LOG_INFO, "scheduler started: %zu targets, %zu overdue",
	    rot->nents, lc.overdue);
	vd_store_release_pages(d->st);	/* the load touched every record */
	return 0;
 fail:
	vd_escrowd_end();
	free(rot->ents);
	free(rot);
	return r;
}

static void
timer_closed(uv_handle_t *h)
{
	struct rot *rot = h->data;

	/* Jobs still running hold rot; the last one frees nothing more. */
	(void)rot;
}

void
vd_rotate_stop(struct vd_daemon *d)
{
	struct rot *rot = engine;
	struct qreq *q, *next;
	struct ent *e;

	if (rot == NULL || rot->stopping)
		return;
	rot->stopping = 1;
	uv_timer_stop(&rot->timer);
	uv_close((uv_handle_t *)&rot->timer, timer_closed);
	rot->flush_closed = 1;
	flush_done(&rot->flush);	/* record the outcomes already in */
	uv_close((uv_handle_t *)&rot->flush, NULL);
	for (q = rot->qhead; q != NULL; q = next) {
		next = q->next;
		fail_waiters(q->waiters, VD_EBUSY, "vaultd is shutting down");
		if ((e = vd__ent_find(rot, q->name)) != NULL)
			e->queued = 0;
		qreq_free(rot, q);
	}
	rot->qhead = rot->qtail = NULL;
	vd_log(LOG_INFO, "scheduler stopped; %u rotations finishing; %llu "
	    "versions were sealed to escrow ahead, on the thread pool",
	    rot->nrunning, rot->sealed_ahead);
}

void
vd_rotate_notify(struct vd_daemon *d, const char *target)
{
	struct rot *rot = engine;
	struct vd_txn *t = NULL;
	json_t *tr = NULL, *sched = NULL;
	struct ent *e;
	int r;

	if (rot == NULL || !vd_name_valid(target))
		return;
	if (vd_txn_begin(d->st, 0, &t) != 0)
		return;
	r = vd_target_get(t, target, &tr);
	if (r == VD_ENOTFOUND) {
		if ((e = vd__ent_find(rot, target)) != NULL) {
			if (e->busy)
				e->gone = 1;
			else
				vd__ent_del(rot, e);
		}
		goto out;
	}
	if (r != 0)
		goto out;
	if ((e = vd__ent_add(rot, target)) == NULL)
		goto out;
	e->gone = 0;
	if (vd_sched_get(t, target, &sched) != 0)
		sched = NULL;
	/*
	 * What the target's rotations learned of its account comes with the
	 * schedule (learned_denied), which target set clears in the same
	 * transaction as the record: a changed account is asked afresh.
	 */
	vd__ent_load(rot, e, tr, sched);
	if (!e->busy) {
		uint64_t cur, pending;

		/* set-password may have superseded a pending version. */
		if (vd_versions_find(t, target, &cur, &pending) == 0)
			e->pending = pending != 0;
		if (!e->pending)
			e->unrec_v = 0;
	}
 out:
	vd_txn_abort(t);
	json_decref(tr);
	json_decref(sched);
	vd__persist_new(rot);
}

int
vd_rotate_reload(struct vd_daemon *d)
{
	struct qreq *q;
	int r;

	if (engine == NULL)
		return 0;	/* sealed: loaded when the engine starts */
	/*
	 * Passwords generated (policies) and sealed (parties) under the old
	 * configuration: dropped, and made again under the new one.
	 */
	for (q = engine->qhead; q != NULL; q = q->next) {
		preseal_drop(engine, q);
		q->ps_failed = 0;
	}
	r = vd_escrowd_load(d, 1);
	preseal_pump(engine);
	if (cfg_ll(d->cfg->concurrency, 4) > vd__conc_limit(engine))
		vd_log(LOG_WARNING, "[rotation] concurrency = %lld: %lld at "
		    "once until vaultd restarts (the thread pool was sized "
		    "at start)", cfg_ll(d->cfg->concurrency, 4),
		    vd__conc_limit(engine));
	return r;
}

unsigned
vd_rotate_running(const struct vd_daemon *d)
{
	/* On the thread pool: talking to servers, at most the concurrency. */
	return engine != NULL ? engine->nactive : 0;
}

unsigned
vd_rotate_prepared(const struct vd_daemon *d)
{
	return engine != NULL ? engine->nrunning - engine->nactive : 0;
}

/*
 * The public requests' common part: finds target's entry (loading one added
 * a moment ago) and starts (or joins, or queues) a job of mode with trigger,
 * cb (may be NULL) hearing its outcome.  A replica is refused a rotation;
 * with idle, a target whose job runs or waits is refused (VD_EBUSY).
 */
static int
request(struct vd_daemon *d, const char *target, const char *trigger,
    enum vd_apply_mode mode, int idle, vd_rotate_cb cb, void *arg)
{
	struct rot *rot = engine;
	struct waiter *w = NULL;
	struct ent *e;
	int r;

	if (rot == NULL)
		return vd_err_set(VD_ESEALED, "the rotation engine starts once "
		    "the vault is unsealed");
	if (!vd_name_valid(target))
		return vd_err_set(VD_ENOTFOUND, "no such target");
	if (vd__ent_find(rot, target) == NULL)
		vd_rotate_notify(d, target);	/* added a moment ago? */
	if ((e = vd__ent_find(rot, target)) == NULL)
		return vd_err_set(VD_ENOTFOUND, "no such target");
	if (mode == VD_APPLY_NEW && e->replica_of[0] != '\0')
		return vd_err_set(VD_EINVAL, "target %s is a replica of target "
		    "%s: it takes %s's password changes; rotate %s", target,
		    e->replica_of, e->replica_of, e->replica_of);
	if (idle && (e->busy || e->queued))
		return vd_err_set(VD_EBUSY, "a rotation of %s is running; "
		    "wait for it to end and try again", target);
	if (cb != NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			return VD_ENOMEM;
		w->cb = cb;
		w->arg = arg;
	}
	r = vd__start_job(rot, target, trigger, mode, &w);
	free_waiters(w);	/* not taken: the caller answers from r */
	return r;
}

int
vd_rotate_request(struct vd_daemon *d, const char *target,
    const char *trigger, vd_rotate_cb cb, void *arg)
{
	return request(d, target, trigger, VD_APPLY_NEW, 0, cb, arg);
}

int
vd_rotate_check(struct vd_daemon *d, const char *target, vd_rotate_cb cb,
    void *arg)
{
	return request(d, target, "check", VD_APPLY_CHECK, 0, cb, arg);
}

int
vd_rotate_busy(const struct vd_daemon *d, const char *target)
{
	struct ent *e;

	if (engine == NULL || (e = vd__ent_find(engine, target)) == NULL)
		return 0;
	return e->busy;
}

int
vd_rotate_abandon(struct vd_daemon *d, const char *target, vd_rotate_cb cb,
    void *arg)
{
	return request(d, target, "abandon", VD_APPLY_ABANDON, 1, cb, arg);
}

int
vd_rotate_join(struct vd_daemon *d, const char *target, vd_rotate_cb cb,
    void *arg)
{
	struct rot *rot = engine;
	struct ent *e;
	struct waiter *w;
	struct job *j;

	(void)d;
	if (rot == NULL || rot->stopping || (e = vd__ent_find(rot, target)) ==
	    NULL)
		return 0;
	if (e->replica_of[0] != '\0') {
		/* Its password in force is its primary's. */
		target = e->replica_of;
		if ((e = vd__ent_find(rot, target)) == NULL)
			return 0;
	}
	for (j = rot->running; j != NULL; j = j->next)
		if (j->a.mode != VD_APPLY_CHECK && strcmp(j->name, target) == 0)
			break;
	if (j == NULL && (!e->pending || e->drift))
		return 0;	/* drift: no login a person did not ask for */
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return VD_ENOMEM;
	w->cb = cb;
	w->arg = arg;
	if (j != NULL) {
		w->next = j->waiters;
		j->waiters = w;
		return 1;
	}
	/*
	 * A pending version and no job: which password is in force is not
	 * known until it is resolved; resolve it now (joins a queued one).
	 */
	if (vd__start_job(rot, target, "recovery", VD_APPLY_NEW, &w) != 0) {
		free_waiters(w);
		return 0;
	}
	free_waiters(w);	/* NULL once taken */
	return 1;
}

uint64_t
vd_rotate_in_force(const struct vd_daemon *d, const char *target,
    int *unrec_err)
{
	struct ent *e;

	(void)d;
	if (unrec_err != NULL)
		*unrec_err = 0;
	if (engine == NULL || (e = vd__ent_find(engine, target)) == NULL)
		return 0;
	if (unrec_err != NULL && e->pending)
		*unrec_err = e->unrec_err;
	return e->unrec_v;
}
