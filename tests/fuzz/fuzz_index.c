/*
 * fuzz_index.c - libFuzzer target for escrow bundles with a signed index
 * (common/bundle_index.c): the input is a bundle file's bytes, parsed by
 * vd_bundle_parse() (version 1 or 2: the index, its entries, its
 * signature, then the envelopes), and an accepted bundle is checked
 * against its index for every target it names, as break-glass does.
 * Every input is accepted or refused with a detail, never a crash or a
 * leak.
 *
 * The seeds (corpus/index) are bundles written by vaultctl escrow export
 * in tests/integration/test_bundle_index.sh (genuine, a hidden version, a
 * planted one, a re-signed index, a stripped one), sealed to throwaway
 * test keys that protect nothing.  The index parser reads every field
 * before it checks the signature, so mutated inputs reach all of it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle_index.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct vd_escrow_set set = { NULL, 0, 0 };
	struct vd_bindex *ix = NULL;

	if (!inited) {
		if (vd_mem_init() != 0)
			abort();
		inited = 1;
	}
	if (vd_bundle_parse(data, size, &set, &ix) == 0 && ix != NULL) {
		/* Bounded: a hostile bundle may name many targets. */
		for (size_t i = 0; i < set.n && i < 64; i++) {
			(void)vd_bindex_check(ix, &set, set.items[i].target,
			    NULL);
			(void)vd_bindex_check(ix, &set, set.items[i].target,
			    ix->fp);
			(void)vd_bindex_state(ix, set.items[i].target,
			    set.items[i].version);
		}
		for (size_t i = 0; i < ix->n && i < 64; i++)
			(void)vd_bindex_check(ix, &set, ix->e[i].target,
			    "00000000000000000000000000000000");
	}
	vd_bindex_free(ix);
	vd_escrow_set_clear(&set);
	return 0;
}
