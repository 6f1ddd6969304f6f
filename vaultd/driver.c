/*
 * driver.c - the MariaDB/MySQL driver; the only file that includes
 * <mysql.h>.  See driver.h for the contract and /work/shared/MARIADB.md
 * for the server behaviour it works around.
 */
#define _GNU_SOURCE	/* memmem, strcasestr */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <threads.h>	/* call_once; not pthread.h, see vd_drv_init() */

#include <mysql.h>
#include <errmsg.h>
#include <nettle/sha1.h>	/* mysql_native_password's hash; see native_hash() */
#include <mysqld_error.h>
#include <sodium.h>

#include "driver.h"
#include "err.h"
#include "mem.h"
#include "util.h"

#define PATH_MAXLEN	4096	/* longest socket path / host accepted */
#define NAME_MAXLEN	1024	/* longest user or account host accepted */

struct vd_drv_conn {
	MYSQL		*my;		/* the Connector/C handle */
	int		 mariadb;	/* 1: MariaDB, 0: MySQL */
	int		 log_off;	/* sql_log_off tried on this session */
};

/* Where one login goes. */
struct route {
	const char	*host;		/* TCP host, or "localhost" for a socket */
	const char	*sock;		/* socket path; NULL: library default */
	int		 tcp;		/* 1: TCP, 0: Unix socket */
};

static once_flag lib_once = ONCE_FLAG_INIT;
static int lib_rc;	/* written once under lib_once, then read-only */

static void
lib_init(void)
{
	lib_rc = mysql_library_init(0, NULL, NULL) == 0 ? 0 : VD_EDB;
}

/* Initialises the library once per process (C11 call_once). */
int
vd_drv_init(void)
{
	call_once(&lib_once, lib_init);
	return lib_rc;
}

void
vd_drv_end(void)
{
	mysql_library_end();
}

/* Writes a message to err (if any); a truncated message is acceptable. */
static void __attribute__((format(printf, 3, 4)))
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Appends a message to err; truncation is acceptable. */
static void __attribute__((format(printf, 3, 4)))
adderr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t used;

	if (err == NULL || errlen == 0)
		return;
	used = strnlen(err, errlen);
	if (used + 1 >= errlen)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err + used, errlen - used, fmt, ap);
	va_end(ap);
}

/* Maps a client/server error number and message to a VD_E* code. */
static int
classify(unsigned int e, const char *msg)
{
	switch (e) {
	case ER_ACCESS_DENIED_ERROR:
	case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
		return VD_EAUTH;
	case ER_NOT_VALID_PASSWORD:
		return VD_EPOLICY;
	case ER_PASSWORD_NO_MATCH:	/* SET PASSWORD: no such account */
		return VD_ENOTFOUND;
	default:
		break;
	}
	/* Connector/C reports a timeout as errno 110 or in words. */
	if (e >= CR_MIN_ERROR && e <= CR_MAX_ERROR &&
	    (strstr(msg, "(110)") != NULL || strcasestr(msg, "timeout") ||
	    strcasestr(msg, "timed out")))
		return VD_ETIMEDOUT;
	return VD_EDB;
}

/*
 * True when a server message must not be shown: syntax errors quote the
 * statement, and any message that contains the password is withheld.
 */
static int
must_withhold(unsigned int e, const char *msg, const struct vd_secret *pw)
{
	if (e == ER_PARSE_ERROR || e == ER_SYNTAX_ERROR)
		return 1;
	if (strstr(msg, "near '") != NULL)
		return 1;
	if (pw != NULL && pw->len > 0 &&
	    memmem(msg, strlen(msg), pw->data, pw->len) != NULL)
		return 1;
	return 0;
}

/*
 * Records the last error on my in err (withheld when it might quote pw)
 * and returns its VD_E* code.
 */
static int
myerr(MYSQL *my, const char *what, const struct vd_secret *pw, char *err,
    size_t errlen)
{
	unsigned int e = mysql_errno(my);
	const char *msg = mysql_error(my);

	if (e == 0)
		e = CR_UNKNOWN_ERROR;
	if (must_withhold(e, msg, pw))
		seterr(err, errlen, "%s: error %u (%s); the server's message "
		    "is withheld because it may quote the statement", what, e,
		    mysql_sqlstate(my));
	else
		seterr(err, errlen, "%s: error %u (%s): %s", what, e,
		    mysql_sqlstate(my), msg);
	return classify(e, msg);
}

/* Returns 1 when s is non-NULL, non-empty and shorter than max. */
static int
strok(const char *s, size_t max)
{
	return s != NULL && *s != '\0' && strnlen(s, max) < max;
}

/* Copies pw into a NUL-terminated secret; refuses embedded NUL bytes. */
static int
pw_cstr(const struct vd_secret *pw, struct vd_secret **out, char *err,
    size_t errlen)
{
	*out = NULL;
	if (pw == NULL) {
		seterr(err, errlen, "no password given");
		return VD_EINVAL;
	}
	if (pw->len > 0 && memchr(pw->data, '\0', pw->len) != NULL) {
		seterr(err, errlen, "password contains a NUL byte");
		return VD_EINVAL;
	}
	if ((*out = vd_secret_from(pw->data, pw->len)) == NULL) {
		seterr(err, errlen, "out of secure memory");
		return VD_ENOMEM;
	}
	return 0;
}

/* Connects along route ro as user with pw; see vd_drv_connect(). */
static int
connect_route(const struct vd_dbtarget *t, const struct route *ro,
    const char *user, const struct vd_secret *pw, struct vd_drv_conn **out,
    char *err, size_t errlen)
{
	struct vd_drv_conn *c = NULL;
	struct vd_secret *p = NULL;
	unsigned int ct, rw, proto, off = 0;
	unsigned int port;
	my_bool on = 1;
	int r;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((r = vd_drv_init()) != 0) {
		seterr(err, errlen, "Connector/C failed to initialise");
		return r;
	}
	if (!strok(user, NAME_MAXLEN)) {
		seterr(err, errlen, "no user name given");
		return VD_EINVAL;
	}
	if (ro->tcp && (!strok(ro->host, PATH_MAXLEN) ||
	    strstr(ro->host, "://") != NULL)) {
		/* "scheme://" would make Connector/C load a connection plugin. */
		seterr(err, errlen, "bad host name");
		return VD_EINVAL;
	}
	if (!ro->tcp && ro->sock != NULL && !strok(ro->sock, PATH_MAXLEN)) {
		seterr(err, errlen, "bad socket path");
		return VD_EINVAL;
	}
	if ((r = pw_cstr(pw, &p, err, errlen)) != 0)
		return r;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		seterr(err, errlen, "out of memory");
		r = VD_ENOMEM;
		goto out;
	}
	if ((c->my = mysql_init(NULL)) == NULL) {
		seterr(err, errlen, "out of memory (mysql_init)");
		r = VD_ENOMEM;
		goto out;
	}
	ct = t->connect_timeout_s ? t->connect_timeout_s : VD_DRV_CONNECT_TIMEOUT;
	rw = t->rw_timeout_s ? t->rw_timeout_s : VD_DRV_RW_TIMEOUT;
	proto = ro->tcp ? MYSQL_PROTOCOL_TCP : MYSQL_PROTOCOL_SOCKET;
	port = t->port ? t->port : VD_DRV_PORT_DEFAULT;
	if (mysql_options(c->my, MYSQL_OPT_CONNECT_TIMEOUT, &ct) != 0 ||
	    mysql_options(c->my, MYSQL_OPT_READ_TIMEOUT, &rw) != 0 ||
	    mysql_options(c->my, MYSQL_OPT_WRITE_TIMEOUT, &rw) != 0 ||
	    mysql_options(c->my, MYSQL_OPT_PROTOCOL, &proto) != 0 ||
	    mysql_options(c->my, MYSQL_OPT_LOCAL_INFILE, &off) != 0 ||
	    mysql_options(c->my, MYSQL_SET_CHARSET_NAME, "utf8mb4") != 0) {
		r = myerr(c->my, "setting connection options", NULL, err,
		    errlen);
		goto out;
	}
	/*
	 * Connector/C 3.3 treats SSL_ENFORCE alone as "TLS if offered" and
	 * fails a TLS-less server only when the certificate is verified, so
	 * verify (tls_ca, else the system's CAs) and check the cipher below.
	 */
	if (ro->tcp && t->tls_required) {
		if (mysql_options(c->my, MYSQL_OPT_SSL_ENFORCE, &on) != 0 ||
		    mysql_options(c->my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT,
		    &on) != 0 || (t->tls_ca != NULL && mysql_options(c->my,
		    MYSQL_OPT_SSL_CA, t->tls_ca) != 0)) {
			r = myerr(c->my, "setting TLS options", NULL, err,
			    errlen);
			goto out;
		}
	}
	if (mysql_real_connect(c->my, ro->tcp ? ro->host : "localhost", user,
	    (const char *)p->data, NULL, ro->tcp ? port : 0,
	    ro->tcp ? NULL : ro->sock, 0) == NULL) {
		r = myerr(c->my, "connect", p, err, errlen);
		goto out;
	}
	/*
	 * Connector/C keeps a plain copy of the password for reconnects
	 * (off here) and change_user (unused): wipe it now.
	 */
	if (c->my->passwd != NULL)
		sodium_memzero(c->my->passwd, strlen(c->my->passwd));
	if (ro->tcp && t->tls_required && mysql_get_ssl_cipher(c->my) == NULL) {
		seterr(err, errlen, "connect: TLS is required, but the "
		    "connection is not encrypted");
		r = VD_EDB;
		goto out;
	}
	c->mariadb = mariadb_connection(c->my) ? 1 : 0;
	*out = c;
	c = NULL;
	r = 0;
 out:
	vd_secret_free(p);
	vd_drv_close(c);
	return r;
}

int
vd_drv_connect(const struct vd_dbtarget *t, const char *user,
    const struct vd_secret *pw, struct vd_drv_conn **out, char *err,
    size_t errlen)
{
	struct route ro = { NULL, NULL, 0 };

	*out = NULL;
	if (t == NULL) {
		seterr(err, errlen, "no target given");
		return VD_EINVAL;
	}
	if (t->unix_socket != NULL && *t->unix_socket != '\0') {
		ro.host = "localhost";
		ro.sock = t->unix_socket;
	} else if (t->host != NULL && *t->host != '\0') {
		ro.host = t->host;
		ro.tcp = 1;
	} else {
		seterr(err, errlen, "target has neither a socket nor a host");
		return VD_EINVAL;
	}
	return connect_route(t, &ro, user ? user : t->user, pw, out, err,
	    errlen);
}

void
vd_drv_close(struct vd_drv_conn *c)
{
	if (c == NULL)
		return;
	if (c->my != NULL)
		mysql_close(c->my);
	free(c);
}

int
vd_drv_login(const struct vd_dbtarget *t, const char *user,
    const struct vd_secret *pw, char *err, size_t errlen)
{
	struct vd_drv_conn *c = NULL;
	int r;

	if ((r = vd_drv_connect(t, user, pw, &c, err, errlen)) != 0)
		return r;
	vd_drv_close(c);
	return 0;
}

const char *
vd_drv_server_version(struct vd_drv_conn *c)
{
	const char *v = mysql_get_server_info(c->my);

	return v != NULL ? v : "";
}

unsigned long
vd_drv_server_version_num(struct vd_drv_conn *c)
{
	return mysql_get_server_version(c->my);
}

int
vd_drv_is_mariadb(struct vd_drv_conn *c)
{
	return c->mariadb;
}

/* Runs sql (length len, may hold a secret pw) and drains its results. */
static int
run(struct vd_drv_conn *c, const char *sql, size_t len,
    const struct vd_secret *pw, const char *what, char *err, size_t errlen)
{
	MYSQL_RES *res;
	int st;

	if (mysql_real_query(c->my, sql, (unsigned long)len) != 0)
		return myerr(c->my, what, pw, err, errlen);
	do {
		if ((res = mysql_store_result(c->my)) != NULL)
			mysql_free_result(res);
		else if (mysql_field_count(c->my) != 0)
			return myerr(c->my, what, pw, err, errlen);
	} while ((st = mysql_next_result(c->my)) == 0);
	if (st > 0)
		return myerr(c->my, what, pw, err, errlen);
	return 0;
}

int
vd_drv_exec(struct vd_drv_conn *c, const char *sql, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	return run(c, sql, strlen(sql), NULL, "query", err, errlen);
}

int
vd_drv_query1(struct vd_drv_conn *c, const char *sql, char *out,
    size_t outlen, char *err, size_t errlen)
{
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	unsigned long *lens;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (outlen > 0)
		out[0] = '\0';
	if (mysql_real_query(c->my, sql, (unsigned long)strlen(sql)) != 0)
		return myerr(c->my, "query", NULL, err, errlen);
	if ((res = mysql_store_result(c->my)) == NULL) {
		if (mysql_field_count(c->my) != 0)
			return myerr(c->my, "query", NULL, err, errlen);
		seterr(err, errlen, "query returned no result set");
		return VD_ENOTFOUND;
	}
	if ((row = mysql_fetch_row(res)) == NULL) {
		seterr(err, errlen, "query returned no row");
		r = VD_ENOTFOUND;
		goto out;
	}
	lens = mysql_fetch_lengths(res);
	if (row[0] == NULL)
		r = 0;
	else if (lens[0] >= outlen) {
		seterr(err, errlen, "value of %lu bytes does not fit", lens[0]);
		r = VD_ETOOBIG;
	} else {
		memcpy(out, row[0], lens[0]);
		out[lens[0]] = '\0';
		r = 0;
	}
 out:
	mysql_free_result(res);
	/* Leave the connection ready for the next statement. */
	while (mysql_next_result(c->my) == 0) {
		MYSQL_RES *more = mysql_store_result(c->my);

		if (more != NULL)
			mysql_free_result(more);
	}
	return r;
}

void
vd_drv_learn_port(struct vd_drv_conn *c, struct vd_dbtarget *t)
{
	char port[16];
	long long pv;

	if (t->port == 0 && t->unix_socket != NULL &&
	    vd_drv_query1(c, "SELECT @@port", port, sizeof(port), NULL,
	    0) == 0 && vd_parse_int(port, 1, 65535, &pv) == 0)
		t->port = (unsigned)pv;
}

int
vd_drv_current_user(struct vd_drv_conn *c, char *buf, size_t len, char *err,
    size_t errlen)
{
	return vd_drv_query1(c, "SELECT CURRENT_USER()", buf, len, err, errlen);
}

/*
 * Appends s (length n) to the statement in q, escaped for a quoted
 * literal when esc.  q has room: callers size it for the worst case.
 */
static int
put(struct vd_drv_conn *c, struct vd_secret *q, const char *s, size_t n,
    int esc)
{
	unsigned long w;

	if (!esc) {
		if (q->len + n > q->cap)
			return VD_ETOOBIG;
		memcpy(q->data + q->len, s, n);
		q->len += n;
		return 0;
	}
	if (q->len + 2 * n + 1 > q->cap)
		return VD_ETOOBIG;
	w = mysql_real_escape_string(c->my, (char *)q->data + q->len, s,
	    (unsigned long)n);
	if (w == (unsigned long)-1)
		return VD_EINVAL;
	q->len += w;
	return 0;
}

#define PUTS(c, q, lit)	put((c), (q), (lit), sizeof(lit) - 1, 0)

int
vd_drv_account_hosts(struct vd_drv_conn *c, const char *user, char ***hosts,
    size_t *n, char *err, size_t errlen)
{
	struct vd_secret *q = NULL;
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	unsigned long *lens;
	char **h = NULL;
	size_t i = 0, nrows = 0;
	int r;

	*hosts = NULL;
	*n = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (!strok(user, NAME_MAXLEN)) {
		seterr(err, errlen, "no user name given");
		return VD_EINVAL;
	}
	/* Not a secret, but the same escaping path as set_password. */
	if ((q = vd_secret_new(128 + 2 * strlen(user))) == NULL) {
		seterr(err, errlen, "out of secure memory");
		return VD_ENOMEM;
	}
	if ((r = PUTS(c, q, "SELECT Host FROM mysql.user WHERE User = '")) != 0 ||
	    (r = put(c, q, user, strlen(user), 1)) != 0 ||
	    (r = PUTS(c, q, "' ORDER BY Host")) != 0) {
		seterr(err, errlen, "cannot build the query");
		goto out;
	}
	if (mysql_real_query(c->my, (const char *)q->data,
	    (unsigned long)q->len) != 0 ||
	    (res = mysql_store_result(c->my)) == NULL) {
		r = myerr(c->my, "listing account hosts", NULL, err, errlen);
		goto out;
	}
	nrows = (size_t)mysql_num_rows(res);
	if (nrows == 0) {
		r = 0;
		goto out;
	}
	if ((h = calloc(nrows, sizeof(*h))) == NULL) {
		seterr(err, errlen, "out of memory");
		r = VD_ENOMEM;
		goto out;
	}
	for (i = 0; i < nrows && (row = mysql_fetch_row(res)) != NULL; i++) {
		lens = mysql_fetch_lengths(res);
		if ((h[i] = strndup(row[0] ? row[0] : "",
		    row[0] ? lens[0] : 0)) == NULL) {
			seterr(err, errlen, "out of memory");
			r = VD_ENOMEM;
			goto out;
		}
	}
	*hosts = h;
	*n = i;
	h = NULL;
	r = 0;
 out:
	vd_drv_hosts_free(h, nrows);
	if (res != NULL)
		mysql_free_result(res);
	vd_secret_free(q);
	return r;
}

void
vd_drv_hosts_free(char **hosts, size_t n)
{
	size_t i;

	if (hosts == NULL)
		return;
	for (i = 0; i < n; i++)
		free(hosts[i]);
	free(hosts);
}

/*
 * After a refused SET PASSWORD, appends the messages of SHOW WARNINGS
 * (where validation plugins explain themselves) to err.  Returns 1 when
 * one of them is ER_NOT_VALID_PASSWORD.
 */
static int
add_warnings(struct vd_drv_conn *c, const struct vd_secret *pw, char *err,
    size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	int policy = 0;
	long long code;

	if (mysql_query(c->my, "SHOW WARNINGS") != 0 ||
	    (res = mysql_store_result(c->my)) == NULL)
		return 0;
	if (mysql_num_fields(res) >= 3) {
		while ((row = mysql_fetch_row(res)) != NULL) {
			const char *msg = row[2] ? row[2] : "";

			code = row[1] ? strtoll(row[1], NULL, 10) : 0;
			if (code == ER_NOT_VALID_PASSWORD)
				policy = 1;
			if (must_withhold((unsigned int)code, msg, pw))
				adderr(err, errlen, "; warning %lld "
				    "(message withheld)", code);
			else
				adderr(err, errlen, "; warning %lld: %s",
				    code, msg);
		}
	}
	mysql_free_result(res);
	return policy;
}

/*
 * mysql_native_password's hash of pw into out (VD_DRV_NATIVE_HASHLEN + 1
 * bytes): '*' and the upper-case hex of SHA1(SHA1(pw)), as the server's
 * PASSWORD() computes it.  SHA-1 is nettle's (libsodium has none).  The
 * inner digest is what a login proves knowledge of, so it lives in secure
 * memory and is wiped; so is the hash context.
 */
int
vd_drv_native_hash(const struct vd_secret *pw, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	struct sha1_ctx *ctx = NULL;
	struct vd_secret *d = NULL;
	uint8_t d2[SHA1_DIGEST_SIZE];
	size_t i;
	int r;

	if (outlen > 0)
		out[0] = '\0';
	if (pw == NULL || outlen < VD_DRV_NATIVE_HASHLEN + 1)
		return VD_EINVAL;
	/* Context and stage-1 digest together in one secure buffer. */
	if ((d = vd_secret_new(sizeof(*ctx) + SHA1_DIGEST_SIZE)) == NULL)
		return VD_ENOMEM;
	ctx = (struct sha1_ctx *)(void *)d->data;
	sha1_init(ctx);
	sha1_update(ctx, pw->len, pw->data);
	sha1_digest(ctx, SHA1_DIGEST_SIZE, d->data + sizeof(*ctx));
	sha1_init(ctx);
	sha1_update(ctx, SHA1_DIGEST_SIZE, d->data + sizeof(*ctx));
	sha1_digest(ctx, SHA1_DIGEST_SIZE, d2);
	out[0] = '*';
	for (i = 0; i < SHA1_DIGEST_SIZE; i++) {
		out[1 + 2 * i] = hex[d2[i] >> 4];
		out[2 + 2 * i] = hex[d2[i] & 0x0f];
	}
	out[VD_DRV_NATIVE_HASHLEN] = '\0';
	r = 0;
	sodium_memzero(d2, sizeof(d2));
	vd_secret_free(d);
	return r;
}

/*
 * MariaDB's ed25519 plugin's stored value for pw into out
 * (VD_DRV_ED25519_HASHLEN + 1 bytes): the Ed25519 public key whose secret
 * scalar is the clamped first half of SHA-512(pw), in unpadded base64, as
 * the plugin's PASSWORD() computes it (libsodium; the scalar is wiped).
 */
int
vd_drv_ed25519_hash(const struct vd_secret *pw, char *out, size_t outlen)
{
	struct vd_secret *az = NULL;
	unsigned char pk[crypto_scalarmult_ed25519_BYTES];
	int r;

	if (outlen > 0)
		out[0] = '\0';
	if (pw == NULL || outlen < VD_DRV_ED25519_HASHLEN + 1)
		return VD_EINVAL;
	if ((az = vd_secret_new(crypto_hash_sha512_BYTES)) == NULL)
		return VD_ENOMEM;
	crypto_hash_sha512(az->data, pw->data, pw->len);
	az->data[0] &= 248;
	az->data[31] &= 63;
	az->data[31] |= 64;
	if (crypto_scalarmult_ed25519_base_noclamp(pk, az->data) != 0) {
		r = VD_EINVAL;
		goto out;
	}
	(void)sodium_bin2base64(out, outlen, pk, sizeof(pk),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	r = strlen(out) == VD_DRV_ED25519_HASHLEN ? 0 : VD_EINVAL;
 out:
	vd_secret_free(az);
	return r;
}

/* How set_password() hands the new password to the server. */
enum pwform {
	PW_NATIVE,	/* '*<40 hex>' (mysql_native_password's hash) */
	PW_ED25519,	/* '<43 base64>' (the ed25519 plugin's value) */
	PW_PLAIN,	/* PASSWORD('plain') (MySQL: 'plain') */
};

/*
 * Builds and runs SET PASSWORD FOR 'user'@'host' = … in form f.  On a
 * server error, *e is its number and err its reason; returns as
 * vd_drv_set_password().
 */
static int
set_pw_form(struct vd_drv_conn *c, const char *user, const char *host,
    const struct vd_secret *newpw, enum pwform f, unsigned int *e, char *err,
    size_t errlen)
{
	struct vd_secret *q = NULL;
	char hash[VD_DRV_NATIVE_HASHLEN + VD_DRV_ED25519_HASHLEN + 2];
	size_t ulen = strlen(user), hlen = strlen(host), cap;
	int r;

	*e = 0;
	hash[0] = '\0';
	if (f == PW_NATIVE)
		r = vd_drv_native_hash(newpw, hash, sizeof(hash));
	else if (f == PW_ED25519)
		r = vd_drv_ed25519_hash(newpw, hash, sizeof(hash));
	else
		r = 0;
	if (r != 0) {
		seterr(err, errlen, "cannot hash the new password");
		goto out;
	}
	cap = 64 + 2 * ulen + 2 * hlen + 2 * newpw->len + sizeof(hash);
	if ((q = vd_secret_new(cap)) == NULL) {
		seterr(err, errlen, "out of secure memory");
		r = VD_ENOMEM;
		goto out;
	}
	if ((r = PUTS(c, q, "SET PASSWORD FOR '")) != 0 ||
	    (r = put(c, q, user, ulen, 1)) != 0 ||
	    (r = PUTS(c, q, "'@'")) != 0 ||
	    (r = put(c, q, host, hlen, 1)) != 0)
		goto build;
	if (f != PW_PLAIN)
		r = PUTS(c, q, "' = '") ||
		    put(c, q, hash, strlen(hash), 0) ||
		    PUTS(c, q, "'") ? VD_ETOOBIG : 0;
	else if (c->mariadb)
		r = PUTS(c, q, "' = PASSWORD('") ||
		    put(c, q, (const char *)newpw->data, newpw->len, 1) ||
		    PUTS(c, q, "')") ? VD_ETOOBIG : 0;
	else
		r = PUTS(c, q, "' = '") ||
		    put(c, q, (const char *)newpw->data, newpw->len, 1) ||
		    PUTS(c, q, "'") ? VD_ETOOBIG : 0;
 build:
	if (r != 0) {
		seterr(err, errlen, "cannot build the statement");
		goto out;
	}
	if (mysql_real_query(c->my, (const char *)q->data,
	    (unsigned long)q->len) != 0) {
		*e = mysql_errno(c->my);
		r = myerr(c->my, "SET PASSWORD", newpw, err, errlen);
		if ((*e == ER_CANNOT_USER || *e == ER_NOT_VALID_PASSWORD) &&
		    add_warnings(c, newpw, err, errlen))
			r = VD_EPOLICY;
		/*
		 * The connection died with the statement sent (the server
		 * killed or restarted, the network cut): the server may have
		 * applied and committed it before the reply was lost.  Found
		 * by the crash soak: reported as a plain failure, the caller
		 * kept the old password as current and then saw it refused.
		 * Outcome unknown, like a timeout: the caller must verify.
		 */
		if (*e == CR_SERVER_LOST || *e == CR_SERVER_GONE_ERROR) {
			adderr(err, errlen, " (the connection was lost with "
			    "the statement sent: it may have been applied)");
			r = VD_ETIMEDOUT;
		}
		goto out;
	}
	r = 0;
 out:
	sodium_memzero(hash, sizeof(hash));
	vd_secret_free(q);	/* wipes the statement */
	return r;
}

int
vd_drv_set_password(struct vd_drv_conn *c, const char *user,
    const char *host, const struct vd_secret *newpw, char *err,
    size_t errlen)
{
	unsigned int e;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (!strok(user, NAME_MAXLEN) || host == NULL ||
	    strnlen(host, NAME_MAXLEN) >= NAME_MAXLEN) {
		seterr(err, errlen, "bad account name");
		return VD_EINVAL;
	}
	if (newpw == NULL || newpw->len == 0 ||
	    memchr(newpw->data, '\0', newpw->len) != NULL) {
		seterr(err, errlen, "new password is empty or holds a NUL byte");
		return VD_EINVAL;
	}
	/*
	 * The general log records SET PASSWORD as sent: keep this session
	 * out of it.  Needs SUPER; without it the statement fails harmlessly
	 * and the server's log settings decide (the hash forms below keep
	 * the plaintext out of the log anyway).
	 */
	if (!c->log_off) {
		c->log_off = 1;
		(void)mysql_query(c->my, "SET SESSION sql_log_off = 1");
	}
	if (!c->mariadb)	/* MySQL: no PASSWORD(), no pre-hashed SET */
		return set_pw_form(c, user, host, newpw, PW_PLAIN, &e, err,
		    errlen);
	/*
	 * MariaDB: send the account plugin's stored value, never the
	 * plaintext, so neither the general log nor the binlog can show it.
	 * mysql_native_password first; ER_PASSWD_LENGTH "should be 43
	 * characters long" means an ed25519 account.  A validation plugin
	 * (strict_password_validation, the default) refuses any pre-hashed
	 * password with ER_OPTION_PREVENTS_STATEMENT: only then is the
	 * plaintext sent, because the server must see it to check it.
	 */
	r = set_pw_form(c, user, host, newpw, PW_NATIVE, &e, err, errlen);
	if (r != 0 && e == ER_PASSWD_LENGTH &&
	    strstr(mysql_error(c->my), "43 char") != NULL)
		r = set_pw_form(c, user, host, newpw, PW_ED25519, &e, err,
		    errlen);
	else if (r != 0 && (e == ER_PASSWD_LENGTH ||
	    e == ER_SET_PASSWORD_AUTH_PLUGIN)) {
		/* 1699: unix_socket, pam … alone: no password at all. */
		adderr(err, errlen, " (the account's authentication plugin "
		    "takes neither a mysql_native_password nor an ed25519 "
		    "password: not rotatable)");
		return VD_EINVAL;
	}
	if (r != 0 && e == ER_OPTION_PREVENTS_STATEMENT)
		r = set_pw_form(c, user, host, newpw, PW_PLAIN, &e, err,
		    errlen);
	return r;
}

/* Returns 1 when the target's server runs on this host. */
static int
server_is_local(const struct vd_dbtarget *t)
{
	if (t->unix_socket != NULL && *t->unix_socket != '\0')
		return 1;
	return t->host == NULL || *t->host == '\0' ||
	    strcasecmp(t->host, "localhost") == 0 ||
	    strcmp(t->host, "127.0.0.1") == 0 || strcmp(t->host, "::1") == 0;
}

/* Picks the route for a login as user@ah; 0, or VD_DRV_UNREACHABLE. */
static int
pick_route(const struct vd_dbtarget *t, const char *ah, struct route *ro)
{
	int local = server_is_local(t);
	int hostless = t->host == NULL || *t->host == '\0' ||
	    strcasecmp(t->host, "localhost") == 0;

	memset(ro, 0, sizeof(*ro));
	if (strcasecmp(ah, "localhost") == 0) {
		if (t->unix_socket != NULL && *t->unix_socket != '\0') {
			ro->host = "localhost";
			ro->sock = t->unix_socket;
			return 0;
		}
		if (hostless) {
			ro->host = "localhost";	/* the library's default socket */
			return 0;
		}
		return VD_DRV_UNREACHABLE;
	}
	if (strcmp(ah, "127.0.0.1") == 0 || strcmp(ah, "::1") == 0) {
		if (!local)
			return VD_DRV_UNREACHABLE;
		ro->host = ah;
		ro->tcp = 1;
		return 0;
	}
	if (t->host != NULL && *t->host != '\0' &&
	    strcasecmp(ah, t->host) == 0) {
		ro->host = t->host;
		ro->tcp = 1;
		return 0;
	}
	return VD_DRV_UNREACHABLE;
}

int
vd_drv_connect_host(const struct vd_dbtarget *t, const char *account_host,
    const struct vd_secret *pw, struct vd_drv_conn **out, char *err,
    size_t errlen)
{
	struct vd_drv_conn *c = NULL;
	struct route ro;
	char cu[2 * NAME_MAXLEN + 2];
	const char *at;
	int r;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (t == NULL || !strok(t->user, NAME_MAXLEN) || account_host == NULL ||
	    strnlen(account_host, NAME_MAXLEN) >= NAME_MAXLEN) {
		seterr(err, errlen, "bad target or account host");
		return VD_EINVAL;
	}
	if (pick_route(t, account_host, &ro) != 0) {
		seterr(err, errlen, "account host '%s' cannot be reached from "
		    "here", account_host);
		return VD_DRV_UNREACHABLE;
	}
	if ((r = connect_route(t, &ro, t->user, pw, &c, err, errlen)) != 0)
		return r;
	if ((r = vd_drv_current_user(c, cu, sizeof(cu), err, errlen)) != 0)
		goto out;
	/* "user@host": the user part may hold '@', the host part may not. */
	if ((at = strrchr(cu, '@')) == NULL ||
	    (size_t)(at - cu) != strlen(t->user) ||
	    strncmp(cu, t->user, (size_t)(at - cu)) != 0 ||
	    strcasecmp(at + 1, account_host) != 0) {
		seterr(err, errlen, "login for host '%s' matched account '%s'; "
		    "that host cannot be verified from here", account_host, cu);
		r = VD_DRV_UNREACHABLE;
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
 out:
	vd_drv_close(c);
	return r;
}

int
vd_drv_probe(const struct vd_dbtarget *t, const char *account_host,
    const struct vd_secret *pw, char *err, size_t errlen)
{
	struct vd_drv_conn *c = NULL;
	int r;

	r = vd_drv_connect_host(t, account_host, pw, &c, err, errlen);
	vd_drv_close(c);
	return r;
}
