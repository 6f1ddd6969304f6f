/*
 * notify.h - tells systemd about vaultd's state (sd_notify(3), through
 * libsystemd): READY=1 once the socket listens, RELOADING=1 / READY=1
 * around a SIGHUP reload, STOPPING=1 on SIGTERM, and a free-form STATUS=
 * line that `systemctl status vaultd` shows.
 *
 * Every function is a no-op when NOTIFY_SOCKET is unset (vaultd started
 * by hand or by a test), and none of them fails the caller: a lost
 * notification is logged at debug level and otherwise ignored, since the
 * service manager's timeouts cover it.  Never pass a secret in a status.
 */
#ifndef VD_NOTIFY_H
#define VD_NOTIFY_H

/* Longest STATUS= text sent; longer texts are cut. */
#define VD_NOTIFY_STATUS_MAX	256

/*
 * Sends READY=1, with STATUS=status when status is not NULL.  Call once
 * the socket listens and the vault is open (sealed or not), and again
 * after a reload.
 */
void vd_notify_ready(const char *status);

/* Sends RELOADING=1 (and MONOTONIC_USEC=, as systemd >= 253 wants). */
void vd_notify_reloading(void);

/* Sends STOPPING=1: call when SIGTERM/SIGINT starts the shutdown. */
void vd_notify_stopping(void);

/*
 * Sends STATUS= with a printf-formatted text (newlines become spaces, cut
 * at VD_NOTIFY_STATUS_MAX bytes).
 */
void vd_notify_status(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * Writes an audit head mark (audit_mark.h) to the journal as structured
 * fields VAULTD_AUDIT_HEAD=COUNT:HASH and VAULTD_VAULT_ID=ID, with a
 * MESSAGE naming why (start, interval, stop), when vaultd's stderr is the
 * journal (JOURNAL_STREAM names it, as systemd sets it for a service).
 * Returns 0 when sent; -1 when there is no journal to send to (or sending
 * failed): the caller then writes the stderr line instead.
 */
int vd_notify_audit_head(unsigned long long count, const char *hash,
    const char *vault_id, const char *why);

#endif
