/*
 * daemon.h - the state vaultd's modules share: one loop, one store, the
 * current configuration, the listening socket and its connections.
 * Everything here is touched on the loop thread only.
 */
#ifndef VD_DAEMON_H
#define VD_DAEMON_H

#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "config.h"

struct vd_store;
struct vd_conn;

/* The daemon. */
struct vd_daemon {
	uv_loop_t		*loop;		/* the one event loop */
	struct vd_config	*cfg;		/* current config (SIGHUP swaps) */
	struct vd_store		*st;		/* the vault, open read-write */
	uv_pipe_t		 server;	/* listening socket */
	int			 listening;	/* server handle is open */
	char			 sockpath[108];	/* path bound (kept over SIGHUP) */
	uv_signal_t		 sig[3];	/* SIGTERM, SIGINT, SIGHUP */
	struct vd_conn		*conns;		/* open connections (list) */
	size_t			 nconns;	/* entries in conns */
	unsigned		 inflight;	/* thread-pool jobs running */
	int			 stopping;	/* SIGTERM/SIGINT seen */
	int			 unsealing;	/* unlock running in the pool */
	int64_t			 started;	/* start time, seconds */
	uint64_t		 served;	/* requests answered */
	uv_check_t		 reveal_check;	/* group commit of reveals */
	int			 reveal_open;	/* reveal_check initialised */
	int			 reveal_closed;	/* vd_api_stop(): no batching */
	struct vd_reveal	*reveals;	/* queued for it (api.c) */
	struct vd_reveal	**reveals_tail;	/* where the next one goes */
};

/*
 * Called by the rotation engine when a requested rotation ends: err 0 on
 * success, result (borrowed) describes it.
 */
typedef void (*vd_rotate_cb)(void *arg, int err, json_t *result);

/*
 * The seam to the rotation engine (issue 5): asks for a rotation of target
 * now, with trigger "manual" or "after-reveal".  Returns 0 when accepted
 * (cb, when not NULL, is called once it ends) or a negative error (cb is
 * not called).  Until the engine lands, vaultd/rotate_stub.c returns
 * VD_EBUSY, "rotation engine not available".
 */
int vd_rotate_request(struct vd_daemon *d, const char *target,
    const char *trigger, vd_rotate_cb cb, void *arg);

#endif
