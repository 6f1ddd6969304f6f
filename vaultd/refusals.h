/*
 * refusals.h - refused calls summarised per uid (issue 14 item 6).
 *
 * A caller that reaches the socket but holds no role for a method used to
 * cost one durable audit write (an fsync) and one log line per refused
 * call, on the loop thread: 2,000 refused `status` calls took 13 s of
 * loop time and grew data.mdb by 650 KB.  Now the first refusal of each
 * method by a uid in an interval (VD_REFUSALS_INTERVAL) is audited and
 * logged as before (a handful: the API has 14 methods); the ones that
 * follow within it are counted, and one audit entry
 * {"event": "refused-summary", "uid", "user", "count", "methods", "from",
 * "to"} and one log line per uid say how many there were once the
 * interval has passed (a timer; at stop, whatever is left).  A bounded
 * table (VD_REFUSALS_SLOTS uids); further uids share one summary slot
 * (uid -1).  Loop thread only.
 */
#ifndef VD_REFUSALS_H
#define VD_REFUSALS_H

#include <sys/types.h>

#include "daemon.h"

#define VD_REFUSALS_INTERVAL	60	/* s: one audited refusal per uid */
#define VD_REFUSALS_SLOTS	64	/* uids tracked at once */

/*
 * Notes a refused call of method by uid (user).  Returns 1 when the caller
 * must audit and log it as before (the uid's first in its interval), 0
 * when it was counted into the uid's summary (answer it, write nothing).
 */
int vd_refusals_note(struct vd_daemon *d, uid_t uid, const char *user,
    const char *method);

/* Writes every pending summary and closes the timer (vaultd stops). */
void vd_refusals_stop(struct vd_daemon *d);

#endif
