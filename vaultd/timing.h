/*
 * timing.h - pure scheduling arithmetic: rotation windows, backoff, jitter.
 * No I/O and no state, so every rule is unit-tested on its own
 * (tests/unit/test_sched.c) and fuzzed (the window parser).
 */
#ifndef VD_TIMING_H
#define VD_TIMING_H

#include <stdint.h>

/*
 * A daily window in local time, "HH:MM-HH:MM", optionally followed by
 * days: "02:00-04:00", "22:00-02:00 mon-fri", "01:30-03:00 sat,sun".  A
 * window that ends before it starts crosses midnight (and belongs to the
 * day it starts on).
 */
struct vd_window {
	int		 set;		/* 0: no window, always open */
	int		 start;		/* minutes after midnight, 0..1439 */
	int		 end;		/* minutes after midnight, 0..1439 */
	unsigned	 days;		/* bit 0 = Sunday … bit 6 = Saturday */
};

/*
 * Parses s into *w.  NULL, "" and "always" mean no window.  Returns 0, or
 * VD_EINVAL with a detail (the input is not echoed).
 */
int vd_window_parse(const char *s, struct vd_window *w);

/* Formats w as vd_window_parse() reads it; returns buf. */
const char *vd_window_format(const struct vd_window *w, char *buf,
    unsigned len);

/* Returns 1 when time t (seconds since the epoch) lies inside w. */
int vd_window_open(const struct vd_window *w, int64_t t);

/*
 * Returns the earliest time >= t inside w (t itself when open), at minute
 * resolution; within 8 days, or t when w can never open.
 */
int64_t vd_window_next(const struct vd_window *w, int64_t t);

/*
 * Returns the delay before retry number retries (1 = first retry): min
 * doubled each time, capped at max.
 */
int64_t vd_backoff(int64_t min, int64_t max, unsigned retries);

/*
 * Returns a uniformly random jitter in [0, span] seconds (0 when span <= 0).
 */
int64_t vd_jitter(int64_t span);

#endif
