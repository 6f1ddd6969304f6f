/*
 * apply.h - the one apply path: connect, change the password on every
 * host of the account, verify each host with a fresh login, and the
 * bookkeeping a repair needs.  It serves rotations, resolutions of a
 * pending version, drift repairs (reconcile) and drift checks, and the
 * verification of a password handed in by target.add and
 * target.set_password (vd_apply_verify()).
 *
 * Everything here blocks on MariaDB (driver.h): it runs on libuv's thread
 * pool, on copies of what it needs (no json_t, no store).  The caller
 * fills a struct vd_apply, runs it, and reads the outcome fields.
 */
#ifndef VD_APPLY_H
#define VD_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "state.h"
#include "target.h"
#include "versions.h"

struct vd_secret;

#define VD_APPLY_MAX_HOSTS	VD_TARGET_MAX_HOSTS	/* account hosts */
#define VD_APPLY_ERRLEN		512	/* err: the server's reason */

/* A target's "tls" (issue 14 item 5): target.h's values. */
#define VD_APPLY_TLS_DEFAULT	VD_TARGET_TLS_DEFAULT
#define VD_APPLY_TLS_REQUIRED	VD_TARGET_TLS_REQUIRED
#define VD_APPLY_TLS_DISABLED	VD_TARGET_TLS_DISABLED

enum vd_apply_mode {
	VD_APPLY_NEW,		/* set a fresh pending version everywhere */
	VD_APPLY_RESOLVE,	/* a pending version exists: apply it forward */
	VD_APPLY_CHECK,		/* probe the current password on every host */
	VD_APPLY_ABANDON,	/* prove no host holds the pending version */
};

/* One account row's pre-flight result (vd_apply_verify()). */
enum vd_row_result {
	VD_ROW_OK,		/* logs in; may be changed (with privs) */
	VD_ROW_UNREACHABLE,	/* no login reaches it from here */
	VD_ROW_REFUSED,		/* the server refused the password */
	VD_ROW_NOPRIV,		/* the session that would change it may not */
	VD_ROW_ERROR,		/* anything else (timeout, server error) */
};

struct vd_apply_row {
	char			*host;		/* the account row's Host */
	enum vd_row_result	 res;		/* what the pre-flight found */
	char			 why[VD_APPLY_ERRLEN];	/* reason, "" for ok */
};

struct vd_apply {
	enum vd_apply_mode mode;
	/* The server and the account (heap copies, vd_apply_clear()). */
	char		*host;		/* TCP host, or NULL */
	unsigned	 port;		/* TCP port */
	char		*sock;		/* Unix socket, or NULL */
	char		*user;		/* rotated account */
	char		*admin_user;	/* separate admin account, or NULL */
	int		 tls;		/* VD_APPLY_TLS_* (TCP targets) */
	char		*tls_ca;	/* CA file to verify the server, or NULL */
	char		*auth;		/* the account's client plugins (target
					 * "auth"), or NULL: both */
	char		*admin_auth;	/* the admin account's ("admin_auth") */
	char		*hosts[VD_APPLY_MAX_HOSTS];	/* configured hosts */
	size_t		 nhosts;	/* 0: auto (discover on the server) */
	unsigned	 timeout;	/* connect timeout, seconds */
	/* Passwords (secure memory, freed by vd_apply_clear()). */
	struct vd_secret *cur_pw;	/* current version's password */
	struct vd_secret *new_pw;	/* pending version's password */
	struct vd_secret *admin_pw;	/* admin account's password */
	struct vd_secret *old_pw[VD_KEEP_VERSIONS];	/* older versions a
					 * repair may log in with */
	uint64_t	 old_v[VD_KEEP_VERSIONS];	/* their versions */
	size_t		 nold;		/* how many (0: no repair this run) */
	uint64_t	 cur_v;		/* current version (0: none) */
	uint64_t	 new_v;		/* pending version (NEW/RESOLVE) */
	long long	 pwerr_max;	/* failed logins the server allows the
					 * account (0: no limit, -1: unknown) */
	long long	 prior_fails;	/* refused logins vaultd caused on the
					 * account since its last success */
	int		 privs;		/* vd_apply_verify(): also prove the
					 * privilege to change each row */
	/*
	 * What earlier jobs of this target learned of its session account
	 * in this daemon's life (issue 18: one round trip each fewer per
	 * rotation); the engine keeps them per target (struct ent).
	 */
	int		 skip_role;	/* the account may not read the replica
					 * status: do not ask */
	int		 skip_log_off;	/* the account may not set sql_log_off:
					 * the main session does not try */
	/* Outcome. */
	struct vd_apply_row *rows;	/* vd_apply_verify(): one per row */
	size_t		 nrows;		/* how many */
	enum vd_outcome	 out;
	char		 err[VD_APPLY_ERRLEN];	/* the server's reason */
	char		 summary[512];	/* per-host results "h=ok h2=…" */
	char		 note[256];	/* the older versions hosts held */
	int		 repaired;	/* logged in with an older version */
	int		 capped;	/* older ones left untried (limit) */
	int		 pwerr_read;	/* pwerr_max was read from the server */
	int		 auth_fails;	/* refused logins this run caused */
	const char	*auth_learned;	/* vd_apply_verify(): the plugins of
					 * the account's password methods on
					 * every host (vd_drv_auth_list()),
					 * or NULL when they could not be
					 * read */
	const char	*admin_auth_learned;	/* the same for the admin
					 * account's own row (CURRENT_USER()
					 * of its session) */
	int		 role_denied;	/* the replica status was refused */
	int		 log_off_denied;	/* the main session's sql_log_off
					 * was refused */
};

/*
 * Fills a's server and account from decoded target t, copying (loop
 * thread; the record may change afterwards).  Returns 0 or VD_ENOMEM.
 */
int vd_apply_set_target(struct vd_apply *a, const struct vd_target *t,
    unsigned timeout);

/*
 * The same from target record (name: for errors), decoded here
 * (vd_target_decode()).  Returns 0, VD_ENOMEM, or VD_EINVAL for a record
 * without a user.
 */
int vd_apply_from_target(struct vd_apply *a, const char *name,
    const json_t *target, unsigned timeout);

/* Initialises the client library once (driver.h); 0 or VD_EDB. */
int vd_apply_init(void);

/*
 * Runs a (thread pool): for NEW and RESOLVE, connect (the admin account,
 * or the target itself with the first password that logs in: current,
 * pending, older ones within the max_password_errors budget), apply the
 * pending password to every host that does not hold it yet, then verify
 * every host with a fresh login; for CHECK only the verification, with the
 * current password; for ABANDON (new_pw: the pending one) proof that no
 * row holds the pending password (its stored hash, or a refused login
 * where the hash cannot be read): VD_OUT_OK only then, VD_OUT_REFUSED
 * naming a row that holds it or cannot be told.  Sets the outcome fields;
 * never fails otherwise.
 */
void vd_apply_run(struct vd_apply *a);

/*
 * Verifies that pw logs in as a->user on every host of the account
 * (a->hosts, or every row of mysql.user for the user, listed through the
 * admin account a->admin_user/a->admin_pw when set, else through pw), and
 * on the path vault users take.  Hosts that cannot be reached from here
 * are "unverified".  With a->privs, also that the session a rotation
 * would change each row through may change it (vd_drv_may_set_password():
 * the admin account's; else the row's own login, or for a row not
 * reachable from here the session by the target's route).  Through the
 * same session it reads every host's authentication methods and sets
 * a->auth_learned to the client plugins they use (NULL when one cannot be
 * read), and a->admin_auth_learned to the admin account's.  Every row is
 * tried, whatever the others gave: a->rows gets one result per row (the
 * pre-flight's report), a->summary "host=ok|unverified|refused|
 * no-privilege|error …".  Returns 0 when no row is refused, lacks the
 * privilege or failed; else VD_EAUTH when a row refused the password,
 * VD_EDB for a missing privilege, or the first row's error, with a->err
 * naming the first such row and how many are not ready.  A failure
 * before the rows (the server, listing the rows) returns its error with
 * the reason in a->err and no rows.
 */
int vd_apply_verify(struct vd_apply *a, const struct vd_secret *pw);

/*
 * Logs in as user (NULL: a->user) with pw on the target's own path, and
 * out again: target.add's check of a password before storing it.  Returns
 * as vd_apply_verify(), the reason in a->err.
 */
int vd_apply_login(struct vd_apply *a, const char *user,
    const struct vd_secret *pw);

/*
 * Learns which server the target's route reaches: logs in as a->user
 * with pw (the admin account when a->admin_user and a->admin_pw are set)
 * and writes "@@hostname:@@port:@@datadir" to out (len bytes): the same
 * for a server reached by its socket and by 127.0.0.1:3306, different for
 * two servers on one host.  Returns 0, or the error of the login or the
 * query with out "" (then nothing is known).
 */
int vd_apply_server_id(struct vd_apply *a, const struct vd_secret *pw,
    char *out, size_t len);

#define VD_APPLY_SERVER_ID_MAX	320	/* a good size for out */

/* The word for a row result: "ok", "unreachable", "refused" … */
const char *vd_apply_row_name(enum vd_row_result res);

/* Frees a's copies and wipes its passwords; a can be filled again. */
void vd_apply_clear(struct vd_apply *a);

#endif
