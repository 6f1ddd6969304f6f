/*
 * mdbenv.h - where the integration tests find their MariaDB server.
 *
 * The ctest fixture (tests/integration/mariadb.sh) writes an env file of
 * KEY=VALUE lines and passes its path in VD_TEST_MDB_ENV; this reads it.
 */
#ifndef VD_MDBENV_H
#define VD_MDBENV_H

#define VD_MDBENV_PATHMAX	256	/* longest path kept */

struct vd_mdbenv {
	char	 name[64];			/* fixture name ("main") */
	char	 dir[VD_MDBENV_PATHMAX];	/* the server's temp dir */
	char	 socket[VD_MDBENV_PATHMAX];	/* its Unix socket */
	unsigned port;				/* its TCP port */
	long	 pid;				/* mariadbd's pid */
	int	 ipv6;				/* 1 when it listens on ::1 */
};

/*
 * Reads the env file at path into *e.  Returns 0, -errno when the file
 * cannot be read, or VD_EINVAL when MDB_SOCKET or MDB_PORT is missing or
 * malformed.
 */
int vd_mdbenv_read(const char *path, struct vd_mdbenv *e);

/*
 * Reads the env file named by $VD_TEST_MDB_ENV into *e; on failure prints
 * why on stderr and exits 1 (a test without its server cannot pass).
 */
void vd_mdbenv_load(struct vd_mdbenv *e);

#endif
