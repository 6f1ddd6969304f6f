/*
 * sched.c - the rotation engine's scheduler (engine.h): one entry per
 * target, mirrored from its schedule record (the store is the truth, memory
 * is the index); when a rotation or drift check is due, and whether it may
 * start now (window, pause, the login budget against max_password_errors);
 * the tick that starts them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkout.h"
#include "engine.h"
#include "escrowd.h"
#include "err.h"
#include "log.h"
#include "state.h"
#include "store.h"
#include "target.h"
#include "util.h"
#include "versions.h"

/* The drift check period, and the next check time from now. */
static int64_t
check_every(const struct rot *rot)
{
	return cfg_ll(rot->d->cfg->check_interval, CHECK_EVERY_DEFAULT);
}

/*
 * Jobs that may run at once: the configured concurrency, but never more
 * than the thread pool (sized once, at start) can run beside the two
 * threads target.add and unseal need.  A SIGHUP that raises concurrency
 * past it takes effect at the next start (vd_rotate_reload() says so).
 */
long long
vd__conc_limit(const struct rot *rot)
{
	long long want = cfg_ll(rot->d->cfg->concurrency, 4);
	long long room = rot->pool > 3 ? rot->pool - 2 : 1;

	return want < room ? want : room;
}

/*
 * Jobs that may be in flight: the limit on the thread pool, and as many
 * again prepared ahead (their pending versions committed, held until a
 * slot frees: rotate.c run_job()), so a finished job's slot is taken at
 * once instead of after the next commit.
 */
long long
vd__run_capacity(const struct rot *rot)
{
	return 2 * vd__conc_limit(rot);
}

int64_t
vd__next_check(const struct rot *rot)
{
	int64_t every = check_every(rot), span = every / 10;

	return vd_now() + every + vd_jitter(span < JITTER_MAX ? span :
	    JITTER_MAX);
}

static int
ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name,
	    ((const struct ent *)b)->name);
}

struct ent *
vd__ent_find(struct rot *rot, const char *name)
{
	struct ent key;

	if (rot->nents == 0 || strlen(name) > VD_NAME_MAX)
		return NULL;
	snprintf(key.name, sizeof(key.name), "%s", name);
	return bsearch(&key, rot->ents, rot->nents, sizeof(*rot->ents),
	    ent_cmp);
}

/* Inserts (or finds) name's entry, keeping the array sorted. */
struct ent *
vd__ent_add(struct rot *rot, const char *name)
{
	struct ent *e;
	size_t lo = 0, hi = rot->nents;

	if ((e = vd__ent_find(rot, name)) != NULL)
		return e;
	if (rot->nents == rot->cap) {
		size_t ncap = rot->cap ? rot->cap * 2 : 64;
		struct ent *n = realloc(rot->ents, ncap * sizeof(*n));

		if (n == NULL)
			return NULL;
		rot->ents = n;
		rot->cap = ncap;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(rot->ents[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&rot->ents[lo + 1], &rot->ents[lo],
	    (rot->nents - lo) * sizeof(*rot->ents));
	rot->nents++;
	e = &rot->ents[lo];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	return e;
}

void
vd__ent_del(struct rot *rot, struct ent *e)
{
	size_t i = (size_t)(e - rot->ents);

	memmove(e, e + 1, (rot->nents - i - 1) * sizeof(*e));
	rot->nents--;
}

/* ---- schedule computation -------------------------------------------- */

/* Loads the entry's schedule from the target and schedule records. */
void
vd__ent_load(struct rot *rot, struct ent *e, const json_t *target,
    const json_t *sched)
{
	int64_t now = vd_now(), every, after_due;
	struct vd_target t;

	/* A record without a user still gets a schedule (its jobs fail). */
	(void)vd_target_decode(target, e->name, &t);
	e->win = t.win;
	every = t.every;
	e->due = jint(sched, "next_due", 0);
	snprintf(e->trigger, sizeof(e->trigger), "%s",
	    jstr(sched, "trigger") ? jstr(sched, "trigger") : "schedule");
	e->unsaved = 0;
	if (e->due == 0) {
		/*
		 * Never scheduled: one cadence from now, with the jitter a
		 * rotation gets (targets added in bulk do not all fall due
		 * in the same second), stored at once so that restarts do
		 * not keep pushing it back.
		 */
		int64_t span = every / 10 < JITTER_MAX ? every / 10 :
		    JITTER_MAX;

		e->due = jint(sched, "last_ok", 0);
		e->due = (e->due ? e->due : now) + every + vd_jitter(span);
		e->unsaved = 1;
	} else if (e->due > now + every + JITTER_MAX) {
		/*
		 * Further away than a cadence can put it (a clock that
		 * jumped back, an edited or corrupt record): not trusted.
		 */
		vd_log(LOG_WARNING, "%s: stored next rotation is %lld s away, "
		    "beyond its cadence: rotating one cadence from now",
		    e->name, (long long)(e->due - now));
		e->due = now + every;
		e->unsaved = 1;
	}
	{
		enum vd_tstate ts;

		e->drift = vd_tstate_parse(jstr(sched, "state"), &ts) == 0 &&
		    ts == VD_TS_DRIFT;
	}
	e->checked_out = json_is_object(json_object_get(sched, "checkout"));
	e->auth_fails = jint(sched, "auth_fails", 0);
	e->pwerr_max = jint(sched, "pw_errors_max", -1);
	{
		/* What earlier jobs learned of the account (record_in()). */
		long long d = jint(sched, "learned_denied", 0);

		e->role_denied = (d & 1) != 0;
		e->log_off_denied = (d & 2) != 0;
	}
	snprintf(e->replica_of, sizeof(e->replica_of), "%s",
	    t.replica_of ? t.replica_of : "");
	if (e->replica_of[0] != '\0') {
		/* Its passwords come with its primary's rotations. */
		e->due = 0;
		e->unsaved = 0;
	}
	after_due = jint(sched, "after_reveal_due", 0);
	if (after_due > 0 && after_due > jint(sched, "last_ok", 0) &&
	    after_due < e->due) {
		e->due = after_due;
		snprintf(e->trigger, sizeof(e->trigger), "after-reveal");
	}
	e->check_due = jint(sched, "check_due", 0);
	if (e->check_due == 0 || e->check_due > now + check_every(rot))
		e->check_due = vd__next_check(rot);
}

/* The next due time after a success: cadence plus jitter, in window. */
int64_t
vd__next_due(const struct ent *e, int64_t every)
{
	int64_t span = every / 10;
	int64_t due;

	if (span > JITTER_MAX)
		span = JITTER_MAX;
	due = vd_now() + every + vd_jitter(span);
	return vd_window_next(&e->win, due);
}


/*
 * Whether the refused logins vaultd caused on e's account since its last
 * success use up vaultd's share of the server's max_password_errors: half
 * of it (the rest is the people's), 2 when the limit is not known (MySQL,
 * or no check read it yet), no bound when the server has none.  A further
 * automatic job could only add refusals; an alert replaces it.
 */
static int
over_budget(const struct ent *e)
{
	long long cap = e->pwerr_max > 0 ? e->pwerr_max / 2 :
	    e->pwerr_max == 0 ? -1 : 2;

	if (cap == 0)
		cap = 1;
	return cap > 0 && e->auth_fails >= cap;
}

/*
 * Whether the engine may start a job with trigger for entry e at now.
 * A target whose refused logins used up vaultd's share of the account's
 * max_password_errors (over_budget(); only a successful login resets the
 * server's count) gets no job that a person did not ask for (manual,
 * break-glass, the one reconcile that follows a drift finding): an alert
 * instead.  Otherwise finishing a change is never held back: a pending
 * version is resolved whatever the window or [rotation] paused say (it
 * does not start a change, it ends one whose password may already be in
 * force).  Scheduled jobs wait for the window and for paused to end; a
 * held job's due time moves to the window's next opening.  They wait too
 * while a checkout holds the target (issue 17); the rotation a checkout's
 * end makes due counts as asked for.
 */
int
vd__may_start(struct rot *rot, struct ent *e, const char *trigger, int64_t now)
{
	int scheduled = strcmp(trigger, "schedule") == 0 ||
	    strcmp(trigger, "after-reveal") == 0 ||
	    strcmp(trigger, "retry") == 0;
	int asked = strcmp(trigger, "manual") == 0 ||
	    strcmp(trigger, "breakglass") == 0 ||
	    strcmp(trigger, "abandon") == 0 ||
	    strcmp(trigger, "reconcile") == 0 ||
	    vd_checkout_end_trigger(trigger);

	if (!asked && over_budget(e))
		return HOLD_DRIFT;
	if (e->pending || !scheduled)
		return 0;
	/* The holder's password stays valid until the checkout ends. */
	if (vd_checkout_holds(e->checked_out, trigger))
		return HOLD_CHECKOUT;
	if (rot->d->cfg->paused)
		return HOLD_PAUSED;
	if (!vd_window_open(&e->win, now)) {
		e->due = vd_window_next(&e->win, now);
		return HOLD_WINDOW;
	}
	return 0;
}

/*
 * A target in drift (its password known to be refused), or out of login
 * budget: says so once per drift-check period (an alert, not a login) and
 * moves its due times on.
 */
static void
drift_alert(struct rot *rot, struct ent *e, int64_t now)
{
	if (e->check_due <= now) {
		vd_log(LOG_ALERT, "%s: %s; not logging in with it again (%lld "
		    "refused logins since the account's last success count "
		    "toward max_password_errors). Run vaultctl target "
		    "set-password %s, or vaultctl rotate %s", e->name,
		    e->drift ? "still in drift: the vault's password is "
		    "refused by the server" : "automatic rotation held",
		    e->auth_fails, e->name, e->name);
		e->check_due = vd__next_check(rot);
	}
	if (e->due <= now)
		e->due = e->check_due;
}


/*
 * The scheduler tick, every TICK_MS.  Jobs:
 *   - every 10th tick: audit break-glass openings recorded offline and
 *     rotate their targets;
 *   - end the access requests and checkouts whose time ran out (checkout.c;
 *     an expired checkout makes its rotation due and starts it);
 *   - start queued requests (pump);
 *   - start rotations that are due (cadence, after-reveal, retries,
 *     recovery of pending versions), inside their window, up to the
 *     concurrency limit; with [rotation] paused, only recoveries;
 *   - start drift checks that are due, when a slot is free (not paused).
 * Bounded: one pass over the targets, at most `concurrency` starts; due
 * rotations beyond that join the FIFO, which vd__pump() drains as jobs end
 * (stopping at `concurrency` here capped scheduled rotations at
 * `concurrency` a second: bench/, docs/benchmarks.md).
 */
void
vd__tick(uv_timer_t *h)
{
	struct rot *rot = h->data;
	long long limit = vd__conc_limit(rot);
	int64_t now = vd_now();

	if (rot->stopping)
		return;
	/*
	 * Due times are whole seconds: fire just after each second begins,
	 * not at the phase the daemon happened to start at (up to 1 s late).
	 */
	uv_timer_start(h, vd__tick, (uint64_t)(TICK_MS - vd_now_ms() % TICK_MS + 2),
	    0);
	if (!vd_store_unlocked(rot->d->st))
		return;
	if (rot->ticks++ % 10 == 0)
		vd_escrowd_breakglass_reports(rot->d);
	vd_checkout_tick(rot->d);
	vd__pump(rot);
	/* Due work joins the FIFO; one vd__pump() then starts it as a batch. */
	rot->defer = 1;
	for (size_t i = 0; i < rot->nents; i++) {
		struct ent *e = &rot->ents[i];
		char name[VD_NAME_MAX + 1];

		if (e->busy || e->queued || e->gone)
			continue;
		snprintf(name, sizeof(name), "%s", e->name);
		if (e->due != 0 && e->due <= now) {
			int why = vd__may_start(rot, e, e->trigger, now);

			if (why == HOLD_DRIFT) {
				drift_alert(rot, e, now);
				continue;
			}
			if (why != 0)
				continue;
			e->due = now + 60;	/* until recorded */
			(void)vd__start_job(rot, name, e->trigger, VD_APPLY_NEW,
			    NULL);
			/* start_job may have moved the array: re-find. */
			if ((e = vd__ent_find(rot, name)) == NULL)
				break;
			i = (size_t)(e - rot->ents);
		} else if (e->check_due != 0 && e->check_due <= now &&
		    e->drift) {
			/* Known refused: no login with it, an alert instead. */
			drift_alert(rot, e, now);
		} else if (e->check_due != 0 && e->check_due <= now &&
		    rot->nrunning < limit && !rot->d->cfg->paused) {
			e->check_due = vd__next_check(rot);
			(void)vd__start_job(rot, name, "check", VD_APPLY_CHECK, NULL);
			if ((e = vd__ent_find(rot, name)) == NULL)
				break;
			i = (size_t)(e - rot->ents);
		}
	}
	rot->defer = 0;
	vd__pump(rot);
}


/* Stores the due times computed for targets that had none. */
void
vd__persist_new(struct rot *rot)
{
	struct vd_txn *t = NULL;
	size_t n = 0;
	int r = 0;

	for (size_t i = 0; i < rot->nents; i++)
		n += rot->ents[i].unsaved;
	if (n == 0 || vd_txn_begin(rot->d->st, 1, &t) != 0)
		return;
	for (size_t i = 0; i < rot->nents && r == 0; i++) {
		struct ent *e = &rot->ents[i];
		json_t *f;

		if (!e->unsaved)
			continue;
		if ((f = json_pack("{s:I}", "next_due", (json_int_t)e->due))
		    == NULL)
			r = VD_ENOMEM;
		else
			r = vd_sched_update(t, e->name, f);
		json_decref(f);
	}
	if (r == 0)
		r = vd_txn_commit(t);	/* frees t */
	else
		vd_txn_abort(t);
	if (r != 0) {
		vd_log(LOG_WARNING, "cannot store %zu new schedules: %s", n,
		    vd_strerror(r));
		return;
	}
	for (size_t i = 0; i < rot->nents; i++)
		rot->ents[i].unsaved = 0;
}

int
vd__load_cb(const char *name, json_t *target, void *arg)
{
	struct load_ctx *lc = arg;
	json_t *sched = NULL;
	uint64_t cur, pending;
	struct ent *e;
	int r;

	if ((e = vd__ent_add(lc->rot, name)) == NULL)
		return VD_ENOMEM;
	if ((r = vd_sched_get(lc->t, name, &sched)) != 0 && r != VD_ENOTFOUND)
		return r;
	vd__ent_load(lc->rot, e, target, sched);
	json_decref(sched);
	if ((r = vd_versions_find(lc->t, name, &cur, &pending)) != 0)
		return r;
	e->pending = pending != 0;
	if (pending != 0) {
		/* Resolve first, whatever the schedule says. */
		e->due = lc->now;
		snprintf(e->trigger, sizeof(e->trigger), "recovery");
	} else if (e->due < lc->now) {
		/* Overdue after downtime: spread them out. */
		lc->overdue++;
		e->due = lc->now + 1 + vd_jitter((int64_t)lc->overdue / 4);
	}
	return 0;
}

