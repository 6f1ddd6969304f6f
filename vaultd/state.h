/*
 * state.h - the rotation protocol's states and transitions.
 *
 * Two state machines, each with one transition function; no state is a
 * string literal outside vd_*_name() / vd_*_parse().  The Promela model
 * (model/rotation.pml) uses the same names: tests/model/names.sh checks
 * that the lists below and the model's mtype lists stay equal.
 *
 * A version (one password of a target):
 *
 *	pending --PROMOTE--> current --SUPERSEDE--> previous --PRUNE--> retired
 *	   |  \                                                          ^
 *	   |   +--SUPERSEDE (set-password over it: may have been in force)|
 *	   |        --> previous                                         |
 *	   +--FAIL (nothing applied) / ABANDON (held by no host) --> failed
 *	                                                  (password dropped)
 *	current --PRUNE--> never; pending --PRUNE--> never.
 *
 * A target (its schedule record), moved by the outcome of a job:
 *
 *	ok, retrying, failed, pending, drift --OUT_OK--> ok
 *	  --OUT_UNCERTAIN--> pending  (a pending version awaits resolution)
 *	  --OUT_REFUSED / OUT_UNREACHABLE--> retrying, or failed past the
 *	        retry limit (nothing was applied)
 *	  --OUT_DRIFT--> drift        (the vault's password is refused)
 *
 * A host that cannot be reached from here does not make an outcome
 * uncertain: the change goes through a session that works and the host
 * is reported "unverified" in an OUT_OK outcome.
 *
 * A target's checkout (issue 17), orthogonal to the target state above:
 * an access request (request record "state") moves
 *
 *	pending --APPROVE (N-th distinct approver)--> approved (checked out)
 *	pending --APPROVE (fewer than N)--> pending
 *	pending --DENY--> denied        pending --TIMEOUT--> expired
 *	pending --REVOKE--> revoked
 *	approved --CHECKIN--> checked-in   (rotates at once)
 *	approved --TIMEOUT--> expired      (rotates at once)
 *	approved --REVOKE--> revoked       (rotates at once)
 *	denied, expired, checked-in, revoked: final.
 *
 * At most one request per target is "approved": the target is then
 * checked out, and scheduled rotations (schedule, retry, after-reveal)
 * wait (vd_checkout_holds()).  Every move out of "approved" makes a
 * rotation due now with trigger checkin / expiry / revoke, written in the
 * same transaction as the move (durable before any side effect), so a
 * restart cannot lose it (vd_rstate_end_trigger()).
 */
#ifndef VD_STATE_H
#define VD_STATE_H

/* Version states (version record field "state"). */
enum vd_vstate {
	VD_VS_PENDING,		/* durable; maybe applied on some host */
	VD_VS_CURRENT,		/* in force, verified; what get returns */
	VD_VS_PREVIOUS,		/* superseded; password kept for repairs */
	VD_VS_RETIRED,		/* superseded; password dropped */
	VD_VS_FAILED,		/* never in force; password dropped */
	VD_VS__N
};

/* What happens to a version. */
enum vd_vevent {
	VD_VE_PROMOTE,		/* verified everywhere: pending -> current */
	VD_VE_SUPERSEDE,	/* a newer one is in force */
	VD_VE_PRUNE,		/* beyond the kept versions */
	VD_VE_FAIL,		/* its rotation applied nothing */
	VD_VE_ABANDON,		/* an admin: no host holds it */
	VD_VE__N
};

/* Target states (schedule record field "state"). */
enum vd_tstate {
	VD_TS_OK,		/* current version verified */
	VD_TS_PENDING,		/* a pending version awaits resolution */
	VD_TS_RETRYING,		/* last rotation applied nothing; retries */
	VD_TS_FAILED,		/* retries exhausted; next at the cadence */
	VD_TS_DRIFT,		/* the vault's password is refused */
	VD_TS__N
};

/* The outcome of a job (history field "result"). */
enum vd_outcome {
	VD_OUT_OK,		/* applied (or checked) and verified */
	VD_OUT_REFUSED,		/* the server refused: nothing applied */
	VD_OUT_UNREACHABLE,	/* could not connect: nothing applied */
	VD_OUT_UNCERTAIN,	/* maybe partly applied: stays pending */
	VD_OUT_DRIFT,		/* the vault's password no longer logs in */
	VD_OUT__N
};

/* Access request states (request record field "state"). */
enum vd_rstate {
	VD_RS_PENDING,		/* waits for approvals */
	VD_RS_APPROVED,		/* approved: the target is checked out */
	VD_RS_DENIED,		/* an approver said no */
	VD_RS_EXPIRED,		/* unanswered in time, or checkout time over */
	VD_RS_CHECKED_IN,	/* the holder ended it */
	VD_RS_REVOKED,		/* an admin ended it */
	VD_RS__N
};

/* What happens to a request. */
enum vd_revent {
	VD_RE_APPROVE,		/* one more distinct approver */
	VD_RE_DENY,		/* an approver refuses */
	VD_RE_TIMEOUT,		/* its time (ttl or checkout) ran out */
	VD_RE_CHECKIN,		/* the holder gives it back */
	VD_RE_REVOKE,		/* an admin ends it */
	VD_RE__N
};

/* Names as stored ("pending", "ok", …); NULL for an out-of-range value. */
const char *vd_vstate_name(enum vd_vstate s);
const char *vd_vevent_name(enum vd_vevent e);
const char *vd_tstate_name(enum vd_tstate s);
const char *vd_outcome_name(enum vd_outcome o);

const char *vd_rstate_name(enum vd_rstate s);
const char *vd_revent_name(enum vd_revent e);

/* Parses a stored name; returns 0 and sets *s, or -1 (unknown, NULL). */
int vd_vstate_parse(const char *name, enum vd_vstate *s);
int vd_tstate_parse(const char *name, enum vd_tstate *s);
int vd_rstate_parse(const char *name, enum vd_rstate *s);

/*
 * The request machine: the state that event e moves s to, or -1 when the
 * protocol forbids it.  enough is nonzero when an approval brings the
 * distinct approvers up to the number the target needs.
 */
int vd_rstate_next(enum vd_rstate s, enum vd_revent e, int enough);

/*
 * The rotation a move from s by e makes due at once: its trigger
 * ("checkin", "expiry", "revoke"), or NULL when the move ends no checkout.
 */
const char *vd_rstate_end_trigger(enum vd_rstate s, enum vd_revent e);

/* Whether trigger is one a checkout's end gives its rotation. */
int vd_checkout_end_trigger(const char *trigger);

/*
 * Whether a rotation with trigger may start while the target is checked
 * out (held nonzero): scheduled ones (schedule, retry, after-reveal) wait
 * for the checkout's end; asked-for ones and recoveries do not.
 */
int vd_checkout_holds(int held, const char *trigger);

/*
 * The version machine: the state that event e moves state s to, or -1
 * when the protocol forbids it (a caller must not write it).
 */
int vd_vstate_next(enum vd_vstate s, enum vd_vevent e);

/*
 * The target machine: the state after a job with outcome o; exhausted is
 * nonzero once the retries are spent.  Total: every (s, o) has a result.
 */
enum vd_tstate vd_tstate_next(enum vd_tstate s, enum vd_outcome o,
    int exhausted);

/* Whether version state s may still be in force on some host. */
int vd_vstate_maybe_in_force(enum vd_vstate s);

#endif
