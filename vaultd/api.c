/*
 * api.c - the JSON-RPC methods of vaultd.
 *
 * Every request goes through methods[] (OpenSSH monitor.c style): the role
 * check is made once, in vd_api_dispatch(), never inside a handler (the
 * per-target reveal check excepted, which needs the target's name).
 *
 * Store writes happen on the loop thread only; blocking work (MariaDB
 * logins, Argon2id) runs on libuv's thread pool and comes back through an
 * after-work callback that does the writing.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "api.h"
#include "apply.h"
#include "bundle_index.h"
#include "checkout.h"
#include "checkout_rec.h"
#include "err.h"
#include "escrow.h"
#include "escrowd.h"
#include "log.h"
#include "mem.h"
#include "notify.h"
#include "proto.h"
#include "refusals.h"
#include "rotate.h"
#include "state.h"
#include "store.h"
#include "timing.h"
#include "util.h"
#include "versions.h"

#define LIMIT_DEFAULT	20	/* history / audit entries by default */
#define LIMIT_MAX	10000	/* most entries one answer carries */

typedef void (*handler_fn)(struct vd_req *, json_t *);

/* One method: who may call it and what handles it. */
struct method {
	const char	*name;		/* JSON-RPC method */
	unsigned	 roles;		/* any of these (admin: always) */
	int		 unsealed;	/* needs an unlocked vault */
	handler_fn	 fn;		/* answers the request */
};

/* --- helpers ------------------------------------------------------------ */

static int
sealed(struct vd_daemon *d)
{
	return d->unsealing || !vd_store_unlocked(d->st);
}

/* Returns params[key] as a string, NULL when absent; -1 in *bad if wrong. */
static const char *
pstr(json_t *params, const char *key, int *bad)
{
	json_t *v = json_object_get(params, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

/* Reads an optional integer param in [min, max]; returns 0 or VD_EINVAL. */
static int
pint(json_t *params, const char *key, long long min, long long max,
    long long *out)
{
	json_t *v = json_object_get(params, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		return vd_err_set(VD_EINVAL, "%s: expected an integer in "
		    "%lld..%lld", key, min, max);
	*out = json_integer_value(v);
	return 0;
}

/* Returns the valid target name in params.name, or NULL after failing rq. */
static const char *
target_param(struct vd_req *rq, json_t *params)
{
	int bad = 0;
	const char *name = pstr(params, "name", &bad);

	if (name == NULL || bad || !vd_name_valid(name)) {
		vd_req_fail_code(rq, VD_RPC_PARAMS,
		    "name: a target name is required ([A-Za-z0-9._-], "
		    "at most 64)");
		return NULL;
	}
	return name;
}

static json_t *
now_str(void)
{
	char buf[VD_TIME_STRLEN];

	return json_string(vd_time_rfc3339(vd_now(), buf, sizeof(buf)));
}

/*
 * Builds an audit entry for rq: event (the method), caller uid and user,
 * result, and target / version / reason when given.  Never a secret.
 */
static json_t *
audit_entry(const struct vd_req *rq, const char *target, uint64_t version,
    const char *result, const char *reason)
{
	char method[65];
	json_t *e;

	/* The method name comes from the client: bound what it can write. */
	snprintf(method, sizeof(method), "%s", rq->method != NULL ?
	    rq->method : "");
	e = json_pack("{s:s, s:I, s:s, s:I, s:s}", "event", method,
	    "uid", (json_int_t)rq->caller->uid, "user", rq->caller->user,
	    "pid", (json_int_t)rq->caller->pid, "result", result);
	if (e == NULL)
		return NULL;
	if (target != NULL)
		json_object_set_new(e, "target", json_string(target));
	if (version != 0)
		json_object_set_new(e, "version", json_integer(
		    (json_int_t)version));
	if (reason != NULL)
		json_object_set_new(e, "reason", json_string(reason));
	return e;
}

/* Appends an audit entry inside t. */
static int
audit_in(struct vd_txn *t, const struct vd_req *rq, const char *target,
    uint64_t version, const char *result, const char *reason)
{
	json_t *e;
	int r;

	if ((e = audit_entry(rq, target, version, result, reason)) == NULL)
		return VD_ENOMEM;
	r = vd_audit_append(t, e, NULL);
	json_decref(e);
	return r;
}

/* Appends an audit entry in its own transaction. */
static int
audit_now(struct vd_daemon *d, const struct vd_req *rq, const char *target,
    uint64_t version, const char *result, const char *reason)
{
	struct vd_txn *t = NULL;
	int r;

	if (sealed(d))
		return VD_ESEALED;
	if ((r = vd_txn_begin(d->st, 1, &t)) != 0)
		return r;
	if ((r = audit_in(t, rq, target, version, result, reason)) != 0) {
		vd_txn_abort(t);
		return r;
	}
	return vd_txn_commit(t);
}

/* Appends a daemon event to the audit log. */
int
vd_api_audit_event(struct vd_daemon *d, const char *event,
    const char *result, const char *reason)
{
	struct vd_txn *t = NULL;
	json_t *e;
	int r;

	if (sealed(d))
		return VD_ESEALED;
	e = json_pack("{s:s, s:I, s:s, s:s}", "event", event, "uid",
	    (json_int_t)getuid(), "user", "vaultd", "result", result);
	if (e == NULL)
		return VD_ENOMEM;
	if (reason != NULL)
		json_object_set_new(e, "reason", json_string(reason));
	if ((r = vd_txn_begin(d->st, 1, &t)) == 0) {
		if ((r = vd_audit_append(t, e, NULL)) != 0)
			vd_txn_abort(t);
		else
			r = vd_txn_commit(t);
	}
	json_decref(e);
	return r;
}

static void
log_err_r(const char *what, int r)
{
	char buf[600];

	vd_log(LOG_ERR, "%s: %s", what, vd_err_format(r, buf, sizeof(buf)));
}

/*
 * Refuses rq: audit entry (when possible), log line, and the error answer
 * code with msg (NULL: the reason itself).  reason never holds a secret.
 */
static void
refuse_code(struct vd_req *rq, const char *target, const char *reason,
    int code, const char *msg)
{
	int r;

	r = audit_now(rq->d, rq, target, 0, "refused", reason);
	vd_log(LOG_NOTICE, "refused %s%s%s for uid %lu (%s): %s%s",
	    rq->method, target ? " " : "", target ? target : "",
	    (unsigned long)rq->caller->uid, rq->caller->user, reason,
	    r != 0 ? " (not audited: vault sealed or audit failed)" : "");
	vd_req_fail_code(rq, code, msg != NULL ? msg : reason);
}

/* Refuses rq for lack of a role (the reason goes to the audit log only). */
static void
refuse(struct vd_req *rq, const char *target, const char *reason)
{
	refuse_code(rq, target, reason, VD_RPC_PERM, "permission denied");
}

/* Finds the version in state "current" (newest first). */
static int
current_version(struct vd_txn *t, const char *name, uint64_t *v)
{
	int r;

	*v = 0;
	if ((r = vd_versions_find(t, name, v, NULL)) != 0)
		return r;
	return *v != 0 ? 0 : vd_err_set(VD_ENOTFOUND,
	    "target %s has no current version", name);
}

/* --- status ------------------------------------------------------------- */

struct status_ctx {
	struct vd_txn	*t;		/* read transaction */
	struct vd_daemon *d;		/* the daemon (engine state) */
	json_t		*arr;		/* targets */
	int		 counters;	/* params.counters: walk histories */
	json_t		*reveals;	/* {target: reveals} from the audit */
	json_int_t	 nreveals;	/* every reveal, removed targets too */
	json_t		*by_state;	/* {state: number of targets} */
	size_t		 total;		/* targets seen */
	size_t		 listed;	/* targets put in arr */
	size_t		 max;		/* list at most this many "ok" ones */
	json_t		*hist;		/* {target: [rotations, failures,
					 * drift, last_ok]}, counted off
					 * the loop (counters_work()) */
};

/* hist_each()'s filter: stops at the first entry before since. */
struct hist_since {
	uint64_t	 since;		/* first seq of this incarnation */
	int		(*cb)(uint64_t, json_t *, void *);
	void		*arg;
};

static int
hist_since_cb(uint64_t seq, json_t *entry, void *arg)
{
	struct hist_since *hs = arg;

	if (seq < hs->since)
		return 1;	/* an older incarnation's: so are the rest */
	return hs->cb(seq, entry, hs->arg);
}

/*
 * vd_history_each() over the entries of target name's incarnation: a
 * target added again after a removal starts its history after the old one
 * (its record's "history_since", set by add_commit(); issue 14 item 8).
 * obj is name's target record, NULL for a removed target (all its history).
 * Returns as vd_history_each(); 1 also when the walk reached the start.
 */
static int
hist_each(struct vd_txn *t, const char *name, const json_t *obj,
    uint64_t before, size_t limit, int (*cb)(uint64_t, json_t *, void *),
    void *arg)
{
	json_t *v = obj ? json_object_get(obj, "history_since") : NULL;
	struct hist_since hs = { 0, cb, arg };

	if (!json_is_integer(v) || json_integer_value(v) <= 1)
		return vd_history_each(t, name, before, limit, cb, arg);
	hs.since = (uint64_t)json_integer_value(v);
	return vd_history_each(t, name, before, limit, hist_since_cb, &hs);
}

/* Sets *seq to the newest history entry's number of name (0: none). */
static int
hist_newest_cb(uint64_t seq, json_t *entry, void *arg)
{
	(void)entry;
	*(uint64_t *)arg = seq;
	return 1;
}

static int
hist_first_cb(uint64_t seq, json_t *entry, void *arg)
{
	const char *trig = json_string_value(json_object_get(entry,
	    "trigger"));

	/* Checkout notes (issue 17) sit beside rotations: not one. */
	if (trig != NULL && strcmp(trig, "checkout") == 0)
		return 0;
	*(json_t **)arg = json_incref(entry);
	return 1;
}

/* Parses "YYYY-MM-DDTHH:MM:SSZ" (vd_time_rfc3339()); -1 when it is not. */
static int64_t
rfc3339_secs(const json_t *v)
{
	const char *s = json_string_value(v);
	struct tm tm;
	char z;

	if (s == NULL || strlen(s) != 20)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 ||
	    z != 'Z')
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* What a target's whole history adds up to (status with counters). */
struct hist_count {
	json_int_t	 rotations;	/* result ok, not the initial version */
	json_int_t	 failures;	/* failed, partial, unreachable … */
	json_int_t	 drift;		/* result drift (rotation or check) */
	int64_t		 last_ok;	/* newest ok entry's finished_at */
};

static int
hist_count_cb(uint64_t seq, json_t *entry, void *arg)
{
	struct hist_count *hc = arg;
	const char *res = json_string_value(json_object_get(entry, "result"));
	const char *trig = json_string_value(json_object_get(entry,
	    "trigger"));
	int64_t fin;

	if (res == NULL || strcmp(res, "running") == 0)
		return 0;
	if (strcmp(res, "ok") == 0) {
		/* Versions vaultd did not make are not rotations. */
		if (trig == NULL || (strcmp(trig, "initial") != 0 &&
		    strcmp(trig, "import") != 0))
			hc->rotations++;
		fin = rfc3339_secs(json_object_get(entry, "finished_at"));
		if (fin > hc->last_ok)
			hc->last_ok = fin;
	} else if (strcmp(res, "drift") == 0)
		hc->drift++;
	else
		hc->failures++;
	return 0;
}

/* Counts successful reveals (audit event "get", result "ok") by target. */
static int
reveal_cb(uint64_t seq, json_t *entry, void *arg)
{
	struct status_ctx *sc = arg;
	const char *ev = json_string_value(json_object_get(entry, "event"));
	const char *res = json_string_value(json_object_get(entry, "result"));
	const char *tg = json_string_value(json_object_get(entry, "target"));
	json_t *n;

	if (ev == NULL || res == NULL || tg == NULL || strcmp(ev, "get") != 0 ||
	    strcmp(res, "ok") != 0)
		return 0;
	sc->nreveals++;
	n = json_object_get(sc->reveals, tg);
	return json_object_set_new(sc->reveals, tg, json_integer(n ?
	    json_integer_value(n) + 1 : 1)) == 0 ? 0 : VD_ENOMEM;
}

/* Sets key to the integer v, or null when v is negative. */
static void
set_secs(json_t *o, const char *key, int64_t v)
{
	json_object_set_new(o, key, v >= 0 ? json_integer((json_int_t)v) :
	    json_null());
}

static int
status_target_cb(const char *name, json_t *obj, void *arg)
{
	struct status_ctx *sc = arg;
	json_t *o, *last = NULL, *sched = NULL, *v;
	const char *st;
	struct hist_count hc = { 0, 0, 0, -1 };
	int64_t last_ok = -1;
	uint64_t cur = 0;
	int r;

	o = json_pack("{s:s}", "name", name);
	if (o == NULL)
		return VD_ENOMEM;
	if ((r = current_version(sc->t, name, &cur)) != 0 &&
	    r != VD_ENOTFOUND) {
		json_decref(o);
		return r;
	}
	json_object_set_new(o, "current_version", cur ? json_integer(
	    (json_int_t)cur) : json_null());
	/* Limit 0: hist_first_cb skips checkout entries to the newest
	 * rotation. */
	if ((r = hist_each(sc->t, name, obj, 0, 0, hist_first_cb, &last)) < 0) {
		json_decref(o);
		return r;
	}
	if ((r = vd_sched_get(sc->t, name, &sched)) != 0 &&
	    r != VD_ENOTFOUND) {
		json_decref(last);
		json_decref(o);
		return r;
	}
	v = json_object_get(sched, "state");
	json_object_set_new(o, "state", json_is_string(v) ? json_copy(v) :
	    json_string(cur ? vd_tstate_name(VD_TS_OK) : "no-password"));
	v = json_object_get(last, "finished_at");
	json_object_set_new(o, "last_rotation", v ? json_copy(v) : json_null());
	set_secs(o, "last_rotation_unix", rfc3339_secs(v));
	v = json_object_get(sched, "next_due");
	if (json_is_integer(v)) {
		char buf[VD_TIME_STRLEN];

		json_object_set_new(o, "next_due", json_string(
		    vd_time_rfc3339(json_integer_value(v), buf, sizeof(buf))));
		set_secs(o, "next_due_unix", json_integer_value(v));
	} else {
		json_object_set_new(o, "next_due", v ? json_copy(v) :
		    json_null());
		set_secs(o, "next_due_unix", rfc3339_secs(v));
	}
	/* Who holds the target's checkout, null when nobody (issue 17). */
	v = vd_checkout_status(sched);
	json_object_set_new(o, "checkout", v != NULL ? v : json_null());
	v = json_object_get(sched, "retries");
	json_object_set_new(o, "retries", json_integer(json_is_integer(v) ?
	    json_integer_value(v) : 0));
	v = json_object_get(sched, "last_ok");
	if (json_is_integer(v))
		last_ok = json_integer_value(v);
	/*
	 * A current version the engine's schedule does not count yet (the
	 * initial one of target.add, before any rotation): its creation is
	 * the last successful change (docs/api.md).
	 */
	if (last_ok < 0 && cur != 0) {
		json_t *meta = NULL;

		if (vd_version_get(sc->t, name, cur, &meta) == 0)
			last_ok = rfc3339_secs(json_object_get(meta,
			    "created_at"));
		json_decref(meta);
	}
	v = json_object_get(last, "error");
	json_object_set_new(o, "last_error", v ? json_copy(v) : json_null());
	v = json_object_get(obj, "policy");
	json_object_set_new(o, "policy", v ? json_copy(v) : json_null());
	v = json_object_get(obj, "tls");
	if (json_is_string(v) && strcmp(json_string_value(v), "disabled") ==
	    0 && json_is_string(json_object_get(obj, "host")) &&
	    !vd_host_is_loopback(json_string_value(json_object_get(obj,
	    "host"))))
		json_object_set_new(o, "warning", json_string("TLS disabled: "
		    "the password crosses the network in plaintext"));
	json_object_set_new(o, "busy", json_boolean(vd_rotate_busy(sc->d,
	    name)));
	{
		/*
		 * An outcome the engine could not write (disk full): what
		 * the store says is stale, so the state shown is
		 * "unrecorded" (critical) until the record succeeds.
		 */
		int uerr = 0;
		uint64_t uv = vd_rotate_in_force(sc->d, name, &uerr);

		if (uerr != 0) {
			char msg[300];

			snprintf(msg, sizeof(msg), "the outcome of a rotation "
			    "cannot be recorded: %s%s", vd_strerror(uerr),
			    uv ? "; the server holds the pending version, "
			    "which get serves" : "");
			json_object_set_new(o, "state",
			    json_string("unrecorded"));
			json_object_set_new(o, "last_error", json_string(msg));
		}
	}
	json_decref(last);
	json_decref(sched);
	if (sc->counters) {
		/* The whole history, counted on the thread pool. */
		json_t *h = json_object_get(sc->hist, name);

		if (json_is_array(h) && json_array_size(h) == 4) {
			hc.rotations = json_integer_value(json_array_get(h, 0));
			hc.failures = json_integer_value(json_array_get(h, 1));
			hc.drift = json_integer_value(json_array_get(h, 2));
			hc.last_ok = json_integer_value(json_array_get(h, 3));
		}
		if (hc.last_ok > last_ok)
			last_ok = hc.last_ok;
		v = json_object_get(sc->reveals, name);
		json_object_set_new(o, "counters", json_pack("{s:I, s:I, s:I, "
		    "s:I}", "rotations", hc.rotations, "failures",
		    hc.failures, "drift", hc.drift, "reveals", v ?
		    json_integer_value(v) : (json_int_t)0));
	}
	set_secs(o, "last_ok_unix", last_ok);
	/*
	 * Every target counts; the list is bounded so that the answer fits
	 * the message limit with 100,000 targets: healthy ones up to max,
	 * the ones that need attention up to twice that.
	 */
	st = json_string_value(json_object_get(o, "state"));
	st = st != NULL ? st : "unknown";
	sc->total++;
	json_object_set_new(sc->by_state, st, json_integer(
	    json_integer_value(json_object_get(sc->by_state, st)) + 1));
	if (sc->listed >= 2 * sc->max || (sc->listed >= sc->max &&
	    strcmp(st, "ok") == 0)) {
		json_decref(o);
		return 0;
	}
	sc->listed++;
	return json_array_append_new(sc->arr, o) == 0 ? 0 : VD_ENOMEM;
}

/*
 * status with counters: the whole audit log (reveals) and every target's
 * whole history are read on the thread pool, in a read transaction of
 * their own, never on the loop (issue 14 item 6); the answer is then
 * built on the loop from what they counted.
 */
struct countjob {
	uv_work_t		 work;
	struct vd_req		*rq;
	struct status_ctx	 sc;	/* reveals, nreveals, hist filled */
	int			 r;
};

static int
count_target_cb(const char *name, json_t *obj, void *arg)
{
	struct status_ctx *sc = arg;
	struct hist_count hc = { 0, 0, 0, -1 };
	int r;

	if ((r = hist_each(sc->t, name, obj, 0, 0, hist_count_cb, &hc)) < 0)
		return r;
	return json_object_set_new(sc->hist, name, json_pack("[I,I,I,I]",
	    hc.rotations, hc.failures, hc.drift, (json_int_t)hc.last_ok)) == 0 ?
	    0 : VD_ENOMEM;
}

static void
counters_work(uv_work_t *w)
{
	struct countjob *j = w->data;
	struct status_ctx *sc = &j->sc;
	int r;

	if ((r = vd_txn_begin(sc->d->st, 0, &sc->t)) == 0) {
		if ((r = vd_audit_each(sc->t, 0, reveal_cb, sc)) >= 0)
			r = vd_target_each(sc->t, count_target_cb, sc);
		vd_txn_abort(sc->t);
		sc->t = NULL;
	}
	j->r = r < 0 ? r : 0;
}

static void status_answer(struct vd_req *rq, struct status_ctx *sc);

static void
counters_after(uv_work_t *w, int status)
{
	struct countjob *j = w->data;

	j->rq->d->inflight--;
	if (status != 0 || j->r != 0)
		vd_req_fail(j->rq, status != 0 ? VD_EBUSY : j->r, NULL);
	else
		status_answer(j->rq, &j->sc);	/* borrows reveals, hist */
	json_decref(j->sc.reveals);
	json_decref(j->sc.hist);
	free(j);
}

static void
m_status(struct vd_req *rq, json_t *params)
{
	struct status_ctx sc = { NULL, rq->d, NULL, 0, NULL, 0, NULL, 0, 0,
	    10000, NULL };
	json_t *c = json_object_get(params, "counters");
	long long max = 10000;
	struct countjob *j;
	int r;

	if (pint(params, "max_targets", 1, 1000000, &max) != 0) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, vd_err_detail());
		return;
	}
	sc.max = (size_t)max;

	if (c != NULL && !json_is_boolean(c)) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "counters: expected a "
		    "boolean");
		return;
	}
	sc.counters = json_is_true(c);
	if (!sc.counters || sealed(rq->d)) {
		sc.counters = 0;
		status_answer(rq, &sc);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	j->rq = rq;
	j->sc = sc;
	j->work.data = j;
	if ((j->sc.reveals = json_object()) == NULL ||
	    (j->sc.hist = json_object()) == NULL) {
		r = VD_ENOMEM;
		goto fail;
	}
	if ((r = uv_queue_work(rq->d->loop, &j->work, counters_work,
	    counters_after)) != 0) {
		r = VD_ENOMEM;
		goto fail;
	}
	rq->d->inflight++;
	return;
 fail:
	json_decref(j->sc.reveals);
	json_decref(j->sc.hist);
	free(j);
	vd_req_fail(rq, r, NULL);
}

/* Answers status from sc (counters already counted when sc->counters). */
static void
status_answer(struct vd_req *rq, struct status_ctx *sc0)
{
	struct vd_daemon *d = rq->d;
	struct status_ctx sc = *sc0;
	json_t *res;
	int r;

	res = json_pack("{s:b, s:s, s:I, s:I, s:I, s:b, s:I}",
	    "sealed", sealed(d), "version", VD_VERSION,
	    "uptime", (json_int_t)(vd_now() - d->started),
	    "connections", (json_int_t)d->nconns,
	    "served", (json_int_t)d->served,
	    "stopping", d->stopping, "time", (json_int_t)vd_now());
	if (res == NULL) {
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	json_object_set_new(res, "vault_id", json_string(vd_store_id(d->st)));
	json_object_set_new(res, "rotations_running", json_integer(
	    vd_rotate_running(d)));
	json_object_set_new(res, "rotations_prepared", json_integer(
	    vd_rotate_prepared(d)));
	if (sealed(d)) {
		json_object_set_new(res, "targets", json_array());
		vd_req_reply(rq, res);
		return;
	}
	sc.arr = json_array();
	if (sc.reveals == NULL)
		sc.reveals = json_object();
	else
		json_incref(sc.reveals);
	sc.by_state = json_object();
	if (sc.arr == NULL || sc.reveals == NULL || sc.by_state == NULL) {
		r = VD_ENOMEM;
		goto fail;
	}
	if ((r = vd_txn_begin(d->st, 0, &sc.t)) != 0 ||
	    (r = vd_target_each(sc.t, status_target_cb, &sc)) < 0)
		goto fail;
	vd_txn_abort(sc.t);
	json_object_set_new(res, "targets", sc.arr);
	json_object_set_new(res, "targets_total", json_integer(
	    (json_int_t)sc.total));
	json_object_set_new(res, "targets_by_state", sc.by_state);
	sc.by_state = NULL;
	if (sc.counters)
		json_object_set_new(res, "reveals_total", json_integer(
		    sc.nreveals));
	json_decref(sc.reveals);
	vd_req_reply(rq, res);
	return;
 fail:
	vd_txn_abort(sc.t);
	json_decref(sc.arr);
	json_decref(sc.reveals);
	json_decref(sc.by_state);
	json_decref(res);
	vd_req_fail(rq, r, NULL);
}

/* --- duplicate registration --------------------------------------------- */

/* A search for another target naming the same account rows. */
struct dupscan {
	const char	*name;		/* the target being added or edited */
	const json_t	*rec;		/* its record */
	char		 other[VD_NAME_MAX + 1];	/* the first match */
	char		 rows[300];	/* the rows they share */
};

/*
 * 1 when the two records reach the same server: the same server_id
 * (@@hostname:@@port:@@datadir, learned by the login of target add and
 * target set, vd_apply_server_id()), or the same socket or host and port.
 */
static int
same_server(const json_t *a, const json_t *b)
{
	const char *sa = json_string_value(json_object_get(a, "unix_socket"));
	const char *sb = json_string_value(json_object_get(b, "unix_socket"));
	const char *ha = json_string_value(json_object_get(a, "host"));
	const char *hb = json_string_value(json_object_get(b, "host"));
	const char *ia = json_string_value(json_object_get(a, "server_id"));
	const char *ib = json_string_value(json_object_get(b, "server_id"));

	/* Learned at add/set: a socket and 127.0.0.1:3306 to one server. */
	if (ia != NULL && ib != NULL && strcmp(ia, ib) == 0)
		return 1;
	if (sa != NULL || sb != NULL)
		return sa != NULL && sb != NULL && strcmp(sa, sb) == 0;
	return ha != NULL && hb != NULL && strcasecmp(ha, hb) == 0 &&
	    json_integer_value(json_object_get(a, "port")) ==
	    json_integer_value(json_object_get(b, "port"));
}

static int
dup_cb(const char *name, json_t *obj, void *arg)
{
	struct dupscan *ds = arg;
	const json_t *ha = json_object_get(ds->rec, "account_hosts");
	const json_t *hb = json_object_get(obj, "account_hosts");
	const char *ua = json_string_value(json_object_get(ds->rec, "user"));
	const char *ub = json_string_value(json_object_get(obj, "user"));
	json_t *x, *y;
	size_t i, k, n;

	if (strcmp(name, ds->name) == 0 || ua == NULL || ub == NULL ||
	    strcmp(ua, ub) != 0 || !same_server(ds->rec, obj))
		return 0;
	if (!json_is_array(ha) && !json_is_array(hb)) {
		/* "auto" both: every row of the user on that server. */
		snprintf(ds->rows, sizeof(ds->rows), "'%s'@(every host, auto)",
		    ua);
		snprintf(ds->other, sizeof(ds->other), "%s", name);
		return 1;
	}
	/* "auto" on one side overlaps every row the other lists. */
	json_array_foreach(json_is_array(ha) ? ha : hb, i, x)
		json_array_foreach(json_is_array(ha) && json_is_array(hb) ?
		    hb : json_is_array(ha) ? ha : hb, k, y)
			if (json_is_array(ha) && json_is_array(hb) ?
			    json_equal(x, y) : i == k) {
				n = strlen(ds->rows);
				snprintf(ds->rows + n, sizeof(ds->rows) - n,
				    "%s'%s'@'%s'", n ? ", " : "", ua,
				    json_string_value(x));
			}
	if (ds->rows[0] == '\0')
		return 0;
	snprintf(ds->other, sizeof(ds->other), "%s", name);
	return 1;
}

/*
 * Refuses (VD_EEXIST, detail naming the other target and the rows) a
 * record whose server, user and account rows another target already
 * registers: two targets rotating one account make one of them stale
 * (its password no longer logs in).  Returns 0 when none does.
 */
static int
dup_check(struct vd_txn *t, const char *name, const json_t *rec)
{
	struct dupscan ds;
	int r;

	memset(&ds, 0, sizeof(ds));
	ds.name = name;
	ds.rec = rec;
	if ((r = vd_target_each(t, dup_cb, &ds)) < 0)
		return r;
	if (ds.other[0] == '\0')
		return 0;
	return vd_err_set(VD_EEXIST, "target %s already rotates %s on this "
	    "server: two targets for one account make one of them stale; "
	    "remove or change %s, or pass force to register it anyway",
	    ds.other, ds.rows, ds.other);
}

/*
 * dup_check() of rec (target name) in a read transaction of its own;
 * refuses rq (audited, naming the other target) when it is a duplicate,
 * fails it on another error.  Returns 0, or the error rq was answered with.
 */
static int
dup_refused(struct vd_req *rq, const char *name, const json_t *rec)
{
	struct vd_txn *t = NULL;
	char why[400];
	int r;

	if ((r = vd_txn_begin(rq->d->st, 0, &t)) == 0) {
		r = dup_check(t, name, rec);
		vd_txn_abort(t);
	}
	if (r == 0)
		return 0;
	snprintf(why, sizeof(why), "%s", vd_err_detail());
	if (r == VD_EEXIST)
		refuse_code(rq, name, why, VD_RPC_EXISTS, NULL);
	else
		vd_req_fail(rq, r, why);
	return r;
}

/* --- target.add --------------------------------------------------------- */

/*
 * The pre-flight's rows (vd_apply_verify()) as a JSON array of
 * {"host", "result", "why"?} ("why" only when not ok); an empty array
 * when none were tried.  Never NULL unless out of memory.
 */
static json_t *
rows_json(const struct vd_apply *a)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < a->nrows; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s?}",
		    "host", a->rows[i].host, "result",
		    vd_apply_row_name(a->rows[i].res), "why",
		    a->rows[i].why[0] ? a->rows[i].why : NULL));
	return arr;
}

/* Whether a row of the pre-flight lacks the privilege to be changed. */
static int
rows_nopriv(const struct vd_apply *a)
{
	for (size_t i = 0; i < a->nrows; i++)
		if (a->rows[i].res == VD_ROW_NOPRIV)
			return 1;
	return 0;
}

/* A target.add whose login check runs on the thread pool. */
struct addjob {
	uv_work_t		 work;		/* libuv request */
	struct vd_req		*rq;		/* answered in add_after */
	char			 name[VD_NAME_MAX + 1];	/* target name */
	json_t			*target;	/* record to store */
	struct vd_secret	*pw;		/* the account's password */
	struct vd_secret	*admin_pw;	/* admin_user's password or NULL */
	struct vd_apply		 a;		/* the login checks (apply.c) */
	int			 check;		/* params.check: every host */
	int			 force;		/* params.force: no dup_check */
	int			 r;		/* outcome of the check */
	char			 server_id[VD_APPLY_SERVER_ID_MAX];
					/* the server reached (add_work) */
};

static void
add_work(uv_work_t *w)
{
	struct addjob *j = container_of(w, struct addjob, work);

	/* check: the pre-flight of target.check, on every account host. */
	j->r = j->check ? vd_apply_verify(&j->a, j->pw) :
	    vd_apply_login(&j->a, NULL, j->pw);
	if (j->r == 0 && j->admin_pw != NULL)
		j->r = vd_apply_login(&j->a, j->a.admin_user, j->admin_pw);
	/* Which server that is, for dup_check(); unknown: "". */
	if (j->r == 0)
		(void)vd_apply_server_id(&j->a, j->pw, j->server_id,
		    sizeof(j->server_id));
}

/*
 * Stores password pw as version v of target in t, with its metadata, its
 * escrow envelopes and its history entry: what target.add and
 * target.set_password write for a version made outside a rotation.
 */
static int
put_version(struct vd_daemon *d, struct vd_txn *t, const char *target,
    uint64_t v, const struct vd_secret *pw, const json_t *meta,
    const json_t *hist)
{
	int r;

	if ((r = vd_secret_put(t, target, v, pw)) != 0 ||
	    (r = vd_version_put(t, target, v, meta)) != 0 ||
	    (r = vd_escrowd_seal(d, t, target, v, pw)) != 0)
		return r;
	return vd_history_append(t, target, hist, NULL);
}

/*
 * Sets rec's "auth" and "admin_auth" to the plugins vd_apply_verify()
 * read for the target and the admin account (issue 14 item 5), each only
 * when it could read them.
 */
static void
record_auth(json_t *rec, const struct vd_apply *a)
{
	if (a->auth_learned != NULL)
		json_object_set_new(rec, "auth", json_string(a->auth_learned));
	if (a->admin_auth_learned != NULL)
		json_object_set_new(rec, "admin_auth",
		    json_string(a->admin_auth_learned));
}

/* Commits the new target and its first version; returns the version. */
static int
add_commit(struct addjob *j, uint64_t *vp)
{
	struct vd_req *rq = j->rq;
	struct vd_txn *t = NULL;
	json_t *meta = NULL, *hist = NULL;
	uint64_t v = 0, hseq = 0;
	int r;

	*vp = 0;
	if (sealed(rq->d))
		return VD_ESEALED;
	if ((r = vd_txn_begin(rq->d->st, 1, &t)) != 0)
		return r;
	/* The account's own plugins, when the check could read them. */
	record_auth(j->target, &j->a);
	/*
	 * A removed target's versions are tombstones (tombstone()): number
	 * the new incarnation above them.
	 */
	if ((r = vd_history_each(t, j->name, 0, 1, hist_newest_cb, &hseq)) < 0)
		goto out;
	/* A removed target's history stays; this incarnation's follows. */
	if (hseq > 0 && json_object_set_new(j->target, "history_since",
	    json_integer((json_int_t)(hseq + 1))) != 0) {
		r = VD_ENOMEM;
		goto out;
	}
	if ((r = vd_target_put(t, j->name, j->target, 1)) != 0 ||
	    (r = vd_version_last(t, j->name, &v)) != 0)
		goto out;
	v++;
	meta = json_pack("{s:s, s:s, s:o, s:s}", "state",
	    vd_vstate_name(VD_VS_CURRENT),
	    "trigger", "initial", "created_at", now_str(),
	    "created_by", rq->caller->user);
	hist = json_pack("{s:I, s:s, s:s, s:o, s:o, s:s}", "version",
	    (json_int_t)v, "trigger", "initial", "result", "ok",
	    "started_at", now_str(), "finished_at", now_str(),
	    "by", rq->caller->user);
	if (meta == NULL || hist == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if ((r = put_version(rq->d, t, j->name, v, j->pw, meta, hist)) != 0)
		goto out;
	if (j->admin_pw != NULL &&
	    (r = vd_admin_secret_put(t, j->name, j->admin_pw)) != 0)
		goto out;
	if ((r = audit_in(t, rq, j->name, v, "ok", NULL)) != 0)
		goto out;
	r = vd_txn_commit(t);
	t = NULL;
	if (r == 0)
		*vp = v;
 out:
	vd_txn_abort(t);
	json_decref(meta);
	json_decref(hist);
	return r;
}

static void
add_after(uv_work_t *w, int status)
{
	struct addjob *j = container_of(w, struct addjob, work);
	struct vd_req *rq = j->rq;
	uint64_t v = 0;
	int r;

	rq->d->inflight--;
	if (status != 0 || j->r != 0) {
		r = status != 0 ? VD_EBUSY : j->r;
		if (status != 0)
			snprintf(j->a.err, sizeof(j->a.err), "cancelled");
		audit_now(rq->d, rq, j->name, 0, "failed", j->a.err);
		vd_log(LOG_NOTICE, "target.add %s by %s failed: %s", j->name,
		    rq->caller->user, j->a.err);
		if (r == VD_EAUTH)
			vd_req_fail_code(rq, VD_RPC_AUTH, j->a.err);
		else
			vd_req_fail_code(rq, vd_proto_code(r), j->a.err);
		goto out;
	}
	/*
	 * The same server by another route (its socket, 127.0.0.1:3306):
	 * only the login tells, so checked again now.
	 */
	if (j->server_id[0] != '\0' && json_object_set_new(j->target,
	    "server_id", json_string(j->server_id)) != 0) {
		vd_req_fail(rq, VD_ENOMEM, NULL);
		goto out;
	}
	if (j->server_id[0] != '\0' && !j->force &&
	    dup_refused(rq, j->name, j->target) != 0)
		goto out;
	if ((r = add_commit(j, &v)) != 0) {
		char buf[300];

		vd_err_format(r, buf, sizeof(buf));
		vd_log(LOG_ERR, "target.add %s: %s", j->name, buf);
		vd_req_fail(rq, r, r == VD_EEXIST ? "target already exists" :
		    buf);
		goto out;
	}
	vd_log(LOG_INFO, "target %s added by %s (uid %lu), version %llu",
	    j->name, rq->caller->user, (unsigned long)rq->caller->uid,
	    (unsigned long long)v);
	vd_rotate_notify(rq->d, j->name);
	vd_req_reply(rq, json_pack("{s:s, s:I, s:s, s:o}", "name", j->name,
	    "version", (json_int_t)v, "hosts", j->a.summary, "rows",
	    rows_json(&j->a)));
 out:
	vd_secret_free(j->admin_pw);
	vd_secret_free(j->pw);
	vd_apply_clear(&j->a);
	json_decref(j->target);
	free(j);
}


/*
 * Sets rec[key] to a duration parsed from s (seconds), failing rq with the
 * limits in the message: at least min seconds (min_s as written), at most
 * what vd_parse_duration() takes (ten years).  Returns 0 or -1.
 */
static int
set_duration(struct vd_req *rq, json_t *rec, const char *key, const char *s,
    int64_t min, const char *min_s)
{
	char msg[200];
	int64_t dur;

	if (vd_parse_duration(s, &dur) != 0) {
		snprintf(msg, sizeof(msg), "%s: %s; at least %s, at most 10 "
		    "years (e.g. 90d)", key, vd_err_detail(), min_s);
		vd_req_fail_code(rq, VD_RPC_PARAMS, msg);
		return -1;
	}
	if (dur < min) {
		snprintf(msg, sizeof(msg), "%s: must be at least %s (e.g. "
		    "90d)%s", key, min_s, strcmp(key, "every") == 0 ?
		    "; [rotation] min_every sets the bound" : "");
		vd_req_fail_code(rq, VD_RPC_PARAMS, msg);
		return -1;
	}
	json_object_set_new(rec, key, json_integer(dur));
	return 0;
}

/* Sets or (value NULL) removes rec[key]; *changed gets 1 when it differs. */
static void
rec_set(json_t *rec, const char *key, json_t *value, int *changed)
{
	json_t *old = json_object_get(rec, key);

	if (value == NULL) {
		if (old != NULL) {
			json_object_del(rec, key);
			*changed = 1;
		}
		return;
	}
	if (old == NULL || !json_equal(old, value)) {
		json_object_set(rec, key, value);
		*changed = 1;
	}
	json_decref(value);
}

/*
 * Validates the target fields of params and writes them into rec, for
 * target.add (adding: rec holds name and creation only; the server and the
 * user are required) and target.set (rec: a copy of the stored record;
 * only the fields given change; window "" and after_reveal "0" remove
 * them, admin_user "" drops the admin account).  *conn gets 1 when the
 * server, the account hosts, TLS or the admin account changed: what a
 * login must prove before it is stored.  Fails rq and returns -1.
 */
static int
record_fields(struct vd_req *rq, json_t *params, json_t *rec, int adding,
    int *conn)
{
	const char *host, *sock, *user, *policy, *every, *window, *after,
	    *admin, *tls, *tls_ca, *replica_of, *comax;
	struct vd_window win;
	json_t *ah;
	long long port = -1, approvals = -1;
	int bad = 0, c = 0;

	*conn = 0;
	host = pstr(params, "host", &bad);
	sock = pstr(params, "unix_socket", &bad);
	user = pstr(params, "user", &bad);
	policy = pstr(params, "policy", &bad);
	every = pstr(params, "every", &bad);
	window = pstr(params, "window", &bad);
	after = pstr(params, "after_reveal", &bad);
	admin = pstr(params, "admin_user", &bad);
	tls = pstr(params, "tls", &bad);
	tls_ca = pstr(params, "tls_ca", &bad);
	replica_of = pstr(params, "replica_of", &bad);
	comax = pstr(params, "checkout_max", &bad);
	if (bad) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "a parameter that must be "
		    "a string is not");
		return -1;
	}
	if ((adding && (host == NULL) == (sock == NULL)) || (host && sock) ||
	    (host && !*host) || (sock && *sock != '/')) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "give either host (and "
		    "port) or unix_socket (an absolute path)");
		return -1;
	}
	if (adding && (user == NULL || *user == '\0' || strlen(user) > 80)) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "user: required, at most "
		    "80 characters");
		return -1;
	}
	if (!adding && user != NULL) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "user: the account is what "
		    "the target is; register another account as a new target");
		return -1;
	}
	if (admin != NULL && ((adding && *admin == '\0') ||
	    strlen(admin) > 80)) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "admin_user: at most 80 "
		    "characters");
		return -1;
	}
	if (pint(params, "port", 1, 65535, &port) != 0) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, vd_err_detail());
		return -1;
	}
	if (port != -1 && sock != NULL) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "port: only with host");
		return -1;
	}
	if (pint(params, "approvals", 0, VD_APPROVALS_MAX, &approvals) != 0) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, vd_err_detail());
		return -1;
	}
	/* Dual control (issue 17): 0 removes it. */
	if (approvals == 0)
		json_object_del(rec, "approvals");
	else if (approvals > 0)
		json_object_set_new(rec, "approvals", json_integer(approvals));
	if (comax != NULL && set_duration(rq, rec, "checkout_max", comax, 60,
	    "1m") != 0)
		return -1;
	if (policy != NULL && !vd_config_policy_known(rq->d->cfg, policy)) {
		vd_req_fail_code(rq, VD_RPC_POLICY, "unknown policy");
		return -1;
	}
	if (window != NULL && (adding || *window != '\0') &&
	    vd_window_parse(window, &win) != 0) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "window: expected "
		    "HH:MM-HH:MM, optionally followed by days (mon-fri)");
		return -1;
	}
	if (tls != NULL && strcmp(tls, "required") != 0 &&
	    strcmp(tls, "disabled") != 0 && strcmp(tls, "off") != 0) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "tls: expected required "
		    "or disabled");
		return -1;
	}
	if (tls_ca != NULL && (adding || *tls_ca != '\0') && *tls_ca != '/') {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "tls_ca: expected an "
		    "absolute path");
		return -1;
	}
	ah = json_object_get(params, "account_hosts");
	if (ah != NULL && !json_is_null(ah) && !(json_is_string(ah) &&
	    strcmp(json_string_value(ah), "auto") == 0)) {
		size_t i;
		json_t *h;

		if (!json_is_array(ah) || json_array_size(ah) == 0 ||
		    json_array_size(ah) > 64)
			goto badhosts;
		json_array_foreach(ah, i, h)
			if (!json_is_string(h) || json_string_length(h) == 0 ||
			    json_string_length(h) > 255)
				goto badhosts;
	}
	if (every != NULL) {
		/* At least [rotation] min_every (default 1m), as written. */
		char min_s[32];
		int64_t m = rq->d->cfg->min_every > 0 ? rq->d->cfg->min_every :
		    60;

		if (m % 86400 == 0)
			snprintf(min_s, sizeof(min_s), "%lldd", (long long)(m /
			    86400));
		else if (m % 3600 == 0)
			snprintf(min_s, sizeof(min_s), "%lldh", (long long)(m /
			    3600));
		else if (m % 60 == 0)
			snprintf(min_s, sizeof(min_s), "%lldm", (long long)(m /
			    60));
		else
			snprintf(min_s, sizeof(min_s), "%llds", (long long)m);
		if (set_duration(rq, rec, "every", every, m, min_s) != 0)
			return -1;
	}
	if (after != NULL) {
		if (!adding && strcmp(after, "0") == 0)
			json_object_del(rec, "after_reveal");
		else if (set_duration(rq, rec, "after_reveal", after, 0,
		    "0s") != 0)
			return -1;
	}
	if (user != NULL)
		json_object_set_new(rec, "user", json_string(user));
	if (policy != NULL || adding)
		json_object_set_new(rec, "policy", json_string(policy != NULL ?
		    policy : "default"));
	if (window != NULL)
		json_object_set_new(rec, "window", json_string(window));
	if (window != NULL && *window == '\0')
		json_object_del(rec, "window");
	/* What a login has to prove. */
	if (host != NULL) {
		rec_set(rec, "unix_socket", NULL, &c);
		rec_set(rec, "host", json_string(host), &c);
		rec_set(rec, "port", json_integer(port != -1 ? port : 3306),
		    &c);
	} else if (sock != NULL) {
		rec_set(rec, "host", NULL, &c);
		rec_set(rec, "port", NULL, &c);
		rec_set(rec, "unix_socket", json_string(sock), &c);
	} else if (port != -1) {
		if (json_object_get(rec, "host") == NULL) {
			vd_req_fail_code(rq, VD_RPC_PARAMS, "port: the target "
			    "connects by unix_socket; give host as well");
			return -1;
		}
		rec_set(rec, "port", json_integer(port), &c);
	}
	if (ah != NULL && !json_is_null(ah) && json_is_array(ah))
		rec_set(rec, "account_hosts", json_deep_copy(ah), &c);
	else if (ah != NULL || adding)
		rec_set(rec, "account_hosts", json_string("auto"), &c);
	/*
	 * TLS (issue 14 item 5): by default TCP to a host that is not
	 * loopback needs TLS with a verified certificate; "disabled" (or
	 * its old spelling "off") is the explicit way out, stored so that
	 * status can warn about it.
	 */
	if (tls != NULL)
		rec_set(rec, "tls", json_string(strcmp(tls, "required") == 0 ?
		    "required" : "disabled"), &c);
	if (tls_ca != NULL)
		rec_set(rec, "tls_ca", *tls_ca != '\0' ? json_string(tls_ca) :
		    NULL, &c);
	if (replica_of != NULL) {
		const char *self = json_string_value(json_object_get(rec,
		    "name"));

		if (!adding || !vd_name_valid(replica_of) || (self != NULL &&
		    strcmp(replica_of, self) == 0)) {
			vd_req_fail_code(rq, VD_RPC_PARAMS, "replica_of: the name "
			    "of another target, given at target add");
			return -1;
		}
		json_object_set_new(rec, "replica_of", json_string(replica_of));
	}
	if (admin != NULL)
		rec_set(rec, "admin_user", *admin != '\0' ? json_string(admin) :
		    NULL, &c);
	*conn = c;
	return 0;
 badhosts:
	vd_req_fail_code(rq, VD_RPC_PARAMS, "account_hosts: \"auto\" or a "
	    "list of 1..64 host names");
	return -1;
}

/* Validates params into a target record; fails rq and returns NULL. */
static json_t *
add_record(struct vd_req *rq, json_t *params, const char *name)
{
	json_t *rec;
	int conn;

	rec = json_pack("{s:s, s:o, s:s}", "name", name, "created_at",
	    now_str(), "created_by", rq->caller->user);
	if (rec == NULL) {
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return NULL;
	}
	if (record_fields(rq, params, rec, 1, &conn) != 0) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

static void
m_target_add(struct vd_req *rq, json_t *params)
{
	struct vd_daemon *d = rq->d;
	struct addjob *j = NULL;
	struct vd_txn *t = NULL;
	json_t *pw, *apw, *old = NULL;
	const char *name;
	int r;

	if ((name = target_param(rq, params)) == NULL)
		return;
	pw = json_object_get(params, "password");
	apw = json_object_get(params, "admin_password");
	if (!json_is_string(pw) || json_string_length(pw) == 0 ||
	    json_string_length(pw) > VD_SECRET_MAX) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "password: required");
		return;
	}
	if ((apw != NULL) != (json_object_get(params, "admin_user") != NULL) ||
	    (apw != NULL && (!json_is_string(apw) ||
	    json_string_length(apw) == 0 ||
	    json_string_length(apw) > VD_SECRET_MAX))) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "admin_password: required "
		    "with admin_user, and only then");
		return;
	}
	if ((r = vd_txn_begin(d->st, 0, &t)) != 0) {
		vd_req_fail(rq, r, NULL);
		return;
	}
	r = vd_target_get(t, name, &old);
	json_decref(old);
	old = NULL;
	if (r == VD_ENOTFOUND && json_is_string(json_object_get(params,
	    "replica_of"))) {
		/* Its primary: an existing target, not a replica itself. */
		const char *p = json_string_value(json_object_get(params,
		    "replica_of"));

		if (vd_name_valid(p) && vd_target_get(t, p, &old) == 0 &&
		    json_object_get(old, "replica_of") == NULL)
			r = VD_ENOTFOUND;
		else
			r = vd_err_set(VD_EINVAL, "replica_of: %s is not a "
			    "target, or is a replica itself", p);
		json_decref(old);
	}
	vd_txn_abort(t);
	if (r == 0) {
		vd_req_fail_code(rq, VD_RPC_EXISTS, "target already exists");
		return;
	}
	if (r == VD_EINVAL) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, vd_err_detail());
		return;
	}
	if (r != VD_ENOTFOUND) {
		vd_req_fail(rq, r, NULL);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	j->rq = rq;
	/* On unless asked off: a row found at 03:00 is found too late. */
	j->check = !json_is_false(json_object_get(params, "check"));
	j->a.privs = j->check;	/* and the privilege to change each row */
	memcpy(j->name, name, strlen(name) + 1);
	if ((j->target = add_record(rq, params, name)) == NULL) {
		free(j);
		return;
	}
	j->force = json_is_true(json_object_get(params, "force"));
	if (!j->force && dup_refused(rq, name, j->target) != 0) {
		json_decref(j->target);
		free(j);
		return;
	}
	if ((r = vd_apply_from_target(&j->a, name, j->target,
	    (unsigned)d->cfg->connect_timeout)) != 0)
		goto fail;
	j->pw = vd_secret_from(json_string_value(pw), json_string_length(pw));
	if (apw != NULL)
		j->admin_pw = vd_secret_from(json_string_value(apw),
		    json_string_length(apw));
	if (j->pw == NULL || (apw != NULL && j->admin_pw == NULL)) {
		r = VD_ENOMEM;
		goto fail;
	}
	/* The checks list the rows through the admin account, as rotations
	 * do: it needs the password given (vd_apply_clear() wipes it). */
	if (j->check && j->admin_pw != NULL && (j->a.admin_pw =
	    vd_secret_from(j->admin_pw->data, j->admin_pw->len)) == NULL) {
		r = VD_ENOMEM;
		goto fail;
	}
	if ((r = uv_queue_work(d->loop, &j->work, add_work, add_after)) != 0)
		goto fail;
	d->inflight++;
	return;
 fail:
	vd_secret_free(j->pw);
	vd_secret_free(j->admin_pw);
	vd_apply_clear(&j->a);
	json_decref(j->target);
	free(j);
	vd_req_fail(rq, r, NULL);
}

/* --- target.set --------------------------------------------------------- */

/* Two JSON values both absent, or both the same string. */
static int
str_same(const json_t *a, const json_t *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return json_is_string(a) && json_is_string(b) &&
	    strcmp(json_string_value(a), json_string_value(b)) == 0;
}

/*
 * target.set edits a target in place: policy, cadence, window,
 * after-reveal grace, and how vaultd reaches the account (server, account
 * hosts, TLS, admin account), keeping its versions and history.  Fields are
 * validated as target.add validates them.  A change of how the account is
 * reached is proven before it is stored: the current password must log in
 * on every account host by the new route (vd_apply_verify(), thread pool),
 * and a new admin account with its password.  Refused while a job of the
 * target runs (its outcome was decided with the old record).  The engine
 * reloads the record at once (vd_rotate_notify()): the change takes effect
 * at its next scheduling decision.  Audited with the fields changed.
 */
struct setjob {
	uv_work_t		 work;		/* libuv request */
	struct vd_req		*rq;		/* answered in set_after */
	char			 name[VD_NAME_MAX + 1];	/* target name */
	json_t			*old;		/* the record as read */
	json_t			*rec;		/* the edited record */
	char			 changed[200];	/* fields changed, "a,b" */
	struct vd_secret	*cur_pw;	/* current version's password */
	struct vd_secret	*new_admin;	/* a new admin account's
						 * password, or NULL */
	int			 every_changed;	/* reschedule from last_ok */
	struct vd_apply		 a;		/* the logins (apply.c) */
	int			 r;		/* outcome of the logins */
	int			 route_changed;	/* server or rows changed */
	int			 force;		/* params.force: no dup_check */
	char			 server_id[VD_APPLY_SERVER_ID_MAX];
					/* the server reached (set_work) */
};

static void
set_free(struct setjob *j)
{
	vd_secret_free(j->cur_pw);
	vd_secret_free(j->new_admin);
	vd_apply_clear(&j->a);
	json_decref(j->old);
	json_decref(j->rec);
	free(j);
}

/* Proves the new route with the current password (pool thread). */
static void
set_work(uv_work_t *w)
{
	struct setjob *j = container_of(w, struct setjob, work);

	j->r = vd_apply_verify(&j->a, j->cur_pw);
	if (j->r == 0 && j->new_admin != NULL)
		j->r = vd_apply_login(&j->a, j->a.admin_user, j->new_admin);
	if (j->r == 0 && j->route_changed)
		(void)vd_apply_server_id(&j->a, j->cur_pw, j->server_id,
		    sizeof(j->server_id));
}

/*
 * Stores j's record in one write transaction, with the admin password and
 * the schedule a new cadence gives, and the audit entry.  Refuses
 * (VD_EBUSY) when a job of the target started, or the record changed,
 * since it was read.
 */
static int
set_commit(struct setjob *j)
{
	struct vd_req *rq = j->rq;
	struct vd_daemon *d = rq->d;
	struct vd_txn *t = NULL;
	json_t *cur = NULL, *sched = NULL, *upd = NULL;
	int r;

	if (sealed(d))
		return VD_ESEALED;
	if (vd_rotate_busy(d, j->name))
		return vd_err_set(VD_EBUSY, "a rotation of %s is running; "
		    "wait for it to end (vaultctl history %s) and try again",
		    j->name, j->name);
	if ((r = vd_txn_begin(d->st, 1, &t)) != 0)
		return r;
	if ((r = vd_target_get(t, j->name, &cur)) != 0)
		goto out;
	if (!json_equal(cur, j->old)) {
		r = vd_err_set(VD_EBUSY, "target %s was changed by someone "
		    "else meanwhile; look at it (vaultctl target show %s) and "
		    "try again", j->name, j->name);
		goto out;
	}
	/* A new route was proven: the plugins read through it. */
	record_auth(j->rec, &j->a);
	if ((r = vd_target_put(t, j->name, j->rec, 0)) != 0)
		goto out;
	if (j->new_admin != NULL &&
	    (r = vd_admin_secret_put(t, j->name, j->new_admin)) != 0)
		goto out;
	if (json_object_get(j->rec, "admin_user") == NULL &&
	    json_object_get(j->old, "admin_user") != NULL &&
	    (r = vd_admin_secret_del(t, j->name)) != 0 && r != VD_ENOTFOUND)
		goto out;
	/*
	 * The account may have changed with the record: what its rotations
	 * learned of it is asked again (rotate.c record_in(), learned_denied),
	 * after a restart too.
	 */
	if ((upd = json_pack("{s:i}", "learned_denied", 0)) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if (j->every_changed) {
		/* One new cadence from the last success (at once if past). */
		int64_t now = vd_now(), last = 0, due;

		if (vd_sched_get(t, j->name, &sched) == 0)
			last = json_integer_value(json_object_get(sched,
			    "last_ok"));
		due = (last > 0 ? last : now) + json_integer_value(
		    json_object_get(j->rec, "every"));
		if (due < now)
			due = now;
		if (json_object_set_new(upd, "next_due", json_integer(
		    (json_int_t)due)) != 0) {
			r = VD_ENOMEM;
			goto out;
		}
	}
	if ((r = vd_sched_update(t, j->name, upd)) != 0)
		goto out;
	if ((r = audit_in(t, rq, j->name, 0, "ok", j->changed)) != 0)
		goto out;
	r = vd_txn_commit(t);
	t = NULL;
 out:
	vd_txn_abort(t);
	json_decref(cur);
	json_decref(sched);
	json_decref(upd);
	return r;
}

/* Commits (loop thread) and answers; frees j. */
static void
set_finish(struct setjob *j)
{
	struct vd_req *rq = j->rq;
	char why[300];
	int r;

	if ((r = set_commit(j)) != 0) {
		snprintf(why, sizeof(why), "%s", vd_err_detail()[0] ?
		    vd_err_detail() : vd_strerror(r));
		if (r == VD_EBUSY || r == VD_ENOTFOUND)
			refuse_code(rq, j->name, r == VD_ENOTFOUND ?
			    "no such target" : why, vd_proto_code(r), NULL);
		else {
			vd_log(LOG_ERR, "target.set %s: %s", j->name, why);
			(void)audit_now(rq->d, rq, j->name, 0, "failed", why);
			vd_req_fail(rq, r, why);
		}
		set_free(j);
		return;
	}
	vd_log(LOG_NOTICE, "target %s changed by %s (uid %lu): %s%s%s",
	    j->name, rq->caller->user, (unsigned long)rq->caller->uid,
	    j->changed, j->a.summary[0] ? "; logins: " : "", j->a.summary);
	vd_rotate_notify(rq->d, j->name);
	vd_req_reply(rq, json_pack("{s:s, s:s, s:s}", "name", j->name,
	    "changed", j->changed, "hosts", j->a.summary));
	set_free(j);
}

static void
set_after(uv_work_t *w, int status)
{
	struct setjob *j = container_of(w, struct setjob, work);
	struct vd_req *rq = j->rq;
	int r;

	rq->d->inflight--;
	if (status != 0 || j->r != 0) {
		r = status != 0 ? VD_EBUSY : j->r;
		if (status != 0)
			snprintf(j->a.err, sizeof(j->a.err), "cancelled");
		/* Nothing stored; the reason names the host (no secret). */
		(void)audit_now(rq->d, rq, j->name, 0, "failed", j->a.err);
		vd_log(LOG_NOTICE, "target.set %s by %s failed: %s", j->name,
		    rq->caller->user, j->a.err);
		vd_req_fail_code(rq, r == VD_EAUTH ? VD_RPC_AUTH : r ==
		    VD_EBUSY ? VD_RPC_UNAVAIL : VD_RPC_DB, j->a.err);
		set_free(j);
		return;
	}
	/* The server the new route reaches (dup_check(), see add_after). */
	if (j->route_changed) {
		if (j->server_id[0] == '\0')
			json_object_del(j->rec, "server_id");
		else if (json_object_set_new(j->rec, "server_id",
		    json_string(j->server_id)) != 0) {
			vd_req_fail(rq, VD_ENOMEM, NULL);
			set_free(j);
			return;
		}
		if (!j->force && dup_refused(rq, j->name, j->rec) != 0) {
			set_free(j);
			return;
		}
	}
	set_finish(j);
}

/* Lists in j->changed the fields that differ between old and rec. */
static void
set_diff(struct setjob *j)
{
	static const char *const keys[] = { "host", "port", "unix_socket",
	    "account_hosts", "policy", "every", "window", "after_reveal",
	    "tls", "tls_ca", "admin_user", "approvals", "checkout_max" };
	size_t n = 0;

	j->changed[0] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *a = json_object_get(j->old, keys[i]);
		json_t *b = json_object_get(j->rec, keys[i]);

		if ((a == NULL) != (b == NULL) || (a && !json_equal(a, b))) {
			snprintf(j->changed + n, sizeof(j->changed) - n, "%s%s",
			    n ? "," : "", keys[i]);
			n = strlen(j->changed);
		}
	}
	if (j->new_admin != NULL && strstr(j->changed, "admin_user") == NULL)
		snprintf(j->changed + n, sizeof(j->changed) - n, "%s%s",
		    n ? "," : "", "admin_password");
	j->every_changed = strstr(j->changed, "every") != NULL;
}

/*
 * Reads the record, the current password and the stored admin password
 * (loop thread, read transaction) and applies params to a copy.  Fails rq
 * (returns -1) on a refusal.
 */
static int
set_prep(struct setjob *j, json_t *params, int *conn)
{
	struct vd_req *rq = j->rq;
	struct vd_daemon *d = rq->d;
	struct vd_txn *t = NULL;
	uint64_t cur = 0;
	char why[400];
	int r, force = json_is_true(json_object_get(params, "force"));

	if ((r = vd_txn_begin(d->st, 0, &t)) != 0)
		goto fail;
	if ((r = vd_target_get(t, j->name, &j->old)) != 0) {
		vd_txn_abort(t);
		refuse_code(rq, j->name, "no such target", vd_proto_code(
		    VD_ENOTFOUND), NULL);
		return -1;
	}
	if (vd_rotate_busy(d, j->name)) {
		vd_txn_abort(t);
		snprintf(why, sizeof(why), "a rotation of %s is running; wait "
		    "for it to end (vaultctl history %s) and try again",
		    j->name, j->name);
		refuse_code(rq, j->name, why, VD_RPC_UNAVAIL, NULL);
		return -1;
	}
	if ((j->rec = json_deep_copy(j->old)) == NULL) {
		r = VD_ENOMEM;
		goto fail;
	}
	if (record_fields(rq, params, j->rec, 0, conn) != 0) {
		vd_txn_abort(t);
		return -1;
	}
	/* Only a change of where the account is can make a duplicate. */
	if (!force && *conn && (r = dup_check(t, j->name, j->rec)) != 0) {
		snprintf(why, sizeof(why), "%s", vd_err_detail());
		vd_txn_abort(t);
		refuse_code(rq, j->name, why, VD_RPC_EXISTS, NULL);
		return -1;
	}
	j->route_changed = *conn;
	j->force = force;
	/* Another admin account (or none): its predecessor's plugins go. */
	if (!str_same(json_object_get(j->rec, "admin_user"),
	    json_object_get(j->old, "admin_user")))
		json_object_del(j->rec, "admin_auth");
	if (*conn || j->new_admin != NULL) {
		*conn = 1;
		if ((r = vd_versions_find(t, j->name, &cur, NULL)) != 0)
			goto fail;
		if (cur == 0) {
			r = vd_err_set(VD_ENOTFOUND, "target %s has no current "
			    "version to prove the new settings with", j->name);
			goto fail;
		}
		if ((r = vd_secret_get(t, j->name, cur, &j->cur_pw)) != 0 ||
		    (r = vd_apply_from_target(&j->a, j->name, j->rec,
		    (unsigned)d->cfg->connect_timeout)) != 0)
			goto fail;
		j->a.privs = 1;	/* proven as target add proves it */
		if (j->new_admin != NULL)
			j->a.admin_pw = vd_secret_from((const char *)
			    j->new_admin->data,
			    j->new_admin->len);
		else if (json_object_get(j->rec, "admin_user") != NULL &&
		    (r = vd_admin_secret_get(t, j->name, &j->a.admin_pw)) != 0) {
			r = vd_err_set(r == VD_ENOTFOUND ? VD_EINVAL : r,
			    "admin_user %s: give its password (admin_password)",
			    json_string_value(json_object_get(j->rec,
			    "admin_user")));
			goto fail;
		}
		if (j->new_admin != NULL && j->a.admin_pw == NULL) {
			r = VD_ENOMEM;
			goto fail;
		}
	}
	vd_txn_abort(t);
	set_diff(j);
	return 0;
 fail:
	vd_txn_abort(t);
	snprintf(why, sizeof(why), "%s", vd_err_detail()[0] ?
	    vd_err_detail() : vd_strerror(r));
	vd_req_fail(rq, r, why);
	return -1;
}

static void
m_target_set(struct vd_req *rq, json_t *params)
{
	struct vd_daemon *d = rq->d;
	struct setjob *j;
	const char *name;
	json_t *apw;
	int conn = 0, r;

	if ((name = target_param(rq, params)) == NULL)
		return;
	apw = json_object_get(params, "admin_password");
	if (apw != NULL && (!json_is_string(apw) ||
	    json_string_length(apw) == 0 ||
	    json_string_length(apw) > VD_SECRET_MAX)) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "admin_password: a "
		    "non-empty string");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	j->rq = rq;
	snprintf(j->name, sizeof(j->name), "%s", name);
	if (apw != NULL) {
		j->new_admin = vd_secret_from(json_string_value(apw),
		    json_string_length(apw));
		json_object_del(params, "admin_password");
		if (j->new_admin == NULL) {
			vd_req_fail(rq, VD_ENOMEM, NULL);
			set_free(j);
			return;
		}
	}
	if (set_prep(j, params, &conn) != 0) {
		set_free(j);
		return;
	}
	if (apw != NULL && json_object_get(j->rec, "admin_user") == NULL) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "admin_password: the "
		    "target has no admin_user");
		set_free(j);
		return;
	}
	if (j->changed[0] == '\0') {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "nothing to change: every "
		    "field given has that value already");
		set_free(j);
		return;
	}
	if (!conn) {
		set_finish(j);
		return;
	}
	if ((r = uv_queue_work(d->loop, &j->work, set_work, set_after)) != 0) {
		set_free(j);
		vd_req_fail(rq, vd_err_set(VD_EBUSY, "cannot queue work: %s",
		    uv_strerror(r)), NULL);
		return;
	}
	d->inflight++;
}

/* --- target.check ------------------------------------------------------- */

/*
 * target.check: the pre-flight a person reads before trusting the schedule.
 * On the thread pool, by the target's own route (its admin account when it
 * has one), the account's hosts are listed ("auto": which needs the
 * privilege to read mysql.user, as every rotation does) and the current
 * password is proven by a fresh login on each (vd_apply_verify()): per
 * host ok, unverified (cannot be reached from here), refused or error,
 * and why.  Changes nothing; not audited (no secret leaves).
 */
struct tcheckjob {
	uv_work_t		 work;		/* libuv request */
	struct vd_req		*rq;		/* answered in tcheck_after */
	char			 name[VD_NAME_MAX + 1];	/* target name */
	struct vd_secret	*pw;		/* current version's password */
	struct vd_apply		 a;		/* the logins */
	int			 r;		/* outcome */
};

static void
tcheck_work(uv_work_t *w)
{
	struct tcheckjob *j = container_of(w, struct tcheckjob, work);

	j->r = vd_apply_verify(&j->a, j->pw);
}

static void
tcheck_free(struct tcheckjob *j)
{
	vd_secret_free(j->pw);
	vd_apply_clear(&j->a);
	free(j);
}

static void
tcheck_after(uv_work_t *w, int status)
{
	struct tcheckjob *j = container_of(w, struct tcheckjob, work);
	struct vd_req *rq = j->rq;
	int r = status != 0 ? VD_EBUSY : j->r;

	rq->d->inflight--;
	vd_req_reply(rq, json_pack("{s:s, s:s, s:s, s:o, s:s?, s:s?, s:s?}",
	    "name", j->name, "result", r == 0 ? "ok" : r == VD_EAUTH ?
	    "refused" : rows_nopriv(&j->a) ? "no-privilege" : "error", "hosts",
	    j->a.summary, "rows", rows_json(&j->a), "error", r == 0 ? NULL :
	    status != 0 ? "cancelled" : j->a.err, "auth", r == 0 ?
	    j->a.auth_learned : NULL, "auth_stored", j->a.auth));
	tcheck_free(j);
}

static void
m_target_check(struct vd_req *rq, json_t *params)
{
	struct vd_daemon *d = rq->d;
	struct tcheckjob *j;
	struct vd_txn *t = NULL;
	json_t *rec = NULL;
	const char *name;
	uint64_t cur = 0;
	int r;

	if ((name = target_param(rq, params)) == NULL)
		return;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	j->rq = rq;
	snprintf(j->name, sizeof(j->name), "%s", name);
	if ((r = vd_txn_begin(d->st, 0, &t)) != 0)
		goto fail;
	if ((r = vd_target_get(t, name, &rec)) != 0) {
		r = vd_err_set(VD_ENOTFOUND, "no such target");
		goto fail;
	}
	if ((r = vd_versions_find(t, name, &cur, NULL)) != 0)
		goto fail;
	if (cur == 0) {
		r = vd_err_set(VD_ENOTFOUND, "target %s has no current version",
		    name);
		goto fail;
	}
	if ((r = vd_secret_get(t, name, cur, &j->pw)) != 0 ||
	    (r = vd_apply_from_target(&j->a, name, rec,
	    (unsigned)d->cfg->connect_timeout)) != 0)
		goto fail;
	j->a.privs = 1;		/* a rotation must be able to change each row */
	if (json_object_get(rec, "admin_user") != NULL &&
	    (r = vd_admin_secret_get(t, name, &j->a.admin_pw)) != 0) {
		r = vd_err_set(r == VD_ENOTFOUND ? VD_ESTORE : r, "target %s: "
		    "no password stored for its admin account", name);
		goto fail;
	}
	vd_txn_abort(t);
	t = NULL;
	json_decref(rec);
	rec = NULL;
	if ((r = uv_queue_work(d->loop, &j->work, tcheck_work,
	    tcheck_after)) != 0) {
		r = vd_err_set(VD_EBUSY, "cannot queue work: %s",
		    uv_strerror(r));
		goto fail;
	}
	d->inflight++;
	return;
 fail:
	{
		char why[300];

		snprintf(why, sizeof(why), "%s", vd_err_detail()[0] ?
		    vd_err_detail() : vd_strerror(r));
		vd_txn_abort(t);
		json_decref(rec);
		tcheck_free(j);
		vd_req_fail_code(rq, vd_proto_code(r), why);
	}
}

/* --- target.list / show / remove --------------------------------------- */

static int
list_cb(const char *name, json_t *obj, void *arg)
{
	return json_array_append(arg, obj) == 0 ? 0 : VD_ENOMEM;
}

static void
m_target_list(struct vd_req *rq, json_t *params)
{
	struct vd_txn *t = NULL;
	json_t *arr = json_array();
	int r;

	if ((r = vd_txn_begin(rq->d->st, 0, &t)) != 0 ||
	    (r = vd_target_each(t, list_cb, arr)) < 0) {
		vd_txn_abort(t);
		json_decref(arr);
		vd_req_fail(rq, r, NULL);
		return;
	}
	vd_txn_abort(t);
	vd_req_reply(rq, json_pack("{s:o}", "targets", arr));
}

static int
ver_cb(uint64_t v, json_t *meta, void *arg)
{
	json_t *o;

	if (json_is_true(json_object_get(meta, "removed")))
		return 1;	/* a removed incarnation: older ones are too */
	if ((o = json_copy(meta)) == NULL)
		return VD_ENOMEM;
	json_object_set_new(o, "version", json_integer((json_int_t)v));
	return json_array_append_new(arg, o) == 0 ? 0 : VD_ENOMEM;
}

static void
m_target_show(struct vd_req *rq, json_t *params)
{
	struct vd_txn *t = NULL;
	json_t *obj = NULL, *vers = NULL;
	const char *name;
	int r;

	if ((name = target_param(rq, params)) == NULL)
		return;
	vers = json_array();
	if ((r = vd_txn_begin(rq->d->st, 0, &t)) != 0 ||
	    (r = vd_target_get(t, name, &obj)) != 0 ||
	    (r = vd_version_each(t, name, 0, ver_cb, vers)) < 0) {
		vd_txn_abort(t);
		json_decref(obj);
		json_decref(vers);
		vd_req_fail(rq, r, r == VD_ENOTFOUND ? "no such target" : NULL);
		return;
	}
	vd_txn_abort(t);
	json_object_set_new(obj, "versions", vers);
	vd_req_reply(rq, obj);
}

/* Whether target name has a pending version (store). */
static int
has_pending(struct vd_daemon *d, const char *name)
{
	struct vd_txn *t = NULL;
	uint64_t cur = 0, pending = 0;

	if (vd_txn_begin(d->st, 0, &t) != 0)
		return 0;
	(void)vd_versions_find(t, name, &cur, &pending);
	vd_txn_abort(t);
	return pending != 0;
}

/* A target.remove waiting for the target's rotation to end. */
struct rmwait {
	struct vd_req	*rq;
	json_t		*params;	/* its own reference */
};

static void remove_now(struct vd_req *rq, const char *name);

static void
remove_resume(void *arg, int err, json_t *result)
{
	struct rmwait *w = arg;

	(void)err;
	(void)result;
	remove_now(w->rq, json_string_value(json_object_get(w->params,
	    "name")));
	json_decref(w->params);
	free(w);
}

/*
 * target.remove: never while a rotation of the target runs (its outcome,
 * maybe a password already in force on the server, would be recorded for
 * a target that no longer exists): refused, or with "wait" done once it
 * ended.  The versions, their passwords and escrow envelopes stay in the
 * vault (break-glass, and a target added again under the name).
 */
static void
m_target_remove(struct vd_req *rq, json_t *params)
{
	json_t *w = json_object_get(params, "wait");
	struct rmwait *rw;
	const char *name;
	int r;

	if ((name = target_param(rq, params)) == NULL)
		return;
	if (w != NULL && !json_is_boolean(w)) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "wait: expected a boolean");
		return;
	}
	if (vd_rotate_busy(rq->d, name) || has_pending(rq->d, name)) {
		if (!json_is_true(w)) {
			vd_err_set(VD_EBUSY, "a rotation of %s is running or "
			    "its outcome is pending; removing the target now "
			    "would lose it: try again when it ends, or use "
			    "--wait", name);
			vd_req_fail(rq, VD_EBUSY, NULL);
			return;
		}
		if ((rw = calloc(1, sizeof(*rw))) == NULL) {
			vd_req_fail(rq, VD_ENOMEM, NULL);
			return;
		}
		rw->rq = rq;
		rw->params = json_incref(params);
		if ((r = vd_rotate_join(rq->d, name, remove_resume, rw)) == 1)
			return;
		json_decref(rw->params);
		free(rw);
		if (r < 0) {
			vd_req_fail(rq, r, NULL);
			return;
		}
	}
	remove_now(rq, name);
}

/* The versions of a removed target, newest first (tomb_cb). */
struct tomb {
	uint64_t	*v;		/* version numbers */
	size_t		 n;		/* entries in v */
	size_t		 cap;		/* room in v */
};

static int
tomb_cb(uint64_t v, json_t *meta, void *arg)
{
	struct tomb *tb = arg;

	(void)meta;
	if (tb->n == tb->cap) {
		size_t cap = tb->cap ? tb->cap * 2 : 16;
		uint64_t *nv = realloc(tb->v, cap * sizeof(*nv));

		if (nv == NULL)
			return VD_ENOMEM;
		tb->v = nv;
		tb->cap = cap;
	}
	tb->v[tb->n++] = v;
	return 0;
}

/*
 * Tombstones removed target name's incarnation inside t (issue 14 item 8):
 * every version's password and escrow envelopes (and break-glass reports)
 * are deleted and its metadata rewritten as {"state":"retired",
 * "removed":true}, so a target added again under the name starts fresh:
 * its versions are numbered above these (add_commit continues from the
 * highest; the freshness anchor's versions sum keeps the highest), none of
 * the old passwords can be revealed, tried or broken open from the data
 * directory, and listings stop at the tombstones.  The history stays (it
 * is the record of the old incarnation's rotations); the new incarnation's
 * starts after it (history_since, hist_each()).  *nv gets the versions.
 */
static int
tombstone(struct vd_txn *t, const char *name, size_t *nv)
{
	struct tomb tb = { NULL, 0, 0 };
	json_t *meta = NULL;
	int r;

	*nv = 0;
	if ((r = vd_version_each(t, name, 0, tomb_cb, &tb)) < 0)
		goto out;
	if ((meta = json_pack("{s:s,s:b,s:o}", "state",
	    vd_vstate_name(VD_VS_RETIRED), "removed", 1, "removed_at",
	    now_str())) == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < tb.n; i++) {
		if (((r = vd_secret_del(t, name, tb.v[i])) != 0 &&
		    r != VD_ENOTFOUND) ||
		    (r = vd_envelope_del(t, name, tb.v[i])) != 0 ||
		    (r = vd_version_put(t, name, tb.v[i], meta)) != 0)
			goto out;
	}
	*nv = tb.n;
	r = 0;
 out:
	json_decref(meta);
	free(tb.v);
	return r;
}

static void
remove_now(struct vd_req *rq, const char *name)
{
	struct vd_txn *t = NULL;
	json_t *e = NULL;
	size_t nv = 0;
	int r;

	if ((r = vd_txn_begin(rq->d->st, 1, &t)) != 0)
		goto fail;
	if ((r = vd_target_del(t, name)) != 0)
		goto fail;
	if ((r = tombstone(t, name, &nv)) != 0)
		goto fail;
	if ((r = vd_sched_del(t, name)) != 0 && r != VD_ENOTFOUND)
		goto fail;
	if ((r = vd_admin_secret_del(t, name)) != 0 && r != VD_ENOTFOUND)
		goto fail;
	if ((e = audit_entry(rq, name, 0, "ok", NULL)) == NULL) {
		r = VD_ENOMEM;
		goto fail;
	}
	json_object_set_new(e, "versions_dropped", json_integer(
	    (json_int_t)nv));
	if ((r = vd_audit_append(t, e, NULL)) != 0)
		goto fail;
	json_decref(e);
	e = NULL;
	r = vd_txn_commit(t);
	t = NULL;
	if (r != 0)
		goto fail;
	vd_log(LOG_INFO, "target %s removed by %s (uid %lu)", name,
	    rq->caller->user, (unsigned long)rq->caller->uid);
	vd_rotate_notify(rq->d, name);
	vd_req_reply(rq, json_pack("{s:s}", "name", name));
	return;
 fail:
	json_decref(e);
	vd_txn_abort(t);
	vd_req_fail(rq, r, r == VD_ENOTFOUND ? "no such target" : NULL);
}

/* --- target.abandon ---------------------------------------------------- */

/*
 * target.abandon: the pending version is held by no row of the account
 * (the engine proves it, vd_rotate_abandon()), so it fails and the current
 * version stands: the way out of a pending version whose change never
 * reached the server.  Audited when asked and with its outcome.
 */
struct abandonjob {
	struct vd_req	*rq;
	char		 name[VD_NAME_MAX + 1];
};

static void
abandon_done(void *arg, int err, json_t *result)
{
	struct abandonjob *j = arg;
	struct vd_req *rq = j->rq;
	json_int_t v = json_integer_value(json_object_get(result, "version"));
	char why[VD_APPLY_ERRLEN];

	snprintf(why, sizeof(why), "%s", err != 0 ? vd_err_detail() : "");
	(void)audit_now(rq->d, rq, j->name, (uint64_t)v, err != 0 ? "failed" :
	    "ok", err != 0 ? why : NULL);
	if (err != 0)
		vd_req_fail_code(rq, vd_proto_code(err), why);
	else
		vd_req_reply(rq, json_pack("{s:s, s:I, s:s}", "name", j->name,
		    "version", v, "hosts", json_string_value(json_object_get(
		    result, "hosts")) ? json_string_value(json_object_get(
		    result, "hosts")) : ""));
	free(j);
}

static void
m_target_abandon(struct vd_req *rq, json_t *params)
{
	struct abandonjob *j;
	const char *name;
	int r;

	if ((name = target_param(rq, params)) == NULL)
		return;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	j->rq = rq;
	snprintf(j->name, sizeof(j->name), "%s", name);
	if ((r = audit_now(rq->d, rq, name, 0, "requested", NULL)) != 0 ||
	    (r = vd_rotate_abandon(rq->d, name, abandon_done, j)) != 0) {
		char why[300];

		snprintf(why, sizeof(why), "%s", vd_err_detail()[0] ?
		    vd_err_detail() : vd_strerror(r));
		free(j);
		(void)audit_now(rq->d, rq, name, 0, "failed", why);
		vd_req_fail_code(rq, vd_proto_code(r), why);
	}
}

/* --- target.set_password ------------------------------------------------ */

/*
 * target.set_password hands the vault the password now in force on the
 * server after it was changed outside the vault (drift with no version that
 * logs in).  The new password is stored only once it logs in on every
 * account host that can be reached from here (thread pool); then one write
 * transaction makes it version v+1 "current", exactly as a rotation would
 * have, and schedules its replacement: a person chose and knows it, so it is
 * spent like a revealed password (docs/api.md).
 */
struct setpwjob {
	uv_work_t		 work;		/* libuv request */
	struct vd_req		*rq;		/* answered in setpw_after */
	char			 name[VD_NAME_MAX + 1];	/* target name */
	json_t			*target;	/* its record (job's own) */
	struct vd_secret	*pw;		/* the password to import */
	struct vd_apply		 a;		/* the logins (apply.c); its
						 * admin_pw: admin_user's */
	int64_t			 started;	/* when the request came */
	uint64_t		 seen_v;	/* newest version before probing */
	int			 r;		/* outcome of the probes */
};

/*
 * Checks j->pw on the server (pool thread): a session (the admin account,
 * else the account itself with j->pw, which is the path vault users take)
 * finds the account's hosts when they are "auto"; then a fresh login with
 * j->pw per host.  Sets j->r: 0 when every host that can be reached from
 * here accepts it, VD_EAUTH naming the host that refuses it, or VD_EDB /
 * VD_ETIMEDOUT (unreachable, discovery failed).  No secret in j->err.
 */
static void
setpw_work(uv_work_t *w)
{
	struct setpwjob *j = container_of(w, struct setpwjob, work);

	j->r = vd_apply_verify(&j->a, j->pw);
}

/*
 * Fails with VD_EBUSY (detail set) while the engine runs a job for target
 * name (a rotation, resolution or drift check: its outcome could land on
 * top of the imported password).  A pending version does not stop it: the
 * admin says which password is in force now, so the import supersedes it
 * (pending -> previous: it may have been in force on some host, so its
 * password is kept for repairs; vd_versions_supersede()).  Otherwise *cur
 * gets the current version (0: none) and returns 0.
 */
static int
setpw_idle(struct vd_daemon *d, struct vd_txn *t, const char *name,
    uint64_t *cur)
{
	uint64_t vcur;
	int r;

	*cur = 0;
	if (vd_rotate_busy(d, name))
		return vd_err_set(VD_EBUSY, "a rotation of %s is running; "
		    "wait for it to end (vaultctl history %s) and try again",
		    name, name);
	if ((r = vd_versions_find(t, name, &vcur, NULL)) != 0)
		return r;
	*cur = vcur;
	return 0;
}

/*
 * Marks the imported version as disclosed in the schedule record, in t:
 * state ok, no error, no retries, and the next rotation due once the
 * target's after_reveal grace has passed (at once without one; never later
 * than its cadence), in its window, as the engine does after a reveal.
 * *due gets it.
 */
static int
setpw_sched(struct vd_txn *t, const char *name, const json_t *target,
    int64_t *due)
{
	struct vd_window win;
	json_t *s = NULL, *v;
	int64_t now = vd_now(), grace = 0;
	int r;

	v = json_object_get(target, "after_reveal");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		grace = json_integer_value(v);
	v = json_object_get(target, "every");
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) < grace)
		grace = json_integer_value(v);
	*due = now + grace;
	if (vd_window_parse(json_string_value(json_object_get(target,
	    "window")), &win) == 0)
		*due = vd_window_next(&win, *due);
	if ((s = json_pack("{s:s, s:i, s:I, s:n, s:I, s:I, s:I, s:s}",
	    "state", vd_tstate_name(VD_TS_OK), "retries", 0, "last_ok", (json_int_t)now,
	    "last_error", "revealed_at", (json_int_t)now, "after_reveal_due",
	    (json_int_t)*due, "next_due", (json_int_t)*due, "trigger",
	    "after-reveal")) == NULL)
		return VD_ENOMEM;
	r = vd_sched_update(t, name, s);
	json_decref(s);
	return r;
}

/*
 * Stores j's password as the target's new current version, in one write
 * transaction: version v+1 "current" (trigger "import"), the old current
 * "previous", old passwords pruned as the engine prunes them, escrow
 * envelopes, history, schedule and audit.  *vp and *due get the version
 * and the next rotation's due time.  Refuses (VD_EBUSY) a rotation that
 * started while the probes ran.
 */
static int
setpw_commit(struct setpwjob *j, uint64_t *vp, int64_t *due)
{
	struct vd_req *rq = j->rq;
	struct vd_daemon *d = rq->d;
	struct vd_txn *t = NULL;
	json_t *target = NULL, *meta = NULL, *hist = NULL;
	char ts[VD_TIME_STRLEN], st[VD_TIME_STRLEN];
	uint64_t cur = 0, v = 0;
	int r;

	*vp = 0;
	*due = 0;
	if (sealed(d))
		return VD_ESEALED;
	vd_time_rfc3339(vd_now(), ts, sizeof(ts));
	vd_time_rfc3339(j->started, st, sizeof(st));
	if ((r = vd_txn_begin(d->st, 1, &t)) != 0)
		return r;
	if ((r = vd_target_get(t, j->name, &target)) != 0 ||
	    (r = setpw_idle(d, t, j->name, &cur)) != 0 ||
	    (r = vd_version_last(t, j->name, &v)) != 0)
		goto out;
	/*
	 * A rotation that began and ended while the logins ran may have put
	 * a new password on the server: storing this one would break "the
	 * vault holds a password that logs in".
	 */
	if (v != j->seen_v) {
		r = vd_err_set(VD_EBUSY, "a rotation of %s ran while the "
		    "password was checked; see vaultctl history %s and try "
		    "again", j->name, j->name);
		goto out;
	}
	v++;
	meta = json_pack("{s:s, s:s, s:s, s:s}", "state",
	    vd_vstate_name(VD_VS_CURRENT), "trigger", "import", "created_at", ts, "created_by",
	    rq->caller->user);
	hist = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "version",
	    (json_int_t)v, "trigger", "import", "result", "ok", "started_at",
	    st, "finished_at", ts, "by", rq->caller->user, "hosts", j->a.summary);
	if (meta == NULL || hist == NULL) {
		r = VD_ENOMEM;
		goto out;
	}
	if ((r = put_version(d, t, j->name, v, j->pw, meta, hist)) != 0 ||
	    (r = vd_versions_supersede(t, j->name, cur, v, ts)) != 0 ||
	    (r = setpw_sched(t, j->name, target, due)) != 0 ||
	    (r = audit_in(t, rq, j->name, v, "ok", NULL)) != 0)
		goto out;
	r = vd_txn_commit(t);
	t = NULL;
	if (r == 0)
		*vp = v;
 out:
	vd_txn_abort(t);
	json_decref(target);
	json_decref(meta);
	json_decref(hist);
	return r;
}

static void
setpw_free(struct setpwjob *j)
{
	vd_secret_free(j->pw);
	vd_apply_clear(&j->a);
	json_decref(j->target);
	free(j);
}

static void
setpw_after(uv_work_t *w, int status)
{
	struct setpwjob *j = container_of(w, struct setpwjob, work);
	struct vd_req *rq = j->rq;
	struct vd_daemon *d = rq->d;
	char buf[300], why[300], due_s[VD_TIME_STRLEN];
	uint64_t v = 0;
	int64_t due = 0;
	int r;

	d->inflight--;
	if (status != 0 || j->r != 0) {
		r = status != 0 ? VD_EBUSY : j->r;
		if (status != 0)
			snprintf(j->a.err, sizeof(j->a.err), "cancelled");
		/* Nothing was stored; say so, and which host refused. */
		audit_now(d, rq, j->name, 0, "failed", j->a.err);
		vd_log(LOG_NOTICE, "target.set_password %s by %s (uid %lu) "
		    "failed: %s", j->name, rq->caller->user,
		    (unsigned long)rq->caller->uid, j->a.err);
		vd_req_fail_code(rq, r == VD_EAUTH ? VD_RPC_AUTH : r ==
		    VD_EBUSY ? VD_RPC_UNAVAIL : VD_RPC_DB, j->a.err);
		goto out;
	}
	if ((r = setpw_commit(j, &v, &due)) != 0) {
		/* Copied: auditing may replace this thread's detail. */
		snprintf(why, sizeof(why), "%s", vd_err_detail());
		vd_err_format(r, buf, sizeof(buf));
		if (r == VD_EBUSY || r == VD_ENOTFOUND) {
			/* A rotation began, or the target went, meanwhile. */
			refuse_code(rq, j->name, r == VD_EBUSY ? why :
			    "no such target", vd_proto_code(r), NULL);
			goto out;
		}
		vd_log(LOG_ERR, "target.set_password %s: %s", j->name, buf);
		audit_now(d, rq, j->name, 0, "failed", buf);
		vd_req_fail(rq, r, buf);
		goto out;
	}
	vd_log(LOG_NOTICE, "target %s: password set by %s (uid %lu) as "
	    "version %llu (%s); its replacement is due %s", j->name,
	    rq->caller->user, (unsigned long)rq->caller->uid,
	    (unsigned long long)v, j->a.summary, vd_time_rfc3339(due, due_s,
	    sizeof(due_s)));
	vd_rotate_notify(d, j->name);
	vd_req_reply(rq, json_pack("{s:s, s:I, s:s, s:s, s:I}", "name",
	    j->name, "version", (json_int_t)v, "hosts", j->a.summary,
	    "next_rotation", due_s, "next_rotation_unix", (json_int_t)due));
 out:
	setpw_free(j);
}

/*
 * Reads what the probes need (loop thread, read transaction): the target
 * record and its admin account's password.  Fails with VD_ENOTFOUND for an
 * unknown target and VD_EBUSY while a rotation runs (detail set).
 */
static int
setpw_prep(struct setpwjob *j)
{
	struct vd_daemon *d = j->rq->d;
	struct vd_txn *t = NULL;
	uint64_t cur;
	int r;

	if ((r = vd_txn_begin(d->st, 0, &t)) != 0)
		return r;
	if ((r = vd_target_get(t, j->name, &j->target)) != 0) {
		r = vd_err_set(VD_ENOTFOUND, "no such target");
		goto out;
	}
	if ((r = setpw_idle(d, t, j->name, &cur)) != 0 ||
	    (r = vd_version_last(t, j->name, &j->seen_v)) != 0)
		goto out;
	if ((r = vd_apply_from_target(&j->a, j->name, j->target,
	    (unsigned)d->cfg->connect_timeout)) != 0)
		goto out;
	if (json_object_get(j->target, "admin_user") != NULL &&
	    (r = vd_admin_secret_get(t, j->name, &j->a.admin_pw)) != 0)
		r = vd_err_set(r == VD_ENOTFOUND ? VD_ESTORE : r, "target %s: "
		    "no password stored for its admin account", j->name);
 out:
	vd_txn_abort(t);
	return r;
}

static void
m_target_set_password(struct vd_req *rq, json_t *params)
{
	struct vd_daemon *d = rq->d;
	struct setpwjob *j;
	char why[300];
	json_t *pw;
	const char *name;
	int r;

	if ((name = target_param(rq, params)) == NULL)
		return;
	pw = json_object_get(params, "password");
	if (!json_is_string(pw) || json_string_length(pw) == 0 ||
	    json_string_length(pw) > VD_SECRET_MAX ||
	    memchr(json_string_value(pw), '\0', json_string_length(pw)) !=
	    NULL) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "password: required (no "
		    "NUL byte)");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	j->rq = rq;
	j->started = vd_now();
	memcpy(j->name, name, strlen(name) + 1);
	/* Into secure memory; the request's copy is wiped (freed) at once. */
	j->pw = vd_secret_from(json_string_value(pw), json_string_length(pw));
	json_object_del(params, "password");
	if (j->pw == NULL) {
		r = VD_ENOMEM;
		goto fail;
	}
	if ((r = setpw_prep(j)) == VD_ENOTFOUND || r == VD_EBUSY) {
		/* Copied: auditing may replace this thread's detail. */
		snprintf(why, sizeof(why), "%s", vd_err_detail());
		refuse_code(rq, j->name, why, vd_proto_code(r), NULL);
		setpw_free(j);
		return;
	}
	if (r != 0)
		goto fail;
	if ((r = uv_queue_work(d->loop, &j->work, setpw_work,
	    setpw_after)) != 0) {
		r = vd_err_set(VD_EBUSY, "cannot queue work: %s",
		    uv_strerror(r));
		goto fail;
	}
	d->inflight++;
	return;
 fail:
	setpw_free(j);
	vd_req_fail(rq, r, NULL);
}

/* --- get ---------------------------------------------------------------- */

/* Records a reveal in the target's schedule state for after-reveal. */
/*
 * revealed_v names the version disclosed: when it was a pending one that a
 * rotation then promotes, the after-reveal rotation still stands (rotate.c
 * record_in()).
 */
static int
mark_revealed(struct vd_txn *t, const char *name, uint64_t v,
    const json_t *target)
{
	json_t *s = NULL, *after;
	int r;

	after = json_object_get(target, "after_reveal");
	if (!json_is_integer(after))
		return 0;
	if ((s = json_pack("{s:I, s:I, s:I}", "revealed_at",
	    (json_int_t)vd_now(), "revealed_v", (json_int_t)v,
	    "after_reveal_due", (json_int_t)(vd_now() +
	    json_integer_value(after)))) == NULL)
		return VD_ENOMEM;
	r = vd_sched_update(t, name, s);
	json_decref(s);
	return r;
}

/*
 * Reveals are group-committed: m_get() checks the request and queues it;
 * once per loop iteration (a uv_check handle, after the poll phase that
 * read every request that arrived) reveal_flush() reads each password and
 * writes each audit entry in one write transaction, so one fsync covers
 * them all.  Nothing changes for the rule "no audit entry, no password":
 * every answer is sent only after the transaction holding its audit entry
 * committed.  A batch whose writes fail is redone one reveal per
 * transaction, so one bad write cannot cost the others their answer.
 */
struct vd_reveal {
	struct vd_reveal	*next;
	struct vd_req		*rq;		/* answered by reveal_answer() */
	struct vd_daemon	*d;		/* its daemon */
	const char		*name;		/* borrowed from rq->msg */
	char			 why[300];	/* a refusal's reason, or "" */
	char			 src[VD_NAME_MAX + 1];	/* whose password:
					 * name, or a replica's primary */
	uint64_t		 want;		/* version asked for, 0: current */
	uint64_t		 v;		/* version revealed */
	int			 err;		/* 0, or why it failed */
	int			 after;		/* target has after_reveal */
	int			 refused;	/* checkout rule said no (why) */
	uint64_t		 req_id;	/* under this checkout, or 0 */
	char			 note[48];	/* its audit reason */
	struct vd_secret	*pw;		/* the password, until answered */
};

/* Reads rv's password inside t; 0, or a read error also kept in rv->err. */
static int
reveal_read(struct vd_txn *t, struct vd_reveal *rv, json_t **target)
{
	json_t *meta = NULL;
	int r;

	rv->refused = 0;
	/* Dual control (issue 17): inside the reveal's transaction. */
	if ((r = vd_checkout_may_reveal(t, rv->rq, rv->name, &rv->req_id,
	    rv->why, sizeof(rv->why))) <= 0) {
		if (r == 0) {
			rv->refused = 1;
			r = VD_EPERM;
		}
		goto out;
	}
	snprintf(rv->note, sizeof(rv->note), "under checkout request %llu",
	    (unsigned long long)rv->req_id);
	if ((r = vd_target_get(t, rv->name, target)) != 0)
		goto out;
	snprintf(rv->src, sizeof(rv->src), "%s", rv->name);
	if (rv->want == 0 && json_is_string(json_object_get(*target,
	    "replica_of"))) {
		/*
		 * A replica takes its primary's password changes: the
		 * password in force there is the primary's.
		 */
		snprintf(rv->src, sizeof(rv->src), "%s", json_string_value(
		    json_object_get(*target, "replica_of")));
		json_decref(*target);
		*target = NULL;
		if ((r = vd_target_get(t, rv->src, target)) != 0)
			goto out;
	}
	rv->after = json_is_integer(json_object_get(*target, "after_reveal"));
	if (rv->want != 0) {
		rv->v = rv->want;
		if ((r = vd_version_get(t, rv->name, rv->v, &meta)) != 0)
			goto out;
	} else if ((rv->v = vd_rotate_in_force(rv->d, rv->src, NULL)) == 0) {
		uint64_t cur = 0, pending = 0;

		if ((r = vd_versions_find(t, rv->src, &cur, &pending)) != 0)
			goto out;
		if (pending != 0) {
			/*
			 * Still pending after the wait (m_get): which of the
			 * two is in force is not known, so neither is handed
			 * out as "the" password (the model's claim a).
			 */
			r = vd_err_set(VD_EBUSY, "%s: version %llu is pending "
			    "and its outcome is not known yet (vaultctl "
			    "history %s); the password in force is version "
			    "%llu or %llu: get --version N reveals either",
			    rv->src, (unsigned long long)pending, rv->src,
			    (unsigned long long)pending,
			    (unsigned long long)cur);
			snprintf(rv->why, sizeof(rv->why), "%s",
			    vd_err_detail());
			goto out;
		}
		if ((r = current_version(t, rv->src, &rv->v)) != 0)
			goto out;
	}
	r = vd_secret_get(t, rv->src, rv->v, &rv->pw);
 out:
	json_decref(meta);
	return rv->err = r;
}

/*
 * Reveals every entry of list in one write transaction.  Returns 0 once it
 * committed (each entry then holds its password or its own read error), or
 * the error that made the transaction fail: nothing was written and no
 * entry holds a password.
 */
static int
reveal_batch(struct vd_daemon *d, struct vd_reveal *list)
{
	struct vd_txn *t = NULL;
	struct vd_reveal *rv;
	json_t *target;
	int r;

	if ((r = vd_txn_begin(d->st, 1, &t)) != 0)
		return r;
	for (rv = list; rv != NULL && r == 0; rv = rv->next) {
		target = NULL;
		rv->err = 0;
		/* No audit entry, no password: both or neither commit. */
		if (reveal_read(t, rv, &target) == 0 &&
		    ((r = audit_in(t, rv->rq, rv->name, rv->v, "ok",
		    rv->req_id != 0 ? rv->note : strcmp(rv->src, rv->name) != 0 ?
		    "the password of its primary target" : NULL)) != 0 ||
		    (r = mark_revealed(t, rv->src, rv->v, target)) != 0))
			rv->err = r;
		else if (rv->refused && (r = audit_in(t, rv->rq, rv->name, 0,
		    "refused", rv->why)) != 0)
			rv->err = r;
		json_decref(target);
	}
	if (r == 0) {
		r = vd_txn_commit(t);	/* frees t */
		t = NULL;
	}
	vd_txn_abort(t);
	if (r != 0)
		for (rv = list; rv != NULL; rv = rv->next) {
			vd_secret_free(rv->pw);
			rv->pw = NULL;
		}
	return r;
}

static void reveal_queue(struct vd_reveal *rv);

/* The engine's answer to a get that waited for a rotation: reveal now. */
static void
reveal_resume(void *arg, int err, json_t *result)
{
	(void)err;
	(void)result;
	reveal_queue(arg);
}

/* Answers rv (password or error) and frees it. */
static void
reveal_answer(struct vd_daemon *d, struct vd_reveal *rv)
{
	struct vd_req *rq = rv->rq;
	json_t *res;

	if (rv->err != 0 || rv->pw == NULL) {
		vd_req_fail(rq, rv->err, rv->err == VD_ENOTFOUND ?
		    "no such target or version" : rv->why[0] ? rv->why : NULL);
		goto out;
	}
	vd_log(LOG_INFO, "password of %s version %llu revealed to %s "
	    "(uid %lu)", rv->name, (unsigned long long)rv->v,
	    rq->caller->user, (unsigned long)rq->caller->uid);
	res = json_pack("{s:s, s:I, s:s%}", "name", rv->name, "version",
	    (json_int_t)rv->v, "password", (const char *)rv->pw->data,
	    rv->pw->len);
	vd_secret_free(rv->pw);
	rv->pw = NULL;
	/*
	 * The engine reads after_reveal_due from the schedule record.  Before
	 * the answer: name points into the request, which answering frees.
	 */
	if (rv->after)
		vd_rotate_notify(d, rv->src);
	if (res == NULL)
		vd_req_fail_code(rq, VD_RPC_INTERNAL, "password is not UTF-8");
	else
		vd_req_reply(rq, res);
 out:
	vd_secret_free(rv->pw);
	free(rv);
}

/* The group commit of the reveals queued in this loop iteration. */
static void
reveal_flush(uv_check_t *h)
{
	struct vd_daemon *d = h->data;
	struct vd_reveal *list = d->reveals, *rv, *next;
	int r;

	uv_check_stop(h);
	d->reveals = NULL;
	d->reveals_tail = &d->reveals;
	if (list == NULL)
		return;
	if ((r = reveal_batch(d, list)) != 0 && list->next != NULL) {
		vd_log(LOG_WARNING, "%s: group commit of reveals failed, one "
		    "by one", vd_strerror(r));
		for (rv = list; rv != NULL; rv = next) {
			next = rv->next;
			rv->next = NULL;
			if ((r = reveal_batch(d, rv)) != 0)
				rv->err = r;
			reveal_answer(d, rv);
		}
		return;
	}
	if (r != 0)
		list->err = r;
	for (rv = list; rv != NULL; rv = next) {
		next = rv->next;
		reveal_answer(d, rv);
	}
}

static void
m_get(struct vd_req *rq, json_t *params)
{
	struct vd_daemon *d = rq->d;
	struct vd_reveal *rv;
	long long want = 0;
	const char *name;

	if ((name = target_param(rq, params)) == NULL)
		return;
	if (!vd_config_can_reveal(d->cfg, rq->caller->user,
	    rq->caller->groups, rq->caller->ngroups, name)) {
		refuse(rq, name, "reveal not allowed for this target");
		return;
	}
	if (pint(params, "version", 1, INT64_MAX, &want) != 0) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, vd_err_detail());
		return;
	}
	if ((rv = calloc(1, sizeof(*rv))) == NULL) {
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	rv->rq = rq;
	rv->d = d;
	rv->name = name;
	rv->want = (uint64_t)want;
	/*
	 * A rotation of the target in flight (or a pending version): the
	 * password in force is settled by its outcome; answer after it.
	 */
	if (want == 0 && vd_rotate_join(d, name, reveal_resume, rv) == 1)
		return;
	reveal_queue(rv);
}

/* Queues rv for the next group commit of reveals. */
static void
reveal_queue(struct vd_reveal *rv)
{
	struct vd_daemon *d = rv->d;
	int r;

	if (d->reveal_closed) {
		/*
		 * Stopping (a get that waited for a rotation finishing at
		 * shutdown): the batch handle is closed, reveal alone now.
		 */
		rv->next = NULL;
		if ((r = reveal_batch(d, rv)) != 0)
			rv->err = r;
		reveal_answer(d, rv);
		return;
	}
	if (!d->reveal_open) {
		uv_check_init(d->loop, &d->reveal_check);
		d->reveal_check.data = d;
		d->reveals_tail = &d->reveals;
		d->reveal_open = 1;
	}
	*d->reveals_tail = rv;
	d->reveals_tail = &rv->next;
	uv_check_start(&d->reveal_check, reveal_flush);
}

/* Answers the reveals still queued and closes the group commit's handle. */
void
vd_api_stop(struct vd_daemon *d)
{
	d->reveal_closed = 1;
	vd_refusals_stop(d);
	if (!d->reveal_open)
		return;
	reveal_flush(&d->reveal_check);
	uv_close((uv_handle_t *)&d->reveal_check, NULL);
	d->reveal_open = 0;
}

/* --- rotate ------------------------------------------------------------- */

/*
 * The message for a job that ended with err: the engine's reason, or,
 * when the server took the change (result "ok") but its record failed
 * (a full disk …) and the engine gave no reason but "ok", that, and what
 * happens next; never "No space left on device: ok".
 */
static const char *
job_err(int err, const json_t *result, char *buf, size_t len)
{
	const char *out = json_string_value(json_object_get(result,
	    "result"));
	const char *hosts = json_string_value(json_object_get(result,
	    "hosts"));

	/* The engine's reason is its outcome's name when it had no other. */
	if (out != NULL && strcmp(out, "ok") == 0 &&
	    strcmp(vd_err_detail(), "ok") == 0) {
		snprintf(buf, len, "the server holds version %lld (%s), but "
		    "vaultd could not record it: %s; get serves that version "
		    "and vaultd retries the record (free space, then vaultctl "
		    "status)", (long long)json_integer_value(json_object_get(
		    result, "version")), hosts != NULL && *hosts ? hosts : "-",
		    vd_strerror(err));
		return buf;
	}
	return vd_err_format(err, buf, len);
}

static void
rotate_done(void *arg, int err, json_t *result)
{
	struct vd_req *rq = arg;
	char buf[700];

	if (err != 0)
		vd_req_fail(rq, err, job_err(err, result, buf, sizeof(buf)));
	else
		vd_req_reply(rq, result != NULL ? json_incref(result) :
		    json_pack("{s:b}", "ok", 1));
}

/*
 * A `rotate` with "all": one request per target to the engine, which runs
 * them within its concurrency limit.  Lives until the last one has ended
 * (with wait) or until the requests are made (without).
 */
struct batch {
	struct vd_req	*rq;		/* answered once every item ended */
	json_t		*results;	/* [{name, version, result, error}] */
	size_t		 total;		/* targets requested */
	size_t		 ended;		/* items with an outcome */
	size_t		 failed;	/* items that ended in failure */
	int		 wait;		/* answer only when all ended */
	int		 progress;	/* send rotate.progress lines */
	int		 requesting;	/* still in the request loop */
};

/* One target of a batch: the engine's callback argument. */
struct batch_item {
	struct batch	*b;		/* its batch */
	size_t		 idx;		/* its slot in b->results */
};

static void
batch_answer(struct batch *b)
{
	vd_req_reply(b->rq, json_pack("{s:I, s:I, s:I, s:o}", "total",
	    (json_int_t)b->total, "ok", (json_int_t)(b->ended - b->failed),
	    "failed", (json_int_t)b->failed, "results", b->results));
	b->results = NULL;
	free(b);
}

/* Records item idx's outcome; the error text is the engine's (no secret). */
static void
batch_record(struct batch *b, size_t idx, int err, const json_t *result,
    const char *why)
{
	json_t *o = json_array_get(b->results, idx), *v;

	v = json_object_get(result, "version");
	json_object_set_new(o, "version", json_is_integer(v) ? json_copy(v) :
	    json_null());
	v = json_object_get(result, "result");
	/* On the server, but not recorded: not "ok". */
	json_object_set_new(o, "result", err != 0 && json_is_string(v) &&
	    strcmp(json_string_value(v), "ok") == 0 ? json_string(
	    "unrecorded") : json_is_string(v) ? json_copy(v) :
	    json_string(err != 0 ? "failed" : "ok"));
	json_object_set_new(o, "error", err != 0 ? json_string(why) :
	    json_null());
	v = json_object_get(result, "hosts");
	if (json_is_string(v))
		json_object_set_new(o, "hosts", json_copy(v));
	b->ended++;
	if (err != 0)
		b->failed++;
}

static void
batch_done(void *arg, int err, json_t *result)
{
	struct batch_item *it = arg;
	struct batch *b = it->b;
	char buf[700];

	batch_record(b, it->idx, err, result, err != 0 ?
	    job_err(err, result, buf, sizeof(buf)) : NULL);
	free(it);
	if (b->progress && !b->requesting) {
		/* A JSON-RPC notification: no id, the answer follows later. */
		vd_req_notify(b->rq, json_pack("{s:s, s:s, s:{s:I, s:I, "
		    "s:I}}", "jsonrpc", "2.0", "method", "rotate.progress",
		    "params", "total", (json_int_t)b->total, "ended",
		    (json_int_t)b->ended, "failed", (json_int_t)b->failed));
	}
	if (b->ended == b->total && !b->requesting)
		batch_answer(b);
}

static int
names_cb(const char *name, json_t *obj, void *arg)
{
	/* A replica changes with its primary: not rotated itself. */
	if (json_object_get(obj, "replica_of") != NULL)
		return 0;
	return json_array_append_new(arg, json_pack("{s:s}", "name", name)) ==
	    0 ? 0 : VD_ENOMEM;
}

/*
 * rotate {"all": true}, and check {"all": true} (check: drift checks,
 * vd_rotate_check(), always waited for): every target; see struct batch.
 */
static void
rotate_all(struct vd_req *rq, int wait, int progress, int check)
{
	struct vd_daemon *d = rq->d;
	struct vd_txn *t = NULL;
	struct batch *b;
	struct batch_item *it;
	char reason[64], buf[300];
	int r;

	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->results = json_array()) == NULL) {
		free(b);
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	b->rq = rq;
	b->wait = wait;
	b->progress = wait && progress;
	/* One audit entry for the batch, naming the count; never a secret. */
	if ((r = vd_txn_begin(d->st, 1, &t)) != 0 ||
	    (r = vd_target_each(t, names_cb, b->results)) < 0)
		goto fail;
	b->total = json_array_size(b->results);
	snprintf(reason, sizeof(reason), "all targets (%zu)", b->total);
	if ((r = audit_in(t, rq, NULL, 0, "requested", reason)) != 0)
		goto fail;
	r = vd_txn_commit(t);
	t = NULL;
	if (r != 0)
		goto fail;
	vd_log(LOG_INFO, "%s of all %zu targets requested by %s (uid %lu)",
	    check ? "drift check" : "rotation", b->total, rq->caller->user,
	    (unsigned long)rq->caller->uid);
	b->requesting = 1;
	for (size_t i = 0; i < b->total; i++) {
		const char *name = json_string_value(json_object_get(
		    json_array_get(b->results, i), "name"));

		it = NULL;
		if (wait && (it = calloc(1, sizeof(*it))) == NULL) {
			vd_err_clear();
			batch_record(b, i, VD_ENOMEM, NULL, vd_strerror(
			    VD_ENOMEM));
			continue;
		}
		if (it != NULL) {
			it->b = b;
			it->idx = i;
		}
		vd_err_clear();
		if ((r = check ? vd_rotate_check(d, name, batch_done, it) :
		    vd_rotate_request(d, name, "manual", wait ? batch_done :
		    NULL, it)) != 0) {
			/* Refused now: the callback will not come. */
			free(it);
			batch_record(b, i, r, NULL, vd_err_detail()[0] ?
			    vd_err_detail() : vd_strerror(r));
		} else if (!wait) {
			json_object_set_new(json_array_get(b->results, i),
			    "result", json_string("requested"));
			json_object_set_new(json_array_get(b->results, i),
			    "error", json_null());
		}
	}
	b->requesting = 0;
	if (!wait) {
		vd_req_reply(rq, json_pack("{s:I, s:I, s:I, s:o}", "total",
		    (json_int_t)b->total, "accepted", (json_int_t)(b->total -
		    b->failed), "failed", (json_int_t)b->failed, "results",
		    b->results));
		free(b);
	} else if (b->ended == b->total)
		batch_answer(b);	/* none accepted, or none to rotate */
	return;
 fail:
	vd_txn_abort(t);
	json_decref(b->results);
	free(b);
	vd_req_fail(rq, r, vd_err_format(r, buf, sizeof(buf)));
}

static void
m_rotate(struct vd_req *rq, json_t *params)
{
	struct vd_daemon *d = rq->d;
	struct vd_txn *t = NULL;
	json_t *target = NULL, *w, *all, *prog;
	const char *name;
	int r, wait;

	w = json_object_get(params, "wait");
	all = json_object_get(params, "all");
	prog = json_object_get(params, "progress");
	if ((w != NULL && !json_is_boolean(w)) ||
	    (all != NULL && !json_is_boolean(all)) ||
	    (prog != NULL && !json_is_boolean(prog))) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "wait, all, progress: "
		    "expected booleans");
		return;
	}
	wait = json_is_true(w);
	if (json_is_true(all)) {
		if (json_object_get(params, "name") != NULL) {
			vd_req_fail_code(rq, VD_RPC_PARAMS, "name and all: "
			    "give one of them");
			return;
		}
		rotate_all(rq, wait, json_is_true(prog), 0);
		return;
	}
	if ((name = target_param(rq, params)) == NULL)
		return;
	if ((r = vd_txn_begin(d->st, 1, &t)) != 0 ||
	    (r = vd_target_get(t, name, &target)) != 0 ||
	    (r = audit_in(t, rq, name, 0, "requested", NULL)) != 0) {
		vd_txn_abort(t);
		vd_req_fail(rq, r, r == VD_ENOTFOUND ? "no such target" : NULL);
		return;
	}
	json_decref(target);
	if ((r = vd_txn_commit(t)) != 0) {
		vd_req_fail(rq, r, NULL);
		return;
	}
	vd_err_clear();
	if ((r = vd_rotate_request(d, name, "manual", wait ? rotate_done :
	    NULL, wait ? rq : NULL)) != 0) {
		vd_req_fail_code(rq, vd_proto_code(r), vd_err_detail()[0] ?
		    vd_err_detail() : vd_strerror(r));
		return;
	}
	if (!wait)
		vd_req_reply(rq, json_pack("{s:b}", "accepted", 1));
}

/*
 * A check's outcome: the result, or an error naming the outcome, the
 * engine's reason (the host that refused; vd_err_detail()) and what to do.
 */
static void
check_done(void *arg, int err, json_t *result)
{
	struct vd_req *rq = arg;
	const char *out = json_string_value(json_object_get(result, "result"));
	char msg[900];

	if (err == 0) {
		vd_req_reply(rq, json_incref(result));
		return;
	}
	snprintf(msg, sizeof(msg), "%s: %s%s", out != NULL ? out : "failed",
	    vd_err_detail()[0] ? vd_err_detail() : vd_strerror(err),
	    err == VD_EAUTH ? "; vaultd repairs drift through the admin "
	    "account or a kept version (vaultctl status; docs/operations.md "
	    "section 8)" : "");
	vd_req_fail_code(rq, err == VD_EAUTH ? VD_RPC_AUTH : vd_proto_code(err),
	    msg);
}

/*
 * check {"name": N} | {"all": true}: a drift check now (vd_rotate_check()),
 * answered with its outcome: the current password verified by a fresh
 * login on every account host.  Audited when asked.
 */
static void
m_check(struct vd_req *rq, json_t *params)
{
	struct vd_daemon *d = rq->d;
	json_t *all = json_object_get(params, "all");
	const char *name;
	int r;

	if (all != NULL && !json_is_boolean(all)) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "all: expected a boolean");
		return;
	}
	if (json_is_true(all)) {
		if (json_object_get(params, "name") != NULL) {
			vd_req_fail_code(rq, VD_RPC_PARAMS, "name and all: "
			    "give one of them");
			return;
		}
		rotate_all(rq, 1, 0, 1);
		return;
	}
	if ((name = target_param(rq, params)) == NULL)
		return;
	if ((r = audit_now(d, rq, name, 0, "requested", NULL)) != 0) {
		vd_req_fail(rq, r, NULL);
		return;
	}
	vd_err_clear();
	if ((r = vd_rotate_check(d, name, check_done, rq)) != 0)
		vd_req_fail_code(rq, vd_proto_code(r), vd_err_detail()[0] ?
		    vd_err_detail() : vd_strerror(r));
}

/* --- history / audit ---------------------------------------------------- */

static int
seq_cb(uint64_t seq, json_t *entry, void *arg)
{
	json_t *o = json_copy(entry);

	if (o == NULL)
		return VD_ENOMEM;
	json_object_set_new(o, "seq", json_integer((json_int_t)seq));
	return json_array_append_new(arg, o) == 0 ? 0 : VD_ENOMEM;
}

static void
m_history(struct vd_req *rq, json_t *params)
{
	struct vd_txn *t = NULL;
	json_t *arr, *target = NULL;
	long long limit = LIMIT_DEFAULT, before = 0;
	const char *name;
	int r;

	if ((name = target_param(rq, params)) == NULL)
		return;
	if (pint(params, "limit", 1, LIMIT_MAX, &limit) != 0 ||
	    pint(params, "before", 0, INT64_MAX, &before) != 0) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, vd_err_detail());
		return;
	}
	arr = json_array();
	if ((r = vd_txn_begin(rq->d->st, 0, &t)) != 0)
		goto fail;
	if ((r = vd_target_get(t, name, &target)) != 0 && r != VD_ENOTFOUND)
		goto fail;
	if ((r = hist_each(t, name, target, (uint64_t)before, (size_t)limit,
	    seq_cb, arr)) < 0)
		goto fail;
	/* A removed target keeps its history; a never-known one has none. */
	if (json_array_size(arr) == 0 && target == NULL) {
		r = VD_ENOTFOUND;
		goto fail;
	}
	json_decref(target);
	vd_txn_abort(t);
	vd_req_reply(rq, json_pack("{s:s, s:o}", "name", name, "entries",
	    arr));
	return;
 fail:
	vd_txn_abort(t);
	json_decref(arr);
	json_decref(target);
	vd_req_fail(rq, r, r == VD_ENOTFOUND ? "no such target" : NULL);
}

static void
m_audit_list(struct vd_req *rq, json_t *params)
{
	struct vd_txn *t = NULL;
	json_t *arr;
	long long limit = LIMIT_DEFAULT;
	int r;

	if (pint(params, "limit", 1, LIMIT_MAX, &limit) != 0) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, vd_err_detail());
		return;
	}
	arr = json_array();
	if ((r = vd_txn_begin(rq->d->st, 0, &t)) != 0 ||
	    (r = vd_audit_each(t, (size_t)limit, seq_cb, arr)) < 0) {
		vd_txn_abort(t);
		json_decref(arr);
		vd_req_fail(rq, r, NULL);
		return;
	}
	vd_txn_abort(t);
	vd_req_reply(rq, json_pack("{s:o}", "entries", arr));
}

/* --- unseal ------------------------------------------------------------- */

/* An unseal whose Argon2id runs on the thread pool. */
struct unsealjob {
	uv_work_t		 work;	/* libuv request */
	struct vd_req		*rq;	/* answered in unseal_after */
	struct vd_secret	*pass;	/* the passphrase */
	int			 r;	/* vd_store_unlock() result */
};

static void
unseal_work(uv_work_t *w)
{
	struct unsealjob *j = container_of(w, struct unsealjob, work);

	/* No other store use while d->unsealing is set (see sealed()). */
	j->r = vd_store_unlock(j->rq->d->st, j->pass);
}

static void
unseal_after(uv_work_t *w, int status)
{
	struct unsealjob *j = container_of(w, struct unsealjob, work);
	struct vd_req *rq = j->rq;
	struct vd_daemon *d = rq->d;
	int r = status != 0 ? VD_EBUSY : j->r;

	d->inflight--;
	d->unsealing = 0;
	vd_secret_free(j->pass);
	free(j);
	if (r != 0) {
		vd_log(LOG_WARNING, "unseal by %s (uid %lu) failed: %s",
		    rq->caller->user, (unsigned long)rq->caller->uid,
		    vd_strerror(r));
		vd_req_fail(rq, r, r == VD_EBADKEY ? "wrong passphrase" :
		    vd_strerror(r));
		return;
	}
	if ((r = audit_now(d, rq, NULL, 0, "ok", NULL)) != 0)
		vd_log(LOG_ERR, "unseal: audit entry failed: %s",
		    vd_strerror(r));
	vd_log(LOG_NOTICE, "vault unsealed by %s (uid %lu)", rq->caller->user,
	    (unsigned long)rq->caller->uid);
	vd_notify_status("vault unlocked, serving");
	if ((r = vd_rotate_start(d)) != 0)
		log_err_r("rotation engine", r);
	vd_req_reply(rq, json_pack("{s:b}", "sealed", 0));
}

static void
m_unseal(struct vd_req *rq, json_t *params)
{
	struct vd_daemon *d = rq->d;
	struct unsealjob *j;
	json_t *p = json_object_get(params, "passphrase");
	int r;

	if (!json_is_string(p) || json_string_length(p) == 0 ||
	    json_string_length(p) > VD_SECRET_MAX) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "passphrase: required");
		return;
	}
	if (d->unsealing) {
		vd_req_fail_code(rq, VD_RPC_UNAVAIL, "an unseal is running");
		return;
	}
	if (vd_store_unlocked(d->st)) {
		vd_req_reply(rq, json_pack("{s:b}", "sealed", 0));
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->pass = vd_secret_from(json_string_value(p),
	    json_string_length(p))) == NULL) {
		free(j);
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	j->rq = rq;
	if ((r = uv_queue_work(d->loop, &j->work, unseal_work,
	    unseal_after)) != 0) {
		vd_secret_free(j->pass);
		free(j);
		vd_req_fail(rq, VD_EBUSY, NULL);
		return;
	}
	d->inflight++;
	d->unsealing = 1;
}

/* --- dispatch ----------------------------------------------------------- */

/* --- escrow ------------------------------------------------------------ */

/*
 * escrow.export (admin): every escrow envelope as a bundle with its index
 * and audit checkpoint signed by the vault (bundle_index.h), base64 in the
 * answer.  No plaintext: the bundle opens only with an escrow party's key.
 */
static void
m_escrow_export(struct vd_req *rq, json_t *params)
{
	struct vd_daemon *d = rq->d;
	struct vd_txn *t = NULL;
	unsigned char *buf = NULL;
	char *b64 = NULL;
	size_t len = 0, blen;
	int r;

	/* Audited first: the bundle's checkpoint includes its own export. */
	if ((r = vd_txn_begin(d->st, 1, &t)) != 0 ||
	    (r = audit_in(t, rq, NULL, 0, "ok", NULL)) != 0 ||
	    (r = vd_bundle_build(d->st, t, vd_now(), &buf, &len)) != 0) {
		vd_txn_abort(t);
		free(buf);
		vd_req_fail(rq, r, NULL);
		return;
	}
	if ((r = vd_txn_commit(t)) != 0) {
		free(buf);
		vd_req_fail(rq, r, NULL);
		return;
	}
	blen = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	if ((b64 = malloc(blen)) == NULL) {
		free(buf);
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	sodium_bin2base64(b64, blen, buf, len, sodium_base64_VARIANT_ORIGINAL);
	vd_log(LOG_INFO, "escrow bundle (%zu bytes) exported by %s (uid %lu)",
	    len, rq->caller->user, (unsigned long)rq->caller->uid);
	vd_req_reply(rq, json_pack("{s:s,s:I,s:s}", "bundle", b64, "bytes",
	    (json_int_t)len, "vault_id", vd_store_id(d->st)));
	free(b64);
	free(buf);
}

/*
 * breakglass.report {report: OPENING, vault_id: ID}: a break-glass opening
 * made with vaultctl on this vault's data directory (which vaultctl opens
 * read-only: vaultd is its only writer).  The opening is stored as a
 * report and handled at once: audited (event "breakglass") and the target
 * (a replica's primary) rotated.  vault_id must be this vault's, so an
 * opening of another vault is not recorded here.  Role operator.
 */
static void
m_breakglass_report(struct vd_req *rq, json_t *params)
{
	struct vd_daemon *d = rq->d;
	struct vd_txn *t = NULL;
	json_t *o = json_object_get(params, "report"), *copy = NULL;
	const char *vid, *target;
	uint64_t v;
	int bad = 0, r;

	vid = pstr(params, "vault_id", &bad);
	if (bad || vid == NULL || !json_is_object(o) ||
	    vd_escrow_report_check(o, &target, &v) != 0) {
		vd_req_fail_code(rq, VD_RPC_PARAMS, "breakglass.report: give "
		    "report (a break-glass opening) and vault_id");
		return;
	}
	if (strcmp(vid, vd_store_id(d->st)) != 0) {
		char msg[160];

		snprintf(msg, sizeof(msg), "breakglass.report: the opening is "
		    "of another vault (this is vault %s)", vd_store_id(d->st));
		vd_req_fail_code(rq, VD_RPC_PARAMS, msg);
		return;
	}
	if ((copy = json_deep_copy(o)) == NULL ||
	    json_object_set_new(copy, "reported_by", json_string(
	    rq->caller->user)) != 0 ||
	    json_object_set_new(copy, "reported_uid", json_integer(
	    (json_int_t)rq->caller->uid)) != 0) {
		json_decref(copy);
		vd_req_fail(rq, VD_ENOMEM, NULL);
		return;
	}
	if ((r = vd_txn_begin(d->st, 1, &t)) != 0 ||
	    (r = vd_escrow_report_add(t, target, v, copy)) != 0) {
		vd_txn_abort(t);
		json_decref(copy);
		vd_req_fail(rq, r, NULL);
		return;
	}
	json_decref(copy);
	if ((r = vd_txn_commit(t)) != 0) {
		vd_req_fail(rq, r, NULL);
		return;
	}
	/* Audits every stored report and requests the rotations now. */
	vd_escrowd_breakglass_reports(d);
	vd_req_reply(rq, json_pack("{s:s,s:I}", "target", target, "version",
	    (json_int_t)v));
}

static const struct method methods[] = {
	{ "status", VD_ROLE_OPERATOR, 0, m_status },
	{ "target.add", 0, 1, m_target_add },
	{ "target.list", VD_ROLE_OPERATOR | VD_ROLE_AUDITOR, 1,
	    m_target_list },
	{ "target.show", VD_ROLE_OPERATOR | VD_ROLE_AUDITOR, 1,
	    m_target_show },
	{ "target.remove", 0, 1, m_target_remove },
	{ "target.set_password", 0, 1, m_target_set_password },
	{ "target.abandon", 0, 1, m_target_abandon },
	{ "target.set", 0, 1, m_target_set },
	{ "check", VD_ROLE_OPERATOR, 1, m_check },
	{ "target.check", VD_ROLE_OPERATOR, 1, m_target_check },
	{ "get", VD_ROLE_REVEAL, 1, m_get },
	{ "rotate", VD_ROLE_OPERATOR, 1, m_rotate },
	{ "history", VD_ROLE_OPERATOR | VD_ROLE_AUDITOR, 1, m_history },
	{ "audit.list", VD_ROLE_AUDITOR, 1, m_audit_list },
	{ "unseal", 0, 0, m_unseal },
	{ "escrow.export", 0, 1, m_escrow_export },
	{ "breakglass.report", VD_ROLE_OPERATOR, 1, m_breakglass_report },
	/* Access requests and checkouts (checkout.h; per-target checks
	 * inside: reveal right to ask, approver entry to answer). */
	{ "request", VD_ROLE_REVEAL, 1, vd_checkout_m_request },
	{ "requests", VD_ROLE_REVEAL | VD_ROLE_APPROVER | VD_ROLE_AUDITOR |
	    VD_ROLE_OPERATOR, 1, vd_checkout_m_list },
	{ "approve", VD_ROLE_APPROVER, 1, vd_checkout_m_approve },
	{ "deny", VD_ROLE_APPROVER, 1, vd_checkout_m_deny },
	{ "checkin", VD_ROLE_REVEAL, 1, vd_checkout_m_checkin },
	{ "revoke", 0, 1, vd_checkout_m_revoke },
};

/* Checks roles and runs the method's handler. */
void
vd_api_dispatch(struct vd_req *rq, json_t *params)
{
	const struct vd_caller *c = rq->caller;
	const struct method *m = NULL;
	unsigned roles;
	int bad = 0;
	const char *target;

	for (size_t i = 0; i < VD_NELEM(methods); i++)
		if (strcmp(methods[i].name, rq->method) == 0)
			m = &methods[i];
	if (m == NULL) {
		vd_req_fail_code(rq, VD_RPC_NOMETHOD, "method not found");
		return;
	}
	if (rq->d->stopping) {
		vd_req_fail_code(rq, VD_RPC_SHUTDOWN, "vaultd is shutting down");
		return;
	}
	roles = vd_config_roles(rq->d->cfg, c->user, c->groups, c->ngroups);
	if (!(roles & VD_ROLE_ADMIN) && !(roles & m->roles)) {
		/*
		 * Audited once per uid and interval, then summarised
		 * (refusals.h): no durable write per refused call.
		 */
		if (!vd_refusals_note(rq->d, c->uid, c->user, rq->method)) {
			vd_req_fail_code(rq, VD_RPC_PERM, "permission denied");
			return;
		}
		target = pstr(params, "name", &bad);
		refuse(rq, target != NULL && vd_name_valid(target) ? target :
		    NULL, "caller lacks the role");
		return;
	}
	if (m->unsealed && sealed(rq->d)) {
		vd_req_fail_code(rq, VD_RPC_SEALED, "vault is sealed: run "
		    "vaultctl unseal");
		return;
	}
	vd_err_clear();
	m->fn(rq, params);
}
