/*
 * driver.h - the MariaDB/MySQL driver: connect, discover an account's
 * hosts, change its password per host, verify with fresh logins.
 *
 * The only module that includes <mysql.h> (Connector/C 3.3).  Every call
 * blocks, bounded by the target's connect and read/write timeouts; the
 * daemon runs them on libuv's thread pool (uv_queue_work), never on the
 * loop thread.  The driver keeps no global mutable state beyond the
 * library's one-time initialisation, so different threads may use
 * different connections at the same time; one connection must not be used
 * by two threads at once.
 *
 * Secrets: passwords arrive as struct vd_secret.  The SQL text that
 * carries one is built in secure memory and wiped after the query; the
 * copy Connector/C keeps of a login password is wiped once the connection
 * is up (on a failed login the library frees its copy unwiped: nothing
 * here can reach it).  Error text (the err/errlen out-parameters) holds
 * the server's reason, never a secret: a server message that quotes the
 * statement (syntax errors) or contains the password is withheld.
 *
 * Errors: 0 on success, or a negative code from err.h:
 *   VD_EAUTH	  the server refused the login (1045, 1698): wrong password,
 *		  or no such account for this user and client host
 *   VD_EPOLICY	  a password validation plugin refused the new password
 *		  (1819, also behind 1396 via SHOW WARNINGS)
 *   VD_ENOTFOUND SET PASSWORD named an account that does not exist (1133)
 *   VD_EUNREACH  the server cannot be reached from here at all: the
 *		  connection was refused (nothing listens on that address:
 *		  bind-address, skip-networking), no route to the host, the
 *		  network unreachable (2002/2003 with ECONNREFUSED,
 *		  EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL, or EINPROGRESS
 *		  well before the connect timeout); err reads "host ::1 not
 *		  reachable from here: connection refused (client error
 *		  2002)".  Not a database error: the server was never asked.
 *   VD_ETIMEDOUT a connect/read/write timeout passed
 *   VD_EDB	  anything else from the client library or the server
 *		  (no such socket file, TLS unavailable, no privilege …)
 *   VD_EINVAL	  a bad argument (missing user, NUL byte in a password …)
 *   VD_ENOMEM	  out of (secure) memory
 * plus the positive VD_DRV_* codes below, which are neither success nor
 * a failure of the call: callers test for them by name.
 */
#ifndef VD_DRIVER_H
#define VD_DRIVER_H

#include <stddef.h>

#include "mem.h"

/*
 * vd_drv_probe(): the account host cannot be verified from here (e.g. '%',
 * another machine's name, or the login matched a different account).
 * Positive, so it never looks like success nor like a failure code.
 */
#define VD_DRV_UNREACHABLE	1

/*
 * vd_drv_probe(), vd_drv_login(): the login succeeded, but another
 * method of the account (unix_socket for a database user named like this
 * process's OS user, gssapi, pam, an unknown plugin) may have let it in
 * without the password, and nothing proves the password (no password
 * method to compare, an unknown plugin).
 */
#define VD_DRV_UNPROVEN		2

/*
 * vd_drv_holds(): cannot tell (no privilege to read the account, an
 * authentication plugin vaultd does not know, a server that is not
 * MariaDB).
 */
#define VD_DRV_UNKNOWN		3

/*
 * vd_drv_may_set_password(): the session lacks the privilege to change
 * that account's password.
 */
#define VD_DRV_NOPRIV		4

#define VD_DRV_PORT_DEFAULT	3306	/* when vd_dbtarget.port is 0 */
#define VD_DRV_CONNECT_TIMEOUT	10	/* s, when connect_timeout_s is 0 */
#define VD_DRV_RW_TIMEOUT	30	/* s, when rw_timeout_s is 0 */
#define VD_DRV_ERRLEN		512	/* a good size for err buffers */
#define VD_DRV_NATIVE_HASHLEN	41	/* '*' + 40 hex: mysql_native_password */
#define VD_DRV_ED25519_HASHLEN	43	/* unpadded base64 of 32 bytes */

/* The password plugins a login may use (issue 14 item 5). */
#define VD_DRV_AUTH_PLUGINS	"mysql_native_password,client_ed25519"
#define VD_DRV_AUTH_NATIVE	0x1	/* mysql_native_password */
#define VD_DRV_AUTH_ED25519	0x2	/* ed25519 (client_ed25519) */

/*
 * How to reach a server, and the account being rotated.  Plain strings
 * the caller owns; nothing here is copied beyond a call.
 */
struct vd_dbtarget {
	const char	*host;		/* TCP host or address; NULL: none */
	unsigned	 port;		/* TCP port; 0: 3306 */
	const char	*unix_socket;	/* socket path; NULL: none */
	const char	*user;		/* the rotated account's User name */
	int		 tls_required;	/* TCP only with TLS, cert verified */
	int		 tls_disabled;	/* explicit: plaintext TCP to any host */
	const char	*tls_ca;	/* CA file; NULL: the system's CAs */
	const char	*auth;		/* client plugins a login as user may
					 * use (vd_drv_auth_list()); NULL:
					 * VD_DRV_AUTH_PLUGINS */
	const char	*admin_user;	/* the separate admin account, or NULL */
	const char	*admin_auth;	/* its client plugins, as auth */
	unsigned	 connect_timeout_s; /* 0: VD_DRV_CONNECT_TIMEOUT */
	unsigned	 rw_timeout_s;	/* per read/write; 0: VD_DRV_RW_TIMEOUT */
};

/* An open connection (opaque); one thread at a time. */
struct vd_drv_conn;

/*
 * Initialises Connector/C once per process (thread-safe, idempotent).
 * The daemon calls it at start-up; vd_drv_connect() calls it too.
 * Returns 0 or VD_EDB.
 */
int vd_drv_init(void);

/*
 * Releases Connector/C's global resources at exit, after every connection
 * is closed (keeps leak checkers quiet).  No driver call may follow.
 */
void vd_drv_end(void);

/*
 * Connects to t as user (NULL: t->user) with password pw (may be empty).
 * Transport: the Unix socket when t->unix_socket is set, else TCP to
 * t->host:t->port.  A TCP connection to a host that is not loopback
 * (vd_host_is_loopback(), util.h), or any TCP connection with
 * t->tls_required, must use TLS with a server certificate that verifies
 * (against t->tls_ca, else the system's CAs, host name included), or the
 * connect fails with VD_EDB; only t->tls_disabled (set by an explicit
 * `--tls disabled`) lets a non-loopback TCP connection go without, and
 * then a password sent by vd_drv_set_password() crosses the network in
 * plaintext.  A Unix socket never leaves the host, so TLS does not apply
 * to it.  Authentication plugins are restricted (MARIADB_OPT_RESTRICTED_AUTH)
 * to t->auth when user is t->user and t->auth is set (t->admin_auth for
 * t->admin_user), the account's own
 * password methods: an ed25519 account never answers a switch to
 * mysql_native_password, nor the other way round; an ed25519-only list
 * also makes client_ed25519 the first plugin tried), else to
 * mysql_native_password and client_ed25519: a server asking for
 * mysql_clear_password, dialog, sha256_password, caching_sha2_password or
 * a plugin outside the list is refused (VD_EDB, client error 5010) before
 * the password is sent in any form.  Connect, read
 * and write timeouts are always set; no option file is read, LOAD DATA
 * LOCAL is off, the character set is utf8mb4.  On success *out owns the
 * connection (vd_drv_close()).  On failure *out is NULL, err (errlen > 0,
 * may be NULL) holds the reason, and the return is VD_EAUTH, VD_EUNREACH,
 * VD_ETIMEDOUT, VD_EDB, VD_EINVAL or VD_ENOMEM.  The login is not proven
 * (see vd_drv_login()): a session is a session.
 */
int vd_drv_connect(const struct vd_dbtarget *t, const char *user,
    const struct vd_secret *pw, struct vd_drv_conn **out, char *err,
    size_t errlen);

/* Closes c; NULL-safe. */
void vd_drv_close(struct vd_drv_conn *c);

/*
 * Connects as user (NULL: t->user) with pw and closes again: "does this
 * password log in?".  The login must be proven as in vd_drv_probe():
 * when another method of the matched account could have let it in
 * without the password, the account's stored values must be pw's.
 * Returns 0, VD_DRV_UNPROVEN (positive), VD_DRV_UNREACHABLE (positive:
 * the login matched another user name, an anonymous account), VD_EAUTH
 * (refused, or let in by another method while the account does not hold
 * pw), or as vd_drv_connect() (VD_EUNREACH included).
 */
int vd_drv_login(const struct vd_dbtarget *t, const char *user,
    const struct vd_secret *pw, char *err, size_t errlen);

/*
 * Returns the server's version string (e.g. "10.11.19-MariaDB-0+deb12u1"),
 * valid while c is open.
 */
const char *vd_drv_server_version(struct vd_drv_conn *c);

/* Returns the server's version as a number (10.11.19 -> 101119). */
unsigned long vd_drv_server_version_num(struct vd_drv_conn *c);

/* Returns 1 when the server is MariaDB, 0 when it is MySQL. */
int vd_drv_is_mariadb(struct vd_drv_conn *c);

/*
 * Writes CURRENT_USER() (the account the server matched, "user@host") to
 * buf.  On MariaDB it asks SHOW CREATE USER without a name (the session's
 * own account, no privilege needed) and keeps the account's methods in c,
 * so that reading that very account's methods on c (SET PASSWORD's form,
 * a login's proof, vd_drv_holds()) takes no second round trip; any
 * password change sent on c, vd_drv_exec(), vd_drv_query1() and
 * vd_drv_close() drop (wipe) them.  On MySQL, or when that form fails
 * (an error, a line not known), it asks SELECT CURRENT_USER().
 * Returns 0, VD_ETOOBIG when it does not fit, or VD_EDB.
 */
int vd_drv_current_user(struct vd_drv_conn *c, char *buf, size_t len,
    char *err, size_t errlen);

/*
 * Lists every Host of user in mysql.user, sorted.  On success *hosts is
 * a malloc'd array of *n malloc'd strings (free with vd_drv_hosts_free());
 * an unknown user gives *n == 0 and *hosts NULL.  Needs SELECT on
 * mysql.user.  Returns 0, VD_EDB (reason in err) or VD_ENOMEM.
 */
int vd_drv_account_hosts(struct vd_drv_conn *c, const char *user,
    char ***hosts, size_t *n, char *err, size_t errlen);

/* Frees what vd_drv_account_hosts() returned; NULL-safe. */
void vd_drv_hosts_free(char **hosts, size_t n);

/*
 * Sets the password of the account 'user'@'host' to newpw: every
 * password-bearing method of the account (mysql_native_password,
 * ed25519) gets newpw; its other methods (unix_socket, named_pipe,
 * gssapi, pam) are kept as they are.  The methods are read first with
 * SHOW CREATE USER (by plugin name; a privileged session, or c's own
 * account).  An account whose only password method is its first gets
 * SET PASSWORD FOR 'user'@'host' = '<value>' (MariaDB's SET PASSWORD
 * changes the first method only, and refuses with 1699 when that is
 * unix_socket); any other (two password methods, "unix_socket OR
 * mysql_native_password") gets ALTER USER 'user'@'host' IDENTIFIED VIA
 * with all its methods restated in their order, the password methods
 * with the new value, the others with their stored strings — that needs
 * the CREATE USER privilege (1227 otherwise, said in err).  On MariaDB
 * the password travels only as the value each plugin stores
 * (vd_drv_native_hash(), vd_drv_ed25519_hash()), so the general log and
 * the binlog never hold the plaintext.  Exception: the server refused the
 * stored form with 1290 because of strict_password_validation (ON, and a
 * password validation plugin ACTIVE, and the message not naming
 * read-only); then the same statement is sent with PASSWORD('…'), because
 * the server must see the plaintext to check it (the session is still
 * kept out of the general log where the privilege allows, see below).
 * Any other 1290 — read_only above all — fails with VD_EDB and a
 * "read-only" reason, the plaintext never sent.  When the methods cannot
 * be read (no SELECT on mysql.*), the first method decides, told by error
 * number alone (1372 for the native hash: ed25519).  MySQL gets SET
 * PASSWORD … = '…'.  An account without a password method (unix_socket or
 * pam only) or with a plugin vaultd does not know is refused with
 * VD_EINVAL ("not rotatable").  The account is always named, never
 * CURRENT_USER() (ALTER USER CURRENT_USER() succeeds and changes nothing
 * on MariaDB); it may be c's own account (self-rotation: c stays open).
 * user, host, stored strings and password are escaped with
 * mysql_real_escape_string() on c; the statement is built in secure
 * memory and wiped.  The session's general log is switched off first
 * where the privilege allows.  One account per call: a multi-account
 * statement is not atomic.  Always verify with vd_drv_probe() afterwards.
 * Returns 0, VD_EPOLICY (a validation plugin refused newpw; its reason,
 * from SHOW WARNINGS after 1396/1819, in err), VD_ENOTFOUND (no such
 * account: 1133), VD_EDB (other server errors, e.g. no privilege or a
 * read-only server: nothing was changed), VD_ETIMEDOUT (outcome unknown:
 * a timeout, or the connection lost with the statement sent, 2013/2006 —
 * the server may have applied it; verify), VD_EINVAL (newpw empty or
 * holding a NUL byte, or an account that is not rotatable) or VD_ENOMEM.
 */
int vd_drv_set_password(struct vd_drv_conn *c, const char *user,
    const char *host, const struct vd_secret *newpw, char *err,
    size_t errlen);

/*
 * Writes mysql_native_password's hash of pw, "*" and the upper-case hex of
 * SHA1(SHA1(pw)) (what the server's PASSWORD() returns), NUL-terminated to
 * out (outlen > VD_DRV_NATIVE_HASHLEN).  Intermediate values are kept in
 * secure memory and wiped.  Returns 0, VD_EINVAL or VD_ENOMEM.
 */
int vd_drv_native_hash(const struct vd_secret *pw, char *out, size_t outlen);

/*
 * Writes MariaDB's ed25519 plugin's stored value for pw (what
 * PASSWORD('…') gives an ed25519 account: the unpadded base64 of the
 * Ed25519 public key derived from SHA-512(pw)), NUL-terminated to out
 * (outlen > VD_DRV_ED25519_HASHLEN).  Returns 0, VD_EINVAL or VD_ENOMEM.
 */
int vd_drv_ed25519_hash(const struct vd_secret *pw, char *out, size_t outlen);

/*
 * Verifies with a fresh connection that t->user@account_host logs in with
 * pw, that the server matched exactly that account (CURRENT_USER()), and
 * that the password is what let it in.
 * Route per account host:
 *   'localhost'	the Unix socket t->unix_socket; without one, the
 *			library's default socket when t->host is NULL or
 *			"localhost"; otherwise unreachable
 *   '127.0.0.1'	TCP 127.0.0.1:port, when the server is on this host
 *   '::1'		TCP [::1]:port, when the server is on this host
 *   == t->host		TCP t->host:port
 *   anything else	('%', other names, masks) unreachable
 * "On this host" means t->unix_socket is set or t->host is NULL,
 * "localhost", "127.0.0.1" or "::1"; a loopback login to a remote target's
 * account would otherwise test some other server.  A route whose
 * connection is refused (bind-address, skip-networking), or that has no
 * route or network, is unreachable too ("host ::1 not reachable from here:
 * connection refused" in err).
 * Proof: the session reads its own account's methods (SHOW CREATE USER).
 * When one of them could let the login in without the password —
 * unix_socket over the socket for a database user named like this
 * process's effective OS user (vaultd as root, root@localhost "… OR
 * unix_socket", Debian's default), gssapi, pam or an unknown plugin on
 * any route — the login proves nothing, and the account's stored values
 * are compared with pw's (vd_drv_holds()'s comparison, through the
 * session itself, no privilege needed): all equal proves pw, any other
 * refuses it.
 * Returns 0 when the login works as that account by pw,
 * VD_DRV_UNREACHABLE (positive) when it cannot be verified from here
 * (including a login that matched a different account and a refused
 * connection, reason in err), VD_DRV_UNPROVEN (positive) when the login
 * worked but nothing proves pw (no password method, an unknown plugin),
 * VD_EAUTH when the server refused the password (for the account it
 * matched: on a server without skip-name-resolve a TCP loopback login may
 * match 'localhost') or another method let the login in while the
 * account does not hold pw, or VD_ETIMEDOUT / VD_EDB / VD_EINVAL /
 * VD_ENOMEM.
 */
int vd_drv_probe(const struct vd_dbtarget *t, const char *account_host,
    const struct vd_secret *pw, char *err, size_t errlen);

/*
 * vd_drv_probe(), and when the login is proven (returns 0) and old is
 * given, whether the account still holds old, read through the probe's
 * own session (vd_drv_holds() on it; on MariaDB the methods the proof
 * read answer it, no further round trip): *old_held is 1 or 0, or -1 when
 * it cannot tell (another return, no old, MySQL, a plugin not known).
 * After a change, the rotation's note "old password still accepted"
 * comes from here for every host a probe reached (issue 18).
 */
int vd_drv_probe_old(const struct vd_dbtarget *t, const char *account_host,
    const struct vd_secret *pw, const struct vd_secret *old, int *old_held,
    char *err, size_t errlen);

/*
 * Like vd_drv_probe(), but keeps the connection: connects as
 * t->user@account_host by that host's route and checks the server matched
 * exactly that account.  Self-rotation uses it to change each account of a
 * user through a session of that very account (changing another account,
 * even of the same user name, needs privileges on the mysql database).
 * On success *out owns the connection; otherwise it is NULL and the return
 * is as vd_drv_probe()'s (VD_DRV_UNREACHABLE included).
 */
int vd_drv_connect_host(const struct vd_dbtarget *t, const char *account_host,
    const struct vd_secret *pw, struct vd_drv_conn **out, char *err,
    size_t errlen);

/*
 * Can a login as t->user@account_host, along the route vd_drv_probe()
 * takes for that host, succeed without the password?  Reads the account's
 * methods through c (a privileged session, or c's own account) and sets
 * *can to 1, naming the method in via (vialen bytes, may be 0), when one
 * of them may let it in: unix_socket on the Unix socket when this
 * process's effective OS user has t->user's name (vaultd as root,
 * root@localhost "… OR unix_socket"); gssapi, pam or an unknown plugin on
 * any route (conservative); named_pipe never (Windows only).  Such a
 * login proves nothing: vd_drv_probe() then compares stored values, and
 * vd_drv_holds() needs no login at all.  Returns 0, VD_DRV_UNREACHABLE
 * (no route to that host from here), VD_DRV_UNKNOWN (the methods cannot
 * be read: no privilege, a form not known, not MariaDB), VD_ENOTFOUND,
 * VD_EINVAL, VD_ETIMEDOUT or VD_EDB.
 */
int vd_drv_passwordless(struct vd_drv_conn *c, const struct vd_dbtarget *t,
    const char *account_host, int *can, char *via, size_t vialen);

/*
 * The client plugin list (MARIADB_OPT_RESTRICTED_AUTH) for a mask of
 * VD_DRV_AUTH_* bits: "mysql_native_password", "client_ed25519" or
 * VD_DRV_AUTH_PLUGINS; NULL for 0 or unknown bits.  Static strings.
 */
const char *vd_drv_auth_list(unsigned mask);

/*
 * Reads the methods of 'user'@'host' through c (SHOW CREATE USER: a
 * privileged session, or c's own account) and ORs into *mask the
 * VD_DRV_AUTH_* bit of each password method (mysql_native_password,
 * ed25519; "ed25519 OR mysql_native_password" gives both: MariaDB tries
 * them in turn, switching the client's plugin).  Methods without a
 * password add nothing.  Returns 0, VD_DRV_UNKNOWN (no privilege to read
 * the account), VD_ENOTFOUND, VD_EPROTO (not MariaDB's form), VD_EDB,
 * VD_ETIMEDOUT or VD_ENOMEM.
 */
int vd_drv_auth_plugins(struct vd_drv_conn *c, const char *user,
    const char *host, unsigned *mask, char *err, size_t errlen);

/*
 * Does 'user'@'host' hold pw, without a login: reads the account's
 * stored authentication strings through c (SHOW CREATE USER, the
 * server's rendering of mysql.global_priv's plugin,
 * authentication_string and auth_or; needs SELECT on mysql.*, or c's own
 * account) and compares each password method's (mysql_native_password,
 * ed25519) with the value computed from pw (vd_drv_native_hash(),
 * vd_drv_ed25519_hash(); wiped, compared in constant time).  Methods
 * without a password (unix_socket, named_pipe, gssapi, pam) are
 * ignored.  No login, so no failed-login count (max_password_errors), and
 * it works for account hosts not reachable from here.  pw is not
 * written anywhere.  Sets *holds to 1 when every password method holds
 * pw, 0 when none or only some do or the account has no password method
 * (*holds is 0 on every other return).  Returns 0, VD_DRV_UNKNOWN
 * (positive: cannot tell — no privilege to read the account, a plugin
 * vaultd does not know, a server that is not MariaDB), VD_ENOTFOUND (no
 * such account), VD_EINVAL, VD_ETIMEDOUT, VD_EDB or VD_ENOMEM.
 */
int vd_drv_holds(struct vd_drv_conn *c, const char *user, const char *host,
    const struct vd_secret *pw, int *holds);

/*
 * May session c change the password of 'user'@'host' with the statement
 * vd_drv_set_password() would send it?  Reads the account's methods
 * (SHOW CREATE USER: SET PASSWORD, or ALTER USER for an account with two
 * password methods or whose password method is not first) and the
 * session's privileges (SHOW GRANTS, its enabled roles included;
 * grants.h says what each statement needs on MariaDB 10.11).  Changes
 * nothing.  When the methods cannot be read, SET PASSWORD is assumed.
 * Returns 0 (it may), VD_DRV_NOPRIV (positive: it may not; why, whylen
 * bytes, says which privilege is missing), VD_DRV_UNKNOWN (not MariaDB),
 * VD_ENOTFOUND (no such account), VD_EINVAL, VD_ETIMEDOUT or VD_EDB.
 * why never holds a secret (the grant lines, which may hold password
 * hashes, are not copied).
 */
int vd_drv_may_set_password(struct vd_drv_conn *c, const char *user,
    const char *host, char *why, size_t whylen);

/*
 * The server's replication role, so that a replica is not rotated
 * directly (its primary's SET PASSWORD reaches it): *read_only is
 * @@read_only (read_only NULL: not asked, one round trip fewer); *replica is 1 when SHOW ALL SLAVES STATUS (MySQL: SHOW
 * SLAVE STATUS) lists a connection with a Master_Host, running or not;
 * then primary (len bytes) holds the first one's "host:port"
 * ("[v6addr]:port"), else "".  Needs a privilege for the replica status
 * (SUPER, REPLICATION CLIENT, SLAVE MONITOR).  Returns 0, VD_ETOOBIG
 * (primary truncated; *replica still set), VD_ETIMEDOUT or VD_EDB (then
 * every output is 0 / "").
 */
int vd_drv_role(struct vd_drv_conn *c, int *read_only, int *replica,
    char *primary, size_t len);

/*
 * Runs one statement and discards any result: for set-up and tests.  sql
 * must not carry a secret (it is plain memory, and the server's error may
 * quote it).  Returns 0, VD_EAUTH, VD_EPOLICY, VD_ETIMEDOUT or VD_EDB.
 */
int vd_drv_exec(struct vd_drv_conn *c, const char *sql, char *err,
    size_t errlen);

/*
 * Runs a query (no secret in sql) and writes the first column of its first
 * row to out (NULL becomes "").  Returns 0, VD_ENOTFOUND when there is no
 * row, VD_ETOOBIG when the value does not fit, or as vd_drv_exec().
 */
int vd_drv_query1(struct vd_drv_conn *c, const char *sql, char *out,
    size_t outlen, char *err, size_t errlen);

/*
 * sql_log_off on c (vd_drv_set_password() turns it on before its first
 * change, to keep the statement out of the general log): skip() makes c
 * not try (the account was seen to be refused it: no SUPER); refused()
 * is 1 when c tried and the server refused.  Issue 18: a refused try is a
 * round trip per rotation that changes nothing.
 */
void vd_drv_log_off_skip(struct vd_drv_conn *c);
int vd_drv_log_off_refused(const struct vd_drv_conn *c);

/*
 * A target reached through its Unix socket has no TCP port, but login
 * probes of its loopback hosts (127.0.0.1, ::1) need one: when t->port is 0
 * and t->unix_socket is set, asks the server of c for @@port and sets
 * t->port.  Leaves t alone when that fails.
 */
void vd_drv_learn_port(struct vd_drv_conn *c, struct vd_dbtarget *t);

/*
 * Internal, for tests/fuzz/fuzz_create.c: parses a MariaDB SHOW CREATE
 * USER line (NUL-terminated) as vd_drv_current_user() does — the account
 * `user`@`host` (backtick-quoted, `` for a backtick inside) decoded into
 * user (ulen bytes) and host (hlen), and *nmethods set to the number of
 * its authentication methods.  Returns 0, or -1 for a line not known or
 * a name that does not fit.
 */
int vd__drv_parse_create(const char *line, char *user, size_t ulen,
    char *host, size_t hlen, size_t *nmethods);

#endif
