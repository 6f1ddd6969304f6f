/*
 * api.h - the JSON-RPC methods: one table of { method, roles, handler }
 * through which every request passes (docs/api.md lists them).
 *
 * The role check happens in vd_api_dispatch() before any handler runs; a
 * refused call is answered with VD_RPC_PERM and written to the audit log.
 */
#ifndef VD_API_H
#define VD_API_H

#include <jansson.h>

#include "server.h"

/*
 * Checks rq's caller against the method's roles and runs its handler,
 * which answers rq now or from a later callback.  params is borrowed from
 * rq->msg (NULL when absent).
 */
void vd_api_dispatch(struct vd_req *rq, json_t *params);

/*
 * Appends an audit entry for a daemon event without a caller (config
 * reload): event, result ("ok", "refused" …), reason (may be NULL; never a
 * secret).  Returns 0 or a negative error (also when sealed).
 */
int vd_api_audit_event(struct vd_daemon *d, const char *event,
    const char *result, const char *reason);

/*
 * Answers the reveals waiting for their group commit (writing their audit
 * entries first) and closes its handle; called when vaultd stops.
 */
void vd_api_stop(struct vd_daemon *d);

#endif
