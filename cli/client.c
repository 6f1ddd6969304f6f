/*
 * client.c - connect to vaultd, send one request line, read one answer.
 */
#define _GNU_SOURCE	/* struct ucred */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "client.h"
#include "cmds.h"
#include "err.h"
#include "mem.h"
#include "proto.h"
#include "util.h"

static const char *sock_path;

/* Sets the socket path. */
void
vc_set_socket(const char *path)
{
	sock_path = path;
}

/* Returns the socket path in effect. */
const char *
vc_socket_path(void)
{
	const char *env;

	if (sock_path != NULL)
		return sock_path;
	if ((env = getenv("VAULTD_SOCKET")) != NULL && *env != '\0')
		return env;
	return VD_SOCKET_DEFAULT;
}

/*
 * Checks that the process listening on the connected socket fd is the one
 * that owns the socket's directory: a stale path in a directory of
 * someone else (or a shared one like /tmp) could be taken over by any
 * user, who would then receive the passwords typed into target add or
 * set-password.  The peer's uid (SO_PEERCRED, fixed when it called
 * listen()) must own the socket file, and own the directory or be root
 * (vaultd started as root binds before dropping to [vault] user, in a
 * directory that may be that user's).  Returns 0, or VD_EPROTO with both
 * uids in the detail.
 */
static int
check_peer(int fd, const char *path)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat sb, db;
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	memcpy(dir, path, strlen(path) + 1);	/* fits: checked by caller */
	if ((slash = strrchr(dir, '/')) == NULL)
		memcpy(dir, ".", 2);
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return vd_err_set(-errno, "cannot identify the process "
		    "listening on %s: %s", path, strerror(errno));
	if (lstat(path, &sb) != 0 || stat(dir, &db) != 0)
		return vd_err_set(-errno, "%s: %s", path, strerror(errno));
	if (!S_ISSOCK(sb.st_mode) || sb.st_uid != cred.uid)
		return vd_err_set(VD_EPROTO, "refusing %s: it belongs to uid "
		    "%lu but the process listening on it runs as uid %lu; it "
		    "may not be vaultd", path, (unsigned long)sb.st_uid,
		    (unsigned long)cred.uid);
	if (cred.uid != 0 && db.st_uid != cred.uid)
		return vd_err_set(VD_EPROTO, "refusing %s: the process "
		    "listening on it runs as uid %lu but its directory %s "
		    "belongs to uid %lu; it may not be vaultd (someone else's "
		    "socket on a stale path)", path, (unsigned long)cred.uid,
		    dir, (unsigned long)db.st_uid);
	return 0;
}

static int
sock_connect(const char *path, int *fdp)
{
	struct sockaddr_un sa;
	int fd, r;

	*fdp = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return vd_err_set(VD_EINVAL, "socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return vd_err_set(-errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(fd);
		return vd_err_set(-e, "cannot connect to %s (is vaultd "
		    "running? --socket or VAULTD_SOCKET)", path);
	}
	if ((r = check_peer(fd, path)) != 0) {
		close(fd);
		return r;
	}
	*fdp = fd;
	return 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vd_err_set(-errno, "write to vaultd: %s",
			    strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A growing answer buffer, wiped whenever it moves or is freed. */
struct abuf {
	char	*p;	/* malloc'd */
	size_t	 len;	/* bytes read */
	size_t	 cap;	/* bytes allocated */
};

static int
abuf_grow(struct abuf *b)
{
	size_t ncap = b->cap == 0 ? 8192 : b->cap * 2;
	char *np;

	if (b->cap >= VD_ANSWER_MAX)
		return vd_err_set(VD_ETOOBIG, "answer too large");
	if (ncap > VD_ANSWER_MAX)
		ncap = VD_ANSWER_MAX;
	/* Not realloc(): it could leave an unwiped copy behind. */
	if ((np = malloc(ncap)) == NULL)
		return VD_ENOMEM;
	if (b->len > 0)
		memcpy(np, b->p, b->len);
	vd_proto_free(b->p);
	b->p = np;
	b->cap = ncap;
	return 0;
}

/*
 * Reads one line into b.  The answer may carry a password: it is read
 * into a plain buffer (answers reach VD_ANSWER_MAX, too big to lock) that
 * is wiped on every path, like jansson's copies.
 */
static int
read_line(int fd, struct abuf *b, unsigned timeout)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int pr, r;

	for (;;) {
		if (b->len == b->cap && (r = abuf_grow(b)) != 0)
			return r;
		pr = poll(&pfd, 1, (int)timeout * 1000);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return vd_err_set(-errno, "poll");
		if (pr == 0)
			return vd_err_set(VD_ETIMEDOUT, "no answer from vaultd "
			    "within %us", timeout);
		n = read(fd, b->p + b->len, b->cap - b->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vd_err_set(-errno, "read from vaultd");
		if (n == 0)
			return vd_err_set(VD_EPROTO, "vaultd closed the "
			    "connection without an answer");
		b->len += (size_t)n;
		if (memchr(b->p + b->len - (size_t)n, '\n', (size_t)n) != NULL)
			return 0;
	}
}

/* Calls method; see client.h. */
int
vc_call(const char *method, json_t *params, unsigned timeout,
    json_t **result)
{
	return vc_call_notify(method, params, timeout, NULL, NULL, result);
}

/*
 * Takes the first line out of b into *msg (parsed; NULL when it is not
 * JSON) and moves the rest to the front, wiping what it vacates.  Returns 1
 * when b held a whole line, 0 when not.
 */
static int
take_line(struct abuf *b, json_t **msg)
{
	json_error_t jerr;
	char *nl;
	size_t n;

	*msg = NULL;
	if (b->len == 0 || (nl = memchr(b->p, '\n', b->len)) == NULL)
		return 0;
	n = (size_t)(nl - b->p) + 1;
	*msg = json_loadb(b->p, n - 1, 0, &jerr);
	memmove(b->p, b->p + n, b->len - n);
	sodium_memzero(b->p + b->len - n, n);
	b->len -= n;
	return 1;
}

/* Calls method, passing notifications to fn; see client.h. */
int
vc_call_notify(const char *method, json_t *params, unsigned timeout,
    vc_notify_fn fn, void *arg, json_t **result)
{
	static json_int_t next_id = 1;
	struct abuf buf = { NULL, 0, 0 };
	json_t *req, *ans = NULL, *err, *res;
	char *line = NULL;
	size_t len;
	int fd = -1, r;

	*result = NULL;
	if (timeout == 0)
		timeout = VC_TIMEOUT;
	req = vd_proto_request(next_id++, method, params);
	if (req == NULL || (line = vd_proto_encode(req, VD_MSG_MAX,
	    &len)) == NULL) {
		r = vd_err_set(VD_ETOOBIG, "request too large or no memory");
		goto out;
	}
	if ((r = sock_connect(vc_socket_path(), &fd)) != 0)
		goto out;
	if ((r = write_all(fd, line, len)) != 0) {
		/*
		 * vaultd answers a connection it refuses (max_clients) at once
		 * and closes it, maybe before our request was written: read
		 * why, and fall back to the write error.
		 */
		char why[300];
		int wr = r;

		snprintf(why, sizeof(why), "%s", vd_err_detail());
		if (read_line(fd, &buf, 2) != 0) {
			r = vd_err_set(wr, "%s", why);
			goto out;
		}
	}
	/* Notifications (a "method", no "id") may come before the answer. */
	for (;;) {
		if (!take_line(&buf, &ans)) {
			if ((r = read_line(fd, &buf, timeout)) != 0)
				goto out;
			continue;
		}
		if (json_is_object(ans) && json_object_get(ans, "id") ==
		    NULL && json_is_string(json_object_get(ans, "method"))) {
			if (fn != NULL)
				fn(json_object_get(ans, "params"), arg);
			json_decref(ans);
			ans = NULL;
			continue;
		}
		break;
	}
	if (ans == NULL || !json_is_object(ans)) {
		r = vd_err_set(VD_EPROTO, "vaultd sent something that is not "
		    "a JSON-RPC answer");
		goto out;
	}
	if ((err = json_object_get(ans, "error")) != NULL) {
		json_t *c = json_object_get(err, "code");
		const char *m = json_string_value(json_object_get(err,
		    "message"));

		r = vd_proto_err(json_is_integer(c) ?
		    (int)json_integer_value(c) : VD_RPC_INTERNAL);
		if (m != NULL && strcmp(m, "too many connections") == 0)
			vd_err_set(r, "vaultd is full: it serves [vault] "
			    "max_clients connections at once and refused this "
			    "one; try again in a moment, or raise max_clients");
		else
			vd_err_set(r, "%s", m != NULL ? m : "error");
		goto out;
	}
	if ((res = json_object_get(ans, "result")) == NULL) {
		r = vd_err_set(VD_EPROTO, "answer without result");
		goto out;
	}
	*result = json_incref(res);
	r = 0;
 out:
	if (fd >= 0)
		close(fd);
	json_decref(req);
	json_decref(ans);
	vd_proto_free(line);
	vd_proto_free(buf.p);
	return r;
}

/* Calls method and reports a failure. */
int
vc_call_exit(const char *what, const char *method, json_t *params,
    unsigned timeout, json_t **result)
{
	char msg[600];
	int r;

	if ((r = vc_call(method, params, timeout, result)) == 0)
		return VC_EXIT_OK;
	/* The server's message is the detail; it says enough alone. */
	snprintf(msg, sizeof(msg), "%s", vd_err_detail());
	if (msg[0] != '\0')
		fprintf(stderr, "vaultctl: %s: %s\n", what, msg);
	else
		fprintf(stderr, "vaultctl: %s: %s\n", what, vd_strerror(r));
	return vc_exit_code(r);
}

/* Prints obj as JSON. */
int
vc_print_json(const json_t *obj)
{
	if (json_dumpf(obj, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
		return 1;
	putchar('\n');
	return fflush(stdout) != 0;
}

/* Returns a printable string for a JSON value. */
const char *
vc_str(const json_t *v)
{
	static char buf[32];

	if (json_is_string(v) && json_string_length(v) > 0)
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_true(v))
		return "yes";
	if (json_is_false(v))
		return "no";
	return "-";
}
