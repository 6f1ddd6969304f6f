/*
 * notifycmd.c - runs the [notify] command for checkout events (notifycmd.h).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "err.h"
#include "harden.h"
#include "log.h"
#include "notifycmd.h"

/* One run of the command; freed once its three handles closed. */
struct run {
	uv_process_t	 proc;		/* the child */
	uv_pipe_t	 in;		/* its standard input */
	uv_timer_t	 timer;		/* the timeout */
	uv_write_t	 wreq;		/* the event's write */
	char		*text;		/* the event as JSON + newline */
	char		 event[32];	/* its name, for the log */
	int		 open;		/* handles not yet closed */
};

static unsigned running;	/* runs in flight (bounded) */

static void
run_closed(uv_handle_t *h)
{
	struct run *r = h->data;

	if (--r->open > 0)
		return;
	free(r->text);
	free(r);
	running--;
}

static void
close_one(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, run_closed);
}

static void
exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct run *r = p->data;

	if (status != 0 || sig != 0)
		vd_log(LOG_WARNING, "notify command for event %s failed: %s "
		    "%lld", r->event, sig ? "killed by signal" : "exit status",
		    sig ? (long long)sig : (long long)status);
	close_one((uv_handle_t *)&r->proc);
	close_one((uv_handle_t *)&r->timer);
	close_one((uv_handle_t *)&r->in);
}

static void
timeout_cb(uv_timer_t *t)
{
	struct run *r = t->data;

	vd_log(LOG_WARNING, "notify command for event %s timed out: killed",
	    r->event);
	(void)uv_process_kill(&r->proc, SIGKILL);
}

static void
write_cb(uv_write_t *w, int status)
{
	struct run *r = w->data;

	if (status != 0 && status != UV_ECANCELED)
		vd_log(LOG_WARNING, "notify command for event %s: writing "
		    "its input: %s", r->event, uv_strerror(status));
	/* End of input: the command sees EOF. */
	close_one((uv_handle_t *)&r->in);
}

/* Runs the command with event on its stdin. */
void
vd_notifycmd_event(struct vd_daemon *d, const json_t *event)
{
	static char *env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C",
	    NULL };
	const char *cmd = d->cfg->notify_command;
	const char *name = json_string_value(json_object_get(event, "event"));
	uv_process_options_t o;
	uv_stdio_container_t io[3];
	char *args[3];
	struct run *r;
	uv_buf_t b;
	int64_t tmo;
	int e;

	if (cmd == NULL)
		return;
	if (name == NULL)
		name = "?";
	if (running >= VD_NOTIFYCMD_MAX) {
		vd_log(LOG_WARNING, "notify command: %u runs in flight; event "
		    "%s not sent", running, name);
		return;
	}
	if (vd_harden_check_file(cmd, "notify command") != 0) {
		vd_log(LOG_WARNING, "notify command %s not run for event %s: "
		    "%s", cmd, name, vd_err_detail());
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return;
	snprintf(r->event, sizeof(r->event), "%s", name);
	if ((r->text = json_dumps(event, JSON_COMPACT | JSON_SORT_KEYS)) ==
	    NULL) {
		free(r);
		return;
	}
	{
		size_t n = strlen(r->text);
		char *t = realloc(r->text, n + 2);

		if (t == NULL) {
			free(r->text);
			free(r);
			return;
		}
		t[n] = '\n';
		t[n + 1] = '\0';
		r->text = t;
	}
	uv_pipe_init(d->loop, &r->in, 0);
	r->in.data = r;
	uv_timer_init(d->loop, &r->timer);
	r->timer.data = r;
	r->proc.data = r;
	r->open = 2;
	running++;
	memset(&o, 0, sizeof(o));
	io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
	io[0].data.stream = (uv_stream_t *)&r->in;
	io[1].flags = UV_IGNORE;
	io[2].flags = UV_IGNORE;
	args[0] = (char *)cmd;
	args[1] = r->event;
	args[2] = NULL;
	o.file = cmd;
	o.args = args;
	o.env = env;
	o.cwd = "/";
	o.exit_cb = exit_cb;
	o.stdio = io;
	o.stdio_count = 3;
	if ((e = uv_spawn(d->loop, &r->proc, &o)) != 0) {
		vd_log(LOG_WARNING, "notify command %s for event %s: %s", cmd,
		    r->event, uv_strerror(e));
		/* No exit callback will come; the process handle is closed. */
		r->open++;
		close_one((uv_handle_t *)&r->proc);
		close_one((uv_handle_t *)&r->timer);
		close_one((uv_handle_t *)&r->in);
		return;
	}
	r->open++;
	tmo = d->cfg->notify_timeout > 0 ? d->cfg->notify_timeout :
	    VD_NOTIFY_TIMEOUT_DEFAULT;
	uv_timer_start(&r->timer, timeout_cb, (uint64_t)tmo * 1000, 0);
	uv_unref((uv_handle_t *)&r->timer);
	b = uv_buf_init(r->text, (unsigned)strlen(r->text));
	r->wreq.data = r;
	if ((e = uv_write(&r->wreq, (uv_stream_t *)&r->in, &b, 1,
	    write_cb)) != 0) {
		vd_log(LOG_WARNING, "notify command for event %s: %s",
		    r->event, uv_strerror(e));
		close_one((uv_handle_t *)&r->in);
	}
}
