/*
 * versions.c - a target's version records (versions.h): find, move through
 * the version machine (state.h), the older versions a repair may try, and
 * what happens to the old ones when a new version becomes current.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "mem.h"
#include "state.h"
#include "store.h"
#include "versions.h"

/* See versions.h. */
int
vd_versions_state(const json_t *meta)
{
	enum vd_vstate s;

	return vd_vstate_parse(json_string_value(json_object_get(meta, "state")), &s) == 0 ? (int)s : -1;
}

struct vers {
	uint64_t	 cur;		/* current version (0: none) */
	uint64_t	 pending;	/* newest pending version (0: none) */
};

static int
vers_cb(uint64_t v, json_t *meta, void *arg)
{
	struct vers *vs = arg;
	int s = vd_versions_state(meta);

	if (s == VD_VS_PENDING && vs->pending == 0 && vs->cur == 0)
		vs->pending = v;
	else if (s == VD_VS_CURRENT) {
		vs->cur = v;
		return 1;	/* older versions do not matter */
	}
	return 0;
}

/* See versions.h. */
int
vd_versions_find(struct vd_txn *t, const char *name, uint64_t *cur,
    uint64_t *pending)
{
	struct vers vs = { 0, 0 };
	int r;

	r = vd_version_each(t, name, 0, vers_cb, &vs);
	*cur = vs.cur;
	if (pending != NULL)
		*pending = vs.pending;
	return r < 0 ? r : 0;
}

/*
 * Moves version v by event ev (keeping its other fields), through the
 * version machine's one transition function: a move the protocol forbids
 * is refused (VD_ECORRUPT) and nothing is written.
 */
int
vd_versions_move(struct vd_txn *t, const char *name, uint64_t v,
    enum vd_vevent ev, const char *ts)
{
	json_t *m = NULL;
	int r, from, to;

	if ((r = vd_version_get(t, name, v, &m)) != 0)
		return r;
	from = vd_versions_state(m);
	if (from < 0 || (to = vd_vstate_next((enum vd_vstate)from, ev)) < 0) {
		r = vd_err_set(VD_ECORRUPT, "%s version %llu: no transition %s "
		    "from state %s", name, (unsigned long long)v,
		    vd_vevent_name(ev), from < 0 ? "(none)" :
		    vd_vstate_name((enum vd_vstate)from));
		json_decref(m);
		return r;
	}
	json_object_set_new(m, "state", json_string(vd_vstate_name(
	    (enum vd_vstate)to)));
	json_object_set_new(m, "updated_at", json_string(ts));
	r = vd_version_put(t, name, v, m);
	json_decref(m);
	return r;
}

/*
 * The older versions a drift repair may log in with.  A version can be in
 * force on the server if it ever was: "previous" and "retired" ones (a
 * restored backup brings one back), and a "pending" one other than the
 * job's own (superseded: it may have applied).  Not a "failed" one: the
 * engine marks a version failed only when its rotation changed nothing
 * (refused, unreachable or in drift before any statement; an unknown
 * outcome keeps it pending), so it never was in force.  Only versions
 * whose password is still stored count; the walk stops at the target's
 * registration (trigger "initial": versions before it belong to an earlier
 * target of that name, maybe on another server) and at a retired version
 * whose password is gone (older ones were pruned before it).
 */
struct older {
	struct vd_txn	*t;
	const char	*name;
	uint64_t	 cur, own;	/* current, and the job's pending */
	uint64_t	*vs;		/* their versions */
	struct vd_secret **pws;		/* their passwords; NULL: count only */
	size_t		 max;		/* stop after this many */
	size_t		 n;		/* found so far */
};

static int
older_cb(uint64_t v, json_t *meta, void *arg)
{
	struct older *o = arg;
	const char *trig = json_string_value(json_object_get(meta,
	    "trigger"));
	int s = vd_versions_state(meta);
	struct vd_secret *pw = NULL;
	int r;

	if (v != o->cur && v != o->own && (s == VD_VS_PREVIOUS ||
	    s == VD_VS_RETIRED || s == VD_VS_PENDING)) {
		r = vd_secret_get(o->t, o->name, v, &pw);
		if (r == VD_ENOTFOUND && s == VD_VS_RETIRED)
			return 1;
		if (r == 0 && o->pws != NULL) {
			o->pws[o->n] = pw;
			o->vs[o->n] = v;
		} else
			vd_secret_free(pw);
		/* An unreadable record is skipped: never stops recovery. */
		if (r == 0 && ++o->n == o->max)
			return 1;
	}
	return trig != NULL && strcmp(trig, "initial") == 0;
}

/* See versions.h. */
int
vd_versions_older(struct vd_txn *t, const char *name, uint64_t cur,
    uint64_t own, size_t max, uint64_t *vs, struct vd_secret **pws,
    size_t *np)
{
	struct older o = { t, name, cur, own, vs, pws, pws ? max : 1, 0 };
	int r;

	*np = 0;
	if (o.max == 0)
		return 0;
	r = vd_version_each(t, name, 0, older_cb, &o);
	*np = o.n;
	return r < 0 ? r : 0;
}

/* Retires passwords of versions older than the VD_KEEP_VERSIONS newest. */
struct prune {
	struct vd_txn	*t;
	const char	*name;
	uint64_t	 v;		/* the new current version */
	const char	*ts;
	unsigned	 seen;
	int		 r;
};

static int
prune_cb(uint64_t v, json_t *meta, void *arg)
{
	struct prune *p = arg;
	int s = vd_versions_state(meta);
	int r;

	/*
	 * A failed version was never in force (a rotation that may have
	 * applied stays pending): its password has no use, and it must not
	 * push out an older one that a restored server may still hold.
	 */
	if (s == VD_VS_FAILED) {
		r = vd_secret_del(p->t, p->name, v);
		return r != 0 && r != VD_ENOTFOUND ? (p->r = r) : 0;
	}
	if (s == VD_VS_PENDING && v != p->v) {
		/*
		 * set-password over a pending version: it may have been in
		 * force somewhere, so it becomes "previous" (kept).
		 */
		if ((r = vd_versions_move(p->t, p->name, v, VD_VE_SUPERSEDE,
		    p->ts)) != 0)
			return p->r = r;
		s = VD_VS_PREVIOUS;
	}
	if (++p->seen <= VD_KEEP_VERSIONS || s < 0)
		return 0;
	if (s == VD_VS_RETIRED)
		return 1;	/* older ones were retired before */
	if (s == VD_VS_PENDING || s == VD_VS_CURRENT)
		return 0;
	r = vd_secret_del(p->t, p->name, v);
	if (r != 0 && r != VD_ENOTFOUND)
		return p->r = r;
	if (s == VD_VS_PREVIOUS &&
	    (r = vd_versions_move(p->t, p->name, v, VD_VE_PRUNE, p->ts)) != 0)
		return p->r = r;
	return 0;
}

/* See versions.h. */
int
vd_versions_supersede(struct vd_txn *t, const char *target, uint64_t cur,
    uint64_t v, const char *ts)
{
	struct prune p = { t, target, v, ts, 0, 0 };
	int r;

	if (cur != 0 && cur != v &&
	    (r = vd_versions_move(t, target, cur, VD_VE_SUPERSEDE, ts)) != 0)
		return r;
	if ((r = vd_version_each(t, target, 0, prune_cb, &p)) < 0)
		return r;
	return p.r;
}
