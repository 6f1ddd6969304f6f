/*
 * rotate.c - the rotation engine and scheduler (rotate.h says what and why).
 *
 * Jobs: JOB_ROTATE (a fresh version), JOB_RESOLVE (finish a pending one),
 * JOB_CHECK (drift check: does the current password still log in?).  A
 * job is prepared on the loop thread (reads, and for JOB_ROTATE the durable
 * pending commit), runs its MariaDB work on the thread pool with copies of
 * everything it needs (no json_t, no store access there), and records its
 * outcome back on the loop thread.
 *
 * Drift repair without an admin account (a database restored from backup
 * brings back an older mysql.user row, so an older password): a target
 * whose password is refused is repaired by a rotation, trigger
 * "reconcile", that logs in on each account host with the first password
 * that works there: current, then the pending one (a resolution), then the
 * kept older versions that may have been in force, newest first
 * (load_older()).  The rotation is an ordinary one: its new version is
 * durable as pending before any probe or change, applied through the
 * session that logged in, verified, promoted.  Drift found by a check or
 * by a rotation's login starts one such rotation (finish()); a resolution
 * (start-up, retries) tries the older versions itself.  Each password is
 * tried at most once per host per run, runs follow the schedule's backoff
 * or cadence, and a limit on failed logins (max_password_errors) caps the
 * tries (open_as()).  When no kept version logs in, the target stays in
 * drift for a person (docs/operations.md, section 8).
 *
 * Scheduler entries (one per target, sorted by name) mirror the schedule
 * records in the store; the store is the truth, memory is the index.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon.h"
#include "driver.h"
#include "err.h"
#include "escrow.h"
#include "log.h"
#include "mem.h"
#include "policy.h"
#include "rotate.h"
#include "state.h"
#include "timing.h"
#include "store.h"
#include "util.h"

#define TICK_MS			1000	/* scheduler period */
#define KEEP_VERSIONS		5	/* versions whose password is kept */
#define EVERY_DEFAULT		(90 * 86400)	/* cadence without --every */
#define CHECK_EVERY_DEFAULT	86400	/* drift check period */
#define JITTER_MAX		3600	/* jitter cap, seconds */
#define RESOLVE_DELAY		5	/* first retry of an uncertain apply */
#define MAX_HOSTS		64	/* account hosts per target */

enum job_mode {
	JOB_ROTATE,	/* generate, pend, apply, verify, promote */
	JOB_RESOLVE,	/* a pending version exists: apply it forward */
	JOB_CHECK,	/* probe the current password on every host */
};


/* Someone waiting for a rotation's end (vaultctl rotate --wait). */
struct waiter {
	vd_rotate_cb	 cb;	/* called once with the outcome */
	void		*arg;	/* its argument */
	struct waiter	*next;
};

/* One rotation, resolution or check in flight. */
struct job {
	struct rot	*rot;		/* the engine */
	uv_work_t	 work;		/* thread-pool request */
	enum job_mode	 mode;
	char		 name[VD_NAME_MAX + 1];	/* target */
	char		 trigger[16];	/* schedule, manual, recovery … */
	/* Copies of the target record, for the worker thread. */
	char		*host;		/* TCP host, or NULL */
	unsigned	 port;		/* TCP port */
	char		*sock;		/* Unix socket, or NULL */
	char		*user;		/* rotated account */
	char		*admin_user;	/* separate admin account, or NULL */
	int		 tls;		/* TLS required (TCP targets) */
	char		*tls_ca;	/* CA file to verify the server, or NULL */
	char		*hosts[MAX_HOSTS];	/* configured account hosts */
	size_t		 nhosts;	/* 0: auto (discover on the server) */
	unsigned	 timeout;	/* connect timeout, seconds */
	struct vd_secret *cur_pw;	/* current version's password */
	struct vd_secret *new_pw;	/* pending version's password */
	struct vd_secret *admin_pw;	/* admin account's password */
	struct vd_secret *old_pw[KEEP_VERSIONS];	/* older versions a
					 * repair may log in with */
	uint64_t	 old_v[KEEP_VERSIONS];	/* their versions, newest 1st */
	size_t		 nold;		/* how many (0: no repair this run) */
	long long	 pwerr_max;	/* failed logins the server allows the
					 * account (0: no limit, -1: unknown) */
	uint64_t	 cur_v;		/* current version (0: none) */
	uint64_t	 new_v;		/* pending version (ROTATE/RESOLVE) */
	uint64_t	 hist_seq;	/* history entry of this job */
	int64_t		 started;	/* when it started */
	/* Results, written by the worker. */
	enum vd_outcome	 out;
	char		 err[VD_DRV_ERRLEN];	/* the server's reason */
	char		 summary[512];	/* per-host results */
	char		 note[256];	/* the older versions hosts held */
	int		 repaired;	/* logged in with an older version */
	int		 capped;	/* older ones left untried (limit) */
	int		 pwerr_read;	/* pwerr_max was read from the server */
	long long	 prior_fails;	/* refused logins vaultd caused on the
					 * account since its last success */
	int		 auth_fails;	/* refused logins this job caused */
	int		 repair;	/* record_in(): a reconcile follows */
	struct waiter	*waiters;	/* who to tell */
	struct job	*next;		/* running list */
};

/* The scheduler's view of one target. */
struct ent {
	char		 name[VD_NAME_MAX + 1];
	int64_t		 due;		/* next rotation (0: none) */
	int64_t		 check_due;	/* next drift check (0: none) */
	char		 trigger[16];	/* trigger of the due rotation */
	int		 busy;		/* a job runs for it */
	int		 pending;	/* it has a pending version */
	int		 unsaved;	/* due computed, not yet stored */
	int		 queued;	/* waiting for a concurrency slot */
	int		 gone;		/* removed while busy */
	int		 drift;		/* its current password is known to be
					 * refused: no login with it until a
					 * person acts (max_password_errors) */
	uint64_t	 unrec_v;	/* verified on the server, promotion not
					 * recorded (disk full): get serves it */
	int		 unrec_err;	/* why it could not be recorded */
	long long	 auth_fails;	/* refused logins vaultd caused since
					 * the account's last success */
	long long	 pwerr_max;	/* the server's max_password_errors for
					 * it (0: none, -1: not known) */
	struct vd_window win;		/* rotation window */
};

/* A request waiting for a free slot. */
struct qreq {
	char		 name[VD_NAME_MAX + 1];
	char		 trigger[16];
	enum job_mode	 mode;
	struct waiter	*waiters;
	struct qreq	*next;
};

struct rot {
	struct vd_daemon *d;		/* the daemon */
	uv_timer_t	 timer;		/* the scheduler tick */
	struct ent	*ents;		/* sorted by name */
	size_t		 nents, cap;
	struct job	*running;	/* jobs in flight */
	unsigned	 nrunning;
	struct qreq	*qhead, *qtail;	/* FIFO of waiting requests */
	int		 stopping;	/* no new jobs */
	char		 crash[32];	/* test-only crash point */
	struct vd_escrow_cfg *ec;	/* escrow parties (NULL: none) */
	unsigned	 ticks;		/* timer ticks so far */
	uv_check_t	 flush;		/* group commit of finished jobs */
	int		 defer;		/* start_job() queues (tick batches) */
	int		 flush_closed;	/* flush handle closed (stopping) */
	long long	 pool;		/* libuv's thread pool size */
	struct job	*done, *done_tail;	/* finished, not yet recorded */
};

/*
 * One engine per daemon; vaultd runs one daemon per process, so the
 * pointer lives here rather than in struct vd_daemon.
 */
static struct rot *engine;

static void pump(struct rot *rot);
static void breakglass_reports(struct rot *rot);
static int start_job(struct rot *rot, const char *name, const char *trigger,
    enum job_mode mode, struct waiter **wp);

/* ---- small helpers ---------------------------------------------------- */

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

static long long
cfg_ll(long long v, long long dflt)
{
	return v > 0 ? v : dflt;
}

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
static long long
conc_limit(const struct rot *rot)
{
	long long want = cfg_ll(rot->d->cfg->concurrency, 4);
	long long room = rot->pool > 3 ? rot->pool - 2 : 1;

	return want < room ? want : room;
}

static int64_t
next_check(const struct rot *rot)
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

static struct ent *
ent_find(struct rot *rot, const char *name)
{
	struct ent key;

	if (rot->nents == 0 || strlen(name) > VD_NAME_MAX)
		return NULL;
	snprintf(key.name, sizeof(key.name), "%s", name);
	return bsearch(&key, rot->ents, rot->nents, sizeof(*rot->ents),
	    ent_cmp);
}

/* Inserts (or finds) name's entry, keeping the array sorted. */
static struct ent *
ent_add(struct rot *rot, const char *name)
{
	struct ent *e;
	size_t lo = 0, hi = rot->nents;

	if ((e = ent_find(rot, name)) != NULL)
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

static void
ent_del(struct rot *rot, struct ent *e)
{
	size_t i = (size_t)(e - rot->ents);

	memmove(e, e + 1, (rot->nents - i - 1) * sizeof(*e));
	rot->nents--;
}

static int64_t
jint(const json_t *o, const char *k, int64_t dflt)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A version record's state; -1 when missing or unknown. */
static int
vstate_of(const json_t *meta)
{
	enum vd_vstate s;

	return vd_vstate_parse(jstr(meta, "state"), &s) == 0 ? (int)s : -1;
}

struct vers {
	uint64_t	 cur;		/* current version (0: none) */
	uint64_t	 pending;	/* newest pending version (0: none) */
};

static int
vers_cb(uint64_t v, json_t *meta, void *arg)
{
	struct vers *vs = arg;
	int s = vstate_of(meta);

	if (s == VD_VS_PENDING && vs->pending == 0 && vs->cur == 0)
		vs->pending = v;
	else if (s == VD_VS_CURRENT) {
		vs->cur = v;
		return 1;	/* older versions do not matter */
	}
	return 0;
}

/* Finds target's current and pending versions (newest first walk). */
static int
find_versions(struct vd_txn *t, const char *name, struct vers *vs)
{
	int r;

	vs->cur = vs->pending = 0;
	r = vd_version_each(t, name, 0, vers_cb, vs);
	return r < 0 ? r : 0;
}

/* See rotate.h. */
int
vd_rotate_versions(struct vd_txn *t, const char *name, uint64_t *cur,
    uint64_t *pending)
{
	struct vers vs;
	int r;

	if ((r = find_versions(t, name, &vs)) != 0)
		return r;
	*cur = vs.cur;
	if (pending != NULL)
		*pending = vs.pending;
	return 0;
}

/*
 * Moves version v by event ev (keeping its other fields), through the
 * version machine's one transition function: a move the protocol forbids
 * is refused (VD_ECORRUPT) and nothing is written.
 */
static int
set_state(struct vd_txn *t, const char *name, uint64_t v, enum vd_vevent ev,
    const char *ts)
{
	json_t *m = NULL;
	int r, from, to;

	if ((r = vd_version_get(t, name, v, &m)) != 0)
		return r;
	from = vstate_of(m);
	if (from < 0 || (to = vd_vstate_next((enum vd_vstate)from, ev)) < 0) {
		r = vd_err_set(VD_ECORRUPT, "%s version %llu: no transition %s "
		    "from state %s", name, (unsigned long long)v,
		    vd_vevent_name(ev), from < 0 ? "(none)" :
		    vd_vstate_name((enum vd_vstate)from));
		json_decref(m);
		return r;
	}
	json_object_set_new(m, "state", json_string(vd_vstate_name(
	    (enum vd_vstate)to)));
	json_object_set_new(m, "updated_at", json_string(ts));
	r = vd_version_put(t, name, v, m);
	json_decref(m);
	return r;
}

/*
 * The older versions a drift repair may log in with.  A version can be in
 * force on the server if it ever was: "previous" and "retired" ones (a
 * restored backup brings one back), and a "pending" one other than the
 * job's own (superseded: it may have applied).  Not a "failed" one: the
 * engine marks a version failed only when its rotation changed nothing
 * (refused, unreachable or in drift before any statement; an unknown
 * outcome keeps it pending), so it never was in force.  Only versions
 * whose password is still stored count; the walk stops at the target's
 * registration (trigger "initial": versions before it belong to an earlier
 * target of that name, maybe on another server) and at a retired version
 * whose password is gone (older ones were pruned before it).
 */
struct older {
	struct vd_txn	*t;
	const char	*name;
	uint64_t	 cur, own;	/* current, and the job's pending */
	struct job	*j;		/* gets them; NULL: count only */
	size_t		 max;		/* stop after this many */
	size_t		 n;		/* found so far */
};

static int
older_cb(uint64_t v, json_t *meta, void *arg)
{
	struct older *o = arg;
	const char *trig = jstr(meta, "trigger");
	int s = vstate_of(meta);
	struct vd_secret *pw = NULL;
	int r;

	if (v != o->cur && v != o->own && (s == VD_VS_PREVIOUS ||
	    s == VD_VS_RETIRED || s == VD_VS_PENDING)) {
		r = vd_secret_get(o->t, o->name, v, &pw);
		if (r == VD_ENOTFOUND && s == VD_VS_RETIRED)
			return 1;
		if (r == 0 && o->j != NULL) {
			o->j->old_pw[o->n] = pw;
			o->j->old_v[o->n] = v;
		} else
			vd_secret_free(pw);
		/* An unreadable record is skipped: never stops recovery. */
		if (r == 0 && ++o->n == o->max)
			return 1;
	}
	return trig != NULL && strcmp(trig, "initial") == 0;
}

/*
 * Loads into j (j->nold, j->old_v, j->old_pw) up to KEEP_VERSIONS older
 * versions a repair may log in with, newest first; with j NULL only
 * counts whether target name has one (returned in *np).  cur and own are
 * the current and the job's pending version.  Returns 0 or an error.
 */
static int
load_older(struct vd_txn *t, const char *name, uint64_t cur, uint64_t own,
    struct job *j, size_t *np)
{
	struct older o = { t, name, cur, own, j, j ? KEEP_VERSIONS : 1, 0 };
	int r;

	r = vd_version_each(t, name, 0, older_cb, &o);
	if (j != NULL)
		j->nold = o.n;
	if (np != NULL)
		*np = o.n;
	return r < 0 ? r : 0;
}

/* ---- schedule computation -------------------------------------------- */

/* Loads the entry's schedule from the target and schedule records. */
static void
ent_load(struct rot *rot, struct ent *e, const json_t *target,
    const json_t *sched)
{
	int64_t now = vd_now(), every, after_due;
	const char *w = jstr(target, "window");

	if (vd_window_parse(w, &e->win) != 0)
		memset(&e->win, 0, sizeof(e->win));
	every = jint(target, "every", EVERY_DEFAULT);
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
	e->auth_fails = jint(sched, "auth_fails", 0);
	e->pwerr_max = jint(sched, "pw_errors_max", -1);
	after_due = jint(sched, "after_reveal_due", 0);
	if (after_due > 0 && after_due > jint(sched, "last_ok", 0) &&
	    after_due < e->due) {
		e->due = after_due;
		snprintf(e->trigger, sizeof(e->trigger), "after-reveal");
	}
	e->check_due = jint(sched, "check_due", 0);
	if (e->check_due == 0 || e->check_due > now + check_every(rot))
		e->check_due = next_check(rot);
}

/* The next due time after a success: cadence plus jitter, in window. */
static int64_t
next_due(const struct ent *e, int64_t every)
{
	int64_t span = every / 10;
	int64_t due;

	if (span > JITTER_MAX)
		span = JITTER_MAX;
	due = vd_now() + every + vd_jitter(span);
	return vd_window_next(&e->win, due);
}

/* ---- the worker (thread pool) ----------------------------------------- */

static void
add_summary(struct job *j, const char *host, const char *what)
{
	size_t n = strlen(j->summary);

	snprintf(j->summary + n, sizeof(j->summary) - n, "%s%s=%s",
	    n ? " " : "", host, what);
}

/* A password a session as the target may log in with. */
struct login {
	uint64_t		 v;	/* its version */
	const struct vd_secret	*pw;	/* the job's copy */
};

/*
 * The SQL behind pwerr_limit(): max_password_errors, or 0 when it does not
 * apply to the session's account (unlimited, or the account holds SUPER or
 * CONNECTION ADMIN).  CURRENT_USER() is "user@host"; the host part holds
 * no '@', so it is what follows the last one.
 */
#define PWERR_SQL \
	"SELECT IF(@@global.max_password_errors >= 4294967295 OR EXISTS (" \
	"SELECT 1 FROM information_schema.USER_PRIVILEGES WHERE " \
	"PRIVILEGE_TYPE IN ('SUPER', 'CONNECTION ADMIN') AND GRANTEE = " \
	"CONCAT('''', LEFT(CURRENT_USER(), CHAR_LENGTH(CURRENT_USER()) - " \
	"CHAR_LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1), " \
	"'''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')), 0, " \
	"@@global.max_password_errors)"

/*
 * Failed logins the server allows c's account before it blocks it, 0 for
 * no limit, -1 when unknown (MySQL has no max_password_errors).  Checked
 * on MariaDB 10.11: the count is per account (user@host), over the socket
 * and loopback too; only a successful login resets it; a blocked account
 * (error 4150) needs FLUSH PRIVILEGES, which is worse than drift.  Failed
 * logins do not count toward max_connect_errors (host blocking).
 */
static long long
pwerr_limit(struct vd_drv_conn *c)
{
	char buf[32];
	long long v;

	if (vd_drv_query1(c, PWERR_SQL, buf, sizeof(buf), NULL, 0) != 0 ||
	    vd_parse_int(buf, 0, 4294967295LL, &v) != 0)
		return -1;
	return v;
}

/*
 * Fills lg with the passwords to log in with, in the order a repair tries
 * them on each host: current; then, resolving a pending version, that one
 * (it may be in force); then the older versions prep() loaded, newest
 * first.  Returns how many; *first_old is the index of the first older one.
 */
static size_t
logins(const struct job *j, struct login *lg, size_t *first_old)
{
	size_t n = 0;

	lg[n].v = j->cur_v;
	lg[n++].pw = j->cur_pw;
	if (j->mode == JOB_RESOLVE) {
		lg[n].v = j->new_v;
		lg[n++].pw = j->new_pw;
	}
	*first_old = n;
	for (size_t i = 0; i < j->nold; i++) {
		lg[n].v = j->old_v[i];
		lg[n++].pw = j->old_pw[i];
	}
	return n;
}

/*
 * Opens a session as the target on account host `host` by that host's
 * route (NULL: on the target's own path, whatever account it matches),
 * trying lg[0..n) in order except lg[skip]; `fails` counts the refusals
 * this account already had in this run.  Older versions (index first_old
 * on) are tried only while those refusals stay below half the account's
 * pwerr_max, so that neither this run nor the next can block it.  Each
 * password is tried once.  On success *c owns the session and *used is
 * the login's index.  Returns as vd_drv_connect_host(), VD_EAUTH when
 * every password tried was refused (j->capped set when the limit left
 * some untried); the reason is in j->err.
 */
static int
open_as(struct job *j, const struct vd_dbtarget *t, const char *host,
    const struct login *lg, size_t n, size_t first_old, size_t skip,
    long long fails, struct vd_drv_conn **c, size_t *used)
{
	int r = VD_EAUTH;

	for (size_t i = 0; i < n; i++) {
		if (i == skip)
			continue;
		if (i >= first_old && j->pwerr_max > 0 &&
		    j->prior_fails + fails >= j->pwerr_max / 2) {
			j->capped = 1;
			break;
		}
		if (host == NULL)
			r = vd_drv_connect(t, NULL, lg[i].pw, c, j->err,
			    sizeof(j->err));
		else
			r = vd_drv_connect_host(t, host, lg[i].pw, c, j->err,
			    sizeof(j->err));
		if (r != VD_EAUTH) {
			*used = i;
			return r;
		}
		fails++;
		j->auth_fails++;
	}
	return VD_EAUTH;
}

/*
 * Writes why the target's own login failed on host (NULL: its path) to
 * j->err: the vault's password is refused, and what a repair tried.
 */
static void
refused(struct job *j, const char *host)
{
	char where[140];

	if (host != NULL)
		snprintf(where, sizeof(where), "%.64s@%.60s", j->user, host);
	else
		snprintf(where, sizeof(where), "%.64s", j->user);
	snprintf(j->err, sizeof(j->err), "the vault's password for %s is "
	    "refused by the server (changed outside vaultd?)%s", where,
	    j->nold == 0 ? "" : j->capped ? "; older versions left untried: "
	    "the server blocks the account after a few failed logins "
	    "(max_password_errors)" : "; no kept older version logs in");
}

/*
 * Writes to j->note which older version each host held (held[i], 0: none
 * or not known), one group per version: "server held version 3 on
 * localhost,127.0.0.1 (restored backup?)".  Never a password.
 */
static void
held_note(struct job *j, char *const *hosts, const uint64_t *held, size_t n)
{
	char *p = j->note;
	size_t sz = sizeof(j->note), len;

	p[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t k;

		for (k = 0; k < i && held[i] != 0; k++)
			if (held[k] == held[i])
				break;
		if (held[i] == 0 || k < i)
			continue;	/* none, or its group is written */
		len = strlen(p);
		snprintf(p + len, sz - len, "%sversion %llu on %s", len ?
		    "; " : "server held ", (unsigned long long)held[i],
		    hosts[i]);
		for (k = i + 1; k < n; k++) {
			len = strlen(p);
			if (held[k] == held[i])
				snprintf(p + len, sz - len, ",%s", hosts[k]);
		}
	}
	len = strlen(p);
	if (len > 0)
		snprintf(p + len, sz - len, " (restored backup?)");
}

static void
worker(uv_work_t *w)
{
	struct job *j = container_of(w, struct job, work);
	struct vd_dbtarget t = {
		.host = j->host, .port = j->port, .unix_socket = j->sock,
		.user = j->user, .connect_timeout_s = j->timeout,
		.tls_required = j->tls, .tls_ca = j->tls_ca,
	};
	struct vd_drv_conn *c = NULL;
	struct login lg[2 + KEEP_VERSIONS];
	uint64_t held[MAX_HOSTS];
	char **found = NULL, **hosts = j->hosts;
	char self[2 * VD_NAME_MAX + 300], *at;
	const char *self_host = NULL, *main_host;
	size_t nfound = 0, n = j->nhosts, nlg, first_old, main_used = 0;
	int r, applied = 0, verified = 0, main_ok = 0;
	struct vd_secret *probe_pw = j->mode == JOB_CHECK ? j->cur_pw :
	    j->new_pw;

	j->err[0] = '\0';
	j->summary[0] = '\0';
	memset(held, 0, sizeof(held));
	nlg = logins(j, lg, &first_old);

	/*
	 * 1. Connect: the admin account, or the target itself with the
	 * first password that logs in (a pending version may already be in
	 * force on this path; after a restore, an older one).
	 */
	if (j->admin_user != NULL)
		r = vd_drv_connect(&t, j->admin_user, j->admin_pw, &c, j->err,
		    sizeof(j->err));
	else
		r = open_as(j, &t, NULL, lg, nlg, first_old, SIZE_MAX, 0, &c,
		    &main_used);
	if (r == VD_EAUTH) {
		j->out = VD_OUT_DRIFT;
		if (j->admin_user != NULL)
			snprintf(j->err, sizeof(j->err), "the admin account "
			    "%s is refused by the server", j->admin_user);
		else
			refused(j, NULL);
		goto out;
	}
	if (r != 0) {
		j->out = VD_OUT_UNREACHABLE;
		goto out;
	}
	if (j->admin_user == NULL && main_used >= first_old)
		j->repaired = 1;

	/*
	 * What the server's limit on failed logins is for this account: a
	 * check keeps it for the repairs to come, a repair caps its tries on
	 * the other hosts with it.
	 */
	if (j->admin_user == NULL && (j->mode == JOB_CHECK || j->nold > 0)) {
		long long lim = pwerr_limit(c);

		if (lim >= 0) {
			j->pwerr_max = lim;
			j->pwerr_read = 1;
		}
	}

	vd_drv_learn_port(c, &t);	/* loopback probes need it */

	/* 2. The account's hosts: configured, or discovered. */
	if (n == 0) {
		r = vd_drv_account_hosts(c, j->user, &found, &nfound, j->err,
		    sizeof(j->err));
		if (r != 0) {
			j->out = VD_OUT_UNREACHABLE;
			goto out;
		}
		if (nfound == 0) {
			j->out = VD_OUT_REFUSED;
			snprintf(j->err, sizeof(j->err), "no account named %s "
			    "on the server", j->user);
			goto out;
		}
		hosts = found;
		n = nfound;
	}

	/* The account the main session matched ("user@host"). */
	if (j->admin_user == NULL && vd_drv_current_user(c, self, sizeof(self),
	    NULL, 0) == 0 && (at = strrchr(self, '@')) != NULL)
		self_host = at + 1;

	/* 3. Apply (not for a check). */
	for (size_t i = 0; j->mode != JOB_CHECK && i < n; i++) {
		struct vd_drv_conn *hc = NULL, *use = c;
		int own = self_host != NULL && strcasecmp(self_host, hosts[i])
		    == 0;
		size_t used = main_used, skip = SIZE_MAX;
		long long fails = 0;

		if (j->mode == JOB_RESOLVE) {
			/*
			 * Already in force there?  The main session answers
			 * for its own account (one login fewer).
			 */
			if (own)
				r = lg[main_used].v == j->new_v ? 0 : VD_EAUTH;
			else
				r = vd_drv_probe(&t, hosts[i], j->new_pw, NULL,
				    0);
			if (r == 0) {
				applied = 1;
				continue;
			}
			skip = 1;	/* lg[1], the pending one: refused */
			fails = r == VD_EAUTH;
			j->auth_fails += r == VD_EAUTH;
		}
		/*
		 * Self-rotation changes each account through a session of
		 * that very account: changing another account, even of the
		 * same user name, needs privileges on the mysql database.  A
		 * host that cannot be reached from here falls back to the
		 * main session (enough for a privileged account like root).
		 */
		if (j->admin_user == NULL && !own) {
			r = open_as(j, &t, hosts[i], lg, nlg, first_old, skip,
			    fails, &hc, &used);
			if (r == 0)
				use = hc;
			else if (r == VD_EAUTH) {
				refused(j, hosts[i]);
				j->out = applied || j->mode == JOB_RESOLVE ?
				    VD_OUT_UNCERTAIN : VD_OUT_DRIFT;
				goto out;
			} else if (r != VD_DRV_UNREACHABLE) {
				j->out = applied || j->mode == JOB_RESOLVE ?
				    VD_OUT_UNCERTAIN : VD_OUT_UNREACHABLE;
				goto out;
			} else
				used = SIZE_MAX;	/* not known */
		}
		if (j->admin_user == NULL && used != SIZE_MAX &&
		    used >= first_old) {
			if (i < MAX_HOSTS)
				held[i] = lg[used].v;
			j->repaired = 1;
		}
		r = vd_drv_set_password(use, j->user, hosts[i], j->new_pw,
		    j->err, sizeof(j->err));
		vd_drv_close(hc);
		if (r == VD_ENOTFOUND && j->nhosts == 0) {
			/*
			 * A discovered row the server does not use (a host
			 * name under skip-name-resolve): nobody can log in
			 * through it, so there is nothing to change.
			 */
			add_summary(j, hosts[i], "inactive");
			hosts[i][0] = '\0';
			if (i < MAX_HOSTS)
				held[i] = 0;
			j->err[0] = '\0';
			continue;
		}
		if (r != 0) {
			char reason[VD_DRV_ERRLEN];

			snprintf(reason, sizeof(reason), "%s", j->err);
			snprintf(j->err, sizeof(j->err), "%.64s@%.60s: %.300s",
			    j->user, hosts[i], reason);
			/*
			 * A refused statement changed nothing; a timeout may
			 * have; earlier hosts did change.
			 */
			j->out = (applied || j->mode == JOB_RESOLVE ||
			    r == VD_ETIMEDOUT) ? VD_OUT_UNCERTAIN : VD_OUT_REFUSED;
			goto out;
		}
		applied = 1;
	}

	/* 4. Verify with fresh logins, host by host. */
	main_host = t.unix_socket != NULL ? "localhost" : t.host;
	for (size_t i = 0; i < n; i++) {
		char perr[VD_DRV_ERRLEN];

		if (hosts[i][0] == '\0')
			continue;	/* inactive, see above */
		r = vd_drv_probe(&t, hosts[i], probe_pw, perr, sizeof(perr));
		if (r == 0) {
			verified++;
			/* The probe took the path vault users take. */
			if (main_host != NULL &&
			    strcasecmp(hosts[i], main_host) == 0)
				main_ok = 1;
			add_summary(j, hosts[i], "ok");
		} else if (r == VD_DRV_UNREACHABLE)
			add_summary(j, hosts[i], "unverified");
		else {
			j->auth_fails += r == VD_EAUTH;
			add_summary(j, hosts[i], r == VD_EAUTH ? "refused" :
			    "error");
			snprintf(j->err, sizeof(j->err), "verify %.64s@%.60s: %.300s",
			    j->user, hosts[i], perr);
			j->out = j->mode == JOB_CHECK && r == VD_EAUTH ?
			    VD_OUT_DRIFT : VD_OUT_UNCERTAIN;
			goto out;
		}
	}
	/* The path vault users take must work too (unless a probe took it). */
	if (!main_ok && (r = vd_drv_login(&t, NULL, probe_pw, j->err,
	    sizeof(j->err))) != 0) {
		j->auth_fails += r == VD_EAUTH;
		j->out = j->mode == JOB_CHECK && r == VD_EAUTH ? VD_OUT_DRIFT :
		    VD_OUT_UNCERTAIN;
		goto out;
	}
	(void)verified;
	j->out = VD_OUT_OK;
	j->err[0] = '\0';
 out:
	held_note(j, hosts, held, n < MAX_HOSTS ? n : MAX_HOSTS);
	vd_drv_hosts_free(found, nfound);
	vd_drv_close(c);
}

/* ---- recording outcomes (loop thread) --------------------------------- */

static void
notify(struct job *j, int err, json_t *res)
{
	struct waiter *w, *next;

	for (w = j->waiters; w != NULL; w = next) {
		next = w->next;
		if (err != 0)
			vd_err_set(err, "%s", j->err[0] ? j->err :
			    vd_outcome_name(j->out));
		w->cb(w->arg, err, res);
		free(w);
	}
	j->waiters = NULL;
}

/* Retires passwords of versions older than the KEEP_VERSIONS newest. */
struct prune {
	struct vd_txn	*t;
	const char	*name;
	uint64_t	 v;		/* the new current version */
	const char	*ts;
	unsigned	 seen;
	int		 r;
};

static int
prune_cb(uint64_t v, json_t *meta, void *arg)
{
	struct prune *p = arg;
	int s = vstate_of(meta);
	int r;

	/*
	 * A failed version was never in force (a rotation that may have
	 * applied stays pending): its password has no use, and it must not
	 * push out an older one that a restored server may still hold.
	 */
	if (s == VD_VS_FAILED) {
		r = vd_secret_del(p->t, p->name, v);
		return r != 0 && r != VD_ENOTFOUND ? (p->r = r) : 0;
	}
	if (s == VD_VS_PENDING && v != p->v) {
		/*
		 * set-password over a pending version: it may have been in
		 * force somewhere, so it becomes "previous" (kept).
		 */
		if ((r = set_state(p->t, p->name, v, VD_VE_SUPERSEDE,
		    p->ts)) != 0)
			return p->r = r;
		s = VD_VS_PREVIOUS;
	}
	if (++p->seen <= KEEP_VERSIONS || s < 0)
		return 0;
	if (s == VD_VS_RETIRED)
		return 1;	/* older ones were retired before */
	if (s == VD_VS_PENDING || s == VD_VS_CURRENT)
		return 0;
	r = vd_secret_del(p->t, p->name, v);
	if (r != 0 && r != VD_ENOTFOUND)
		return p->r = r;
	if (s == VD_VS_PREVIOUS &&
	    (r = set_state(p->t, p->name, v, VD_VE_PRUNE, p->ts)) != 0)
		return p->r = r;
	return 0;
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
	if (j->admin_user != NULL || strcmp(j->trigger, "reconcile") == 0)
		return 0;
	if ((r = load_older(t, j->name, j->cur_v, j->new_v, NULL, &n)) != 0)
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
	struct ent *e = ent_find(rot, j->name);
	json_t *h = NULL, *sf = NULL;
	char ts[VD_TIME_STRLEN];
	const char *res = vd_outcome_name(j->out);
	int64_t every = jint(target, "every", EVERY_DEFAULT), now = vd_now();
	long long retries = 0, revealed_v = 0, reveal_due = 0, prior_fails = 0;
	enum vd_tstate was = VD_TS_OK;
	int r = 0, was_drift;

	*sfp = NULL;
	now_str(ts, sizeof(ts));
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
	if (j->pwerr_read)
		json_object_set_new(sf, "pw_errors_max", json_integer(
		    j->pwerr_max));
	/*
	 * Refused logins vaultd caused since the account last logged in
	 * everywhere (a success resets the server's count): may_start() keeps
	 * the total below the server's max_password_errors.
	 */
	json_object_set_new(sf, "auth_fails", json_integer(j->out ==
	    VD_OUT_OK ? 0 : prior_fails + j->auth_fails));
	if (j->mode == JOB_CHECK) {
		json_object_set_new(sf, "check_due", json_integer(
		    next_check(rot)));
		if (j->out == VD_OUT_OK) {
			json_object_set_new(sf, "last_check", json_integer(now));
			if (was_drift)
				json_object_set_new(sf, "state",
				    json_string(vd_tstate_name(vd_tstate_next(
				    was, j->out, 0))));
			goto commit;
		}
		if (j->out != VD_OUT_DRIFT) {
			json_object_set_new(sf, "last_error",
			    json_string(j->err));
			goto commit;
		}
		if (was_drift)
			goto commit;	/* known already: one entry, not one a
					 * check */
		h = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "version",
		    (json_int_t)j->cur_v, "trigger", "check", "result",
		    vd_outcome_name(j->out),
		    "started_at", ts, "finished_at", ts, "error", j->err);
		if (h == NULL) {
			r = VD_ENOMEM;
			goto fail;
		}
		if ((r = vd_history_append(t, j->name, h, NULL)) != 0 ||
		    (r = repair_follows(t, j, sf)) != 0)
			goto fail;
		json_object_set_new(sf, "state", json_string(vd_tstate_name(
		    vd_tstate_next(was, j->out, 0))));
		json_object_set_new(sf, "last_error", json_string(j->err));
		goto commit;
	}
	(void)e;

	/* Logged in with an older version somewhere: a repair. */
	if (j->repaired)
		snprintf(j->trigger, sizeof(j->trigger), "reconcile");

	/* The history entry of this run, opened by launch(). */
	{
		char st[VD_TIME_STRLEN];

		h = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "version",
		    (json_int_t)j->new_v, "trigger", j->trigger, "result",
		    res, "started_at", vd_time_rfc3339(j->started, st,
		    sizeof(st)), "finished_at", ts, "hosts", j->summary);
	}
	if (h == NULL) {
		r = VD_ENOMEM;
		goto fail;
	}
	if (j->err[0])
		json_object_set_new(h, "error", json_string(j->err));
	if (j->note[0])
		json_object_set_new(h, "note", json_string(j->note));

	switch (j->out) {
	case VD_OUT_OK: {
		crash_point(rot, "before-promote");
		if ((r = set_state(t, j->name, j->new_v, VD_VE_PROMOTE, ts)) != 0 ||
		    (r = vd_rotate_supersede(t, j->name, j->cur_v, j->new_v,
		    ts)) != 0)
			goto fail;
		json_object_set_new(sf, "state", json_string(vd_tstate_name(
		    vd_tstate_next(was, j->out, 0))));
		json_object_set_new(sf, "retries", json_integer(0));
		json_object_set_new(sf, "last_ok", json_integer(now));
		json_object_set_new(sf, "last_error", json_null());
		json_object_set_new(sf, "trigger", json_null());
		json_object_set_new(sf, "next_due", json_integer(e ?
		    next_due(e, every) : now + every));
		if (revealed_v != 0 && (uint64_t)revealed_v == j->new_v) {
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
		if (j->mode == JOB_ROTATE &&
		    (r = set_state(t, j->name, j->new_v, VD_VE_FAIL, ts)) != 0)
			goto fail;
		/* FALLTHROUGH */
	case VD_OUT_UNCERTAIN:
	case VD_OUT__N: {	/* not an outcome: keep what may be pending */
		long long limit = cfg_ll(d->cfg->retry_limit, 10);
		int64_t delay;

		retries++;
		delay = vd_backoff(cfg_ll(d->cfg->retry_min, 30),
		    cfg_ll(d->cfg->retry_max, 3600), (unsigned)retries);
		if (j->out == VD_OUT_UNCERTAIN && retries == 1)
			delay = RESOLVE_DELAY;
		json_object_set_new(sf, "retries", json_integer(retries));
		json_object_set_new(sf, "last_error", json_string(j->err));
		json_object_set_new(sf, "trigger", json_string(
		    strcmp(j->trigger, "manual") == 0 ? "retry" : j->trigger));
		json_object_set_new(sf, "state", json_string(vd_tstate_name(
		    vd_tstate_next(was, j->out, retries > limit))));
		if (j->out == VD_OUT_DRIFT && j->admin_user == NULL)
			/*
			 * Nothing to retry with: wait for a person or the
			 * next cadence (or the repair made due below).
			 */
			json_object_set_new(sf, "next_due", json_integer(now +
			    every));
		else if (retries > limit && j->out != VD_OUT_UNCERTAIN)
			json_object_set_new(sf, "next_due", json_integer(now +
			    every));
		else
			json_object_set_new(sf, "next_due", json_integer(now +
			    delay));
		break;
	}
	}
	/* After the switch: a repair's due time and trigger win. */
	if (j->out == VD_OUT_DRIFT && j->nold == 0 &&
	    (r = repair_follows(t, j, sf)) != 0)
		goto fail;
	if ((r = vd_history_update(t, j->name, j->hist_seq, h)) != 0)
		goto fail;
 commit:
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
	struct ent *e = ent_find(rot, j->name);

	if (e == NULL || sf == NULL)
		return;
	e->auth_fails = jint(sf, "auth_fails", e->auth_fails);
	e->pwerr_max = jint(sf, "pw_errors_max", e->pwerr_max);
	if (j->mode == JOB_CHECK) {
		e->check_due = jint(sf, "check_due", e->check_due);
		if (j->out == VD_OUT_OK || j->out == VD_OUT_DRIFT)
			e->drift = j->out == VD_OUT_DRIFT;
		return;
	}
	e->pending = j->out == VD_OUT_UNCERTAIN ||
	    (j->mode == JOB_RESOLVE && j->out != VD_OUT_OK);
	e->drift = j->out == VD_OUT_DRIFT;
	e->unrec_v = 0;		/* recorded: the store says what is true */
	e->unrec_err = 0;
	e->due = jint(sf, "next_due", e->due);
	snprintf(e->trigger, sizeof(e->trigger), "%s",
	    jstr(sf, "trigger") ? jstr(sf, "trigger") : "schedule");
}

static void
job_free(struct job *j)
{
	free(j->host);
	free(j->sock);
	free(j->user);
	free(j->admin_user);
	free(j->tls_ca);
	for (size_t i = 0; i < j->nhosts; i++)
		free(j->hosts[i]);
	vd_secret_free(j->cur_pw);
	vd_secret_free(j->new_pw);
	vd_secret_free(j->admin_pw);
	for (size_t i = 0; i < j->nold; i++)
		vd_secret_free(j->old_pw[i]);
	free(j);
}

/*
 * Job j's outcome could not be written (disk full, I/O error, map full)
 * after the server may have changed: the vault still says its version is
 * pending, which is the truth it can keep.  The entry resolves it on the
 * next ticks, whatever the window says, until the record succeeds; a
 * version verified on the server is what get serves meanwhile, and status
 * reports the target as unrecorded (critical).  j->err tells the waiters.
 */
static void
unrecorded(struct rot *rot, struct job *j, int r, const char *why)
{
	struct ent *e = ent_find(rot, j->name);

	snprintf(j->err, sizeof(j->err), "%s version %llu on the server, but "
	    "vaultd cannot record it: %.200s; it stays pending and is "
	    "recorded once the data directory allows", j->out == VD_OUT_OK ?
	    "verified" : "maybe applied", (unsigned long long)j->new_v, why);
	if (e == NULL || e->gone)
		return;
	e->pending = 1;
	e->unrec_err = r;
	if (j->out == VD_OUT_OK)
		e->unrec_v = j->new_v;
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
		    "%llu: %s", j->name, vd_outcome_name(j->out),
		    (unsigned long long)(j->mode == JOB_CHECK ? j->cur_v :
		    j->new_v), buf);
		if (j->mode != JOB_CHECK)
			unrecorded(rot, j, r, buf);
	}
	if (r != 0)
		;	/* said above; the outcome is not in the vault */
	else if (j->out == VD_OUT_OK && j->repaired)
		vd_log(LOG_NOTICE, "%s: drift repaired: rotated to version "
		    "%llu (%s); %s: %s", j->name, (unsigned long long)j->new_v,
		    j->trigger, j->note, j->summary);
	else if (j->out == VD_OUT_OK)
		vd_log(LOG_NOTICE, "%s: %s version %llu (%s): %s", j->name,
		    j->mode == JOB_CHECK ? "checked" : "rotated to",
		    (unsigned long long)(j->mode == JOB_CHECK ? j->cur_v :
		    j->new_v), j->trigger, j->summary);
	else
		vd_log(j->out == VD_OUT_DRIFT ? LOG_ALERT : LOG_WARNING,
		    "%s: %s %s (%s): %s", j->name, j->mode == JOB_CHECK ?
		    "check" : "rotation", vd_outcome_name(j->out), j->trigger,
		    j->err);
	res = json_pack("{s:s,s:I,s:s,s:s}", "name", j->name, "version",
	    (json_int_t)(j->mode == JOB_CHECK ? j->cur_v : j->new_v),
	    "result", vd_outcome_name(j->out), "hosts", j->summary);
	if (r == 0 && j->out == VD_OUT_OK)
		notify(j, 0, res);
	else
		notify(j, r != 0 ? r : j->out == VD_OUT_DRIFT ? VD_EAUTH : VD_EDB,
		    res);
	/* Drift only once its record holds it. */
	if (r != 0)
		j->out = VD_OUT_UNCERTAIN;
	json_decref(res);
	/*
	 * Drift: reset through the admin account, or repair from an older
	 * version (j->repair, see record_in()); once, not by a reconcile.
	 */
	reconcile = j->out == VD_OUT_DRIFT && strcmp(j->trigger, "reconcile") !=
	    0 && (j->admin_user != NULL || j->repair);
	if ((e = ent_find(rot, j->name)) != NULL) {
		e->busy = 0;
		if (e->gone) {
			ent_del(rot, e);
			reconcile = 0;
		}
	} else
		reconcile = 0;
	if (reconcile && !rot->stopping)
		(void)start_job(rot, j->name, "reconcile", JOB_ROTATE, NULL);
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
 * transaction, so one fsync covers them all.  Durability is unchanged: a
 * job's waiters hear of it only after its transaction committed.  If the
 * batch fails, each job is retried in a transaction of its own, so one bad
 * record cannot cost the others their outcome.
 */
static void
flush_done(uv_check_t *h)
{
	struct rot *rot = h->data;
	struct job *list = rot->done, *j, *next;
	struct vd_txn *t = NULL;
	json_t *sfs[64];
	size_t n = 0, i;
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
	if (n == 1) {
		record_one(rot, list);
		goto out;
	}
	memset(sfs, 0, sizeof(sfs));
	if ((r = vd_txn_begin(rot->d->st, 1, &t)) == 0) {
		for (j = list, i = 0; j != NULL && r == 0; j = j->next, i++) {
			json_t *target = target_now(t, j->name);

			r = record_in(rot, j, target, t, &sfs[i]);
			json_decref(target);
		}
		if (r == 0) {
			r = vd_txn_commit(t);	/* frees t */
			t = NULL;
		}
		vd_txn_abort(t);
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
 out:
	if (rot->flush_closed && rot->done != NULL)
		flush_done(h);	/* stopping: record the rest now */
	pump(rot);
}

static void
after_work(uv_work_t *w, int status)
{
	struct job *j = container_of(w, struct job, work), **pp;
	struct rot *rot = j->rot;

	for (pp = &rot->running; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	rot->nrunning--;
	rot->d->inflight--;
	if (status == UV_ECANCELED) {
		j->out = VD_OUT_UNREACHABLE;
		snprintf(j->err, sizeof(j->err), "cancelled at shutdown");
	}
	if (j->mode != JOB_CHECK)
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

/* ---- starting jobs (loop thread) -------------------------------------- */

/* Copies what the worker needs from the target record into j. */
static int
copy_target(struct rot *rot, struct job *j, const json_t *target)
{
	const json_t *ah = json_object_get(target, "account_hosts");
	const char *s;

	if ((s = jstr(target, "host")) != NULL && (j->host = strdup(s)) ==
	    NULL)
		return VD_ENOMEM;
	if ((s = jstr(target, "unix_socket")) != NULL &&
	    (j->sock = strdup(s)) == NULL)
		return VD_ENOMEM;
	if ((s = jstr(target, "user")) == NULL)
		return vd_err_set(VD_EINVAL, "target %s has no user", j->name);
	if ((j->user = strdup(s)) == NULL)
		return VD_ENOMEM;
	if ((s = jstr(target, "admin_user")) != NULL &&
	    (j->admin_user = strdup(s)) == NULL)
		return VD_ENOMEM;
	j->port = (unsigned)jint(target, "port", 0);
	j->tls = json_object_get(target, "tls") != NULL;
	if ((s = jstr(target, "tls_ca")) != NULL &&
	    (j->tls_ca = strdup(s)) == NULL)
		return VD_ENOMEM;
	j->timeout = (unsigned)cfg_ll(rot->d->cfg->connect_timeout, 10);
	if (json_is_array(ah)) {
		size_t i;
		json_t *h;

		json_array_foreach(ah, i, h) {
			if (j->nhosts == MAX_HOSTS || !json_is_string(h))
				break;
			if ((j->hosts[j->nhosts] = strdup(json_string_value(h)))
			    == NULL)
				return VD_ENOMEM;
			j->nhosts++;
		}
	}
	return 0;
}

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
    enum job_mode mode)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->rot = rot;
	j->mode = mode;
	j->pwerr_max = -1;
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
	struct vers vs;
	int r;

	*dirty = 0;
	now_str(ts, sizeof(ts));
	if ((r = vd_target_get(t, name, &target)) != 0 ||
	    (r = copy_target(rot, j, target)) != 0 ||
	    (r = find_versions(t, name, &vs)) != 0)
		goto out;
	{
		/* The account's limit a check noted, and the refusals so far. */
		json_t *s = NULL;

		if (vd_sched_get(t, name, &s) == 0) {
			j->pwerr_max = jint(s, "pw_errors_max", -1);
			j->prior_fails = jint(s, "auth_fails", 0);
			json_decref(s);
		}
	}
	if (vs.cur == 0) {
		r = vd_err_set(VD_ENOTFOUND, "target %s has no current "
		    "version", name);
		goto out;
	}
	j->cur_v = vs.cur;
	if ((r = vd_secret_get(t, name, vs.cur, &j->cur_pw)) != 0)
		goto out;
	if (j->admin_user != NULL &&
	    (r = vd_admin_secret_get(t, name, &j->admin_pw)) != 0) {
		vd_err_set(r, "target %s: no password stored for its admin "
		    "account", name);
		goto out;
	}
	if (j->mode == JOB_CHECK) {
		if (vs.pending != 0)
			r = vd_err_set(VD_EBUSY, "pending version");
		goto out;
	}
	if (vs.pending != 0) {
		/* Never generate anew for a version that may be in force. */
		j->mode = JOB_RESOLVE;
		j->new_v = vs.pending;
		if ((r = vd_secret_get(t, name, vs.pending, &j->new_pw)) != 0)
			goto out;
	} else {
		if (d->cfg->policies == NULL || (pol = vd_policyset_get(
		    d->cfg->policies, jstr(target, "policy") ?
		    jstr(target, "policy") : "default")) == NULL) {
			r = vd_err_set(VD_EPOLICY, "target %s: policy %s is not "
			    "configured", name, jstr(target, "policy") ?
			    jstr(target, "policy") : "default");
			goto out;
		}
		if ((r = vd_policy_generate(pol, &j->new_pw)) != 0 ||
		    (r = vd_version_last(t, name, &j->new_v)) != 0)
			goto out;
		j->new_v++;
		meta = json_pack("{s:s,s:s,s:s,s:s}", "state",
		    vd_vstate_name(VD_VS_PENDING),
		    "trigger", trigger, "created_at", ts, "policy",
		    jstr(target, "policy") ? jstr(target, "policy") :
		    "default");
		if (meta == NULL) {
			r = VD_ENOMEM;
			goto out;
		}
		/*
		 * The envelopes commit with the version itself: a password
		 * that may reach the server is always recoverable offline.
		 */
		*dirty = 1;
		if ((r = vd_secret_put(t, name, j->new_v, j->new_pw)) != 0 ||
		    (r = vd_version_put(t, name, j->new_v, meta)) != 0 ||
		    (r = vd_escrow_seal_version(rot->ec, d->st, t, name,
		    j->new_v, j->new_pw)) != 0)
			goto out;
	}
	/*
	 * Without an admin account, a resolution (its versions may not log
	 * in: drift found at start-up) and a reconcile can repair drift with
	 * an older version: load them, and the server's limit on failed
	 * logins a check noted.
	 */
	if (j->admin_user == NULL && (j->mode == JOB_RESOLVE ||
	    strcmp(trigger, "reconcile") == 0) &&
	    (r = load_older(t, name, j->cur_v, j->new_v, j, NULL)) != 0)
		goto out;
	hist = json_pack("{s:I,s:s,s:s,s:s}", "version", (json_int_t)j->new_v,
	    "trigger", j->mode == JOB_RESOLVE && strcmp(trigger, "manual") != 0
	    && strcmp(trigger, "reconcile") != 0 ? "recovery" : trigger,
	    "result", "running", "started_at", ts);
	if (hist == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if (j->mode == JOB_RESOLVE)
		snprintf(j->trigger, sizeof(j->trigger), "%s",
		    jstr(hist, "trigger"));
	/*
	 * A resolution finishes the run that left its version pending (a
	 * crash, a record that failed): that run's history row, still
	 * "running", gets the outcome instead of a second row.
	 */
	if (j->mode == JOB_RESOLVE) {
		struct open_row o = { j->new_v, 0 };

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
	    j->mode == JOB_CHECK ? "check" : "rotation", buf);
	job_free(j);
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

	if ((e = ent_find(rot, j->name)) != NULL) {
		e->busy = 1;
		if (j->mode != JOB_CHECK)
			e->pending = 1;
	}
	j->next = rot->running;
	rot->running = j;
	rot->nrunning++;
	d->inflight++;
	if ((r = uv_queue_work(d->loop, &j->work, worker, after_work)) != 0) {
		/* Never queued: unwind (after_work will not run). */
		rot->running = j->next;
		rot->nrunning--;
		d->inflight--;
		if (e != NULL)
			e->busy = 0;
		r = vd_err_set(VD_ENOMEM, "cannot queue work: %s",
		    uv_strerror(r));
		not_started(j, r);
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
    enum job_mode mode, struct waiter **wp)
{
	struct vd_txn *t = NULL;
	struct job *j;
	int r, dirty;

	if ((j = job_new(rot, name, trigger, mode)) == NULL)
		return VD_ENOMEM;
	if ((r = vd_txn_begin(rot->d->st, mode != JOB_CHECK, &t)) != 0 ||
	    (r = prep(rot, j, t, &dirty)) != 0) {
		vd_txn_abort(t);
		not_started(j, r);
		return r;
	}
	if (j->mode == JOB_CHECK)
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
 * Launches the n queued requests qs in one write transaction (one fsync
 * for all their pending versions).  Requests that fail before writing
 * anything fail alone; a failure after writing spoils the transaction,
 * and then each request is launched on its own.  Frees the requests.
 */
static void
launch_batch(struct rot *rot, struct qreq **qs, size_t n)
{
	struct job *jobs[64];
	struct vd_txn *t = NULL;
	size_t i;
	int r, dirty = 0;

	memset(jobs, 0, sizeof(jobs));
	if (n > VD_NELEM(jobs) || (r = vd_txn_begin(rot->d->st, 1, &t)) != 0)
		goto one_by_one;
	for (i = 0; i < n; i++) {
		if ((jobs[i] = job_new(rot, qs[i]->name, qs[i]->trigger,
		    qs[i]->mode)) == NULL) {
			r = VD_ENOMEM;
			dirty = 1;	/* cannot tell: start over */
		} else
			r = prep(rot, jobs[i], t, &dirty);
		if (r == 0)
			continue;
		if (dirty)
			goto spoiled;
		fail_waiters(qs[i]->waiters, r, vd_err_detail());
		qs[i]->waiters = NULL;
		qs[i]->name[0] = '\0';	/* answered: not to be retried */
		not_started(jobs[i], r);
		jobs[i] = NULL;
	}
	if ((r = vd_txn_commit(t)) != 0) {	/* frees t */
		t = NULL;
		for (i = 0; i < n; i++)
			if (jobs[i] != NULL) {
				fail_waiters(qs[i]->waiters, r, vd_strerror(r));
				qs[i]->waiters = NULL;
				not_started(jobs[i], r);
			}
		goto out;
	}
	crash_point(rot, "after-pending");
	for (i = 0; i < n; i++)
		if (jobs[i] != NULL && run_job(rot, jobs[i], &qs[i]->waiters)
		    != 0) {
			fail_waiters(qs[i]->waiters, VD_ENOMEM,
			    vd_err_detail());
			qs[i]->waiters = NULL;
		}
	goto out;
 spoiled:
	vd_txn_abort(t);
	t = NULL;
	for (i = 0; i < n; i++)
		if (jobs[i] != NULL) {
			job_free(jobs[i]);
			jobs[i] = NULL;
		}
 one_by_one:
	vd_txn_abort(t);
	for (i = 0; i < n; i++) {
		if (qs[i]->name[0] == '\0')
			continue;
		if (launch(rot, qs[i]->name, qs[i]->trigger, qs[i]->mode,
		    &qs[i]->waiters) != 0) {
			fail_waiters(qs[i]->waiters, VD_EBUSY, vd_err_detail());
			qs[i]->waiters = NULL;
		}
	}
 out:
	for (i = 0; i < n; i++)
		free(qs[i]);
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

/* Why a due or queued job must not start now (0: it may). */
enum { HOLD_PAUSED = 1, HOLD_WINDOW, HOLD_DRIFT };

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
 * held job's due time moves to the window's next opening.
 */
static int
may_start(struct rot *rot, struct ent *e, const char *trigger, int64_t now)
{
	int scheduled = strcmp(trigger, "schedule") == 0 ||
	    strcmp(trigger, "after-reveal") == 0 ||
	    strcmp(trigger, "retry") == 0;
	int asked = strcmp(trigger, "manual") == 0 ||
	    strcmp(trigger, "breakglass") == 0 ||
	    strcmp(trigger, "reconcile") == 0;

	if (!asked && over_budget(e))
		return HOLD_DRIFT;
	if (e->pending || !scheduled)
		return 0;
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
		e->check_due = next_check(rot);
	}
	if (e->due <= now)
		e->due = e->check_due;
}

/*
 * Starts a job now, joins one running for the same target, or queues it
 * behind the concurrency limit.  On success takes the waiters *wp (sets it
 * NULL); on failure leaves them to the caller.
 */
static int
start_job(struct rot *rot, const char *name, const char *trigger,
    enum job_mode mode, struct waiter **wp)
{
	struct ent *e = ent_find(rot, name);
	struct waiter *w = wp ? *wp : NULL;
	struct qreq *q;
	long long limit = conc_limit(rot);

	if (rot->stopping)
		return vd_err_set(VD_EBUSY, "vaultd is shutting down");
	if (e != NULL && (e->busy || e->queued)) {
		/* Join: the running (or queued) job's outcome answers. */
		struct job *j;

		for (j = rot->running; j != NULL; j = j->next)
			if (strcmp(j->name, name) == 0 && j->mode != JOB_CHECK)
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
				if (q->mode == JOB_CHECK) {
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
	return 0;
}

/* Starts queued requests while slots are free, in one batch. */
static void
pump(struct rot *rot)
{
	long long limit = conc_limit(rot);
	struct qreq *q, **pp = &rot->qhead, *prev = NULL, *batch[64];
	size_t n = 0;

	while ((q = *pp) != NULL && rot->nrunning + n < (size_t)limit &&
	    n < VD_NELEM(batch) && !rot->stopping) {
		struct ent *e = ent_find(rot, q->name);

		if (e != NULL && e->busy) {
			prev = q;
			pp = &q->next;
			continue;	/* its target is still busy */
		}
		if (e != NULL && q->waiters == NULL && q->mode != JOB_CHECK &&
		    may_start(rot, e, q->trigger, vd_now()) != 0) {
			/*
			 * Queued while it could start; the window closed, a
			 * pause or drift came since: the tick starts it again
			 * when it may.
			 */
			*pp = q->next;
			if (rot->qtail == q)
				rot->qtail = prev;
			e->queued = 0;
			free(q);
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
		struct ent *e = ent_find(rot, batch[i]->name);

		if (e != NULL)
			e->busy = 0;	/* run_job() sets it again */
	}
	if (n == 1) {
		q = batch[0];
		if (launch(rot, q->name, q->trigger, q->mode, &q->waiters) != 0)
			fail_waiters(q->waiters, VD_EBUSY, vd_err_detail());
		free(q);
	} else if (n > 1)
		launch_batch(rot, batch, n);
}

/*
 * The scheduler tick, every TICK_MS.  Jobs:
 *   - every 10th tick: audit break-glass openings recorded offline and
 *     rotate their targets;
 *   - start queued requests (pump);
 *   - start rotations that are due (cadence, after-reveal, retries,
 *     recovery of pending versions), inside their window, up to the
 *     concurrency limit; with [rotation] paused, only recoveries;
 *   - start drift checks that are due, when a slot is free (not paused).
 * Bounded: one pass over the targets, at most `concurrency` starts; due
 * rotations beyond that join the FIFO, which pump() drains as jobs end
 * (stopping at `concurrency` here capped scheduled rotations at
 * `concurrency` a second: bench/, docs/benchmarks.md).
 */
static void
tick(uv_timer_t *h)
{
	struct rot *rot = h->data;
	long long limit = conc_limit(rot);
	int64_t now = vd_now();

	if (rot->stopping)
		return;
	/*
	 * Due times are whole seconds: fire just after each second begins,
	 * not at the phase the daemon happened to start at (up to 1 s late).
	 */
	uv_timer_start(h, tick, (uint64_t)(TICK_MS - vd_now_ms() % TICK_MS + 2),
	    0);
	if (!vd_store_unlocked(rot->d->st))
		return;
	if (rot->ticks++ % 10 == 0)
		breakglass_reports(rot);
	pump(rot);
	/* Due work joins the FIFO; one pump() then starts it as a batch. */
	rot->defer = 1;
	for (size_t i = 0; i < rot->nents; i++) {
		struct ent *e = &rot->ents[i];
		char name[VD_NAME_MAX + 1];

		if (e->busy || e->queued || e->gone)
			continue;
		snprintf(name, sizeof(name), "%s", e->name);
		if (e->due != 0 && e->due <= now) {
			int why = may_start(rot, e, e->trigger, now);

			if (why == HOLD_DRIFT) {
				drift_alert(rot, e, now);
				continue;
			}
			if (why != 0)
				continue;
			e->due = now + 60;	/* until recorded */
			(void)start_job(rot, name, e->trigger, JOB_ROTATE,
			    NULL);
			/* start_job may have moved the array: re-find. */
			if ((e = ent_find(rot, name)) == NULL)
				break;
			i = (size_t)(e - rot->ents);
		} else if (e->check_due != 0 && e->check_due <= now &&
		    e->drift) {
			/* Known refused: no login with it, an alert instead. */
			drift_alert(rot, e, now);
		} else if (e->check_due != 0 && e->check_due <= now &&
		    rot->nrunning < limit && !rot->d->cfg->paused) {
			e->check_due = next_check(rot);
			(void)start_job(rot, name, "check", JOB_CHECK, NULL);
			if ((e = ent_find(rot, name)) == NULL)
				break;
			i = (size_t)(e - rot->ents);
		}
	}
	rot->defer = 0;
	pump(rot);
}

/* ---- escrow ----------------------------------------------------------- */

/*
 * Builds the escrow configuration from d->cfg and re-seals the current
 * versions when the parties or mode changed.  On error the previous
 * configuration stays in force.
 */
static int
escrow_load(struct rot *rot)
{
	struct vd_escrow_cfg *ec = NULL;
	struct vd_txn *t = NULL;
	char fp[VD_ESCROW_FPLEN + 1];
	int r, stale = 0;

	if ((r = vd_escrow_cfg_from_json(rot->d->cfg->escrow, &ec)) != 0) {
		char buf[300];

		vd_log(LOG_ERR, "[escrow]: %s", vd_err_format(r, buf,
		    sizeof(buf)));
		return r;
	}
	if (vd_escrow_cfg_parties(ec) > 0) {
		if ((r = vd_txn_begin(rot->d->st, 0, &t)) != 0 ||
		    (r = vd_escrow_stale(ec, t, &stale)) != 0)
			goto out;
		vd_txn_abort(t);
		t = NULL;
		if (stale) {
			if ((r = vd_txn_begin(rot->d->st, 1, &t)) != 0 ||
			    (r = vd_escrow_reseal(ec, rot->d->st, t)) != 0)
				goto out;
			r = vd_txn_commit(t);
			t = NULL;
			if (r != 0)
				goto out;
			vd_log(LOG_NOTICE, "escrow: current versions re-sealed "
			    "to %zu parties", vd_escrow_cfg_parties(ec));
		}
		if (vd_escrow_vault_fp(rot->d->st, fp) == 0)
			vd_log(LOG_INFO, "escrow: %zu parties; vault signing key "
			    "%s", vd_escrow_cfg_parties(ec), fp);
	}
	vd_escrow_cfg_free(rot->ec);
	rot->ec = ec;
	ec = NULL;
	r = 0;
 out:
	if (r != 0) {
		char buf[300];

		vd_log(LOG_ERR, "escrow: %s", vd_err_format(r, buf,
		    sizeof(buf)));
	}
	vd_txn_abort(t);
	vd_escrow_cfg_free(ec);
	return r;
}

struct report {
	char		 target[VD_NAME_MAX + 1];
	uint64_t	 v;
	char		*json;		/* the openings, as stored */
	struct report	*next;
};

static int
report_cb(const char *target, uint64_t v, const char *json, size_t len,
    void *arg)
{
	struct report **head = arg, *rp;

	if ((rp = calloc(1, sizeof(*rp))) == NULL ||
	    (rp->json = strndup(json, len)) == NULL) {
		free(rp);
		return VD_ENOMEM;
	}
	snprintf(rp->target, sizeof(rp->target), "%s", target);
	rp->v = v;
	rp->next = *head;
	*head = rp;
	return 0;
}

/*
 * Handles break-glass openings that vaultctl recorded in the data
 * directory: each becomes an audit entry, and its target is rotated
 * (trigger "breakglass"), because a disclosed password is spent.
 */
static void
breakglass_reports(struct rot *rot)
{
	struct report *head = NULL, *rp, *next;
	struct vd_txn *t = NULL;
	int r;

	if (vd_txn_begin(rot->d->st, 0, &t) != 0)
		return;
	r = vd_escrow_reports(t, report_cb, &head);
	vd_txn_abort(t);
	t = NULL;
	if (r != 0 || head == NULL)
		goto out;
	if ((r = vd_txn_begin(rot->d->st, 1, &t)) != 0)
		goto out;
	for (rp = head; rp != NULL; rp = rp->next) {
		json_error_t jerr;
		json_t *e = json_pack("{s:s,s:s,s:I,s:s}", "event",
		    "breakglass", "target", rp->target, "version",
		    (json_int_t)rp->v, "result", "opened");
		json_t *open = json_loads(rp->json, 0, &jerr);

		if (e != NULL && open != NULL)
			json_object_set_new(e, "openings", open);
		else
			json_decref(open);
		r = e == NULL ? VD_ENOMEM : vd_audit_append(t, e, NULL);
		json_decref(e);
		if (r == 0) {
			/*
			 * Opened: rotated now, and again once promoted if it
			 * was still pending (record_in(), revealed_v).
			 */
			json_t *sf = json_pack("{s:I,s:I,s:I}", "revealed_at",
			    (json_int_t)vd_now(), "revealed_v",
			    (json_int_t)rp->v, "after_reveal_due",
			    (json_int_t)vd_now());

			r = sf == NULL ? VD_ENOMEM : ent_find(rot, rp->target)
			    == NULL ? 0 : vd_sched_update(t, rp->target, sf);
			json_decref(sf);
		}
		if (r != 0 || (r = vd_escrow_report_clear(t, rp->target,
		    rp->v)) != 0)
			break;
	}
	if (r == 0) {
		r = vd_txn_commit(t);
		t = NULL;
	}
	if (r != 0) {
		vd_log(LOG_ERR, "cannot record break-glass reports: %s",
		    vd_strerror(r));
		goto out;
	}
	for (rp = head; rp != NULL; rp = rp->next) {
		vd_log(LOG_ALERT, "%s: break-glass opening of version %llu "
		    "reported: rotating it", rp->target,
		    (unsigned long long)rp->v);
		if (ent_find(rot, rp->target) != NULL)
			(void)start_job(rot, rp->target, "breakglass",
			    JOB_ROTATE, NULL);
	}
 out:
	vd_txn_abort(t);
	for (rp = head; rp != NULL; rp = next) {
		next = rp->next;
		free(rp->json);
		free(rp);
	}
}

/* ---- public ----------------------------------------------------------- */

/* Stores the due times computed for targets that had none. */
static void
persist_new(struct rot *rot)
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

struct load_ctx {
	struct rot	*rot;
	struct vd_txn	*t;
	size_t		 overdue;
	int64_t		 now;
	int		 r;
};

static int
load_cb(const char *name, json_t *target, void *arg)
{
	struct load_ctx *lc = arg;
	json_t *sched = NULL;
	struct vers vs;
	struct ent *e;
	int r;

	if ((e = ent_add(lc->rot, name)) == NULL)
		return VD_ENOMEM;
	if ((r = vd_sched_get(lc->t, name, &sched)) != 0 && r != VD_ENOTFOUND)
		return r;
	ent_load(lc->rot, e, target, sched);
	json_decref(sched);
	if ((r = find_versions(lc->t, name, &vs)) != 0)
		return r;
	e->pending = vs.pending != 0;
	if (vs.pending != 0) {
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
	if ((crash = getenv(VD_ROTATE_CRASH_ENV)) != NULL)
		snprintf(rot->crash, sizeof(rot->crash), "%s", crash);
	if ((r = vd_drv_init()) != 0)
		goto fail;
	if ((r = escrow_load(rot)) != 0)
		vd_log(LOG_WARNING, "escrow is not in force: new versions are "
		    "not escrowed until [escrow] is fixed");
	memset(&lc, 0, sizeof(lc));
	lc.rot = rot;
	lc.now = vd_now();
	if ((r = vd_txn_begin(d->st, 0, &lc.t)) != 0)
		goto fail;
	r = vd_target_each(lc.t, load_cb, &lc);
	vd_txn_abort(lc.t);
	if (r != 0)
		goto fail;
	persist_new(rot);
	uv_check_init(d->loop, &rot->flush);
	rot->flush.data = rot;
	uv_timer_init(d->loop, &rot->timer);
	rot->timer.data = rot;
	uv_timer_start(&rot->timer, tick, 0, 0);	/* tick() re-arms itself */
	engine = rot;
	vd_log(LOG_INFO, "scheduler started: %zu targets, %zu overdue",
	    rot->nents, lc.overdue);
	vd_store_release_pages(d->st);	/* the load touched every record */
	return 0;
 fail:
	vd_escrow_cfg_free(rot->ec);
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
		if ((e = ent_find(rot, q->name)) != NULL)
			e->queued = 0;
		free(q);
	}
	rot->qhead = rot->qtail = NULL;
	vd_log(LOG_INFO, "scheduler stopped; %u rotations finishing",
	    rot->nrunning);
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
		if ((e = ent_find(rot, target)) != NULL) {
			if (e->busy)
				e->gone = 1;
			else
				ent_del(rot, e);
		}
		goto out;
	}
	if (r != 0)
		goto out;
	if ((e = ent_add(rot, target)) == NULL)
		goto out;
	e->gone = 0;
	if (vd_sched_get(t, target, &sched) != 0)
		sched = NULL;
	ent_load(rot, e, tr, sched);
	if (!e->busy) {
		struct vers vs;

		/* set-password may have superseded a pending version. */
		if (find_versions(t, target, &vs) == 0)
			e->pending = vs.pending != 0;
		if (!e->pending)
			e->unrec_v = 0;
	}
 out:
	vd_txn_abort(t);
	json_decref(tr);
	json_decref(sched);
	persist_new(rot);
}

int
vd_rotate_escrow(struct vd_daemon *d, struct vd_txn *t, const char *target,
    uint64_t v, const struct vd_secret *pw)
{
	if (engine == NULL)
		return 0;	/* sealed: re-sealed when the engine starts */
	return vd_escrow_seal_version(engine->ec, d->st, t, target, v, pw);
}

int
vd_rotate_reload(struct vd_daemon *d)
{
	if (engine == NULL)
		return 0;
	return escrow_load(engine);
}

unsigned
vd_rotate_running(const struct vd_daemon *d)
{
	return engine != NULL ? engine->nrunning : 0;
}

int
vd_rotate_request(struct vd_daemon *d, const char *target,
    const char *trigger, vd_rotate_cb cb, void *arg)
{
	struct rot *rot = engine;
	struct waiter *w = NULL;
	int r;

	if (rot == NULL)
		return vd_err_set(VD_ESEALED, "the rotation engine starts once "
		    "the vault is unsealed");
	if (!vd_name_valid(target))
		return vd_err_set(VD_ENOTFOUND, "no such target");
	if (ent_find(rot, target) == NULL)
		vd_rotate_notify(d, target);	/* added a moment ago? */
	if (ent_find(rot, target) == NULL)
		return vd_err_set(VD_ENOTFOUND, "no such target");
	if (cb != NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			return VD_ENOMEM;
		w->cb = cb;
		w->arg = arg;
	}
	r = start_job(rot, target, trigger, JOB_ROTATE, &w);
	free_waiters(w);	/* not taken: the caller answers from r */
	return r;
}

/* ---- for target.set_password (api.c) ---------------------------------- */

int
vd_rotate_supersede(struct vd_txn *t, const char *target, uint64_t cur,
    uint64_t v, const char *ts)
{
	struct prune p = { t, target, v, ts, 0, 0 };
	int r;

	if (cur != 0 && cur != v &&
	    (r = set_state(t, target, cur, VD_VE_SUPERSEDE, ts)) != 0)
		return r;
	if ((r = vd_version_each(t, target, 0, prune_cb, &p)) < 0)
		return r;
	return p.r;
}

int
vd_rotate_busy(const struct vd_daemon *d, const char *target)
{
	struct ent *e;

	if (engine == NULL || (e = ent_find(engine, target)) == NULL)
		return 0;
	return e->busy;
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
	if (rot == NULL || rot->stopping || (e = ent_find(rot, target)) ==
	    NULL)
		return 0;
	for (j = rot->running; j != NULL; j = j->next)
		if (j->mode != JOB_CHECK && strcmp(j->name, target) == 0)
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
	if (start_job(rot, target, "recovery", JOB_ROTATE, &w) != 0) {
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
	if (engine == NULL || (e = ent_find(engine, target)) == NULL)
		return 0;
	if (unrec_err != NULL && e->pending)
		*unrec_err = e->unrec_err;
	return e->unrec_v;
}
