/*
 * fuzz_policy.c - libFuzzer target for policy definitions
 * (common/policy.c): "key = value" lines applied to one policy, then
 * finalized; a policy that finalizes generates a password that passes its
 * own check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_rng.h"
#include "mem.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct vd_policyset *ps = NULL;
	struct vd_secret *pw = NULL;
	const struct vd_policy *p;
	char buf[2048], *line, *save = NULL;
	int applied = 0;

	if (!init) {
		fuzz_rng_install();
		vd_mem_init();
		init = 1;
	}
	fuzz_rng_reset();
	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (vd_policyset_new(&ps) != 0)
		abort();
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (eq == NULL)
			continue;
		*eq = '\0';
		if (vd_policyset_set(ps, "fz", line, eq + 1) == 0)
			applied++;
	}
	if (applied > 0 && vd_policyset_finalize(ps) == 0 &&
	    (p = vd_policyset_get(ps, "fz")) != NULL) {
		char why[VD_POLICY_WHY_MAX];

		if (vd_policy_generate(p, &pw) == 0 &&
		    vd_policy_check(p, (const char *)pw->data, pw->len, why,
		    sizeof(why)) != 0)
			abort();
		vd_secret_free(pw);
	}
	vd_policyset_free(ps);
	return 0;
}
