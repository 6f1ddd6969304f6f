/*
 * test_grants.c - vaultd/grants.c: SHOW GRANTS lines as MariaDB 10.11
 * prints them (copied from a server, hashes replaced) to the privileges a
 * password change needs.
 */
#include <string.h>

#include "check.h"
#include "grants.h"

static unsigned
g(const char *line)
{
	return vd_grants_line(line, strlen(line));
}

int
main(void)
{
	/* What the server prints. */
	CHECK_INT_EQ(g("GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` "
	    "WITH GRANT OPTION"), VD_GRANT_UPDATE_ALL | VD_GRANT_CREATE_USER);
	CHECK_INT_EQ(g("GRANT UPDATE ON `mysql`.* TO `a1`@`localhost`"),
	    VD_GRANT_UPDATE_MYSQL);
	CHECK_INT_EQ(g("GRANT CREATE USER ON *.* TO `r1`"),
	    VD_GRANT_CREATE_USER);
	CHECK_INT_EQ(g("GRANT UPDATE ON *.* TO `a6`@`localhost` IDENTIFIED BY "
	    "PASSWORD '*0000000000000000000000000000000000000000'"),
	    VD_GRANT_UPDATE_ALL);
	CHECK_INT_EQ(g("GRANT SELECT, UPDATE, CREATE USER ON *.* TO `x`@`%`"),
	    VD_GRANT_UPDATE_ALL | VD_GRANT_CREATE_USER);
	CHECK_INT_EQ(g("GRANT ALL PRIVILEGES ON `mysql`.* TO `x`@`h`"),
	    VD_GRANT_UPDATE_MYSQL);
	/* What gives nothing: usage, other schemas, tables, roles, proxy. */
	CHECK_INT_EQ(g("GRANT USAGE ON *.* TO `a5`@`localhost` IDENTIFIED BY "
	    "PASSWORD '*0000000000000000000000000000000000000000'"), 0);
	CHECK_INT_EQ(g("GRANT UPDATE ON `mysql`.`global_priv` TO "
	    "`a3`@`localhost`"), 0);
	CHECK_INT_EQ(g("GRANT UPDATE ON `mysqlx`.* TO `x`@`h`"), 0);
	CHECK_INT_EQ(g("GRANT SELECT ON `mysql`.* TO `x`@`h`"), 0);
	CHECK_INT_EQ(g("GRANT `r1` TO `a5`@`localhost`"), 0);
	CHECK_INT_EQ(g("GRANT PROXY ON ``@`%` TO `root`@`localhost` WITH "
	    "GRANT OPTION"), 0);
	CHECK_INT_EQ(g("SET DEFAULT ROLE `r1` FOR `a5`@`localhost`"), 0);
	CHECK_INT_EQ(g("GRANT UPDATE (`c`, `d`) ON `db`.`t` TO `x`@`h`"), 0);
	/* CREATE USER on a schema is not the global privilege. */
	CHECK_INT_EQ(g("GRANT CREATE USER ON `mysql`.* TO `x`@`h`"), 0);
	/* A user name holding " ON " stays inside its quotes. */
	CHECK_INT_EQ(g("GRANT `a ON *.* TO b` TO `u`@`h`"), 0);
	/* Truncated and empty input. */
	CHECK_INT_EQ(g("GRANT UPDATE ON *.*"), VD_GRANT_UPDATE_ALL);
	CHECK_INT_EQ(g("GRANT UPDATE ON"), 0);
	CHECK_INT_EQ(g(""), 0);
	CHECK_INT_EQ(vd_grants_line(NULL, 0), 0);
	CHECK_INT_EQ(vd_grants_line("GRANT UPDATE ON *.* TO x", 12), 0);
	printf("test_grants: ok\n");
	return 0;
}
