/*
 * headlog.h - vaultd marks its audit head in the journal (issue 14 item 3;
 * the mark's format and reader are in common/audit_mark.h).
 *
 * A mark is the audit entry count and the newest entry's hash, and the
 * vault id: nothing secret.  It is written when vaultd starts serving an
 * unlocked vault, by a timer at most once every VD_AUDIT_MARK_EVERY
 * seconds when the head moved, and when vaultd stops (after the last
 * job).  Loop thread only.
 */
#ifndef VD_HEADLOG_H
#define VD_HEADLOG_H

#include "daemon.h"

/* Marks the head now (when unlocked) and starts the timer. */
void vd_headlog_start(struct vd_daemon *d);

/* Closes the timer (SIGTERM, or a failed start-up). */
void vd_headlog_close(struct vd_daemon *d);

/* The last mark, once the loop has ended and nothing writes any more. */
void vd_headlog_final(struct vd_daemon *d);

#endif
