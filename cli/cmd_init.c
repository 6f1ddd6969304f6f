/* cmd_init.c - vaultctl init (placeholder). */
#include "cmds.h"
int
cmd_init(int argc, char **argv)
{
	return VC_EXIT_FAIL;
}
