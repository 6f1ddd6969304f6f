/*
 * log.c - stderr logging with syslog priority prefixes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static const char *log_ident = "vaultd";
static int log_max = LOG_INFO;

void
vd_log_init(const char *ident, int max_priority)
{
	log_ident = ident;
	log_max = max_priority;
}

void
vd_log(int priority, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (priority > log_max)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* One write per line so concurrent writers do not interleave. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "<%d>%s: %s\n", priority, log_ident, line);
}
