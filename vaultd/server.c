/*
 * server.c - the listening Unix socket and its connections (libuv).
 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "api.h"
#include "err.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "util.h"

/* One client connection. */
struct vd_conn {
	uv_pipe_t		 pipe;		/* the accepted socket */
	uv_timer_t		 timer;		/* idle deadline */
	struct vd_daemon	*d;		/* back pointer */
	struct vd_conn		*next;		/* daemon's list */
	struct vd_conn		**prevp;	/* link pointing at us */
	struct vd_caller	 caller;	/* SO_PEERCRED identity */
	uv_work_t		 lookup;	/* caller's name, off the loop */
	struct vd_req		 req;		/* the request in flight */
	int			 busy;		/* request or answer in flight */
	int			 writing;	/* the answer is being written */
	int			 eof;		/* peer finished sending */
	int			 closing;	/* uv_close() called */
	int			 closed;	/* handles closed (count) */
	int			 close_after;	/* close once the answer is out */
	size_t			 rlen;		/* bytes in rbuf */
	char			 rbuf[VD_MSG_MAX];	/* unread input */
};

/* One answer being written. */
struct wreq {
	uv_write_t	 w;		/* libuv request */
	struct vd_conn	*c;		/* its connection */
	char		*line;		/* vd_proto_encode() output */
	size_t		 len;		/* bytes in line */
	int		 done;		/* 1: ends the request */
};

static void conn_process(struct vd_conn *);
static void conn_close(struct vd_conn *);
static void resume_read(struct vd_conn *);
static void idle_arm(struct vd_conn *);

static void
conn_free_maybe(struct vd_conn *c)
{
	/* Both handles closed and no request still referring to c. */
	if (c->closed < 2 || c->busy)
		return;
	sodium_memzero(c->rbuf, sizeof(c->rbuf));
	free(c);
}

static void
conn_close_cb(uv_handle_t *h)
{
	struct vd_conn *c = h->data;

	c->closed++;
	conn_free_maybe(c);
}

static void
conn_close(struct vd_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	/* Unlink now so shutdown and counting see only live connections. */
	*c->prevp = c->next;
	if (c->next != NULL)
		c->next->prevp = c->prevp;
	c->d->nconns--;
	uv_close((uv_handle_t *)&c->timer, conn_close_cb);
	uv_close((uv_handle_t *)&c->pipe, conn_close_cb);
}

static void
idle_cb(uv_timer_t *t)
{
	struct vd_conn *c = t->data;
	json_t *e;
	char *line;
	size_t len;

	/*
	 * While the daemon works on a request the client is not idle; once
	 * the answer is queued, a client that does not read it within the
	 * deadline is (a slow reader must not hold a connection forever).
	 */
	if (c->busy && !c->writing) {
		idle_arm(c);
		return;
	}
	/* Best effort: the peer may not be reading; closing cancels it. */
	if ((e = vd_proto_error(NULL, VD_RPC_TIMEOUT, "idle timeout")) !=
	    NULL && (line = vd_proto_encode(e, VD_ANSWER_MAX, &len)) != NULL) {
		uv_buf_t b = uv_buf_init(line, (unsigned)len);

		(void)uv_try_write((uv_stream_t *)&c->pipe, &b, 1);
		vd_proto_free(line);
	}
	json_decref(e);
	vd_log(LOG_INFO, "connection of uid %lu closed: idle timeout",
	    (unsigned long)c->caller.uid);
	conn_close(c);
}

static void
idle_arm(struct vd_conn *c)
{
	if (c->closing)
		return;
	uv_timer_start(&c->timer, idle_cb,
	    (uint64_t)c->d->cfg->idle_timeout * 1000, 0);
}

static void
write_cb(uv_write_t *w, int status)
{
	struct wreq *wr = container_of(w, struct wreq, w);
	struct vd_conn *c = wr->c;
	int done = wr->done;

	vd_proto_free(wr->line);
	free(wr);
	if (status < 0 && !c->closing)
		conn_close(c);
	if (!done)
		return;
	c->busy = 0;
	c->writing = 0;
	json_decref(c->req.msg);
	c->req.msg = NULL;
	c->d->served++;
	if (c->closing) {
		conn_free_maybe(c);
		return;
	}
	if (c->close_after || c->d->stopping) {
		conn_close(c);
		return;
	}
	idle_arm(c);
	conn_process(c);
}

/* Sends one answer; done: it ends the request in flight. */
static void
send_obj(struct vd_conn *c, json_t *obj, int done)
{
	struct wreq *wr = NULL;
	uv_buf_t b;
	size_t len;
	char *line;
	int r;

	line = obj != NULL ? vd_proto_encode(obj, VD_ANSWER_MAX, &len) : NULL;
	if (line == NULL) {
		/* Too big or out of memory: say so in a small answer. */
		json_t *e = vd_proto_error(json_object_get(obj, "id"),
		    VD_RPC_INTERNAL, "answer could not be encoded");

		line = e != NULL ? vd_proto_encode(e, VD_ANSWER_MAX, &len) : NULL;
		json_decref(e);
	}
	json_decref(obj);
	if (c->closing || line == NULL ||
	    (wr = calloc(1, sizeof(*wr))) == NULL) {
		vd_proto_free(line);
		if (done) {
			c->busy = 0;
			json_decref(c->req.msg);
			c->req.msg = NULL;
			if (c->closing)
				conn_free_maybe(c);
			else
				conn_close(c);
		}
		return;
	}
	wr->c = c;
	wr->line = line;
	wr->len = len;
	wr->done = done;
	b = uv_buf_init(line, (unsigned)len);
	if ((r = uv_write(&wr->w, (uv_stream_t *)&c->pipe, &b, 1,
	    write_cb)) != 0) {
		/* No callback will come: finish here. */
		vd_proto_free(line);
		free(wr);
		if (done) {
			c->busy = 0;
			json_decref(c->req.msg);
			c->req.msg = NULL;
		}
		conn_close(c);
		return;
	}
	if (done) {
		c->writing = 1;
		idle_arm(c);
	}
}

/* Answers the request in flight. */
void
vd_req_reply(struct vd_req *rq, json_t *result)
{
	struct vd_conn *c = rq->conn;

	send_obj(c, vd_proto_result(json_object_get(rq->msg, "id"), result),
	    1);
}

/* Sends a notification ahead of the answer. */
void
vd_req_notify(struct vd_req *rq, json_t *obj)
{
	if (obj != NULL)	/* no memory: a lost progress line is harmless */
		send_obj(rq->conn, obj, 0);
}

/* Answers the request in flight with an error code. */
void
vd_req_fail_code(struct vd_req *rq, int code, const char *msg)
{
	struct vd_conn *c = rq->conn;

	send_obj(c, vd_proto_error(json_object_get(rq->msg, "id"), code,
	    msg), 1);
}

/* Answers the request in flight with err. */
void
vd_req_fail(struct vd_req *rq, int err, const char *msg)
{
	char buf[600];

	if (msg == NULL)
		msg = vd_err_format(err, buf, sizeof(buf));
	vd_req_fail_code(rq, vd_proto_code(err), msg);
}

/* Handles one complete line (without its newline). */
static void
handle_line(struct vd_conn *c, const char *line, size_t len)
{
	char why[200];
	json_t *req, *params;
	int code;

	if (vd_proto_parse_request(line, len, &req, &code, why,
	    sizeof(why)) != 0) {
		vd_log(LOG_NOTICE, "uid %lu: %s", (unsigned long)c->caller.uid,
		    why);
		c->busy = 1;
		c->req.msg = req;
		c->req.method = NULL;
		vd_req_fail_code(&c->req, code, why);
		return;
	}
	c->busy = 1;
	c->req.msg = req;
	c->req.method = json_string_value(json_object_get(req, "method"));
	params = json_object_get(req, "params");
	uv_timer_stop(&c->timer);
	vd_api_dispatch(&c->req, params);
}

/* Handles buffered lines while no request is in flight. */
static void
conn_process(struct vd_conn *c)
{
	char *nl;
	size_t used;

	while (!c->busy && !c->closing) {
		nl = memchr(c->rbuf, '\n', c->rlen);
		if (nl == NULL) {
			if (c->rlen == sizeof(c->rbuf)) {
				/* Cannot find the next message: answer, close. */
				vd_log(LOG_NOTICE, "uid %lu: message over %d "
				    "bytes", (unsigned long)c->caller.uid,
				    VD_MSG_MAX);
				c->close_after = 1;
				c->busy = 1;
				c->req.msg = NULL;
				vd_req_fail_code(&c->req, VD_RPC_TOOBIG,
				    "message too large (limit 65536 bytes)");
				sodium_memzero(c->rbuf, c->rlen);
				c->rlen = 0;
				return;
			}
			if (c->eof) {
				conn_close(c);
				return;
			}
			resume_read(c);
			return;
		}
		used = (size_t)(nl - c->rbuf) + 1;
		if (used > 1)
			handle_line(c, c->rbuf, used - 1);
		/* The line may hold a secret: wipe what moves out. */
		memmove(c->rbuf, c->rbuf + used, c->rlen - used);
		sodium_memzero(c->rbuf + c->rlen - used, used);
		c->rlen -= used;
	}
}

static void
alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct vd_conn *c = h->data;

	*buf = uv_buf_init(c->rbuf + c->rlen,
	    (unsigned)(sizeof(c->rbuf) - c->rlen));
}

static void
read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct vd_conn *c = s->data;

	if (n == 0)
		return;
	if (n < 0) {
		/* EOF or error: answer what is buffered, then close. */
		uv_read_stop(s);
		c->eof = 1;
		if (!c->busy)
			conn_process(c);
		return;
	}
	c->rlen += (size_t)n;
	/* One request at a time; reading resumes when it is answered. */
	if (memchr(c->rbuf + c->rlen - (size_t)n, '\n', (size_t)n) != NULL ||
	    c->rlen == sizeof(c->rbuf))
		uv_read_stop(s);
	conn_process(c);
}

static void
resume_read(struct vd_conn *c)
{
	if (!c->closing && !c->eof)
		uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
}

/* Starts serving c once its caller is named. */
static void
conn_ready(struct vd_conn *c)
{
	if (c->caller.truncated)
		vd_log(LOG_WARNING, "uid %lu is in more than %d groups: roles "
		    "come from the first %d only", (unsigned long)c->caller.uid,
		    VD_CALLER_MAXGROUPS, VD_CALLER_MAXGROUPS);
	idle_arm(c);
	resume_read(c);
}

/* Thread pool: the name service may block (LDAP, sssd). */
static void
lookup_work(uv_work_t *w)
{
	struct vd_conn *c = w->data;

	(void)vd_access_lookup(&c->caller);
}

static void
lookup_done(uv_work_t *w, int status)
{
	struct vd_conn *c = w->data;

	c->busy = 0;
	if (status == 0)
		vd_access_remember(&c->caller, uv_now(c->d->loop));
	if (c->closing) {
		conn_free_maybe(c);
		return;
	}
	if (status != 0 || c->close_after || c->d->stopping) {
		conn_close(c);
		return;
	}
	conn_ready(c);
}

static void
accept_cb(uv_stream_t *srv, int status)
{
	struct vd_daemon *d = srv->data;
	struct vd_conn *c;
	uv_os_fd_t fd;

	if (status < 0) {
		vd_log(LOG_ERR, "accept: %s", uv_strerror(status));
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		vd_log(LOG_ERR, "accept: out of memory");
		return;
	}
	c->d = d;
	c->req.d = d;
	c->req.conn = c;
	c->req.caller = &c->caller;
	uv_pipe_init(d->loop, &c->pipe, 0);
	uv_timer_init(d->loop, &c->timer);
	c->pipe.data = c;
	c->timer.data = c;
	c->next = d->conns;
	if (d->conns != NULL)
		d->conns->prevp = &c->next;
	c->prevp = &d->conns;
	d->conns = c;
	d->nconns++;
	if (uv_accept(srv, (uv_stream_t *)&c->pipe) != 0 ||
	    uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    vd_access_peer(fd, &c->caller) != 0) {
		vd_log(LOG_ERR, "accept: cannot identify the peer");
		conn_close(c);
		return;
	}
	if (d->stopping) {
		conn_close(c);
		return;
	}
	if ((long long)d->nconns > d->cfg->max_clients) {
		vd_log(LOG_WARNING, "uid %lu refused: %zu connections open "
		    "(max_clients)", (unsigned long)c->caller.uid,
		    d->nconns - 1);
		c->close_after = 1;
		c->busy = 1;
		c->req.msg = NULL;
		vd_req_fail_code(&c->req, VD_RPC_UNAVAIL,
		    "too many connections");
		return;
	}
	/*
	 * No name service call on the loop: a fresh cached name, else a
	 * lookup on the thread pool before the first request is read (busy
	 * keeps c alive meanwhile).
	 */
	if (vd_access_cached(&c->caller, uv_now(d->loop))) {
		conn_ready(c);
		return;
	}
	c->lookup.data = c;
	c->busy = 1;
	if (uv_queue_work(d->loop, &c->lookup, lookup_work,
	    lookup_done) != 0) {
		c->busy = 0;
		vd_log(LOG_ERR, "accept: cannot queue the name lookup of uid "
		    "%lu", (unsigned long)c->caller.uid);
		conn_close(c);
	}
}

/* Returns 1 when something accepts connections at path. */
static int
socket_alive(const char *path)
{
	struct sockaddr_un sa;
	int fd, alive;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return 0;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return alive;
}

/*
 * The uid vaultd runs as once it has dropped privileges: [vault] user's
 * when started as root with one, else the effective uid.  Start-up only
 * (getpwnam may block).
 */
static uid_t
run_uid(const struct vd_daemon *d)
{
	struct passwd *pw;

	if (geteuid() == 0 && d->cfg->user != NULL &&
	    (pw = getpwnam(d->cfg->user)) != NULL)
		return pw->pw_uid;
	return geteuid();
}

/*
 * Refuses a socket directory that someone else could use to put their own
 * socket in vaultd's place: it must be a directory (not a link), owned by
 * the uid that binds (the effective uid now) or by the uid vaultd runs as
 * after the privilege drop (the unit's RuntimeDirectory= and tmpfiles.d
 * make /run/vaultd vaultd's), and not writable by group or others unless
 * sticky (then nobody else can remove or rename vaultd's socket, and a
 * socket they plant first is not vaultd's: vaultctl refuses it).
 */
static int
check_dir(const struct vd_daemon *d, const char *dir)
{
	struct stat sb;
	uid_t ru = run_uid(d);

	if (lstat(dir, &sb) != 0)
		return vd_err_set(-errno, "socket directory %s: %s", dir,
		    strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return vd_err_set(VD_ECONFIG, "socket directory %s is not a "
		    "directory (a symbolic link is not followed)", dir);
	if (sb.st_uid != geteuid() && sb.st_uid != ru)
		return vd_err_set(VD_ECONFIG, "socket directory %s belongs "
		    "to uid %lu (mode %04o), not to vaultd (uid %lu): "
		    "another user could replace the socket", dir,
		    (unsigned long)sb.st_uid, (unsigned)(sb.st_mode & 07777),
		    (unsigned long)ru);
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (sb.st_mode & S_ISVTX) == 0)
		return vd_err_set(VD_ECONFIG, "socket directory %s (uid %lu, "
		    "mode %04o) is writable by %s and not sticky: another "
		    "user could replace the socket", dir,
		    (unsigned long)sb.st_uid, (unsigned)(sb.st_mode & 07777),
		    (sb.st_mode & S_IWOTH) != 0 ? "others" : "its group");
	return 0;
}

/* Binds and listens on the configured socket. */
int
vd_server_start(struct vd_daemon *d)
{
	const char *path = d->cfg->socket;
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat sb;
	char *slash;
	mode_t old;
	int r, n;

	n = snprintf(dir, sizeof(dir), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return vd_err_set(VD_ECONFIG, "socket path too long");
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) == 0) {
			/* Members of socket_group must reach the socket
			 * (vaultd's umask is 077: set the mode explicitly). */
			if (chmod(dir, 0750) != 0)
				return vd_err_set(-errno, "chmod %s", dir);
			if (d->cfg->has_group && chown(dir, (uid_t)-1,
			    d->cfg->socket_gid) != 0)
				return vd_err_set(-errno, "chown %s", dir);
		} else if (errno != EEXIST)
			return vd_err_set(-errno, "mkdir %s", dir);
	} else if (slash == dir)
		dir[1] = '\0';			/* "/name": the root directory */
	else
		memcpy(dir, ".", 2);		/* "name": the working directory */
	if ((r = check_dir(d, dir)) != 0)
		return r;
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode))
			return vd_err_set(VD_ECONFIG, "%s exists and is not a "
			    "socket", path);
		if (socket_alive(path))
			return vd_err_set(VD_EBUSY, "another vaultd listens "
			    "on %s", path);
		if (unlink(path) != 0)
			return vd_err_set(-errno, "unlink %s", path);
	}
	if ((r = uv_pipe_init(d->loop, &d->server, 0)) != 0)
		return vd_err_set(r, "pipe");
	d->server.data = d;
	d->listening = 1;
	/* umask makes the socket 0660 from birth: no window at 0777. */
	old = umask(0117);
	r = uv_pipe_bind(&d->server, path);
	umask(old);
	if (r != 0)
		return vd_err_set(r, "bind %s: %s", path, uv_strerror(r));
	if (chmod(path, 0660) != 0)
		return vd_err_set(-errno, "chmod %s", path);
	if (d->cfg->has_group && chown(path, (uid_t)-1,
	    d->cfg->socket_gid) != 0)
		return vd_err_set(-errno, "chown %s", path);
	memcpy(d->sockpath, path, strlen(path) + 1);
	if ((r = uv_listen((uv_stream_t *)&d->server, 128, accept_cb)) != 0)
		return vd_err_set(r, "listen %s: %s", path, uv_strerror(r));
	return 0;
}

/* Stops accepting; drains connections. */
void
vd_server_stop(struct vd_daemon *d)
{
	struct vd_conn *c, *next;

	if (d->listening) {
		uv_close((uv_handle_t *)&d->server, NULL);
		d->listening = 0;
		unlink(d->sockpath);
	}
	for (c = d->conns; c != NULL; c = next) {
		next = c->next;
		if (c->busy)
			c->close_after = 1;
		else
			conn_close(c);
	}
}
