/*
 * fuzz_proto.c - libFuzzer target for the JSON-RPC request parser
 * (common/proto.c): any line is either a valid request or refused with a
 * JSON-RPC error code, without crashing or leaking.
 */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	json_t *req = NULL;
	char msg[256];
	int code = 0, r;

	if (!init) {
		vd_proto_init();
		init = 1;
	}
	if (size > VD_MSG_MAX)
		return 0;
	r = vd_proto_parse_request((const char *)data, size, &req, &code, msg,
	    sizeof(msg));
	if (r == 0 && (req == NULL || !json_is_object(req)))
		abort();
	if (r != 0 && code >= 0)
		abort();
	if (r == 0) {
		char *line = vd_proto_encode(req, VD_MSG_MAX, NULL);

		vd_proto_free(line);
	}
	json_decref(req);
	return 0;
}
