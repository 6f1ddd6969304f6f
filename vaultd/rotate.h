/*
 * rotate.h - the rotation engine and scheduler.
 *
 * The invariant: at every instant the vault holds a password that logs in.
 * A rotation (DESIGN.md "Rotation, crash-safe"):
 *
 *   1. generate a password to the target's policy (loop thread);
 *   2. commit it as version v+1 "pending", with a history entry, durable
 *      before anything touches the server (loop thread);
 *   3. apply it to every host of the account, then verify each host with a
 *      fresh login (thread pool: MariaDB calls never run on the loop);
 *   4. one transaction: v+1 "current", v "previous", history, schedule
 *      (loop thread).
 *
 * A pending version found at start-up or on a retry is resolved forward,
 * whatever the window or pause say: hosts that already take it (a login,
 * or the row's stored hash where no login reaches it) are left alone, the
 * others get it, all are verified.  A pending password is never replaced
 * by a new one, because it may already be in force on some host; an admin
 * can supersede it (target.set_password) or abandon it once no row holds
 * it (vd_rotate_abandon()).  get waits for a job in flight and never
 * hands out a password while which one is in force is unknown.
 *
 * The protocol's states and transitions are state.h's; the engine's
 * seams: sched.c (when), rotate.c (job life cycle), apply.c (the server),
 * versions.c (version records).  model/rotation.pml is its Promela model,
 * checked by tests/model (claims: a password that logs in is always
 * stored and get answers only with it; no generation while a pending one
 * may be in force; every pending version is resolved; refused logins stay
 * below max_password_errors).
 *
 * Drift (the vault's password is refused: typically the database was
 * restored from a backup, bringing back an older password) is repaired
 * through the admin account when the target has one.  Without one, a
 * rotation with trigger "reconcile" logs in on each account host with the
 * first password that works there, current, then pending, then the kept
 * older versions that may have been in force (newest first), and changes
 * the password through that session; the history entry notes which
 * version the server held.  Its new version is pending and durable before
 * anything is tried on the server, like every rotation's, and a pending
 * version met at start-up is resolved the same way.  Logins are bounded:
 * each password once per host per attempt, attempts paced by the backoff
 * or the cadence, fewer tries where the server blocks an account after
 * failed logins (max_password_errors).  When no kept version logs in, the
 * target stays in "drift" for a person.
 *
 * Scheduling state (next due time, retries, state, last error) lives in the
 * store's schedule records, so a restart neither skips nor repeats work.
 * Everything here runs on the loop thread except the work callbacks.
 */
#ifndef VD_ROTATE_H
#define VD_ROTATE_H

#include "daemon.h"

struct vd_txn;
struct vd_secret;

/*
 * Starts the engine once the vault is unlocked: loads every target's
 * schedule, queues the resolution of pending versions (trigger
 * "recovery"), and starts the scheduler's timer.  Idempotent.  Returns 0
 * or a negative error.
 */
int vd_rotate_start(struct vd_daemon *d);

/*
 * Stops the engine: no new rotations start; queued requests fail with
 * VD_EBUSY; rotations in flight finish and record their outcome.  The
 * timer is closed, so the loop can end once they are done.
 */
void vd_rotate_stop(struct vd_daemon *d);

/*
 * Tells the engine that target's record or schedule changed in the store
 * (added, removed, revealed, edited): it reloads that target's schedule.
 */
void vd_rotate_notify(struct vd_daemon *d, const char *target);

/*
 * Tells the engine that d->cfg was replaced (SIGHUP): it rebuilds what it
 * derives from the configuration.  Escrow is escrowd.c's
 * (vd_escrowd_load(): re-seals when the parties changed, rotates every
 * target when a party was removed or re-keyed or the mode is stricter).
 * Passwords generated and sealed ahead for queued rotations (issue 18)
 * are dropped first and made again under the new configuration.
 * Returns 0 or a negative error (logged; the engine keeps running with
 * what it had).
 */
int vd_rotate_reload(struct vd_daemon *d);

/*
 * The number of jobs (rotations, checks) running now, on the thread pool:
 * at most [rotation] concurrency (for status).
 */
unsigned vd_rotate_running(const struct vd_daemon *d);

/* The number of rotations prepared ahead and waiting for a slot. */
unsigned vd_rotate_prepared(const struct vd_daemon *d);

/*
 * Test-only crash points: when the environment variable VAULTD_TEST_CRASH
 * names a step ("after-pending", "after-apply", "before-promote"), the
 * daemon _exit()s there on the first rotation, as a SIGKILL would.  Read
 * once at start; never set in production.
 */
#define VD_ROTATE_CRASH_ENV	"VAULTD_TEST_CRASH"

/*
 * Returns 1 while the engine runs a job for target (a rotation, the
 * resolution of a pending version, or a drift check, whose outcome is
 * recorded when it ends), else 0.
 */
int vd_rotate_busy(const struct vd_daemon *d, const char *target);

/*
 * An admin's abandon of target's pending version: a job proves, by each
 * account row's stored hash (or a refused login where it cannot be read),
 * that no row holds the pending password; then the version fails
 * (state.h VD_VE_ABANDON) and the current one stands.  cb(arg, err,
 * result) hears the outcome: err 0, or the row that holds it (or cannot
 * be shown not to).  Returns 0 once started, VD_EBUSY while a job of the
 * target runs, VD_ENOTFOUND, or another error (cb is then not called).
 */
int vd_rotate_abandon(struct vd_daemon *d, const char *target,
    vd_rotate_cb cb, void *arg);

/*
 * A drift check of target now (vaultctl check): the current password is
 * verified by a fresh login on every account host, as the scheduled checks
 * do (VD_APPLY_CHECK), and recorded the same way.  A rotation of target
 * running now answers instead (it verifies every host); a check running
 * now is followed by this one.  cb(arg, err, result) hears the outcome:
 * err 0, VD_EAUTH (drift), or another error; result (borrowed) has name,
 * version, result, hosts.  Returns 0 once accepted, VD_ENOTFOUND,
 * VD_ESEALED, or another error (cb is then not called).
 */
int vd_rotate_check(struct vd_daemon *d, const char *target,
    vd_rotate_cb cb, void *arg);

/*
 * Makes cb(arg, err, result) be called once the password in force on
 * target's server is settled: when a rotation or resolution of target is
 * running, at its end (after its outcome is recorded, or failed to be);
 * when a pending version waits for resolution, after a resolution started
 * now.  Returns 1 when cb will be called, 0 when nothing is in flight (cb
 * is not called: the current version is in force), or a negative error.
 * Bounded: a job ends within the driver's connect and read timeouts.
 */
int vd_rotate_join(struct vd_daemon *d, const char *target, vd_rotate_cb cb,
    void *arg);

/*
 * The version of target that the server was verified to hold but whose
 * promotion could not be recorded (disk full …), or 0.  *unrec_err (may be
 * NULL) gets why the record failed while target has an unrecorded
 * outcome, else 0.
 */
uint64_t vd_rotate_in_force(const struct vd_daemon *d, const char *target,
    int *unrec_err);

#endif
