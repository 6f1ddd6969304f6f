/*
 * grants.c - SHOW GRANTS lines to the privileges a password change needs
 * (grants.h).
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "grants.h"

/* Whether s[0..n) starts with the word w (case-insensitive). */
static int
starts(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);

	return n >= k && strncasecmp(s, w, k) == 0;
}

/*
 * Index of the first " ON " (or " TO ", which) at the top level of
 * s[0..n): outside `…` and '…' quotes and (…) column lists; n if none.
 */
static size_t
find_kw(const char *s, size_t n, const char *kw)
{
	size_t i, k = strlen(kw);
	int depth = 0;
	char q = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (q != 0) {
			if (c == q)
				q = 0;	/* a doubled quote reopens at once */
			continue;
		}
		if (c == '`' || c == '\'' || c == '"')
			q = c;
		else if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && n - i >= k &&
		    strncasecmp(s + i, kw, k) == 0)
			return i;
	}
	return n;
}

/* The privileges one item of the list (trimmed) stands for. */
static unsigned
priv_bits(const char *p, size_t n)
{
	while (n > 0 && p[0] == ' ')
		p++, n--;
	while (n > 0 && p[n - 1] == ' ')
		n--;
	if ((n == 3 && strncasecmp(p, "ALL", 3) == 0) ||
	    (n == 14 && strncasecmp(p, "ALL PRIVILEGES", 14) == 0))
		return VD_GRANT_UPDATE_ALL | VD_GRANT_CREATE_USER;
	if (n == 6 && strncasecmp(p, "UPDATE", 6) == 0)
		return VD_GRANT_UPDATE_ALL;
	if (n == 11 && strncasecmp(p, "CREATE USER", 11) == 0)
		return VD_GRANT_CREATE_USER;
	return 0;	/* anything else, or a column list "UPDATE (`c`)" */
}

/* See grants.h. */
unsigned
vd_grants_line(const char *line, size_t len)
{
	const char *obj;
	size_t on, to, i, start, olen;
	unsigned bits = 0;
	int global, mysql;

	if (line == NULL || !starts(line, len, "GRANT "))
		return 0;
	line += 6;
	len -= 6;
	on = find_kw(line, len, " ON ");
	to = find_kw(line, len, " TO ");
	if (on >= len || to < on)
		return 0;	/* a role grant: its privileges have own lines */
	obj = line + on + 4;
	olen = (to < len ? to : len) - (on + 4);
	while (olen > 0 && obj[olen - 1] == ' ')
		olen--;
	global = olen == 3 && memcmp(obj, "*.*", 3) == 0;
	mysql = (olen == 9 && memcmp(obj, "`mysql`.*", 9) == 0) ||
	    (olen == 7 && memcmp(obj, "mysql.*", 7) == 0);
	if (!global && !mysql)
		return 0;
	/*
	 * The list: items separated by commas (one inside a column list
	 * splits "UPDATE (`a`, `b`)" into pieces that match nothing).
	 */
	for (i = start = 0; i <= on; i++) {
		if (i < on && line[i] != ',')
			continue;
		bits |= priv_bits(line + start, i - start);
		start = i + 1;
	}
	if (mysql)	/* CREATE USER is global only */
		bits = (bits & VD_GRANT_UPDATE_ALL) ? VD_GRANT_UPDATE_MYSQL : 0;
	return bits;
}
