/*
 * main.c - vaultctl: the command-line client of vaultd, plus the offline
 * commands (init, policy, audit verify, breakglass …).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "cmds.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "proto.h"
#include "util.h"

static const struct vc_cmd commands[] = {
	{ "init", cmd_init, "create a new vault (offline)", 0 },
	{ "policy", cmd_policy, "show, check and generate passwords to a policy", 0 },
	{ "target", cmd_target, "add, set, list, show, remove targets; set-password",
	    0 },
	{ "get", cmd_get, "print a target's password (audited)", 0 },
	{ "rotate", cmd_rotate, "ask vaultd to rotate a target now", 0 },
	{ "check", cmd_check, "check now that the vault's password logs in", 0 },
	{ "history", cmd_history, "a target's rotations and checkouts", 0 },
	{ "request", cmd_request, "ask for a checkout of a target (reason)", 0 },
	{ "requests", cmd_requests, "list access requests and checkouts", 0 },
	{ "approve", cmd_approve, "approve an access request", 0 },
	{ "deny", cmd_deny, "deny an access request", 0 },
	{ "checkin", cmd_checkin, "end your checkout (rotates at once)", 0 },
	{ "revoke", cmd_revoke, "end a checkout or request (admin; rotates)",
	    0 },
	{ "status", cmd_status, "vaultd's state and each target's", 0 },
	{ "audit", cmd_audit, "list the audit log; verify it (offline)", 1 },
	{ "unseal", cmd_unseal, "give vaultd the vault's passphrase", 0 },
	{ "escrow", cmd_escrow, "escrow party keys; export a bundle (offline)",
	    1 },
	{ "breakglass", cmd_breakglass, "open an escrowed password (offline)",
	    1 },
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

/*
 * The data directory a command names (--data-dir DIR or --data-dir=DIR),
 * or NULL.
 */
static const char *
data_dir_arg(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--data-dir=", 11) == 0)
			return argv[i] + 11;
	}
	return NULL;
}

/*
 * Runs an offline-capable command (audit, breakglass, escrow) in a child
 * process (issue 14 item 7).  LMDB trusts the pages of data.mdb: a
 * damaged one can send it outside the map (SIGSEGV, SIGBUS) or into an
 * assertion (SIGABRT), and no LMDB option checks them.  The child does
 * the command; the parent turns such a death into an error that names the
 * damaged file, with exit code 1.  The child inherits vd_mem_init()'s
 * settings: no core file, not dumpable, so a crash leaves no secret
 * behind.  Any other signal (^C) ends the parent the same way.
 */
static int
guarded(const struct vc_cmd *c, int argc, char **argv)
{
	const char *dir = data_dir_arg(argc, argv);
	int st, sig;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		vc_err(-errno, "%s: cannot start the reader process", c->name);
		return VC_EXIT_FAIL;
	}
	if (pid == 0) {
		int rc = c->fn(argc, argv);

		fflush(stdout);
		fflush(stderr);
		_exit(rc);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			vc_err(-errno, "%s: waiting for the reader process",
			    c->name);
			return VC_EXIT_FAIL;
		}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	sig = WIFSIGNALED(st) ? WTERMSIG(st) : SIGKILL;
	switch (sig) {
	case SIGBUS:
	case SIGSEGV:
	case SIGABRT:
	case SIGFPE:
	case SIGILL:
		if (dir != NULL)
			fprintf(stderr, "vaultctl: %s: %s/data.mdb is damaged: "
			    "reading it killed the reader (%s). Nothing in it "
			    "can be trusted: use a backup of the data "
			    "directory, or an exported escrow bundle "
			    "(--bundle)\n", c->name, dir, strsignal(sig));
		else
			fprintf(stderr, "vaultctl: %s: the reader died (%s): "
			    "its input is damaged (or this is a bug)\n",
			    c->name, strsignal(sig));
		return VC_EXIT_FAIL;
	default:
		signal(sig, SIG_DFL);
		raise(sig);
		return 128 + sig;
	}
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
			return commands[i].guard ? guarded(&commands[i],
			    argc - 1, argv + 1) : commands[i].fn(argc - 1,
			    argv + 1);
	fprintf(stderr, "vaultctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return VC_EXIT_USAGE;
}
