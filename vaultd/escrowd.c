/*
 * escrowd.c - the daemon's escrow module (escrowd.h): moved out of the
 * rotation engine (issue 14, "Layout"), plus the rotation of every target
 * whose password in force a removed party, a re-keyed party or a looser
 * mode could still open (issue 14 item 4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon.h"
#include "err.h"
#include "escrow.h"
#include "escrowd.h"
#include "log.h"
#include "rotate.h"
#include "store.h"
#include "util.h"

/* One daemon per process, as in rotate.c. */
static struct vd_escrow_cfg *cur;

const struct vd_escrow_cfg *
vd_escrowd_cfg(void)
{
	return cur;
}

int
vd_escrowd_seal(struct vd_daemon *d, struct vd_txn *t, const char *target,
    uint64_t v, const struct vd_secret *pw)
{
	return vd_escrow_seal_version(cur, d->st, t, target, v, pw);
}

int
vd_escrowd_seal_prepare(struct vd_daemon *d, const char *target, uint64_t v,
    const struct vd_secret *pw, struct vd_escrow_sealed **out)
{
	return vd_escrow_seal_prepare(cur, d->st, target, v, pw, out);
}

int
vd_escrowd_seal_store(struct vd_daemon *d, struct vd_txn *t,
    const char *target, uint64_t v, const struct vd_secret *pw,
    const struct vd_escrow_sealed *s)
{
	/*
	 * Sealed to the parties in force now, or sealed again: a SIGHUP
	 * since the preparation replaced cur, and vd_escrowd_load() judged
	 * (exposed, stale) the versions on disk then, not this one.
	 */
	if (vd_escrow_sealed_for(s, cur, target, v))
		return vd_escrow_seal_store(cur, s, t);
	return vd_escrowd_seal(d, t, target, v, pw);
}

void
vd_escrowd_end(void)
{
	vd_escrow_cfg_free(cur);
	cur = NULL;
}

/* ---- party changes ---------------------------------------------------- */

/* A target to rotate because of the change. */
struct exposed {
	char		 name[VD_NAME_MAX + 1];
	uint64_t	 v;		/* its newest live version */
	char		 why[64];
	char		 party[VD_NAME_MAX + 1];
};

struct exposed_list {
	struct exposed	*v;
	size_t		 n, cap;
};

static int
exposed_cb(const char *target, uint64_t newest, const char *why,
    const char *party, void *arg)
{
	struct exposed_list *l = arg;
	struct exposed *x;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct exposed *nv;

		if ((nv = realloc(l->v, cap * sizeof(*nv))) == NULL)
			return VD_ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	x = &l->v[l->n++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", target);
	x->v = newest;
	snprintf(x->why, sizeof(x->why), "%s", why);
	snprintf(x->party, sizeof(x->party), "%s", party);
	return 0;
}

/*
 * In t: makes each exposed target due now (the schedule's after-reveal
 * due time, which survives a crash and is cleared by the rotation that
 * replaces version v) and appends one audit entry for them all.
 */
static int
mark_exposed(struct vd_txn *t, const struct exposed_list *l)
{
	json_t *e = NULL, *names = NULL;
	int64_t now = vd_now();
	int r = 0;

	if ((names = json_array()) == NULL)
		return VD_ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		json_t *sched = NULL, *sf;
		int64_t due = now;

		/*
		 * The scheduler trusts an after-reveal due time only when it
		 * is later than the last success (a rotation that ended in
		 * this very second would hide it).
		 */
		if (vd_sched_get(t, l->v[i].name, &sched) == 0 &&
		    json_integer_value(json_object_get(sched, "last_ok")) >=
		    due)
			due = json_integer_value(json_object_get(sched,
			    "last_ok")) + 1;
		json_decref(sched);
		sf = json_pack("{s:I,s:I,s:I}", "escrow_exposed_at",
		    (json_int_t)now, "revealed_v", (json_int_t)l->v[i].v,
		    "after_reveal_due", (json_int_t)due);

		r = sf == NULL ? VD_ENOMEM : vd_sched_update(t, l->v[i].name,
		    sf);
		json_decref(sf);
		if (r != 0)
			goto out;
		/* The entry names the first few; the count says how many. */
		if (i < 32 && json_array_append_new(names,
		    json_string(l->v[i].name)) != 0) {
			r = VD_ENOMEM;
			goto out;
		}
	}
	if ((e = json_pack("{s:s,s:s,s:s,s:s,s:I,s:O}", "event",
	    "escrow-rotate", "result", "requested", "reason", l->v[0].why,
	    "party", l->v[0].party, "targets", (json_int_t)l->n, "names",
	    names)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	r = vd_audit_append(t, e, NULL);
 out:
	json_decref(e);
	json_decref(names);
	return r;
}

int
vd_escrowd_load(struct vd_daemon *d, int running)
{
	struct vd_escrow_cfg *ec = NULL;
	struct exposed_list xl = { NULL, 0, 0 };
	struct vd_txn *t = NULL;
	char fp[VD_ESCROW_FPLEN + 1];
	int r, stale = 0;

	if ((r = vd_escrow_cfg_from_json(d->cfg->escrow, &ec)) != 0) {
		char buf[300];

		vd_log(LOG_ERR, "[escrow]: %s", vd_err_format(r, buf,
		    sizeof(buf)));
		return r;
	}
	/*
	 * What the new parties and mode leave open, read before the re-seal
	 * drops the envelopes of parties no longer configured.
	 */
	if ((r = vd_txn_begin(d->st, 0, &t)) != 0 ||
	    (r = vd_escrow_exposed(ec, t, exposed_cb, &xl)) != 0 ||
	    (r = vd_escrow_stale(ec, t, &stale)) != 0)
		goto out;
	vd_txn_abort(t);
	t = NULL;
	if (stale || xl.n > 0) {
		if ((r = vd_txn_begin(d->st, 1, &t)) != 0 ||
		    (stale && (r = vd_escrow_reseal(ec, d->st, t)) != 0) ||
		    (xl.n > 0 && (r = mark_exposed(t, &xl)) != 0))
			goto out;
		r = vd_txn_commit(t);
		t = NULL;
		if (r != 0)
			goto out;
		if (stale)
			vd_log(LOG_NOTICE, "escrow: current versions re-sealed "
			    "to %zu parties", vd_escrow_cfg_parties(ec));
	}
	if (vd_escrow_cfg_parties(ec) > 0 &&
	    vd_escrow_vault_fp(d->st, fp) == 0)
		vd_log(LOG_INFO, "escrow: %zu parties; vault signing key %s",
		    vd_escrow_cfg_parties(ec), fp);
	vd_escrow_cfg_free(cur);
	cur = ec;
	ec = NULL;
	if (xl.n > 0)
		vd_log(LOG_NOTICE, "escrow: %s (party %s): rotating %zu "
		    "targets, whose passwords older envelopes still open",
		    xl.v[0].why, xl.v[0].party, xl.n);
	for (size_t i = 0; running && i < xl.n; i++) {
		/* The schedule changed: the engine reloads the entry. */
		vd_rotate_notify(d, xl.v[i].name);
		if (d->cfg->paused)
			continue;	/* the after-reveal due time waits */
		if (vd_rotate_request(d, xl.v[i].name, "escrow", NULL, NULL)
		    != 0)
			vd_log(LOG_WARNING, "%s: escrow rotation not started "
			    "now (%s); the scheduler starts it", xl.v[i].name,
			    vd_err_detail());
	}
	r = 0;
 out:
	if (r != 0) {
		char buf[300];

		vd_log(LOG_ERR, "escrow: %s", vd_err_format(r, buf,
		    sizeof(buf)));
	}
	vd_txn_abort(t);
	vd_escrow_cfg_free(ec);
	free(xl.v);
	return r;
}

/* ---- break-glass reports ---------------------------------------------- */

struct report {
	char		 target[VD_NAME_MAX + 1];	/* target opened */
	char		 rotate[VD_NAME_MAX + 1];	/* target to rotate:
							 * target, or its
							 * primary */
	uint64_t	 v;
	char		*json;		/* the openings, as stored */
	struct report	*next;
};

static int
report_cb(const char *target, uint64_t v, const char *json, size_t len,
    void *arg)
{
	struct report **head = arg, *rp;

	if ((rp = calloc(1, sizeof(*rp))) == NULL ||
	    (rp->json = strndup(json, len)) == NULL) {
		free(rp);
		return VD_ENOMEM;
	}
	snprintf(rp->target, sizeof(rp->target), "%s", target);
	rp->v = v;
	rp->next = *head;
	*head = rp;
	return 0;
}

void
vd_escrowd_breakglass_reports(struct vd_daemon *d)
{
	struct report *head = NULL, *rp, *next;
	struct vd_txn *t = NULL;
	int r;

	if (vd_txn_begin(d->st, 0, &t) != 0)
		return;
	r = vd_escrow_reports(t, report_cb, &head);
	vd_txn_abort(t);
	t = NULL;
	if (r != 0 || head == NULL)
		goto out;
	if ((r = vd_txn_begin(d->st, 1, &t)) != 0)
		goto out;
	for (rp = head; rp != NULL; rp = rp->next) {
		json_error_t jerr;
		json_t *e = json_pack("{s:s,s:s,s:I,s:s}", "event",
		    "breakglass", "target", rp->target, "version",
		    (json_int_t)rp->v, "result", "opened");
		json_t *open = json_loads(rp->json, 0, &jerr), *tr = NULL;

		if (e != NULL && open != NULL)
			json_object_set_new(e, "openings", open);
		else
			json_decref(open);
		snprintf(rp->rotate, sizeof(rp->rotate), "%s", rp->target);
		if (vd_target_get(t, rp->target, &tr) == 0 &&
		    json_is_string(json_object_get(tr, "replica_of"))) {
			/*
			 * A replica takes its primary's password changes and
			 * is never rotated itself (issue 14 item 8): the
			 * password opened is changed by rotating the primary.
			 */
			snprintf(rp->rotate, sizeof(rp->rotate), "%s",
			    json_string_value(json_object_get(tr,
			    "replica_of")));
			json_decref(tr);
			tr = NULL;
			if (e != NULL)
				json_object_set_new(e, "rotate",
				    json_string(rp->rotate));
			if (vd_target_get(t, rp->rotate, &tr) != 0)
				tr = NULL;
		}
		r = e == NULL ? VD_ENOMEM : vd_audit_append(t, e, NULL);
		json_decref(e);
		if (r == 0 && tr != NULL) {
			/*
			 * Opened: rotated now, and again once promoted if it
			 * was still pending (record_in(), revealed_v).
			 */
			json_t *sf = json_pack("{s:I,s:I,s:I}", "revealed_at",
			    (json_int_t)vd_now(), "revealed_v",
			    (json_int_t)(strcmp(rp->rotate, rp->target) == 0 ?
			    rp->v : 0), "after_reveal_due",
			    (json_int_t)vd_now());

			r = sf == NULL ? VD_ENOMEM : vd_sched_update(t,
			    rp->rotate, sf);
			json_decref(sf);
		}
		json_decref(tr);
		if (r != 0 || (r = vd_escrow_report_clear(t, rp->target,
		    rp->v)) != 0)
			break;
	}
	if (r == 0) {
		r = vd_txn_commit(t);
		t = NULL;
	}
	if (r != 0) {
		vd_log(LOG_ERR, "cannot record break-glass reports: %s",
		    vd_strerror(r));
		goto out;
	}
	for (rp = head; rp != NULL; rp = rp->next) {
		vd_log(LOG_ALERT, "%s: break-glass opening of version %llu "
		    "reported: rotating %s", rp->target,
		    (unsigned long long)rp->v, rp->rotate);
		if (vd_rotate_request(d, rp->rotate, "breakglass", NULL,
		    NULL) != 0)
			vd_log(LOG_WARNING, "%s: break-glass rotation not "
			    "started now (%s); the scheduler starts it",
			    rp->rotate, vd_err_detail());
	}
 out:
	vd_txn_abort(t);
	for (rp = head; rp != NULL; rp = next) {
		next = rp->next;
		free(rp->json);
		free(rp);
	}
}
