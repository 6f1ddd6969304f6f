/*
 * test_schedule.c - the rotation engine's scheduler decisions (vaultd/
 * sched.c, through its internal header engine.h), issue 13 item 10 and
 * the drift budget of item 4: no store, no loop; entries built from
 * schedule records as the store would hand them over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "check.h"
#include "config.h"
#include "engine.h"
#include "mem.h"
#include "util.h"

#define DAY	86400

static struct vd_config cfg;
static struct vd_daemon d;
static struct rot rot;

static json_t *
rec(const char *fmt, ...)
{
	json_error_t err;
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	o = json_vpack_ex(&err, 0, fmt, ap);
	va_end(ap);
	CHECK(o != NULL);
	return o;
}

/* A far-future stored next_due is not trusted: one cadence from now. */
static void
test_far_future(void)
{
	json_t *t = rec("{s:I}", "every", (json_int_t)(7 * DAY));
	json_t *s = rec("{s:I, s:s}", "next_due", (json_int_t)(vd_now() +
	    400LL * 365 * DAY), "state", "ok");
	struct ent *e = vd__ent_add(&rot, "far");

	vd__ent_load(&rot, e, t, s);
	CHECK(e->due <= vd_now() + 7 * DAY + 1);
	CHECK(e->due >= vd_now() + 7 * DAY - 1);
	CHECK(e->unsaved);	/* the corrected time is stored */
	/* A due time within a cadence (plus jitter) is kept as stored. */
	json_decref(s);
	s = rec("{s:I}", "next_due", (json_int_t)(vd_now() + 3 * DAY));
	vd__ent_load(&rot, e, t, s);
	CHECK_INT_EQ(e->due, vd_now() + 3 * DAY);
	json_decref(s);
	json_decref(t);
}

/* Targets added in bulk do not all fall due in the same second. */
static void
test_first_jitter(void)
{
	json_t *t = rec("{s:I}", "every", (json_int_t)(90 * DAY));
	int64_t lo = INT64_MAX, hi = 0;
	char name[32];

	for (int i = 0; i < 200; i++) {
		struct ent *e;

		snprintf(name, sizeof(name), "bulk%03d", i);
		e = vd__ent_add(&rot, name);
		vd__ent_load(&rot, e, t, NULL);
		CHECK(e->due >= vd_now() + 90 * DAY);
		CHECK(e->due <= vd_now() + 90 * DAY + 3600 + 1);
		lo = e->due < lo ? e->due : lo;
		hi = e->due > hi ? e->due : hi;
	}
	CHECK(hi - lo > 600);	/* spread over the jitter, not one second */
	json_decref(t);
}

/* Concurrency never exceeds what the thread pool can run beside the two
 * threads target.add and unseal need (a SIGHUP may raise it). */
static void
test_conc_limit(void)
{
	rot.pool = 6;
	cfg.concurrency = 2;
	CHECK_INT_EQ(vd__conc_limit(&rot), 2);
	cfg.concurrency = 64;
	CHECK_INT_EQ(vd__conc_limit(&rot), 4);
	rot.pool = 1;
	CHECK_INT_EQ(vd__conc_limit(&rot), 1);
	rot.pool = 6;
}

/* What may start: window and pause hold scheduled work, never a
 * resolution; the login budget holds every automatic job. */
static void
test_may_start(void)
{
	struct ent *e = vd__ent_add(&rot, "ms");
	int64_t now = vd_now();
	struct tm tm;
	time_t tt = (time_t)now + 3 * 3600;
	char win[32];

	localtime_r(&tt, &tm);
	snprintf(win, sizeof(win), "%02d:00-%02d:30", tm.tm_hour, tm.tm_hour);
	CHECK_OK(vd_window_parse(win, &e->win));	/* closed now */
	e->pending = 0;
	CHECK_INT_EQ(vd__may_start(&rot, e, "schedule", now), HOLD_WINDOW);
	CHECK(e->due > now);		/* moved to the next opening */
	CHECK_INT_EQ(vd__may_start(&rot, e, "manual", now), 0);
	e->pending = 1;			/* a resolution ignores the window */
	CHECK_INT_EQ(vd__may_start(&rot, e, "recovery", now), 0);
	CHECK_INT_EQ(vd__may_start(&rot, e, "schedule", now), 0);
	memset(&e->win, 0, sizeof(e->win));
	e->pending = 0;
	cfg.paused = 1;
	CHECK_INT_EQ(vd__may_start(&rot, e, "schedule", now), HOLD_PAUSED);
	e->pending = 1;
	CHECK_INT_EQ(vd__may_start(&rot, e, "recovery", now), 0);
	cfg.paused = 0;
	/* The budget: half of max_password_errors, 2 when not known. */
	e->pwerr_max = 4;
	e->auth_fails = 1;
	CHECK_INT_EQ(vd__may_start(&rot, e, "recovery", now), 0);
	e->auth_fails = 2;
	CHECK_INT_EQ(vd__may_start(&rot, e, "recovery", now), HOLD_DRIFT);
	CHECK_INT_EQ(vd__may_start(&rot, e, "schedule", now), HOLD_DRIFT);
	CHECK_INT_EQ(vd__may_start(&rot, e, "manual", now), 0);
	CHECK_INT_EQ(vd__may_start(&rot, e, "reconcile", now), 0);
	e->pwerr_max = -1;
	e->auth_fails = 1;
	CHECK_INT_EQ(vd__may_start(&rot, e, "recovery", now), 0);
	e->auth_fails = 2;
	CHECK_INT_EQ(vd__may_start(&rot, e, "retry", now), HOLD_DRIFT);
	e->pwerr_max = 0;		/* the server has no limit */
	e->auth_fails = 50;
	CHECK_INT_EQ(vd__may_start(&rot, e, "retry", now), 0);
	e->pwerr_max = 1;		/* a limit of 1: not even one */
	e->auth_fails = 1;
	CHECK_INT_EQ(vd__may_start(&rot, e, "retry", now), HOLD_DRIFT);
}

/* The drift flag and the budget come back from the schedule record. */
static void
test_load_state(void)
{
	json_t *t = rec("{s:I}", "every", (json_int_t)(30 * DAY));
	json_t *s = rec("{s:s, s:I, s:I, s:I}", "state", "drift",
	    "auth_fails", (json_int_t)3, "pw_errors_max", (json_int_t)6,
	    "next_due", (json_int_t)(vd_now() + DAY));
	struct ent *e = vd__ent_add(&rot, "ls");

	vd__ent_load(&rot, e, t, s);
	CHECK(e->drift);
	CHECK_INT_EQ(e->auth_fails, 3);
	CHECK_INT_EQ(e->pwerr_max, 6);
	json_decref(s);
	s = rec("{s:s}", "state", "ok");
	vd__ent_load(&rot, e, t, s);
	CHECK(!e->drift);
	CHECK_INT_EQ(e->auth_fails, 0);
	CHECK_INT_EQ(e->pwerr_max, -1);
	json_decref(s);
	json_decref(t);
}

int
main(void)
{
	CHECK_OK(vd_mem_init());
	d.cfg = &cfg;
	rot.d = &d;
	rot.pool = 6;
	test_far_future();
	test_first_jitter();
	test_conc_limit();
	test_may_start();
	test_load_state();
	free(rot.ents);
	printf("test_schedule: ok\n");
	return 0;
}
