/*
 * state.c - the rotation protocol's states and transitions (state.h).
 */
#include <stddef.h>
#include <string.h>

#include "state.h"

static const char *const vstate_names[VD_VS__N] = {
	[VD_VS_PENDING] = "pending",
	[VD_VS_CURRENT] = "current",
	[VD_VS_PREVIOUS] = "previous",
	[VD_VS_RETIRED] = "retired",
	[VD_VS_FAILED] = "failed",
};

static const char *const vevent_names[VD_VE__N] = {
	[VD_VE_PROMOTE] = "promote",
	[VD_VE_SUPERSEDE] = "supersede",
	[VD_VE_PRUNE] = "prune",
	[VD_VE_FAIL] = "fail",
	[VD_VE_ABANDON] = "abandon",
};

static const char *const tstate_names[VD_TS__N] = {
	[VD_TS_OK] = "ok",
	[VD_TS_PENDING] = "pending",
	[VD_TS_RETRYING] = "retrying",
	[VD_TS_FAILED] = "failed",
	[VD_TS_DRIFT] = "drift",
};

static const char *const outcome_names[VD_OUT__N] = {
	[VD_OUT_OK] = "ok",
	[VD_OUT_REFUSED] = "failed",
	[VD_OUT_UNREACHABLE] = "unreachable",
	[VD_OUT_UNCERTAIN] = "partial",
	[VD_OUT_DRIFT] = "drift",
};

static const char *const rstate_names[VD_RS__N] = {
	[VD_RS_PENDING] = "pending",
	[VD_RS_APPROVED] = "approved",
	[VD_RS_DENIED] = "denied",
	[VD_RS_EXPIRED] = "expired",
	[VD_RS_CHECKED_IN] = "checked-in",
	[VD_RS_REVOKED] = "revoked",
};

static const char *const revent_names[VD_RE__N] = {
	[VD_RE_APPROVE] = "approve",
	[VD_RE_DENY] = "deny",
	[VD_RE_TIMEOUT] = "expiry",
	[VD_RE_CHECKIN] = "checkin",
	[VD_RE_REVOKE] = "revoke",
};

/*
 * The request machine as a table: rnext[s][e], -1 where forbidden.  An
 * approval that is not yet enough leaves a pending request pending
 * (vd_rstate_next()).
 */
static const signed char rnext[VD_RS__N][VD_RE__N] = {
	/*               approve          deny          timeout        checkin            revoke */
	[VD_RS_PENDING] = { VD_RS_APPROVED, VD_RS_DENIED, VD_RS_EXPIRED, -1, VD_RS_REVOKED },
	[VD_RS_APPROVED] = { -1, -1, VD_RS_EXPIRED, VD_RS_CHECKED_IN, VD_RS_REVOKED },
	[VD_RS_DENIED] = { -1, -1, -1, -1, -1 },
	[VD_RS_EXPIRED] = { -1, -1, -1, -1, -1 },
	[VD_RS_CHECKED_IN] = { -1, -1, -1, -1, -1 },
	[VD_RS_REVOKED] = { -1, -1, -1, -1, -1 },
};

/* The rotation trigger of each event that ends a checkout. */
static const char *const end_triggers[VD_RE__N] = {
	[VD_RE_TIMEOUT] = "expiry",
	[VD_RE_CHECKIN] = "checkin",
	[VD_RE_REVOKE] = "revoke",
};

/*
 * The version machine as a table: next[s][e], -1 where the protocol
 * forbids the move.  Supersede takes a pending version to "previous"
 * (set-password over it: it may have been in force, so its password is
 * kept for repairs); abandon and fail take it to "failed" (never in force).
 */
static const signed char vnext[VD_VS__N][VD_VE__N] = {
	/*              promote        supersede       prune          fail          abandon */
	[VD_VS_PENDING] = { VD_VS_CURRENT, VD_VS_PREVIOUS, -1, VD_VS_FAILED, VD_VS_FAILED },
	[VD_VS_CURRENT] = { -1, VD_VS_PREVIOUS, -1, -1, -1 },
	[VD_VS_PREVIOUS] = { -1, -1, VD_VS_RETIRED, -1, -1 },
	[VD_VS_RETIRED] = { -1, -1, -1, -1, -1 },
	[VD_VS_FAILED] = { -1, -1, -1, -1, -1 },
};

static const char *
name_of(const char *const *names, size_t n, int i)
{
	return i >= 0 && (size_t)i < n ? names[i] : NULL;
}

static int
parse(const char *const *names, size_t n, const char *name, int *out)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0) {
			*out = (int)i;
			return 0;
		}
	return -1;
}

const char *
vd_vstate_name(enum vd_vstate s)
{
	return name_of(vstate_names, VD_VS__N, (int)s);
}

const char *
vd_vevent_name(enum vd_vevent e)
{
	return name_of(vevent_names, VD_VE__N, (int)e);
}

const char *
vd_tstate_name(enum vd_tstate s)
{
	return name_of(tstate_names, VD_TS__N, (int)s);
}

const char *
vd_outcome_name(enum vd_outcome o)
{
	return name_of(outcome_names, VD_OUT__N, (int)o);
}

int
vd_vstate_parse(const char *name, enum vd_vstate *s)
{
	int i;

	if (parse(vstate_names, VD_VS__N, name, &i) != 0)
		return -1;
	*s = (enum vd_vstate)i;
	return 0;
}

int
vd_tstate_parse(const char *name, enum vd_tstate *s)
{
	int i;

	if (parse(tstate_names, VD_TS__N, name, &i) != 0)
		return -1;
	*s = (enum vd_tstate)i;
	return 0;
}

int
vd_vstate_next(enum vd_vstate s, enum vd_vevent e)
{
	if ((unsigned)s >= VD_VS__N || (unsigned)e >= VD_VE__N)
		return -1;
	return vnext[s][e];
}

enum vd_tstate
vd_tstate_next(enum vd_tstate s, enum vd_outcome o, int exhausted)
{
	(void)s;	/* the outcome decides; kept for the model's shape */
	switch (o) {
	case VD_OUT_OK:
		return VD_TS_OK;
	case VD_OUT_UNCERTAIN:
		return VD_TS_PENDING;
	case VD_OUT_DRIFT:
		return VD_TS_DRIFT;
	case VD_OUT_REFUSED:
	case VD_OUT_UNREACHABLE:
	default:
		return exhausted ? VD_TS_FAILED : VD_TS_RETRYING;
	}
}

int
vd_vstate_maybe_in_force(enum vd_vstate s)
{
	return s == VD_VS_PENDING || s == VD_VS_CURRENT ||
	    s == VD_VS_PREVIOUS || s == VD_VS_RETIRED;
}

const char *
vd_rstate_name(enum vd_rstate s)
{
	return name_of(rstate_names, VD_RS__N, (int)s);
}

const char *
vd_revent_name(enum vd_revent e)
{
	return name_of(revent_names, VD_RE__N, (int)e);
}

int
vd_rstate_parse(const char *name, enum vd_rstate *s)
{
	int i;

	if (parse(rstate_names, VD_RS__N, name, &i) != 0)
		return -1;
	*s = (enum vd_rstate)i;
	return 0;
}

int
vd_rstate_next(enum vd_rstate s, enum vd_revent e, int enough)
{
	if ((unsigned)s >= VD_RS__N || (unsigned)e >= VD_RE__N)
		return -1;
	if (s == VD_RS_PENDING && e == VD_RE_APPROVE && !enough)
		return VD_RS_PENDING;
	return rnext[s][e];
}

const char *
vd_rstate_end_trigger(enum vd_rstate s, enum vd_revent e)
{
	if (s != VD_RS_APPROVED || vd_rstate_next(s, e, 1) < 0)
		return NULL;
	return end_triggers[e];
}

int
vd_checkout_holds(int held, const char *trigger)
{
	if (!held || trigger == NULL)
		return 0;
	return strcmp(trigger, "schedule") == 0 ||
	    strcmp(trigger, "retry") == 0 ||
	    strcmp(trigger, "after-reveal") == 0;
}

int
vd_checkout_end_trigger(const char *trigger)
{
	if (trigger == NULL)
		return 0;
	for (int e = 0; e < VD_RE__N; e++)
		if (end_triggers[e] != NULL &&
		    strcmp(end_triggers[e], trigger) == 0)
			return 1;
	return 0;
}
