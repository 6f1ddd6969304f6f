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

static void
be_put(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static uint64_t
be_get(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
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

/* Appends n bytes to *buf (*len, *cap); VD_ENOMEM. */
static int
grow_add(unsigned char **buf, size_t *len, size_t *cap, const void *p,
    size_t n)
{
	if (*len + n > *cap) {
		size_t c = *cap ? *cap : 256;
		unsigned char *nb;

		while (c < *len + n)
			c *= 2;
		if ((nb = realloc(*buf, c)) == NULL)
			return VD_ENOMEM;
		*buf = nb;
		*cap = c;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

/* Encodes (unsigned) the index of g's entries into *out. */
static int
index_encode(const struct gather *g, int64_t now, uint64_t count,
    const unsigned char *head, unsigned char **out, size_t *outlen)
{
	unsigned char *b = NULL, x[8];
	size_t len = 0, cap = 0;
	int r;

	/* The pk is filled in by the signer; a placeholder here. */
	static const unsigned char zero[PKB];

	if ((r = grow_add(&b, &len, &cap, INDEX_MAGIC, 8)) != 0 ||
	    (r = grow_add(&b, &len, &cap, zero, PKB)) != 0)
		goto out;
	be_put(x, (uint64_t)now, 8);
	if ((r = grow_add(&b, &len, &cap, x, 8)) != 0)
		goto out;
	be_put(x, count, 8);
	if ((r = grow_add(&b, &len, &cap, x, 8)) != 0 ||
	    (r = grow_add(&b, &len, &cap, head, HB)) != 0)
		goto out;
	be_put(x, g->n, 4);
	if ((r = grow_add(&b, &len, &cap, x, 4)) != 0)
		goto out;
	for (size_t i = 0; i < g->n; i++) {
		const struct vd_bindex_entry *e = &g->e[i];
		unsigned char tl = (unsigned char)strlen(e->target);
		unsigned char pl = (unsigned char)strlen(e->party);
		unsigned char st = (unsigned char)e->state;

		be_put(x, e->version, 8);
		if ((r = grow_add(&b, &len, &cap, &tl, 1)) != 0 ||
		    (r = grow_add(&b, &len, &cap, e->target, tl)) != 0 ||
		    (r = grow_add(&b, &len, &cap, x, 8)) != 0 ||
		    (r = grow_add(&b, &len, &cap, &st, 1)) != 0 ||
		    (r = grow_add(&b, &len, &cap, &pl, 1)) != 0 ||
		    (r = grow_add(&b, &len, &cap, e->party, pl)) != 0 ||
		    (r = grow_add(&b, &len, &cap, e->hash, HB)) != 0)
			goto out;
	}
	/* Room for the signature. */
	if ((r = grow_add(&b, &len, &cap, zero, PKB)) != 0 ||
	    (r = grow_add(&b, &len, &cap, zero, PKB)) != 0)
		goto out;
	*out = b;
	*outlen = len;
	b = NULL;
 out:
	free(b);
	return r;
}

int
vd_bundle_build(struct vd_store *st, struct vd_txn *t, int64_t now,
    unsigned char **buf, size_t *len)
{
	struct gather g = { t, NULL, 0, 0 };
	unsigned char *ix = NULL, *v1 = NULL, *b = NULL, head[HB], x[4];
	char hexhead[2 * HB + 1];
	size_t ixlen = 0, v1len = 0, blen = 0, bcap = 0;
	uint64_t count = 0;
	int r;

	*buf = NULL;
	*len = 0;
	if ((r = vd_audit_head(t, &count, hexhead)) != 0 ||
	    (r = vd_escrow_each(t, NULL, gather_cb, &g)) != 0)
		goto out;
	if (sodium_hex2bin(head, HB, hexhead, 2 * HB, NULL, NULL, NULL) != 0) {
		r = vd_err_set(VD_ECORRUPT, "audit head record is malformed");
		goto out;
	}
	qsort(g.e, g.n, sizeof(*g.e), entry_cmp);
	/* The signer's pk lands in the index (ix + 8) before it is signed. */
	if ((r = index_encode(&g, now, count, head, &ix, &ixlen)) != 0 ||
	    (r = vd_escrow_vault_sign(st, INDEX_DOMAIN, ix, ixlen - SIGB,
	    ix + ixlen - SIGB, ix + 8)) != 0 ||
	    (r = vd_escrow_bundle_build(t, &v1, &v1len)) != 0)
		goto out;
	be_put(x, ixlen, 4);
	if ((r = grow_add(&b, &blen, &bcap, BUNDLE2_MAGIC, 8)) != 0 ||
	    (r = grow_add(&b, &blen, &bcap, x, 4)) != 0 ||
	    (r = grow_add(&b, &blen, &bcap, ix, ixlen)) != 0 ||
	    (r = grow_add(&b, &blen, &bcap, v1, v1len)) != 0)
		goto out;
	*buf = b;
	*len = blen;
	b = NULL;
	r = 0;
 out:
	free(b);
	free(v1);
	free(ix);
	free(g.e);
	return r;
}

/* ---- parsing -------------------------------------------------------- */

/* A bounded reader; any overrun sets bad. */
struct rdr {
	const unsigned char	*p;	/* the bytes */
	size_t			 len;	/* their length */
	size_t			 off;	/* next byte */
	int			 bad;	/* overrun or bad field */
};

static const unsigned char *
take(struct rdr *r, size_t n)
{
	const unsigned char *p;

	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

static uint64_t
take_be(struct rdr *r, int n)
{
	const unsigned char *p = take(r, (size_t)n);

	return p != NULL ? be_get(p, n) : 0;
}

/* u8 length + a valid name into out (VD_NAME_MAX + 1). */
static void
take_name(struct rdr *r, char *out)
{
	size_t n = (size_t)take_be(r, 1);
	const unsigned char *p;

	out[0] = '\0';
	if (n == 0 || n > VD_NAME_MAX || (p = take(r, n)) == NULL) {
		r->bad = 1;
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	if (strlen(out) != n || !vd_name_valid(out))
		r->bad = 1;
}

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
	struct rdr r = { p, len, 0, 0 };
	struct vd_bindex *ix = NULL;
	const unsigned char *q;
	unsigned char h[VD_ESCROW_FPLEN / 2];
	uint64_t n;
	int rc;

	*out = NULL;
	if (len < HEAD_LEN + SIGB ||
	    memcmp(take(&r, 8), INDEX_MAGIC, 8) != 0)
		return vd_err_set(VD_EINVAL, "the bundle's index is malformed "
		    "(bad header)");
	r.len = len - SIGB;	/* the entries end where the signature starts */
	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return VD_ENOMEM;
	memcpy(ix->pk, take(&r, PKB), PKB);
	crypto_generichash(h, sizeof(h), ix->pk, PKB, NULL, 0);
	sodium_bin2hex(ix->fp, sizeof(ix->fp), h, sizeof(h));
	ix->exported = (int64_t)take_be(&r, 8);
	ix->audit_count = take_be(&r, 8);
	q = take(&r, HB);
	sodium_bin2hex(ix->audit_hash, sizeof(ix->audit_hash), q, HB);
	n = take_be(&r, 4);
	/* Bounds the allocation by what the bytes can hold. */
	if (n > (r.len - r.off) / ENTRY_MIN) {
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

		take_name(&r, e->target);
		e->version = take_be(&r, 8);
		e->state = (unsigned)take_be(&r, 1);
		take_name(&r, e->party);
		if ((q = take(&r, HB)) != NULL)
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
	ixlen = (size_t)be_get(buf + 8, 4);
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
