/*
 * err.h - vaultd error codes.
 *
 * Functions return 0 on success and a negative value on failure: either
 * -errno for a system error, or one of the VD_E* codes below, which sit in
 * their own range far below any errno.  vd_strerror() names both.
 *
 * A failing call may add a detail (a file name, a line number, the server's
 * reason) with vd_err_set(); it is kept per thread until the next
 * vd_err_set() or vd_err_clear().  A detail never contains a secret.
 */
#ifndef VD_ERR_H
#define VD_ERR_H

#include <stddef.h>

enum {
	VD_EBASE = -30000,
	VD_EINVAL = VD_EBASE - 1,	/* invalid argument or input */
	VD_ENOTFOUND = VD_EBASE - 2,	/* no such record */
	VD_EEXIST = VD_EBASE - 3,	/* record or vault already exists */
	VD_EBADKEY = VD_EBASE - 4,	/* wrong key, or not a vault */
	VD_ENOTVAULT = VD_EBASE - 5,	/* directory holds no vault */
	VD_EFORMAT = VD_EBASE - 6,	/* vault written by a newer format */
	VD_ECORRUPT = VD_EBASE - 7,	/* a record failed authentication */
	VD_EKEYFILE = VD_EBASE - 8,	/* key file has the wrong size */
	VD_EKEYPERM = VD_EBASE - 9,	/* key file or dir readable by others */
	VD_EMAPFULL = VD_EBASE - 10,	/* the vault's map is full */
	VD_ESTORE = VD_EBASE - 11,	/* other storage engine failure */
	VD_ENOMEM = VD_EBASE - 12,	/* out of (secure) memory */
	VD_EPOLICY = VD_EBASE - 13,	/* password policy violated/invalid */
	VD_EPERM = VD_EBASE - 14,	/* caller lacks the role */
	VD_ESEALED = VD_EBASE - 15,	/* vault is sealed */
	VD_EDB = VD_EBASE - 16,		/* database server error */
	VD_EAUTH = VD_EBASE - 17,	/* login refused by the server */
	VD_ECONFIG = VD_EBASE - 18,	/* bad configuration */
	VD_ETOOBIG = VD_EBASE - 19,	/* message or value too large */
	VD_EPROTO = VD_EBASE - 20,	/* protocol error */
	VD_ETIMEDOUT = VD_EBASE - 21,	/* deadline passed */
	VD_EBUSY = VD_EBASE - 22,	/* resource busy */
	VD_ERDONLY = VD_EBASE - 23,	/* store opened read-only */
	VD_ECHAIN = VD_EBASE - 24,	/* audit hash chain broken */
	VD_EUNREACH = VD_EBASE - 25,	/* server not reachable from here */
	VD_ELAST = VD_EBASE - 26
};

/* Returns a static description of err (a VD_E* code or -errno). */
const char *vd_strerror(int err);

/* Sets this thread's error detail (printf-style); returns err for chaining. */
int vd_err_set(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears this thread's error detail. */
void vd_err_clear(void);

/* Returns this thread's error detail, or "" when there is none. */
const char *vd_err_detail(void);

/*
 * Formats "what: detail" (or just what when there is no detail) for err into
 * buf; returns buf.
 */
const char *vd_err_format(int err, char *buf, size_t len);

#endif
