/*
 * bundle_index.c - the signed index and audit checkpoint of an escrow
 * bundle; see bundle_index.h for what it defends and the format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "audit_mark.h"
#include "bundle_index.h"
#include "err.h"
#include "wire.h"

#define BUNDLE2_MAGIC	"VDBUNDL2"
#define INDEX_MAGIC	"VDINDEX1"
#define INDEX_DOMAIN	"vaultd-index-sig-v1"	/* signature domain */
#define HB		VD_BINDEX_HASHBYTES
#define PKB		VD_ESCROW_PKBYTES
#define SIGB		VD_ESCROW_SIGBYTES
/* The smallest entry: 1-byte target, version, state, 1-byte party, hash. */
#define ENTRY_MIN	(1 + 1 + 8 + 1 + 1 + 1 + HB)
/* Header: magic, pk, exported, audit count, audit head, n. */
#define HEAD_LEN	(8 + PKB + 8 + 8 + HB + 4)

static const char *const state_names[] = {
	"unknown", "pending", "current", "previous", "retired", "failed",
};

const char *
vd_bindex_state_name(unsigned state)
{
	return state < sizeof(state_names) / sizeof(state_names[0]) ?
	    state_names[state] : "unknown";
}

static unsigned
state_code(const char *name)
{
	for (unsigned i = 1; name != NULL &&
	    i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return VD_BIS_UNKNOWN;
}

/* Orders entries by target, version, party (bytes). */
static int
entry_cmp(const void *a, const void *b)
{
	const struct vd_bindex_entry *x = a, *y = b;
	int c;

	if ((c = strcmp(x->target, y->target)) != 0)
		return c;
	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return strcmp(x->party, y->party);
}

/* ---- building ------------------------------------------------------- */

/* Entries gathered from the store. */
struct gather {
	struct vd_txn		*t;	/* for the version states */
	struct vd_bindex_entry	*e;	/* malloc'd */
	size_t			 n;	/* in use */
	size_t			 cap;	/* allocated */
};

static int
gather_cb(const char *target, uint64_t v, const char *party,
    const unsigned char *env, size_t len, void *arg)
{
	struct gather *g = arg;
	struct vd_bindex_entry *e;
	json_t *meta = NULL;

	if (strcmp(party, VD_ESCROW_REPORT) == 0)
		return 0;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		struct vd_bindex_entry *ne;

		if ((ne = realloc(g->e, cap * sizeof(*ne))) == NULL)
			return VD_ENOMEM;
		g->e = ne;
		g->cap = cap;
	}
	e = &g->e[g->n];
	memset(e, 0, sizeof(*e));
	snprintf(e->target, sizeof(e->target), "%s", target);
	snprintf(e->party, sizeof(e->party), "%s", party);
	e->version = v;
	crypto_generichash(e->hash, HB, env, len, NULL, 0);
	if (vd_version_get(g->t, target, v, &meta) == 0)
		e->state = state_code(json_string_value(json_object_get(meta,
		    "state")));
	json_decref(meta);
	g->n++;
	return 0;
}

/*
 * Encodes the index of g's entries into b, with room (zeros) for the
 * signer's pk and the signature, which the signer fills in.
 */
static void
index_encode(const struct gather *g, int64_t now, uint64_t count,
    const unsigned char *head, struct obuf *b)
{
	static const unsigned char zero[SIGB];

	ob_add(b, INDEX_MAGIC, 8);
	ob_add(b, zero, PKB);
	ob_be(b, (uint64_t)now, 8);
	ob_be(b, count, 8);
	ob_add(b, head, HB);
	ob_be(b, g->n, 4);
	for (size_t i = 0; i < g->n; i++) {
		const struct vd_bindex_entry *e = &g->e[i];

		ob_name(b, e->target);
		ob_be(b, e->version, 8);
		ob_be(b, e->state, 1);
		ob_name(b, e->party);
		ob_add(b, e->hash, HB);
	}
	ob_add(b, zero, SIGB);
}

int
vd_bundle_build(struct vd_store *st, struct vd_txn *t, int64_t now,
    unsigned char **buf, size_t *len)
{
	struct gather g = { t, NULL, 0, 0 };
	struct obuf ix = { NULL, 0, 0, 0 }, b = { NULL, 0, 0, 0 };
	unsigned char *v1 = NULL, head[HB];
	char hexhead[2 * HB + 1];
	size_t v1len = 0;
	uint64_t count = 0;
	int r;

	*buf = NULL;
	*len = 0;
	if ((r = vd_audit_head(t, &count, hexhead)) != 0 ||
	    (r = vd_envelope_each(t, NULL, gather_cb, &g)) != 0)
		goto out;
	if (sodium_hex2bin(head, HB, hexhead, 2 * HB, NULL, NULL, NULL) != 0) {
		r = vd_err_set(VD_ECORRUPT, "audit head record is malformed");
		goto out;
	}
	qsort(g.e, g.n, sizeof(*g.e), entry_cmp);
	index_encode(&g, now, count, head, &ix);
	if ((r = ix.err) != 0)
		goto out;
	/* The signer's pk lands in the index (ix + 8) before it is signed. */
	if ((r = vd_escrow_vault_sign(st, INDEX_DOMAIN, ix.p, ix.len - SIGB,
	    ix.p + ix.len - SIGB, ix.p + 8)) != 0 ||
	    (r = vd_escrow_bundle_build(t, &v1, &v1len)) != 0)
		goto out;
	ob_add(&b, BUNDLE2_MAGIC, 8);
	ob_be(&b, ix.len, 4);
	ob_add(&b, ix.p, ix.len);
	ob_add(&b, v1, v1len);
	if ((r = b.err) != 0)
		goto out;
	*buf = b.p;
	*len = b.len;
	b.p = NULL;
	r = 0;
 out:
	free(b.p);
	free(v1);
	free(ix.p);
	free(g.e);
	return r;
}

/* ---- parsing -------------------------------------------------------- */

void
vd_bindex_free(struct vd_bindex *ix)
{
	if (ix == NULL)
		return;
	free(ix->e);
	free(ix);
}

/* Verifies INDEX_DOMAIN\0 || msg against sig and pk; 0 or VD_ECORRUPT. */
static int
index_sig_ok(const unsigned char *msg, size_t len, const unsigned char *sig,
    const unsigned char *pk)
{
	size_t dlen = sizeof(INDEX_DOMAIN);
	unsigned char *buf;
	int r;

	if ((buf = malloc(dlen + len)) == NULL)
		return VD_ENOMEM;
	memcpy(buf, INDEX_DOMAIN, dlen);
	memcpy(buf + dlen, msg, len);
	r = crypto_sign_verify_detached(sig, buf, dlen + len, pk) == 0 ? 0 :
	    vd_err_set(VD_ECORRUPT, "the bundle's index fails its signature "
	    "(altered after export): refused");
	free(buf);
	return r;
}

int
vd_bindex_parse(const unsigned char *p, size_t len, struct vd_bindex **out)
{
	struct rd r = { p, len, 0, 0 };
	struct vd_bindex *ix = NULL;
	const unsigned char *q;
	unsigned char h[VD_ESCROW_FPLEN / 2];
	uint64_t n;
	int rc;

	*out = NULL;
	if (len < HEAD_LEN + SIGB ||
	    memcmp(rd_take(&r, 8), INDEX_MAGIC, 8) != 0)
		return vd_err_set(VD_EINVAL, "the bundle's index is malformed "
		    "(bad header)");
	r.len = len - SIGB;	/* the entries end where the signature starts */
	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return VD_ENOMEM;
	memcpy(ix->pk, rd_take(&r, PKB), PKB);
	crypto_generichash(h, sizeof(h), ix->pk, PKB, NULL, 0);
	sodium_bin2hex(ix->fp, sizeof(ix->fp), h, sizeof(h));
	ix->exported = (int64_t)rd_be(&r, 8);
	ix->audit_count = rd_be(&r, 8);
	q = rd_take(&r, HB);
	sodium_bin2hex(ix->audit_hash, sizeof(ix->audit_hash), q, HB);
	n = rd_be(&r, 4);
	/*
	 * Bounds the allocation by what the bytes can hold, and by the
	 * bundle's own limit on envelopes.
	 */
	if (n > (r.len - r.off) / ENTRY_MIN || n > VD_BINDEX_MAXENTRIES) {
		rc = vd_err_set(VD_EINVAL, "the bundle's index is malformed "
		    "(%llu entries cannot fit)", (unsigned long long)n);
		goto out;
	}
	if (n > 0 && (ix->e = calloc((size_t)n, sizeof(*ix->e))) == NULL) {
		rc = VD_ENOMEM;
		goto out;
	}
	for (ix->n = 0; ix->n < n; ix->n++) {
		struct vd_bindex_entry *e = &ix->e[ix->n];

		rd_name(&r, e->target);
		e->version = rd_be(&r, 8);
		e->state = (unsigned)rd_be(&r, 1);
		rd_name(&r, e->party);
		if ((q = rd_take(&r, HB)) != NULL)
			memcpy(e->hash, q, HB);
		if (r.bad || e->version == 0 || e->state > VD_BIS_FAILED ||
		    (ix->n > 0 && entry_cmp(e - 1, e) >= 0)) {
			rc = vd_err_set(VD_EINVAL, "the bundle's index is "
			    "malformed (entry %zu)", ix->n + 1);
			goto out;
		}
	}
	if (r.off != r.len) {
		rc = vd_err_set(VD_EINVAL, "the bundle's index is malformed "
		    "(trailing bytes)");
		goto out;
	}
	/*
	 * Checked last, so that every input reaches the bounded parser above
	 * (and a fuzzer can explore it); nothing parsed is used unless the
	 * signature holds.
	 */
	if ((rc = index_sig_ok(p, len - SIGB, p + len - SIGB, p + 8)) != 0)
		goto out;
	*out = ix;
	ix = NULL;
	rc = 0;
 out:
	vd_bindex_free(ix);
	return rc;
}

int
vd_bundle_parse(const unsigned char *buf, size_t len,
    struct vd_escrow_set *set, struct vd_bindex **ixp)
{
	struct vd_bindex *ix = NULL;
	size_t ixlen;
	int r;

	*ixp = NULL;
	if (len < 12 || memcmp(buf, BUNDLE2_MAGIC, 8) != 0)
		return vd_escrow_set_parse_bundle(buf, len, set);
	ixlen = (size_t)get_be(buf + 8, 4);
	if (ixlen > len - 12)
		return vd_err_set(VD_EINVAL, "escrow bundle: the index is cut "
		    "short");
	if ((r = vd_bindex_parse(buf + 12, ixlen, &ix)) != 0 ||
	    (r = vd_escrow_set_parse_bundle(buf + 12 + ixlen,
	    len - 12 - ixlen, set)) != 0) {
		vd_bindex_free(ix);
		return r;
	}
	*ixp = ix;
	return 0;
}

/* ---- checking ------------------------------------------------------- */

/* Index of the first entry of target in ix (ix->n when none). */
static size_t
first_of(const struct vd_bindex *ix, const char *target)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ix->e[mid].target, target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The entry (target, version, party) in ix, or NULL. */
static const struct vd_bindex_entry *
find(const struct vd_bindex *ix, const char *target, uint64_t version,
    const char *party)
{
	struct vd_bindex_entry key;

	memset(&key, 0, sizeof(key));
	snprintf(key.target, sizeof(key.target), "%s", target);
	snprintf(key.party, sizeof(key.party), "%s", party);
	key.version = version;
	return bsearch(&key, ix->e, ix->n, sizeof(*ix->e), entry_cmp);
}

unsigned
vd_bindex_state(const struct vd_bindex *ix, const char *target,
    uint64_t version)
{
	for (size_t i = first_of(ix, target); i < ix->n &&
	    strcmp(ix->e[i].target, target) == 0; i++)
		if (ix->e[i].version == version)
			return ix->e[i].state;
	return VD_BIS_UNKNOWN;
}

int
vd_bindex_check(const struct vd_bindex *ix, const struct vd_escrow_set *set,
    const char *target, const char *pin)
{
	unsigned char h[HB], *seen = NULL;
	char ts[VD_TIME_STRLEN];
	size_t lo, hi;
	int r = 0;

	if (pin != NULL && (strlen(pin) != VD_ESCROW_FPLEN ||
	    strncasecmp(pin, ix->fp, VD_ESCROW_FPLEN) != 0))
		return vd_err_set(VD_ECORRUPT, "the bundle's index is signed by "
		    "vault key %s, not the trusted %s (re-signed by someone "
		    "without the vault's key, or another vault's bundle): "
		    "refused", ix->fp, pin);
	vd_time_rfc3339(ix->exported, ts, sizeof(ts));
	lo = first_of(ix, target);
	for (hi = lo; hi < ix->n && strcmp(ix->e[hi].target, target) == 0;
	    hi++)
		;
	if (hi > lo && (seen = calloc(hi - lo, 1)) == NULL)
		return VD_ENOMEM;
	for (size_t i = 0; i < set->n; i++) {
		const struct vd_escrow_item *it = &set->items[i];
		const struct vd_bindex_entry *e;

		if (strcmp(it->target, target) != 0)
			continue;
		if ((e = find(ix, it->target, it->version, it->party)) ==
		    NULL) {
			r = vd_err_set(VD_ECORRUPT, "version %llu of %s (party "
			    "%s) is in the bundle but not in its signed index "
			    "(exported %s): planted after export, refused",
			    (unsigned long long)it->version, target, it->party,
			    ts);
			goto out;
		}
		crypto_generichash(h, HB, it->env, it->len, NULL, 0);
		if (sodium_memcmp(h, e->hash, HB) != 0) {
			r = vd_err_set(VD_ECORRUPT, "the envelope of party %s "
			    "for %s version %llu differs from the one the "
			    "bundle's signed index records (swapped or altered "
			    "after export): refused", it->party, target,
			    (unsigned long long)it->version);
			goto out;
		}
		if (seen[e - ix->e - lo]++) {
			r = vd_err_set(VD_ECORRUPT, "the envelope of party %s "
			    "for %s version %llu is in the bundle twice: "
			    "refused", it->party, target,
			    (unsigned long long)it->version);
			goto out;
		}
	}
	for (size_t i = lo; i < hi; i++)
		if (!seen[i - lo]) {
			r = vd_err_set(VD_ECORRUPT, "version %llu of %s (%s, "
			    "party %s) is in the bundle's signed index "
			    "(exported %s) but missing from the bundle: hidden "
			    "after export, refused",
			    (unsigned long long)ix->e[i].version, target,
			    vd_bindex_state_name(ix->e[i].state),
			    ix->e[i].party, ts);
			goto out;
		}
 out:
	free(seen);
	return r;
}

int
vd_bindex_checkpoint(const struct vd_bindex *ix, struct vd_txn *t)
{
	char ts[VD_TIME_STRLEN], src[128];

	vd_time_rfc3339(ix->exported, ts, sizeof(ts));
	snprintf(src, sizeof(src), "the signed checkpoint of the bundle "
	    "exported %s", ts);
	return vd_audit_continues(t, ix->audit_count, ix->audit_hash, src);
}
