/*
 * proto.h - the JSON-RPC 2.0 framing shared by vaultd and vaultctl.
 *
 * One compact JSON object per line ("\n"-terminated, no embedded newline:
 * jansson's compact output escapes them).  A request is at most VD_MSG_MAX
 * bytes with the newline; an answer (a long target list or audit page) at
 * most VD_ANSWER_MAX.  Requests: {"jsonrpc":"2.0","id":N,"method":M,"params":{…}}.
 * Answers: {"jsonrpc":"2.0","id":N,"result":…} or
 * {"jsonrpc":"2.0","id":N,"error":{"code":C,"message":S}}.
 *
 * Passwords and passphrases travel inside params/results.  vd_proto_init()
 * installs jansson allocators that wipe every block on free, so a secret
 * that jansson copied never lingers in freed heap memory.
 *
 * The error codes below are a stable interface (docs/api.md).
 */
#ifndef VD_PROTO_H
#define VD_PROTO_H

#include <stddef.h>

#include <jansson.h>

#define VD_MSG_MAX	65536	/* longest request, newline included */
#define VD_ANSWER_MAX	(16 << 20)	/* longest answer (lists, audit) */
#define VD_SOCKET_DEFAULT	"/run/vaultd/vaultd.sock"	/* vaultd's socket */

/* Stable JSON-RPC error codes (docs/api.md). */
enum {
	VD_RPC_PARSE = -32700,		/* not JSON */
	VD_RPC_INVALID = -32600,	/* not a JSON-RPC 2.0 request */
	VD_RPC_NOMETHOD = -32601,	/* unknown method */
	VD_RPC_PARAMS = -32602,		/* bad or missing params */
	VD_RPC_INTERNAL = -32603,	/* internal error */
	VD_RPC_PERM = -32001,		/* caller lacks the role */
	VD_RPC_NOTFOUND = -32002,	/* no such target/version */
	VD_RPC_EXISTS = -32003,		/* target already exists */
	VD_RPC_SEALED = -32004,		/* vault sealed: unseal first */
	VD_RPC_AUTH = -32005,		/* MariaDB refused the login */
	VD_RPC_DB = -32006,		/* MariaDB unreachable or failed */
	VD_RPC_POLICY = -32007,		/* unknown or violated policy */
	VD_RPC_UNAVAIL = -32008,	/* feature not available (rotation) */
	VD_RPC_SHUTDOWN = -32009,	/* daemon shutting down */
	VD_RPC_BADKEY = -32010,		/* wrong passphrase */
	VD_RPC_STORE = -32011,		/* storage or audit write failed */
	VD_RPC_TOOBIG = -32012,		/* message larger than VD_MSG_MAX */
	VD_RPC_TIMEOUT = -32013,	/* deadline passed */
};

/*
 * Installs jansson allocators that wipe freed memory.  Call once at start,
 * before any jansson call.  Returns 0.
 */
int vd_proto_init(void);

/*
 * Encodes obj as one compact line with its trailing newline into a new
 * malloc'd string (free with vd_proto_free(), which wipes).
 * *len (may be NULL) gets its length.  Returns NULL when out of memory or
 * when the line would exceed max bytes (VD_MSG_MAX for a request,
 * VD_ANSWER_MAX for an answer).
 */
char *vd_proto_encode(const json_t *obj, size_t max, size_t *len);

/*
 * Wipes and frees a string from vd_proto_encode() or json_dumps() (any
 * malloc'd block); NULL-safe.
 */
void vd_proto_free(char *line);

/*
 * Builds a request object (params may be NULL; it is stolen).  Returns a
 * new reference, or NULL.
 */
json_t *vd_proto_request(json_int_t id, const char *method, json_t *params);

/*
 * Builds an answer with result (stolen) for request id (borrowed; NULL or
 * json null when unknown).  Returns a new reference, or NULL.
 */
json_t *vd_proto_result(const json_t *id, json_t *result);

/*
 * Builds an error answer with code and message for request id (borrowed,
 * may be NULL).  Returns a new reference, or NULL.
 */
json_t *vd_proto_error(const json_t *id, int code, const char *message);

/* Maps a VD_E* / -errno code to a stable JSON-RPC error code. */
int vd_proto_code(int err);

/* Maps a JSON-RPC error code back to the closest VD_E* code. */
int vd_proto_err(int code);

/*
 * Parses one line (without or with its newline, len bytes) into *req and
 * validates the JSON-RPC 2.0 envelope: "jsonrpc":"2.0", a string method,
 * params absent or an object, id absent, null, integer or string.  On
 * failure *code is a VD_RPC_* code, msg (msglen bytes) says why, and *req
 * holds the parsed object when it was JSON (so its id can be echoed).
 * Returns 0 or VD_EPROTO.
 */
int vd_proto_parse_request(const char *line, size_t len, json_t **req,
    int *code, char *msg, size_t msglen);

#endif
