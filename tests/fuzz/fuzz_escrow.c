/*
 * fuzz_escrow.c - libFuzzer target for the escrow parsers (escrow/escrow.c):
 * party public key lines (and [escrow] party values with their pinned key
 * id), private key files, bundles, single envelopes
 * (opened by break-glass), share files and break-glass reports.  The first
 * input byte picks the parser (mod MODES), the rest is its input; every
 * input is accepted or refused with a detail, never a crash or a leak.
 *
 * The seeds (corpus/escrow) are real files made with vaultctl escrow keygen,
 * tests/integration/test_breakglass_vault seal, vaultctl escrow export and
 * vaultctl breakglass share, under the throwaway test keys below, so that
 * mutations of them get past signature and sealing checks into the
 * plaintext parser.  These keys protect nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "escrow.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	M_PUB,		/* vd_escrow_pub_parse */
	M_KEY,		/* vd_escrow_key_protected + vd_escrow_key_parse */
	M_BUNDLE,	/* vd_escrow_set_parse_bundle, then recover and share */
	M_ENVELOPE,	/* one envelope as (t, 1|2, customer|vendor): recover */
	M_SHARE,	/* vd_escrow_combine of one or two share files */
	M_REPORT,	/* vd_escrow_report_check on JSON */
	MODES
};

/* Test-only key pairs of the seed corpus (see above). */
static const char *const keytext[] = {
	"vaultd-escrow-key-v1 customer 5ea24a296c0b6f7a none "
	    "6Cx+Of/vLrtJivqhMNQZh23B4n+8N4KvsoOn5sF1I6g=\n",
	"vaultd-escrow-key-v1 vendor 3148c85b9e4119a5 none "
	    "WBMWQMHDsm1GO8ED/X269Yed/dLHx6lmaytHN5Rk4Yo=\n",
	"vaultd-escrow-key-v1 combiner 8e6543f736023715 none "
	    "LrzYsx62FH/4HlYFjKfpC8ncqBmOTQs1LCxnxE5IgO8=\n",
};
static struct vd_escrow_key *keys[3];	/* customer, vendor, combiner */

static void
init(void)
{
	size_t i;

	if (vd_mem_init() != 0)
		abort();
	for (i = 0; i < 3; i++)
		if (vd_escrow_key_parse(keytext[i], strlen(keytext[i]), NULL,
		    &keys[i]) != 0)
			abort();
}

static void
recover(const struct vd_escrow_set *set, const char *target, uint64_t v)
{
	struct vd_escrow_result res;
	unsigned char *share = NULL;
	size_t sharelen = 0;
	uint64_t vout = 0, vs[8];
	size_t n = 0;

	vd_escrow_set_versions(set, target, vs, 8, &n);
	memset(&res, 0, sizeof(res));
	if (vd_escrow_recover(set, target, v, keys, 2, NULL, &res) == 0)
		vd_escrow_result_clear(&res);
	if (vd_escrow_share_make(set, target, v, keys[0], &keys[2]->pub, NULL,
	    &share, &sharelen, &vout) == 0)
		free(share);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct vd_escrow_set set = { NULL, 0, 0 };
	struct vd_escrow_result res;
	struct vd_escrow_pub pub;
	struct vd_escrow_key *k = NULL;
	const char *tname;
	char target[VD_NAME_MAX + 1];
	uint64_t v;
	json_t *j;
	int mode;

	if (!ready) {
		init();
		ready = 1;
	}
	if (size < 1 || size > VD_ESCROW_ENVMAX)
		return 0;
	mode = data[0] % MODES;
	data++;
	size--;
	switch (mode) {
	case M_PUB:
		(void)vd_escrow_pub_parse((const char *)data, size, &pub);
		/*
		 * The same bytes as an [escrow] party value "PATH KEYID" (the
		 * pin parser; a path that opens is read as a .pub file).
		 */
		if (size < 4096 && memchr(data, '\0', size) == NULL) {
			struct vd_escrow_cfg *ec = NULL;
			char val[4096];

			memcpy(val, data, size);
			val[size] = '\0';
			if (vd_escrow_cfg_new(&ec) == 0)
				(void)vd_escrow_cfg_set(ec, "customer", val);
			vd_escrow_cfg_free(ec);
		}
		break;
	case M_KEY:
		/* No passphrase: a protected file is refused before Argon2id. */
		(void)vd_escrow_key_protected((const char *)data, size);
		if (vd_escrow_key_parse((const char *)data, size, NULL,
		    &k) == 0)
			vd_escrow_key_free(k);
		break;
	case M_BUNDLE:
		if (vd_escrow_set_parse_bundle(data, size, &set) == 0 &&
		    set.n > 0) {
			recover(&set, set.items[0].target, 0);
			recover(&set, set.items[set.n - 1].target,
			    set.items[set.n - 1].version);
		}
		vd_escrow_set_clear(&set);
		break;
	case M_ENVELOPE:
		if (size < 1)
			break;
		/* One envelope where data[0] says it was found. */
		if ((set.items = calloc(1, sizeof(*set.items))) == NULL)
			abort();
		set.cap = set.n = 1;
		memcpy(set.items[0].target, "t", 2);
		set.items[0].version = (data[0] & 1) + 1;
		memcpy(set.items[0].party, data[0] & 2 ? "vendor" : "customer",
		    data[0] & 2 ? 7 : 9);
		if ((set.items[0].env = malloc(size - 1 + 1)) == NULL)
			abort();
		memcpy(set.items[0].env, data + 1, size - 1);
		set.items[0].len = size - 1;
		recover(&set, "t", 0);
		vd_escrow_set_clear(&set);
		free(set.items);
		break;
	case M_SHARE: {
		/* data[0] even: one file; odd: the rest split in two halves. */
		const unsigned char *files[2];
		size_t lens[2], n = 1;

		if (size < 1)
			break;
		files[0] = data + 1;
		lens[0] = size - 1;
		if (data[0] & 1) {
			lens[0] = (size - 1) / 2;
			files[1] = data + 1 + lens[0];
			lens[1] = size - 1 - lens[0];
			n = 2;
		}
		memset(&res, 0, sizeof(res));
		if (vd_escrow_combine(files, lens, n, keys[2], NULL, target,
		    &res) == 0)
			vd_escrow_result_clear(&res);
		break;
	}
	case M_REPORT:
		if ((j = json_loadb((const char *)data, size, 0, NULL)) != NULL) {
			(void)vd_escrow_report_check(j, &tname, &v);
			json_decref(j);
		}
		break;
	}
	return 0;
}
