/*
 * notify.c - sd_notify(3) messages to systemd and structured journal
 * entries (sd_journal_send(3)); the only code that includes libsystemd's
 * headers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "log.h"
#include "notify.h"

/* Sends one message; a failure is logged at debug level only. */
static void
send_msg(const char *msg)
{
	int r;

	/* 0: NOTIFY_SOCKET unset, nothing to do; keep it for children. */
	if ((r = sd_notify(0, msg)) < 0)
		vd_log(LOG_DEBUG, "sd_notify: %s", strerror(-r));
}

/* Copies text into buf (bufsz > 0) with newlines made spaces, cut to fit. */
static void
clean_status(char *buf, size_t bufsz, const char *text)
{
	size_t i;

	for (i = 0; i + 1 < bufsz && text[i] != '\0'; i++)
		buf[i] = (text[i] == '\n' || text[i] == '\r') ? ' ' : text[i];
	buf[i] = '\0';
}

/* Sends READY=1 and an optional STATUS= line. */
void
vd_notify_ready(const char *status)
{
	char text[VD_NOTIFY_STATUS_MAX + 1], msg[VD_NOTIFY_STATUS_MAX + 32];
	int n;

	if (status == NULL) {
		send_msg("READY=1");
		return;
	}
	clean_status(text, sizeof(text), status);
	n = snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", text);
	if (n < 0 || (size_t)n >= sizeof(msg))
		send_msg("READY=1");
	else
		send_msg(msg);
}

/* Sends RELOADING=1 with the monotonic clock's time in microseconds. */
void
vd_notify_reloading(void)
{
	struct timespec ts;
	char msg[64];
	int n;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		send_msg("RELOADING=1");
		return;
	}
	n = snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	send_msg(n < 0 || (size_t)n >= sizeof(msg) ? "RELOADING=1" : msg);
}

/* Sends STOPPING=1. */
void
vd_notify_stopping(void)
{
	send_msg("STOPPING=1");
}

/* Sends STATUS= with a formatted, cleaned, bounded text. */
void
vd_notify_status(const char *fmt, ...)
{
	char text[VD_NOTIFY_STATUS_MAX + 1], clean[VD_NOTIFY_STATUS_MAX + 1];
	char msg[VD_NOTIFY_STATUS_MAX + 16];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* A longer text was cut by vsnprintf: that is the documented bound. */
	clean_status(clean, sizeof(clean), text);
	n = snprintf(msg, sizeof(msg), "STATUS=%s", clean);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	send_msg(msg);
}

/* 1 when stderr is the journal stream systemd connected (JOURNAL_STREAM). */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	char end;

	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &sb) != 0)
		return 0;
	return (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
}

int
vd_notify_audit_head(unsigned long long count, const char *hash,
    const char *vault_id, const char *why)
{
	int r;

	if (!stderr_is_journal())
		return -1;
	r = sd_journal_send("MESSAGE=audit head (%s): entry %llu", why, count,
	    "PRIORITY=%d", LOG_NOTICE, "SYSLOG_IDENTIFIER=vaultd",
	    "VAULTD_AUDIT_HEAD=%llu:%s", count, hash,
	    "VAULTD_VAULT_ID=%s", vault_id, NULL);
	if (r < 0) {
		vd_log(LOG_DEBUG, "sd_journal_send: %s", strerror(-r));
		return -1;
	}
	return 0;
}
