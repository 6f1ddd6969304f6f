/*
 * checkout.h - access requests, dual-control approval and time-boxed
 * exclusive checkouts of a target (issue 17).
 *
 * A target with "approvals" N >= 1 (vaultctl target add|set --approvals N)
 * is revealed only under a checkout: its reveal-entitled user asks
 * (request, with a reason and a duration up to the target's checkout_max),
 * N approvers other than the requester approve, and the requester alone
 * may then get the password until the checkout ends: check-in by the
 * holder, the end of the granted time, or an admin's revoke.  Each end
 * makes a rotation due at once (triggers "checkin", "expiry", "revoke",
 * the request id in its history entry), durable in the same transaction
 * as the request's move.  One checkout per target at a time; scheduled
 * rotations of a checked-out target wait (state.h vd_checkout_holds()).
 *
 * The request machine is state.h's (enum vd_rstate, vd_rstate_next()).
 * Requests live in the store's "requests" database, sealed and bound to
 * their id; the schedule record of a checked-out target carries
 * "checkout": {id, uid, user, until} for the engine.  Every move is
 * audited and noted in the target's history (trigger "checkout"), and
 * handed to the [notify] command (notifycmd.h).  Everything here runs on
 * the loop thread.
 */
#ifndef VD_CHECKOUT_H
#define VD_CHECKOUT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon.h"
#include "server.h"

struct vd_txn;

#define VD_APPROVALS_MAX	16	/* approvals a target may require */
#define VD_CHECKOUT_MAX_DEFAULT	(4 * 3600)	/* --checkout-max default */
#define VD_CHECKOUT_FOR_DEFAULT	3600	/* request --for default (capped
					 * at the target's checkout_max) */
#define VD_REASON_MAX		500	/* bytes of a reason or comment */

/* The JSON-RPC methods (api.c's table checks the roles first). */
void vd_checkout_m_request(struct vd_req *rq, json_t *params);
void vd_checkout_m_list(struct vd_req *rq, json_t *params);
void vd_checkout_m_approve(struct vd_req *rq, json_t *params);
void vd_checkout_m_deny(struct vd_req *rq, json_t *params);
void vd_checkout_m_checkin(struct vd_req *rq, json_t *params);
void vd_checkout_m_revoke(struct vd_req *rq, json_t *params);

/*
 * Whether caller may reveal target now, inside the reveal's transaction
 * t: 1 when the target needs no approval, or it is checked out to the
 * caller (*req_id gets the request's id); 0 with why (len bytes) naming
 * the reason otherwise; a negative error when the records cannot be read.
 */
int vd_checkout_may_reveal(struct vd_txn *t, const struct vd_req *rq,
    const char *target, uint64_t *req_id, char *why, size_t len);

/*
 * The engine's tick (every second, vd__tick): ends the requests whose
 * time ran out (unanswered pending requests expire; an expired checkout
 * rotates its target).  Reads the store only when the earliest deadline
 * it knows of has come.
 */
void vd_checkout_tick(struct vd_daemon *d);

/*
 * Checks a reason or comment: 1..VD_REASON_MAX bytes of UTF-8 (jansson's
 * strings are) without control characters.  Returns 1 when valid.
 */
int vd_checkout_text_valid(const char *s, size_t len);

#endif
