/*
 * util.h - small helpers shared by vaultd and vaultctl: time, names,
 * durations, and reading secrets from a terminal or stdin.
 */
#ifndef VD_UTIL_H
#define VD_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

#define VD_NAME_MAX	64	/* longest target/party/policy name */
#define VD_SECRET_MAX	4096	/* longest password or passphrase read */
#define VD_TIME_STRLEN	32	/* buffer for an RFC 3339 time */

#ifndef container_of
#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))
#endif
#define VD_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Returns the wall-clock time in seconds / milliseconds since the epoch. */
int64_t vd_now(void);
int64_t vd_now_ms(void);

/* Writes t (seconds since the epoch) as "2026-11-25T21:39:30Z"; returns buf. */
const char *vd_time_rfc3339(int64_t t, char *buf, size_t len);

/*
 * Returns 1 when name is a valid object name: 1..VD_NAME_MAX characters of
 * [A-Za-z0-9._-], not starting with '.' or '-'.
 */
int vd_name_valid(const char *name);

/*
 * Parses a duration such as "30s", "15m", "12h", "90d" (or a plain number
 * of seconds) into *secs.  Returns 0, or VD_EINVAL with a detail.
 */
int vd_parse_duration(const char *s, int64_t *secs);

/*
 * Reads one secret line.  On a terminal, prompts on /dev/tty with echo off
 * (and, when confirm is set, asks twice and requires the same answer);
 * otherwise reads one line from fd without buffering past its newline, so
 * the next line stays for the next call.  The trailing newline (and CR) is
 * removed.  An empty line is refused unless allow_empty.  On success *out
 * owns the secret.  Returns 0, VD_EINVAL (empty, mismatch, too long, no
 * input) or -errno.
 */
int vd_read_secret(int fd, const char *prompt, int confirm, int allow_empty,
    struct vd_secret **out);

/*
 * Parses a decimal integer in [min, max]; returns 0 or VD_EINVAL.
 */
int vd_parse_int(const char *s, long long min, long long max, long long *out);

/*
 * Returns 1 when host names this machine's loopback: "localhost", an IPv4
 * address in 127.0.0.0/8, ::1 or ::ffff:127.x.y.z (literals only; a name
 * that resolves to loopback is not trusted to keep doing so).  TCP to any
 * other host needs TLS unless a target says `tls disabled` (issue 14).
 */
int vd_host_is_loopback(const char *host);

#endif
