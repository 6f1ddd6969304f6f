/*
 * proto.c - JSON-RPC 2.0 line framing and the stable error codes.
 */
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "proto.h"

/*
 * jansson's blocks may hold a password (params, results): the free hook
 * wipes each one.  Plain malloc() blocks with malloc_usable_size() (glibc)
 * for the size, so code that releases json_dumps() output with free()
 * keeps working (that block is then just not wiped).
 */
static void *
wipe_malloc(size_t n)
{
	return malloc(n);
}

static void
wipe_free(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

/* Installs the wiping allocators for jansson; returns 0. */
int
vd_proto_init(void)
{
	json_set_alloc_funcs(wipe_malloc, wipe_free);
	return 0;
}

/* Encodes obj as one line plus newline; NULL when too big or no memory. */
char *
vd_proto_encode(const json_t *obj, size_t max, size_t *len)
{
	char *s, *line;
	size_t n;

	if ((s = json_dumps(obj, JSON_COMPACT)) == NULL)
		return NULL;
	n = strlen(s);
	if (n + 1 > max) {
		vd_proto_free(s);
		return NULL;
	}
	if ((line = malloc(n + 2)) == NULL) {
		vd_proto_free(s);
		return NULL;
	}
	memcpy(line, s, n);
	line[n] = '\n';
	line[n + 1] = '\0';
	vd_proto_free(s);
	if (len != NULL)
		*len = n + 1;
	return line;
}

/* Wipes and frees an encoded line (or any malloc'd block). */
void
vd_proto_free(char *line)
{
	wipe_free(line);
}

/* Builds a request; params is stolen. */
json_t *
vd_proto_request(json_int_t id, const char *method, json_t *params)
{
	json_t *o;

	o = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", id,
	    "method", method);
	if (o == NULL) {
		json_decref(params);
		return NULL;
	}
	if (params != NULL && json_object_set_new(o, "params", params) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
envelope(const json_t *id)
{
	json_t *o;

	if ((o = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(o, "jsonrpc", json_string("2.0")) != 0 ||
	    json_object_set_new(o, "id", id != NULL ? json_deep_copy(id) :
	    json_null()) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Builds a result answer; result is stolen. */
json_t *
vd_proto_result(const json_t *id, json_t *result)
{
	json_t *o;

	if ((o = envelope(id)) == NULL) {
		json_decref(result);
		return NULL;
	}
	if (json_object_set_new(o, "result", result != NULL ? result :
	    json_null()) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Builds an error answer. */
json_t *
vd_proto_error(const json_t *id, int code, const char *message)
{
	json_t *o;

	if ((o = envelope(id)) == NULL)
		return NULL;
	if (json_object_set_new(o, "error", json_pack("{s:i, s:s}", "code",
	    code, "message", message != NULL ? message : "error")) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static const struct {
	int	err;	/* VD_E* */
	int	code;	/* VD_RPC_* */
} codemap[] = {
	{ VD_EINVAL, VD_RPC_PARAMS },
	{ VD_EPERM, VD_RPC_PERM },
	{ VD_ENOTFOUND, VD_RPC_NOTFOUND },
	{ VD_EEXIST, VD_RPC_EXISTS },
	{ VD_ESEALED, VD_RPC_SEALED },
	{ VD_EAUTH, VD_RPC_AUTH },
	{ VD_EDB, VD_RPC_DB },
	{ VD_EPOLICY, VD_RPC_POLICY },
	{ VD_EBUSY, VD_RPC_UNAVAIL },
	{ VD_EBADKEY, VD_RPC_BADKEY },
	{ VD_ESTORE, VD_RPC_STORE },
	{ VD_ETOOBIG, VD_RPC_TOOBIG },
	{ VD_ETIMEDOUT, VD_RPC_TIMEOUT },
	{ VD_EPROTO, VD_RPC_INVALID },
};

/* Maps a VD_E* / -errno code to a VD_RPC_* code. */
int
vd_proto_code(int err)
{
	for (size_t i = 0; i < sizeof(codemap) / sizeof(codemap[0]); i++)
		if (codemap[i].err == err)
			return codemap[i].code;
	switch (err) {
	case VD_EUNREACH:	/* was VD_EDB before it had a code of its own */
		return VD_RPC_DB;
	case VD_EMAPFULL:
	case VD_ECORRUPT:
	case VD_ECHAIN:
	case VD_ERDONLY:
		return VD_RPC_STORE;
	default:
		return VD_RPC_INTERNAL;
	}
}

/* Maps a VD_RPC_* code to the closest VD_E* code. */
int
vd_proto_err(int code)
{
	for (size_t i = 0; i < sizeof(codemap) / sizeof(codemap[0]); i++)
		if (codemap[i].code == code)
			return codemap[i].err;
	switch (code) {
	case VD_RPC_PARSE:
	case VD_RPC_NOMETHOD:
		return VD_EPROTO;
	case VD_RPC_SHUTDOWN:
	case VD_RPC_UNAVAIL:
		return VD_EBUSY;
	default:
		return VD_EBASE;
	}
}

static int
fail(int *code, int c, char *msg, size_t msglen, const char *why)
{
	*code = c;
	snprintf(msg, msglen, "%s", why);	/* truncation harmless */
	return VD_EPROTO;
}

/* Parses and validates one request line. */
int
vd_proto_parse_request(const char *line, size_t len, json_t **req,
    int *code, char *msg, size_t msglen)
{
	json_error_t jerr;
	json_t *o, *v;

	*req = NULL;
	*code = 0;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	/*
	 * The parser's error text may quote the input, which may be a
	 * secret: report only that it is not JSON.
	 */
	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return fail(code, VD_RPC_PARSE, msg, msglen,
		    "parse error: not a JSON object");
	*req = o;
	if (!json_is_object(o))
		return fail(code, VD_RPC_INVALID, msg, msglen,
		    "invalid request: not an object");
	v = json_object_get(o, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
		return fail(code, VD_RPC_INVALID, msg, msglen,
		    "invalid request: jsonrpc must be \"2.0\"");
	v = json_object_get(o, "id");
	if (v != NULL && !json_is_null(v) && !json_is_integer(v) &&
	    !json_is_string(v))
		return fail(code, VD_RPC_INVALID, msg, msglen,
		    "invalid request: bad id");
	v = json_object_get(o, "method");
	if (!json_is_string(v))
		return fail(code, VD_RPC_INVALID, msg, msglen,
		    "invalid request: method must be a string");
	v = json_object_get(o, "params");
	if (v != NULL && !json_is_object(v))
		return fail(code, VD_RPC_PARAMS, msg, msglen,
		    "invalid params: params must be an object");
	return 0;
}
