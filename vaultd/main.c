/*
 * main.c - vaultd: the daemon.  `vaultd --config FILE` runs in the
 * foreground and logs to stderr with syslog priority prefixes.
 *
 * Start-up: read the config, lock the data directory (one vaultd per data
 * directory), open the vault; a key-file vault is unlocked
 * now, a passphrase vault stays sealed until `vaultctl unseal`.  Then serve
 * the socket until SIGTERM/SIGINT (stop accepting, finish what is in
 * flight, close the store, exit 0).  SIGHUP re-reads the config; a bad new
 * config is refused and the old one kept.  systemd hears of each step
 * through sd_notify (notify.h): READY, RELOADING/READY, STOPPING, STATUS.
 *
 * `vaultd --check-config FILE` runs the start-up checks that need neither
 * the vault nor the socket (the file, its policies, the key file's mode and
 * size, the escrow parties' public keys) and exits.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "api.h"
#include "config.h"
#include "daemon.h"
#include "err.h"
#include "escrow.h"
#include "harden.h"
#include "headlog.h"
#include "log.h"
#include "mem.h"
#include "notify.h"
#include "proto.h"
#include "rotate.h"
#include "server.h"
#include "store.h"
#include "util.h"
#include "vverify.h"

/* Exit status of a start-up refused on a damaged vault (vaultd(8)). */
#define VD_EXIT_DAMAGED	3

static void
usage(FILE *f)
{
	fprintf(f, "usage: vaultd --config FILE [--debug]\n"
	    "       vaultd --check-config FILE\n"
	    "       vaultd --version\n");
}

static void
log_err(const char *what, int r)
{
	char buf[768];

	vd_log(LOG_ERR, "%s: %s", what, vd_err_format(r, buf, sizeof(buf)));
}

/* Logs a start-up failure and shows it in `systemctl status`. */
static void
startup_failed(const char *what, int r)
{
	char buf[768];

	vd_err_format(r, buf, sizeof(buf));
	vd_log(LOG_ERR, "%s: %s", what, buf);
	vd_notify_status("start-up failed: %s: %s", what, buf);
}

/*
 * --check-config: what start-up checks besides the file itself, without
 * opening the vault: the key file (mode, size; loaded and wiped at once)
 * and the escrow parties' public keys.  Prints the first problem on stderr.
 * Returns 0 or a negative error.
 */
static int
check_config(const struct vd_config *cfg)
{
	struct vd_escrow_cfg *ec = NULL;
	struct vd_secret *key = NULL;
	int r;

	vd_err_clear();
	if (cfg->key_file != NULL &&
	    (r = vd_keyfile_load(cfg->key_file, &key)) != 0) {
		fprintf(stderr, "vaultd: %s: [vault] key_file: %s\n", cfg->path,
		    vd_err_detail()[0] ? vd_err_detail() : vd_strerror(r));
		return r;
	}
	vd_secret_free(key);
	vd_err_clear();
	if ((r = vd_escrow_cfg_from_json(cfg->escrow, &ec)) != 0) {
		fprintf(stderr, "vaultd: %s: [escrow]: %s\n", cfg->path,
		    vd_err_detail()[0] ? vd_err_detail() : vd_strerror(r));
		return r;
	}
	vd_escrow_cfg_free(ec);
	return 0;
}

/*
 * Checks cfg's [escrow] section: parties' .pub files (owner, mode, no link)
 * and their pinned key ids.  A config whose escrow would not load is
 * refused as a whole, at start-up and on SIGHUP, so a replaced key file
 * never quietly turns escrow off.  Returns 0 or VD_EINVAL / VD_ECONFIG
 * with the detail prefixed by "[escrow]".
 */
static int
escrow_valid(const struct vd_config *cfg)
{
	struct vd_escrow_cfg *ec = NULL;
	char d[600];
	int r;

	if ((r = vd_escrow_cfg_from_json(cfg->escrow, &ec)) == 0) {
		vd_escrow_cfg_free(ec);
		return 0;
	}
	snprintf(d, sizeof(d), "%s", vd_err_detail());
	return vd_err_set(r, "[escrow]: %s", d);
}

/* Re-reads the configuration (SIGHUP).  Returns 0 or a negative error. */
static int
reload(struct vd_daemon *d)
{
	struct vd_config *cfg = NULL;
	char buf[768];
	int r;

	vd_err_clear();
	if ((r = vd_harden_check_file(d->cfg->path, "config file")) != 0 ||
	    (r = vd_config_load(d->cfg->path, &cfg)) != 0 ||
	    (r = escrow_valid(cfg)) != 0) {
		vd_config_free(cfg);
		vd_err_format(r, buf, sizeof(buf));
		vd_log(LOG_ERR, "SIGHUP: new configuration refused, keeping "
		    "the old one: %s", buf);
		if (vd_api_audit_event(d, "config.reload", "refused", buf) != 0)
			vd_log(LOG_WARNING, "config.reload not audited "
			    "(sealed or audit failed)");
		return r;
	}
	if (strcmp(cfg->data_dir, d->cfg->data_dir) != 0 ||
	    strcmp(cfg->socket, d->cfg->socket) != 0 ||
	    (cfg->key_file == NULL) != (d->cfg->key_file == NULL) ||
	    (cfg->key_file != NULL && strcmp(cfg->key_file,
	    d->cfg->key_file) != 0))
		vd_log(LOG_WARNING, "SIGHUP: data_dir, key_file and socket "
		    "changes take effect at the next start");
	if (vd_api_audit_event(d, "config.reload", "ok", NULL) != 0)
		vd_log(LOG_WARNING, "config.reload not audited (sealed or "
		    "audit failed)");
	/* Requests hold no pointer into the config across callbacks. */
	vd_config_free(d->cfg);
	d->cfg = cfg;
	vd_log(LOG_NOTICE, "configuration reloaded from %s", cfg->path);
	/* Escrow parties may have changed; the engine logs its own errors. */
	if ((r = vd_rotate_reload(d)) != 0)
		vd_log(LOG_WARNING, "SIGHUP: the rotation engine keeps its "
		    "previous escrow configuration");
	return 0;
}

/* The STATUS= text for systemd once vaultd serves. */
static void
notify_ready(struct vd_daemon *d)
{
	if (vd_store_unlocked(d->st))
		vd_notify_ready("vault unlocked, serving");
	else
		vd_notify_ready("vault sealed: waiting for vaultctl unseal");
}

static void
signal_cb(uv_signal_t *h, int signum)
{
	struct vd_daemon *d = h->data;
	int refused;

	if (signum == SIGHUP) {
		vd_notify_reloading();
		refused = reload(d) != 0;
		vd_notify_ready(NULL);
		if (refused)
			vd_notify_status("configuration reload refused, the "
			    "previous one kept: see the log");
		return;
	}
	if (d->stopping)
		return;
	d->stopping = 1;
	vd_notify_stopping();
	vd_log(LOG_NOTICE, "%s: stopping (%u jobs and %zu connections to "
	    "finish)", signum == SIGTERM ? "SIGTERM" : "SIGINT", d->inflight,
	    d->nconns);
	vd_rotate_stop(d);
	vd_api_stop(d);
	vd_server_stop(d);
	vd_headlog_close(d);
	for (size_t i = 0; i < VD_NELEM(d->sig); i++)
		uv_close((uv_handle_t *)&d->sig[i], NULL);
}

/*
 * One writer per data directory: the lock is taken before anything reads
 * the key or the vault or touches the socket, so a second vaultd refuses
 * before it could prompt for, read or use a key, or unlink the first one's
 * socket.  The descriptor stays open (across the privilege drop) until
 * exit; the kernel releases the lock when the process dies.
 */
static int
lock_data_dir(const struct vd_config *cfg, int *fd)
{
	char buf[768];
	int r;

	vd_err_clear();
	if ((r = vd_store_lock_dir(cfg->data_dir, fd)) == 0)
		return 0;
	if (r == VD_EBUSY) {
		/* The detail is the whole story: who holds it, and the rule. */
		vd_log(LOG_ERR, "%s", vd_err_detail());
		vd_notify_status("start-up failed: %s", vd_err_detail());
		return r;
	}
	vd_err_format(r, buf, sizeof(buf));
	vd_log(LOG_ERR, "data directory lock: %s", buf);
	vd_notify_status("start-up failed: data directory lock: %s", buf);
	return r;
}

/*
 * Issue 14 item 7: before the store opens, a child process walks every
 * page of data.mdb and every record (with the key file: each opens in its
 * place; a passphrase vault, sealed here: each is read), every escrow
 * envelope, the audit chain and the anchor.  LMDB trusts its pages, so a
 * damaged file would crash the daemon later, on the loop; found here, it
 * is refused with a message naming the damage, and exit status
 * VD_EXIT_DAMAGED, which the systemd unit lists in RestartPreventExitStatus
 * so a crash at run time ends in this message, not in a restart loop.
 * Returns 0, or VD_ECORRUPT / VD_ECHAIN (logged); other findings (a wrong
 * key, no vault, data older than its anchor) pass: the normal start-up
 * reports them with their own messages.
 */
static int
verify_vault(const struct vd_config *cfg)
{
	struct vd_secret *key = NULL;
	struct vd_vverify v;
	char buf[768];
	int r;

	if (cfg->key_file != NULL && vd_keyfile_load(cfg->key_file, &key) != 0)
		key = NULL;	/* open_vault() reports it */
	vd_err_clear();
	r = vd_vverify_child(cfg->data_dir, key, NULL, NULL, &v);
	vd_secret_free(key);
	/*
	 * An anchor newer than the data (a restored backup, a rollback) or a
	 * damaged anchor file is not damage of data.mdb: open_vault() refuses
	 * it with its own message (and exit 1), as before.
	 */
	if ((r == VD_ECORRUPT || r == VD_ECHAIN) && v.stage != NULL &&
	    strcmp(v.stage, "anchor") != 0) {
		/* The detail names the file, the page or record, and why. */
		snprintf(buf, sizeof(buf), "%s", vd_err_detail()[0] ?
		    vd_err_detail() : vd_strerror(r));
		vd_log(LOG_CRIT, "the vault's data is damaged (%s): %s; vaultd "
		    "will not start on it: check a backup with `vaultctl audit "
		    "verify --full --data-dir DIR` and restore it (docs/"
		    "operations.md)", v.stage != NULL ? v.stage : "?", buf);
		vd_notify_status("start-up refused: the vault's data is "
		    "damaged (see the log)");
		return r;
	}
	if (r == 0)
		vd_log(LOG_INFO, "data.mdb verified: %llu pages in use, %llu "
		    "records%s, %llu envelopes", (unsigned long long)
		    v.pages.inuse, (unsigned long long)v.records,
		    v.unlocked ? " opened" : " read (sealed)",
		    (unsigned long long)v.envelopes);
	return 0;
}

static int
open_vault(struct vd_daemon *d)
{
	struct vd_secret *key = NULL;
	int r;

	if ((r = vd_store_open(d->cfg->data_dir, 0, &d->st)) != 0) {
		log_err(d->cfg->data_dir, r);
		return r;
	}
	if (vd_store_kdf(d->st) == VD_KDF_KEYFILE) {
		if (d->cfg->key_file == NULL) {
			vd_log(LOG_ERR, "the vault uses a key file: set "
			    "[vault] key_file");
			return VD_ECONFIG;
		}
		if ((r = vd_keyfile_load(d->cfg->key_file, &key)) != 0) {
			log_err(d->cfg->key_file, r);
			return r;
		}
		r = vd_store_unlock(d->st, key);
		vd_secret_free(key);
		if (r != 0) {
			log_err("unlock with the key file", r);
			return r;
		}
		vd_log(LOG_INFO, "vault %s unlocked with its key file",
		    vd_store_id(d->st));
	} else
		vd_log(LOG_NOTICE, "vault %s is sealed: run `vaultctl unseal`",
		    vd_store_id(d->st));
	return 0;
}

/*
 * Runs the daemon: exit 0 after a clean SIGTERM/SIGINT (or --version,
 * --help, a good --check-config), 1 on a start-up failure, 2 on a usage
 * error.
 */
/*
 * [vault] user: started as root, run as that user once the key file, the
 * vault and the socket are open.  The data directory must be the user's
 * (the store writes and reopens it), so a mismatch is refused here, with
 * the fix in the message, rather than failing at the first write.
 */
static int
drop_root(struct vd_daemon *d)
{
	struct passwd *pw;
	struct stat sb;
	uid_t uid;
	gid_t gid;
	int r;

	if (d->cfg->user == NULL || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(d->cfg->user)) == NULL)
		return vd_err_set(VD_ECONFIG, "user: unknown user '%s'",
		    d->cfg->user);
	if (stat(d->cfg->data_dir, &sb) != 0)
		return vd_err_set(-errno, "cannot stat %s", d->cfg->data_dir);
	if (pw->pw_uid != 0 && sb.st_uid != pw->pw_uid)
		return vd_err_set(VD_ECONFIG, "data directory %s belongs to uid "
		    "%lu, not to user %s: chown -R %s %s", d->cfg->data_dir,
		    (unsigned long)sb.st_uid, d->cfg->user, d->cfg->user,
		    d->cfg->data_dir);
	if ((r = vd_harden_drop(d->cfg->user, &uid, &gid)) != 0)
		return r;
	vd_log(LOG_INFO, "running as %s (uid %lu, gid %lu)", d->cfg->user,
	    (unsigned long)uid, (unsigned long)gid);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "debug", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const int signums[] = { SIGTERM, SIGINT, SIGHUP };
	struct vd_daemon d;
	const char *path = NULL;
	int ch, r, check = 0, level = LOG_INFO, rc = 1, lockfd = -1;

	memset(&d, 0, sizeof(d));
	while ((ch = getopt_long(argc, argv, "c:C:dVh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			path = optarg;
			check = 1;
			break;
		case 'd':
			level = LOG_DEBUG;
			break;
		case 'V':
			printf("vaultd %s\n", VD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	vd_log_init("vaultd", level);
	if ((r = vd_mem_init()) != 0 || (r = vd_proto_init()) != 0 ||
	    (r = vd_harden_early()) != 0) {
		log_err("cannot initialise", r);
		return 1;
	}
	/* A client vanishing mid-write must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	if (check) {
		/* Plain lines for a person or ExecStartPre, not log lines. */
		vd_err_clear();
		if ((r = vd_harden_check_file(path, "config file")) != 0 ||
		    (r = vd_config_load(path, &d.cfg)) != 0) {
			fprintf(stderr, "vaultd: %s\n", vd_err_detail()[0] ?
			    vd_err_detail() : vd_strerror(r));
			return 1;
		}
		r = check_config(d.cfg);
		vd_config_free(d.cfg);
		if (r != 0)
			return 1;
		printf("%s: ok\n", path);
		return 0;
	}
	if ((r = vd_harden_check_file(path, "config file")) != 0 ||
	    (r = vd_config_load(path, &d.cfg)) != 0) {
		startup_failed("configuration", r);
		return 1;
	}
	if (lock_data_dir(d.cfg, &lockfd) != 0) {
		vd_config_free(d.cfg);
		return 1;
	}
	/* Before the loop, its threads and the store exist: a plain fork. */
	if (verify_vault(d.cfg) != 0) {
		vd_store_unlock_dir(lockfd);
		vd_config_free(d.cfg);
		return VD_EXIT_DAMAGED;
	}
	/*
	 * libuv's thread pool runs every MariaDB call: one thread per
	 * concurrent rotation plus room for target.add and unseal.  It reads
	 * the size once, at its first use, from the environment (no secret).
	 */
	if (getenv("UV_THREADPOOL_SIZE") == NULL) {
		char n[16];
		long long want = d.cfg->concurrency + 2;

		if (want < 4)
			want = 4;
		if (want > 128)
			want = 128;
		snprintf(n, sizeof(n), "%lld", want);
		setenv("UV_THREADPOOL_SIZE", n, 1);
	}
	d.loop = uv_default_loop();
	d.started = vd_now();
	if ((r = open_vault(&d)) != 0) {
		vd_notify_status("start-up failed: cannot open the vault "
		    "(see the log)");
		goto out;
	}
	vd_err_clear();
	if ((r = escrow_valid(d.cfg)) != 0) {
		char buf[768];

		/* Audited when the vault is unlocked (key file). */
		vd_err_format(r, buf, sizeof(buf));
		vd_log(LOG_ERR, "configuration: %s", buf);
		vd_notify_status("start-up failed: configuration: %s", buf);
		(void)vd_api_audit_event(&d, "config.load", "refused", buf);
		goto out;
	}
	if ((r = vd_server_start(&d)) != 0) {
		startup_failed("socket", r);
		goto out;
	}
	for (size_t i = 0; i < VD_NELEM(signums); i++) {
		uv_signal_init(d.loop, &d.sig[i]);
		d.sig[i].data = &d;
		if ((r = uv_signal_start(&d.sig[i], signal_cb,
		    signums[i])) != 0) {
			vd_log(LOG_ERR, "signal: %s", uv_strerror(r));
			vd_notify_status("start-up failed: signal: %s",
			    uv_strerror(r));
			goto out;
		}
	}
	if ((r = drop_root(&d)) != 0) {
		startup_failed("privileges", r);
		goto out;
	}
	if (vd_store_unlocked(d.st) && (r = vd_rotate_start(&d)) != 0) {
		startup_failed("rotation engine", r);
		goto out;
	}
	vd_log(LOG_NOTICE, "vaultd %s listening on %s", VD_VERSION,
	    d.cfg->socket);
	/* Libraries (LMDB's data file) open without O_CLOEXEC. */
	if ((r = vd_harden_cloexec_all()) != 0)
		log_err("close-on-exec", r);
	notify_ready(&d);
	vd_headlog_start(&d);
	uv_run(d.loop, UV_RUN_DEFAULT);
	rc = 0;
 out:
	if (!d.stopping) {
		/* Start-up failed: close what was opened, then drain. */
		d.stopping = 1;
		vd_rotate_stop(&d);
		vd_api_stop(&d);
		vd_server_stop(&d);
		vd_headlog_close(&d);
		for (size_t i = 0; i < VD_NELEM(d.sig); i++)
			if (d.sig[i].loop != NULL)
				uv_close((uv_handle_t *)&d.sig[i], NULL);
		uv_run(d.loop, UV_RUN_DEFAULT);
	}
	if (uv_loop_close(d.loop) != 0)
		vd_log(LOG_WARNING, "loop closed with handles open");
	/* Every job has ended: the head marked now is the last one. */
	vd_headlog_final(&d);
	vd_store_close(d.st);
	vd_store_unlock_dir(lockfd);	/* after the store: no writer left */
	vd_config_free(d.cfg);
	if (rc == 0)
		vd_log(LOG_NOTICE, "stopped");
	return rc;
}
