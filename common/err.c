/*
 * err.c - error names and the per-thread error detail.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static _Thread_local char detail[512];

const char *
vd_strerror(int err)
{
	static const char *const names[] = {
		[0] = "error",
		[1] = "invalid argument",
		[2] = "not found",
		[3] = "already exists",
		[4] = "wrong key, or not a vault",
		[5] = "not a vault",
		[6] = "vault format is newer than this program supports",
		[7] = "record failed authentication (tampered or misplaced)",
		[8] = "key file has the wrong size",
		[9] = "permissions too open",
		[10] = "vault map is full",
		[11] = "storage engine failure",
		[12] = "out of memory",
		[13] = "password policy",
		[14] = "permission denied",
		[15] = "vault is sealed",
		[16] = "database server error",
		[17] = "login refused",
		[18] = "bad configuration",
		[19] = "too large",
		[20] = "protocol error",
		[21] = "timed out",
		[22] = "busy",
		[23] = "store is read-only",
		[24] = "audit chain broken",
		[25] = "not reachable from here",
	};

	if (err == 0)
		return "success";
	if (err <= VD_EBASE && err > VD_ELAST) {
		int i = VD_EBASE - err;

		if ((size_t)i < sizeof(names) / sizeof(names[0]) && names[i])
			return names[i];
		return "unknown error";
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

int
vd_err_set(int err, const char *fmt, ...)
{
	char buf[sizeof(detail)];
	va_list ap;

	/* Through buf: callers may pass vd_err_detail() as an argument. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(detail, buf, sizeof(detail));
	return err;
}

void
vd_err_clear(void)
{
	detail[0] = '\0';
}

const char *
vd_err_detail(void)
{
	return detail;
}

const char *
vd_err_format(int err, char *buf, size_t len)
{
	int n;

	if (detail[0] != '\0')
		n = snprintf(buf, len, "%s: %s", vd_strerror(err), detail);
	else
		n = snprintf(buf, len, "%s", vd_strerror(err));
	(void)n;	/* truncation is acceptable for a message */
	return buf;
}
