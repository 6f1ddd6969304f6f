/* cmd_policy.c - vaultctl policy (issue 3; placeholder). */
#include <stdio.h>

#include "cmds.h"

int
cmd_policy(int argc, char **argv)
{
	fprintf(stderr, "vaultctl policy: not implemented yet\n");
	return VC_EXIT_FAIL;
}
