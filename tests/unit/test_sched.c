/*
 * test_timing.c - windows, backoff, jitter (vaultd/timing.c).
 */
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "mem.h"
#include "timing.h"
#include "util.h"

/* 2026-11-25 is a Wednesday; times are UTC (TZ set in main). */
#define WED_0000	1795564800LL
#define MIN		60
#define HOUR		3600

static void
test_parse(void)
{
	static const char *const bad[] = {
		"2:00-4:00", "02:00", "02:00-", "24:00-01:00", "02:60-03:00",
		"02:00-02:00", "02:00-04:00 xyz", "02:00-04:00mon",
		"02:00-04:00 mon-", "02:00-04:00 mon,,tue", "-02:00-04:00",
		"02:00_04:00",
	};
	struct vd_window w;
	char buf[64];

	CHECK_OK(vd_window_parse(NULL, &w));
	CHECK(!w.set);
	CHECK_OK(vd_window_parse("always", &w));
	CHECK(!w.set);
	CHECK_OK(vd_window_parse("02:00-04:00", &w));
	CHECK(w.set && w.start == 120 && w.end == 240 && w.days == 0x7f);
	CHECK_STR_EQ(vd_window_format(&w, buf, sizeof(buf)), "02:00-04:00");
	CHECK_OK(vd_window_parse("22:30-01:15 mon-fri", &w));
	CHECK(w.start == 22 * 60 + 30 && w.end == 75 && w.days == 0x3e);
	CHECK_STR_EQ(vd_window_format(&w, buf, sizeof(buf)),
	    "22:30-01:15 mon,tue,wed,thu,fri");
	CHECK_OK(vd_window_parse("01:00-02:00 sat,sun", &w));
	CHECK_INT_EQ(w.days, 0x41);
	CHECK_OK(vd_window_parse("01:00-02:00 fri-mon", &w));	/* wraps */
	CHECK_INT_EQ(w.days, 0x63);
	for (size_t i = 0; i < VD_NELEM(bad); i++)
		CHECK_INT_EQ(vd_window_parse(bad[i], &w), VD_EINVAL);
}

static void
test_open_next(void)
{
	struct vd_window w;

	CHECK_OK(vd_window_parse("02:00-04:00", &w));
	CHECK(!vd_window_open(&w, WED_0000 + 1 * HOUR));
	CHECK(vd_window_open(&w, WED_0000 + 2 * HOUR));
	CHECK(vd_window_open(&w, WED_0000 + 4 * HOUR - 1));
	CHECK(!vd_window_open(&w, WED_0000 + 4 * HOUR));
	CHECK_INT_EQ(vd_window_next(&w, WED_0000 + 1 * HOUR + 17),
	    WED_0000 + 2 * HOUR);
	CHECK_INT_EQ(vd_window_next(&w, WED_0000 + 3 * HOUR),
	    WED_0000 + 3 * HOUR);
	CHECK_INT_EQ(vd_window_next(&w, WED_0000 + 5 * HOUR),
	    WED_0000 + 26 * HOUR);

	/* Across midnight, weekdays only: Friday night into Saturday counts,
	 * Saturday night does not. */
	CHECK_OK(vd_window_parse("23:00-01:00 mon-fri", &w));
	CHECK(vd_window_open(&w, WED_0000 + 23 * HOUR + 30 * MIN));
	CHECK(vd_window_open(&w, WED_0000 + 24 * HOUR + 30 * MIN));
	CHECK(!vd_window_open(&w, WED_0000 + 24 * HOUR + 90 * MIN));
	/* Friday 23:30 open, Saturday 00:30 open (Friday's), Saturday
	 * 23:30 closed, Sunday 00:30 closed. */
	CHECK(vd_window_open(&w, WED_0000 + 2 * 86400 + 23 * HOUR + 30 * MIN));
	CHECK(vd_window_open(&w, WED_0000 + 3 * 86400 + 30 * MIN));
	CHECK(!vd_window_open(&w, WED_0000 + 3 * 86400 + 23 * HOUR + 30 * MIN));
	CHECK(!vd_window_open(&w, WED_0000 + 4 * 86400 + 30 * MIN));
	/* From Saturday noon the next opening is Monday 23:00. */
	CHECK_INT_EQ(vd_window_next(&w, WED_0000 + 3 * 86400 + 12 * HOUR),
	    WED_0000 + 5 * 86400 + 23 * HOUR);
	/* No window: always open, next is now. */
	CHECK_OK(vd_window_parse("", &w));
	CHECK(vd_window_open(&w, WED_0000 + 5));
	CHECK_INT_EQ(vd_window_next(&w, WED_0000 + 5), WED_0000 + 5);
}

static void
test_backoff_jitter(void)
{
	int64_t lo = 1000, hi = 0;

	CHECK_INT_EQ(vd_backoff(30, 3600, 1), 30);
	CHECK_INT_EQ(vd_backoff(30, 3600, 2), 60);
	CHECK_INT_EQ(vd_backoff(30, 3600, 3), 120);
	CHECK_INT_EQ(vd_backoff(30, 3600, 7), 1920);
	CHECK_INT_EQ(vd_backoff(30, 3600, 8), 3600);
	CHECK_INT_EQ(vd_backoff(30, 3600, 1000000), 3600);
	CHECK_INT_EQ(vd_backoff(0, 10, 1), 1);
	CHECK_INT_EQ(vd_jitter(0), 0);
	CHECK_INT_EQ(vd_jitter(-5), 0);
	for (int i = 0; i < 10000; i++) {
		int64_t j = vd_jitter(10);

		CHECK(j >= 0 && j <= 10);
		if (j < lo)
			lo = j;
		if (j > hi)
			hi = j;
	}
	CHECK_INT_EQ(lo, 0);	/* both ends are reached */
	CHECK_INT_EQ(hi, 10);
}

int
main(void)
{
	CHECK_OK(vd_mem_init());
	CHECK(setenv("TZ", "UTC", 1) == 0);
	tzset();
	test_parse();
	test_open_next();
	test_backoff_jitter();
	printf("test_sched: ok\n");
	return 0;
}
