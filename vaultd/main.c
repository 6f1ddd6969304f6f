/* main.c - vaultd (placeholder until the daemon lands). */
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("vaultd %s\n", VD_VERSION);
		return 0;
	}
	fprintf(stderr, "vaultd: not implemented yet\n");
	return 1;
}
