/*
 * timing.c - rotation windows, backoff and jitter.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "err.h"
#include "timing.h"

static const char *const day_names[7] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat",
};

/* Parses "HH:MM" at *p (advancing it) into minutes; -1 on error. */
static int
parse_hhmm(const char **p)
{
	const char *s = *p;
	int h, m;

	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    s[2] != ':' || !isdigit((unsigned char)s[3]) ||
	    !isdigit((unsigned char)s[4]))
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return -1;
	*p = s + 5;
	return h * 60 + m;
}

static int
parse_day(const char *s, size_t n)
{
	if (n != 3)
		return -1;
	for (int i = 0; i < 7; i++)
		if (strncasecmp(s, day_names[i], 3) == 0)
			return i;
	return -1;
}

/* Parses "mon-fri", "sat,sun", "mon,wed-fri" into a day mask; 0 on error. */
static unsigned
parse_days(const char *s)
{
	unsigned mask = 0;

	while (*s) {
		const char *e = s;
		int a, b;

		while (isalpha((unsigned char)*e))
			e++;
		if ((a = parse_day(s, (size_t)(e - s))) < 0)
			return 0;
		b = a;
		if (*e == '-') {
			const char *f = ++e;

			while (isalpha((unsigned char)*e))
				e++;
			if ((b = parse_day(f, (size_t)(e - f))) < 0)
				return 0;
		}
		for (int d = a;; d = (d + 1) % 7) {
			mask |= 1u << d;
			if (d == b)
				break;
		}
		if (*e == ',')
			e++;
		else if (*e != '\0')
			return 0;
		s = e;
	}
	return mask;
}

int
vd_window_parse(const char *s, struct vd_window *w)
{
	const char *p = s;

	memset(w, 0, sizeof(*w));
	if (s == NULL || *s == '\0' || strcmp(s, "always") == 0)
		return 0;
	if ((w->start = parse_hhmm(&p)) < 0 || *p++ != '-' ||
	    (w->end = parse_hhmm(&p)) < 0)
		return vd_err_set(VD_EINVAL, "bad window: use HH:MM-HH:MM, "
		    "optionally followed by days (e.g. 02:00-04:00 mon-fri)");
	if (w->start == w->end)
		return vd_err_set(VD_EINVAL, "bad window: it starts and ends "
		    "at the same minute");
	w->days = 0x7f;
	if (*p == ' ') {
		while (*p == ' ')
			p++;
		if ((w->days = parse_days(p)) == 0)
			return vd_err_set(VD_EINVAL, "bad window days: use e.g. "
			    "mon-fri or sat,sun");
	} else if (*p != '\0')
		return vd_err_set(VD_EINVAL, "bad window: use HH:MM-HH:MM, "
		    "optionally followed by days (e.g. 02:00-04:00 mon-fri)");
	w->set = 1;
	return 0;
}

const char *
vd_window_format(const struct vd_window *w, char *buf, unsigned len)
{
	char days[40] = "";
	size_t n = 0;

	if (!w->set) {
		snprintf(buf, len, "always");
		return buf;
	}
	if (w->days != 0x7f)
		for (int d = 0; d < 7; d++)
			if (w->days & (1u << d)) {
				int k = snprintf(days + n, sizeof(days) - n,
				    "%s%s", n ? "," : " ", day_names[d]);

				if (k > 0 && (size_t)k < sizeof(days) - n)
					n += (size_t)k;
			}
	snprintf(buf, len, "%02d:%02d-%02d:%02d%s", w->start / 60,
	    w->start % 60, w->end / 60, w->end % 60, days);
	return buf;
}

int
vd_window_open(const struct vd_window *w, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	int min, day;

	if (!w->set)
		return 1;
	if (localtime_r(&tt, &tm) == NULL)
		return 1;
	min = tm.tm_hour * 60 + tm.tm_min;
	day = tm.tm_wday;
	if (w->start < w->end)
		return (w->days & (1u << day)) && min >= w->start &&
		    min < w->end;
	/* Crosses midnight: the evening part is today's, the rest
	 * yesterday's. */
	if (min >= w->start)
		return (w->days & (1u << day)) != 0;
	if (min < w->end)
		return (w->days & (1u << ((day + 6) % 7))) != 0;
	return 0;
}

int64_t
vd_window_next(const struct vd_window *w, int64_t t)
{
	int64_t c;

	if (vd_window_open(w, t))
		return t;
	/* Step to the next whole minute, then minute by minute: at most
	 * 8 days of minutes (11520 steps), cheap and DST-proof. */
	c = t - (t % 60) + 60;
	for (int i = 0; i < 8 * 24 * 60; i++, c += 60)
		if (vd_window_open(w, c))
			return c;
	return t;
}

int64_t
vd_backoff(int64_t min, int64_t max, unsigned retries)
{
	int64_t d = min > 0 ? min : 1;

	for (unsigned i = 1; i < retries && d < max; i++)
		d *= 2;
	return d > max ? max : d;
}

int64_t
vd_jitter(int64_t span)
{
	if (span <= 0)
		return 0;
	if (span > UINT32_MAX - 1)
		span = UINT32_MAX - 1;
	return (int64_t)randombytes_uniform((uint32_t)span + 1);
}
