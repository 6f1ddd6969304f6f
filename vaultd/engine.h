/*
 * engine.h - the rotation engine's internals, shared by rotate.c (the job
 * life cycle: prepare, run, record, finish) and sched.c (the scheduler:
 * one entry per target, the tick, what may start when).  Not an API:
 * nothing outside those two files includes it (STYLE.md: cross-file
 * internals are vd__).  Everything here runs on the loop thread.
 */
#ifndef VD_ENGINE_H
#define VD_ENGINE_H

#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "apply.h"
#include "daemon.h"
#include "rotate.h"
#include "timing.h"
#include "util.h"

struct vd_escrow_sealed;

#define TICK_MS			1000	/* scheduler period */
#define CHECK_EVERY_DEFAULT	86400	/* drift check period */
#define JITTER_MAX		3600	/* jitter cap, seconds */
#define REPLICA_DELAY		5	/* check a replica after its primary */
#define RESOLVE_DELAY		5	/* first retry of an uncertain apply */



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
	char		 name[VD_NAME_MAX + 1];	/* target */
	char		 trigger[16];	/* schedule, manual, recovery … */
	struct vd_apply	 a;		/* the thread pool's part: copies of
					 * the target, passwords, outcome */
	uint64_t	 hist_seq;	/* history entry of this job */
	int64_t		 started;	/* when it started */
	int		 repair;	/* record_in(): a reconcile follows */
	int64_t		 checkout_req;	/* the request whose checkout's end
					 * this rotation is (history), or 0 */
	struct waiter	*waiters;	/* who to tell */
	struct preseal	*ps;		/* during prep() only: sealed ahead */
	struct job	*next;		/* running list */
	struct job	*hnext;		/* held list: prepared ahead (its
					 * pending version committed), waiting
					 * for a slot */
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
	char		 replica_of[VD_NAME_MAX + 1];	/* "": none; else
					 * the primary's target: never rotated
					 * itself, checked after its rotations */
	struct vd_window win;		/* rotation window */
	int		 role_denied;	/* its account may not read the replica
					 * status (learned by a job; kept in
					 * the schedule record, field
					 * learned_denied, until the target
					 * record changes: apply.h) */
	int		 log_off_denied;	/* its account may not set
					 * sql_log_off (likewise) */
	int		 checked_out;	/* a checkout holds it (issue 17):
					 * scheduled rotations wait */
};

/* A request waiting for a free slot. */
struct qreq {
	char		 name[VD_NAME_MAX + 1];
	char		 trigger[16];
	enum vd_apply_mode	 mode;
	struct waiter	*waiters;
	struct preseal	*ps;		/* its password, sealed ahead, or NULL */
	int		 ps_failed;	/* sealing ahead failed: not again */
	struct qreq	*next;
};

/*
 * A queued rotation's new password, generated on the loop thread and
 * sealed to the escrow parties on the thread pool while the request
 * waits (issue 18: sealing was most of the loop thread's work).  prep()
 * takes it when it still fits (version number, policy name, parties);
 * otherwise it generates and seals as before.  Nothing here is on disk:
 * the pending commit writes it, so durability is unchanged.
 */
struct preseal {
	uv_work_t	 work;		/* thread-pool request (sealing) */
	struct rot	*rot;		/* the engine */
	struct qreq	*q;		/* owner; NULL: orphaned, freed when
					 * the work ends */
	int		 running;	/* on the thread pool */
	char		 policy[VD_NAME_MAX + 1];	/* generated under */
	uint64_t	 v;		/* the version it is sealed as */
	struct vd_secret *pw;		/* the password (secure memory) */
	struct vd_escrow_sealed *s;	/* its envelopes */
};

struct rot {
	struct vd_daemon *d;		/* the daemon */
	uv_timer_t	 timer;		/* the scheduler tick */
	struct ent	*ents;		/* sorted by name */
	size_t		 nents, cap;
	struct job	*running;	/* jobs in flight: on the thread pool,
					 * or prepared ahead and held */
	unsigned	 nrunning;	/* jobs in running */
	unsigned	 nactive;	/* of them on the thread pool: at most
					 * vd__conc_limit() */
	struct job	*held, *held_tail;	/* FIFO of held jobs */
	struct qreq	*qhead, *qtail;	/* FIFO of waiting requests */
	unsigned	 npreseal;	/* queued requests holding a preseal */
	unsigned long long sealed_ahead;	/* versions prep() took sealed
						 * ahead (logged at stop) */
	int		 stopping;	/* no new jobs */
	char		 crash[32];	/* test-only crash point */
	unsigned	 ticks;		/* timer ticks so far */
	uv_check_t	 flush;		/* group commit of finished jobs */
	int		 defer;		/* start_job() queues (tick batches) */
	int		 flush_closed;	/* flush handle closed (stopping) */
	long long	 pool;		/* libuv's thread pool size */
	struct job	*done, *done_tail;	/* finished, not yet recorded */
};

/* Why a due or queued job must not start now (0: it may). */
enum { HOLD_PAUSED = 1, HOLD_WINDOW, HOLD_DRIFT, HOLD_CHECKOUT };

static inline long long
cfg_ll(long long v, long long dflt)
{
	return v > 0 ? v : dflt;
}

static inline int64_t
jint(const json_t *o, const char *k, int64_t dflt)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static inline const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* sched.c: the entries (sorted by name; the store is the truth). */
struct ent *vd__ent_find(struct rot *rot, const char *name);
struct ent *vd__ent_add(struct rot *rot, const char *name);
void vd__ent_del(struct rot *rot, struct ent *e);
void vd__ent_load(struct rot *rot, struct ent *e, const json_t *target,
    const json_t *sched);
int64_t vd__next_due(const struct ent *e, int64_t every);
int64_t vd__next_check(const struct rot *rot);
long long vd__conc_limit(const struct rot *rot);
long long vd__run_capacity(const struct rot *rot);
int vd__may_start(struct rot *rot, struct ent *e, const char *trigger,
    int64_t now);
void vd__persist_new(struct rot *rot);
void vd__tick(uv_timer_t *h);

/* Start-up load of every target's entry (vd_target_each callback). */
struct load_ctx {
	struct rot	*rot;
	struct vd_txn	*t;
	size_t		 overdue;
	int64_t		 now;
	int		 r;
};
int vd__load_cb(const char *name, json_t *target, void *arg);

/* rotate.c: starting jobs. */
int vd__start_job(struct rot *rot, const char *name, const char *trigger,
    enum vd_apply_mode mode, struct waiter **wp);
void vd__pump(struct rot *rot);

#endif
