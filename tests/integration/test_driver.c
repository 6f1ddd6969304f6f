/*
 * test_driver.c - the MariaDB driver against a real server.
 *
 *   test_driver		on the shared "main" fixture: connect, errors,
 *				hosts, set_password + probe, escaping, threads
 *   test_driver plugin		on the driver's own "drv" fixture: installs
 *				simple_password_check (server-wide state)
 *   test_driver layout		"drvlayout": bind-address=127.0.0.1 (the
 *				'::1' rows refused), lc_messages=de_DE,
 *				max_password_errors=2: refused hosts, ed25519,
 *				two password methods, holds, unix_socket proof
 *   test_driver nonet		"drvnonet": skip-networking
 *   test_driver readonly	"drvro": read_only and the general log
 *   test_driver repl		"drvprim" + "drvrepl" (VD_TEST_MDB_ENV_REPLICA):
 *				a real primary/replica pair
 *
 * Accounts are named vdt<pid>_* so concurrent tests on the same server do
 * not collide; they are dropped at exit, also after a failed check.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "driver.h"
#include "err.h"
#include "mdbenv.h"
#include "mem.h"
#include "util.h"

#define MAXUSERS	32

static struct vd_mdbenv env;
static struct vd_drv_conn *admin;	/* root over the socket */
static char created[MAXUSERS][160];	/* accounts to drop, as SQL */
static int ncreated;

/* A NUL-terminated secret from a C string; exits on failure. */
static struct vd_secret *
S(const char *s)
{
	struct vd_secret *p = vd_secret_from(s, strlen(s));

	CHECK(p != NULL);
	return p;
}

/* A target for user: the fixture's socket and TCP 127.0.0.1. */
static struct vd_dbtarget
target(const char *user)
{
	struct vd_dbtarget t;

	memset(&t, 0, sizeof(t));
	t.host = "127.0.0.1";
	t.port = env.port;
	t.unix_socket = env.socket;
	t.user = user;
	t.connect_timeout_s = 5;
	t.rw_timeout_s = 10;
	return t;
}

/* Runs a statement as root (no secrets); exits on failure. */
static void __attribute__((format(printf, 1, 2)))
admin_exec(const char *fmt, ...)
{
	char sql[2048], err[VD_DRV_ERRLEN];
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	CHECK(n > 0 && (size_t)n < sizeof(sql));
	if ((r = vd_drv_exec(admin, sql, err, sizeof(err))) != 0) {
		fprintf(stderr, "admin: %s: %s (%d)\n", sql, err, r);
		exit(1);
	}
}

/*
 * Creates 'user'@'host' (names without quotes) with the clauses fmt
 * ("IDENTIFIED VIA …") and records it for drop_users().
 */
static void __attribute__((format(printf, 3, 4)))
create_via(const char *user, const char *host, const char *fmt, ...)
{
	char how[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(how, sizeof(how), fmt, ap);
	va_end(ap);
	CHECK(n > 0 && (size_t)n < sizeof(how));
	CHECK(ncreated < MAXUSERS);
	n = snprintf(created[ncreated], sizeof(created[0]), "'%s'@'%s'",
	    user, host);
	CHECK(n > 0 && (size_t)n < sizeof(created[0]));
	ncreated++;
	admin_exec("CREATE USER '%s'@'%s' %s", user, host, how);
}

/* Creates 'user'@'host' (names without quotes) identified by pw. */
static void
create_user(const char *user, const char *host, const char *pw)
{
	create_via(user, host, "IDENTIFIED BY '%s'", pw);
}

/* Drops every account this test created (atexit: also after a failure). */
static void
drop_users(void)
{
	char sql[256], err[VD_DRV_ERRLEN];
	int i;

	if (admin == NULL)
		return;
	for (i = 0; i < ncreated; i++) {
		int n = snprintf(sql, sizeof(sql), "DROP USER IF EXISTS %s",
		    created[i]);

		if (n < 0 || (size_t)n >= sizeof(sql))
			continue;
		if (vd_drv_exec(admin, sql, err, sizeof(err)) != 0)
			fprintf(stderr, "cleanup: %s: %s\n", sql, err);
	}
	ncreated = 0;
	vd_drv_close(admin);
	admin = NULL;
	vd_drv_end();
}

/* Names an account of this run: "vdt<pid>_<what>". */
static const char *
uname_(char *buf, size_t len, const char *what)
{
	int n = snprintf(buf, len, "vdt%ld_%s", (long)getpid(), what);

	CHECK(n > 0 && (size_t)n < len);
	return buf;
}

/* Probes user@host with password s and checks the result. */
static void
expect_probe(const struct vd_dbtarget *t, const char *host, const char *pw,
    int want, int line)
{
	struct vd_secret *p = S(pw);
	char err[VD_DRV_ERRLEN];
	int r = vd_drv_probe(t, host, p, err, sizeof(err));

	/* No password in error text, ever (checked before it is printed). */
	if (*pw != '\0' && strstr(err, pw) != NULL) {
		fprintf(stderr, "line %d: the error text quotes the "
		    "password\n", line);
		exit(1);
	}
	if (r != want) {
		fprintf(stderr, "line %d: probe %s@%s: got %d (%s), want %d: "
		    "%s\n", line, t->user, host, r, vd_strerror(r), want, err);
		exit(1);
	}
	vd_secret_free(p);
}

#define PROBE(t, h, pw, want)	expect_probe((t), (h), (pw), (want), __LINE__)

/* Sets user@host's password as admin and checks the result. */
static void
set_pw(struct vd_drv_conn *c, const char *user, const char *host,
    const char *pw, int want, char *err, size_t errlen, int line)
{
	struct vd_secret *p = S(pw);
	int r = vd_drv_set_password(c, user, host, p, err, errlen);

	/* First: an error text holding the password is never printed. */
	if (strstr(err, pw) != NULL) {
		fprintf(stderr, "line %d: the error text quotes the "
		    "password\n", line);
		exit(1);
	}
	if (r != want) {
		fprintf(stderr, "line %d: set_password %s@%s: got %d (%s), "
		    "want %d: %s\n", line, user, host, r, vd_strerror(r), want,
		    err);
		exit(1);
	}
	vd_secret_free(p);
}

#define SETPW(c, u, h, pw, want) do {					\
	char e_[VD_DRV_ERRLEN];						\
	set_pw((c), (u), (h), (pw), (want), e_, sizeof(e_), __LINE__);	\
} while (0)

static void
t_connect(void)
{
	struct vd_dbtarget t = target("root");
	char cu[256], err[VD_DRV_ERRLEN];

	CHECK(strstr(vd_drv_server_version(admin), "MariaDB") != NULL);
	CHECK_INT_EQ(vd_drv_is_mariadb(admin), 1);
	CHECK(vd_drv_server_version_num(admin) >= 100400);
	CHECK_OK(vd_drv_current_user(admin, cu, sizeof(cu), err, sizeof(err)));
	CHECK_STR_EQ(cu, "root@localhost");
	/* A value that does not fit is refused, not truncated. */
	CHECK_INT_EQ(vd_drv_current_user(admin, cu, 5, err, sizeof(err)),
	    VD_ETOOBIG);
	CHECK_INT_EQ(vd_drv_query1(admin, "SELECT 1 FROM DUAL WHERE 0", cu,
	    sizeof(cu), err, sizeof(err)), VD_ENOTFOUND);

	/* TCP, root@127.0.0.1 (empty password). */
	t.unix_socket = NULL;
	PROBE(&t, "127.0.0.1", "", 0);
	if (env.ipv6)
		PROBE(&t, "::1", "", 0);
	else
		printf("note: the fixture has no ::1; IPv6 probes not run\n");
}

static void
t_wrong_password(void)
{
	char u[64], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t;
	struct vd_secret *bad = S("Wrong-pw-Q7x"), *good = S("Right-pw-1");
	struct vd_drv_conn *c = NULL;

	uname_(u, sizeof(u), "wrong");
	create_user(u, "localhost", "Right-pw-1");
	t = target(u);
	CHECK_INT_EQ(vd_drv_connect(&t, NULL, bad, &c, err, sizeof(err)),
	    VD_EAUTH);
	CHECK(c == NULL);
	CHECK(strstr(err, "Access denied") != NULL);
	CHECK(strstr(err, "1045") != NULL);
	CHECK(strstr(err, "Wrong-pw-Q7x") == NULL);
	CHECK_OK(vd_drv_login(&t, NULL, good, err, sizeof(err)));
	/* Over TCP 127.0.0.1 the account is u@127.0.0.1, which does not exist. */
	t.unix_socket = NULL;
	CHECK_INT_EQ(vd_drv_login(&t, NULL, good, err, sizeof(err)), VD_EAUTH);
	vd_secret_free(bad);
	vd_secret_free(good);
}

static void
t_hosts(void)
{
	static const char *const want[] = {
		"%", "10.0.0.%", "127.0.0.1", "::1", "db.example", "localhost"
	};
	char u[64], q[64], err[VD_DRV_ERRLEN];
	char **h = NULL;
	size_t n = 99, i;

	uname_(u, sizeof(u), "hosts");
	for (i = 0; i < VD_NELEM(want); i++)
		create_user(u, want[i], "Hosts-pw-1");
	CHECK_OK(vd_drv_account_hosts(admin, u, &h, &n, err, sizeof(err)));
	CHECK_INT_EQ(n, VD_NELEM(want));
	for (i = 0; i < n; i++)
		CHECK_STR_EQ(h[i], want[i]);
	vd_drv_hosts_free(h, n);

	/* No such user: nothing, not an error. */
	uname_(q, sizeof(q), "nosuchuser");
	CHECK_OK(vd_drv_account_hosts(admin, q, &h, &n, err, sizeof(err)));
	CHECK_INT_EQ(n, 0);
	CHECK(h == NULL);

	/* A name that needs escaping, and one that would match by LIKE. */
	uname_(q, sizeof(q), "q''\\\\x");	/* SQL for vdtN_q'\x */
	create_user(q, "localhost", "Hosts-pw-1");
	uname_(q, sizeof(q), "q'\\x");
	CHECK_OK(vd_drv_account_hosts(admin, q, &h, &n, err, sizeof(err)));
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(h[0], "localhost");
	vd_drv_hosts_free(h, n);
	uname_(q, sizeof(q), "host%");
	CHECK_OK(vd_drv_account_hosts(admin, q, &h, &n, err, sizeof(err)));
	CHECK_INT_EQ(n, 0);
}

static void
t_rotate_hosts(void)
{
	const char *hosts[] = { "localhost", "127.0.0.1", "::1" };
	size_t nh = env.ipv6 ? 3 : 2, i;
	char u[64], any[64];
	struct vd_dbtarget t, remote;

	uname_(u, sizeof(u), "rot");
	for (i = 0; i < nh; i++)
		create_user(u, hosts[i], "Old-pw-1");
	t = target(u);
	for (i = 0; i < nh; i++)
		PROBE(&t, hosts[i], "Old-pw-1", 0);
	for (i = 0; i < nh; i++)
		SETPW(admin, u, hosts[i], "New-pw-2", 0);
	for (i = 0; i < nh; i++) {
		PROBE(&t, hosts[i], "New-pw-2", 0);
		PROBE(&t, hosts[i], "Old-pw-1", VD_EAUTH);
	}
	/* Hosts this machine cannot log in from. */
	PROBE(&t, "%", "New-pw-2", VD_DRV_UNREACHABLE);
	PROBE(&t, "db.example", "New-pw-2", VD_DRV_UNREACHABLE);
	PROBE(&t, "10.0.0.%", "New-pw-2", VD_DRV_UNREACHABLE);

	/* A remote target: loopback and socket would reach another server. */
	remote = t;
	remote.unix_socket = NULL;
	remote.host = "db.example";
	PROBE(&remote, "localhost", "New-pw-2", VD_DRV_UNREACHABLE);
	PROBE(&remote, "127.0.0.1", "New-pw-2", VD_DRV_UNREACHABLE);
	PROBE(&remote, "::1", "New-pw-2", VD_DRV_UNREACHABLE);

	/*
	 * A login that works but matches another account ('%') does not
	 * verify the requested one.
	 */
	uname_(any, sizeof(any), "any");
	create_user(any, "%", "Any-pw-1");
	t = target(any);
	PROBE(&t, "127.0.0.1", "Any-pw-1", VD_DRV_UNREACHABLE);

	/* Without a socket, a local target still verifies over TCP. */
	t = target(u);
	t.unix_socket = NULL;
	PROBE(&t, "127.0.0.1", "New-pw-2", 0);
}

static void
t_unix_socket_kept(void)
{
	char u[64], sql[512], out[1024], hash[128], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t;

	uname_(u, sizeof(u), "sock");
	create_via(u, "localhost", "IDENTIFIED VIA mysql_native_password "
	    "USING PASSWORD('Init-pw-1') OR unix_socket");
	SETPW(admin, u, "localhost", "After-pw-2", 0);

	snprintf(sql, sizeof(sql), "SHOW CREATE USER '%s'@'localhost'", u);
	CHECK_OK(vd_drv_query1(admin, sql, out, sizeof(out), err, sizeof(err)));
	CHECK(strstr(out, "OR unix_socket") != NULL);
	CHECK_OK(vd_drv_query1(admin, "SELECT PASSWORD('After-pw-2')", hash,
	    sizeof(hash), err, sizeof(err)));
	CHECK(hash[0] == '*');
	if (strstr(out, hash) == NULL) {
		fprintf(stderr, "SHOW CREATE USER lacks the new hash %s: %s\n",
		    hash, out);
		exit(1);
	}
	/* And in mysql.global_priv, the alternative is still there. */
	snprintf(sql, sizeof(sql), "SELECT JSON_LENGTH(Priv, '$.auth_or') "
	    "FROM mysql.global_priv WHERE User = '%s' AND Host = 'localhost'",
	    u);
	CHECK_OK(vd_drv_query1(admin, sql, out, sizeof(out), err, sizeof(err)));
	CHECK_STR_EQ(out, "2");
	t = target(u);
	PROBE(&t, "localhost", "After-pw-2", 0);
	PROBE(&t, "localhost", "Init-pw-1", VD_EAUTH);
}

/* SHOW CREATE USER 'u'@'h' contains want; exits otherwise. */
static void
expect_auth(const char *u, const char *h, const char *want, int line)
{
	char sql[512], out[1024], err[VD_DRV_ERRLEN];

	snprintf(sql, sizeof(sql), "SHOW CREATE USER '%s'@'%s'", u, h);
	CHECK_OK(vd_drv_query1(admin, sql, out, sizeof(out), err, sizeof(err)));
	if (strstr(out, want) == NULL) {
		fprintf(stderr, "line %d: SHOW CREATE USER lacks %s: %s\n",
		    line, want, out);
		exit(1);
	}
}

/*
 * SHOW CREATE USER 'u'@'h' holds the value the account stores for pw:
 * ed25519's when ed, else mysql_native_password's.
 */
static void
expect_stored(const char *u, const char *h, const char *pw, int ed, int line)
{
	struct vd_secret *p = S(pw);
	char v[64];

	if (ed)
		CHECK_OK(vd_drv_ed25519_hash(p, v, sizeof(v)));
	else
		CHECK_OK(vd_drv_native_hash(p, v, sizeof(v)));
	vd_secret_free(p);
	expect_auth(u, h, v, line);
}

/*
 * The password reaches the server only as mysql_native_password's hash:
 * known answers (from the server's PASSWORD()), then a change whose
 * stored hash is ours and whose password logs in.
 */
static void
t_hash_form(void)
{
	static const char *const pws[] = {
		"xyz", "it's-a-\\quote#;", "p\xc3\xa4ssw\xc3\xb6rd-utf8",
	};
	char u[64], sql[512], mine[64], srv[128], err[VD_DRV_ERRLEN];
	struct vd_secret *p;
	struct vd_dbtarget t;
	size_t i;

	p = S("xyz");
	CHECK_OK(vd_drv_native_hash(p, mine, sizeof(mine)));
	CHECK_STR_EQ(mine, "*39C549BDECFBA8AFC3CE6B948C9359A0ECE08DE2");
	CHECK_OK(vd_drv_ed25519_hash(p, mine, sizeof(mine)));
	CHECK_STR_EQ(mine, "yG1rsDB0vPSe6geYUmI0wGd0YxKr6sRyqsHH14gtxi4");
	CHECK_INT_EQ(vd_drv_native_hash(p, mine, VD_DRV_NATIVE_HASHLEN),
	    VD_EINVAL);
	vd_secret_free(p);
	p = S("abc");
	CHECK_OK(vd_drv_ed25519_hash(p, mine, sizeof(mine)));
	CHECK_STR_EQ(mine, "lEiAPNNMP1kq0dRsguIBKo/em5EPb9Y0272TblVhRUw");
	vd_secret_free(p);

	uname_(u, sizeof(u), "hash");
	create_user(u, "localhost", "Init-pw-1");
	t = target(u);
	for (i = 0; i < sizeof(pws) / sizeof(pws[0]); i++) {
		/* The server's PASSWORD() of the same bytes (hex-literal). */
		char hx[128];
		size_t j, n = strlen(pws[i]);

		for (j = 0; j < n && 2 * j + 2 < sizeof(hx); j++)
			snprintf(hx + 2 * j, 3, "%02x", (unsigned char)pws[i][j]);
		snprintf(sql, sizeof(sql), "SELECT PASSWORD(x'%s')", hx);
		CHECK_OK(vd_drv_query1(admin, sql, srv, sizeof(srv), err,
		    sizeof(err)));
		p = S(pws[i]);
		CHECK_OK(vd_drv_native_hash(p, mine, sizeof(mine)));
		vd_secret_free(p);
		CHECK_STR_EQ(mine, srv);
		SETPW(admin, u, "localhost", pws[i], 0);
		expect_auth(u, "localhost", mine, __LINE__);
		PROBE(&t, "localhost", pws[i], 0);
	}
	PROBE(&t, "localhost", "Init-pw-1", VD_EAUTH);
}

static void
t_special_passwords(void)
{
	static const char *const pws[] = {
		"it's-a-quote",
		"double\"quote",
		"back\\slash\\",
		"hash#tag # comment",
		"semi;colon; DROP USER root;",
		"  spaces around  ",
		"'; SET PASSWORD FOR root@localhost = PASSWORD('x'); -- ",
		"\\'\\\"\\\\%_",
		"back`tick$(id)",
		"p\xc3\xa4ssw\xc3\xb6rd\xe2\x82\xac\xf0\x9f\x98\x80",	/* UTF-8 */
		"x",
	};
	const char *hosts[] = { "localhost", "127.0.0.1" };
	const char *prev = "Start-pw-1";
	char u[64];
	struct vd_dbtarget t;
	size_t i, j;

	uname_(u, sizeof(u), "spec");
	for (j = 0; j < VD_NELEM(hosts); j++)
		create_user(u, hosts[j], "Start-pw-1");
	t = target(u);
	for (i = 0; i < VD_NELEM(pws); i++) {
		for (j = 0; j < VD_NELEM(hosts); j++)
			SETPW(admin, u, hosts[j], pws[i], 0);
		for (j = 0; j < VD_NELEM(hosts); j++) {
			PROBE(&t, hosts[j], pws[i], 0);
			PROBE(&t, hosts[j], prev, VD_EAUTH);
		}
		prev = pws[i];
	}
	/* root's password was not touched by the injection attempt. */
	t = target("root");
	PROBE(&t, "localhost", "", 0);
}

static void
t_special_user(void)
{
	char u[64], sqlu[80], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t;
	char **h = NULL;
	size_t n = 0;

	uname_(u, sizeof(u), "a'b\\c #;d");
	uname_(sqlu, sizeof(sqlu), "a''b\\\\c #;d");
	create_user(sqlu, "localhost", "User-pw-1");
	CHECK_OK(vd_drv_account_hosts(admin, u, &h, &n, err, sizeof(err)));
	CHECK_INT_EQ(n, 1);
	vd_drv_hosts_free(h, n);
	SETPW(admin, u, "localhost", "User-pw-2", 0);
	t = target(u);
	PROBE(&t, "localhost", "User-pw-2", 0);
	PROBE(&t, "localhost", "User-pw-1", VD_EAUTH);
}

static void
t_self_rotation(void)
{
	char u[64], out[64], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t;
	struct vd_secret *old = S("Self-pw-1");
	struct vd_drv_conn *c = NULL;

	uname_(u, sizeof(u), "self");
	create_user(u, "localhost", "Self-pw-1");
	t = target(u);
	CHECK_OK(vd_drv_connect(&t, NULL, old, &c, err, sizeof(err)));
	SETPW(c, u, "localhost", "Self-pw-2", 0);
	/* The open connection survives its own password change. */
	CHECK_OK(vd_drv_query1(c, "SELECT 1", out, sizeof(out), err,
	    sizeof(err)));
	CHECK_STR_EQ(out, "1");
	vd_drv_close(c);
	PROBE(&t, "localhost", "Self-pw-2", 0);
	PROBE(&t, "localhost", "Self-pw-1", VD_EAUTH);
	vd_secret_free(old);
}

static void
t_errors(void)
{
	char u[64], err[VD_DRV_ERRLEN], want[128];
	struct vd_dbtarget t = target("root");
	struct vd_secret *empty = S(""), *nul, *p = S("Some-pw-1");
	struct vd_drv_conn *c = NULL;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd, r;

	/* No such account: 1133, the server's reason in err. */
	uname_(u, sizeof(u), "ghost");
	SETPW(admin, u, "nohost.example", "Ghost-pw-1", VD_ENOTFOUND);
	CHECK_INT_EQ(vd_drv_set_password(admin, u, "nohost.example", p, err,
	    sizeof(err)), VD_ENOTFOUND);
	CHECK(strstr(err, "1133") != NULL);
	CHECK(strstr(err, "matching row") != NULL);

	/* A syntax error quotes the statement: its text is withheld. */
	CHECK_INT_EQ(vd_drv_exec(admin, "SELEC 'Marker-pw-9'", err,
	    sizeof(err)), VD_EDB);
	CHECK(strstr(err, "1064") != NULL);
	CHECK(strstr(err, "Marker-pw-9") == NULL);

	/* Bad arguments. */
	nul = vd_secret_from("a\0b", 3);
	CHECK(nul != NULL);
	CHECK_INT_EQ(vd_drv_set_password(admin, "root", "localhost", nul, err,
	    sizeof(err)), VD_EINVAL);
	CHECK_INT_EQ(vd_drv_set_password(admin, "root", "localhost", empty,
	    err, sizeof(err)), VD_EINVAL);
	CHECK_INT_EQ(vd_drv_connect(&t, NULL, nul, &c, err, sizeof(err)),
	    VD_EINVAL);
	t.unix_socket = NULL;
	t.host = "replication://127.0.0.1";
	CHECK_INT_EQ(vd_drv_connect(&t, NULL, empty, &c, err, sizeof(err)),
	    VD_EINVAL);
	t.host = NULL;
	CHECK_INT_EQ(vd_drv_connect(&t, NULL, empty, &c, err, sizeof(err)),
	    VD_EINVAL);

	/* TLS required, but the server has none: refused, not downgraded. */
	t = target("root");
	t.unix_socket = NULL;
	t.tls_required = 1;
	r = vd_drv_connect(&t, NULL, empty, &c, err, sizeof(err));
	if (r != VD_EDB) {
		fprintf(stderr, "TLS-required connect: %d (%s): %s\n", r,
		    vd_strerror(r), err);
		exit(1);
	}
	CHECK(c == NULL);
	/* Over the socket TLS does not apply. */
	t.unix_socket = env.socket;
	CHECK_OK(vd_drv_login(&t, NULL, empty, err, sizeof(err)));

	/* A port where nothing listens. */
	CHECK((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	CHECK_OK(getsockname(fd, (struct sockaddr *)&sa, &sl));
	close(fd);	/* bound, never listened: now free */
	t = target("root");
	t.unix_socket = NULL;
	t.port = ntohs(sa.sin_port);
	t.connect_timeout_s = 2;
	/* Refused: "not reachable from here", not a database error. */
	r = vd_drv_connect(&t, NULL, empty, &c, err, sizeof(err));
	if (r != VD_EUNREACH) {
		fprintf(stderr, "closed port: %d (%s): %s\n", r,
		    vd_strerror(r), err);
		exit(1);
	}
	CHECK(strstr(err, "host 127.0.0.1 not reachable from here: "
	    "connection refused") != NULL);
	/* The route taken and the account row it was for (issue 19). */
	snprintf(want, sizeof(want), "(login as 'root' (any row) by TCP "
	    "127.0.0.1:%u)", t.port);
	CHECK(strstr(err, want) != NULL);
	CHECK(c == NULL);
	CHECK_INT_EQ(vd_drv_login(&t, NULL, empty, err, sizeof(err)),
	    VD_EUNREACH);
	CHECK_INT_EQ(vd_drv_probe(&t, "127.0.0.1", empty, err, sizeof(err)),
	    VD_DRV_UNREACHABLE);
	CHECK(strstr(err, "not reachable from here") != NULL);
	snprintf(want, sizeof(want), "(login as 'root'@'127.0.0.1' by TCP "
	    "127.0.0.1:%u)", t.port);
	CHECK(strstr(err, want) != NULL);

	/* A socket path where nothing listens. */
	t = target("root");
	t.unix_socket = "/nonexistent/vaultd-test.sock";
	CHECK_INT_EQ(vd_drv_connect(&t, NULL, empty, &c, err, sizeof(err)),
	    VD_EDB);
	CHECK(strstr(err, "(login as 'root' (any row) by socket "
	    "/nonexistent/vaultd-test.sock)") != NULL);
	CHECK_INT_EQ(vd_drv_probe(&t, "localhost", empty, err, sizeof(err)),
	    VD_EDB);
	CHECK(strstr(err, "(login as 'root'@'localhost' by socket "
	    "/nonexistent/vaultd-test.sock)") != NULL);

	vd_secret_free(empty);
	vd_secret_free(nul);
	vd_secret_free(p);
}

struct thr {
	const char	*user;	/* account to probe */
	int		 fails;	/* probes that did not return 0 */
};

static int
thr_main(void *arg)
{
	struct thr *a = arg;
	struct vd_dbtarget t = target(a->user);
	struct vd_secret *p = vd_secret_from("Thr-pw-1", 8);
	char err[VD_DRV_ERRLEN];
	int i;

	if (p == NULL) {
		a->fails = -1;
		return 0;
	}
	for (i = 0; i < 25; i++) {
		if (vd_drv_probe(&t, "localhost", p, err, sizeof(err)) != 0)
			a->fails++;
		if (vd_drv_probe(&t, "127.0.0.1", p, err, sizeof(err)) != 0)
			a->fails++;
	}
	vd_secret_free(p);
	return 0;
}

static void
t_threads(void)
{
	thrd_t th[4];
	struct thr a[4];
	char u[64];
	int i;

	uname_(u, sizeof(u), "thr");
	create_user(u, "localhost", "Thr-pw-1");
	create_user(u, "127.0.0.1", "Thr-pw-1");
	for (i = 0; i < 4; i++) {
		a[i].user = u;
		a[i].fails = 0;
		CHECK_INT_EQ(thrd_create(&th[i], thr_main, &a[i]), thrd_success);
	}
	for (i = 0; i < 4; i++) {
		CHECK_INT_EQ(thrd_join(th[i], NULL), thrd_success);
		CHECK_INT_EQ(a[i].fails, 0);
	}
}

static void
t_plugin(void)
{
	char u[64], out[64], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t;
	struct vd_secret *weak;
	int r;

	admin_exec("INSTALL SONAME 'simple_password_check'");
	if (vd_drv_query1(admin, "SELECT PLUGIN_STATUS FROM "
	    "information_schema.PLUGINS WHERE PLUGIN_NAME = "
	    "'simple_password_check'", out, sizeof(out), err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "plugin status: %s\n", err);
		exit(1);
	}
	CHECK_STR_EQ(out, "ACTIVE");

	uname_(u, sizeof(u), "plug");
	create_user(u, "localhost", "Strong-pw-1234");
	t = target(u);

	/* Too weak: no digit, no upper case, no special. */
	weak = S("weakweakweak");
	CHECK_INT_EQ(vd_drv_set_password(admin, u, "localhost", weak, err,
	    sizeof(err)), VD_EPOLICY);
	vd_secret_free(weak);
	printf("plugin refusal: %s\n", err);
	CHECK(strstr(err, "1819") != NULL);
	CHECK(strstr(err, "weakweakweak") == NULL);
	/* The plugin's own reason, from SHOW WARNINGS. */
	CHECK(strstr(err, "simple_password_check: Not enough") != NULL);
	/* Nothing changed. */
	PROBE(&t, "localhost", "Strong-pw-1234", 0);

	/*
	 * With the plugin active the server refuses a pre-hashed password
	 * (1290): the driver falls back to PASSWORD('…'), and the stored
	 * hash is still the right one.
	 */
	SETPW(admin, u, "localhost", "Another-Strong-pw-5678", 0);
	PROBE(&t, "localhost", "Another-Strong-pw-5678", 0);
	PROBE(&t, "localhost", "Strong-pw-1234", VD_EAUTH);
	expect_stored(u, "localhost", "Another-Strong-pw-5678", 0, __LINE__);

	/*
	 * The same through ALTER USER … IDENTIFIED VIA (the password method
	 * is not the first): the plugin refuses the hash with 1290 there
	 * too, the plaintext form passes and unix_socket stays.
	 */
	uname_(u, sizeof(u), "plug2");
	create_via(u, "localhost", "IDENTIFIED VIA unix_socket OR "
	    "mysql_native_password USING PASSWORD('Strong-pw-1234')");
	t = target(u);
	weak = S("weakweakweak");
	r = vd_drv_set_password(admin, u, "localhost", weak, err, sizeof(err));
	vd_secret_free(weak);
	printf("plugin refusal, ALTER USER: %d: %s\n", r, err);
	CHECK_INT_EQ(r, VD_EPOLICY);
	CHECK(strstr(err, "simple_password_check") != NULL);
	SETPW(admin, u, "localhost", "Third-Strong-pw-9012", 0);
	PROBE(&t, "localhost", "Third-Strong-pw-9012", 0);
	PROBE(&t, "localhost", "Strong-pw-1234", VD_EAUTH);
	expect_auth(u, "localhost", "IDENTIFIED VIA unix_socket OR "
	    "mysql_native_password USING", __LINE__);

	admin_exec("UNINSTALL SONAME 'simple_password_check'");
}

/*
 * An ed25519 account (server-wide: installs auth_ed25519): the driver
 * sends the ed25519 plugin's value, not a native hash; the new password
 * logs in (Connector/C's client_ed25519) and the old one does not.  An
 * account with no password plugin at all (unix_socket only) is refused
 * with VD_EINVAL and a clear reason.
 */
static void
t_ed25519(void)
{
	char u[64], u2[64], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t;
	struct vd_secret *p;

	admin_exec("INSTALL SONAME 'auth_ed25519'");
	uname_(u, sizeof(u), "ed");
	create_via(u, "localhost", "IDENTIFIED VIA ed25519 USING "
	    "PASSWORD('Ed-init-pw-1')");
	t = target(u);
	PROBE(&t, "localhost", "Ed-init-pw-1", 0);
	SETPW(admin, u, "localhost", "Ed-new-pw-2'#", 0);
	expect_stored(u, "localhost", "Ed-new-pw-2'#", 1, __LINE__);
	expect_auth(u, "localhost", "IDENTIFIED VIA ed25519", __LINE__);
	PROBE(&t, "localhost", "Ed-new-pw-2'#", 0);
	PROBE(&t, "localhost", "Ed-init-pw-1", VD_EAUTH);

	uname_(u2, sizeof(u2), "sockonly");
	create_via(u2, "localhost", "IDENTIFIED VIA unix_socket");
	p = S("Whatever-pw-3");
	CHECK_INT_EQ(vd_drv_set_password(admin, u2, "localhost", p, err,
	    sizeof(err)), VD_EINVAL);
	vd_secret_free(p);
	printf("unix_socket-only account: %s\n", err);
	CHECK(strstr(err, "not rotatable") != NULL);
	CHECK(strstr(err, "Whatever") == NULL);
}

/* vd_drv_holds() as c for user@host and pw; checks return and *holds. */
static void
expect_holds(struct vd_drv_conn *c, const char *user, const char *host,
    const char *pw, int want_r, int want_h, int line)
{
	struct vd_secret *p = S(pw);
	int h = -1, r = vd_drv_holds(c, user, host, p, &h);

	vd_secret_free(p);
	if (r != want_r || h != want_h) {
		fprintf(stderr, "line %d: holds %s@%s: got %d (%s) holds %d, "
		    "want %d holds %d\n", line, user, host, r, vd_strerror(r),
		    h, want_r, want_h);
		exit(1);
	}
}

#define HOLDS(c, u, h, pw, wr, wh) \
	expect_holds((c), (u), (h), (pw), (wr), (wh), __LINE__)

/*
 * Issue 13 case 1, bind-address=127.0.0.1 while '::1' rows exist: a
 * refused TCP connection is "not reachable from here" (positive
 * VD_DRV_UNREACHABLE for probes, VD_EUNREACH for connects), never a
 * database error; the other rows still change and verify.
 */
static void
t_refused_v6(void)
{
	const char *hosts[] = { "localhost", "127.0.0.1", "::1" };
	char u[64], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t = target("root");
	struct vd_secret *empty = S("");
	struct vd_drv_conn *c = NULL;
	size_t i;
	int r;

	/* root@::1 exists (mariadb-install-db), its route is refused. */
	t.unix_socket = NULL;
	r = vd_drv_probe(&t, "::1", empty, err, sizeof(err));
	printf("probe root@::1: %d: %s\n", r, err);
	CHECK_INT_EQ(r, VD_DRV_UNREACHABLE);
	CHECK(strstr(err, "host ::1 not reachable from here: connection "
	    "refused") != NULL);
	t.host = "::1";
	CHECK_INT_EQ(vd_drv_connect(&t, NULL, empty, &c, err, sizeof(err)),
	    VD_EUNREACH);
	CHECK(c == NULL);
	CHECK(strstr(err, "host ::1 not reachable from here") != NULL);
	CHECK_INT_EQ(vd_drv_login(&t, NULL, empty, err, sizeof(err)),
	    VD_EUNREACH);
	vd_secret_free(empty);

	uname_(u, sizeof(u), "bind");
	for (i = 0; i < VD_NELEM(hosts); i++)
		create_user(u, hosts[i], "Bind-old-1");
	t = target(u);
	for (i = 0; i < VD_NELEM(hosts); i++)
		SETPW(admin, u, hosts[i], "Bind-new-2", 0);
	PROBE(&t, "localhost", "Bind-new-2", 0);
	PROBE(&t, "127.0.0.1", "Bind-new-2", 0);
	PROBE(&t, "::1", "Bind-new-2", VD_DRV_UNREACHABLE);
	PROBE(&t, "localhost", "Bind-old-1", VD_EAUTH);
	/* The unreachable row holds the new password all the same. */
	HOLDS(admin, u, "::1", "Bind-new-2", 0, 1);
}

/*
 * skip-networking while root@127.0.0.1 exists: TCP is refused, the
 * socket works.
 */
static void
t_nonet(void)
{
	char u[64], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t = target("root");
	struct vd_secret *empty = S("");
	struct vd_drv_conn *c = NULL;
	int r;

	r = vd_drv_probe(&t, "127.0.0.1", empty, err, sizeof(err));
	printf("probe root@127.0.0.1: %d: %s\n", r, err);
	CHECK_INT_EQ(r, VD_DRV_UNREACHABLE);
	CHECK(strstr(err, "host 127.0.0.1 not reachable from here: "
	    "connection refused") != NULL);
	PROBE(&t, "localhost", "", 0);
	t.unix_socket = NULL;
	CHECK_INT_EQ(vd_drv_connect(&t, NULL, empty, &c, err, sizeof(err)),
	    VD_EUNREACH);
	CHECK(strstr(err, "host 127.0.0.1 not reachable from here") != NULL);
	vd_secret_free(empty);

	uname_(u, sizeof(u), "nonet");
	create_user(u, "localhost", "Nonet-old-1");
	create_user(u, "127.0.0.1", "Nonet-old-1");
	SETPW(admin, u, "localhost", "Nonet-new-2", 0);
	SETPW(admin, u, "127.0.0.1", "Nonet-new-2", 0);
	t = target(u);
	PROBE(&t, "localhost", "Nonet-new-2", 0);
	PROBE(&t, "127.0.0.1", "Nonet-new-2", VD_DRV_UNREACHABLE);
	HOLDS(admin, u, "127.0.0.1", "Nonet-new-2", 0, 1);
}

/* Counts the occurrences of needle in the file at path. */
static int
count_in_file(const char *path, const char *needle)
{
	char *buf;
	FILE *f;
	long n;
	int cnt = 0;
	const char *p;

	CHECK((f = fopen(path, "rb")) != NULL);
	CHECK(fseek(f, 0, SEEK_END) == 0);
	CHECK((n = ftell(f)) >= 0);
	rewind(f);
	CHECK((buf = malloc((size_t)n + 1)) != NULL);
	CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
	buf[n] = '\0';
	fclose(f);
	for (p = buf; (p = strstr(p, needle)) != NULL; p++)
		cnt++;
	free(buf);
	return cnt;
}

/*
 * Issue 13 case 10: a read_only server refuses an operator without READ
 * ONLY ADMIN with 1290, which is not strict_password_validation's 1290:
 * the change fails with a "read-only" reason and the plaintext form is
 * never sent (the general log, written for every statement, shows no
 * PASSWORD(…) and not the password).  Also with a validation plugin
 * active.  Once read_only is off, the plugin's 1290 does fall back to
 * PASSWORD(…), and the log shows it (the check can see a fallback).
 */
static void
t_readonly(void)
{
	char op[64], u[64], log[VD_MDBENV_PATHMAX + 32], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t;
	struct vd_drv_conn *c = NULL;
	struct vd_secret *p;
	int n, r, pass;

	n = snprintf(log, sizeof(log), "%s/general.log", env.dir);
	CHECK(n > 0 && (size_t)n < sizeof(log));
	uname_(op, sizeof(op), "op");
	uname_(u, sizeof(u), "rotd");
	create_user(op, "localhost", "Op-pw-1234#");
	admin_exec("GRANT CREATE USER, SELECT ON *.* TO '%s'@'localhost'", op);
	admin_exec("GRANT UPDATE ON mysql.* TO '%s'@'localhost'", op);
	create_user(u, "localhost", "Ro-old-pw-1#");
	t = target(op);
	p = S("Op-pw-1234#");
	CHECK_OK(vd_drv_connect(&t, NULL, p, &c, err, sizeof(err)));
	vd_secret_free(p);

	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)
			admin_exec("INSTALL SONAME 'simple_password_check'");
		p = S("Ro-New-pw-2#x");
		r = vd_drv_set_password(c, u, "localhost", p, err, sizeof(err));
		vd_secret_free(p);
		printf("read-only server, pass %d: %d: %s\n", pass, r, err);
		CHECK_INT_EQ(r, VD_EDB);
		CHECK(strstr(err, "1290") != NULL);
		CHECK(strstr(err, "read-only") != NULL);
		CHECK(strstr(err, "Ro-New-pw-2#x") == NULL);
		CHECK_INT_EQ(count_in_file(log, "PASSWORD('"), 0);
		CHECK_INT_EQ(count_in_file(log, "Ro-New-pw-2#x"), 0);
		t = target(u);
		PROBE(&t, "localhost", "Ro-old-pw-1#", 0);
	}
	/* Writable again: the plugin's 1290 is the one that falls back. */
	admin_exec("SET GLOBAL read_only = 0");
	SETPW(c, u, "localhost", "Ro-New-pw-3#y", 0);
	CHECK(count_in_file(log, "PASSWORD('") > 0);
	PROBE(&t, "localhost", "Ro-New-pw-3#y", 0);
	PROBE(&t, "localhost", "Ro-old-pw-1#", VD_EAUTH);
	admin_exec("UNINSTALL SONAME 'simple_password_check'");
	admin_exec("SET GLOBAL read_only = 1");
	vd_drv_close(c);
}

/*
 * Issue 13 case 8: an account with two password methods (ed25519 OR
 * mysql_native_password, plus unix_socket).  SET PASSWORD would change the
 * first alone and the old password would still log in through the other;
 * every password method must hold the new one, the old one must be
 * refused (the server tries each method in turn, so a refused login
 * covers both), and unix_socket is kept.  Also "unix_socket OR
 * mysql_native_password" (SET PASSWORD: 1699) and the stored values.
 */
static void
t_two_methods(void)
{
	char u[64], u2[64], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t;
	struct vd_secret *p;

	/* auth_ed25519 is installed by t_ed25519(), which runs first. */
	uname_(u, sizeof(u), "two");
	create_via(u, "localhost", "IDENTIFIED VIA ed25519 USING "
	    "PASSWORD('Two-old-1') OR mysql_native_password USING "
	    "PASSWORD('Two-old-1') OR unix_socket");
	t = target(u);
	PROBE(&t, "localhost", "Two-old-1", 0);
	SETPW(admin, u, "localhost", "Two-new-2'\\#", 0);
	expect_stored(u, "localhost", "Two-new-2'\\#", 1, __LINE__);
	expect_stored(u, "localhost", "Two-new-2'\\#", 0, __LINE__);
	expect_auth(u, "localhost", "IDENTIFIED VIA ed25519 USING", __LINE__);
	expect_auth(u, "localhost", "OR unix_socket", __LINE__);
	PROBE(&t, "localhost", "Two-new-2'\\#", 0);
	PROBE(&t, "localhost", "Two-old-1", VD_EAUTH);
	HOLDS(admin, u, "localhost", "Two-new-2'\\#", 0, 1);
	HOLDS(admin, u, "localhost", "Two-old-1", 0, 0);

	/* The password method second: SET PASSWORD alone says 1699. */
	uname_(u2, sizeof(u2), "sockfirst");
	create_via(u2, "localhost", "IDENTIFIED VIA unix_socket OR "
	    "mysql_native_password USING PASSWORD('Sf-old-1') WITH "
	    "MAX_QUERIES_PER_HOUR 1000 PASSWORD EXPIRE INTERVAL 100 DAY");
	t = target(u2);
	SETPW(admin, u2, "localhost", "Sf-new-2", 0);
	expect_auth(u2, "localhost", "IDENTIFIED VIA unix_socket OR "
	    "mysql_native_password USING", __LINE__);
	/* ALTER USER … IDENTIFIED leaves the account's other clauses. */
	expect_auth(u2, "localhost", "MAX_QUERIES_PER_HOUR 1000", __LINE__);
	expect_auth(u2, "localhost", "PASSWORD EXPIRE INTERVAL 100 DAY",
	    __LINE__);
	PROBE(&t, "localhost", "Sf-new-2", 0);
	PROBE(&t, "localhost", "Sf-old-1", VD_EAUTH);

	/* Self-rotation of a two-method account needs CREATE USER. */
	t = target(u);
	p = S("Two-new-2'\\#");
	{
		struct vd_drv_conn *c = NULL;

		CHECK_OK(vd_drv_connect(&t, NULL, p, &c, err, sizeof(err)));
		vd_secret_free(p);
		p = S("Two-self-3");
		CHECK_INT_EQ(vd_drv_set_password(c, u, "localhost", p, err,
		    sizeof(err)), VD_EDB);
		printf("self-rotation, two methods: %s\n", err);
		CHECK(strstr(err, "1227") != NULL);
		CHECK(strstr(err, "CREATE USER") != NULL);
		vd_drv_close(c);
	}
	vd_secret_free(p);
	PROBE(&t, "localhost", "Two-new-2'\\#", 0);
}

/*
 * An operator who may change passwords (UPDATE on mysql.*) but not read
 * accounts (no SELECT): the methods are unreadable, so the account's
 * first method decides, told by error number alone (1372 for the native
 * hash means ed25519), whatever the server's language.
 */
static void
t_unreadable(void)
{
	char op[64], u[64], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t;
	struct vd_drv_conn *c = NULL;
	struct vd_secret *p;

	uname_(op, sizeof(op), "upd");
	create_user(op, "localhost", "Upd-pw-1");
	admin_exec("GRANT UPDATE ON mysql.* TO '%s'@'localhost'", op);
	uname_(u, sizeof(u), "edu");
	create_via(u, "localhost", "IDENTIFIED VIA ed25519 USING "
	    "PASSWORD('Edu-old-1')");
	t = target(op);
	p = S("Upd-pw-1");
	CHECK_OK(vd_drv_connect(&t, NULL, p, &c, err, sizeof(err)));
	vd_secret_free(p);
	HOLDS(c, u, "localhost", "Edu-old-1", VD_DRV_UNKNOWN, 0);
	SETPW(c, u, "localhost", "Edu-new-2", 0);
	vd_drv_close(c);
	expect_stored(u, "localhost", "Edu-new-2", 1, __LINE__);
	t = target(u);
	PROBE(&t, "localhost", "Edu-new-2", 0);
	PROBE(&t, "localhost", "Edu-old-1", VD_EAUTH);
}

/*
 * Issue 13 case 11: vaultd as OS root, root@localhost "IDENTIFIED VIA
 * mysql_native_password USING PASSWORD(…) OR unix_socket" (Debian's
 * default shape) over the socket: the login succeeds by unix_socket
 * whatever the password, so a wrong password must not verify; the right
 * one does.  unix_socket alone: nothing proves a password.
 */
static void
t_proof(void)
{
	char u[64], via[32], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t = target("root"), o;
	struct vd_secret *p;
	int can = -1;

	if (geteuid() != 0) {
		printf("note: not run as root; unix_socket proof not run\n");
		return;
	}
	admin_exec("ALTER USER 'root'@'localhost' IDENTIFIED VIA "
	    "mysql_native_password USING PASSWORD('Root-pw-1') OR unix_socket");
	CHECK_OK(vd_drv_passwordless(admin, &t, "localhost", &can, via,
	    sizeof(via)));
	CHECK_INT_EQ(can, 1);
	CHECK_STR_EQ(via, "unix_socket");
	/* TCP (root@127.0.0.1), or another user name: the password only. */
	CHECK_OK(vd_drv_passwordless(admin, &t, "127.0.0.1", &can, via,
	    sizeof(via)));
	CHECK_INT_EQ(can, 0);
	uname_(u, sizeof(u), "notroot");
	create_via(u, "localhost", "IDENTIFIED VIA mysql_native_password "
	    "USING PASSWORD('Nr-pw-1') OR unix_socket");
	o = target(u);
	CHECK_OK(vd_drv_passwordless(admin, &o, "localhost", &can, via,
	    sizeof(via)));
	CHECK_INT_EQ(can, 0);
	PROBE(&o, "localhost", "Wrong-pw-9", VD_EAUTH);
	CHECK_INT_EQ(vd_drv_passwordless(admin, &o, "%", &can, via,
	    sizeof(via)), VD_DRV_UNREACHABLE);
	PROBE(&t, "localhost", "Wrong-pw-9", VD_EAUTH);
	PROBE(&t, "localhost", "", VD_EAUTH);
	PROBE(&t, "localhost", "Root-pw-1", 0);
	p = S("Wrong-pw-9");
	CHECK_INT_EQ(vd_drv_login(&t, NULL, p, err, sizeof(err)), VD_EAUTH);
	CHECK(strstr(err, "Wrong-pw-9") == NULL);	/* before printing it */
	printf("root wrong password over the socket: %s\n", err);
	CHECK(strstr(err, "unix_socket") != NULL);
	vd_secret_free(p);
	p = S("Root-pw-1");
	CHECK_OK(vd_drv_login(&t, NULL, p, err, sizeof(err)));
	vd_secret_free(p);

	admin_exec("ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket");
	PROBE(&t, "localhost", "Root-pw-1", VD_DRV_UNPROVEN);
	admin_exec("ALTER USER 'root'@'localhost' IDENTIFIED BY ''");
	PROBE(&t, "localhost", "", 0);
}

/*
 * vd_drv_holds(): no login, so with max_password_errors=2 five wrong
 * checks leave the account usable (two wrong logins do block it: the
 * control); cannot tell without the privilege; every method counts.
 */
static void
t_holds(void)
{
	char u[64], v[64], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t;
	struct vd_drv_conn *c = NULL;
	struct vd_secret *p;
	int i, r;

	uname_(u, sizeof(u), "holds");
	create_user(u, "localhost", "Holds-pw-1");
	create_user(u, "10.1.2.%", "Holds-pw-1");
	uname_(v, sizeof(v), "blocked");
	create_user(v, "localhost", "Block-pw-1");
	HOLDS(admin, u, "localhost", "Holds-pw-1", 0, 1);
	HOLDS(admin, u, "10.1.2.%", "Holds-pw-1", 0, 1);
	for (i = 0; i < 5; i++)
		HOLDS(admin, u, "localhost", "Wrong-pw-1", 0, 0);
	t = target(u);
	PROBE(&t, "localhost", "Holds-pw-1", 0);

	/* Control: two failed logins block an account on this server. */
	t = target(v);
	PROBE(&t, "localhost", "Wrong-pw-1", VD_EAUTH);
	PROBE(&t, "localhost", "Wrong-pw-1", VD_EAUTH);
	p = S("Block-pw-1");
	r = vd_drv_probe(&t, "localhost", p, err, sizeof(err));
	vd_secret_free(p);
	printf("after 2 failed logins: %d: %s\n", r, err);
	CHECK(r != 0);
	CHECK(strstr(err, "4150") != NULL);
	admin_exec("FLUSH PRIVILEGES");	/* unblocks */

	/* Cannot tell: an unprivileged session, another account. */
	t = target(u);
	p = S("Holds-pw-1");
	CHECK_OK(vd_drv_connect(&t, NULL, p, &c, err, sizeof(err)));
	vd_secret_free(p);
	HOLDS(c, v, "localhost", "Block-pw-1", VD_DRV_UNKNOWN, 0);
	/* Its own account it can read. */
	HOLDS(c, u, "localhost", "Holds-pw-1", 0, 1);
	vd_drv_close(c);

	/* No such account; an account without a password method. */
	HOLDS(admin, u, "nohost.example", "Holds-pw-1", VD_ENOTFOUND, 0);
	uname_(v, sizeof(v), "sockonly2");
	create_via(v, "localhost", "IDENTIFIED VIA unix_socket");
	HOLDS(admin, v, "localhost", "Holds-pw-1", 0, 0);
	/* Half changed (SET PASSWORD changes the first method only): 0. */
	uname_(v, sizeof(v), "half");
	create_via(v, "localhost", "IDENTIFIED VIA ed25519 USING "
	    "PASSWORD('Half-old-1') OR mysql_native_password USING "
	    "PASSWORD('Half-old-1')");
	admin_exec("SET PASSWORD FOR '%s'@'localhost' = PASSWORD('Half-new-2')",
	    v);
	HOLDS(admin, v, "localhost", "Half-new-2", 0, 0);
	HOLDS(admin, v, "localhost", "Half-old-1", 0, 0);
	t = target(v);
	PROBE(&t, "localhost", "Half-old-1", 0);	/* via native */
}

/* Sleeps ms milliseconds. */
static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Issue 13 case 14, a real primary/replica pair: vd_drv_role() reports a
 * replica with its primary's host:port on the replica, and neither on the
 * primary; read_only as set; a SET PASSWORD on the primary reaches the
 * replica (the new password logs in there, the old one does not).
 */
static void
t_repl(void)
{
	struct vd_mdbenv renv;
	struct vd_dbtarget t;
	struct vd_drv_conn *radmin = NULL;
	struct vd_secret *empty = S("");
	const char *path = getenv("VD_TEST_MDB_ENV_REPLICA");
	char u[64], sql[512], want[64], prim[64], out[16], err[VD_DRV_ERRLEN];
	int ro = -1, rep = -1, i, h = 0;

	CHECK(path != NULL);
	CHECK_OK(vd_mdbenv_read(path, &renv));
	memset(&t, 0, sizeof(t));
	t.unix_socket = renv.socket;
	t.user = "root";
	t.connect_timeout_s = 5;
	t.rw_timeout_s = 10;
	CHECK_OK(vd_drv_connect(&t, NULL, empty, &radmin, err, sizeof(err)));

	/* Not yet replicating: nothing to report on either server. */
	CHECK_OK(vd_drv_role(radmin, &ro, &rep, prim, sizeof(prim)));
	CHECK_INT_EQ(rep, 0);
	CHECK_STR_EQ(prim, "");

	admin_exec("CREATE USER IF NOT EXISTS 'vdrepl'@'127.0.0.1' "
	    "IDENTIFIED BY 'Repl-pw-1'");
	admin_exec("GRANT REPLICATION SLAVE ON *.* TO 'vdrepl'@'127.0.0.1'");
	snprintf(sql, sizeof(sql), "CHANGE MASTER TO MASTER_HOST = "
	    "'127.0.0.1', MASTER_PORT = %u, MASTER_USER = 'vdrepl', "
	    "MASTER_PASSWORD = 'Repl-pw-1', MASTER_CONNECT_RETRY = 1",
	    env.port);
	CHECK_OK(vd_drv_exec(radmin, sql, err, sizeof(err)));
	CHECK_OK(vd_drv_exec(radmin, "START SLAVE", err, sizeof(err)));
	CHECK_OK(vd_drv_exec(radmin, "SET GLOBAL read_only = 1", err,
	    sizeof(err)));

	uname_(u, sizeof(u), "repl");
	create_user(u, "localhost", "Repl-old-1");
	/* Wait (bounded) until the account reached the replica. */
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM mysql.user WHERE "
	    "User = '%s'", u);
	for (i = 0; i < 300; i++) {
		CHECK_OK(vd_drv_query1(radmin, sql, out, sizeof(out), err,
		    sizeof(err)));
		if (strcmp(out, "1") == 0)
			break;
		sleep_ms(50);
	}
	CHECK_STR_EQ(out, "1");
	printf("replica caught up after %d ms\n", i * 50);

	snprintf(want, sizeof(want), "127.0.0.1:%u", env.port);
	CHECK_OK(vd_drv_role(radmin, &ro, &rep, prim, sizeof(prim)));
	CHECK_INT_EQ(ro, 1);
	CHECK_INT_EQ(rep, 1);
	CHECK_STR_EQ(prim, want);
	CHECK_INT_EQ(vd_drv_role(radmin, &ro, &rep, prim, 5), VD_ETOOBIG);
	CHECK_INT_EQ(rep, 1);
	CHECK_OK(vd_drv_role(admin, &ro, &rep, prim, sizeof(prim)));
	CHECK_INT_EQ(ro, 0);
	CHECK_INT_EQ(rep, 0);
	CHECK_STR_EQ(prim, "");

	/* The primary's change reaches the replica. */
	SETPW(admin, u, "localhost", "Repl-new-2", 0);
	for (i = 0; i < 300; i++) {
		struct vd_secret *p = S("Repl-new-2");

		CHECK_OK(vd_drv_holds(radmin, u, "localhost", p, &h));
		vd_secret_free(p);
		if (h)
			break;
		sleep_ms(50);
	}
	CHECK_INT_EQ(h, 1);
	t.user = u;
	PROBE(&t, "localhost", "Repl-new-2", 0);
	PROBE(&t, "localhost", "Repl-old-1", VD_EAUTH);

	CHECK_OK(vd_drv_exec(radmin, "STOP SLAVE", err, sizeof(err)));
	vd_drv_close(radmin);
	vd_secret_free(empty);
}

/*
 * Creates an account whose user name is the SQL literal lit (quotes and
 * backslashes already escaped) at localhost, identified by pw, and
 * records it for drop_users().
 */
static void
create_lit(const char *lit, const char *pw)
{
	int n;

	CHECK(ncreated < MAXUSERS);
	n = snprintf(created[ncreated], sizeof(created[0]), "'%s'@'localhost'",
	    lit);
	CHECK(n > 0 && (size_t)n < sizeof(created[0]));
	admin_exec("CREATE USER %s IDENTIFIED BY '%s'", created[ncreated++],
	    pw);
}

/*
 * Issue 18: vd_drv_current_user() on MariaDB reads the session's account
 * and methods with one SHOW CREATE USER (no name) and answers
 * read_methods() of that account from them.  The account name is parsed
 * from `…`@`…`: user names with a backtick (doubled in the output), '@'
 * and a quote must come out as SELECT CURRENT_USER() has them.  The
 * cached methods never answer for another host or user, nor after a
 * password change on the connection.
 */
static void
t_own_account(void)
{
	/* name as the server has it, and as an SQL literal */
	static const struct { const char *suffix, *lit; } names[] = {
		{ "b`t", "b`t" }, { "a@b", "a@b" }, { "q'x", "q''x" },
		{ "s\\l``", "s\\\\l``" },
	};
	char u[96], lit[96], cu[512], cu2[512], err[VD_DRV_ERRLEN];
	struct vd_dbtarget t;
	struct vd_drv_conn *c = NULL;
	struct vd_secret *p1 = S("Own-pw-1a"), *p2 = S("Own-pw-2b"), *pw;
	size_t i, nm;
	int h = -1, n;

	for (i = 0; i < VD_NELEM(names); i++) {
		n = snprintf(u, sizeof(u), "vdt%ld_%s", (long)getpid(),
		    names[i].suffix);
		CHECK(n > 0 && (size_t)n < sizeof(u));
		n = snprintf(lit, sizeof(lit), "vdt%ld_%s", (long)getpid(),
		    names[i].lit);
		CHECK(n > 0 && (size_t)n < sizeof(lit));
		create_lit(lit, "Own-pw-1a");
		t = target(u);
		CHECK_OK(vd_drv_connect(&t, NULL, p1, &c, err, sizeof(err)));
		CHECK_OK(vd_drv_query1(c, "SELECT CURRENT_USER()", cu2,
		    sizeof(cu2), err, sizeof(err)));
		CHECK_OK(vd_drv_current_user(c, cu, sizeof(cu), err,
		    sizeof(err)));
		printf("own account: %s\n", cu);
		CHECK_STR_EQ(cu, cu2);
		/* The cache answers for the account itself. */
		HOLDS(c, u, "localhost", "Own-pw-1a", 0, 1);
		/* A probe proves the login and tells the old password. */
		CHECK_OK(vd_drv_probe_old(&t, "localhost", p1, p2, &h, err,
		    sizeof(err)));
		CHECK_INT_EQ(h, 0);
		CHECK_OK(vd_drv_probe_old(&t, "localhost", p1, p1, &h, err,
		    sizeof(err)));
		CHECK_INT_EQ(h, 1);
		vd_drv_close(c);
		c = NULL;
	}
	/* The parser alone, on the forms above and hostile ones. */
	CHECK_OK(vd__drv_parse_create("CREATE USER `a``b`@`h``` IDENTIFIED "
	    "BY PASSWORD '*00'", u, sizeof(u), lit, sizeof(lit), &nm));
	CHECK_STR_EQ(u, "a`b");
	CHECK_STR_EQ(lit, "h`");
	CHECK_INT_EQ((int)nm, 1);
	CHECK_OK(vd__drv_parse_create("CREATE USER `a@b`@`%` IDENTIFIED VIA "
	    "ed25519 USING 'x' OR unix_socket", u, sizeof(u), lit,
	    sizeof(lit), &nm));
	CHECK_STR_EQ(u, "a@b");
	CHECK_STR_EQ(lit, "%");
	CHECK_INT_EQ((int)nm, 2);
	CHECK(vd__drv_parse_create("CREATE USER 'a'@'h'", u, sizeof(u), lit,
	    sizeof(lit), &nm) != 0);	/* only `…` names are decoded */
	CHECK(vd__drv_parse_create("CREATE USER `a`@`h", u, sizeof(u), lit,
	    sizeof(lit), &nm) != 0);
	CHECK(vd__drv_parse_create("CREATE USER `abcdef`@`h`", u, 4, lit,
	    sizeof(lit), &nm) != 0);	/* does not fit: refused */

	/*
	 * Two rows of one user with different passwords; the session
	 * matches localhost and may read mysql.* (the other row).
	 */
	uname_(u, sizeof(u), "ownhost");
	create_user(u, "localhost", "Own-pw-1a");
	create_user(u, "127.0.0.1", "Own-pw-2b");
	admin_exec("GRANT SELECT ON mysql.* TO '%s'@'localhost'", u);
	t = target(u);
	CHECK_OK(vd_drv_connect(&t, NULL, p1, &c, err, sizeof(err)));
	CHECK_OK(vd_drv_current_user(c, cu, sizeof(cu), err, sizeof(err)));
	n = snprintf(cu2, sizeof(cu2), "%s@localhost", u);
	CHECK(n > 0 && (size_t)n < sizeof(cu2));
	CHECK_STR_EQ(cu, cu2);
	/* Never the cache for another host, nor for another case of it. */
	HOLDS(c, u, "127.0.0.1", "Own-pw-2b", 0, 1);
	HOLDS(c, u, "127.0.0.1", "Own-pw-1a", 0, 0);
	HOLDS(c, u, "LOCALHOST", "Own-pw-1a", 0, 1);
	HOLDS(c, u, "localhost", "Own-pw-1a", 0, 1);
	/* Nor for another user of that host. */
	uname_(lit, sizeof(lit), "ownother");
	create_user(lit, "localhost", "Own-pw-2b");
	HOLDS(c, lit, "localhost", "Own-pw-2b", 0, 1);
	HOLDS(c, lit, "localhost", "Own-pw-1a", 0, 0);

	/* A change on the connection drops the cache. */
	CHECK_OK(vd_drv_current_user(c, cu, sizeof(cu), err, sizeof(err)));
	pw = S("Own-pw-3c");
	CHECK_OK(vd_drv_set_password(c, u, "localhost", pw, err, sizeof(err)));
	vd_secret_free(pw);
	HOLDS(c, u, "localhost", "Own-pw-3c", 0, 1);
	HOLDS(c, u, "localhost", "Own-pw-1a", 0, 0);
	/* So does a statement run through vd_drv_exec(). */
	CHECK_OK(vd_drv_current_user(c, cu, sizeof(cu), err, sizeof(err)));
	CHECK_OK(vd_drv_exec(c, "SET PASSWORD = PASSWORD('Own-pw-4d')", err,
	    sizeof(err)));
	HOLDS(c, u, "localhost", "Own-pw-4d", 0, 1);
	HOLDS(c, u, "localhost", "Own-pw-3c", 0, 0);
	vd_drv_close(c);
	vd_secret_free(p1);
	vd_secret_free(p2);
}

int
main(int argc, char **argv)
{
	struct vd_dbtarget t;
	struct vd_secret *empty;
	char err[VD_DRV_ERRLEN];
	const char *mode = argc > 1 ? argv[1] : "";

	CHECK_OK(vd_mem_init());
	CHECK_OK(vd_drv_init());
	vd_mdbenv_load(&env);
	t = target("root");
	empty = S("");
	if (vd_drv_connect(&t, NULL, empty, &admin, err, sizeof(err)) != 0) {
		fprintf(stderr, "cannot connect as root to %s: %s\n",
		    env.socket, err);
		return 1;
	}
	vd_secret_free(empty);
	atexit(drop_users);

	if (strcmp(mode, "plugin") == 0) {
		t_plugin();
		t_ed25519();
		printf("test_driver plugin: ok\n");
		return 0;
	}
	/*
	 * Servers configured as real installs are: bind-address=127.0.0.1
	 * with '::1' rows, lc_messages=de_DE, max_password_errors=2.
	 */
	if (strcmp(mode, "layout") == 0) {
		t_refused_v6();
		t_ed25519();
		t_two_methods();
		t_unreadable();
		t_holds();
		t_proof();
		printf("test_driver layout: ok\n");
		return 0;
	}
	if (strcmp(mode, "nonet") == 0) {	/* skip-networking */
		t_nonet();
		printf("test_driver nonet: ok\n");
		return 0;
	}
	if (strcmp(mode, "readonly") == 0) {	/* read_only, general log */
		t_readonly();
		printf("test_driver readonly: ok\n");
		return 0;
	}
	if (strcmp(mode, "repl") == 0) {	/* primary; replica in env */
		t_repl();
		printf("test_driver repl: ok\n");
		return 0;
	}
	if (*mode != '\0') {
		fprintf(stderr, "test_driver: unknown mode %s\n", mode);
		return 2;
	}
	t_connect();
	t_wrong_password();
	t_hosts();
	t_rotate_hosts();
	t_unix_socket_kept();
	t_hash_form();
	t_special_passwords();
	t_special_user();
	t_self_rotation();
	t_own_account();
	t_errors();
	t_threads();
	printf("test_driver: ok (server %s, ipv6 %d)\n", env.socket, env.ipv6);
	return 0;
}
