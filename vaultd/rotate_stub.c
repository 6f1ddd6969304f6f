/*
 * rotate_stub.c - placeholder for the rotation engine (issue 5): replace
 * this file in CMakeLists.txt with vaultd/rotate.c (and timing.c), which
 * define the same functions (rotate.h, daemon.h).  The daemon already calls
 * them: vd_rotate_start() once the vault is unlocked (start-up with a key
 * file, or unseal), vd_rotate_stop() on SIGTERM/SIGINT, vd_rotate_notify()
 * after target.add, target.remove and a reveal, vd_rotate_running() in
 * status, vd_rotate_request() for rotate.
 */
#include "daemon.h"
#include "err.h"
#include "rotate.h"

/* No engine: nothing to start. */
int
vd_rotate_start(struct vd_daemon *d)
{
	return 0;
}

/* No engine: nothing to stop. */
void
vd_rotate_stop(struct vd_daemon *d)
{
}

/* No engine: nothing to reload. */
void
vd_rotate_notify(struct vd_daemon *d, const char *target)
{
}

/* No engine: nothing runs. */
unsigned
vd_rotate_running(const struct vd_daemon *d)
{
	return 0;
}

/* Refuses every rotation: the engine is not built yet. */
int
vd_rotate_request(struct vd_daemon *d, const char *target,
    const char *trigger, vd_rotate_cb cb, void *arg)
{
	return vd_err_set(VD_EBUSY, "rotation engine not available");
}
