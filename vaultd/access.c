/*
 * access.c - peer credentials of a Unix socket connection, and the names
 * that go with them (looked up off the loop, cached on it).
 */
#define _GNU_SOURCE	/* struct ucred, getgrouplist */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"

/* Sets c->user to "uid:N" (a name no user entry can have). */
static void
uid_name(struct vd_caller *c)
{
	snprintf(c->user, sizeof(c->user), "uid:%lu", (unsigned long)c->uid);
}

/*
 * Appends the peer's supplementary groups (SO_PEERGROUPS) after the
 * primary gid in c.  Returns 0, or -ENOPROTOOPT when the kernel lacks it.
 */
static int
peer_groups(int fd, struct vd_caller *c)
{
#ifdef SO_PEERGROUPS
	gid_t small[VD_CALLER_MAXGROUPS], *g = small;
	socklen_t len = sizeof(small);
	size_t n;
	int r = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) != 0) {
		if (errno != ERANGE)
			return -errno;
		/* len now says how much it needs: read all, keep the first. */
		if ((g = malloc(len)) == NULL)
			return -ENOMEM;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) != 0) {
			r = -errno;
			goto out;
		}
	}
	n = len / sizeof(gid_t);
	for (size_t i = 0; i < n; i++) {
		if (g[i] == c->gid)
			continue;
		if (c->ngroups == VD_CALLER_MAXGROUPS) {
			/* Fewer groups can only mean fewer roles. */
			c->truncated = 1;
			break;
		}
		c->groups[c->ngroups++] = g[i];
	}
 out:
	if (g != small)
		free(g);
	return r;
#else
	(void)fd;
	(void)c;
	return -ENOPROTOOPT;
#endif
}

/* Identifies the peer of fd; see access.h. */
int
vd_access_peer(int fd, struct vd_caller *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int r;

	memset(c, 0, sizeof(*c));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return -errno;
	c->pid = cred.pid;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->groups[0] = cred.gid;
	c->ngroups = 1;
	uid_name(c);
	if ((r = peer_groups(fd, c)) == -ENOPROTOOPT) {
		/* Old kernel: the group database stands in (access.h). */
		c->userdb_groups = 1;
		return 0;
	}
	return r;
}

/* Names the caller and, without SO_PEERGROUPS, finds its groups. */
int
vd_access_lookup(struct vd_caller *c)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	int n;

	if (getpwuid_r(c->uid, &pw, buf, sizeof(buf), &pwp) != 0 ||
	    pwp == NULL) {
		/* No name: matches no user entry, only its groups. */
		uid_name(c);
		return 0;
	}
	n = snprintf(c->user, sizeof(c->user), "%s", pw.pw_name);
	if (n < 0 || (size_t)n >= sizeof(c->user)) {
		/* A truncated name could match someone else's entry. */
		uid_name(c);
		return 0;
	}
	if (c->userdb_groups) {
		n = VD_CALLER_MAXGROUPS;
		if (getgrouplist(pw.pw_name, c->gid, c->groups, &n) < 0) {
			n = VD_CALLER_MAXGROUPS;	/* keeps the first ones */
			c->truncated = 1;
		}
		c->ngroups = n;
	}
	return 0;
}

/* One remembered lookup. */
struct cached {
	uid_t		 uid;			/* key */
	gid_t		 gid;			/* key, for userdb groups */
	uint64_t	 when;			/* filled at, ms (0: empty) */
	char		 user[64];		/* vd_access_lookup's name */
	int		 userdb_groups;		/* groups below are valid */
	int		 ngroups;		/* entries in groups */
	int		 truncated;		/* as in vd_caller */
	gid_t		 groups[VD_CALLER_MAXGROUPS];	/* from getgrouplist */
};

/*
 * Bounded: a caller's name costs one lookup per minute per uid while the
 * 32 most recent uids fit; more uids only cost more lookups.
 */
#define NCACHE	32
static struct cached cache[NCACHE];

static int
fresh(const struct cached *e, uint64_t now_ms)
{
	return e->when != 0 && now_ms >= e->when &&
	    now_ms - e->when < VD_ACCESS_CACHE_TTL;
}

/* Completes c from the cache; see access.h. */
int
vd_access_cached(struct vd_caller *c, uint64_t now_ms)
{
	for (size_t i = 0; i < NCACHE; i++) {
		const struct cached *e = &cache[i];

		if (!fresh(e, now_ms) || e->uid != c->uid ||
		    e->userdb_groups != c->userdb_groups ||
		    (c->userdb_groups && e->gid != c->gid))
			continue;
		memcpy(c->user, e->user, sizeof(c->user));
		if (c->userdb_groups) {
			memcpy(c->groups, e->groups, sizeof(c->groups));
			c->ngroups = e->ngroups;
			c->truncated = e->truncated;
		}
		return 1;
	}
	return 0;
}

/* Remembers a looked-up caller; see access.h. */
void
vd_access_remember(const struct vd_caller *c, uint64_t now_ms)
{
	struct cached *e = &cache[0];

	/* The same key, else an empty or stale slot, else the oldest. */
	for (size_t i = 0; i < NCACHE; i++) {
		struct cached *x = &cache[i];

		if (x->when != 0 && x->uid == c->uid && x->gid == c->gid &&
		    x->userdb_groups == c->userdb_groups) {
			e = x;
			break;
		}
		if (!fresh(x, now_ms) || x->when < e->when)
			e = x;
	}
	memset(e, 0, sizeof(*e));
	e->uid = c->uid;
	e->gid = c->gid;
	e->when = now_ms != 0 ? now_ms : 1;
	memcpy(e->user, c->user, sizeof(e->user));
	e->userdb_groups = c->userdb_groups;
	if (c->userdb_groups) {
		memcpy(e->groups, c->groups, sizeof(e->groups));
		e->ngroups = c->ngroups;
		e->truncated = c->truncated;
	}
}
