/*
 * target.h - a target record (the store's JSON, api.c add_record() writes
 * it) decoded once into a typed struct, for the engine's readers: the
 * scheduler (cadence, window, replica), the job life cycle (policy) and
 * the apply path (server, account, hosts).
 */
#ifndef VD_TARGET_H
#define VD_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "timing.h"

#define VD_TARGET_MAX_HOSTS	64	/* account hosts per target */
#define VD_TARGET_EVERY_DEFAULT	(90 * 86400)	/* cadence without --every */

/* A target's "tls" (issue 14 item 5). */
#define VD_TARGET_TLS_DEFAULT	0	/* absent: TLS to non-loopback hosts */
#define VD_TARGET_TLS_REQUIRED	1	/* "required": TLS on every TCP route */
#define VD_TARGET_TLS_DISABLED	2	/* "disabled": never (explicit) */

/* Strings are borrowed from the record: valid while it lives. */
struct vd_target {
	const char	*host;		/* TCP host, or NULL */
	unsigned	 port;		/* TCP port (0: the driver's default) */
	const char	*unix_socket;	/* socket path, or NULL */
	const char	*user;		/* the rotated account (required) */
	const char	*admin_user;	/* rotation/reconcile account, or NULL */
	int		 tls;		/* VD_TARGET_TLS_* */
	const char	*tls_ca;	/* CA file, or NULL */
	const char	*auth;		/* client plugins of the account's
					 * password methods ("auth"), or NULL */
	const char	*admin_auth;	/* the admin account's ("admin_auth") */
	const char	*hosts[VD_TARGET_MAX_HOSTS];	/* account hosts */
	size_t		 nhosts;	/* 0: "auto" (discovered) */
	const char	*policy;	/* policy name ("default" when unset) */
	int64_t		 every;		/* cadence, seconds */
	int64_t		 after_reveal;	/* grace after a reveal; -1: none */
	struct vd_window win;		/* rotation window (unset: always) */
	const char	*replica_of;	/* the primary's target, or NULL */
};

/*
 * Decodes rec (target name: for errors) into *t.  Returns 0, or VD_EINVAL
 * (detail set) for a record without a user; a malformed optional field
 * takes its default (a window that does not parse: always open).
 */
int vd_target_decode(const json_t *rec, const char *name, struct vd_target *t);

#endif
