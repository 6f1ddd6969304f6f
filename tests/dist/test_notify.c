/*
 * test_notify.c - vd_notify_*() send the sd_notify(3) datagrams systemd
 * expects to $NOTIFY_SOCKET, and nothing when it is unset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "notify.h"

static int sock = -1;

/* Receives the next datagram (already queued: sd_notify is synchronous). */
static void
recv_msg(char *buf, size_t len)
{
	ssize_t n = recv(sock, buf, len - 1, MSG_DONTWAIT);

	if (n < 0) {
		fprintf(stderr, "no notification queued: %s\n",
		    strerror(errno));
		exit(1);
	}
	buf[n] = '\0';
}

/* Checks that no datagram is queued. */
static void
check_none(void)
{
	char buf[64];
	ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);

	CHECK_INT_EQ(n, -1);
	CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
}

int
main(void)
{
	struct sockaddr_un sa;
	char dir[] = "/tmp/vd-notify-XXXXXX", buf[1024], long_status[600];
	int n;

	CHECK(mkdtemp(dir) != NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
	CHECK(n > 0 && (size_t)n < sizeof(sa.sun_path));
	CHECK((sock = socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0);
	CHECK_INT_EQ(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);

	/* Unset: every call is a no-op. */
	CHECK_INT_EQ(unsetenv("NOTIFY_SOCKET"), 0);
	vd_notify_ready("x");
	vd_notify_reloading();
	vd_notify_stopping();
	vd_notify_status("y %d", 1);
	check_none();

	CHECK_INT_EQ(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);

	vd_notify_ready(NULL);
	recv_msg(buf, sizeof(buf));
	CHECK_STR_EQ(buf, "READY=1");

	vd_notify_ready("listening on /run/vaultd/vaultd.sock, sealed");
	recv_msg(buf, sizeof(buf));
	CHECK_STR_EQ(buf, "READY=1\nSTATUS=listening on "
	    "/run/vaultd/vaultd.sock, sealed");

	vd_notify_status("%u targets, %d rotating", 3u, 1);
	recv_msg(buf, sizeof(buf));
	CHECK_STR_EQ(buf, "STATUS=3 targets, 1 rotating");

	/* A newline would start a new assignment: it becomes a space. */
	vd_notify_status("a\nREADY=1");
	recv_msg(buf, sizeof(buf));
	CHECK_STR_EQ(buf, "STATUS=a READY=1");
	vd_notify_ready("b\nSTOPPING=1");
	recv_msg(buf, sizeof(buf));
	CHECK_STR_EQ(buf, "READY=1\nSTATUS=b STOPPING=1");

	/* Long texts are cut at VD_NOTIFY_STATUS_MAX. */
	memset(long_status, 'z', sizeof(long_status) - 1);
	long_status[sizeof(long_status) - 1] = '\0';
	vd_notify_status("%s", long_status);
	recv_msg(buf, sizeof(buf));
	CHECK_INT_EQ(strlen(buf), strlen("STATUS=") + VD_NOTIFY_STATUS_MAX);
	CHECK(strncmp(buf, "STATUS=zzz", 10) == 0);

	vd_notify_reloading();
	recv_msg(buf, sizeof(buf));
	CHECK(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	CHECK(strlen(buf) > 27 && strspn(buf + 27, "0123456789") ==
	    strlen(buf + 27));

	vd_notify_stopping();
	recv_msg(buf, sizeof(buf));
	CHECK_STR_EQ(buf, "STOPPING=1");

	check_none();
	close(sock);
	CHECK_INT_EQ(unlink(sa.sun_path), 0);
	CHECK_INT_EQ(rmdir(dir), 0);
	printf("test_notify: ok\n");
	return 0;
}
