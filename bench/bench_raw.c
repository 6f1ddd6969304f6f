/*
 * bench_raw.c - the raw limit of password rotation against one MariaDB
 * server: per account, connect with the old password, SET PASSWORD, and a
 * fresh login with the new one (vd_driver, no vault), on `concurrency`
 * threads.  Prints figures, asserts nothing.
 *
 * usage: bench_raw --socket PATH [--socket PATH2 ...] [--accounts N]
 *                  [--concurrency C]
 *                  [--prefix P] [--plain] [--cpu-pid PID] [--json]
 *
 * --plain (issue 18): the server's limit, not vaultd's driver: libmariadb
 * alone, per account connect with the old password, SET PASSWORD =
 * PASSWORD('new'), close, connect with the new one, close; `concurrency`
 * worker processes (fork) taking accounts from a shared counter; every new
 * password is drawn before the clock starts.  No extra query, no policy
 * generator, no vd_driver in the timed loop.  (The one place outside
 * vaultd/driver.c that includes <mysql.h>: it measures the library itself.)
 *
 * It creates its own accounts P000000.. at 'localhost' (as root over the
 * Unix socket, empty password: the throwaway server of scripts/bench.sh),
 * with random passwords held only in this process's secure memory, then
 * times the rotation of all of them, and drops them again.  With several
 * --socket (a fleet), account i lives on socket i mod the count.  No password is
 * ever in argv, the environment or the output.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>
#include <sodium.h>

#include "bench.h"
#include "driver.h"
#include "err.h"
#include "mem.h"

#define MAXSOCK	64	/* --socket given at most this often */

struct acct {
	char		 user[32];	/* account name */
	const char	*sock;		/* its server's socket */
	struct vd_secret *pw;		/* its current password */
};

static struct acct *accts;
static size_t naccts;
static atomic_size_t next_i;	/* next account to rotate */
static atomic_size_t nfail;	/* rotations that failed */
static struct vd_dbtarget tgt;

static void *
run(void *arg)
{
	char err[VD_DRV_ERRLEN];
	size_t i;

	(void)arg;
	while ((i = atomic_fetch_add(&next_i, 1)) < naccts) {
		struct acct *a = &accts[i];
		struct vd_dbtarget t = tgt;
		struct vd_drv_conn *c = NULL;
		struct vd_secret *np = gen_pw();
		int r;

		t.user = a->user;
		t.unix_socket = a->sock;
		if (np == NULL ||
		    (r = vd_drv_connect(&t, NULL, a->pw, &c, err,
		    sizeof(err))) != 0 ||
		    (r = vd_drv_set_password(c, a->user, "localhost", np, err,
		    sizeof(err))) != 0) {
			vd_drv_close(c);
			vd_secret_free(np);
			atomic_fetch_add(&nfail, 1);
			continue;
		}
		vd_drv_close(c);
		if ((r = vd_drv_login(&t, NULL, np, err, sizeof(err))) != 0) {
			vd_secret_free(np);
			atomic_fetch_add(&nfail, 1);
			continue;
		}
		vd_secret_free(a->pw);
		a->pw = np;
	}
	return NULL;
}

/* What the --plain workers share (an anonymous MAP_SHARED page). */
struct plain_shared {
	atomic_size_t	 next;		/* next account to rotate */
	atomic_size_t	 fail;		/* rotations that failed */
};

/* One plain libmariadb login; returns the open handle or NULL. */
static MYSQL *
plain_login(const struct acct *a, const char *pw)
{
	MYSQL *my = mysql_init(NULL);

	if (my == NULL)
		return NULL;
	if (mysql_real_connect(my, NULL, a->user, pw, NULL, 0, a->sock, 0) ==
	    NULL) {
		mysql_close(my);
		return NULL;
	}
	return my;
}

/*
 * A --plain worker process: the loop, exactly.  The SQL text that
 * carries the password is built in one secure buffer and wiped after each
 * use.  news[i] is account i's new password, drawn before the clock.
 */
static void
plain_worker(struct plain_shared *sh, struct vd_secret **news)
{
	struct vd_secret *q = vd_secret_new(128);
	size_t i;

	if (q == NULL || mysql_thread_init() != 0)
		_exit(1);
	while ((i = atomic_fetch_add(&sh->next, 1)) < naccts) {
		const char *np = (const char *)news[i]->data;
		MYSQL *my;
		int n, ok;

		if ((my = plain_login(&accts[i],
		    (const char *)accts[i].pw->data)) == NULL) {
			atomic_fetch_add(&sh->fail, 1);
			continue;
		}
		n = snprintf((char *)q->data, q->cap,
		    "SET PASSWORD = PASSWORD('%s')", np);
		ok = n > 0 && (size_t)n < q->cap &&
		    mysql_real_query(my, (const char *)q->data,
		    (unsigned long)n) == 0;
		sodium_memzero(q->data, q->cap);
		mysql_close(my);
		if (!ok || (my = plain_login(&accts[i], np)) == NULL) {
			atomic_fetch_add(&sh->fail, 1);
			continue;
		}
		mysql_close(my);
	}
	vd_secret_free(q);
	mysql_thread_end();
	_exit(0);
}

/* utime + stime of process pid in seconds (0 when unreadable). */
static double
cpu_of(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the ")" closing the command name: state is field 3. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long cpu_pids[MAXSOCK];	/* --cpu-pid: servers whose CPU to report */
static size_t ncpu_pids;
static double pids_cpu, workers_cpu;	/* in the timed part, seconds */

static double
pids_cpu_now(void)
{
	double c = 0;

	for (size_t i = 0; i < ncpu_pids; i++)
		c += cpu_of(cpu_pids[i]);
	return c;
}

/* User + system CPU seconds of getrusage(who): RUSAGE_SELF/_CHILDREN. */
static double
rusage_cpu(int who)
{
	struct rusage ru;

	if (getrusage(who, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/*
 * --plain: forks conc workers over all accounts; returns the seconds from
 * the first fork to the last exit, or a negative value on failure.  On
 * return every account's password is news[i] (where its rotation worked).
 */
static double
plain_run(size_t conc, struct vd_secret **news)
{
	double c0 = pids_cpu_now(), w0 = rusage_cpu(RUSAGE_CHILDREN);
	struct plain_shared *sh;
	pid_t pid[64];
	double t0, t1;
	size_t n = 0;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	atomic_init(&sh->next, 0);
	atomic_init(&sh->fail, 0);
	fflush(NULL);
	t0 = now_s();
	for (; n < conc; n++) {
		if ((pid[n] = fork()) < 0)
			break;
		if (pid[n] == 0)
			plain_worker(sh, news);
	}
	for (size_t k = 0; k < n; k++) {
		int st;

		if (waitpid(pid[k], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			atomic_fetch_add(&sh->fail, 1);
	}
	t1 = now_s();
	pids_cpu = pids_cpu_now() - c0;
	workers_cpu = rusage_cpu(RUSAGE_CHILDREN) - w0;
	nfail = atomic_load(&sh->fail) + (n < conc ? naccts : 0);
	munmap(sh, sizeof(*sh));
	return t1 - t0;
}

/* Runs sql as root (no secret in it). */
static int
root_exec(struct vd_drv_conn *rc, const char *sql)
{
	char err[VD_DRV_ERRLEN];
	int r;

	if ((r = vd_drv_exec(rc, sql, err, sizeof(err))) != 0)
		fprintf(stderr, "bench_raw: %s: %s\n", sql, err);
	return r;
}

int
main(int argc, char **argv)
{
	const char *socks[MAXSOCK], *prefix = "vraw";
	size_t nsock = 0;
	size_t conc = 4;
	int json = 0, plain = 0, r;
	struct vd_secret **news = NULL;
	struct vd_drv_conn *rcs[MAXSOCK] = { NULL }, *rc;
	struct vd_secret *empty;
	char err[VD_DRV_ERRLEN], sql[256];
	pthread_t th[64];
	double t0, t1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc &&
		    nsock < MAXSOCK)
			socks[nsock++] = argv[++i];
		else if (strcmp(argv[i], "--accounts") == 0 && i + 1 < argc)
			naccts = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--concurrency") == 0 && i + 1 < argc)
			conc = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc)
			prefix = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--plain") == 0)
			plain = 1;
		else if (strcmp(argv[i], "--cpu-pid") == 0 && i + 1 < argc &&
		    ncpu_pids < MAXSOCK)
			cpu_pids[ncpu_pids++] = strtol(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: bench_raw --socket PATH "
			    "[--accounts N] [--concurrency C] [--prefix P] "
			    "[--plain] [--cpu-pid PID] [--json]\n");
			return 2;
		}
	}
	if (naccts == 0)
		naccts = 1000;
	if (nsock == 0 || conc == 0 || conc > 64 || strlen(prefix) > 16) {
		fprintf(stderr, "bench_raw: --socket needed; concurrency "
		    "1..64\n");
		return 2;
	}
	if (vd_mem_init() != 0 || vd_drv_init() != 0)
		return 1;
	tgt.user = "root";
	if ((empty = vd_secret_new(1)) == NULL ||
	    (accts = calloc(naccts, sizeof(*accts))) == NULL)
		return 1;
	for (size_t k = 0; k < nsock; k++) {
		tgt.unix_socket = socks[k];
		if ((r = vd_drv_connect(&tgt, "root", empty, &rcs[k], err,
		    sizeof(err))) != 0) {
			fprintf(stderr, "bench_raw: root login: %s\n", err);
			return 1;
		}
	}
	/* Set-up: accounts with random passwords (not timed). */
	for (size_t i = 0; i < naccts; i++) {
		struct acct *a = &accts[i];

		snprintf(a->user, sizeof(a->user), "%s%06zu", prefix, i);
		/* Accounts dealt round-robin over the servers (a fleet). */
		a->sock = socks[i % nsock];
		rc = rcs[i % nsock];
		snprintf(sql, sizeof(sql), "DROP USER IF EXISTS '%s'@'localhost'",
		    a->user);
		if (root_exec(rc, sql) != 0)
			return 1;
		snprintf(sql, sizeof(sql), "CREATE USER '%s'@'localhost'",
		    a->user);
		if (root_exec(rc, sql) != 0 || (a->pw = gen_pw()) == NULL ||
		    vd_drv_set_password(rc, a->user, "localhost", a->pw, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "bench_raw: set-up of %s: %s\n", a->user,
			    err);
			return 1;
		}
	}

	if (plain) {
		/* Every new password drawn before the clock starts. */
		if ((news = calloc(naccts, sizeof(*news))) == NULL)
			return 1;
		for (size_t i = 0; i < naccts; i++)
			if ((news[i] = gen_pw()) == NULL)
				return 1;
		t0 = 0;
		if ((t1 = plain_run(conc, news)) < 0)
			return 1;
	} else {
		double c0 = pids_cpu_now(), w0 = rusage_cpu(RUSAGE_SELF);

		t0 = now_s();
		for (size_t i = 0; i < conc; i++)
			pthread_create(&th[i], NULL, run, NULL);
		for (size_t i = 0; i < conc; i++)
			pthread_join(th[i], NULL);
		t1 = now_s();
		pids_cpu = pids_cpu_now() - c0;
		workers_cpu = rusage_cpu(RUSAGE_SELF) - w0;
	}

	for (size_t i = 0; i < naccts; i++) {
		snprintf(sql, sizeof(sql), "DROP USER IF EXISTS '%s'@'localhost'",
		    accts[i].user);
		(void)root_exec(rcs[i % nsock], sql);
		vd_secret_free(accts[i].pw);
		if (news != NULL)
			vd_secret_free(news[i]);
	}
	free(news);
	for (size_t k = 0; k < nsock; k++)
		vd_drv_close(rcs[k]);
	vd_secret_free(empty);
	if (json)
		printf("{\"mode\":\"%s\",\"accounts\":%zu,\"concurrency\":%zu,"
		    "\"seconds\":%.4f,\"per_s\":%.1f,\"failed\":%zu,"
		    "\"workers_cpu_s\":%.3f,\"pids_cpu_s\":%.3f}\n",
		    plain ? "plain" : "driver", naccts, conc, t1 - t0,
		    naccts / (t1 - t0), (size_t)nfail, workers_cpu, pids_cpu);
	else
		printf("%s: %zu accounts, concurrency %zu: %.3f s, %.1f "
		    "rotations/s, %zu failed\n", plain ? "plain" : "raw",
		    naccts, conc, t1 - t0,
		    naccts / (t1 - t0), (size_t)nfail);
	free(accts);
	vd_drv_end();
	return nfail != 0;
}
