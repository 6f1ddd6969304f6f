/*
 * main.c - vaultd: the daemon.  `vaultd --config FILE` runs in the
 * foreground and logs to stderr with syslog priority prefixes.
 *
 * Start-up: read the config, open the vault; a key-file vault is unlocked
 * now, a passphrase vault stays sealed until `vaultctl unseal`.  Then serve
 * the socket until SIGTERM/SIGINT (stop accepting, finish what is in
 * flight, close the store, exit 0).  SIGHUP re-reads the config; a bad new
 * config is refused and the old one kept.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "api.h"
#include "config.h"
#include "daemon.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "proto.h"
#include "rotate.h"
#include "server.h"
#include "store.h"
#include "util.h"

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

static void
reload(struct vd_daemon *d)
{
	struct vd_config *cfg = NULL;
	char buf[768];
	int r;

	vd_err_clear();
	if ((r = vd_config_load(d->cfg->path, &cfg)) != 0) {
		vd_err_format(r, buf, sizeof(buf));
		vd_log(LOG_ERR, "SIGHUP: new configuration refused, keeping "
		    "the old one: %s", buf);
		if (vd_api_audit_event(d, "config.reload", "refused", buf) != 0)
			vd_log(LOG_WARNING, "config.reload not audited "
			    "(sealed or audit failed)");
		return;
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
}

static void
signal_cb(uv_signal_t *h, int signum)
{
	struct vd_daemon *d = h->data;

	if (signum == SIGHUP) {
		reload(d);
		return;
	}
	if (d->stopping)
		return;
	d->stopping = 1;
	vd_log(LOG_NOTICE, "%s: stopping (%u jobs and %zu connections to "
	    "finish)", signum == SIGTERM ? "SIGTERM" : "SIGINT", d->inflight,
	    d->nconns);
	vd_rotate_stop(d);
	vd_server_stop(d);
	for (size_t i = 0; i < VD_NELEM(d->sig); i++)
		uv_close((uv_handle_t *)&d->sig[i], NULL);
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
	int ch, r, check = 0, level = LOG_INFO, rc = 1;

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
	if ((r = vd_mem_init()) != 0 || (r = vd_proto_init()) != 0) {
		log_err("cannot initialise", r);
		return 1;
	}
	/* A client vanishing mid-write must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	if ((r = vd_config_load(path, &d.cfg)) != 0) {
		log_err("configuration", r);
		return 1;
	}
	if (check) {
		printf("%s: ok\n", path);
		vd_config_free(d.cfg);
		return 0;
	}
	d.loop = uv_default_loop();
	d.started = vd_now();
	if (open_vault(&d) != 0)
		goto out;
	if ((r = vd_server_start(&d)) != 0) {
		log_err("socket", r);
		goto out;
	}
	for (size_t i = 0; i < VD_NELEM(signums); i++) {
		uv_signal_init(d.loop, &d.sig[i]);
		d.sig[i].data = &d;
		if ((r = uv_signal_start(&d.sig[i], signal_cb,
		    signums[i])) != 0) {
			vd_log(LOG_ERR, "signal: %s", uv_strerror(r));
			goto out;
		}
	}
	if (vd_store_unlocked(d.st) && (r = vd_rotate_start(&d)) != 0) {
		log_err("rotation engine", r);
		goto out;
	}
	vd_log(LOG_NOTICE, "vaultd %s listening on %s", VD_VERSION,
	    d.cfg->socket);
	uv_run(d.loop, UV_RUN_DEFAULT);
	rc = 0;
 out:
	if (!d.stopping) {
		/* Start-up failed: close what was opened, then drain. */
		d.stopping = 1;
		vd_rotate_stop(&d);
		vd_server_stop(&d);
		for (size_t i = 0; i < VD_NELEM(d.sig); i++)
			if (d.sig[i].loop != NULL)
				uv_close((uv_handle_t *)&d.sig[i], NULL);
		uv_run(d.loop, UV_RUN_DEFAULT);
	}
	if (uv_loop_close(d.loop) != 0)
		vd_log(LOG_WARNING, "loop closed with handles open");
	vd_store_close(d.st);
	vd_config_free(d.cfg);
	if (rc == 0)
		vd_log(LOG_NOTICE, "stopped");
	return rc;
}
