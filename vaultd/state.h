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

/* Names as stored ("pending", "ok", …); NULL for an out-of-range value. */
const char *vd_vstate_name(enum vd_vstate s);
const char *vd_vevent_name(enum vd_vevent e);
const char *vd_tstate_name(enum vd_tstate s);
const char *vd_outcome_name(enum vd_outcome o);

/* Parses a stored name; returns 0 and sets *s, or -1 (unknown, NULL). */
int vd_vstate_parse(const char *name, enum vd_vstate *s);
int vd_tstate_parse(const char *name, enum vd_tstate *s);

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
