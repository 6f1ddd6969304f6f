/*
 * test_proto.c - the JSON-RPC framing of common/proto.c: request parsing
 * (envelope fields, malformed input, line endings), encoding limits, the
 * request/answer builders and the stable error-code mapping.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "err.h"
#include "proto.h"
#include "util.h"

/* Parses s (strlen bytes); returns the VD_RPC_* code, 0 when accepted. */
static int
parse(const char *s, json_t **reqp, char *why, size_t whylen)
{
	json_t *req = NULL;
	int code = 12345, r;

	why[0] = '\0';
	r = vd_proto_parse_request(s, strlen(s), &req, &code, why, whylen);
	if (r == 0) {
		CHECK_INT_EQ(code, 0);
		CHECK(json_is_object(req));
	} else {
		CHECK_INT_EQ(r, VD_EPROTO);
		CHECK(code < 0);
		CHECK(why[0] != '\0');
	}
	if (reqp != NULL)
		*reqp = req;
	else
		json_decref(req);
	return r == 0 ? 0 : code;
}

static void
test_parse_ok(void)
{
	static const char *const ok[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}\n",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}\r\n",
		"{\"jsonrpc\":\"2.0\",\"method\":\"status\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"status\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":\"a-1\",\"method\":\"status\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":-7,\"method\":\"x\",\"params\":{}}",
		"  {\"method\":\"get\",\"params\":{\"name\":\"t1\"},"
		    "\"jsonrpc\":\"2.0\"}  ",
	};
	char why[200];
	json_t *req;

	for (size_t i = 0; i < VD_NELEM(ok); i++)
		CHECK_INT_EQ(parse(ok[i], NULL, why, sizeof(why)), 0);
	CHECK_INT_EQ(parse(ok[7], &req, why, sizeof(why)), 0);
	CHECK_STR_EQ(json_string_value(json_object_get(req, "method")), "get");
	CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(req,
	    "params"), "name")), "t1");
	json_decref(req);
}

static void
test_parse_bad(void)
{
	static const struct {
		const char	*in;
		int		 code;
	} bad[] = {
		{ "", VD_RPC_PARSE },
		{ "\n", VD_RPC_PARSE },
		{ "not json", VD_RPC_PARSE },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"status\"", VD_RPC_PARSE },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"method\":\"b\"}",
		    VD_RPC_PARSE },			/* duplicate key */
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"status\"} {}",
		    VD_RPC_PARSE },			/* two values */
		{ "[1,2]", VD_RPC_INVALID },
		{ "\"status\"", VD_RPC_PARSE },		/* not an array/object */
		{ "{\"method\":\"status\"}", VD_RPC_INVALID },
		{ "{\"jsonrpc\":2.0,\"method\":\"status\"}", VD_RPC_INVALID },
		{ "{\"jsonrpc\":\"2.1\",\"method\":\"status\"}",
		    VD_RPC_INVALID },
		{ "{\"jsonrpc\":\"2.0x\",\"method\":\"status\"}",
		    VD_RPC_INVALID },
		{ "{\"jsonrpc\":\"2\",\"method\":\"status\"}",
		    VD_RPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"s\"}",
		    VD_RPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"s\"}",
		    VD_RPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"s\"}",
		    VD_RPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"s\"}",
		    VD_RPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1}", VD_RPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}",
		    VD_RPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":null}",
		    VD_RPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"s\","
		    "\"params\":[1]}", VD_RPC_PARAMS },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"s\","
		    "\"params\":\"x\"}", VD_RPC_PARAMS },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"s\","
		    "\"params\":null}", VD_RPC_PARAMS },
	};
	char why[200];

	for (size_t i = 0; i < VD_NELEM(bad); i++) {
		int got = parse(bad[i].in, NULL, why, sizeof(why));

		if (got != bad[i].code)
			fprintf(stderr, "input %zu: %s\n", i, bad[i].in);
		CHECK_INT_EQ(got, bad[i].code);
	}
}

static void
test_parse_details(void)
{
	char why[200], tiny[8];
	json_t *req = NULL;
	int code;
	/* A NUL inside the line: JSON text cannot hold one raw. */
	static const char nul[] = "{\"jsonrpc\":\"2.0\",\"method\":\"s\0\"}";
	static const char *const secret[] = {
		"{\"password\": \"Sekr3t-Value\"", "Sekr3t-Value-2",
		"{\"password\":\"Sekr3t-Value", "{\"p\":Sekr3t}",
	};

	/*
	 * Malformed input that may be a secret is never quoted back
	 * (jansson's own text would: "near '\"Sekr3t'").
	 */
	for (size_t i = 0; i < VD_NELEM(secret); i++) {
		CHECK_INT_EQ(parse(secret[i], NULL, why, sizeof(why)),
		    VD_RPC_PARSE);
		CHECK(strstr(why, "Sekr") == NULL);
	}
	/* The parsed object is handed back so its id can be echoed. */
	CHECK_INT_EQ(parse("{\"jsonrpc\":\"1.0\",\"id\":42,\"method\":\"s\"}",
	    &req, why, sizeof(why)), VD_RPC_INVALID);
	CHECK(req != NULL);
	CHECK_INT_EQ(json_integer_value(json_object_get(req, "id")), 42);
	json_decref(req);
	/* Not JSON: nothing to hand back. */
	CHECK_INT_EQ(parse("{", &req, why, sizeof(why)), VD_RPC_PARSE);
	CHECK(req == NULL);
	/* A short message buffer is truncated, not overrun. */
	CHECK_INT_EQ(vd_proto_parse_request("x", 1, &req, &code, tiny,
	    sizeof(tiny)), VD_EPROTO);
	CHECK_INT_EQ(strlen(tiny), sizeof(tiny) - 1);
	/* Only len bytes count: a valid prefix of a longer buffer. */
	{
		const char *s = "{\"jsonrpc\":\"2.0\",\"method\":\"s\"}garbage";

		CHECK_INT_EQ(vd_proto_parse_request(s, strlen(s) - 7, &req,
		    &code, why, sizeof(why)), 0);
		json_decref(req);
		CHECK_INT_EQ(vd_proto_parse_request(s, strlen(s) - 8, &req,
		    &code, why, sizeof(why)), VD_EPROTO);
		CHECK_INT_EQ(code, VD_RPC_PARSE);
		json_decref(req);
	}
	CHECK_INT_EQ(vd_proto_parse_request(nul, sizeof(nul) - 1, &req,
	    &code, why, sizeof(why)), VD_EPROTO);
	CHECK_INT_EQ(code, VD_RPC_PARSE);
	json_decref(req);
}

static void
test_encode(void)
{
	json_t *o;
	char *line;
	size_t len = 0, n;

	/* One line, newline-terminated; embedded newlines are escaped. */
	o = json_pack("{s:s}", "k", "a\nb");
	CHECK((line = vd_proto_encode(o, VD_MSG_MAX, &len)) != NULL);
	CHECK_STR_EQ(line, "{\"k\":\"a\\nb\"}\n");
	CHECK_INT_EQ(len, strlen(line));
	CHECK(memchr(line, '\n', len - 1) == NULL);
	n = len;
	vd_proto_free(line);
	/* The limit counts the newline: exactly max fits, one less not. */
	CHECK((line = vd_proto_encode(o, n, NULL)) != NULL);
	vd_proto_free(line);
	CHECK(vd_proto_encode(o, n - 1, NULL) == NULL);
	json_decref(o);
	/* A request near VD_MSG_MAX. */
	{
		static char big[VD_MSG_MAX];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		o = vd_proto_request(1, "x", json_pack("{s:s}", "v", big));
		CHECK(o != NULL);
		CHECK(vd_proto_encode(o, VD_MSG_MAX, NULL) == NULL);
		CHECK((line = vd_proto_encode(o, VD_ANSWER_MAX, &len)) !=
		    NULL);
		CHECK(len > VD_MSG_MAX);
		vd_proto_free(line);
		json_decref(o);
	}
	vd_proto_free(NULL);
}

static void
test_builders(void)
{
	char why[200], *line;
	json_t *o, *req, *id;
	size_t len;

	/* A built request parses back to itself. */
	o = vd_proto_request(7, "target.get", json_pack("{s:s}", "name",
	    "t1"));
	CHECK((line = vd_proto_encode(o, VD_MSG_MAX, &len)) != NULL);
	CHECK_INT_EQ(parse(line, &req, why, sizeof(why)), 0);
	CHECK(json_equal(o, req));
	vd_proto_free(line);
	json_decref(req);
	json_decref(o);
	/* Without params: none in the request. */
	o = vd_proto_request(8, "status", NULL);
	CHECK(json_object_get(o, "params") == NULL);
	json_decref(o);
	/* Answers echo the id, or null without one. */
	id = json_string("abc");
	o = vd_proto_result(id, json_integer(5));
	CHECK_STR_EQ(json_string_value(json_object_get(o, "id")), "abc");
	CHECK_STR_EQ(json_string_value(json_object_get(o, "jsonrpc")), "2.0");
	CHECK_INT_EQ(json_integer_value(json_object_get(o, "result")), 5);
	json_decref(o);
	o = vd_proto_result(NULL, NULL);
	CHECK(json_is_null(json_object_get(o, "id")));
	CHECK(json_is_null(json_object_get(o, "result")));
	json_decref(o);
	o = vd_proto_error(id, VD_RPC_PERM, "permission denied");
	CHECK_STR_EQ(json_string_value(json_object_get(o, "id")), "abc");
	CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(o,
	    "error"), "code")), VD_RPC_PERM);
	CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(o,
	    "error"), "message")), "permission denied");
	CHECK(json_object_get(o, "result") == NULL);
	json_decref(o);
	json_decref(id);
}

static void
test_codes(void)
{
	static const struct {
		int	err;
		int	code;
	} both[] = {
		{ VD_EINVAL, VD_RPC_PARAMS }, { VD_EPERM, VD_RPC_PERM },
		{ VD_ENOTFOUND, VD_RPC_NOTFOUND }, { VD_EEXIST, VD_RPC_EXISTS },
		{ VD_ESEALED, VD_RPC_SEALED }, { VD_EAUTH, VD_RPC_AUTH },
		{ VD_EDB, VD_RPC_DB }, { VD_EPOLICY, VD_RPC_POLICY },
		{ VD_EBUSY, VD_RPC_UNAVAIL }, { VD_EBADKEY, VD_RPC_BADKEY },
		{ VD_ESTORE, VD_RPC_STORE }, { VD_ETOOBIG, VD_RPC_TOOBIG },
		{ VD_ETIMEDOUT, VD_RPC_TIMEOUT }, { VD_EPROTO, VD_RPC_INVALID },
	};

	/* The stable codes of docs/api.md. */
	CHECK_INT_EQ(VD_RPC_PERM, -32001);
	CHECK_INT_EQ(VD_RPC_TIMEOUT, -32013);
	for (size_t i = 0; i < VD_NELEM(both); i++) {
		CHECK_INT_EQ(vd_proto_code(both[i].err), both[i].code);
		CHECK_INT_EQ(vd_proto_err(both[i].code), both[i].err);
	}
	CHECK_INT_EQ(vd_proto_code(VD_EUNREACH), VD_RPC_DB);
	CHECK_INT_EQ(vd_proto_code(VD_ECORRUPT), VD_RPC_STORE);
	CHECK_INT_EQ(vd_proto_code(VD_ECHAIN), VD_RPC_STORE);
	CHECK_INT_EQ(vd_proto_code(-5), VD_RPC_INTERNAL);	/* -EIO */
	CHECK_INT_EQ(vd_proto_code(0), VD_RPC_INTERNAL);
	CHECK_INT_EQ(vd_proto_err(VD_RPC_PARSE), VD_EPROTO);
	CHECK_INT_EQ(vd_proto_err(VD_RPC_NOMETHOD), VD_EPROTO);
	CHECK_INT_EQ(vd_proto_err(VD_RPC_SHUTDOWN), VD_EBUSY);
	CHECK_INT_EQ(vd_proto_err(-1), VD_EBASE);
}

int
main(void)
{
	vd_proto_init();
	test_parse_ok();
	test_parse_bad();
	test_parse_details();
	test_encode();
	test_builders();
	test_codes();
	printf("test_proto: ok\n");
	return 0;
}
