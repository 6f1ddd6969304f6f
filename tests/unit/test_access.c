/*
 * test_access.c - who a caller is and what it may do: the role checks of
 * vaultd/config.c (vd_config_roles, vd_config_can_reveal) on constructed
 * configurations and group lists, and vaultd/access.c (the peer's real
 * groups from SO_PEERGROUPS, the name lookup and its cache).
 */
#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "check.h"
#include "config.h"
#include "mem.h"
#include "proto.h"
#include "util.h"

/*
 * Users and groups every Debian system has: root (0), daemon (1), bin (2);
 * groups sys (3), adm (4), disk (6).
 */
static const char conf[] =
    "[vault]\n"
    "data_dir = /nonexistent/vault\n"
    "[access]\n"
    "admin = root\n"
    "operator = daemon, @adm\n"
    "reveal = bin:t1 t2, @sys:t3\n"
    "auditor = @disk\n";

static struct vd_config *
load(const char *text)
{
	struct vd_config *cfg = NULL;

	CHECK_OK(vd_config_load_string("test.conf", text, &cfg));
	return cfg;
}

static void
test_roles(void)
{
	struct vd_config *cfg = load(conf);
	gid_t none[] = { 999 };
	gid_t adm_second[] = { 999, 4 };
	gid_t disk_last[] = { 999, 998, 997, 6 };
	gid_t rootgrp[] = { 0 };
	gid_t both[] = { 4, 6 };

	/* Users match by name, whatever their groups. */
	CHECK_INT_EQ(vd_config_roles(cfg, "root", none, 1), VD_ROLE_ADMIN);
	CHECK_INT_EQ(vd_config_roles(cfg, "daemon", none, 1),
	    VD_ROLE_OPERATOR);
	CHECK_INT_EQ(vd_config_roles(cfg, "bin", none, 1), VD_ROLE_REVEAL);
	/* Exactly the name: no prefix, no longer name, no "uid:N". */
	CHECK_INT_EQ(vd_config_roles(cfg, "roo", none, 1), 0);
	CHECK_INT_EQ(vd_config_roles(cfg, "rootx", none, 1), 0);
	CHECK_INT_EQ(vd_config_roles(cfg, "uid:0", none, 1), 0);
	CHECK_INT_EQ(vd_config_roles(cfg, NULL, none, 1), 0);
	/* Group root (gid 0) is no admin: admin names the user root. */
	CHECK_INT_EQ(vd_config_roles(cfg, "nobody", rootgrp, 1), 0);
	/* Groups match wherever they stand in the list. */
	CHECK_INT_EQ(vd_config_roles(cfg, "nobody", adm_second, 2),
	    VD_ROLE_OPERATOR);
	CHECK_INT_EQ(vd_config_roles(cfg, "nobody", disk_last, 4),
	    VD_ROLE_AUDITOR);
	CHECK_INT_EQ(vd_config_roles(cfg, "nobody", both, 2),
	    VD_ROLE_OPERATOR | VD_ROLE_AUDITOR);
	CHECK_INT_EQ(vd_config_roles(cfg, "daemon", disk_last, 4),
	    VD_ROLE_OPERATOR | VD_ROLE_AUDITOR);
	/* Only ngroups entries count. */
	CHECK_INT_EQ(vd_config_roles(cfg, "nobody", disk_last, 3), 0);
	CHECK_INT_EQ(vd_config_roles(cfg, "nobody", both, 0), 0);
	vd_config_free(cfg);
}

static void
test_can_reveal(void)
{
	struct vd_config *cfg = load(conf);
	gid_t none[] = { 999 };
	gid_t sys_second[] = { 999, 3 };
	gid_t adm[] = { 4 };

	/* Admin reveals everything. */
	CHECK(vd_config_can_reveal(cfg, "root", none, 1, "t1"));
	CHECK(vd_config_can_reveal(cfg, "root", none, 1, "other"));
	/* A user's entry lists its targets, exactly. */
	CHECK(vd_config_can_reveal(cfg, "bin", none, 1, "t1"));
	CHECK(vd_config_can_reveal(cfg, "bin", none, 1, "t2"));
	CHECK(!vd_config_can_reveal(cfg, "bin", none, 1, "t3"));
	CHECK(!vd_config_can_reveal(cfg, "bin", none, 1, "t"));
	CHECK(!vd_config_can_reveal(cfg, "bin", none, 1, "t10"));
	/* A group's entry, by a group anywhere in the list. */
	CHECK(vd_config_can_reveal(cfg, "nobody", sys_second, 2, "t3"));
	CHECK(!vd_config_can_reveal(cfg, "nobody", sys_second, 2, "t1"));
	CHECK(!vd_config_can_reveal(cfg, "nobody", sys_second, 1, "t3"));
	/* Entries add up: bin in group sys reveals t1, t2 and t3. */
	CHECK(vd_config_can_reveal(cfg, "bin", sys_second, 2, "t3"));
	/* Other roles reveal nothing. */
	CHECK(!vd_config_can_reveal(cfg, "daemon", none, 1, "t1"));
	CHECK(!vd_config_can_reveal(cfg, "nobody", adm, 1, "t1"));
	CHECK(!vd_config_can_reveal(cfg, "uid:2", none, 1, "t1"));
	vd_config_free(cfg);

	/* An entry without targets reveals every target. */
	cfg = load("[vault]\ndata_dir = /nonexistent\n[access]\n"
	    "reveal = daemon, @adm:t1\n");
	CHECK(vd_config_can_reveal(cfg, "daemon", none, 1, "anything"));
	CHECK(!vd_config_can_reveal(cfg, "nobody", adm, 1, "anything"));
	CHECK(vd_config_can_reveal(cfg, "nobody", adm, 1, "t1"));
	CHECK_INT_EQ(vd_config_roles(cfg, "daemon", none, 1),
	    VD_ROLE_REVEAL);
	vd_config_free(cfg);

	/* No [access]: nobody has a role, not even root. */
	cfg = load("[vault]\ndata_dir = /nonexistent\n");
	CHECK_INT_EQ(vd_config_roles(cfg, "root", none, 1), 0);
	CHECK(!vd_config_can_reveal(cfg, "root", none, 1, "t1"));
	vd_config_free(cfg);
}

static void
test_config_refuses(void)
{
	static const char *const bad[] = {
		"[access]\nadmin = @no-such-group-vdtest\n",
		"[access]\nadmin = no-such-user-vdtest\n",
		"[access]\noperator = daemon:t1\n",	/* targets: reveal only */
		"[access]\nreveal = bin:\n",
		"[access]\nreveal = bin:../x\n",
		"[access]\nreveal = @\n",
		"[access]\nwriter = root\n",
	};
	struct vd_config *cfg;
	char text[512];

	for (size_t i = 0; i < VD_NELEM(bad); i++) {
		snprintf(text, sizeof(text), "[vault]\ndata_dir = /x\n%s",
		    bad[i]);
		cfg = NULL;
		CHECK_INT_EQ(vd_config_load_string("bad.conf", text, &cfg),
		    VD_ECONFIG);
		CHECK(cfg == NULL);
	}
}

static int
same_set(const gid_t *a, int na, const gid_t *b, int nb)
{
	if (na != nb)
		return 0;
	for (int i = 0; i < na; i++) {
		int found = 0;

		for (int j = 0; j < nb; j++)
			found |= a[i] == b[j];
		if (!found)
			return 0;
	}
	return 1;
}

/*
 * The groups are the peer's own at connect time: set supplementary groups
 * that the group database does not give root, make the pair, drop them
 * again; the peer's groups are still the ones it had.
 */
static void
test_peer_groups(void)
{
	/* The primary gid among them too: kept once, first. */
	gid_t mine[] = { 4, 6, getegid(), 7 }, want[4];
	gid_t saved[VD_CALLER_MAXGROUPS];
	struct vd_caller c;
	int sv[2], nsaved;

	if (geteuid() != 0) {
		/* Unprivileged: at least the own groups come back. */
		nsaved = getgroups(VD_CALLER_MAXGROUPS, saved);
		CHECK(nsaved >= 0);
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		CHECK_OK(vd_access_peer(sv[0], &c));
		CHECK_INT_EQ(c.uid, getuid());
		CHECK_INT_EQ(c.groups[0], getegid());
		CHECK_INT_EQ(c.userdb_groups, 0);
		close(sv[0]);
		close(sv[1]);
		printf("test_peer_groups: not root, setgroups part skipped\n");
		return;
	}
	nsaved = getgroups(VD_CALLER_MAXGROUPS, saved);
	CHECK(nsaved >= 0);
	CHECK(setgroups(VD_NELEM(mine), mine) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(setgroups(0, NULL) == 0);
	CHECK_OK(vd_access_peer(sv[0], &c));
	CHECK_INT_EQ(c.uid, 0);
	CHECK_INT_EQ(c.gid, getegid());
	CHECK_INT_EQ(c.pid, getpid());
	CHECK_INT_EQ(c.userdb_groups, 0);
	CHECK_INT_EQ(c.truncated, 0);
	CHECK_STR_EQ(c.user, "uid:0");		/* named off the loop, later */
	want[0] = getegid();
	want[1] = 4;
	want[2] = 6;
	want[3] = 7;
	CHECK_INT_EQ(c.groups[0], getegid());	/* primary first */
	CHECK(same_set(c.groups, c.ngroups, want, 4));
	/* The lookup names it and leaves the kernel's groups alone. */
	CHECK_OK(vd_access_lookup(&c));
	CHECK_STR_EQ(c.user, "root");
	CHECK(same_set(c.groups, c.ngroups, want, 4));
	/* Roles by those groups: adm (4) operator, disk (6) auditor. */
	{
		struct vd_config *cfg = load(conf);

		CHECK_INT_EQ(vd_config_roles(cfg, "nobody", c.groups,
		    c.ngroups), VD_ROLE_OPERATOR | VD_ROLE_AUDITOR);
		vd_config_free(cfg);
	}
	close(sv[0]);
	close(sv[1]);

	/* More groups than kept: the first ones, and the flag. */
	{
		gid_t many[VD_CALLER_MAXGROUPS + 10];

		for (size_t i = 0; i < VD_NELEM(many); i++)
			many[i] = (gid_t)(20000 + i);
		CHECK(setgroups(VD_NELEM(many), many) == 0);
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		CHECK(setgroups(0, NULL) == 0);
		CHECK_OK(vd_access_peer(sv[0], &c));
		CHECK_INT_EQ(c.ngroups, VD_CALLER_MAXGROUPS);
		CHECK_INT_EQ(c.truncated, 1);
		close(sv[0]);
		close(sv[1]);
	}
	CHECK(setgroups((size_t)nsaved, saved) == 0);
}

static void
test_lookup_cache(void)
{
	struct vd_caller c, d;
	uint64_t t0 = 5000;

	memset(&c, 0, sizeof(c));
	c.uid = 2;			/* bin */
	c.gid = 2;
	snprintf(c.user, sizeof(c.user), "uid:2");
	CHECK_OK(vd_access_lookup(&c));
	CHECK_STR_EQ(c.user, "bin");

	/* An unknown uid keeps its number (matches no user entry). */
	memset(&d, 0, sizeof(d));
	d.uid = 3999999;
	CHECK_OK(vd_access_lookup(&d));
	CHECK_STR_EQ(d.user, "uid:3999999");

	/* Group database fallback: only where SO_PEERGROUPS is missing. */
	memset(&d, 0, sizeof(d));
	d.uid = 0;
	d.gid = 0;
	d.groups[0] = 0;
	d.ngroups = 1;
	d.userdb_groups = 1;
	CHECK_OK(vd_access_lookup(&d));
	CHECK_STR_EQ(d.user, "root");
	CHECK(d.ngroups >= 1 && d.groups[0] == 0);

	memset(&d, 0, sizeof(d));
	d.uid = 2;
	d.gid = 2;
	snprintf(d.user, sizeof(d.user), "uid:2");
	CHECK_INT_EQ(vd_access_cached(&d, t0), 0);	/* empty */
	vd_access_remember(&c, t0);
	CHECK_INT_EQ(vd_access_cached(&d, t0 + 10), 1);
	CHECK_STR_EQ(d.user, "bin");
	/* Stale after the TTL. */
	snprintf(d.user, sizeof(d.user), "uid:2");
	CHECK_INT_EQ(vd_access_cached(&d, t0 + VD_ACCESS_CACHE_TTL), 0);
	CHECK_STR_EQ(d.user, "uid:2");
	/* Another uid is not served bin's name. */
	d.uid = 3;
	CHECK_INT_EQ(vd_access_cached(&d, t0 + 10), 0);
	CHECK_STR_EQ(d.user, "uid:2");
	/* A caller needing database groups is not served a name-only entry. */
	d.uid = 2;
	d.userdb_groups = 1;
	CHECK_INT_EQ(vd_access_cached(&d, t0 + 10), 0);
	/* Many uids: the cache stays bounded and keeps the newest. */
	for (uid_t u = 100; u < 200; u++) {
		memset(&d, 0, sizeof(d));
		d.uid = u;
		snprintf(d.user, sizeof(d.user), "u%u", (unsigned)u);
		vd_access_remember(&d, t0 + 20 + u);
	}
	memset(&d, 0, sizeof(d));
	d.uid = 199;
	CHECK_INT_EQ(vd_access_cached(&d, t0 + 300), 1);
	CHECK_STR_EQ(d.user, "u199");
}

int
main(void)
{
	vd_mem_init();
	vd_proto_init();
	test_roles();
	test_can_reveal();
	test_config_refuses();
	test_peer_groups();
	test_lookup_cache();
	printf("test_access: ok\n");
	return 0;
}
