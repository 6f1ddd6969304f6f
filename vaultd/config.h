/*
 * config.h - vaultd's configuration file (INI, read with inih).
 *
 *   [vault]     data_dir, key_file, socket, user, socket_group, idle_timeout,
 *               max_clients
 *   [access]    admin, operator, reveal, auditor, approver: comma lists of
 *               Unix user names and @groups; a reveal or approver entry
 *               may be limited to targets with "principal:target1 target2"
 *   [approval]  request_ttl (unanswered access requests expire)
 *   [notify]    command (absolute path, run per checkout event), timeout
 *   [policy N]  every key is handed to the policy module
 *   [escrow]    kept raw for the escrow engine
 *   [rotation]  concurrency, retry_min, retry_max, retry_limit,
 *               connect_timeout, check_interval, paused, min_every
 *
 * Unknown sections and keys, and bad values, are refused with file:line.
 * etc/vaultd.conf.example documents every key.
 */
#ifndef VD_CONFIG_H
#define VD_CONFIG_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "proto.h"	/* VD_SOCKET_DEFAULT */

/* Roles, as a bit mask. */
enum {
	VD_ROLE_ADMIN = 0x1,	/* everything */
	VD_ROLE_OPERATOR = 0x2,	/* status, history, rotate, target list/show */
	VD_ROLE_REVEAL = 0x4,	/* read passwords (all or listed targets) */
	VD_ROLE_AUDITOR = 0x8,	/* history and audit */
	VD_ROLE_APPROVER = 0x10,	/* approve access requests (per target) */
};
#define VD_NROLES	5

/* One principal in an [access] list. */
struct vd_acl_entry {
	char			*name;		/* user or group name */
	int			 group;		/* 1: @group */
	gid_t			 gid;		/* the group's id when group */
	char			**targets;	/* reveal: allowed targets */
	size_t			 ntargets;	/* 0: every target */
	struct vd_acl_entry	*next;		/* next in the same role */
};

/* A loaded configuration; immutable once loaded, replaced on SIGHUP. */
struct vd_config {
	char			*path;		/* file it was read from */
	char			*data_dir;	/* [vault] data_dir (required) */
	char			*key_file;	/* [vault] key_file, NULL: passphrase */
	char			*socket;	/* [vault] socket */
	char			*user;		/* [vault] user to run as, or NULL */
	int			 has_group;	/* socket_group was set */
	gid_t			 socket_gid;	/* [vault] socket_group's gid */
	int64_t			 idle_timeout;	/* seconds a connection may idle */
	long long		 max_clients;	/* connections served at once */
	struct vd_acl_entry	*acl[VD_NROLES];	/* by role bit index */
	void			*policies;	/* struct vd_policyset * */
	json_t			*policy_raw;	/* {name: {key: value}} as read */
	json_t			*escrow;	/* [escrow] keys, raw strings */
	long long		 concurrency;	/* [rotation] concurrent rotations */
	int64_t			 retry_min;	/* first retry backoff, seconds */
	int64_t			 retry_max;	/* backoff ceiling, seconds */
	long long		 retry_limit;	/* attempts before giving up */
	int64_t			 connect_timeout;	/* MariaDB connect, seconds */
	int64_t			 check_interval;	/* drift check period, s */
	int64_t			 min_every;	/* shortest target cadence, s */
	int			 paused;	/* 1: no scheduled rotations */
	int64_t			 request_ttl;	/* [approval] request_ttl, s
						 * (0: VD_REQUEST_TTL_DEFAULT) */
	char			*notify_command;	/* [notify] command or NULL */
	int64_t			 notify_timeout;	/* [notify] timeout, s (0:
						 * VD_NOTIFY_TIMEOUT_DEFAULT) */
};

#define VD_REQUEST_TTL_DEFAULT		86400	/* unanswered request, s */
#define VD_NOTIFY_TIMEOUT_DEFAULT	10	/* notify command, s */

/*
 * Reads and validates the file at path into a new *out (caller frees with
 * vd_config_free()).  Returns 0, -errno when it cannot be read, or
 * VD_ECONFIG with a "file:line: why" detail.
 */
int vd_config_load(const char *path, struct vd_config **out);
/* As vd_config_load, from text in memory; name stands for the file. */
int vd_config_load_string(const char *name, const char *text,
    struct vd_config **out);

/* Frees a configuration; NULL-safe. */
void vd_config_free(struct vd_config *cfg);

/*
 * Returns the role mask of a caller: user name, primary gid and the
 * supplementary groups.
 */
unsigned vd_config_roles(const struct vd_config *cfg, const char *user,
    const gid_t *groups, int ngroups);

/*
 * Returns 1 when the caller may reveal target's passwords: admin, or a
 * reveal entry matching the caller that lists target (or no targets).
 */
int vd_config_can_reveal(const struct vd_config *cfg, const char *user,
    const gid_t *groups, int ngroups, const char *target);

/*
 * Returns 1 when the caller is an approver of target: an approver entry
 * matching the caller that lists target (or no targets).  Admin alone does
 * not make an approver: dual control wants a named approver.
 */
int vd_config_can_approve(const struct vd_config *cfg, const char *user,
    const gid_t *groups, int ngroups, const char *target);

/* Returns 1 when a policy named name is configured ("default" always is). */
int vd_config_policy_known(const struct vd_config *cfg, const char *name);

#endif
