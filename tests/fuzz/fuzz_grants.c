/*
 * fuzz_grants.c - libFuzzer target for the SHOW GRANTS line reader
 * (vaultd/grants.c vd_grants_line): any input is read without crashing or
 * reading past its length, and gives only the known bits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grants.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	unsigned bits;

	/* An exact-size copy: ASan catches a read past the length. */
	if ((s = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	bits = vd_grants_line(s, size);
	if (bits & ~(VD_GRANT_UPDATE_ALL | VD_GRANT_UPDATE_MYSQL |
	    VD_GRANT_CREATE_USER))
		abort();
	/* CREATE USER is global: never with a schema-level UPDATE alone. */
	if ((bits & VD_GRANT_UPDATE_MYSQL) && (bits & ~VD_GRANT_UPDATE_MYSQL))
		abort();
	free(s);
	return 0;
}
