/*
 * fuzz_create.c - libFuzzer target for the SHOW CREATE USER line parser
 * (vaultd/driver.c vd__drv_parse_create, which vd_drv_current_user() uses
 * on MariaDB to learn the session's account and methods): any input is
 * read without crashing or reading past its end; an accepted line gives
 * NUL-terminated names that fit and 1..8 methods; a name parsed, quoted
 * again with `` for a backtick, parses back to itself (issue 18).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes `name` with backticks doubled to out; returns its length. */
static size_t
quote(const char *name, char *out)
{
	size_t n = 0;

	out[n++] = '`';
	for (; *name != '\0'; name++) {
		if (*name == '`')
			out[n++] = '`';
		out[n++] = *name;
	}
	out[n++] = '`';
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char user[64], host[64], u2[64], h2[64], *s, *line;
	size_t nm, n;

	/* An exact-size, NUL-terminated copy: ASan catches a read past it. */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (vd__drv_parse_create(s, user, sizeof(user), host, sizeof(host),
	    &nm) == 0) {
		if (strnlen(user, sizeof(user)) >= sizeof(user) ||
		    strnlen(host, sizeof(host)) >= sizeof(host) ||
		    nm < 1 || nm > 8)
			abort();
		/* Round trip: CREATE USER `user`@`host` names the same. */
		if ((line = malloc(2 * sizeof(user) + 2 * sizeof(host) + 32))
		    == NULL)
			abort();
		memcpy(line, "CREATE USER ", n = 12);
		n += quote(user, line + n);
		line[n++] = '@';
		n += quote(host, line + n);
		line[n] = '\0';
		if (vd__drv_parse_create(line, u2, sizeof(u2), h2, sizeof(h2),
		    &nm) != 0 || strcmp(u2, user) != 0 ||
		    strcmp(h2, host) != 0 || nm != 1)
			abort();
		free(line);
	}
	free(s);
	return 0;
}
