/*
 * versions.h - a target's version records: the one place that reads and
 * moves version states (the version machine of state.h).
 *
 * Every function works inside the caller's transaction t (read-write for
 * those that write); a failure after a write spoils t.  Returns 0 or a
 * negative error from err.h.
 */
#ifndef VD_VERSIONS_H
#define VD_VERSIONS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "state.h"

struct vd_txn;
struct vd_secret;

#define VD_KEEP_VERSIONS	5	/* versions whose password is kept */

/* A version record's state (enum vd_vstate); -1 when missing or unknown. */
int vd_versions_state(const json_t *meta);

/*
 * Target name's current version in *cur and (when pending is not NULL) the
 * newest pending version above it in *pending; 0 when there is none.
 */
int vd_versions_find(struct vd_txn *t, const char *name, uint64_t *cur,
    uint64_t *pending);

/*
 * Moves version v by event ev through vd_vstate_next(), writing its new
 * state and updated_at ts; a move the protocol forbids is refused
 * (VD_ECORRUPT) and nothing is written.
 */
int vd_versions_move(struct vd_txn *t, const char *name, uint64_t v,
    enum vd_vevent ev, const char *ts);

/*
 * The older versions a drift repair may log in with, newest first: ones
 * that may have been in force (previous, retired, a pending one other
 * than own), whose password is still stored, back to the target's
 * registration.  cur and own are the current and the job's pending
 * version.  With pws, up to max of them go to vs[] and pws[] (the caller
 * frees the secrets); with pws NULL, *np says only whether there is one.
 */
int vd_versions_older(struct vd_txn *t, const char *name, uint64_t cur,
    uint64_t own, size_t max, uint64_t *vs, struct vd_secret **pws,
    size_t *np);

/*
 * Version v is now current: the old current cur (0: none) and any pending
 * version other than v become "previous" (a pending one may have reached
 * a host: set-password over it), and the passwords of versions beyond the
 * VD_KEEP_VERSIONS newest are dropped (previous -> retired); a failed
 * version's password is dropped at once (it was never in force).  ts: the
 * RFC 3339 time for updated_at.  A rotation's commit and
 * target.set_password both end this way.
 */
int vd_versions_supersede(struct vd_txn *t, const char *name, uint64_t cur,
    uint64_t v, const char *ts);

#endif
