/*
 * access.h - who is calling: SO_PEERCRED on the connection, then the user
 * name and groups from the passwd/group databases, then roles from the
 * [access] configuration (vd_config_roles()).
 */
#ifndef VD_ACCESS_H
#define VD_ACCESS_H

#include <sys/types.h>

#define VD_CALLER_MAXGROUPS	64	/* groups kept per caller */

/* A connected peer. */
struct vd_caller {
	pid_t	 pid;				/* peer's pid at connect */
	uid_t	 uid;				/* peer's effective uid */
	gid_t	 gid;				/* peer's effective gid */
	char	 user[64];			/* user name, or "uid:N" */
	int	 ngroups;			/* entries in groups */
	gid_t	 groups[VD_CALLER_MAXGROUPS];	/* primary + supplementary */
};

/*
 * Fills *c for the peer of the connected Unix socket fd.  The groups are
 * the primary gid and the user's supplementary groups from the group
 * database (the peer's own process groups are not visible through
 * SO_PEERCRED).  Returns 0 or -errno.
 */
int vd_access_peer(int fd, struct vd_caller *c);

#endif
