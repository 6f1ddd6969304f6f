/*
 * test_util.c - durations, names, times, secret input, secure memory.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "mem.h"
#include "util.h"

static void
test_duration(void)
{
	static const struct {
		const char	*in;
		int64_t		 secs;
	} ok[] = {
		{ "30s", 30 }, { "15m", 900 }, { "12h", 43200 },
		{ "90d", 7776000 }, { "2w", 1209600 }, { "45", 45 },
		{ "0s", 0 },
	};
	static const char *const bad[] = {
		"", "s", "-5m", "5x", "5mm", "1.5h", " 5m", "5 m", "99999999999d",
		"9223372036854775807s", "abc",
	};
	int64_t v;

	for (size_t i = 0; i < VD_NELEM(ok); i++) {
		CHECK_OK(vd_parse_duration(ok[i].in, &v));
		CHECK_INT_EQ(v, ok[i].secs);
	}
	for (size_t i = 0; i < VD_NELEM(bad); i++)
		CHECK_INT_EQ(vd_parse_duration(bad[i], &v), VD_EINVAL);
}

static void
test_names(void)
{
	char longname[VD_NAME_MAX + 2];

	CHECK(vd_name_valid("db1"));
	CHECK(vd_name_valid("batch-activation_01.bank"));
	CHECK(!vd_name_valid(""));
	CHECK(!vd_name_valid(NULL));
	CHECK(!vd_name_valid(".hidden"));
	CHECK(!vd_name_valid("-opt"));
	CHECK(!vd_name_valid("a/b"));
	CHECK(!vd_name_valid("a b"));
	CHECK(!vd_name_valid("caf\xc3\xa9"));
	memset(longname, 'a', sizeof(longname));
	longname[VD_NAME_MAX] = '\0';
	CHECK(vd_name_valid(longname));
	longname[VD_NAME_MAX] = 'a';
	longname[VD_NAME_MAX + 1] = '\0';
	CHECK(!vd_name_valid(longname));
}

static void
test_time(void)
{
	char buf[VD_TIME_STRLEN];

	CHECK_STR_EQ(vd_time_rfc3339(0, buf, sizeof(buf)),
	    "1970-01-01T00:00:00Z");
	CHECK_STR_EQ(vd_time_rfc3339(1764106770, buf, sizeof(buf)),
	    "2025-11-25T21:39:30Z");
	CHECK(vd_now() > 1700000000);
}

static void
test_read_secret(void)
{
	struct vd_secret *s;
	int p[2];
	const char in[] = "first line\r\nsecond # ; ' \" \\ line\n\nlast";

	CHECK(pipe(p) == 0);
	CHECK(write(p[1], in, sizeof(in) - 1) == (ssize_t)(sizeof(in) - 1));
	close(p[1]);
	CHECK_OK(vd_read_secret(p[0], NULL, 0, 0, &s));
	CHECK_STR_EQ((char *)s->data, "first line");
	CHECK_INT_EQ(s->len, 10);
	vd_secret_free(s);
	CHECK_OK(vd_read_secret(p[0], NULL, 0, 0, &s));
	CHECK_STR_EQ((char *)s->data, "second # ; ' \" \\ line");
	vd_secret_free(s);
	CHECK_INT_EQ(vd_read_secret(p[0], NULL, 0, 0, &s), VD_EINVAL);
	CHECK(s == NULL);
	CHECK_OK(vd_read_secret(p[0], NULL, 0, 0, &s));	/* no newline */
	CHECK_STR_EQ((char *)s->data, "last");
	vd_secret_free(s);
	CHECK_INT_EQ(vd_read_secret(p[0], NULL, 0, 0, &s), VD_EINVAL);
	close(p[0]);
}

static void
test_secret_mem(void)
{
	struct vd_secret *a, *b, *c;

	for (size_t n = 0; n < 70; n++) {
		CHECK((a = vd_secret_new(n)) != NULL);
		CHECK(((uintptr_t)a & 7) == 0);
		CHECK_INT_EQ(a->cap, n);
		CHECK_INT_EQ(a->len, 0);
		vd_secret_free(a);
	}
	CHECK((a = vd_secret_from("abc", 3)) != NULL);
	CHECK((b = vd_secret_dup(a)) != NULL);
	CHECK((c = vd_secret_from("abd", 3)) != NULL);
	CHECK(vd_secret_eq(a, b));
	CHECK(!vd_secret_eq(a, c));
	CHECK_INT_EQ(b->data[3], 0);
	vd_secret_free(a);
	vd_secret_free(b);
	vd_secret_free(c);
	vd_secret_free(NULL);
}

/*
 * A secret of capacity cap from the arena: wiped at free (its bytes read
 * back as zero), and, in a child, an overrun to the end of its slot of
 * slot bytes (into the canary) aborts at free.
 */
static void
arena_slot_checks(size_t cap, size_t slot)
{
	struct vd_secret *a;
	volatile unsigned char *raw;
	pid_t pid;
	int st;

	CHECK((a = vd_secret_new(cap)) != NULL);
	memset(a->data, 'y', cap);
	raw = (volatile unsigned char *)a;
	vd_secret_free(a);
	for (size_t i = 0; i < sizeof(*a) + cap; i++)
		CHECK_INT_EQ(raw[i], 0);
	fflush(NULL);
	CHECK((pid = fork()) >= 0);
	if (pid == 0) {
		if ((a = vd_secret_new(cap)) == NULL)
			_exit(3);
		memset(a->data, 'x', slot - sizeof(*a));	/* to the slot's end */
		vd_secret_free(a);
		_exit(0);	/* not caught */
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFSIGNALED(st));
	CHECK_INT_EQ(WTERMSIG(st), SIGABRT);
}

/*
 * The secure arena (common/mem.c): small secrets share one locked
 * allocation, the larger ones a rotation makes (a statement buffer, an
 * opened record) another; a freed slot is wiped, an overrun into the
 * slot's canary aborts at free, and more secrets than slots still get
 * memory.
 */
static void
test_secret_arena(void)
{
	struct vd_secret *v[700];

	arena_slot_checks(19, 256);
	arena_slot_checks(100, 256);
	arena_slot_checks(1200, 4096);

	/* More than the arenas hold: the rest come from sodium_malloc. */
	for (size_t i = 0; i < VD_NELEM(v); i++) {
		CHECK((v[i] = vd_secret_new(32)) != NULL);
		memset(v[i]->data, (int)(i & 0xff) | 1, 32);
		v[i]->len = 32;
	}
	for (size_t i = 0; i < VD_NELEM(v); i++) {
		CHECK_INT_EQ(v[i]->data[31], (i & 0xff) | 1);
		for (size_t k = 0; k < i; k += 97)
			CHECK(v[k] != v[i]);
	}
	for (size_t i = 0; i < VD_NELEM(v); i++)
		vd_secret_free(v[i]);
}

static void
test_errors(void)
{
	char buf[128];

	CHECK_STR_EQ(vd_strerror(0), "success");
	CHECK_STR_EQ(vd_strerror(VD_EBADKEY), "wrong key, or not a vault");
	CHECK_STR_EQ(vd_strerror(-2), "No such file or directory");
	vd_err_clear();
	CHECK_STR_EQ(vd_err_format(VD_ENOTFOUND, buf, sizeof(buf)),
	    "not found");
	CHECK_INT_EQ(vd_err_set(VD_ENOTFOUND, "target %s", "db1"),
	    VD_ENOTFOUND);
	CHECK_STR_EQ(vd_err_format(VD_ENOTFOUND, buf, sizeof(buf)),
	    "not found: target db1");
}

int
main(void)
{
	CHECK_OK(vd_mem_init());
	test_duration();
	test_names();
	test_time();
	test_read_secret();
	test_secret_mem();
	test_secret_arena();
	test_errors();
	printf("test_util: ok\n");
	return 0;
}
