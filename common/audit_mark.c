/*
 * audit_mark.c - audit head marks outside the data directory: the scanner
 * of journal text and the continuation check (audit_mark.h).
 */
#include <stdlib.h>
#include <string.h>

#include "audit_mark.h"
#include "err.h"

#define HEXLEN	(2 * VD_HASHBYTES)
#define IDLEN	32		/* vd_store_id(): 16 bytes in hex */

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/*
 * Finds field name in line (p, n) followed by '=' or '":"' (JSON, blanks
 * allowed around the colon); returns the offset of its value, or -1.  The
 * name must not be preceded by a name character (VAULTD_AUDIT_HEAD inside
 * a longer word is not it).
 */
static long
field(const char *p, size_t n, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i + nl < n; i++) {
		if (memcmp(p + i, name, nl) != 0)
			continue;
		if (i > 0 && (p[i - 1] == '_' || (p[i - 1] >= 'A' &&
		    p[i - 1] <= 'Z')))
			continue;
		if (p[i + nl] == '=')
			return (long)(i + nl + 1);
		if (p[i + nl] == '"') {
			size_t j = i + nl + 1;

			while (j < n && p[j] == ' ')
				j++;
			if (j >= n || p[j++] != ':')
				continue;
			while (j < n && p[j] == ' ')
				j++;
			if (j < n && p[j] == '"')
				return (long)(j + 1);
		}
	}
	return -1;
}

/* Parses COUNT:HASH at p (n bytes left) into m; 0 or -1. */
static int
parse_head(const char *p, size_t n, struct vd_audit_mark *m)
{
	size_t i = 0;
	uint64_t c = 0;

	while (i < n && i < 20 && p[i] >= '0' && p[i] <= '9') {
		uint64_t d = (uint64_t)(p[i] - '0');

		if (c > (UINT64_MAX - d) / 10)
			return -1;
		c = c * 10 + d;
		i++;
	}
	if (i == 0 || i >= n || p[i] != ':' || n - i - 1 < HEXLEN)
		return -1;
	i++;
	for (size_t k = 0; k < HEXLEN; k++)
		if (!is_hex(p[i + k]))
			return -1;
	/* The hash ends there: no 65th hex digit. */
	if (n - i > HEXLEN && is_hex(p[i + HEXLEN]))
		return -1;
	m->count = c;
	memcpy(m->hash, p + i, HEXLEN);
	m->hash[HEXLEN] = '\0';
	return 0;
}

/* One line: 1 a mark of vault_id into *m, 0 none, -1 malformed, 2 other. */
static int
scan_line(const char *p, size_t n, const char *vault_id,
    struct vd_audit_mark *m)
{
	long h, v;

	if ((h = field(p, n, VD_AUDIT_MARK_HEAD)) < 0)
		return 0;
	if (parse_head(p + h, n - (size_t)h, m) != 0)
		return -1;
	if ((v = field(p, n, VD_AUDIT_MARK_VAULT)) < 0 ||
	    n - (size_t)v < IDLEN)
		return -1;
	return memcmp(p + v, vault_id, IDLEN) == 0 ? 1 : 2;
}

void
vd_audit_marks_clear(struct vd_audit_marks *m)
{
	if (m == NULL)
		return;
	free(m->all);
	memset(m, 0, sizeof(*m));
}

int
vd_audit_marks_scan(const char *buf, size_t len, const char *vault_id,
    size_t max, struct vd_audit_marks *out)
{
	size_t cap = 0, off = 0;

	memset(out, 0, sizeof(*out));
	if (vault_id == NULL || strlen(vault_id) != IDLEN)
		return vd_err_set(VD_EINVAL, "bad vault id");
	while (off < len) {
		const char *p = buf + off, *nl = memchr(p, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - p) : len - off;
		struct vd_audit_mark m;
		int r = scan_line(p, n, vault_id, &m);

		off += n + (nl != NULL);
		if (r == -1)
			out->bad++;
		else if (r == 2)
			out->other++;
		if (r != 1)
			continue;
		if (++out->seen == 1 || m.count > out->top.count)
			out->top = m;
		if (out->n >= max)
			continue;
		if (out->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct vd_audit_mark *na;

			if ((na = realloc(out->all, nc * sizeof(*na))) ==
			    NULL) {
				vd_audit_marks_clear(out);
				return VD_ENOMEM;
			}
			out->all = na;
			cap = nc;
		}
		out->all[out->n++] = m;
	}
	return 0;
}

int
vd_audit_continues(struct vd_txn *t, uint64_t count, const char *hash,
    const char *source)
{
	char head[HEXLEN + 1], h[HEXLEN + 1];
	uint64_t now;
	int r;

	if ((r = vd_audit_head(t, &now, head)) != 0)
		return r;
	if (now < count)
		return vd_err_set(VD_ECHAIN, "the audit log ends at entry %llu, "
		    "but %s records entry %llu: entries %llu-%llu are missing "
		    "(cut, or an older copy restored)",
		    (unsigned long long)now, source, (unsigned long long)count,
		    (unsigned long long)now + 1, (unsigned long long)count);
	if (count == 0)
		return 0;
	r = vd_audit_entry_hash(t, count, h);
	if (r == VD_ENOTFOUND || (r == 0 && strcmp(h, hash) != 0))
		return vd_err_set(VD_ECHAIN, "audit entry %llu is not the one "
		    "%s records: the log from there on was replaced",
		    (unsigned long long)count, source);
	return r;
}
