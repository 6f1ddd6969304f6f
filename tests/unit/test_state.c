/*
 * test_state.c - the rotation protocol's state machines (vaultd/state.c):
 * every transition of the version machine against the table written out
 * here independently, names round-trip, the target machine is total.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "state.h"

/* The version machine as DESIGN.md and state.h draw it. */
static int
expected(enum vd_vstate s, enum vd_vevent e)
{
	if (s == VD_VS_PENDING && e == VD_VE_PROMOTE)
		return VD_VS_CURRENT;
	if ((s == VD_VS_PENDING || s == VD_VS_CURRENT) && e == VD_VE_SUPERSEDE)
		return VD_VS_PREVIOUS;
	if (s == VD_VS_PREVIOUS && e == VD_VE_PRUNE)
		return VD_VS_RETIRED;
	if (s == VD_VS_PENDING && (e == VD_VE_FAIL || e == VD_VE_ABANDON))
		return VD_VS_FAILED;
	return -1;
}

static void
test_versions(void)
{
	int moves = 0;

	for (int s = 0; s < VD_VS__N; s++)
		for (int e = 0; e < VD_VE__N; e++) {
			CHECK_INT_EQ(vd_vstate_next((enum vd_vstate)s,
			    (enum vd_vevent)e), expected((enum vd_vstate)s,
			    (enum vd_vevent)e));
			moves += expected((enum vd_vstate)s,
			    (enum vd_vevent)e) >= 0;
		}
	CHECK_INT_EQ(moves, 6);
	/* Nothing leaves retired or failed; current is never dropped. */
	for (int e = 0; e < VD_VE__N; e++) {
		CHECK_INT_EQ(vd_vstate_next(VD_VS_RETIRED, (enum vd_vevent)e), -1);
		CHECK_INT_EQ(vd_vstate_next(VD_VS_FAILED, (enum vd_vevent)e), -1);
	}
	CHECK_INT_EQ(vd_vstate_next(VD_VS__N, VD_VE_PROMOTE), -1);
	CHECK_INT_EQ(vd_vstate_next(VD_VS_PENDING, VD_VE__N), -1);
	CHECK(vd_vstate_maybe_in_force(VD_VS_PENDING));
	CHECK(!vd_vstate_maybe_in_force(VD_VS_FAILED));
}

static void
test_names(void)
{
	static const char *const vs[] = { "pending", "current", "previous",
	    "retired", "failed" };
	static const char *const ts[] = { "ok", "pending", "retrying",
	    "failed", "drift" };
	enum vd_vstate v;
	enum vd_tstate t;

	for (int i = 0; i < VD_VS__N; i++) {
		CHECK_STR_EQ(vd_vstate_name((enum vd_vstate)i), vs[i]);
		CHECK_OK(vd_vstate_parse(vs[i], &v));
		CHECK_INT_EQ(v, i);
	}
	for (int i = 0; i < VD_TS__N; i++) {
		CHECK_STR_EQ(vd_tstate_name((enum vd_tstate)i), ts[i]);
		CHECK_OK(vd_tstate_parse(ts[i], &t));
		CHECK_INT_EQ(t, i);
	}
	CHECK(vd_vstate_parse("Pending", &v) == -1);
	CHECK(vd_vstate_parse(NULL, &v) == -1);
	CHECK(vd_tstate_parse("unrecorded", &t) == -1);
	CHECK(vd_vstate_name(VD_VS__N) == NULL);
	CHECK_STR_EQ(vd_outcome_name(VD_OUT_UNCERTAIN), "partial");
	CHECK_STR_EQ(vd_outcome_name(VD_OUT_REFUSED), "failed");
	CHECK_STR_EQ(vd_vevent_name(VD_VE_ABANDON), "abandon");
}

static void
test_targets(void)
{
	for (int s = 0; s < VD_TS__N; s++) {
		enum vd_tstate f = (enum vd_tstate)s;

		CHECK_INT_EQ(vd_tstate_next(f, VD_OUT_OK, 1), VD_TS_OK);
		CHECK_INT_EQ(vd_tstate_next(f, VD_OUT_UNCERTAIN, 1),
		    VD_TS_PENDING);
		CHECK_INT_EQ(vd_tstate_next(f, VD_OUT_DRIFT, 0), VD_TS_DRIFT);
		CHECK_INT_EQ(vd_tstate_next(f, VD_OUT_REFUSED, 0),
		    VD_TS_RETRYING);
		CHECK_INT_EQ(vd_tstate_next(f, VD_OUT_UNREACHABLE, 1),
		    VD_TS_FAILED);
	}
}

/* The request machine as state.h draws it (issue 17). */
static int
rexpected(enum vd_rstate s, enum vd_revent e, int enough)
{
	if (s == VD_RS_PENDING) {
		if (e == VD_RE_APPROVE)
			return enough ? VD_RS_APPROVED : VD_RS_PENDING;
		if (e == VD_RE_DENY)
			return VD_RS_DENIED;
		if (e == VD_RE_TIMEOUT)
			return VD_RS_EXPIRED;
		if (e == VD_RE_REVOKE)
			return VD_RS_REVOKED;
		return -1;
	}
	if (s == VD_RS_APPROVED) {
		if (e == VD_RE_TIMEOUT)
			return VD_RS_EXPIRED;
		if (e == VD_RE_CHECKIN)
			return VD_RS_CHECKED_IN;
		if (e == VD_RE_REVOKE)
			return VD_RS_REVOKED;
	}
	return -1;
}

static void
test_requests(void)
{
	static const char *const rs[] = { "pending", "approved", "denied",
	    "expired", "checked-in", "revoked" };
	static const char *const re[] = { "approve", "deny", "expiry",
	    "checkin", "revoke" };
	enum vd_rstate r;
	int moves = 0, rotating = 0;

	for (int s = 0; s < VD_RS__N; s++)
		for (int e = 0; e < VD_RE__N; e++)
			for (int enough = 0; enough < 2; enough++) {
				int want = rexpected((enum vd_rstate)s,
				    (enum vd_revent)e, enough);
				const char *tr = vd_rstate_end_trigger(
				    (enum vd_rstate)s, (enum vd_revent)e);

				CHECK_INT_EQ(vd_rstate_next((enum vd_rstate)s,
				    (enum vd_revent)e, enough), want);
				moves += want >= 0;
				/* Every move out of approved rotates. */
				CHECK_INT_EQ(tr != NULL, s == VD_RS_APPROVED &&
				    want >= 0);
				rotating += tr != NULL;
			}
	CHECK_INT_EQ(moves, 2 * 3 + 2 + 2 * 3);
	CHECK_INT_EQ(rotating, 2 * 3);
	CHECK_STR_EQ(vd_rstate_end_trigger(VD_RS_APPROVED, VD_RE_CHECKIN),
	    "checkin");
	CHECK_STR_EQ(vd_rstate_end_trigger(VD_RS_APPROVED, VD_RE_TIMEOUT),
	    "expiry");
	CHECK_STR_EQ(vd_rstate_end_trigger(VD_RS_APPROVED, VD_RE_REVOKE),
	    "revoke");
	CHECK(vd_rstate_end_trigger(VD_RS_PENDING, VD_RE_REVOKE) == NULL);
	CHECK_INT_EQ(vd_rstate_next(VD_RS__N, VD_RE_APPROVE, 1), -1);
	for (int i = 0; i < VD_RS__N; i++) {
		CHECK_STR_EQ(vd_rstate_name((enum vd_rstate)i), rs[i]);
		CHECK_OK(vd_rstate_parse(rs[i], &r));
		CHECK_INT_EQ(r, i);
	}
	for (int i = 0; i < VD_RE__N; i++)
		CHECK_STR_EQ(vd_revent_name((enum vd_revent)i), re[i]);
	CHECK(vd_rstate_parse("checked_in", &r) == -1);
	/* Scheduled rotations wait for a checkout; asked-for ones do not. */
	CHECK(vd_checkout_holds(1, "schedule"));
	CHECK(vd_checkout_holds(1, "retry"));
	CHECK(vd_checkout_holds(1, "after-reveal"));
	CHECK(!vd_checkout_holds(0, "schedule"));
	CHECK(!vd_checkout_holds(1, "checkin"));
	CHECK(!vd_checkout_holds(1, "recovery"));
	CHECK(!vd_checkout_holds(1, "manual"));
	CHECK(vd_checkout_end_trigger("checkin"));
	CHECK(vd_checkout_end_trigger("expiry"));
	CHECK(vd_checkout_end_trigger("revoke"));
	CHECK(!vd_checkout_end_trigger("schedule"));
	CHECK(!vd_checkout_end_trigger(NULL));
}

int
main(void)
{
	test_versions();
	test_names();
	test_targets();
	test_requests();
	printf("test_state: ok\n");
	return 0;
}
