/*
 * access.c - peer credentials of a Unix socket connection.
 */
#define _GNU_SOURCE	/* struct ucred */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"

/* Identifies the peer of fd. */
int
vd_access_peer(int fd, struct vd_caller *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	int n;

	memset(c, 0, sizeof(*c));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return -errno;
	c->pid = cred.pid;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->groups[0] = cred.gid;
	c->ngroups = 1;
	if (getpwuid_r(cred.uid, &pw, buf, sizeof(buf), &pwp) != 0 ||
	    pwp == NULL) {
		/* No name: matches no user entry, only its primary group. */
		n = snprintf(c->user, sizeof(c->user), "uid:%lu",
		    (unsigned long)cred.uid);
		if (n < 0 || (size_t)n >= sizeof(c->user))
			c->user[0] = '\0';
		return 0;
	}
	n = snprintf(c->user, sizeof(c->user), "%s", pw.pw_name);
	if (n < 0 || (size_t)n >= sizeof(c->user)) {
		/* A truncated name could match someone else's entry. */
		snprintf(c->user, sizeof(c->user), "uid:%lu",
		    (unsigned long)cred.uid);
		return 0;
	}
	n = VD_CALLER_MAXGROUPS;
	if (getgrouplist(pw.pw_name, cred.gid, c->groups, &n) < 0)
		n = VD_CALLER_MAXGROUPS;	/* keeps the first ones */
	c->ngroups = n;
	return 0;
}
