/*
 * fuzz_config.c - libFuzzer target for vaultd's configuration parser
 * (vaultd/config.c, which hands [policy] sections to common/policy.c):
 * any file is loaded or refused with a detail, without crashing or leaking.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct vd_config *cfg = NULL;
	FILE *f;

	if (path[0] == '\0') {
		int fd;

		vd_mem_init();
		snprintf(path, sizeof(path), "/tmp/vd-fuzz-config.XXXXXX");
		if ((fd = mkstemp(path)) < 0)
			abort();
		close(fd);
	}
	if (size > 16384)
		return 0;
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	if (vd_config_load(path, &cfg) == 0)
		vd_config_free(cfg);
	return 0;
}
