/*
 * checkout.c - access requests, approvals and checkouts (checkout.h).
 *
 * The request machine (state.h):
 *
 *	request --> pending --approve x N--> approved --checkin--> checked-in
 *	               |  \--deny--> denied      |  \--timeout--> expired
 *	               |--timeout--> expired     \--revoke--> revoked
 *	               \--revoke--> revoked
 *
 * Durable before the side effects: each move writes, in one transaction,
 * the request record, the target's schedule record (the "checkout" field;
 * at an end, next_due now with trigger checkin / expiry / revoke and
 * "checkout_req", the request id the rotation's history entry names), a
 * history entry of the target and an audit entry.  Only then are the
 * engine told (vd_rotate_notify, vd_rotate_request) and the [notify]
 * command run, so a crash in between still rotates at the next start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkout.h"
#include "checkout_rec.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "notifycmd.h"
#include "proto.h"
#include "rotate.h"
#include "state.h"
#include "store.h"
#include "util.h"

#define DEADLINE_RECHECK	60	/* rescan at least this often, s */

/* The earliest deadline of a pending or approved request; 0: scan. */
static int64_t next_deadline;

static int64_t
jint(const json_t *o, const char *k, int64_t dflt)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static enum vd_rstate
rstate(const json_t *req)
{
	enum vd_rstate s;

	/* An unknown state (a damaged record) is treated as final. */
	if (vd_rstate_parse(jstr(req, "state"), &s) != 0)
		return VD_RS_REVOKED;
	return s;
}

int
vd_checkout_text_valid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > VD_REASON_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* --- records ------------------------------------------------------------ */

/* The target's needed approvals (0: none) and its checkout_max. */
static void
target_terms(const json_t *target, int64_t *needed, int64_t *max)
{
	*needed = jint(target, "approvals", 0);
	*max = jint(target, "checkout_max", VD_CHECKOUT_MAX_DEFAULT);
}

/* Finds target's approved request: *id and *req (caller decrefs), or 0. */
struct find {
	const char	*target;
	uint64_t	 id;
	json_t		*req;
	uid_t		 uid;		/* with want_uid: that user's open one */
	int		 want_uid;
};

static int
find_cb(uint64_t id, json_t *req, void *arg)
{
	struct find *f = arg;
	enum vd_rstate s = rstate(req);
	const char *tg = jstr(req, "target");

	if (tg == NULL || strcmp(tg, f->target) != 0)
		return 0;
	if (f->want_uid ? ((s == VD_RS_PENDING || s == VD_RS_APPROVED) &&
	    jint(req, "uid", -1) == (int64_t)f->uid) : s == VD_RS_APPROVED) {
		f->id = id;
		f->req = json_incref(req);
		return 1;
	}
	return 0;
}

/*
 * Finds target's checkout (want_uid 0), or uid's open request on target
 * (want_uid 1).  Returns 0 with *id 0 when there is none.  A linear walk:
 * requests are few (one per maintenance job), ended ones included.
 */
static int
find_open(struct vd_txn *t, const char *target, int want_uid, uid_t uid,
    uint64_t *id, json_t **req)
{
	struct find f = { target, 0, NULL, uid, want_uid };
	int r;

	*id = 0;
	*req = NULL;
	if ((r = vd_request_each(t, find_cb, &f)) < 0) {
		json_decref(f.req);
		return r;
	}
	*id = f.id;
	*req = f.req;
	return 0;
}

/* Writes "when" as RFC 3339 into o[key]. */
static void
set_time(json_t *o, const char *key, int64_t when)
{
	char buf[VD_TIME_STRLEN];

	json_object_set_new(o, key, json_string(vd_time_rfc3339(when, buf,
	    sizeof(buf))));
}

/*
 * Appends the audit entry and the target's history entry of a move of
 * request id: event (request, approve …), who (user, uid; uid -1: vaultd
 * itself), text (reason or comment, may be NULL), state after the move.
 */
static int
note_move(struct vd_txn *t, uint64_t id, const json_t *req,
    const char *event, const char *user, int64_t uid, int64_t pid,
    const char *text)
{
	const char *target = jstr(req, "target");
	json_t *a, *h;
	char note[VD_REASON_MAX + 200];
	int r;

	a = json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:s}", "event", event,
	    "uid", (json_int_t)(uid >= 0 ? uid : (int64_t)getuid()), "user",
	    user, "result", "ok", "target", target, "request", (json_int_t)id,
	    "state", jstr(req, "state"));
	if (a == NULL)
		return VD_ENOMEM;
	if (pid > 0)
		json_object_set_new(a, "pid", json_integer(pid));
	if (text != NULL)
		json_object_set_new(a, "reason", json_string(text));
	snprintf(note, sizeof(note), "request %llu %s by %s%s%s%s",
	    (unsigned long long)id, event, user, text ? ": " : "",
	    text ? text : "", "");
	h = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "trigger", "checkout",
	    "event", event, "state", jstr(req, "state"), "request",
	    (json_int_t)id, "by", user, "note", note);
	if (h == NULL) {
		json_decref(a);
		return VD_ENOMEM;
	}
	set_time(h, "started_at", vd_now());
	if ((r = vd_audit_append(t, a, NULL)) == 0)
		r = vd_history_append(t, target, h, NULL);
	json_decref(a);
	json_decref(h);
	return r;
}

/* The [notify] command's event for a move of request id (no secret). */
static void
notify_move(struct vd_daemon *d, uint64_t id, const json_t *req,
    const char *event, const char *by, const char *text)
{
	json_t *e;

	e = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I}", "event",
	    event, "request", (json_int_t)id, "target", jstr(req, "target"),
	    "requester", jstr(req, "user"), "state", jstr(req, "state"),
	    "by", by, "approvals", (json_int_t)json_array_size(
	    json_object_get(req, "approvals")), "needed",
	    (json_int_t)jint(req, "needed", 0));
	if (e == NULL)
		return;
	json_object_set(e, "reason", json_object_get(req, "reason"));
	if (text != NULL)
		json_object_set_new(e, "comment", json_string(text));
	if (jint(req, "until", 0) > 0)
		set_time(e, "until", jint(req, "until", 0));
	set_time(e, "time", vd_now());
	vd_notifycmd_event(d, e);
	json_decref(e);
}

/* The answer's view of a request: the record with readable times. */
json_t *
vd_checkout_view(uint64_t id, const json_t *req)
{
	static const char *const times[] = { "created_at", "expires_at",
	    "until", "ended_at" };
	json_t *v, *a;
	size_t i;

	if (!json_is_object(req) || (v = json_deep_copy(req)) == NULL)
		return NULL;
	json_object_set_new(v, "id", json_integer((json_int_t)id));
	for (i = 0; i < VD_NELEM(times); i++)
		if (jint(req, times[i], 0) > 0)
			set_time(v, times[i], jint(req, times[i], 0));
	json_array_foreach(json_object_get(v, "approvals"), i, a)
		if (jint(a, "at", 0) > 0)
			set_time(a, "at", jint(a, "at", 0));
	return v;
}

json_t *
vd_checkout_status(const json_t *sched)
{
	const json_t *co = json_object_get(sched, "checkout");
	const char *user = jstr(co, "user");
	int64_t id = jint(co, "id", 0), until = jint(co, "until", 0);
	json_t *o;

	if (!json_is_object(co) || id < 1 || until < 1 || user == NULL)
		return NULL;
	o = json_pack("{s:I, s:s, s:I, s:I}", "request", (json_int_t)id,
	    "holder", user, "uid", (json_int_t)jint(co, "uid", -1),
	    "until_unix", (json_int_t)until);
	if (o != NULL)
		set_time(o, "until", until);
	return o;
}

/* Sets the earliest deadline to consider (0: scan at the next tick). */
static void
deadline_seen(int64_t when)
{
	if (when > 0 && (next_deadline == 0 || when < next_deadline))
		next_deadline = when;
}

/* --- moves -------------------------------------------------------------- */

/*
 * Ends the checkout of request id (state approved) by event e inside t:
 * the request's state, the target's schedule (checkout cleared, rotation
 * due now with the end's trigger, durable here) and the notes.  *trigger
 * gets the rotation's trigger.
 */
static int
end_in(struct vd_txn *t, uint64_t id, json_t *req, enum vd_revent e,
    const char *user, int64_t uid, int64_t pid, const char *text,
    const char **trigger)
{
	const char *target = jstr(req, "target");
	int next = vd_rstate_next(rstate(req), e, 0);
	json_t *sf;
	int r;

	*trigger = vd_rstate_end_trigger(rstate(req), e);
	if (next < 0)
		return vd_err_set(VD_EINVAL, "request %llu is %s",
		    (unsigned long long)id, jstr(req, "state"));
	json_object_set_new(req, "state", json_string(vd_rstate_name(
	    (enum vd_rstate)next)));
	json_object_set_new(req, "ended_at", json_integer(vd_now()));
	json_object_set_new(req, "ended_by", json_string(user));
	if (text != NULL)
		json_object_set_new(req, "comment", json_string(text));
	if ((r = vd_request_put(t, id, req)) != 0 ||
	    (r = note_move(t, id, req, vd_revent_name(e), user, uid, pid,
	    text)) != 0)
		return r;
	if (*trigger == NULL)
		return 0;
	/* The rotation, due now and durable with the move. */
	sf = json_pack("{s:n, s:I, s:s, s:I}", "checkout", "next_due",
	    (json_int_t)vd_now(), "trigger", *trigger, "checkout_req",
	    (json_int_t)id);
	if (sf == NULL)
		return VD_ENOMEM;
	r = vd_sched_update(t, target, sf);
	json_decref(sf);
	return r;
}

/* Starts the rotation an end made due (the store already holds it). */
static void
end_rotate(struct vd_daemon *d, const char *target, const char *trigger,
    vd_rotate_cb cb, void *arg)
{
	int r;

	vd_rotate_notify(d, target);
	if ((r = vd_rotate_request(d, target, trigger, cb, arg)) != 0) {
		/* Due now in its schedule record: the tick starts it. */
		vd_log(LOG_WARNING, "%s: rotation after the checkout's end "
		    "not started now (%s); it is due and starts with the "
		    "scheduler", target, vd_strerror(r));
		if (cb != NULL)
			cb(arg, r, NULL);
	}
}

/* --- methods ------------------------------------------------------------ */

/* Appends a refusal to the audit log (request id 0: none) and answers. */
static void
refuse(struct vd_req *rq, const char *target, uint64_t id, int code,
    const char *why)
{
	struct vd_txn *t = NULL;
	json_t *a;
	int r = VD_ENOMEM;

	a = json_pack("{s:s, s:I, s:s, s:I, s:s, s:s}", "event", rq->method,
	    "uid", (json_int_t)rq->caller->uid, "user", rq->caller->user,
	    "pid", (json_int_t)rq->caller->pid, "result", "refused",
	    "reason", why);
	if (a != NULL) {
		if (target != NULL)
			json_object_set_new(a, "target", json_string(target));
		if (id != 0)
			json_object_set_new(a, "request", json_integer(
			    (json_int_t)id));
		if ((r = vd_txn_begin(rq->d->st, 1, &t)) == 0) {
			if ((r = vd_audit_append(t, a, NULL)) != 0)
				vd_txn_abort(t);
			else
				r = vd_txn_commit(t);
		}
		json_decref(a);
	}
	vd_log(LOG_NOTICE, "refused %s%s%s for uid %lu (%s): %s%s", rq->method,
	    target ? " " : "", target ? target : "",
	    (unsigned long)rq->caller->uid, rq->caller->user, why,
	    r != 0 ? " (not audited)" : "");
	vd_req_fail_code(rq, code, why);
}

/* Reads params.name: a valid target name, or NULL after failing rq. */
static const char *
name_param(struct vd_req *rq, json_t *params)
{
	const char *name = json_string_value(json_object_get(params, "name"));

	if (name == NULL || !vd_name_valid(name)) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "name: a target name is "
		    "required");
		return NULL;
	}
	return name;
}

/* Reads params.id (a request id), or 0 after failing rq. */
static uint64_t
id_param(struct vd_req *rq, json_t *params)
{
	json_t *v = json_object_get(params, "id");

	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 9999999999LL) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "id: a request id is "
		    "required");
		return 0;
	}
	return (uint64_t)json_integer_value(v);
}

/*
 * Reads the optional text params[key] (required: must be there) into *s;
 * returns 0, or -1 after failing rq.
 */
static int
text_param(struct vd_req *rq, json_t *params, const char *key, int required,
    const char **s)
{
	json_t *v = json_object_get(params, key);
	char msg[160];

	*s = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
	} else if (json_is_string(v) && vd_checkout_text_valid(
	    json_string_value(v), json_string_length(v))) {
		*s = json_string_value(v);
		return 0;
	}
	snprintf(msg, sizeof(msg), "%s: %s1..%d characters without control "
	    "characters", key, required ? "required, " : "", VD_REASON_MAX);
	vd_req_fail_code(rq, VD_RPC_PARAMS, msg);
	return -1;
}

/* Says who holds target's checkout (for a refused request). */
static void
held_msg(char *buf, size_t len, const char *target, uint64_t id,
    const json_t *req)
{
	char until[VD_TIME_STRLEN];

	snprintf(buf, len, "%s is checked out by %s until %s (request %llu); "
	    "ask again after it ends", target, jstr(req, "user") ?
	    jstr(req, "user") : "?", vd_time_rfc3339(jint(req, "until", 0),
	    until, sizeof(until)), (unsigned long long)id);
}

void
vd_checkout_m_request(struct vd_req *rq, json_t *params)
{
	struct vd_daemon *d = rq->d;
	struct vd_txn *t = NULL;
	json_t *target = NULL, *req = NULL, *held = NULL, *ans;
	const char *name, *reason, *fors;
	int64_t needed, max, dur, ttl, now = vd_now();
	uint64_t id = 0, hid;
	char msg[400];
	int r;

	if ((name = name_param(rq, params)) == NULL ||
	    text_param(rq, params, "reason", 1, &reason) != 0)
		return;
	if (json_object_get(params, "for") != NULL &&
	    !json_is_string(json_object_get(params, "for"))) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "for: a duration (2h)");
		return;
	}
	fors = json_string_value(json_object_get(params, "for"));
	if (!vd_config_can_reveal(d->cfg, rq->caller->user,
	    rq->caller->groups, rq->caller->ngroups, name)) {
		refuse(rq, name, 0, VD_RPC_PERM, "permission denied: reveal "
		    "of this target is not allowed to the caller");
		return;
	}
	if ((r = vd_txn_begin(d->st, 1, &t)) != 0)
		goto fail;
	if ((r = vd_target_get(t, name, &target)) != 0) {
		if (r == VD_ENOTFOUND)
			vd_err_set(r, "no such target");
		goto fail;
	}
	target_terms(target, &needed, &max);
	if (needed < 1) {
		r = vd_err_set(VD_EINVAL, "target %s needs no approval: get "
		    "reveals it (vaultctl target set %s --approvals N makes "
		    "it need one)", name, name);
		goto fail;
	}
	dur = max < VD_CHECKOUT_FOR_DEFAULT ? max : VD_CHECKOUT_FOR_DEFAULT;
	if (fors != NULL && (vd_parse_duration(fors, &dur) != 0 || dur < 5 ||
	    dur > max)) {
		r = vd_err_set(VD_EINVAL, "for: a duration from 5s up to the "
		    "target's checkout_max (%llds)", (long long)max);
		goto fail;
	}
	if ((r = find_open(t, name, 0, 0, &hid, &held)) != 0)
		goto fail;
	if (hid != 0) {
		vd_txn_abort(t);
		t = NULL;
		held_msg(msg, sizeof(msg), name, hid, held);
		json_decref(held);
		json_decref(target);
		refuse(rq, name, hid, vd_proto_code(VD_EBUSY), msg);
		return;
	}
	if ((r = find_open(t, name, 1, rq->caller->uid, &hid, &held)) != 0)
		goto fail;
	if (hid != 0) {
		r = vd_err_set(VD_EBUSY, "your request %llu for %s is %s "
		    "already", (unsigned long long)hid, name,
		    jstr(held, "state"));
		goto fail;
	}
	if ((r = vd_request_last(t, &id)) != 0)
		goto fail;
	id++;
	ttl = d->cfg->request_ttl > 0 ? d->cfg->request_ttl :
	    VD_REQUEST_TTL_DEFAULT;
	req = json_pack("{s:s, s:I, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:[]}",
	    "target", name, "uid", (json_int_t)rq->caller->uid, "user",
	    rq->caller->user, "reason", reason, "for", (json_int_t)dur,
	    "state", vd_rstate_name(VD_RS_PENDING), "created_at",
	    (json_int_t)now, "expires_at", (json_int_t)(now + ttl), "needed",
	    (json_int_t)needed, "approvals");
	if (req == NULL) {
		r = VD_ENOMEM;
		goto fail;
	}
	if ((r = vd_request_put(t, id, req)) != 0 ||
	    (r = note_move(t, id, req, "request", rq->caller->user,
	    rq->caller->uid, rq->caller->pid, reason)) != 0)
		goto fail;
	r = vd_txn_commit(t);
	t = NULL;
	if (r != 0)
		goto fail;
	deadline_seen(now + ttl);
	vd_log(LOG_NOTICE, "request %llu: %s asks for %s (%lld s)",
	    (unsigned long long)id, rq->caller->user, name, (long long)dur);
	notify_move(d, id, req, "request", rq->caller->user, NULL);
	ans = vd_checkout_view(id, req);
	json_decref(req);
	json_decref(target);
	json_decref(held);
	vd_req_reply(rq, ans);
	return;
 fail:
	vd_txn_abort(t);
	json_decref(req);
	json_decref(target);
	json_decref(held);
	vd_req_fail(rq, r, NULL);
}

/* Lists requests the caller may see (see vd_checkout_m_list). */
struct list_ctx {
	struct vd_req	*rq;
	json_t		*arr;
	int		 all;		/* ended ones too */
	int		 everyone;	/* admin or auditor: every request */
};

static int
list_cb(uint64_t id, json_t *req, void *arg)
{
	struct list_ctx *l = arg;
	const struct vd_caller *c = l->rq->caller;
	enum vd_rstate s = rstate(req);
	const char *tg = jstr(req, "target");

	if (!l->all && s != VD_RS_PENDING && s != VD_RS_APPROVED)
		return 0;
	if (!l->everyone && jint(req, "uid", -1) != (int64_t)c->uid &&
	    (tg == NULL || !vd_config_can_approve(l->rq->d->cfg, c->user,
	    c->groups, c->ngroups, tg)))
		return 0;
	return json_array_append_new(l->arr, vd_checkout_view(id, req)) ==
	    0 ? 0 : VD_ENOMEM;
}

/*
 * requests: the open requests (all: every one) the caller may see: an
 * admin or auditor every request, others their own and those of targets
 * they approve.
 */
void
vd_checkout_m_list(struct vd_req *rq, json_t *params)
{
	const struct vd_caller *c = rq->caller;
	struct list_ctx l = { rq, json_array(), 0, 0 };
	struct vd_txn *t = NULL;
	unsigned roles;
	int r;

	l.all = json_is_true(json_object_get(params, "all"));
	roles = vd_config_roles(rq->d->cfg, c->user, c->groups, c->ngroups);
	l.everyone = (roles & (VD_ROLE_ADMIN | VD_ROLE_AUDITOR)) != 0;
	if (l.arr == NULL) {
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	if ((r = vd_txn_begin(rq->d->st, 0, &t)) == 0) {
		r = vd_request_each(t, list_cb, &l);
		vd_txn_abort(t);
	}
	if (r < 0) {
		json_decref(l.arr);
		vd_req_fail(rq, r, NULL);
		return;
	}
	vd_req_reply(rq, json_pack("{s:o}", "requests", l.arr));
}

/* approve and deny: an approver of the target answers a pending request. */
static void
answer(struct vd_req *rq, json_t *params, enum vd_revent e)
{
	struct vd_daemon *d = rq->d;
	const struct vd_caller *c = rq->caller;
	struct vd_txn *t = NULL;
	json_t *req = NULL, *held = NULL, *appr, *a, *ans;
	const char *comment, *target, *ev = vd_revent_name(e);
	uint64_t id, hid;
	size_t i;
	int64_t now = vd_now();
	char msg[400];
	int r, next, started = 0;

	if ((id = id_param(rq, params)) == 0 ||
	    text_param(rq, params, "comment", e == VD_RE_DENY, &comment) != 0)
		return;
	if ((r = vd_txn_begin(d->st, 1, &t)) != 0)
		goto fail;
	if ((r = vd_request_get(t, id, &req)) != 0) {
		if (r == VD_ENOTFOUND)
			vd_err_set(r, "no such request");
		goto fail;
	}
	target = jstr(req, "target");
	if (target == NULL || !vd_config_can_approve(d->cfg, c->user,
	    c->groups, c->ngroups, target)) {
		vd_txn_abort(t);
		refuse(rq, target, id, VD_RPC_PERM, "permission denied: the "
		    "caller is not an approver of this target");
		json_decref(req);
		return;
	}
	if (rstate(req) != VD_RS_PENDING || jint(req, "expires_at", 0) <=
	    now) {
		r = vd_err_set(VD_EINVAL, "request %llu is %s, not pending",
		    (unsigned long long)id, rstate(req) == VD_RS_PENDING ?
		    "expired" : jstr(req, "state"));
		goto fail;
	}
	if (e == VD_RE_APPROVE && jint(req, "uid", -1) == (int64_t)c->uid) {
		vd_txn_abort(t);
		refuse(rq, target, id, VD_RPC_PERM, "permission denied: a "
		    "requester cannot approve their own request");
		json_decref(req);
		return;
	}
	appr = json_object_get(req, "approvals");
	if (!json_is_array(appr)) {
		r = vd_err_set(VD_ECORRUPT, "request %llu has no approvals "
		    "list", (unsigned long long)id);
		goto fail;
	}
	json_array_foreach(appr, i, a)
		if (e == VD_RE_APPROVE && jint(a, "uid", -1) ==
		    (int64_t)c->uid) {
			r = vd_err_set(VD_EEXIST, "you approved request %llu "
			    "already; it needs another approver",
			    (unsigned long long)id);
			goto fail;
		}
	if (e == VD_RE_APPROVE) {
		a = json_pack("{s:s, s:I, s:I}", "user", c->user, "uid",
		    (json_int_t)c->uid, "at", (json_int_t)now);
		if (a == NULL) {
			r = VD_ENOMEM;
			goto fail;
		}
		if (comment != NULL)
			json_object_set_new(a, "comment", json_string(comment));
		json_array_append_new(appr, a);
	}
	next = vd_rstate_next(VD_RS_PENDING, e, (int64_t)json_array_size(
	    appr) >= jint(req, "needed", 1));
	if (next == VD_RS_APPROVED) {
		/* Exclusive: a second checkout of the target waits. */
		if ((r = find_open(t, target, 0, 0, &hid, &held)) != 0)
			goto fail;
		if (hid != 0) {
			held_msg(msg, sizeof(msg), target, hid, held);
			r = vd_err_set(VD_EBUSY, "%s", msg);
			goto fail;
		}
		json_object_set_new(req, "until", json_integer(now +
		    jint(req, "for", VD_CHECKOUT_FOR_DEFAULT)));
		started = 1;
	}
	if (e == VD_RE_DENY) {
		json_object_set_new(req, "ended_at", json_integer(now));
		json_object_set_new(req, "ended_by", json_string(c->user));
		json_object_set_new(req, "comment", json_string(comment));
	}
	json_object_set_new(req, "state", json_string(vd_rstate_name(
	    (enum vd_rstate)next)));
	if ((r = vd_request_put(t, id, req)) != 0 ||
	    (r = note_move(t, id, req, ev, c->user, c->uid, c->pid,
	    comment)) != 0)
		goto fail;
	if (started) {
		json_t *sf = json_pack("{s:{s:I, s:I, s:s, s:I}}", "checkout",
		    "id", (json_int_t)id, "uid", (json_int_t)jint(req, "uid",
		    -1), "user", jstr(req, "user"), "until", (json_int_t)jint(
		    req, "until", 0));

		if (sf == NULL) {
			r = VD_ENOMEM;
			goto fail;
		}
		r = vd_sched_update(t, target, sf);
		json_decref(sf);
		if (r != 0 || (r = note_move(t, id, req, "checkout",
		    jstr(req, "user"), jint(req, "uid", -1), 0, NULL)) != 0)
			goto fail;
	}
	r = vd_txn_commit(t);
	t = NULL;
	if (r != 0)
		goto fail;
	vd_log(LOG_NOTICE, "request %llu (%s): %s by %s%s",
	    (unsigned long long)id, target, ev, c->user, started ?
	    "; checked out" : "");
	notify_move(d, id, req, ev, c->user, comment);
	if (started) {
		deadline_seen(jint(req, "until", 0));
		vd_rotate_notify(d, target);	/* scheduled rotations wait */
		notify_move(d, id, req, "checkout", jstr(req, "user"), NULL);
	}
	ans = vd_checkout_view(id, req);
	json_decref(req);
	vd_req_reply(rq, ans);
	return;
 fail:
	vd_txn_abort(t);
	json_decref(req);
	json_decref(held);
	vd_req_fail(rq, r, NULL);
}

void
vd_checkout_m_approve(struct vd_req *rq, json_t *params)
{
	answer(rq, params, VD_RE_APPROVE);
}

void
vd_checkout_m_deny(struct vd_req *rq, json_t *params)
{
	answer(rq, params, VD_RE_DENY);
}

/* A check-in or revoke waiting for its rotation's end. */
struct endwait {
	struct vd_req	*rq;
	json_t		*ans;		/* the request's view */
};

static void
end_done(void *arg, int err, json_t *result)
{
	struct endwait *w = arg;
	char buf[600];

	if (err != 0)
		json_object_set_new(w->ans, "rotation", json_pack("{s:s}",
		    "error", vd_err_format(err, buf, sizeof(buf))));
	else if (result != NULL)
		json_object_set(w->ans, "rotation", result);
	vd_req_reply(w->rq, w->ans);
	free(w);
}

/*
 * checkin (the holder) and revoke (an admin: params name, the target's
 * checkout, or id, any open request): ends it; an end of a checkout
 * rotates at once and answers after the rotation.
 */
static void
end_method(struct vd_req *rq, json_t *params, enum vd_revent e)
{
	struct vd_daemon *d = rq->d;
	const struct vd_caller *c = rq->caller;
	struct vd_txn *t = NULL;
	json_t *req = NULL;
	const char *name = NULL, *trigger = NULL, *comment = NULL;
	char target[VD_NAME_MAX + 1];
	struct endwait *w;
	uint64_t id = 0;
	int r;

	if (e == VD_RE_REVOKE && json_object_get(params, "id") != NULL) {
		if ((id = id_param(rq, params)) == 0)
			return;
	} else if ((name = name_param(rq, params)) == NULL)
		return;
	if (text_param(rq, params, "comment", 0, &comment) != 0)
		return;
	if ((r = vd_txn_begin(d->st, 1, &t)) != 0)
		goto fail;
	if (id != 0)
		r = vd_request_get(t, id, &req);
	else
		r = find_open(t, name, 0, 0, &id, &req);
	if (r != 0)
		goto fail;
	if (req == NULL || (e == VD_RE_CHECKIN && jint(req, "uid", -1) !=
	    (int64_t)c->uid)) {
		vd_txn_abort(t);
		t = NULL;
		if (e == VD_RE_CHECKIN && req != NULL) {
			refuse(rq, name, id, VD_RPC_PERM, "permission denied: "
			    "the checkout is another user's");
			json_decref(req);
			return;
		}
		r = vd_err_set(VD_ENOTFOUND, "%s is not checked out%s",
		    name ? name : "target", e == VD_RE_CHECKIN ? " to you" :
		    "");
		goto fail;
	}
	snprintf(target, sizeof(target), "%s", jstr(req, "target") ?
	    jstr(req, "target") : "");
	if ((r = end_in(t, id, req, e, c->user, c->uid, c->pid, comment,
	    &trigger)) != 0)
		goto fail;
	r = vd_txn_commit(t);
	t = NULL;
	if (r != 0)
		goto fail;
	vd_log(LOG_NOTICE, "request %llu (%s): %s by %s",
	    (unsigned long long)id, target, vd_revent_name(e), c->user);
	notify_move(d, id, req, vd_revent_name(e), c->user, comment);
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->ans = vd_checkout_view(id, req)) == NULL) {
		free(w);
		json_decref(req);
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	json_decref(req);
	w->rq = rq;
	if (trigger == NULL) {
		end_done(w, 0, NULL);
		return;
	}
	end_rotate(d, target, trigger, end_done, w);
	return;
 fail:
	vd_txn_abort(t);
	json_decref(req);
	vd_req_fail(rq, r, NULL);
}

void
vd_checkout_m_checkin(struct vd_req *rq, json_t *params)
{
	end_method(rq, params, VD_RE_CHECKIN);
}

void
vd_checkout_m_revoke(struct vd_req *rq, json_t *params)
{
	end_method(rq, params, VD_RE_REVOKE);
}

/* --- reveal and time ---------------------------------------------------- */

int
vd_checkout_may_reveal(struct vd_txn *t, const struct vd_req *rq,
    const char *target, uint64_t *req_id, char *why, size_t len)
{
	json_t *tg = NULL, *req = NULL;
	int64_t needed, max;
	uint64_t id;
	int r;

	*req_id = 0;
	if ((r = vd_target_get(t, target, &tg)) != 0)
		return r == VD_ENOTFOUND ? 1 : r;	/* get says "no such" */
	target_terms(tg, &needed, &max);
	json_decref(tg);
	if (needed < 1)
		return 1;
	if ((r = find_open(t, target, 0, 0, &id, &req)) != 0)
		return r;
	if (id == 0) {
		snprintf(why, len, "%s needs an approved request: vaultctl "
		    "request %s --reason TEXT", target, target);
		return 0;
	}
	if (jint(req, "uid", -1) != (int64_t)rq->caller->uid) {
		held_msg(why, len, target, id, req);
		json_decref(req);
		return 0;
	}
	json_decref(req);
	*req_id = id;
	return 1;
}

/* Collects the requests whose time ran out, and the next deadline. */
struct due {
	int64_t		 now;
	int64_t		 next;		/* earliest deadline after now */
	uint64_t	 ids[64];	/* due now (bounded per tick) */
	size_t		 n;
};

static int
due_cb(uint64_t id, json_t *req, void *arg)
{
	struct due *du = arg;
	enum vd_rstate s = rstate(req);
	int64_t when;

	if (s == VD_RS_PENDING)
		when = jint(req, "expires_at", 0);
	else if (s == VD_RS_APPROVED)
		when = jint(req, "until", 0);
	else
		return 0;
	if (when <= du->now) {
		if (du->n < VD_NELEM(du->ids))
			du->ids[du->n++] = id;
		else
			du->next = du->now;	/* the rest at the next tick */
	} else if (du->next == 0 || when < du->next)
		du->next = when;
	return 0;
}

/* Ends request id by its timeout (its own transaction). */
static void
expire_one(struct vd_daemon *d, uint64_t id)
{
	struct vd_txn *t = NULL;
	json_t *req = NULL;
	const char *trigger = NULL;
	char target[VD_NAME_MAX + 1];
	int r;

	if ((r = vd_txn_begin(d->st, 1, &t)) != 0 ||
	    (r = vd_request_get(t, id, &req)) != 0 ||
	    (r = end_in(t, id, req, VD_RE_TIMEOUT, "vaultd", -1, 0, NULL,
	    &trigger)) != 0) {
		vd_txn_abort(t);
		vd_log(LOG_ERR, "request %llu: its expiry could not be "
		    "recorded: %s", (unsigned long long)id, vd_strerror(r));
		json_decref(req);
		return;
	}
	if ((r = vd_txn_commit(t)) != 0) {
		vd_log(LOG_ERR, "request %llu: its expiry could not be "
		    "recorded: %s", (unsigned long long)id, vd_strerror(r));
		json_decref(req);
		return;
	}
	snprintf(target, sizeof(target), "%s", jstr(req, "target"));
	vd_log(LOG_NOTICE, "request %llu (%s): expired%s",
	    (unsigned long long)id, target, trigger ? "; rotating" : "");
	notify_move(d, id, req, vd_revent_name(VD_RE_TIMEOUT), "vaultd", NULL);
	json_decref(req);
	if (trigger != NULL)
		end_rotate(d, target, trigger, NULL, NULL);
}

void
vd_checkout_tick(struct vd_daemon *d)
{
	static int64_t last_scan;
	struct due du;
	struct vd_txn *t = NULL;
	int64_t now = vd_now();

	/*
	 * Bounded: a scan only when a known deadline came, or every
	 * DEADLINE_RECHECK seconds (a clock that jumped; requests written
	 * by an older vaultd); at most VD_NELEM(du.ids) ends per tick.
	 */
	if (next_deadline != 0 && next_deadline > now &&
	    now - last_scan < DEADLINE_RECHECK && now >= last_scan)
		return;
	last_scan = now;
	memset(&du, 0, sizeof(du));
	du.now = now;
	if (vd_txn_begin(d->st, 0, &t) != 0)
		return;
	if (vd_request_each(t, due_cb, &du) < 0) {
		vd_txn_abort(t);
		return;
	}
	vd_txn_abort(t);
	next_deadline = du.next != 0 ? du.next : now + DEADLINE_RECHECK;
	for (size_t i = 0; i < du.n; i++)
		expire_one(d, du.ids[i]);
}
