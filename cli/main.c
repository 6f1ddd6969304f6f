/*
 * main.c - vaultctl: the command-line client of vaultd, plus the offline
 * commands (init, policy, audit verify, breakglass …).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "cmds.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "proto.h"
#include "util.h"

static const struct vc_cmd commands[] = {
	{ "init", cmd_init, "create a new vault (offline)" },
	{ "policy", cmd_policy, "show, check and generate passwords to a policy" },
	{ "target", cmd_target, "add, set, list, show, remove targets; set-password" },
	{ "get", cmd_get, "print a target's password (audited)" },
	{ "rotate", cmd_rotate, "ask vaultd to rotate a target now" },
	{ "check", cmd_check, "check now that the vault's password logs in" },
	{ "history", cmd_history, "a target's rotation history" },
	{ "status", cmd_status, "vaultd's state and each target's" },
	{ "audit", cmd_audit, "list the audit log; verify it (offline)" },
	{ "unseal", cmd_unseal, "give vaultd the vault's passphrase" },
	{ "escrow", cmd_escrow, "escrow party keys; export a bundle (offline)" },
	{ "breakglass", cmd_breakglass, "open an escrowed password (offline)" },
};

void
vc_err(int err, const char *fmt, ...)
{
	char msg[512], ebuf[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err < 0)
		fprintf(stderr, "vaultctl: %s: %s\n", msg,
		    vd_err_format(err, ebuf, sizeof(ebuf)));
	else
		fprintf(stderr, "vaultctl: %s\n", msg);
}

int
vc_exit_code(int err)
{
	switch (err) {
	case 0:
		return VC_EXIT_OK;
	case VD_EPERM:
		return VC_EXIT_PERM;
	case VD_ENOTFOUND:
		return VC_EXIT_NOTFOUND;
	case VD_EINVAL:
		return VC_EXIT_USAGE;
	default:
		return VC_EXIT_FAIL;
	}
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: vaultctl [--socket PATH] COMMAND [ARGS]\n\n"
	    "commands:\n");
	for (size_t i = 0; i < VD_NELEM(commands); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n`vaultctl COMMAND --help` describes each command.\n"
	    "exit codes: 0 ok, 1 failed, 2 usage, 3 permission denied, "
	    "4 not found\n");
}

int
main(int argc, char **argv)
{
	int r;

	vd_log_init("vaultctl", LOG_WARNING);
	if ((r = vd_mem_init()) != 0 || (r = vd_proto_init()) != 0) {
		vc_err(r, "cannot initialise");
		return VC_EXIT_FAIL;
	}
	/* Global --socket PATH (commands accept it too). */
	while (argc > 2 && strcmp(argv[1], "--socket") == 0) {
		vc_set_socket(argv[2]);
		argc -= 2;
		argv += 2;
	}
	if (argc < 2) {
		usage(stderr);
		return VC_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return VC_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("vaultctl %s\n", VD_VERSION);
		return VC_EXIT_OK;
	}
	for (size_t i = 0; i < VD_NELEM(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vaultctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return VC_EXIT_USAGE;
}
