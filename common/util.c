/*
 * util.c - time, names, durations, secret input.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "util.h"

int64_t
vd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t
vd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
vd_time_rfc3339(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (len > 0)
			buf[0] = '\0';
	}
	return buf;
}

int
vd_name_valid(const char *name)
{
	size_t n = 0;

	if (name == NULL || name[0] == '\0' || name[0] == '.' || name[0] == '-')
		return 0;
	for (const char *p = name; *p; p++, n++) {
		if (n >= VD_NAME_MAX)
			return 0;
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' &&
		    *p != '-')
			return 0;
	}
	return 1;
}

int
vd_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return VD_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return VD_EINVAL;
	*out = v;
	return 0;
}

int
vd_parse_duration(const char *s, int64_t *secs)
{
	char *end;
	long long v, mul = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return vd_err_set(VD_EINVAL,
		    "bad duration (use e.g. 30s, 15m, 12h, 90d)");
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return vd_err_set(VD_EINVAL, "duration out of range");
	switch (*end) {
	case '\0':
	case 's':
		mul = 1;
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	case 'w':
		mul = 7 * 86400;
		break;
	default:
		return vd_err_set(VD_EINVAL,
		    "bad duration unit (use s, m, h, d or w)");
	}
	if (*end != '\0' && end[1] != '\0')
		return vd_err_set(VD_EINVAL,
		    "bad duration (use e.g. 30s, 15m, 12h, 90d)");
	/* Ten years is far beyond any sane cadence; it also bounds overflow. */
	if (v > 10LL * 366 * 86400 / mul)
		return vd_err_set(VD_EINVAL, "duration too long (max 10 years)");
	*secs = (int64_t)(v * mul);
	return 0;
}

/* Reads one line from fd byte by byte into s; returns 0, 1 on EOF, or <0. */
static int
read_line(int fd, struct vd_secret *s)
{
	unsigned char c;
	ssize_t n;

	s->len = 0;
	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return s->len == 0 ? 1 : 0;
		if (c == '\n')
			break;
		if (s->len >= s->cap)
			return vd_err_set(VD_ETOOBIG, "secret longer than %d bytes",
			    VD_SECRET_MAX);
		s->data[s->len++] = c;
	}
	if (s->len > 0 && s->data[s->len - 1] == '\r')
		s->len--;
	s->data[s->len] = '\0';
	return 0;
}

static int
read_tty(int tty, const char *prompt, struct vd_secret *s)
{
	struct termios old, noecho;
	int r, restore = 0;

	if (tcgetattr(tty, &old) == 0) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		noecho.c_lflag |= ECHONL;
		if (tcsetattr(tty, TCSAFLUSH, &noecho) == 0)
			restore = 1;
	}
	if (write(tty, prompt, strlen(prompt)) < 0) {
		/* ignore: the prompt is a courtesy */
	}
	r = read_line(tty, s);
	if (restore)
		tcsetattr(tty, TCSAFLUSH, &old);
	return r;
}

int
vd_read_secret(int fd, const char *prompt, int confirm, int allow_empty,
    struct vd_secret **out)
{
	struct vd_secret *a = NULL, *b = NULL;
	int r, tty = -1;

	*out = NULL;
	if ((a = vd_secret_new(VD_SECRET_MAX)) == NULL)
		return VD_ENOMEM;
	if (isatty(fd)) {
		if ((tty = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0) {
			r = -errno;
			goto out;
		}
		if ((r = read_tty(tty, prompt ? prompt : "Password: ", a)) != 0)
			goto out;
		if (confirm) {
			if ((b = vd_secret_new(VD_SECRET_MAX)) == NULL) {
				r = VD_ENOMEM;
				goto out;
			}
			if ((r = read_tty(tty, "Again: ", b)) != 0)
				goto out;
			if (!vd_secret_eq(a, b)) {
				r = vd_err_set(VD_EINVAL, "the two entries differ");
				goto out;
			}
		}
	} else if ((r = read_line(fd, a)) != 0)
		goto out;
	if (a->len == 0 && !allow_empty) {
		r = vd_err_set(VD_EINVAL, "empty input");
		goto out;
	}
	*out = a;
	a = NULL;
	r = 0;
 out:
	if (r == 1)
		r = vd_err_set(VD_EINVAL, "no input: expected a line on stdin");
	if (tty >= 0)
		close(tty);
	vd_secret_free(a);
	vd_secret_free(b);
	return r;
}

int
vd_host_is_loopback(const char *host)
{
	unsigned char a[16];

	if (host == NULL || *host == '\0')
		return 0;
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1) {
		static const unsigned char one[16] = { [15] = 1 };
		static const unsigned char mapped[12] = { [10] = 0xff,
		    [11] = 0xff };

		return memcmp(a, one, 16) == 0 ||
		    (memcmp(a, mapped, 12) == 0 && a[12] == 127);
	}
	return 0;
}
