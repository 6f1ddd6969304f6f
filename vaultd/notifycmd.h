/*
 * notifycmd.h - the [notify] command: an external program run for each
 * checkout event (request, approve, deny, checkout, checkin, expiry,
 * revoke), with the event as one JSON object on its standard input, so a
 * site can wire mail or chat.  (notify.h is systemd's sd_notify; this is
 * another thing.)
 *
 * The command runs without a shell (argv: the path and the event name),
 * from "/", with an environment of PATH and LANG only, standard output
 * and error discarded, off the loop (uv_spawn, its stdin a pipe written
 * asynchronously), and is killed after [notify] timeout.  It is never
 * given a password: events carry names, ids, reasons and times.  A
 * command that group or others can write is refused (as the config is).
 * Failures are logged and never block nor fail the flow; at most
 * VD_NOTIFYCMD_MAX run at once, events beyond are logged and dropped.
 */
#ifndef VD_NOTIFYCMD_H
#define VD_NOTIFYCMD_H

#include <jansson.h>

#include "daemon.h"

#define VD_NOTIFYCMD_MAX	16	/* commands running at once */

/*
 * Runs d->cfg's notify command (when one is configured) for event (a JSON
 * object with at least "event"; borrowed).  Never fails the caller.
 */
void vd_notifycmd_event(struct vd_daemon *d, const json_t *event);

#endif
