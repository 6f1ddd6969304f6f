/*
 * log.h - one line per event on stderr, with a syslog priority prefix
 * ("<3>"), which journald turns into the entry's priority.  Never log a
 * secret, nor rejected input that might be one: log a target name instead.
 */
#ifndef VD_LOG_H
#define VD_LOG_H

#include <syslog.h>

/* Sets the program name shown in each line and the lowest priority printed. */
void vd_log_init(const char *ident, int max_priority);

/* Logs one line at priority (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG …). */
void vd_log(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
