/*
 * server.h - the Unix socket, its connections and JSON-RPC framing.
 *
 * Each connection reads lines of at most VD_MSG_MAX bytes and handles one
 * request at a time: the next line is parsed only once the answer to the
 * previous one has been written, so a client that does not read its answers
 * stops being read (bounded memory) without holding up anyone else.  A
 * connection that sends no complete request within [vault] idle_timeout
 * is answered with a timeout error and closed.
 */
#ifndef VD_SERVER_H
#define VD_SERVER_H

#include <jansson.h>

#include "access.h"
#include "daemon.h"

/* One request being handled; lives inside its connection. */
struct vd_req {
	struct vd_daemon	*d;		/* the daemon */
	struct vd_conn		*conn;		/* where the answer goes */
	const struct vd_caller	*caller;	/* who asked (the connection's) */
	json_t			*msg;		/* the parsed request (owned) */
	const char		*method;	/* borrowed from msg */
};

/*
 * Creates the socket's directory (0750) when missing, refuses one that is
 * not a directory, not owned by vaultd (its effective uid, or the uid of
 * [vault] user it drops to) or writable by group/others without the sticky
 * bit (VD_ECONFIG naming directory, owner and mode), removes a stale
 * socket, binds (0660) and listens.  Returns 0, or a negative error with a
 * detail (another vaultd already listening: VD_EBUSY).
 */
int vd_server_start(struct vd_daemon *d);

/*
 * Stops accepting and closes every idle connection; connections with a
 * request in flight close once its answer is written.  The loop then ends
 * when the last handle closes.
 */
void vd_server_stop(struct vd_daemon *d);

/*
 * Answers rq with result (stolen; NULL: JSON null).  Exactly one of
 * vd_req_reply()/vd_req_fail() per request, possibly from a later loop
 * callback; rq must not be used afterwards.
 */
void vd_req_reply(struct vd_req *rq, json_t *result);

/*
 * Answers rq with an error: code from vd_proto_code(err), message msg or,
 * when NULL, vd_strerror(err) and the thread's error detail.  The message
 * must never contain a secret.
 */
void vd_req_fail(struct vd_req *rq, int err, const char *msg);

/* Answers rq with an explicit VD_RPC_* code and message. */
void vd_req_fail_code(struct vd_req *rq, int code, const char *msg);

/*
 * Sends obj (stolen; a complete JSON-RPC notification, without "id") on
 * rq's connection ahead of its answer, e.g. progress of a long request the
 * client asked for it on.  Does not end rq; dropped when the connection is
 * closing.
 */
void vd_req_notify(struct vd_req *rq, json_t *obj);

#endif
