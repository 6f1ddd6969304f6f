/*
 * fuzz_config.c - libFuzzer target for vaultd's configuration parser
 * (vaultd/config.c, which hands [policy] sections to common/policy.c):
 * any text is loaded or refused with a detail, without crashing or
 * leaking.  The text goes through inih's string parser, the same handler
 * as a file, so no file is written per input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_rng.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct vd_config *cfg = NULL;
	char *text;

	if (!init) {
		fuzz_rng_install();
		vd_mem_init();
		init = 1;
	}
	fuzz_rng_reset();
	if (size > 16384)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (vd_config_load_string("fuzz.conf", text, &cfg) == 0)
		vd_config_free(cfg);
	free(text);
	return 0;
}
