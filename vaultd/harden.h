/*
 * harden.h - process hardening for vaultd: file creation mask, no core
 * files, not dumpable, locked memory, close-on-exec, refusing files that
 * others can write, dropping root for a configured user.
 *
 * Order in main() (see each function):
 *   vd_mem_init(); vd_harden_early();	before anything is opened
 *   vd_harden_check_file(config);	before vd_config_load (also on
 *					SIGHUP and --check-config)
 *   ... open the vault, bind the socket ...
 *   vd_harden_cloexec_all();		after every descriptor is open
 *   vd_harden_drop(user);		before threads and uv_run
 *
 * Every function returns 0 or a negative -errno / VD_E* code with a detail
 * through vd_err_set() (never a secret).
 */
#ifndef VD_HARDEN_H
#define VD_HARDEN_H

#include <sys/types.h>

/*
 * umask 077 (every file and directory vaultd creates is private to its
 * user); RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 (again: vd_mem_init() sets
 * them, and an identity change resets "dumpable"); RLIMIT_MEMLOCK's soft
 * limit raised to its hard limit, so that sodium_malloc() can mlock every
 * secret buffer the hard limit allows.  Returns 0 or -errno.
 */
int vd_harden_early(void);

/*
 * Refuses (VD_EKEYPERM) a regular file path that group or others can
 * write, or owned by a user other than root and the effective user: such a
 * config could redirect vaultd (socket, access lists, escrow keys).
 * what names it in the detail ("config file").  Returns 0, -errno
 * (cannot stat) or VD_EKEYPERM / VD_EINVAL (not a regular file).
 */
int vd_harden_check_file(const char *path, const char *what);

/*
 * As vd_harden_check_file() for a directory (e.g. the data directory):
 * refuses one group or others can write, or owned by another user.
 */
int vd_harden_check_dir(const char *path, const char *what);

/*
 * Sets FD_CLOEXEC on every open descriptor above 2 (walking
 * /proc/self/fd): libraries that open without O_CLOEXEC (LMDB's data file
 * descriptor, for one) must not leak into a child.  Returns 0 or -errno.
 */
int vd_harden_cloexec_all(void);

/*
 * Returns the number of open descriptors above 2 without FD_CLOEXEC (for
 * tests), or -errno.
 */
int vd_harden_count_inheritable(void);

/*
 * Started as root with user set (and not "root"): switches to that user's
 * uid, primary gid and supplementary groups (initgroups), checks the
 * switch cannot be undone (setuid(0) must fail), and sets
 * PR_SET_NO_NEW_PRIVS and PR_SET_DUMPABLE 0 again.  Call after opening
 * what needs root (vault, key file, socket) and before starting threads.
 * Not root: user must be NULL or the current user (else VD_EPERM), nothing
 * changes.  user NULL or "root" as root: no change (returns 0).  *uid and
 * *gid (may be NULL) get the resulting ids.  Returns 0, VD_ENOTFOUND (no
 * such user), VD_EPERM, or -errno.
 */
int vd_harden_drop(const char *user, uid_t *uid, gid_t *gid);

#endif
