/*
 * apply.c - the one apply path (apply.h): connect, apply per host, verify
 * per host, on the thread pool.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "apply.h"
#include "driver.h"
#include "err.h"
#include "mem.h"
#include "util.h"

/* The driver's view of a's server and account. */
static void
dbtarget(const struct vd_apply *a, struct vd_dbtarget *t)
{
	memset(t, 0, sizeof(*t));
	t->host = a->host;
	t->port = a->port;
	t->unix_socket = a->sock;
	t->user = a->user;
	t->connect_timeout_s = a->timeout;
	t->tls_required = a->tls == VD_APPLY_TLS_REQUIRED;
	t->tls_disabled = a->tls == VD_APPLY_TLS_DISABLED;
	t->tls_ca = a->tls_ca;
	t->auth = a->auth;
	t->admin_user = a->admin_user;
	t->admin_auth = a->admin_auth;
}

/*
 * The client plugins of the password methods of user's n hosts, read
 * through c; NULL when any host's cannot be read (no privilege to read
 * another host's row: the restriction stays the default) or none has a
 * password method.
 */
static const char *
learn_auth(struct vd_drv_conn *c, const char *user, char *const *hosts,
    size_t n)
{
	char perr[VD_DRV_ERRLEN];
	unsigned mask = 0;

	for (size_t i = 0; i < n; i++)
		if (vd_drv_auth_plugins(c, user, hosts[i], &mask, perr,
		    sizeof(perr)) != 0)
			return NULL;
	return vd_drv_auth_list(mask);
}

/* The client plugins of the account c's session matched (CURRENT_USER()). */
static const char *
learn_own_auth(struct vd_drv_conn *c)
{
	char cu[512], perr[VD_DRV_ERRLEN], *at;

	if (vd_drv_current_user(c, cu, sizeof(cu), perr, sizeof(perr)) != 0 ||
	    (at = strrchr(cu, '@')) == NULL)
		return NULL;
	*at = '\0';	/* "user@host": the host part holds no '@' */
	return learn_auth(c, cu, &(char *){ at + 1 }, 1);
}

static void
add_summary(struct vd_apply *a, const char *host, const char *what)
{
	size_t n = strlen(a->summary);

	snprintf(a->summary + n, sizeof(a->summary) - n, "%s%s=%s",
	    n ? " " : "", host, what);
}

/*
 * Whether a login probe of hosts[0..n) may go over TCP, so that a socket
 * target needs its server's port (vd_drv_learn_port(): one round trip,
 * saved when every host is localhost, which the socket reaches).
 */
static int
needs_port(char *const *hosts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(hosts[i], "localhost") != 0)
			return 1;
	return 0;
}

/* A password a session as the target may log in with. */
struct login {
	uint64_t		 v;	/* its version */
	const struct vd_secret	*pw;	/* the job's copy */
};

/*
 * The SQL behind pwerr_limit(): max_password_errors, or 0 when it does not
 * apply to the session's account (unlimited, or the account holds SUPER or
 * CONNECTION ADMIN).  CURRENT_USER() is "user@host"; the host part holds
 * no '@', so it is what follows the last one.
 */
#define PWERR_SQL \
	"SELECT IF(@@global.max_password_errors >= 4294967295 OR EXISTS (" \
	"SELECT 1 FROM information_schema.USER_PRIVILEGES WHERE " \
	"PRIVILEGE_TYPE IN ('SUPER', 'CONNECTION ADMIN') AND GRANTEE = " \
	"CONCAT('''', LEFT(CURRENT_USER(), CHAR_LENGTH(CURRENT_USER()) - " \
	"CHAR_LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1), " \
	"'''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')), 0, " \
	"@@global.max_password_errors)"

/*
 * Failed logins the server allows c's account before it blocks it, 0 for
 * no limit, -1 when unknown (MySQL has no max_password_errors).  Checked
 * on MariaDB 10.11: the count is per account (user@host), over the socket
 * and loopback too; only a successful login resets it; a blocked account
 * (error 4150) needs FLUSH PRIVILEGES, which is worse than drift.  Failed
 * logins do not count toward max_connect_errors (host blocking).
 */
static long long
pwerr_limit(struct vd_drv_conn *c)
{
	char buf[32];
	long long v;

	if (vd_drv_query1(c, PWERR_SQL, buf, sizeof(buf), NULL, 0) != 0 ||
	    vd_parse_int(buf, 0, 4294967295LL, &v) != 0)
		return -1;
	return v;
}

/*
 * Fills lg with the passwords to log in with, in the order a repair tries
 * them on each host: resolving a pending version, that one first (it may be
 * in force), then current (an abandon: current, then the pending one, whose
 * login would show it is held); then the older versions prep() loaded,
 * newest first.  Returns how many; *first_old is the index of the first
 * older one.
 */
static size_t
logins(const struct vd_apply *a, struct login *lg, size_t *first_old)
{
	size_t n = 0;

	/*
	 * A resolution tries the pending password first: after a crash past
	 * the apply (the common case) it is in force, and trying the current
	 * one first would cost a refused login (max_password_errors).
	 */
	if (a->mode == VD_APPLY_RESOLVE) {
		lg[n].v = a->new_v;
		lg[n++].pw = a->new_pw;
	}
	lg[n].v = a->cur_v;
	lg[n++].pw = a->cur_pw;
	if (a->mode == VD_APPLY_ABANDON) {
		lg[n].v = a->new_v;
		lg[n++].pw = a->new_pw;
	}
	*first_old = n;
	for (size_t i = 0; i < a->nold; i++) {
		lg[n].v = a->old_v[i];
		lg[n++].pw = a->old_pw[i];
	}
	return n;
}

/*
 * Opens a session as the target on account host `host` by that host's
 * route (NULL: on the target's own path, whatever account it matches),
 * trying lg[0..n) in order except lg[skip]; `fails` counts the refusals
 * this account already had in this run.  Older versions (index first_old
 * on) are tried only while those refusals stay below half the account's
 * pwerr_max, so that neither this run nor the next can block it.  Each
 * password is tried once.  On success *c owns the session and *used is
 * the login's index.  Returns as vd_drv_connect_host(), VD_EAUTH when
 * every password tried was refused (a->capped set when the limit left
 * some untried); the reason is in a->err.
 */
static int
open_as(struct vd_apply *a, const struct vd_dbtarget *t, const char *host,
    const struct login *lg, size_t n, size_t first_old, size_t skip,
    long long fails, struct vd_drv_conn **c, size_t *used)
{
	int r = VD_EAUTH;

	for (size_t i = 0; i < n; i++) {
		if (i == skip)
			continue;
		if (i >= first_old && a->pwerr_max > 0 &&
		    a->prior_fails + fails >= a->pwerr_max / 2) {
			a->capped = 1;
			break;
		}
		if (host == NULL)
			r = vd_drv_connect(t, NULL, lg[i].pw, c, a->err,
			    sizeof(a->err));
		else
			r = vd_drv_connect_host(t, host, lg[i].pw, c, a->err,
			    sizeof(a->err));
		if (r != VD_EAUTH) {
			*used = i;
			return r;
		}
		fails++;
		a->auth_fails++;
	}
	return VD_EAUTH;
}

/*
 * Writes why the target's own login failed on host (NULL: its path) to
 * a->err: the vault's password is refused, and what a repair tried.
 */
static void
refused(struct vd_apply *a, const char *host)
{
	char where[140];

	if (host != NULL)
		snprintf(where, sizeof(where), "%.64s@%.60s", a->user, host);
	else
		snprintf(where, sizeof(where), "%.64s", a->user);
	snprintf(a->err, sizeof(a->err), "the vault's password for %s is "
	    "refused by the server (changed outside vaultd?)%s", where,
	    a->nold == 0 ? "" : a->capped ? "; older versions left untried: "
	    "the server blocks the account after a few failed logins "
	    "(max_password_errors)" : "; no kept older version logs in");
}

/*
 * Writes to a->note which older version each host held (held[i], 0: none
 * or not known), one group per version: "server held version 3 on
 * localhost,127.0.0.1 (restored backup?)".  Never a password.
 */
static void
held_note(struct vd_apply *a, char *const *hosts, const uint64_t *held, size_t n)
{
	char *p = a->note;
	size_t sz = sizeof(a->note), len;

	p[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t k;

		for (k = 0; k < i && held[i] != 0; k++)
			if (held[k] == held[i])
				break;
		if (held[i] == 0 || k < i)
			continue;	/* none, or its group is written */
		len = strlen(p);
		snprintf(p + len, sz - len, "%sversion %llu on %s", len ?
		    "; " : "server held ", (unsigned long long)held[i],
		    hosts[i]);
		for (k = i + 1; k < n; k++) {
			len = strlen(p);
			if (held[k] == held[i])
				snprintf(p + len, sz - len, ",%s", hosts[k]);
		}
	}
	len = strlen(p);
	if (len > 0)
		snprintf(p + len, sz - len, " (restored backup?)");
}

/*
 * Whether user@host holds pw by its stored hash, read through c (no
 * login): 1 or 0, -1 when it cannot tell (no session, no privilege, a
 * plugin not known).
 */
static int
holds(struct vd_drv_conn *c, const char *user, const char *host,
    const struct vd_secret *pw)
{
	int h = 0;

	if (c == NULL || vd_drv_holds(c, user, host, pw, &h) != 0)
		return -1;
	return h;
}

/*
 * After a change: the old password must be refused on every row.  Shown
 * by the stored hashes (a login with it would count toward
 * max_password_errors); a row that still holds it, e.g. an account with a
 * second password method that was not changed, is named in a->note (the
 * history entry).  oldh[i] (i < VD_APPLY_MAX_HOSTS) is what the verify
 * probe of hosts[i] read through its own session after the change (1 or
 * 0; -1: no probe told); only the other rows are read through c (issue
 * 18: one round trip per row fewer).  Rows whose hashes cannot be read
 * are not claimed.
 */
static void
old_refused(struct vd_apply *a, struct vd_drv_conn *c, char *const *hosts,
    size_t n, const int *oldh)
{
	size_t len = strlen(a->note);

	if (a->cur_pw == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		int h;

		if (hosts[i][0] == '\0')
			continue;
		h = i < VD_APPLY_MAX_HOSTS && oldh[i] >= 0 ? oldh[i] :
		    holds(c, a->user, hosts[i], a->cur_pw);
		if (h != 1)
			continue;
		snprintf(a->note + len, sizeof(a->note) - len, "%s%s",
		    len ? (strstr(a->note, "old password") ? "," :
		    "; old password still accepted on ") :
		    "old password still accepted on ", hosts[i]);
		len = strlen(a->note);
	}
}

/*
 * ABANDON: the pending password a->new_pw must be held by no row of the
 * account, shown by each row's stored hash through c, or, where it cannot
 * be read, by a login that the server refuses.  Sets a->out.
 */
static void
held_nowhere(struct vd_apply *a, struct vd_drv_conn *c,
    const struct vd_dbtarget *t, char *const *hosts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int h = holds(c, a->user, hosts[i], a->new_pw), r;

		if (h < 0) {
			r = vd_drv_probe(t, hosts[i], a->new_pw, NULL, 0);
			a->auth_fails += r == VD_EAUTH;
			h = r == VD_EAUTH ? 0 : r == 0 ? 1 : -1;
		}
		add_summary(a, hosts[i], h == 0 ? "not-held" : h == 1 ?
		    "holds" : "unknown");
		if (h != 0) {
			a->out = VD_OUT_REFUSED;
			snprintf(a->err, sizeof(a->err), "%.64s@%.60s %s the "
			    "pending version: it %s in force; resolve it "
			    "(vaultctl rotate) or hand in the password in force "
			    "(target set-password)", a->user, hosts[i], h == 1 ?
			    "holds" : "cannot be shown not to hold", h == 1 ?
			    "is" : "may be");
			return;
		}
	}
	a->out = VD_OUT_OK;
}

/* See apply.h. */
void
vd_apply_run(struct vd_apply *a)
{
	struct vd_dbtarget t;
	struct vd_drv_conn *c = NULL;
	struct login lg[2 + VD_KEEP_VERSIONS];
	uint64_t held[VD_APPLY_MAX_HOSTS];
	int oldh[VD_APPLY_MAX_HOSTS];	/* old_refused()'s probe answers */
	char **found = NULL, **hosts = a->hosts;
	char self[2 * VD_NAME_MAX + 300], *at;
	const char *self_host = NULL, *main_host;
	size_t nfound = 0, n = a->nhosts, nlg, first_old, main_used = 0;
	int r, applied = 0, verified = 0, main_ok = 0;
	struct vd_secret *probe_pw = a->mode == VD_APPLY_CHECK ? a->cur_pw :
	    a->new_pw;

	dbtarget(a, &t);
	a->err[0] = '\0';
	a->summary[0] = '\0';
	memset(held, 0, sizeof(held));
	for (size_t i = 0; i < VD_APPLY_MAX_HOSTS; i++)
		oldh[i] = -1;
	nlg = logins(a, lg, &first_old);

	/*
	 * 1. Connect: the admin account, or the target itself with the
	 * first password that logs in (a pending version may already be in
	 * force on this path; after a restore, an older one).
	 */
	if (a->admin_user != NULL)
		r = vd_drv_connect(&t, a->admin_user, a->admin_pw, &c, a->err,
		    sizeof(a->err));
	else
		r = open_as(a, &t, NULL, lg, nlg, first_old, SIZE_MAX, 0, &c,
		    &main_used);
	if (r == VD_EAUTH) {
		a->out = VD_OUT_DRIFT;
		if (a->admin_user != NULL)
			snprintf(a->err, sizeof(a->err), "the admin account "
			    "%s is refused by the server", a->admin_user);
		else
			refused(a, NULL);
		goto out;
	}
	if (r != 0) {
		a->out = VD_OUT_UNREACHABLE;
		goto out;
	}
	if (a->admin_user == NULL && main_used >= first_old)
		a->repaired = 1;

	/*
	 * What the server's limit on failed logins is for this account: a
	 * check keeps it for the repairs to come, a repair caps its tries on
	 * the other hosts with it.
	 */
	if (a->admin_user == NULL && (a->mode == VD_APPLY_CHECK || a->nold > 0)) {
		long long lim = pwerr_limit(c);

		if (lim >= 0) {
			a->pwerr_max = lim;
			a->pwerr_read = 1;
		}
	}

	if (a->skip_log_off)
		vd_drv_log_off_skip(c);

	/*
	 * A replica takes its primary's changes to mysql.user: a password
	 * set here directly would be overwritten (or break replication).
	 * Not known (no privilege to read the replica status): go on, and
	 * do not ask again for this target (a->role_denied).
	 */
	if (a->mode == VD_APPLY_NEW && !a->skip_role) {
		char primary[300];
		int replica = 0, rr;

		rr = vd_drv_role(c, NULL, &replica, primary, sizeof(primary));
		if (rr == VD_EDB)
			a->role_denied = 1;
		else if (replica) {
			a->out = VD_OUT_REFUSED;
			snprintf(a->err, sizeof(a->err), "the server is a "
			    "replica of %.200s: its primary's password changes "
			    "reach it; rotate the primary's target instead "
			    "(target add --replica-of)", primary);
			goto out;
		}
	}

	/* 2. The account's hosts: configured, or discovered. */
	if (n == 0) {
		r = vd_drv_account_hosts(c, a->user, &found, &nfound, a->err,
		    sizeof(a->err));
		if (r != 0) {
			a->out = VD_OUT_UNREACHABLE;
			goto out;
		}
		if (nfound == 0) {
			a->out = VD_OUT_REFUSED;
			snprintf(a->err, sizeof(a->err), "no account named %s "
			    "on the server", a->user);
			goto out;
		}
		hosts = found;
		n = nfound;
	}
	if (needs_port(hosts, n))
		vd_drv_learn_port(c, &t);	/* loopback probes need it */

	/* The account the main session matched ("user@host"). */
	if (a->admin_user == NULL && vd_drv_current_user(c, self, sizeof(self),
	    NULL, 0) == 0 && (at = strrchr(self, '@')) != NULL)
		self_host = at + 1;

	if (a->mode == VD_APPLY_ABANDON) {
		if (a->admin_user == NULL && lg[main_used].v == a->new_v) {
			/* The main session logged in with it. */
			a->out = VD_OUT_REFUSED;
			snprintf(a->err, sizeof(a->err), "%.64s holds the "
			    "pending version (it logs in): it is in force; "
			    "resolve it (vaultctl rotate)", a->user);
			goto out;
		}
		held_nowhere(a, c, &t, hosts, n);
		goto out;
	}

	/* 3. Apply (not for a check). */
	for (size_t i = 0; a->mode != VD_APPLY_CHECK && i < n; i++) {
		struct vd_drv_conn *hc = NULL, *use = c;
		int own = self_host != NULL && strcasecmp(self_host, hosts[i])
		    == 0;
		size_t used = main_used, skip = SIZE_MAX;
		long long fails = 0;

		if (a->mode == VD_APPLY_RESOLVE) {
			/*
			 * Already in force there?  The main session answers
			 * for its own account (one login fewer).
			 */
			if (own)
				r = lg[main_used].v == a->new_v ? 0 : VD_EAUTH;
			else
				r = vd_drv_probe(&t, hosts[i], a->new_pw, NULL,
				    0);
			if (r == 0 || ((r == VD_DRV_UNREACHABLE ||
			    r == VD_DRV_UNPROVEN) && holds(c, a->user,
			    hosts[i], a->new_pw) == 1)) {
				/*
				 * In force there (by a login, or by its
				 * stored hash where no login reaches): never
				 * set again (password_reuse_check and
				 * password history would refuse it).
				 */
				applied = 1;
				continue;
			}
			skip = 0;	/* lg[0], the pending one: refused */
			fails = r == VD_EAUTH;
			a->auth_fails += r == VD_EAUTH;
		}
		/*
		 * Self-rotation changes each account through a session of
		 * that very account: changing another account, even of the
		 * same user name, needs privileges on the mysql database.  A
		 * host that cannot be reached from here falls back to the
		 * main session (enough for a privileged account like root).
		 */
		if (a->admin_user == NULL && !own) {
			r = open_as(a, &t, hosts[i], lg, nlg, first_old, skip,
			    fails, &hc, &used);
			if (r == 0)
				use = hc;
			else if (r == VD_EAUTH) {
				refused(a, hosts[i]);
				a->out = applied || a->mode == VD_APPLY_RESOLVE ?
				    VD_OUT_UNCERTAIN : VD_OUT_DRIFT;
				goto out;
			} else if (r != VD_DRV_UNREACHABLE) {
				a->out = applied || a->mode == VD_APPLY_RESOLVE ?
				    VD_OUT_UNCERTAIN : VD_OUT_UNREACHABLE;
				goto out;
			} else
				used = SIZE_MAX;	/* not known */
		}
		if (a->admin_user == NULL && used != SIZE_MAX &&
		    used >= first_old) {
			if (i < VD_APPLY_MAX_HOSTS)
				held[i] = lg[used].v;
			a->repaired = 1;
		}
		r = vd_drv_set_password(use, a->user, hosts[i], a->new_pw,
		    a->err, sizeof(a->err));
		if (r == VD_EPOLICY && a->mode == VD_APPLY_RESOLVE &&
		    holds(use, a->user, hosts[i], a->new_pw) == 1) {
			/* Refused as a reuse: it is the one in force. */
			r = 0;
			a->err[0] = '\0';
		}
		vd_drv_close(hc);
		if (r == VD_ENOTFOUND && a->nhosts == 0) {
			/*
			 * A discovered row the server does not use (a host
			 * name under skip-name-resolve): nobody can log in
			 * through it, so there is nothing to change.
			 */
			add_summary(a, hosts[i], "inactive");
			hosts[i][0] = '\0';
			if (i < VD_APPLY_MAX_HOSTS)
				held[i] = 0;
			a->err[0] = '\0';
			continue;
		}
		if (r != 0) {
			char reason[VD_DRV_ERRLEN];

			snprintf(reason, sizeof(reason), "%s", a->err);
			snprintf(a->err, sizeof(a->err), "%.64s@%.60s: %.300s",
			    a->user, hosts[i], reason);
			/*
			 * A refused statement changed nothing; a timeout may
			 * have; earlier hosts did change.
			 */
			a->out = (applied || a->mode == VD_APPLY_RESOLVE ||
			    r == VD_ETIMEDOUT) ? VD_OUT_UNCERTAIN : VD_OUT_REFUSED;
			goto out;
		}
		applied = 1;
	}

	/* 4. Verify with fresh logins, host by host. */
	main_host = t.unix_socket != NULL ? "localhost" : t.host;
	for (size_t i = 0; i < n; i++) {
		char perr[VD_DRV_ERRLEN];

		if (hosts[i][0] == '\0')
			continue;	/* inactive, see above */
		/*
		 * After a change, the probe also tells whether the row still
		 * holds the old password (old_refused()), from what it read.
		 */
		r = vd_drv_probe_old(&t, hosts[i], probe_pw, a->mode !=
		    VD_APPLY_CHECK && i < VD_APPLY_MAX_HOSTS ? a->cur_pw : NULL,
		    i < VD_APPLY_MAX_HOSTS ? &oldh[i] : NULL, perr, sizeof(perr));
		if (r == 0) {
			verified++;
			/* The probe took the path vault users take. */
			if (main_host != NULL &&
			    strcasecmp(hosts[i], main_host) == 0)
				main_ok = 1;
			add_summary(a, hosts[i], "ok");
		} else if (r == VD_DRV_UNREACHABLE || r == VD_DRV_UNPROVEN) {
			/*
			 * No login proves it from here: the row's stored hash,
			 * read through the main session, can.  A row that
			 * does not hold the password is an error like a
			 * refused login (without counting as one).
			 */
			int h = holds(c, a->user, hosts[i], probe_pw);

			if (h == 0) {
				add_summary(a, hosts[i], "not-held");
				snprintf(a->err, sizeof(a->err), "verify "
				    "%.64s@%.60s: the account does not hold the "
				    "password (checked through the server: no "
				    "login reaches it from here)", a->user,
				    hosts[i]);
				a->out = a->mode == VD_APPLY_CHECK ?
				    VD_OUT_DRIFT : VD_OUT_UNCERTAIN;
				goto out;
			}
			add_summary(a, hosts[i], h == 1 ? "held" :
			    "unverified");
		} else {
			a->auth_fails += r == VD_EAUTH;
			add_summary(a, hosts[i], r == VD_EAUTH ? "refused" :
			    "error");
			snprintf(a->err, sizeof(a->err), "verify %.64s@%.60s: %.300s",
			    a->user, hosts[i], perr);
			a->out = a->mode == VD_APPLY_CHECK && r == VD_EAUTH ?
			    VD_OUT_DRIFT : VD_OUT_UNCERTAIN;
			goto out;
		}
	}
	/* The path vault users take must work too (unless a probe took it). */
	if (!main_ok && (r = vd_drv_login(&t, NULL, probe_pw, a->err,
	    sizeof(a->err))) != 0) {
		if (r == VD_DRV_UNPROVEN)
			snprintf(a->err, sizeof(a->err), "verify %.64s: the "
			    "login succeeded without proving the password (an "
			    "authentication method that needs none)", a->user);
		a->auth_fails += r == VD_EAUTH;
		a->out = a->mode == VD_APPLY_CHECK && r == VD_EAUTH ? VD_OUT_DRIFT :
		    VD_OUT_UNCERTAIN;
		goto out;
	}
	(void)verified;
	a->out = VD_OUT_OK;
	a->err[0] = '\0';
 out:
	held_note(a, hosts, held, n < VD_APPLY_MAX_HOSTS ? n :
	    VD_APPLY_MAX_HOSTS);
	/* An abandon keeps the current password: it is no "old" one. */
	if (a->out == VD_OUT_OK && a->mode != VD_APPLY_CHECK &&
	    a->mode != VD_APPLY_ABANDON)
		old_refused(a, c, hosts, n, oldh);
	a->log_off_denied = c != NULL && vd_drv_log_off_refused(c);
	vd_drv_hosts_free(found, nfound);
	vd_drv_close(c);
}

/* See apply.h. */
const char *
vd_apply_row_name(enum vd_row_result res)
{
	switch (res) {
	case VD_ROW_OK:
		return "ok";
	case VD_ROW_UNREACHABLE:
		return "unreachable";
	case VD_ROW_REFUSED:
		return "refused";
	case VD_ROW_NOPRIV:
		return "no-privilege";
	case VD_ROW_ERROR:
		break;
	}
	return "error";
}

/*
 * The pre-flight of one row h (vd_apply_verify()): a fresh login with pw
 * by h's route and, with a->privs, whether the session a rotation would
 * use may change it: the admin account's (c), else the row's own login,
 * else (no login reaches it from here) the target's route's (c).  Fills
 * row; returns the row's error code (0 for ok and unreachable).
 */
static int
verify_row(struct vd_apply *a, const struct vd_dbtarget *t,
    struct vd_drv_conn *c, const char *h, const struct vd_secret *pw,
    struct vd_apply_row *row)
{
	struct vd_drv_conn *hc = NULL, *changer;
	char why[VD_APPLY_ERRLEN];
	int r, m;

	row->why[0] = '\0';
	r = vd_drv_connect_host(t, h, pw, &hc, row->why, sizeof(row->why));
	if (r == VD_EAUTH) {
		row->res = VD_ROW_REFUSED;
		snprintf(row->why, sizeof(row->why), "the server refused this "
		    "password");
		goto out;
	}
	if (r < 0) {
		row->res = VD_ROW_ERROR;
		goto out;
	}
	if (r == VD_DRV_UNPROVEN)
		snprintf(row->why, sizeof(row->why), "the login succeeded "
		    "without proving the password (an authentication method "
		    "that needs none)");
	row->res = r == 0 ? VD_ROW_OK : VD_ROW_UNREACHABLE;
	r = 0;
	changer = a->admin_user != NULL || hc == NULL ? c : hc;
	if (!a->privs || changer == NULL)
		goto out;
	m = vd_drv_may_set_password(changer, t->user, h, why, sizeof(why));
	if (m == VD_ENOTFOUND && a->nhosts == 0 &&
	    row->res == VD_ROW_UNREACHABLE) {
		/*
		 * A discovered row the server does not use (a host name under
		 * skip-name-resolve): a rotation skips it ("inactive").
		 */
		snprintf(row->why, sizeof(row->why), "the server does not use "
		    "this row (a host name under skip-name-resolve?): nothing "
		    "to change");
		goto out;
	}
	if (m == VD_DRV_NOPRIV || m < 0) {
		size_t n = strlen(row->why);

		/* An unreachable row keeps why it is, then this. */
		snprintf(row->why + n, sizeof(row->why) - n, "%s%s",
		    n ? "; and " : "", why);
		row->res = m == VD_DRV_NOPRIV ? VD_ROW_NOPRIV : VD_ROW_ERROR;
		r = m == VD_DRV_NOPRIV ? VD_EDB : m;
	}
 out:
	vd_drv_close(hc);
	return r;
}

/* See apply.h. */
int
vd_apply_verify(struct vd_apply *a, const struct vd_secret *pw)
{
	struct vd_dbtarget t;
	struct vd_drv_conn *c = NULL;
	const char *admin = a->admin_user, *main_host, *h;
	char **found = NULL, perr[VD_DRV_ERRLEN];
	size_t nfound = 0, n, i, bad = 0, first = SIZE_MAX;
	int r, main_ok, rr;

	dbtarget(a, &t);
	main_host = t.unix_socket != NULL ? "localhost" : t.host;
	a->err[0] = '\0';
	a->summary[0] = '\0';
	for (i = 0; i < a->nrows; i++)
		free(a->rows[i].host);
	free(a->rows);
	a->rows = NULL;
	a->nrows = 0;
	r = vd_drv_connect(&t, admin, admin != NULL ? a->admin_pw : pw, &c,
	    perr, sizeof(perr));
	if (r == VD_EAUTH && admin != NULL) {
		r = VD_EDB;
		snprintf(a->err, sizeof(a->err), "the admin account %.80s is "
		    "refused by the server", admin);
		goto out;
	}
	if (r == VD_EAUTH) {
		snprintf(a->err, sizeof(a->err), "%.80s@%.200s: the server "
		    "refused this password", t.user, main_host);
		goto out;
	}
	if (r != 0) {
		snprintf(a->err, sizeof(a->err), "cannot reach the server: "
		    "%.400s", perr);
		goto out;
	}
	main_ok = admin == NULL;	/* that login took the main path */

	a->auth_learned = NULL;
	a->admin_auth_learned = admin != NULL ? learn_own_auth(c) : NULL;
	if (a->nhosts > 0) {
		n = a->nhosts;
		a->auth_learned = learn_auth(c, t.user, a->hosts, n);
	} else {
		if ((r = vd_drv_account_hosts(c, t.user, &found, &nfound, perr,
		    sizeof(perr))) != 0) {
			snprintf(a->err, sizeof(a->err), "cannot list the "
			    "hosts of %.80s: %.300s", t.user, perr);
			goto out;
		}
		if ((n = nfound) == 0) {
			r = VD_EDB;
			snprintf(a->err, sizeof(a->err), "no account named "
			    "%.80s on the server", t.user);
			goto out;
		}
		a->auth_learned = learn_auth(c, t.user, found, n);
	}
	if (needs_port(found != NULL ? found : a->hosts, n))
		vd_drv_learn_port(c, &t);	/* loopback probes need it */
	/* The privilege checks need the session; others only a login. */
	if (!a->privs) {
		vd_drv_close(c);
		c = NULL;
	}
	if ((a->rows = calloc(n, sizeof(*a->rows))) == NULL) {
		r = VD_ENOMEM;
		snprintf(a->err, sizeof(a->err), "out of memory");
		goto out;
	}
	/* Every row, whatever the others gave: the report lists them all. */
	r = 0;
	for (i = 0; i < n; i++) {
		struct vd_apply_row *row = &a->rows[i];

		h = found != NULL ? found[i] : a->hosts[i];
		if ((row->host = strdup(h)) == NULL) {
			r = VD_ENOMEM;
			snprintf(a->err, sizeof(a->err), "out of memory");
			goto out;
		}
		a->nrows = i + 1;
		rr = verify_row(a, &t, c, h, pw, row);
		add_summary(a, h, row->res == VD_ROW_UNREACHABLE ?
		    "unverified" : vd_apply_row_name(row->res));
		if (row->res == VD_ROW_OK && main_host != NULL &&
		    strcasecmp(h, main_host) == 0)
			main_ok = 1;
		if (rr == 0)
			continue;
		bad++;
		/* A refused password outranks the rest (VD_EAUTH). */
		if (first == SIZE_MAX || (row->res == VD_ROW_REFUSED &&
		    a->rows[first].res != VD_ROW_REFUSED)) {
			first = i;
			r = rr;
		}
	}
	if (first != SIZE_MAX) {
		snprintf(a->err, sizeof(a->err), "%.60s@%.60s: %s: %.160s; "
		    "%zu of %zu account rows not ready (%.120s)", t.user,
		    a->rows[first].host, vd_apply_row_name(a->rows[first].res),
		    a->rows[first].why, bad, n, a->summary);
		goto out;
	}
	/* The path vault users take must work too (unless a probe took it). */
	if (!main_ok && (r = vd_drv_login(&t, NULL, pw, perr,
	    sizeof(perr))) != 0) {
		if (r == VD_EAUTH)
			snprintf(perr, sizeof(perr), "the server refused this "
			    "password");
		else if (r == VD_DRV_UNPROVEN) {
			r = VD_EAUTH;
			snprintf(perr, sizeof(perr), "the login succeeded "
			    "without proving the password (an authentication "
			    "method that needs none)");
		} else if (r == VD_DRV_UNREACHABLE)
			r = VD_EUNREACH;
		snprintf(a->err, sizeof(a->err), "%.80s through %.100s: "
		    "%.300s", t.user, t.unix_socket ? t.unix_socket : t.host,
		    perr);
		goto out;
	}
	r = 0;
 out:
	vd_drv_hosts_free(found, nfound);
	vd_drv_close(c);
	return r;
}

/* See apply.h. */
int
vd_apply_server_id(struct vd_apply *a, const struct vd_secret *pw,
    char *out, size_t len)
{
	struct vd_dbtarget t;
	struct vd_drv_conn *c = NULL;
	int admin = a->admin_user != NULL && a->admin_pw != NULL, r;

	out[0] = '\0';
	dbtarget(a, &t);
	if ((r = vd_drv_connect(&t, admin ? a->admin_user : NULL, admin ?
	    a->admin_pw : pw, &c, NULL, 0)) == 0 &&
	    (r = vd_drv_query1(c, "SELECT CONCAT_WS(':', @@hostname, @@port, "
	    "@@datadir)", out, len, NULL, 0)) != 0)
		out[0] = '\0';
	vd_drv_close(c);
	return r;
}

/* See apply.h. */
int
vd_apply_set_target(struct vd_apply *a, const struct vd_target *t,
    unsigned timeout)
{
	if ((t->host != NULL && (a->host = strdup(t->host)) == NULL) ||
	    (t->unix_socket != NULL && (a->sock = strdup(t->unix_socket)) ==
	    NULL) ||
	    (a->user = strdup(t->user)) == NULL ||
	    (t->admin_user != NULL && (a->admin_user = strdup(t->admin_user))
	    == NULL) ||
	    (t->tls_ca != NULL && (a->tls_ca = strdup(t->tls_ca)) == NULL) ||
	    (t->auth != NULL && (a->auth = strdup(t->auth)) == NULL) ||
	    (t->admin_auth != NULL && (a->admin_auth = strdup(t->admin_auth))
	    == NULL))
		return VD_ENOMEM;
	a->port = t->port;
	a->tls = t->tls;
	a->timeout = timeout;
	for (size_t i = 0; i < t->nhosts && i < VD_APPLY_MAX_HOSTS; i++) {
		if ((a->hosts[i] = strdup(t->hosts[i])) == NULL)
			return VD_ENOMEM;
		a->nhosts = i + 1;
	}
	return 0;
}

/* See apply.h. */
int
vd_apply_from_target(struct vd_apply *a, const char *name,
    const json_t *target, unsigned timeout)
{
	struct vd_target t;
	int r;

	if ((r = vd_target_decode(target, name, &t)) != 0)
		return r;
	return vd_apply_set_target(a, &t, timeout);
}

/* See apply.h. */
int
vd_apply_init(void)
{
	return vd_drv_init();
}

/* See apply.h. */
int
vd_apply_login(struct vd_apply *a, const char *user,
    const struct vd_secret *pw)
{
	struct vd_dbtarget t;
	int r;

	dbtarget(a, &t);
	r = vd_drv_login(&t, user, pw, a->err, sizeof(a->err));
	if (r == VD_DRV_UNPROVEN) {
		/*
		 * In as the account, but by a method that needs no password
		 * (unix_socket for vaultd's own OS user …): the password
		 * itself is not proven, so it is not taken.
		 */
		snprintf(a->err, sizeof(a->err), "%.80s: the login succeeded "
		    "without proving the password (an authentication method "
		    "that needs none); connect over a route where the "
		    "password is the only way in (e.g. TCP)", user ? user :
		    a->user);
		return VD_EAUTH;
	}
	if (r == VD_DRV_UNREACHABLE)
		return VD_EUNREACH;	/* reason in a->err */
	return r;
}

/* See apply.h. */
void
vd_apply_clear(struct vd_apply *a)
{
	free(a->host);
	free(a->sock);
	free(a->user);
	free(a->admin_user);
	free(a->tls_ca);
	free(a->auth);
	free(a->admin_auth);
	for (size_t i = 0; i < a->nhosts; i++)
		free(a->hosts[i]);
	vd_secret_free(a->cur_pw);
	vd_secret_free(a->new_pw);
	vd_secret_free(a->admin_pw);
	for (size_t i = 0; i < a->nold; i++)
		vd_secret_free(a->old_pw[i]);
	for (size_t i = 0; i < a->nrows; i++)
		free(a->rows[i].host);
	free(a->rows);
	memset(a, 0, sizeof(*a));
	a->pwerr_max = -1;
}
