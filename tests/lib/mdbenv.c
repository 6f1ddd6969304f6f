/*
 * mdbenv.c - read the MariaDB fixture's env file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mdbenv.h"
#include "util.h"

/* Copies v into dst (size len); returns VD_EINVAL when it does not fit. */
static int
copyval(char *dst, size_t len, const char *v)
{
	int n = snprintf(dst, len, "%s", v);

	if (n < 0 || (size_t)n >= len)
		return VD_EINVAL;
	return 0;
}

int
vd_mdbenv_read(const char *path, struct vd_mdbenv *e)
{
	FILE *f;
	char line[512];
	long long v;
	int r = 0;

	memset(e, 0, sizeof(*e));
	if ((f = fopen(path, "r")) == NULL)
		return -errno;
	while (r == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *eq, *val;

		line[strcspn(line, "\r\n")] = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		val = eq + 1;
		if (strcmp(line, "MDB_NAME") == 0)
			r = copyval(e->name, sizeof(e->name), val);
		else if (strcmp(line, "MDB_DIR") == 0)
			r = copyval(e->dir, sizeof(e->dir), val);
		else if (strcmp(line, "MDB_SOCKET") == 0)
			r = copyval(e->socket, sizeof(e->socket), val);
		else if (strcmp(line, "MDB_PORT") == 0) {
			if ((r = vd_parse_int(val, 1, 65535, &v)) == 0)
				e->port = (unsigned)v;
		} else if (strcmp(line, "MDB_PID") == 0) {
			if ((r = vd_parse_int(val, 1, 1LL << 30, &v)) == 0)
				e->pid = (long)v;
		} else if (strcmp(line, "MDB_IPV6") == 0) {
			if ((r = vd_parse_int(val, 0, 1, &v)) == 0)
				e->ipv6 = (int)v;
		}
	}
	if (ferror(f) && r == 0)
		r = -EIO;
	fclose(f);
	if (r == 0 && (e->socket[0] == '\0' || e->port == 0))
		r = VD_EINVAL;
	return r;
}

void
vd_mdbenv_load(struct vd_mdbenv *e)
{
	const char *path = getenv("VD_TEST_MDB_ENV");
	int r;

	if (path == NULL || *path == '\0') {
		fprintf(stderr, "VD_TEST_MDB_ENV is not set: run this test "
		    "through ctest (it needs the MariaDB fixture)\n");
		exit(1);
	}
	if ((r = vd_mdbenv_read(path, e)) != 0) {
		fprintf(stderr, "%s: cannot read the fixture's env file: %s\n",
		    path, vd_strerror(r));
		exit(1);
	}
}
