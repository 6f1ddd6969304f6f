/*
 * driver.c - the MariaDB/MySQL driver; the only file that includes
 * <mysql.h>.  See driver.h for the contract and /work/shared/MARIADB.md
 * for the server behaviour it works around.
 */
#define _GNU_SOURCE	/* memmem, strcasestr */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <threads.h>	/* call_once; not pthread.h, see vd_drv_init() */
#include <time.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>
#include <nettle/sha1.h>	/* mysql_native_password's hash; see native_hash() */
#include <mysqld_error.h>
#include <sodium.h>

#include "driver.h"
#include "err.h"
#include "grants.h"
#include "mem.h"
#include "util.h"

#define PATH_MAXLEN	4096	/* longest socket path / host accepted */

/*
 * VD_DRV_AUTH_PLUGINS (driver.h): the only authentication plugins a login
 * may use (issue 14 item 5), the password methods vaultd rotates, narrowed
 * per target account to its own (vd_dbtarget.auth).  Never
 * mysql_clear_password or dialog (they send the password as it is), nor
 * sha256_password or caching_sha2_password (RSA to a key the server sends,
 * unverified).  A server that asks for any other plugin, in its greeting
 * or by an auth switch, is refused by Connector/C before the plugin runs.
 */
#define NAME_MAXLEN	1024	/* longest user or account host accepted */

/*
 * How vaultd sees one authentication method of an account.  Password
 * methods store a value derived from the password alone, so vaultd can
 * compute and compare it; the others let a login in by other means.
 */
enum mkind {
	MK_NATIVE,	/* mysql_native_password: '*' + hex SHA1(SHA1(pw)) */
	MK_ED25519,	/* ed25519: base64 of the public key from pw */
	MK_NOPW,	/* unix_socket, named_pipe, gssapi, pam: no password */
	MK_UNKNOWN,	/* any other plugin: vaultd cannot tell */
};

#define MAXMETHODS	8	/* OR alternatives read per account */
#define PLUGIN_MAXLEN	64	/* longest plugin name accepted */
#define AUTH_MAXLEN	512	/* longest stored authentication string */
#define CREATE_MAXLEN	4096	/* longest SHOW CREATE USER line accepted */

/* One method of an account, in the account's order. */
struct method {
	enum mkind	 kind;
	char		 plugin[PLUGIN_MAXLEN];	/* the plugin's name */
	char		 auth[AUTH_MAXLEN];	/* its stored string */
};

/* An account's methods ("IDENTIFIED VIA a OR b …"). */
struct methods {
	size_t		 n;			/* methods in m */
	struct method	 m[MAXMETHODS];
};

/*
 * Wipes an account's methods (its stored hashes) when the variable goes
 * out of scope, on every return path: struct methods ms METHODS_WIPED;
 */
static void
ms_wipe(struct methods *ms)
{
	sodium_memzero(ms, sizeof(*ms));
}
#define METHODS_WIPED	__attribute__((cleanup(ms_wipe)))

struct vd_drv_conn {
	MYSQL		*my;		/* the Connector/C handle */
	int		 mariadb;	/* 1: MariaDB, 0: MySQL */
	int		 log_off;	/* sql_log_off: 0 not tried, 1 on or
					 * skipped, 2 refused by the server */
	/*
	 * The session's own account and its methods, as one SHOW CREATE
	 * USER without a name returned them (vd_drv_current_user()), so
	 * that read_methods() of that very account on this connection needs
	 * no second round trip (issue 18).  Valid while own_ok; dropped
	 * (wiped: the methods hold stored password hashes) by drop_own() on
	 * every password change sent on this connection, every statement
	 * a caller runs through vd_drv_exec()/vd_drv_query1(), and close.
	 */
	int		 own_ok;	/* 1: the three fields below are valid */
	char		 own_user[NAME_MAXLEN];	/* its user name, decoded */
	char		 own_host[NAME_MAXLEN];	/* its host, decoded */
	struct methods	 own;		/* its methods */
};

/* Where one login goes. */
struct route {
	const char	*host;		/* TCP host, or "localhost" for a socket */
	const char	*sock;		/* socket path; NULL: library default */
	int		 tcp;		/* 1: TCP, 0: Unix socket */
	const char	*row;		/* account host the login is for; NULL:
					 * whichever row the server matches */
};

/* Forgets c's own account and methods (vd_drv_conn.own_ok), wiped. */
static void
drop_own(struct vd_drv_conn *c)
{
	if (c->own_ok)
		sodium_memzero(&c->own, sizeof(c->own));
	c->own_ok = 0;
	c->own_user[0] = '\0';
	c->own_host[0] = '\0';
}

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

/* Monotonic seconds. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * After a failed mysql_real_connect(): returns the reason when the server
 * cannot be reached from here at all (nothing listens on that address,
 * no route to it), or NULL.  Connector/C reports these as 2002 (socket,
 * and TCP to some addresses) or 2003 with the system errno in the last
 * "(N)" of its (untranslated) message.  EINPROGRESS is what a
 * non-blocking connect leaves behind both when the peer refused it and
 * when the connect timeout passed: only a quick one is a refusal.
 */
static const char *
unreach_reason(unsigned int e, const char *msg, int quick)
{
	const char *p;
	char *end;
	long n;

	if (e != CR_CONNECTION_ERROR && e != CR_CONN_HOST_ERROR)
		return NULL;
	if ((p = strrchr(msg, '(')) == NULL)
		return NULL;
	n = strtol(p + 1, &end, 10);
	if (end == p + 1 || *end != ')')
		return NULL;
	switch (n) {
	case ECONNREFUSED:
		return "connection refused";
	case EHOSTUNREACH:
		return "no route to host";
	case ENETUNREACH:
		return "network unreachable";
	case EADDRNOTAVAIL:
		return "address not available";
	case EINPROGRESS:
		return quick ? "connection refused" : NULL;
	default:
		return NULL;
	}
}

/*
 * Appends to a connection error in err the route taken and the account
 * row the login was for: " (login as 'u'@'127.0.0.1 by TCP
 * 127.0.0.1:3306)", " (login as 'u' (any row) by socket /run/…)", so
 * that "Can't connect to server on '127.0.0.1'" says which of a target's
 * routes failed, and for which row.
 */
static void
name_route(const struct vd_dbtarget *t, const struct route *ro,
    const char *user, char *err, size_t errlen)
{
	char row[NAME_MAXLEN + 16];
	unsigned port = t->port ? t->port : VD_DRV_PORT_DEFAULT;
	int v6 = ro->tcp && strchr(ro->host, ':') != NULL;

	if (ro->row != NULL)
		(void)snprintf(row, sizeof(row), "@'%.*s'", NAME_MAXLEN,
		    ro->row);
	else
		(void)snprintf(row, sizeof(row), " (any row)");
	if (ro->tcp)
		adderr(err, errlen, " (login as '%s'%s by TCP %s%s%s:%u)", user,
		    row, v6 ? "[" : "", ro->host, v6 ? "]" : "", port);
	else
		adderr(err, errlen, " (login as '%s'%s by socket %s)", user,
		    row, ro->sock != NULL ? ro->sock : "(the library's "
		    "default)");
}

/*
 * The client plugins a login as user may use: t->auth (the target
 * account's own methods, learned by vd_drv_auth_plugins()) for t->user,
 * t->admin_auth for t->admin_user, VD_DRV_AUTH_PLUGINS for anyone else or
 * when t has none.  They must be one of vd_drv_auth_list()'s strings.
 */
static int
auth_for(const struct vd_dbtarget *t, const char *user, const char **plugins,
    char *err, size_t errlen)
{
	const char *list = NULL;

	*plugins = VD_DRV_AUTH_PLUGINS;
	if (user == NULL)
		return 0;
	if (t->user != NULL && strcmp(user, t->user) == 0)
		list = t->auth;
	else if (t->admin_user != NULL && strcmp(user, t->admin_user) == 0)
		list = t->admin_auth;
	if (list == NULL || list[0] == '\0')
		return 0;
	for (unsigned m = 1; m <= VD_DRV_AUTH_NATIVE + VD_DRV_AUTH_ED25519;
	    m++)
		if (strcmp(list, vd_drv_auth_list(m)) == 0) {
			*plugins = vd_drv_auth_list(m);
			return 0;
		}
	seterr(err, errlen, "unknown authentication plugin list in the "
	    "target record");
	return VD_EINVAL;
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
	my_bool on = 1, off8 = 0;
	const char *why, *plugins;
	double t0;
	int r, tls, tried = 0;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((r = auth_for(t, user, &plugins, err, errlen)) != 0)
		return r;
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
	tls = ro->tcp && (t->tls_required || (!t->tls_disabled &&
	    !vd_host_is_loopback(ro->host)));
	if (mysql_options(c->my, MYSQL_OPT_CONNECT_TIMEOUT, &ct) != 0 ||
	    mysql_options(c->my, MYSQL_OPT_READ_TIMEOUT, &rw) != 0 ||
	    mysql_options(c->my, MYSQL_OPT_WRITE_TIMEOUT, &rw) != 0 ||
	    mysql_options(c->my, MYSQL_OPT_PROTOCOL, &proto) != 0 ||
	    mysql_options(c->my, MYSQL_OPT_LOCAL_INFILE, &off) != 0 ||
	    mysql_options(c->my, MYSQL_SET_CHARSET_NAME, "utf8mb4") != 0 ||
	    mysql_options(c->my, MYSQL_ENABLE_CLEARTEXT_PLUGIN, &off8) != 0 ||
	    mysql_options(c->my, MARIADB_OPT_RESTRICTED_AUTH, plugins) != 0 ||
	    /*
	     * The greeting names the server's default plugin (usually
	     * mysql_native_password), and Connector/C checks that one
	     * against the list too: an ed25519-only account starts with
	     * client_ed25519 instead.
	     */
	    (strcmp(plugins, "client_ed25519") == 0 && mysql_options(c->my,
	    MYSQL_DEFAULT_AUTH, plugins) != 0)) {
		r = myerr(c->my, "setting connection options", NULL, err,
		    errlen);
		goto out;
	}
	/*
	 * Connector/C 3.3 treats SSL_ENFORCE alone as "TLS if offered" and
	 * fails a TLS-less server only when the certificate is verified, so
	 * verify (tls_ca, else the system's CAs) and check the cipher below.
	 */
	if (tls) {
		if (mysql_options(c->my, MYSQL_OPT_SSL_ENFORCE, &on) != 0 ||
		    mysql_options(c->my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT,
		    &on) != 0 || (t->tls_ca != NULL && mysql_options(c->my,
		    MYSQL_OPT_SSL_CA, t->tls_ca) != 0)) {
			r = myerr(c->my, "setting TLS options", NULL, err,
			    errlen);
			goto out;
		}
	}
	t0 = now_s();
	tried = 1;
	if (mysql_real_connect(c->my, ro->tcp ? ro->host : "localhost", user,
	    (const char *)p->data, NULL, ro->tcp ? port : 0,
	    ro->tcp ? NULL : ro->sock, 0) == NULL) {
		/* Refused, no route: "not reachable", not a database error. */
		if ((why = unreach_reason(mysql_errno(c->my),
		    mysql_error(c->my), now_s() - t0 < ct / 2.0)) != NULL) {
			seterr(err, errlen, "%s %s not reachable from here: %s "
			    "(client error %u)", ro->tcp ? "host" : "socket",
			    ro->tcp ? ro->host : ro->sock ? ro->sock :
			    "(default)", why, mysql_errno(c->my));
			r = VD_EUNREACH;
			goto out;
		}
		if (mysql_errno(c->my) == CR_PLUGIN_NOT_ALLOWED) {
			/* Its message names the wrong plugin: say it here. */
			seterr(err, errlen, "connect: the server asked for an "
			    "authentication plugin outside %s (%s); refused "
			    "before the password was sent (client error %u)",
			    plugins, strcmp(plugins, VD_DRV_AUTH_PLUGINS) == 0 ?
			    "e.g. "
			    "mysql_clear_password" : "the methods the "
			    "account had when it was added or checked; if it "
			    "was changed on purpose, remove the target and "
			    "add it again", CR_PLUGIN_NOT_ALLOWED);
			r = VD_EDB;
			goto out;
		}
		r = myerr(c->my, "connect", p, err, errlen);
		if (tls && !t->tls_required && err != NULL && errlen > 0 &&
		    mysql_errno(c->my) == CR_SSL_CONNECTION_ERROR) {
			size_t n = strlen(err);

			snprintf(err + n, errlen - n, " (TLS with a verified "
			    "certificate is required for %s, which is not "
			    "loopback; the target's `tls disabled` accepts "
			    "plaintext)", ro->host);
		}
		/* EINPROGRESS (115) as the connect timeout passed. */
		if (r == VD_EDB && (mysql_errno(c->my) == CR_CONN_HOST_ERROR ||
		    mysql_errno(c->my) == CR_CONNECTION_ERROR) &&
		    strstr(mysql_error(c->my), "(115)") != NULL)
			r = VD_ETIMEDOUT;
		goto out;
	}
	/*
	 * Connector/C keeps a plain copy of the password for reconnects
	 * (off here) and change_user (unused): wipe it now.
	 */
	if (c->my->passwd != NULL)
		sodium_memzero(c->my->passwd, strlen(c->my->passwd));
	if (tls && mysql_get_ssl_cipher(c->my) == NULL) {
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
	if (r != 0 && tried)
		name_route(t, ro, user, err, errlen);
	vd_secret_free(p);
	vd_drv_close(c);
	return r;
}

/* The route of t's own path: its socket, else TCP to its host. */
static int
target_route(const struct vd_dbtarget *t, struct route *ro, char *err,
    size_t errlen)
{
	memset(ro, 0, sizeof(*ro));
	if (t == NULL) {
		seterr(err, errlen, "no target given");
		return VD_EINVAL;
	}
	if (t->unix_socket != NULL && *t->unix_socket != '\0') {
		ro->host = "localhost";
		ro->sock = t->unix_socket;
	} else if (t->host != NULL && *t->host != '\0') {
		ro->host = t->host;
		ro->tcp = 1;
	} else {
		seterr(err, errlen, "target has neither a socket nor a host");
		return VD_EINVAL;
	}
	return 0;
}

int
vd_drv_connect(const struct vd_dbtarget *t, const char *user,
    const struct vd_secret *pw, struct vd_drv_conn **out, char *err,
    size_t errlen)
{
	struct route ro;
	int r;

	*out = NULL;
	if ((r = target_route(t, &ro, err, errlen)) != 0)
		return r;
	return connect_route(t, &ro, user ? user : t->user, pw, out, err,
	    errlen);
}

void
vd_drv_close(struct vd_drv_conn *c)
{
	if (c == NULL)
		return;
	drop_own(c);
	if (c->my != NULL)
		mysql_close(c->my);
	free(c);
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
	drop_own(c);	/* the caller's statement may change the account */
	return run(c, sql, strlen(sql), NULL, "query", err, errlen);
}

/* vd_drv_query1() of sql of length len (need not be NUL-terminated). */
static int
query1(struct vd_drv_conn *c, const char *sql, size_t len, char *out,
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
	if (mysql_real_query(c->my, sql, (unsigned long)len) != 0)
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

int
vd_drv_query1(struct vd_drv_conn *c, const char *sql, char *out,
    size_t outlen, char *err, size_t errlen)
{
	drop_own(c);	/* the caller's statement may change the account */
	return query1(c, sql, strlen(sql), out, outlen, err, errlen);
}

void
vd_drv_log_off_skip(struct vd_drv_conn *c)
{
	if (c->log_off == 0)
		c->log_off = 1;
}

int
vd_drv_log_off_refused(const struct vd_drv_conn *c)
{
	return c->log_off == 2;
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

static int parse_create(const char *s, char *user, size_t ulen, char *host,
    size_t hlen, struct methods *ms);

/*
 * Sends sql (a SHOW CREATE USER) on c and parses its line into ms and, with
 * user and host, the account's name (parse_create()).  The line holds
 * stored hashes: wiped.  Returns 0, VD_ENOMEM, query1()'s error (*e the
 * server's error number), or VD_EPROTO for a line the parser does not
 * know (no message: the caller names what it asked).
 */
static int
show_create(struct vd_drv_conn *c, const char *sql, size_t len, char *user,
    size_t ulen, char *host, size_t hlen, struct methods *ms,
    unsigned int *e, char *err, size_t errlen)
{
	char *line;
	int r;

	*e = 0;
	if ((line = malloc(CREATE_MAXLEN)) == NULL)
		return VD_ENOMEM;
	if ((r = query1(c, sql, len, line, CREATE_MAXLEN, err, errlen)) != 0)
		*e = mysql_errno(c->my);
	else if (parse_create(line, user, ulen, host, hlen, ms) != 0)
		r = VD_EPROTO;
	sodium_memzero(line, CREATE_MAXLEN);
	free(line);
	return r;
}

/*
 * MariaDB: SHOW CREATE USER without a name shows the session's own
 * account (CURRENT_USER(): the row the server matched; no privilege
 * needed), "CREATE USER `u`@`h` IDENTIFIED …".  One round trip tells
 * both the account, written to buf as CURRENT_USER() writes it
 * ("user@host"), and its methods, kept in c for read_methods() (see
 * vd_drv_conn.own_ok).  Returns 0, or -1 on any failure (an error, a line
 * the parser does not know, a name that does not fit), the cache dropped.
 */
static int
own_account(struct vd_drv_conn *c, char *buf, size_t len)
{
	static const char sql[] = "SHOW CREATE USER";
	unsigned int e;
	int n, r = -1;

	drop_own(c);
	if (show_create(c, sql, sizeof(sql) - 1, c->own_user,
	    sizeof(c->own_user), c->own_host, sizeof(c->own_host), &c->own, &e,
	    NULL, 0) == 0) {
		c->own_ok = 1;
		n = snprintf(buf, len, "%s@%s", c->own_user, c->own_host);
		r = n >= 0 && (size_t)n < len ? 0 : -1;
	}
	if (r != 0)
		drop_own(c);
	return r;
}

int
vd_drv_current_user(struct vd_drv_conn *c, char *buf, size_t len, char *err,
    size_t errlen)
{
	static const char sql[] = "SELECT CURRENT_USER()";

	if (c->mariadb && own_account(c, buf, len) == 0) {
		if (err != NULL && errlen > 0)
			err[0] = '\0';
		return 0;
	}
	/* MySQL, or the short form failed: exactly as before issue 18. */
	return query1(c, sql, sizeof(sql) - 1, buf, len, err, errlen);
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
 * After a refused SET PASSWORD or ALTER USER, appends the messages of SHOW
 * WARNINGS (where validation plugins explain themselves) to err.  Returns
 * 1 when one of them is ER_NOT_VALID_PASSWORD.  When one is
 * ER_OPTION_PREVENTS_STATEMENT (ALTER USER reports strict_password_
 * validation's 1290 as a warning behind 1396), sets *e to it and copies
 * its message to emsg (emsglen).
 */
static int
add_warnings(struct vd_drv_conn *c, const struct vd_secret *pw, char *err,
    size_t errlen, unsigned int *e, char *emsg, size_t emsglen)
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
			if (code == ER_OPTION_PREVENTS_STATEMENT) {
				*e = ER_OPTION_PREVENTS_STATEMENT;
				(void)snprintf(emsg, emsglen, "%s", msg);
			}
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

static enum mkind
kind_of(const char *plugin)
{
	static const char *const nopw[] = {
		"unix_socket", "named_pipe", "gssapi", "pam",
	};
	size_t i;

	if (strcmp(plugin, "mysql_native_password") == 0)
		return MK_NATIVE;
	if (strcmp(plugin, "ed25519") == 0)
		return MK_ED25519;
	for (i = 0; i < VD_NELEM(nopw); i++)
		if (strcmp(plugin, nopw[i]) == 0)
			return MK_NOPW;
	return MK_UNKNOWN;
}

static int
is_pw(enum mkind k)
{
	return k == MK_NATIVE || k == MK_ED25519;
}

/*
 * Whether an account with methods ms (npw of them password methods) is
 * changed by ALTER USER … IDENTIFIED VIA (two password methods, or its
 * password method not first: SET PASSWORD changes the first method only)
 * rather than SET PASSWORD.  vd_drv_set_password() and
 * vd_drv_may_set_password() decide alike through it.
 */
static int
takes_alter(const struct methods *ms, size_t npw)
{
	return ms->n > 0 && (npw > 1 || !is_pw(ms->m[0].kind));
}

/*
 * Skips spaces; then when *p starts with keyword w (any case) followed by
 * a space or the end, moves past it and returns 1; otherwise returns 0
 * and leaves *p alone.
 */
static int
word(const char **p, const char *w)
{
	const char *s = *p;
	size_t n = strlen(w);

	while (*s == ' ')
		s++;
	if (strncasecmp(s, w, n) != 0 || (s[n] != ' ' && s[n] != '\0'))
		return 0;
	*p = s + n;
	return 1;
}

/*
 * Moves *p past a quoted name (`…` or '…', the quote doubled inside).
 * With out, the name must be `…` (as SHOW CREATE USER writes it) and is
 * decoded into out (len bytes, NUL-terminated; too long fails).
 * Returns 0 or -1 (*p left alone).
 */
static int
scan_name(const char **p, char *out, size_t len)
{
	const char *s = *p;
	char q = *s;
	size_t n = 0;

	if (q != '`' && (q != '\'' || out != NULL))
		return -1;
	for (s++; *s != '\0'; s++) {
		if (*s == q && s[1] == q)
			s++;
		else if (*s == q) {
			if (out != NULL)
				out[n] = '\0';
			*p = s + 1;
			return 0;
		} else if (q == '\'' && *s == '\\' && s[1] != '\0')
			s++;
		if (out != NULL) {
			if (n + 1 >= len)
				return -1;
			out[n++] = *s;
		}
	}
	return -1;
}

/*
 * Reads a '…' literal (after spaces) into out, decoding '' and the
 * backslash escapes the server writes.
 */
static int
read_literal(const char **p, char *out, size_t len)
{
	const char *s = *p;
	size_t n = 0;
	char ch;

	while (*s == ' ')
		s++;
	if (*s != '\'')
		return -1;
	for (s++;; s++) {
		if (*s == '\0')
			return -1;
		if (*s == '\'' && s[1] != '\'')
			break;
		if (*s == '\'')
			ch = *++s;
		else if (*s == '\\' && s[1] != '\0') {
			s++;
			ch = *s == '0' ? '\0' : *s == 'n' ? '\n' :
			    *s == 'r' ? '\r' : *s == 'Z' ? '\032' : *s;
		} else
			ch = *s;
		if (n + 1 >= len)
			return -1;
		out[n++] = ch;
	}
	out[n] = '\0';
	*p = s + 1;
	return 0;
}

/* Adds method plugin (name of length n) to ms. */
static struct method *
add_method(struct methods *ms, const char *plugin, size_t n)
{
	struct method *m;

	if (ms->n == MAXMETHODS || n == 0 || n >= PLUGIN_MAXLEN)
		return NULL;
	m = &ms->m[ms->n++];
	memcpy(m->plugin, plugin, n);
	m->plugin[n] = '\0';
	m->auth[0] = '\0';
	m->kind = kind_of(m->plugin);
	return m;
}

/*
 * Parses MariaDB's SHOW CREATE USER line into ms.  The forms:
 *   CREATE USER `u`@`h`				no password
 *   … IDENTIFIED BY PASSWORD '<hash>'		mysql_native_password
 *   … IDENTIFIED VIA p [USING '<s>'] [OR q [USING '<s>']]…
 * followed by REQUIRE, WITH, PASSWORD EXPIRE, ACCOUNT … clauses, which
 * are left alone.  With user (ulen bytes) and host (hlen), the account
 * name must be `u`@`h` and is decoded into them (`` inside a name is one
 * backtick); without, '…' names are skipped too.  Returns 0, or -1 on
 * anything else (MySQL's form, a name that does not fit).
 */
static int
parse_create(const char *s, char *user, size_t ulen, char *host,
    size_t hlen, struct methods *ms)
{
	struct method *m;
	size_t n;

	memset(ms, 0, sizeof(*ms));
	if (!word(&s, "CREATE") || !word(&s, "USER"))
		return -1;
	while (*s == ' ')
		s++;
	if (scan_name(&s, user, ulen) != 0 || *s++ != '@' ||
	    scan_name(&s, host, hlen) != 0)
		return -1;
	if (!word(&s, "IDENTIFIED"))
		return add_method(ms, "mysql_native_password", 21) ? 0 : -1;
	if (word(&s, "BY")) {
		if (!word(&s, "PASSWORD") ||
		    (m = add_method(ms, "mysql_native_password", 21)) == NULL)
			return -1;
		return read_literal(&s, m->auth, sizeof(m->auth));
	}
	if (!word(&s, "VIA"))
		return -1;
	do {
		while (*s == ' ')
			s++;
		for (n = 0; isalnum((unsigned char)s[n]) || s[n] == '_'; n++)
			;
		if ((m = add_method(ms, s, n)) == NULL)
			return -1;
		s += n;
		if (word(&s, "USING") &&
		    read_literal(&s, m->auth, sizeof(m->auth)) != 0)
			return -1;
	} while (word(&s, "OR"));
	return 0;
}

int
vd__drv_parse_create(const char *line, char *user, size_t ulen, char *host,
    size_t hlen, size_t *nmethods)
{
	struct methods ms METHODS_WIPED;
	int r;

	*nmethods = 0;
	if (ulen == 0 || hlen == 0)
		return -1;
	user[0] = host[0] = '\0';
	r = parse_create(line, user, ulen, host, hlen, &ms);
	if (r == 0)
		*nmethods = ms.n;
	return r;
}

/*
 * Builds the statement pre'user'@'host' (both escaped on c) in a new
 * secure buffer *qp with extra bytes to spare for what the caller appends.
 */
static int
acct_stmt(struct vd_drv_conn *c, const char *pre, const char *user,
    const char *host, size_t extra, struct vd_secret **qp)
{
	size_t ulen = strlen(user), hlen = strlen(host);
	int r;

	if ((*qp = vd_secret_new(strlen(pre) + 2 * ulen + 2 * hlen + 8 +
	    extra)) == NULL)
		return VD_ENOMEM;
	if ((r = put(c, *qp, pre, strlen(pre), 0)) != 0 ||
	    (r = PUTS(c, *qp, "'")) != 0 ||
	    (r = put(c, *qp, user, ulen, 1)) != 0 ||
	    (r = PUTS(c, *qp, "'@'")) != 0 ||
	    (r = put(c, *qp, host, hlen, 1)) != 0 ||
	    (r = PUTS(c, *qp, "'")) != 0) {
		vd_secret_free(*qp);
		*qp = NULL;
	}
	return r;
}

/* True for the server's "you may not read that" errors. */
static int
no_privilege(unsigned int e)
{
	return e == ER_DBACCESS_DENIED_ERROR ||
	    e == ER_TABLEACCESS_DENIED_ERROR ||
	    e == ER_SPECIFIC_ACCESS_DENIED_ERROR;
}

/*
 * Reads the authentication methods of 'user'@'host' with SHOW CREATE USER,
 * the server's rendering of mysql.global_priv's plugin,
 * authentication_string and auth_or: one statement for both a privileged
 * session (SELECT on mysql.*, as for reading global_priv) and a session
 * asking about its own account (no privilege needed).  *e is the server's
 * error number on failure.  Returns 0, VD_ENOTFOUND (no such account),
 * VD_EPROTO (a line this parser does not know), or as vd_drv_exec()
 * (VD_EDB when the privilege is missing).
 */
static int
read_methods(struct vd_drv_conn *c, const char *user, const char *host,
    struct methods *ms, unsigned int *e, char *err, size_t errlen)
{
	struct vd_secret *q;
	int r;

	*e = 0;
	ms->n = 0;
	/*
	 * The session's own account, read with vd_drv_current_user() and
	 * unchanged on this connection since: the very same statement's
	 * answer.  Only for exactly that user and host (no case folding).
	 */
	if (c->own_ok && strcmp(user, c->own_user) == 0 &&
	    strcmp(host, c->own_host) == 0) {
		*ms = c->own;
		return 0;
	}
	if ((r = acct_stmt(c, "SHOW CREATE USER ", user, host, 0, &q)) != 0) {
		seterr(err, errlen, "cannot build SHOW CREATE USER");
		return r;
	}
	r = show_create(c, (const char *)q->data, q->len, NULL, 0, NULL, 0,
	    ms, e, err, errlen);
	vd_secret_free(q);
	if (r == VD_ENOMEM)
		seterr(err, errlen, "cannot build SHOW CREATE USER");
	else if (r == VD_EPROTO)
		seterr(err, errlen, "cannot read the authentication methods "
		    "of '%s'@'%s' from SHOW CREATE USER", user, host);
	return r;
}

/*
 * Sets *holds to 1 when method m (a password method) stores pw, else 0.
 * The computed value lives in a stack buffer that is wiped; compared in
 * constant time.  Returns 0, VD_EINVAL or VD_ENOMEM.
 */
static int
method_holds(const struct method *m, const struct vd_secret *pw, int *holds)
{
	char mine[VD_DRV_NATIVE_HASHLEN + VD_DRV_ED25519_HASHLEN + 2];
	char stored[sizeof(mine)];
	size_t i, n;
	int r;

	*holds = 0;
	if (pw->len == 0) {		/* an empty password stores '' */
		*holds = m->auth[0] == '\0';
		return 0;
	}
	if (m->kind == MK_NATIVE)
		r = vd_drv_native_hash(pw, mine, sizeof(mine));
	else
		r = vd_drv_ed25519_hash(pw, mine, sizeof(mine));
	if (r != 0)
		goto out;
	n = strlen(m->auth);
	if (n == strlen(mine)) {
		/* Native hashes are hex: the server may store either case. */
		for (i = 0; i < n; i++)
			stored[i] = m->kind == MK_NATIVE ?
			    (char)toupper((unsigned char)m->auth[i]) :
			    m->auth[i];
		*holds = sodium_memcmp(stored, mine, n) == 0;
	}
 out:
	sodium_memzero(mine, sizeof(mine));
	sodium_memzero(stored, sizeof(stored));
	return r;
}

/*
 * Sets *holds to 1 when every password method of ms stores pw, else 0
 * (also when there is none).  Returns 0, VD_DRV_UNKNOWN when a method's
 * plugin is unknown (its name in err), VD_EINVAL or VD_ENOMEM.
 */
static int
all_hold(const struct methods *ms, const struct vd_secret *pw, int *holds,
    char *err, size_t errlen)
{
	size_t i, npw = 0;
	int h, all = 1, r;

	*holds = 0;
	for (i = 0; i < ms->n; i++) {
		if (ms->m[i].kind == MK_UNKNOWN) {
			seterr(err, errlen, "authentication plugin %s: unknown "
			    "whether it holds a password", ms->m[i].plugin);
			return VD_DRV_UNKNOWN;
		}
		if (!is_pw(ms->m[i].kind))
			continue;
		npw++;
		if ((r = method_holds(&ms->m[i], pw, &h)) != 0)
			return r;
		all &= h;
	}
	*holds = npw > 0 && all;
	return 0;
}

const char *
vd_drv_auth_list(unsigned mask)
{
	switch (mask) {
	case VD_DRV_AUTH_NATIVE:
		return "mysql_native_password";
	case VD_DRV_AUTH_ED25519:
		return "client_ed25519";
	case VD_DRV_AUTH_NATIVE | VD_DRV_AUTH_ED25519:
		return VD_DRV_AUTH_PLUGINS;
	default:
		return NULL;
	}
}

int
vd_drv_auth_plugins(struct vd_drv_conn *c, const char *user,
    const char *host, unsigned *mask, char *err, size_t errlen)
{
	struct methods ms METHODS_WIPED;
	unsigned int e;
	int r;

	if ((r = read_methods(c, user, host, &ms, &e, err, errlen)) != 0)
		return r == VD_EDB && no_privilege(e) ? VD_DRV_UNKNOWN : r;
	for (size_t i = 0; i < ms.n; i++)
		if (ms.m[i].kind == MK_NATIVE)
			*mask |= VD_DRV_AUTH_NATIVE;
		else if (ms.m[i].kind == MK_ED25519)
			*mask |= VD_DRV_AUTH_ED25519;
	return 0;
}

int
vd_drv_holds(struct vd_drv_conn *c, const char *user, const char *host,
    const struct vd_secret *pw, int *holds)
{
	struct methods ms METHODS_WIPED;
	unsigned int e;
	int r;

	*holds = 0;
	if (!strok(user, NAME_MAXLEN) || host == NULL ||
	    strnlen(host, NAME_MAXLEN) >= NAME_MAXLEN || pw == NULL)
		return VD_EINVAL;
	if (!c->mariadb)
		return VD_DRV_UNKNOWN;	/* MySQL: another SHOW CREATE USER */
	r = read_methods(c, user, host, &ms, &e, NULL, 0);
	if ((r == VD_EDB && no_privilege(e)) || r == VD_EPROTO)
		return VD_DRV_UNKNOWN;	/* no privilege, or a form not known */
	if (r != 0)
		return r;
	return all_hold(&ms, pw, holds, NULL, 0);
}

/*
 * Appends the value of the new password for a method of kind k: hashed
 * ('<value>') or plain (PASSWORD('…') on MariaDB, '…' on MySQL).
 */
static int
put_pw(struct vd_drv_conn *c, struct vd_secret *q, enum mkind k,
    const struct vd_secret *pw, int plain)
{
	char hash[VD_DRV_NATIVE_HASHLEN + VD_DRV_ED25519_HASHLEN + 2];
	int r;

	if (plain && c->mariadb)
		return PUTS(c, q, "PASSWORD('") ||
		    put(c, q, (const char *)pw->data, pw->len, 1) ||
		    PUTS(c, q, "')") ? VD_ETOOBIG : 0;
	if (plain)
		return PUTS(c, q, "'") ||
		    put(c, q, (const char *)pw->data, pw->len, 1) ||
		    PUTS(c, q, "'") ? VD_ETOOBIG : 0;
	if (k == MK_ED25519)
		r = vd_drv_ed25519_hash(pw, hash, sizeof(hash));
	else
		r = vd_drv_native_hash(pw, hash, sizeof(hash));
	if (r == 0)
		r = PUTS(c, q, "'") || put(c, q, hash, strlen(hash), 0) ||
		    PUTS(c, q, "'") ? VD_ETOOBIG : 0;
	sodium_memzero(hash, sizeof(hash));
	return r;
}

/*
 * Builds and runs the password change of 'user'@'host' to newpw: with
 * ms NULL, SET PASSWORD FOR … = <value for kind k>; otherwise ALTER USER
 * … IDENTIFIED VIA with every method of ms in its order, each password
 * method given the new value, the others restated as stored.  plain: the
 * password itself instead of the stored value.  On a server error, *e is
 * its number, emsg (emsglen) its message and err the reason.  Returns as
 * vd_drv_set_password().
 */
static int
apply_pw(struct vd_drv_conn *c, const char *user, const char *host,
    const struct methods *ms, enum mkind k, int plain,
    const struct vd_secret *newpw, unsigned int *e, char *emsg,
    size_t emsglen, char *err, size_t errlen)
{
	struct vd_secret *q = NULL;
	size_t i, per = 2 * newpw->len + 2 * AUTH_MAXLEN + PLUGIN_MAXLEN + 64;
	int r;

	*e = 0;
	emsg[0] = '\0';
	/*
	 * Whatever the outcome (a lost reply may hide an applied change), the
	 * methods cached for the session's account may be stale from here on.
	 */
	drop_own(c);
	if ((r = acct_stmt(c, ms == NULL ? "SET PASSWORD FOR " : "ALTER USER ",
	    user, host, per * (ms == NULL ? 1 : ms->n) + 32, &q)) != 0) {
		seterr(err, errlen, "cannot build the statement");
		goto out;
	}
	if (ms == NULL)
		r = PUTS(c, q, " = ") || put_pw(c, q, k, newpw, plain) ?
		    VD_ETOOBIG : 0;
	else
		r = PUTS(c, q, " IDENTIFIED VIA ");
	for (i = 0; ms != NULL && i < ms->n && r == 0; i++) {
		const struct method *m = &ms->m[i];

		if ((i > 0 && PUTS(c, q, " OR ")) ||
		    put(c, q, m->plugin, strlen(m->plugin), 0))
			r = VD_ETOOBIG;
		else if (is_pw(m->kind))
			r = PUTS(c, q, " USING ") ||
			    put_pw(c, q, m->kind, newpw, plain) ?
			    VD_ETOOBIG : 0;
		else if (m->auth[0] != '\0')
			r = PUTS(c, q, " USING '") ||
			    put(c, q, m->auth, strlen(m->auth), 1) ||
			    PUTS(c, q, "'") ? VD_ETOOBIG : 0;
	}
	if (r != 0) {
		seterr(err, errlen, "cannot build the statement");
		goto out;
	}
	if (mysql_real_query(c->my, (const char *)q->data,
	    (unsigned long)q->len) != 0) {
		*e = mysql_errno(c->my);
		(void)snprintf(emsg, emsglen, "%s", mysql_error(c->my));
		r = myerr(c->my, ms == NULL ? "SET PASSWORD" : "ALTER USER",
		    newpw, err, errlen);
		if ((*e == ER_CANNOT_USER || *e == ER_NOT_VALID_PASSWORD) &&
		    add_warnings(c, newpw, err, errlen, e, emsg, emsglen))
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
		if (must_withhold(*e, emsg, newpw))
			emsg[0] = '\0';
		goto out;
	}
	r = 0;
 out:
	vd_secret_free(q);	/* wipes the statement */
	return r;
}

/*
 * After 1290 (ER_OPTION_PREVENTS_STATEMENT) for a hashed password, with
 * the server's message msg: returns 1 when the refusal is
 * strict_password_validation's (ON, with a password validation plugin
 * active), which only the plaintext form can pass; 0 for any other
 * option that prevents the statement (read_only above all: sending the
 * plaintext would change nothing and put it in the logs).  The option
 * name in the message is the server's argument, not translated text.
 */
static int
strict_refusal(struct vd_drv_conn *c, const char *msg)
{
	char v[8];

	if (strstr(msg, "read-only") != NULL ||
	    strstr(msg, "read_only") != NULL)
		return 0;
	if (vd_drv_query1(c, "SELECT @@strict_password_validation AND "
	    "EXISTS (SELECT 1 FROM information_schema.PLUGINS WHERE "
	    "PLUGIN_TYPE = 'PASSWORD VALIDATION' AND PLUGIN_STATUS = "
	    "'ACTIVE')", v, sizeof(v), NULL, 0) != 0)
		return 0;
	return strcmp(v, "1") == 0;
}

int
vd_drv_set_password(struct vd_drv_conn *c, const char *user,
    const char *host, const struct vd_secret *newpw, char *err,
    size_t errlen)
{
	struct methods ms METHODS_WIPED;
	struct methods *alter = NULL;
	enum mkind k = MK_NATIVE;
	char emsg[256], ro[8];
	unsigned int e;
	size_t i, npw = 0;
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
	if (!c->log_off)
		c->log_off = mysql_query(c->my, "SET SESSION sql_log_off = 1")
		    == 0 ? 1 : 2;
	if (!c->mariadb)	/* MySQL: no PASSWORD(), no pre-hashed SET */
		return apply_pw(c, user, host, NULL, MK_NATIVE, 1, newpw, &e,
		    emsg, sizeof(emsg), err, errlen);
	/*
	 * MariaDB: send each password method's stored value, never the
	 * plaintext, so neither the general log nor the binlog can show it.
	 * The methods come from the account itself (by plugin name, not by
	 * the wording of an error).  SET PASSWORD changes only the account's
	 * first method (and fails with 1699 when that is unix_socket), so an
	 * account with another password method, or whose password method is
	 * not first, gets ALTER USER … IDENTIFIED VIA with all its methods
	 * restated (that needs the CREATE USER privilege).
	 */
	r = read_methods(c, user, host, &ms, &e, err, errlen);
	if ((r == VD_EDB && no_privilege(e)) || r == VD_EPROTO) {
		/*
		 * Methods unreadable (no SELECT on mysql.*, an unknown form):
		 * the account's first method decides, told by error number
		 * alone: 1372 for the native hash means ed25519's length.
		 */
		r = apply_pw(c, user, host, NULL, k, 0, newpw, &e, emsg,
		    sizeof(emsg), err, errlen);
		if (r != 0 && e == ER_PASSWD_LENGTH) {
			k = MK_ED25519;
			r = apply_pw(c, user, host, NULL, k, 0, newpw, &e,
			    emsg, sizeof(emsg), err, errlen);
		}
		if (r != 0 && (e == ER_PASSWD_LENGTH ||
		    e == ER_SET_PASSWORD_AUTH_PLUGIN)) {
			adderr(err, errlen, " (the account's authentication "
			    "plugin takes neither a mysql_native_password nor "
			    "an ed25519 password: not rotatable)");
			return VD_EINVAL;
		}
		goto refused;
	}
	if (r != 0)
		return r;
	for (i = 0; i < ms.n; i++) {
		if (ms.m[i].kind == MK_UNKNOWN) {
			seterr(err, errlen, "'%s'@'%s' authenticates via %s, "
			    "which vaultd cannot tell holds a password or not: "
			    "not rotatable", user, host, ms.m[i].plugin);
			return VD_EINVAL;
		}
		npw += is_pw(ms.m[i].kind);
	}
	if (npw == 0) {
		seterr(err, errlen, "the authentication plugins of '%s'@'%s' "
		    "take neither a mysql_native_password nor an ed25519 "
		    "password: not rotatable", user, host);
		return VD_EINVAL;
	}
	if (takes_alter(&ms, npw))
		alter = &ms;
	else
		k = ms.m[0].kind;
	r = apply_pw(c, user, host, alter, k, 0, newpw, &e, emsg,
	    sizeof(emsg), err, errlen);
 refused:
	/*
	 * A validation plugin with strict_password_validation (the default)
	 * refuses any pre-hashed password with 1290: only then is the
	 * plaintext sent, because the server must see it to check it.
	 */
	if (r != 0 && e == ER_OPTION_PREVENTS_STATEMENT) {
		if (strict_refusal(c, emsg))
			r = apply_pw(c, user, host, alter, k, 1, newpw, &e,
			    emsg, sizeof(emsg), err, errlen);
		else if (vd_drv_query1(c, "SELECT @@read_only", ro, sizeof(ro),
		    NULL, 0) == 0 && strcmp(ro, "0") != 0)
			adderr(err, errlen, " (the server is read-only and "
			    "this account lacks READ ONLY ADMIN: on a replica, "
			    "change the password on its primary)");
	}
	if (r != 0 && e == ER_SPECIFIC_ACCESS_DENIED_ERROR && alter != NULL)
		adderr(err, errlen, " (the account has %zu password methods, "
		    "or its password method is not its first: changing them "
		    "all takes ALTER USER, which needs CREATE USER)", npw);
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
	ro->row = ah;
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

/* Returns 1 when this process's effective OS user is named name. */
static int
os_user_is(const char *name)
{
	struct passwd pwd, *res = NULL;
	char buf[1024];

	return getpwuid_r(geteuid(), &pwd, buf, sizeof(buf), &res) == 0 &&
	    res != NULL && strcmp(res->pw_name, name) == 0;
}

/*
 * Returns the name of a method of ms that may have let a login of user
 * along ro in without the password, or NULL when the password was the
 * only way in.  unix_socket lets in a Unix-socket login whose OS user
 * (the peer's uid, this process's effective one) has the database user's
 * name; named_pipe exists only on Windows; gssapi, pam and any unknown
 * plugin are taken to let anyone in (conservative).
 */
static const char *
bypass(const struct methods *ms, const struct route *ro, const char *user)
{
	size_t i;

	for (i = 0; i < ms->n; i++) {
		const struct method *m = &ms->m[i];

		if (is_pw(m->kind) || strcmp(m->plugin, "named_pipe") == 0)
			continue;
		if (strcmp(m->plugin, "unix_socket") == 0) {
			if (!ro->tcp && os_user_is(user))
				return m->plugin;
			continue;
		}
		return m->plugin;
	}
	return NULL;
}

/*
 * After a login as user@host (the account the server matched) along ro
 * with pw: proves that pw, not another method, let it in.  When no
 * method of the account could have let it in without the password
 * (bypass()), the login is the proof.  Otherwise the account's stored
 * values, read through this very session (SHOW CREATE USER of its own
 * account needs no privilege; on MariaDB the one connect_proven()'s
 * vd_drv_current_user() already sent, cached in c), must all be pw's.  Returns 0 (proven),
 * VD_EAUTH (a method let the login in, but the account does not hold
 * pw), VD_DRV_UNPROVEN (nothing proves it: no password method, an
 * unknown plugin, the methods unreadable), VD_ETIMEDOUT or VD_ENOMEM.
 */
static int
prove(struct vd_drv_conn *c, const char *user, const char *host,
    const struct route *ro, const struct vd_secret *pw, char *err,
    size_t errlen)
{
	struct methods ms METHODS_WIPED;
	const char *via;
	unsigned int e;
	size_t i, npw = 0;
	int h, r;

	if (!c->mariadb)	/* MySQL has no "OR" alternatives */
		return 0;
	if ((r = read_methods(c, user, host, &ms, &e, err, errlen)) != 0) {
		if (r == VD_ETIMEDOUT || r == VD_ENOMEM)
			return r;
		adderr(err, errlen, "; the login may not have needed the "
		    "password: unproven");
		return VD_DRV_UNPROVEN;
	}
	if ((via = bypass(&ms, ro, user)) == NULL)
		return 0;
	if ((r = all_hold(&ms, pw, &h, err, errlen)) == 0 && h)
		return 0;
	if (r != 0 && r != VD_DRV_UNKNOWN)
		return r;
	for (i = 0; r == 0 && i < ms.n; i++)
		npw += is_pw(ms.m[i].kind);
	if (npw > 0) {
		seterr(err, errlen, "the login as '%s'@'%s' may have succeeded "
		    "via %s, and the account's stored password does not "
		    "match: password refused", user, host, via);
		return VD_EAUTH;
	}
	adderr(err, errlen, "%sthe login as '%s'@'%s' may have succeeded via "
	    "%s without the password, and no stored password proves it: "
	    "unproven", err != NULL && err[0] != '\0' ? "; " : "", user, host,
	    via);
	return VD_DRV_UNPROVEN;
}

/*
 * Splits CURRENT_USER() "user@host" in cu (the user part may hold '@',
 * the host part may not): NUL-terminates the user part and points *host
 * at the host part.  Returns 0 or -1.
 */
static int
split_account(char *cu, char **host)
{
	char *at = strrchr(cu, '@');

	if (at == NULL)
		return -1;
	*at = '\0';
	*host = at + 1;
	return 0;
}

/*
 * Connects as user along ro with pw and proves the login (prove()) for
 * the account the server matched; with want_host set, that account must
 * be user@want_host.  On success *out owns the connection.  On MariaDB
 * this is one statement after the login: SHOW CREATE USER (no name) tells
 * the matched account and the methods prove() reads (issue 18).
 */
static int
connect_proven(const struct vd_dbtarget *t, const struct route *ro,
    const char *user, const char *want_host, const struct vd_secret *pw,
    struct vd_drv_conn **out, char *err, size_t errlen)
{
	struct vd_drv_conn *c = NULL;
	char cu[2 * NAME_MAXLEN + 2], *host = NULL;
	int r;

	*out = NULL;
	if ((r = connect_route(t, ro, user, pw, &c, err, errlen)) != 0)
		return r;
	if ((r = vd_drv_current_user(c, cu, sizeof(cu), err, errlen)) != 0)
		goto out;
	if (split_account(cu, &host) != 0 || strcmp(cu, user) != 0 ||
	    (want_host != NULL && strcasecmp(host, want_host) != 0)) {
		if (host != NULL && host > cu)
			host[-1] = '@';
		seterr(err, errlen, "login for host '%s' matched account '%s'; "
		    "that host cannot be verified from here",
		    want_host ? want_host : "(any)", cu);
		r = VD_DRV_UNREACHABLE;
		goto out;
	}
	if ((r = prove(c, user, host, ro, pw, err, errlen)) != 0)
		goto out;
	*out = c;
	c = NULL;
 out:
	vd_drv_close(c);
	return r;
}

int
vd_drv_login(const struct vd_dbtarget *t, const char *user,
    const struct vd_secret *pw, char *err, size_t errlen)
{
	struct vd_drv_conn *c = NULL;
	struct route ro;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((r = target_route(t, &ro, err, errlen)) != 0)
		return r;
	r = connect_proven(t, &ro, user ? user : t->user, NULL, pw, &c, err,
	    errlen);
	vd_drv_close(c);
	return r;
}

int
vd_drv_connect_host(const struct vd_dbtarget *t, const char *account_host,
    const struct vd_secret *pw, struct vd_drv_conn **out, char *err,
    size_t errlen)
{
	struct route ro;
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
	r = connect_proven(t, &ro, t->user, account_host, pw, out, err,
	    errlen);
	return r == VD_EUNREACH ? VD_DRV_UNREACHABLE : r;
}

int
vd_drv_probe(const struct vd_dbtarget *t, const char *account_host,
    const struct vd_secret *pw, char *err, size_t errlen)
{
	return vd_drv_probe_old(t, account_host, pw, NULL, NULL, err, errlen);
}

int
vd_drv_probe_old(const struct vd_dbtarget *t, const char *account_host,
    const struct vd_secret *pw, const struct vd_secret *old, int *old_held,
    char *err, size_t errlen)
{
	struct vd_drv_conn *c = NULL;
	int h = 0, r;

	if (old_held != NULL)
		*old_held = -1;
	r = vd_drv_connect_host(t, account_host, pw, &c, err, errlen);
	/*
	 * The proven session is the account's own: its methods, read by the
	 * login's proof, answer from c's cache (no round trip) when the
	 * names match exactly, by one SHOW CREATE USER otherwise.
	 */
	if (r == 0 && old != NULL && old_held != NULL &&
	    vd_drv_holds(c, t->user, account_host, old, &h) == 0)
		*old_held = h;
	vd_drv_close(c);
	return r;
}

int
vd_drv_passwordless(struct vd_drv_conn *c, const struct vd_dbtarget *t,
    const char *account_host, int *can, char *via, size_t vialen)
{
	struct methods ms METHODS_WIPED;
	struct route ro;
	const char *m;
	unsigned int e;
	int r;

	*can = 0;
	if (vialen > 0)
		via[0] = '\0';
	if (t == NULL || !strok(t->user, NAME_MAXLEN) || account_host == NULL ||
	    strnlen(account_host, NAME_MAXLEN) >= NAME_MAXLEN)
		return VD_EINVAL;
	if (pick_route(t, account_host, &ro) != 0)
		return VD_DRV_UNREACHABLE;
	if (!c->mariadb)
		return VD_DRV_UNKNOWN;
	r = read_methods(c, t->user, account_host, &ms, &e, NULL, 0);
	if ((r == VD_EDB && no_privilege(e)) || r == VD_EPROTO)
		return VD_DRV_UNKNOWN;
	if (r != 0)
		return r;
	if ((m = bypass(&ms, &ro, t->user)) != NULL) {
		*can = 1;
		if (vialen > 0)
			(void)snprintf(via, vialen, "%s", m);
	}
	return 0;
}

int
vd_drv_role(struct vd_drv_conn *c, int *read_only, int *replica,
    char *primary, size_t len)
{
	MYSQL_RES *res = NULL;
	MYSQL_FIELD *f;
	MYSQL_ROW row;
	char v[8];
	unsigned int i, nf, hi = UINT_MAX, pi = UINT_MAX;
	int n, r;

	if (read_only != NULL)
		*read_only = 0;
	*replica = 0;
	if (len > 0)
		primary[0] = '\0';
	if (read_only != NULL) {
		if ((r = vd_drv_query1(c, "SELECT @@read_only", v, sizeof(v),
		    NULL, 0)) != 0)
			return r;
		*read_only = strcmp(v, "0") != 0 && strcasecmp(v, "OFF") != 0;
	}
	if (mysql_query(c->my, c->mariadb ? "SHOW ALL SLAVES STATUS" :
	    "SHOW SLAVE STATUS") != 0 ||
	    (res = mysql_store_result(c->my)) == NULL) {
		if (read_only != NULL)
			*read_only = 0;
		return myerr(c->my, "replica status", NULL, NULL, 0);
	}
	nf = mysql_num_fields(res);
	f = mysql_fetch_fields(res);
	for (i = 0; i < nf; i++) {
		if (strcmp(f[i].name, "Master_Host") == 0)
			hi = i;
		else if (strcmp(f[i].name, "Master_Port") == 0)
			pi = i;
	}
	r = 0;
	while (hi != UINT_MAX && (row = mysql_fetch_row(res)) != NULL) {
		if (row[hi] == NULL || row[hi][0] == '\0')
			continue;
		if (*replica)
			continue;
		*replica = 1;
		n = snprintf(primary, len, strchr(row[hi], ':') ? "[%s]:%s" :
		    "%s:%s", row[hi], pi != UINT_MAX && row[pi] ? row[pi] : "");
		if (n < 0 || (size_t)n >= len)
			r = VD_ETOOBIG;
	}
	mysql_free_result(res);
	return r;
}

/*
 * The VD_GRANT_* bits of c's session: SHOW GRANTS without FOR lists the
 * account's grants and those of its enabled roles (nested ones too), so
 * a privilege held through a default role counts.  Returns 0 or as
 * vd_drv_exec().
 */
static int
session_grants(struct vd_drv_conn *c, unsigned *bits, char *err,
    size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	unsigned long *lens;

	*bits = 0;
	if (mysql_query(c->my, "SHOW GRANTS") != 0)
		return myerr(c->my, "SHOW GRANTS", NULL, err, errlen);
	if ((res = mysql_store_result(c->my)) == NULL)
		return myerr(c->my, "SHOW GRANTS", NULL, err, errlen);
	/* The lines may hold password hashes: read in place, never kept. */
	while ((row = mysql_fetch_row(res)) != NULL)
		if (row[0] != NULL && (lens = mysql_fetch_lengths(res)) != NULL)
			*bits |= vd_grants_line(row[0], lens[0]);
	mysql_free_result(res);
	return 0;
}

int
vd_drv_may_set_password(struct vd_drv_conn *c, const char *user,
    const char *host, char *why, size_t whylen)
{
	struct methods ms METHODS_WIPED;
	char cu[2 * NAME_MAXLEN + 2], *ch = NULL;
	unsigned e, bits;
	size_t i, npw = 0;
	int r, own, alter = 0, known;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (!strok(user, NAME_MAXLEN) || host == NULL ||
	    strnlen(host, NAME_MAXLEN) >= NAME_MAXLEN) {
		seterr(why, whylen, "bad account name");
		return VD_EINVAL;
	}
	if (!c->mariadb) {
		seterr(why, whylen, "not MariaDB: the privileges are not "
		    "checked");
		return VD_DRV_UNKNOWN;
	}
	if ((r = vd_drv_current_user(c, cu, sizeof(cu), why, whylen)) != 0)
		return r;
	own = split_account(cu, &ch) == 0 && strcmp(cu, user) == 0 &&
	    strcasecmp(ch, host) == 0;
	/* Which statement vd_drv_set_password() would send. */
	r = read_methods(c, user, host, &ms, &e, why, whylen);
	known = r == 0;
	if (r == VD_ENOTFOUND) {
		seterr(why, whylen, "no account '%s'@'%s' on the server",
		    user, host);
		return VD_ENOTFOUND;
	}
	if (r != 0 && !((r == VD_EDB && no_privilege(e)) || r == VD_EPROTO))
		return r;
	for (i = 0; known && i < ms.n; i++)
		npw += is_pw(ms.m[i].kind);
	alter = known && takes_alter(&ms, npw);
	if ((r = session_grants(c, &bits, why, whylen)) != 0)
		return r;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (alter) {
		if (bits & (VD_GRANT_CREATE_USER | VD_GRANT_UPDATE_ALL |
		    VD_GRANT_UPDATE_MYSQL))
			return 0;
		seterr(why, whylen, "the session as %s@%s may not change "
		    "'%s'@'%s': its methods take ALTER USER, which needs "
		    "CREATE USER or UPDATE on the mysql database", cu,
		    ch != NULL ? ch : "?", user, host);
		return VD_DRV_NOPRIV;
	}
	if (own)	/* SET PASSWORD for oneself needs no privilege */
		return 0;
	if (bits & (VD_GRANT_UPDATE_ALL | VD_GRANT_UPDATE_MYSQL))
		return 0;
	seterr(why, whylen, "the session as %s@%s may not change '%s'@'%s': "
	    "SET PASSWORD FOR another account needs UPDATE on the mysql "
	    "database%s", cu, ch != NULL ? ch : "?", user, host,
	    (bits & VD_GRANT_CREATE_USER) ? " (CREATE USER alone is not "
	    "enough: the server answers 1044)" : "");
	return VD_DRV_NOPRIV;
}
