/*
 * fuzz_timing.c - libFuzzer target for the duration and window parsers
 * (common/util.c vd_parse_duration, vaultd/timing.c vd_window_parse): any
 * input is parsed without crashing, and whatever parses round-trips.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "timing.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vd_window w, w2;
	char s[256], buf[64];
	int64_t secs;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (vd_parse_duration(s, &secs) == 0 && secs < 0)
		abort();
	if (vd_window_parse(s, &w) == 0 && w.set) {
		if (w.start < 0 || w.start > 1439 || w.end < 0 || w.end > 1439 ||
		    w.days == 0 || w.days > 0x7f)
			abort();
		vd_window_format(&w, buf, sizeof(buf));
		if (vd_window_parse(buf, &w2) != 0 || w2.start != w.start ||
		    w2.end != w.end || w2.days != w.days)
			abort();
		(void)vd_window_next(&w, 1795564800 + (int64_t)size * 97);
	}
	return 0;
}
