/*
 * harden.c - process hardening for vaultd; see harden.h.
 */
#define _GNU_SOURCE	/* setresuid, setresgid, initgroups */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "harden.h"

#define PWBUF_MAX	(1 << 20)	/* largest getpwnam_r buffer tried */

int
vd_harden_early(void)
{
	struct rlimit rl = { 0, 0 };

	(void)umask(077);
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return vd_err_set(-errno, "cannot disable core files");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return vd_err_set(-errno, "cannot make the process "
		    "non-dumpable");
	/*
	 * sodium_malloc() mlocks each secret buffer and carries on when
	 * mlock fails: the soft limit (often 64 KiB or 8 MiB) is the only
	 * thing between the secrets and swap, so take all the hard limit
	 * gives.
	 */
	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		return vd_err_set(-errno, "getrlimit(RLIMIT_MEMLOCK)");
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
			return vd_err_set(-errno, "cannot raise RLIMIT_MEMLOCK");
	}
	return 0;
}

/* The shared check of vd_harden_check_file/dir. */
static int
check_path(const char *path, const char *what, int dir)
{
	struct stat sb;

	if (path == NULL || *path == '\0')
		return vd_err_set(VD_EINVAL, "%s: no path", what);
	if (stat(path, &sb) != 0)
		return vd_err_set(-errno, "%s %s: %s", what, path,
		    strerror(errno));
	if (dir ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode))
		return vd_err_set(VD_EINVAL, "%s %s: not a %s", what, path,
		    dir ? "directory" : "regular file");
	if (sb.st_mode & (S_IWGRP | S_IWOTH))
		return vd_err_set(VD_EKEYPERM, "%s %s: writable by %s (mode "
		    "%04o): chmod go-w", what, path, sb.st_mode & S_IWOTH ?
		    "others" : "its group", (unsigned)(sb.st_mode & 07777));
	if (sb.st_uid != 0 && sb.st_uid != geteuid())
		return vd_err_set(VD_EKEYPERM, "%s %s: owned by uid %u, "
		    "neither root nor vaultd's user", what, path,
		    (unsigned)sb.st_uid);
	return 0;
}

int
vd_harden_check_file(const char *path, const char *what)
{
	return check_path(path, what, 0);
}

int
vd_harden_check_dir(const char *path, const char *what)
{
	return check_path(path, what, 1);
}

/*
 * Calls fn(fd) for every descriptor above 2 but the directory stream's
 * own; stops at the first non-zero return.
 */
static int
each_fd(int (*fn)(int fd, void *arg), void *arg)
{
	DIR *d;
	struct dirent *e;
	long fd;
	char *end;
	int r = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return vd_err_set(-errno, "/proc/self/fd: %s", strerror(errno));
	while (r == 0 && (e = readdir(d)) != NULL) {
		errno = 0;
		fd = strtol(e->d_name, &end, 10);
		if (errno != 0 || *end != '\0' || end == e->d_name ||
		    fd <= 2 || fd > INT_MAX || fd == dirfd(d))
			continue;
		r = fn((int)fd, arg);
	}
	closedir(d);
	return r;
}

static int
set_cloexec(int fd, void *arg)
{
	int fl = fcntl(fd, F_GETFD);

	(void)arg;
	if (fl < 0)
		return errno == EBADF ? 0 : vd_err_set(-errno, "fcntl(%d)", fd);
	if (!(fl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fl | FD_CLOEXEC) != 0)
		return vd_err_set(-errno, "fcntl(%d, FD_CLOEXEC)", fd);
	return 0;
}

static int
count_open(int fd, void *arg)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl >= 0 && !(fl & FD_CLOEXEC))
		(*(int *)arg)++;
	return 0;
}

/*
 * socket(2) for the whole of vaultd, libraries included: MariaDB
 * Connector/C creates its connection sockets without SOCK_CLOEXEC and
 * offers no option for it, so a connection that is being set up (up to
 * connect_timeout, and for good if nothing set the flag afterwards) would
 * be inherited by any program the process ever ran.  A definition in the
 * executable comes before libc's for every shared object that calls
 * socket() (ELF symbol interposition), so each socket is created
 * close-on-exec atomically, with no window.  The raw system call is
 * libc's socket() itself, less the wrapper.
 */
int
socket(int domain, int type, int protocol)
{
	return (int)syscall(SYS_socket, domain, type | SOCK_CLOEXEC, protocol);
}

int
vd_harden_cloexec_all(void)
{
	return each_fd(set_cloexec, NULL);
}

int
vd_harden_count_inheritable(void)
{
	int n = 0, r;

	if ((r = each_fd(count_open, &n)) != 0)
		return r;
	return n;
}

/* Looks user up: uid and gid; 0, VD_ENOTFOUND or -errno. */
static int
lookup(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char *buf = NULL, *nb;
	size_t len = 1024;
	int e;

	for (;;) {
		if ((nb = realloc(buf, len)) == NULL) {
			free(buf);
			return vd_err_set(-ENOMEM, "out of memory");
		}
		buf = nb;
		e = getpwnam_r(user, &pw, buf, len, &res);
		if (e != ERANGE || len >= PWBUF_MAX)
			break;
		len *= 2;
	}
	if (e == 0 && res != NULL) {
		*uid = pw.pw_uid;
		*gid = pw.pw_gid;
	}
	free(buf);
	if (e != 0)
		return vd_err_set(-e, "user %s: %s", user, strerror(e));
	if (res == NULL)
		return vd_err_set(VD_ENOTFOUND, "[vault] user: no user '%s'",
		    user);
	return 0;
}

int
vd_harden_drop(const char *user, uid_t *uidp, gid_t *gidp)
{
	uid_t uid = (uid_t)-1, ru, eu, su;
	gid_t gid = (gid_t)-1, rg, eg, sg;
	int r;

	if (uidp != NULL)
		*uidp = geteuid();
	if (gidp != NULL)
		*gidp = getegid();
	if (user == NULL || *user == '\0')
		return 0;
	if ((r = lookup(user, &uid, &gid)) != 0)
		return r;
	if (geteuid() != 0) {
		if (uid != geteuid())
			return vd_err_set(VD_EPERM, "[vault] user = %s, but "
			    "vaultd runs as uid %u, not root: cannot switch",
			    user, (unsigned)geteuid());
		return 0;
	}
	if (uid == 0)
		return 0;	/* user = root: stays root (the admin's call) */
	/* Groups first: after setresuid there is no right to change them. */
	if (initgroups(user, gid) != 0)
		return vd_err_set(-errno, "initgroups(%s): %s", user,
		    strerror(errno));
	if (setresgid(gid, gid, gid) != 0)
		return vd_err_set(-errno, "setresgid(%u): %s", (unsigned)gid,
		    strerror(errno));
	if (setresuid(uid, uid, uid) != 0)
		return vd_err_set(-errno, "setresuid(%u): %s", (unsigned)uid,
		    strerror(errno));
	/* Verify: every id switched, and root cannot be regained. */
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid)
		return vd_err_set(VD_EPERM, "the switch to %s did not take",
		    user);
	if (setuid(0) == 0 || seteuid(0) == 0)
		return vd_err_set(VD_EPERM, "root could be regained after "
		    "switching to %s", user);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return vd_err_set(-errno, "PR_SET_NO_NEW_PRIVS: %s",
		    strerror(errno));
	/* An identity change resets "dumpable" to suid_dumpable. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return vd_err_set(-errno, "PR_SET_DUMPABLE: %s",
		    strerror(errno));
	if (uidp != NULL)
		*uidp = uid;
	if (gidp != NULL)
		*gidp = gid;
	return 0;
}
