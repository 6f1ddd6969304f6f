/*
 * access.h - who is calling: SO_PEERCRED and SO_PEERGROUPS on the
 * connection (the caller's own process credentials, fixed at connect()),
 * then the user name from the passwd database, looked up off the loop and
 * cached, then roles from the [access] configuration (vd_config_roles()).
 *
 * Only where the kernel has no SO_PEERGROUPS (Linux before 4.13) do the
 * supplementary groups come from the group database (getgrouplist), in the
 * same off-loop lookup; docs/api.md says so.
 */
#ifndef VD_ACCESS_H
#define VD_ACCESS_H

#include <stdint.h>
#include <sys/types.h>

#define VD_CALLER_MAXGROUPS	64	/* groups kept per caller */
#define VD_ACCESS_CACHE_TTL	60000	/* ms a cached name stays fresh */

/* A connected peer. */
struct vd_caller {
	pid_t	 pid;				/* peer's pid at connect */
	uid_t	 uid;				/* peer's effective uid */
	gid_t	 gid;				/* peer's effective gid */
	char	 user[64];			/* user name, or "uid:N" */
	int	 ngroups;			/* entries in groups */
	gid_t	 groups[VD_CALLER_MAXGROUPS];	/* primary + supplementary */
	int	 userdb_groups;			/* 1: groups must come from the
						   group database (no
						   SO_PEERGROUPS) */
	int	 truncated;			/* 1: more groups than kept */
};

/*
 * Fills *c for the peer of the connected Unix socket fd from the kernel
 * alone (no name service call, so it may run on the loop): uid, gid, pid
 * and the peer's real groups (primary first, then its supplementary groups
 * from SO_PEERGROUPS).  c->user is "uid:N" until vd_access_lookup() or
 * vd_access_cached() names it.  Without SO_PEERGROUPS, c->groups holds only
 * the primary gid and c->userdb_groups is set.  Returns 0 or -errno.
 */
int vd_access_peer(int fd, struct vd_caller *c);

/*
 * Names c->uid from the passwd database (getpwuid_r) and, when
 * c->userdb_groups, fills the supplementary groups from the group database
 * (getgrouplist).  May block on NSS (LDAP, sssd): call it on the thread
 * pool, never on the loop.  An unknown uid keeps "uid:N" (matches no user
 * entry of [access], only groups).  Returns 0.
 */
int vd_access_lookup(struct vd_caller *c);

/*
 * The loop thread's cache of vd_access_lookup() results, by uid (and
 * primary gid, for the group-database fallback), fresh for
 * VD_ACCESS_CACHE_TTL ms of now_ms.  vd_access_cached() completes c from a
 * fresh entry and returns 1, or returns 0 (then look up off the loop and
 * vd_access_remember() the result).  Loop thread only.
 */
int vd_access_cached(struct vd_caller *c, uint64_t now_ms);
void vd_access_remember(const struct vd_caller *c, uint64_t now_ms);

#endif
