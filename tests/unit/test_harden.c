/*
 * test_harden.c - vaultd/harden.c: umask, core/dumpable, memlock,
 * refusing files and directories others can write, close-on-exec, and
 * dropping root (in a forked child, to the system's "nobody" user; as a
 * non-root user, the refusal instead).
 */
#define _GNU_SOURCE	/* getresuid */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "harden.h"
#include "mem.h"

static char dir[] = "/tmp/vd-test-harden.XXXXXX";

static void
t_early(void)
{
	struct rlimit rl;
	mode_t old;

	CHECK_OK(vd_harden_early());
	old = umask(0);
	CHECK_INT_EQ(old, 077);
	umask(old);
	CHECK(getrlimit(RLIMIT_CORE, &rl) == 0);
	CHECK_INT_EQ(rl.rlim_cur, 0);
	CHECK_INT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	CHECK(getrlimit(RLIMIT_MEMLOCK, &rl) == 0);
	CHECK(rl.rlim_cur == rl.rlim_max);
}

static void
t_paths(void)
{
	char f[128], d[128];
	int fd;

	snprintf(f, sizeof(f), "%s/conf", dir);
	snprintf(d, sizeof(d), "%s/data", dir);
	CHECK((fd = open(f, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0);
	close(fd);
	CHECK(mkdir(d, 0700) == 0);
	CHECK_OK(vd_harden_check_file(f, "config file"));
	CHECK_OK(vd_harden_check_dir(d, "data directory"));
	/* Readable by others is fine (a config holds no secret) ... */
	CHECK(chmod(f, 0644) == 0);
	CHECK_OK(vd_harden_check_file(f, "config file"));
	/* ... writable by the group or others is not. */
	CHECK(chmod(f, 0664) == 0);
	CHECK_INT_EQ(vd_harden_check_file(f, "config file"), VD_EKEYPERM);
	CHECK(strstr(vd_err_detail(), "writable by its group") != NULL);
	CHECK(chmod(f, 0602) == 0);
	CHECK_INT_EQ(vd_harden_check_file(f, "config file"), VD_EKEYPERM);
	CHECK(strstr(vd_err_detail(), "writable by others") != NULL);
	CHECK(chmod(d, 0770) == 0);
	CHECK_INT_EQ(vd_harden_check_dir(d, "data directory"), VD_EKEYPERM);
	CHECK(chmod(d, 0757) == 0);
	CHECK_INT_EQ(vd_harden_check_dir(d, "data directory"), VD_EKEYPERM);
	/* Wrong kinds, missing paths. */
	CHECK_INT_EQ(vd_harden_check_file(d, "config file"), VD_EINVAL);
	CHECK_INT_EQ(vd_harden_check_dir(f, "data directory"), VD_EINVAL);
	CHECK_INT_EQ(vd_harden_check_file("/nonexistent/x", "config file"),
	    -ENOENT);
	CHECK_INT_EQ(vd_harden_check_file(NULL, "config file"), VD_EINVAL);
	/* Owned by another user (as root: hand it to nobody). */
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("nobody");

		CHECK(pw != NULL);
		CHECK(chmod(f, 0600) == 0);
		CHECK(chown(f, pw->pw_uid, pw->pw_gid) == 0);
		CHECK_INT_EQ(vd_harden_check_file(f, "config file"),
		    VD_EKEYPERM);
		CHECK(strstr(vd_err_detail(), "owned by uid") != NULL);
	}
	unlink(f);
	rmdir(d);
}

static void
t_cloexec(void)
{
	int a, b, s[2];

	/* What libraries do: descriptors without O_CLOEXEC. */
	CHECK((a = open("/dev/null", O_RDONLY)) > 2);
	CHECK((b = dup(a)) > 2);
	CHECK(pipe(s) == 0);
	CHECK(vd_harden_count_inheritable() >= 4);
	CHECK_OK(vd_harden_cloexec_all());
	CHECK_INT_EQ(vd_harden_count_inheritable(), 0);
	CHECK(fcntl(a, F_GETFD) & FD_CLOEXEC);
	CHECK(fcntl(s[1], F_GETFD) & FD_CLOEXEC);
	close(a);
	close(b);
	close(s[0]);
	close(s[1]);
	/* socket() as a library calls it comes out close-on-exec. */
	CHECK((a = socket(AF_INET, SOCK_STREAM, 0)) > 2);
	CHECK(fcntl(a, F_GETFD) & FD_CLOEXEC);
	CHECK(!(fcntl(a, F_GETFL) & O_NONBLOCK));
	close(a);
	CHECK((a = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0)) > 2);
	CHECK(fcntl(a, F_GETFD) & FD_CLOEXEC);
	CHECK(fcntl(a, F_GETFL) & O_NONBLOCK);
	close(a);
	CHECK(socket(AF_INET, 12345, 0) == -1 && errno == EINVAL);
}

static void
t_drop(void)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int status;

	CHECK(pw != NULL);
	CHECK_INT_EQ(vd_harden_drop("no-such-user-vd", &uid, &gid),
	    VD_ENOTFOUND);
	CHECK_OK(vd_harden_drop(NULL, &uid, &gid));
	CHECK_INT_EQ(uid, geteuid());
	if (geteuid() != 0) {
		/* Not root: no switch to another user is possible. */
		CHECK_INT_EQ(vd_harden_drop("nobody", &uid, &gid), VD_EPERM);
		printf("test_harden: not root, drop tested as a refusal\n");
		return;
	}
	/* user = root: stays root. */
	CHECK_OK(vd_harden_drop("root", &uid, &gid));
	CHECK_INT_EQ(uid, 0);
	CHECK_INT_EQ(geteuid(), 0);
	/* In a child, so the test itself stays root. */
	CHECK((pid = fork()) >= 0);
	if (pid == 0) {
		uid_t ru, eu, su;

		if (vd_harden_drop("nobody", &uid, &gid) != 0)
			_exit(10);
		if (uid != pw->pw_uid || gid != pw->pw_gid)
			_exit(11);
		if (getresuid(&ru, &eu, &su) != 0 || ru != pw->pw_uid ||
		    eu != pw->pw_uid || su != pw->pw_uid)
			_exit(12);
		if (setuid(0) == 0 || seteuid(0) == 0)
			_exit(13);
		if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			_exit(14);
		if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
			_exit(15);
		/* The tree stays readable only by root. */
		if (access(dir, R_OK) == 0)
			_exit(16);
		/* Not root any more: dropping again to another user fails. */
		if (vd_harden_drop("root", NULL, NULL) != VD_EPERM)
			_exit(17);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_INT_EQ(WEXITSTATUS(status), 0);
}

int
main(void)
{
	CHECK_OK(vd_mem_init());
	CHECK(mkdtemp(dir) != NULL);
	t_early();
	t_paths();
	t_cloexec();
	t_drop();
	rmdir(dir);
	printf("test_harden: ok\n");
	return 0;
}
