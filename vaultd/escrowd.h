/*
 * escrowd.h - the daemon's escrow module (issue 14): the [escrow]
 * configuration in force, sealing new versions to it, what a change of the
 * parties does, and the break-glass openings vaultctl reports.
 *
 * It sits beside the rotation engine, not inside it: it asks the engine
 * for rotations through rotate.h's public functions (vd_rotate_request(),
 * vd_rotate_notify()) and the engine seals each new version with
 * vd_escrowd_seal() in the transaction that makes it pending.
 *
 * A change of parties (SIGHUP, or a start with an edited [escrow]):
 *   - a party added, or a looser mode: the current (and pending) versions
 *     are re-sealed to the new parties; nothing else;
 *   - a party removed or re-keyed, escrow turned off, or a stricter mode
 *     (a quorum needing more shares): envelopes made before the change
 *     (in bundles, backups) still open the password in force, so every
 *     such target is rotated.  The need is durable in the same
 *     transaction as the re-seal (the schedule's after-reveal due time,
 *     now; audited as "escrow-rotate"), so a crash or a stop before the
 *     rotations ran does not lose it; on SIGHUP the rotations are also
 *     requested at once (trigger "escrow"; queued behind the engine's
 *     concurrency), unless [rotation] paused holds scheduled work.
 * Everything here runs on the loop thread; only vd_escrow_seal_compute()
 * on what vd_escrowd_seal_prepare() copied runs on the thread pool.
 */
#ifndef VD_ESCROWD_H
#define VD_ESCROWD_H

#include <stdint.h>

#include "daemon.h"

struct vd_txn;
struct vd_secret;
struct vd_escrow_cfg;
struct vd_escrow_sealed;

/*
 * Builds the escrow configuration from d->cfg and puts it in force: finds
 * the targets it must rotate (before anything is dropped), re-seals the
 * live versions when the parties or mode changed, records and audits the
 * rotations needed.  running: the engine runs (SIGHUP), so the rotations
 * are requested now; at start-up (0) the engine, which loads the
 * schedules after this, starts them at its first tick.  On error the
 * previous configuration stays in force.  Returns 0 or a negative error
 * (logged).
 */
int vd_escrowd_load(struct vd_daemon *d, int running);

/* The configuration in force (NULL: none yet). */
const struct vd_escrow_cfg *vd_escrowd_cfg(void);

/*
 * Seals version v of target (password pw) to the parties in force, in the
 * caller's write transaction t.  No parties: returns 0.
 */
int vd_escrowd_seal(struct vd_daemon *d, struct vd_txn *t,
    const char *target, uint64_t v, const struct vd_secret *pw);

/*
 * Off-loop sealing (issue 18).  On the loop thread: copies what sealing
 * version v of target (password pw) to the parties in force needs into
 * *out (NULL when no parties are configured); the caller runs
 * vd_escrow_seal_compute() on it on any thread.  Returns 0 or an error.
 */
int vd_escrowd_seal_prepare(struct vd_daemon *d, const char *target,
    uint64_t v, const struct vd_secret *pw, struct vd_escrow_sealed **out);

/*
 * In the caller's write transaction t: stores the envelopes s computed
 * when s sealed version v of target to exactly the parties and mode in
 * force now; otherwise (s NULL, or [escrow] changed since the
 * preparation) seals pw here, as vd_escrowd_seal().  Does not free s.
 */
int vd_escrowd_seal_store(struct vd_daemon *d, struct vd_txn *t,
    const char *target, uint64_t v, const struct vd_secret *pw,
    const struct vd_escrow_sealed *s);

/*
 * Handles the break-glass openings vaultctl recorded in the data
 * directory: each becomes an audit entry, and its target is rotated
 * (trigger "breakglass"), because a disclosed password is spent.  Called
 * by the engine's tick.
 */
void vd_escrowd_breakglass_reports(struct vd_daemon *d);

/* Frees the configuration in force (at exit). */
void vd_escrowd_end(void);

#endif
