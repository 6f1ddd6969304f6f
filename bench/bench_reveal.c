/*
 * bench_reveal.c - audited reveals per second: C clients (threads), each on
 * its own connection to vaultd's socket, sending `get` for one target in a
 * loop for a fixed time.  Each answer is one audited reveal (vaultd commits
 * the audit entry before it answers).  Prints figures, asserts nothing.
 *
 * usage: bench_reveal --socket PATH --target NAME [--clients 32]
 *                     [--seconds 5] [--json]
 *
 * The passwords received are wiped and never printed.
 */
#define _GNU_SOURCE	/* memmem */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bench.h"

#define MAXCLIENTS	256

static const char *sock_path, *target;
static double deadline;
static atomic_ulong nok, nerr;

static void *
client(void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[256], buf[8192];
	unsigned long id = 0;
	size_t have = 0;
	int fd;

	(void)arg;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("bench_reveal: connect");
		atomic_fetch_add(&nerr, 1);
		return NULL;
	}
	while (now_s() < deadline) {
		int n = snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\","
		    "\"id\":%lu,\"method\":\"get\",\"params\":{\"name\":"
		    "\"%s\"}}\n", ++id, target);
		char *nl = NULL;

		if (write(fd, req, (size_t)n) != n)
			break;
		/* one answer line */
		while ((nl = memchr(buf, '\n', have)) == NULL) {
			ssize_t k = read(fd, buf + have, sizeof(buf) - have);

			if (k <= 0)
				goto out;
			have += (size_t)k;
		}
		if (memmem(buf, (size_t)(nl - buf), "\"password\"", 10) != NULL)
			atomic_fetch_add(&nok, 1);
		else
			atomic_fetch_add(&nerr, 1);
		have -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, have);
	}
 out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t th[MAXCLIENTS];
	long nclients = 32;
	double secs = 5, t0, t1;
	int json = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock_path = argv[++i];
		else if (strcmp(argv[i], "--target") == 0 && i + 1 < argc)
			target = argv[++i];
		else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
			nclients = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			secs = strtod(argv[++i], NULL);
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else
			goto usage;
	}
	if (sock_path == NULL || target == NULL || nclients < 1 ||
	    nclients > MAXCLIENTS || secs <= 0 || strlen(target) > 64 ||
	    strpbrk(target, "\"\\") != NULL)
		goto usage;
	t0 = now_s();
	deadline = t0 + secs;
	for (long i = 0; i < nclients; i++)
		pthread_create(&th[i], NULL, client, NULL);
	for (long i = 0; i < nclients; i++)
		pthread_join(th[i], NULL);
	t1 = now_s();
	if (json)
		printf("{\"clients\":%ld,\"seconds\":%.3f,\"reveals\":%lu,"
		    "\"errors\":%lu,\"per_s\":%.1f}\n", nclients, t1 - t0,
		    (unsigned long)nok, (unsigned long)nerr, nok / (t1 - t0));
	else
		printf("reveal: %ld clients, %.2f s: %lu audited reveals "
		    "(%.1f/s), %lu errors\n", nclients, t1 - t0,
		    (unsigned long)nok, nok / (t1 - t0), (unsigned long)nerr);
	return 0;
 usage:
	fprintf(stderr, "usage: bench_reveal --socket PATH --target NAME "
	    "[--clients N] [--seconds S] [--json]\n");
	return 2;
}
