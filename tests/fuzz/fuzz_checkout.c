/*
 * fuzz_checkout.c - libFuzzer target for checkout.c's readers of stored
 * records (vaultd/checkout_rec.h): the input, decoded as the store decodes
 * a record (json_loadb, duplicates refused), is read as a request record
 * (vd_checkout_view) and as a target's schedule record
 * (vd_checkout_status) without crashing or leaking, and what status shows
 * of a checkout is either nothing or a complete, well-typed object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "checkout_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *rec, *v, *co;

	if (size > 65536)
		return 0;
	rec = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    NULL);
	if (rec == NULL)
		return 0;
	v = vd_checkout_view(42, rec);
	if (json_is_object(rec) != (v != NULL))
		abort();
	if (v != NULL && json_integer_value(json_object_get(v, "id")) != 42)
		abort();
	json_decref(v);
	/* The record itself, and as a schedule record's "checkout" field. */
	co = vd_checkout_status(rec);
	if (co != NULL && (json_integer_value(json_object_get(co,
	    "request")) < 1 || json_integer_value(json_object_get(co,
	    "until_unix")) < 1 || !json_is_string(json_object_get(co,
	    "holder")) || !json_is_string(json_object_get(co, "until"))))
		abort();
	json_decref(co);
	if ((v = json_pack("{s:O}", "checkout", rec)) != NULL) {
		json_decref(vd_checkout_status(v));
		json_decref(v);
	}
	json_decref(rec);
	return 0;
}
