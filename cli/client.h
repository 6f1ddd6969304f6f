/*
 * client.h - vaultctl's side of the JSON-RPC socket (common/proto.h).
 *
 * The socket is --socket PATH (global or per command), else
 * $VAULTD_SOCKET, else /run/vaultd/vaultd.sock.  One connection per call;
 * the answer is read into secure memory because it may carry a password.
 */
#ifndef VD_CLI_CLIENT_H
#define VD_CLI_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#define VC_TIMEOUT	300	/* seconds to wait for an answer */

/* Sets the socket path (from --socket); path must outlive the calls. */
void vc_set_socket(const char *path);

/* Returns the socket path in effect. */
const char *vc_socket_path(void);

/*
 * Calls method with params (stolen; may be NULL) and waits at most
 * VC_TIMEOUT seconds (timeout 0) or timeout seconds.  On success *result
 * holds the answer's result (new reference).  On a JSON-RPC error returns
 * the closest VD_E* code (vd_proto_err()) with the server's message as
 * the error detail; on a socket failure -errno with a detail naming the
 * socket.
 */
int vc_call(const char *method, json_t *params, unsigned timeout,
    json_t **result);

/* Called with a notification's params (borrowed; may be NULL). */
typedef void (*vc_notify_fn)(const json_t *params, void *arg);

/*
 * Like vc_call(), for methods that send JSON-RPC notifications (lines
 * with a "method" and no "id", e.g. "rotate.progress") before their
 * answer: fn (when not NULL) is called for each; timeout applies to each
 * line.  Returns as vc_call().
 */
int vc_call_notify(const char *method, json_t *params, unsigned timeout,
    vc_notify_fn fn, void *arg, json_t **result);

/*
 * Calls method and, on failure, prints "vaultctl: what: message" and
 * returns the exit code (vc_exit_code()); returns VC_EXIT_OK with *result
 * on success.
 */
int vc_call_exit(const char *what, const char *method, json_t *params,
    unsigned timeout, json_t **result);

/* Prints obj as indented JSON with a newline on stdout; returns 0 or 1. */
int vc_print_json(const json_t *obj);

/* Prints s, or "-" for NULL/empty, used by table output. */
const char *vc_str(const json_t *v);

#endif
