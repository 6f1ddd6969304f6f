/*
 * fuzz_journal.c - libFuzzer target for the audit head scanner
 * (common/audit_mark.c, vd_audit_marks_scan): the input is journal text as
 * `vaultctl audit verify --journal` reads it (vaultd's stderr log, or
 * `journalctl -o json` / `-o export` output).  It is scanned for the
 * seeds' vault id and for another, with a small and a large bound on the
 * marks kept; the result must be consistent (top is one of the marks,
 * n <= max), never a crash or a leak.
 *
 * Seeds (corpus/journal): a vaultd log of test_anchor.py and the same
 * marks as journalctl -o json lines.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit_mark.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ids[] = {
	"e673c535b43c79e5a4117b43ac048af6",	/* the seeds' vault */
	"00000000000000000000000000000000",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vd_audit_marks m;

	for (size_t i = 0; i < 2; i++)
		for (size_t max = 1; max <= 1000; max *= 1000) {
			if (vd_audit_marks_scan((const char *)data, size,
			    ids[i], max, &m) != 0)
				continue;
			if (m.n > max || m.n > m.seen ||
			    (m.seen > 0 && strlen(m.top.hash) != 64))
				abort();
			for (size_t k = 0; k < m.n; k++)
				if (m.all[k].count > m.top.count)
					abort();
			vd_audit_marks_clear(&m);
		}
	return 0;
}
