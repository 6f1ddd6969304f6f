/*
 * refusals.c - refused calls summarised per uid (refusals.h).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "err.h"
#include "log.h"
#include "refusals.h"
#include "store.h"
#include "util.h"

#define METHODS_MAX	16	/* distinct methods per uid and interval */

struct slot {
	int		 used;
	long long	 uid;		/* -1: the shared overflow slot */
	char		 user[64];
	int64_t		 start;		/* the interval's first refusal */
	int64_t		 last;		/* the newest one */
	unsigned long long count;	/* counted, not audited */
	char		 methods[METHODS_MAX][33];	/* counted */
	int		 nmethods;
	char		 audited[METHODS_MAX][33];	/* audited one by one */
	int		 naudited;
};

static struct slot slots[VD_REFUSALS_SLOTS + 1];	/* + overflow */
static uv_timer_t timer;
static int timer_open;
static struct vd_daemon *daemon_of;

/* Writes s's summary (when it counted any) and frees the slot. */
static void
summarise(struct vd_daemon *d, struct vd_txn *t, struct slot *s)
{
	char from[VD_TIME_STRLEN], to[VD_TIME_STRLEN];
	json_t *e = NULL, *m;
	int r = VD_ESEALED;

	if (!s->used)
		return;
	if (s->count == 0) {
		s->used = 0;
		return;
	}
	vd_time_rfc3339(s->start, from, sizeof(from));
	vd_time_rfc3339(s->last, to, sizeof(to));
	if (t != NULL && (m = json_array()) != NULL) {
		for (int i = 0; i < s->nmethods; i++)
			json_array_append_new(m, json_string(s->methods[i]));
		e = json_pack("{s:s,s:I,s:s,s:s,s:I,s:o,s:s,s:s}", "event",
		    "refused-summary", "uid", (json_int_t)s->uid, "user",
		    s->user, "result", "refused", "count",
		    (json_int_t)s->count, "methods", m, "from", from, "to",
		    to);
		r = e == NULL ? VD_ENOMEM : vd_audit_append(t, e, NULL);
		json_decref(e);
	}
	vd_log(LOG_NOTICE, "refused %llu more calls of uid %lld (%s) from %s "
	    "to %s: caller lacks the role%s", s->count, s->uid, s->user, from,
	    to, r != 0 ? " (not audited: vault sealed or audit failed)" : "");
	s->used = 0;
}

/* Summarises the slots whose interval ended (all: every slot). */
static void
flush(struct vd_daemon *d, int all)
{
	int64_t now = vd_now();
	struct vd_txn *t = NULL;
	int any = 0;

	for (size_t i = 0; i < VD_NELEM(slots); i++)
		if (slots[i].used && (all || now - slots[i].start >=
		    VD_REFUSALS_INTERVAL))
			any = 1;
	if (!any)
		return;
	if (!vd_store_unlocked(d->st) || vd_txn_begin(d->st, 1, &t) != 0)
		t = NULL;
	for (size_t i = 0; i < VD_NELEM(slots); i++)
		if (slots[i].used && (all || now - slots[i].start >=
		    VD_REFUSALS_INTERVAL))
			summarise(d, t, &slots[i]);
	if (t != NULL && vd_txn_commit(t) != 0)
		vd_log(LOG_ERR, "refused-call summaries not audited");
}

static void
tick(uv_timer_t *h)
{
	flush(daemon_of, 0);
}

int
vd_refusals_note(struct vd_daemon *d, uid_t uid, const char *user,
    const char *method)
{
	struct slot *s = NULL, *fr = NULL;
	int64_t now = vd_now();

	daemon_of = d;
	if (!timer_open && !d->stopping) {
		if (uv_timer_init(d->loop, &timer) == 0) {
			uv_timer_start(&timer, tick, 5000, 5000);
			uv_unref((uv_handle_t *)&timer);
			timer_open = 1;
		}
	}
	flush(d, 0);
	for (size_t i = 0; i < VD_REFUSALS_SLOTS; i++) {
		if (slots[i].used && slots[i].uid == (long long)uid) {
			s = &slots[i];
			break;
		}
		if (!slots[i].used && fr == NULL)
			fr = &slots[i];
	}
	if (s == NULL && fr != NULL) {
		/* The uid's first refusal in an interval: audited as before. */
		memset(fr, 0, sizeof(*fr));
		fr->used = 1;
		fr->uid = (long long)uid;
		snprintf(fr->user, sizeof(fr->user), "%s", user);
		fr->start = fr->last = now;
		snprintf(fr->audited[fr->naudited++], sizeof(fr->audited[0]),
		    "%s", method);
		return 1;
	}
	if (s != NULL) {
		/*
		 * The first refusal of each method (at most METHODS_MAX, the
		 * API has fewer) is audited as before: an attempted unseal
		 * is not lost among refused status calls.
		 */
		int i;

		for (i = 0; i < s->naudited; i++)
			if (strcmp(s->audited[i], method) == 0)
				break;
		if (i == s->naudited && s->naudited < METHODS_MAX) {
			snprintf(s->audited[s->naudited++],
			    sizeof(s->audited[0]), "%s", method);
			s->last = now;
			return 1;
		}
	}
	if (s == NULL) {
		/* Every slot taken: the overflow slot counts the rest. */
		s = &slots[VD_REFUSALS_SLOTS];
		if (!s->used) {
			memset(s, 0, sizeof(*s));
			s->used = 1;
			s->uid = -1;
			snprintf(s->user, sizeof(s->user), "(other uids)");
			s->start = now;
		}
	}
	s->count++;
	s->last = now;
	for (int i = 0; i < s->nmethods; i++)
		if (strcmp(s->methods[i], method) == 0)
			return 0;
	if (s->nmethods < METHODS_MAX)
		snprintf(s->methods[s->nmethods++], sizeof(s->methods[0]), "%s",
		    method);
	return 0;
}

void
vd_refusals_stop(struct vd_daemon *d)
{
	flush(d, 1);
	if (timer_open) {
		uv_timer_stop(&timer);
		uv_close((uv_handle_t *)&timer, NULL);
		timer_open = 0;
	}
}
