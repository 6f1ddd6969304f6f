/*
 * headlog.c - the audit head marked in the journal; see headlog.h.
 *
 * The timer's one job, every VD_AUDIT_MARK_EVERY seconds: read the audit
 * head (one read transaction, one record) and mark it if it moved since
 * the last mark.  So a mark costs at most one journal entry per interval,
 * however busy the vault, and an idle vault writes none.
 */
#include <string.h>

#include <uv.h>

#include "audit_mark.h"
#include "err.h"
#include "headlog.h"
#include "log.h"
#include "notify.h"
#include "store.h"

static uv_timer_t	 timer;		/* the interval */
static int		 timer_open;	/* timer initialised, not closed */
static struct vd_audit_mark last;	/* the last head marked */
static int		 marked;	/* last is set */

/* Marks the head when it moved; why: "start", "interval", "stop". */
static void
mark(struct vd_daemon *d, const char *why)
{
	struct vd_audit_mark m;
	struct vd_txn *t = NULL;
	const char *id;
	int r;

	if (d->st == NULL || !vd_store_unlocked(d->st) ||
	    vd_txn_begin(d->st, 0, &t) != 0)
		return;
	r = vd_audit_head(t, &m.count, m.hash);
	vd_txn_abort(t);
	if (r != 0) {
		vd_log(LOG_WARNING, "audit head not marked: %s",
		    vd_strerror(r));
		return;
	}
	if (marked && m.count == last.count && strcmp(m.hash, last.hash) == 0)
		return;
	id = vd_store_id(d->st);
	/* Structured in the journal, else one stable line on stderr. */
	if (vd_notify_audit_head((unsigned long long)m.count, m.hash, id, why)
	    != 0)
		vd_log(LOG_NOTICE, "audit head (%s): %s=%llu:%s %s=%s", why,
		    VD_AUDIT_MARK_HEAD, (unsigned long long)m.count, m.hash,
		    VD_AUDIT_MARK_VAULT, id);
	last = m;
	marked = 1;
}

static void
tick(uv_timer_t *h)
{
	mark(h->data, "interval");
}

void
vd_headlog_start(struct vd_daemon *d)
{
	mark(d, "start");
	if (timer_open || uv_timer_init(d->loop, &timer) != 0)
		return;
	timer.data = d;
	uv_timer_start(&timer, tick, VD_AUDIT_MARK_EVERY * 1000,
	    VD_AUDIT_MARK_EVERY * 1000);
	uv_unref((uv_handle_t *)&timer);	/* never keeps vaultd up */
	timer_open = 1;
}

void
vd_headlog_close(struct vd_daemon *d)
{
	(void)d;
	if (!timer_open)
		return;
	uv_close((uv_handle_t *)&timer, NULL);
	timer_open = 0;
}

void
vd_headlog_final(struct vd_daemon *d)
{
	mark(d, "stop");
}
