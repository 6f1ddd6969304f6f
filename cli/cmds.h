/*
 * cmds.h - vaultctl's command table and the helpers commands share.
 *
 * Exit codes (documented in README and vaultctl(1)): 0 ok, 1 failed, 2 usage,
 * 3 permission denied, 4 not found.
 */
#ifndef VD_CLI_CMDS_H
#define VD_CLI_CMDS_H

#include <stddef.h>

enum {
	VC_EXIT_OK = 0,
	VC_EXIT_FAIL = 1,
	VC_EXIT_USAGE = 2,
	VC_EXIT_PERM = 3,
	VC_EXIT_NOTFOUND = 4,
};

/* One command group: argv[0] is the group's name ("init", "policy" …). */
struct vc_cmd {
	const char	*name;	/* first word on the command line */
	int		(*fn)(int argc, char **argv);	/* returns an exit code */
	const char	*help;	/* one line for `vaultctl --help` */
	int		 guard;	/* reads data.mdb: run in a child process */
};

/* Prints "vaultctl: " msg (and the error's detail for err < 0) to stderr. */
void vc_err(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Reads a whole (non-secret) regular file of at most 256 MiB into a
 * malloc'd *out (caller frees) of *len bytes; -errno or VD_EINVAL with a
 * detail naming path.
 */
int vc_read_file(const char *path, unsigned char **out, size_t *len);

/* Maps a VD_E* / -errno code to an exit code. */
int vc_exit_code(int err);

int cmd_init(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_target(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_rotate(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_unseal(int argc, char **argv);
int cmd_escrow(int argc, char **argv);
int cmd_breakglass(int argc, char **argv);
int cmd_request(int argc, char **argv);
int cmd_requests(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_deny(int argc, char **argv);
int cmd_checkin(int argc, char **argv);
int cmd_revoke(int argc, char **argv);

#endif
