/*
 * grants.h - reads the lines of MariaDB's SHOW GRANTS for the privileges
 * that decide whether a session may change another account's password
 * (vd_drv_may_set_password(), driver.h).  Pure text, no <mysql.h>: the
 * driver feeds it the rows, the fuzz target (tests/fuzz/fuzz_grants.c)
 * anything.
 *
 * What MariaDB 10.11 asks for (checked on the server, see
 * docs/operations.md "Pre-flight"):
 *   SET PASSWORD FOR 'u'@'h' (another account)  UPDATE on `mysql`.* or *.*;
 *                                               CREATE USER alone gets 1044
 *   ALTER USER 'u'@'h' IDENTIFIED VIA …         CREATE USER, or UPDATE on
 *                                               `mysql`.* or *.* (own
 *                                               account included)
 *   SET PASSWORD for the session's own account  nothing
 * A table-level UPDATE on mysql.global_priv is not enough for either.
 */
#ifndef VD_GRANTS_H
#define VD_GRANTS_H

#include <stddef.h>

#define VD_GRANT_UPDATE_ALL	0x1u	/* UPDATE (or ALL) ON *.* */
#define VD_GRANT_UPDATE_MYSQL	0x2u	/* UPDATE (or ALL) ON `mysql`.* */
#define VD_GRANT_CREATE_USER	0x4u	/* CREATE USER (or ALL) ON *.* */

/*
 * Returns the VD_GRANT_* bits one SHOW GRANTS line (len bytes, need not be
 * NUL-terminated) gives: "GRANT <privileges> ON <object> TO …".  Role
 * grants ("GRANT `r` TO …"), SET DEFAULT ROLE lines, PROXY, column and
 * table privileges, and anything not understood give 0, so an unknown form
 * can only under-state what a session may do.  The line is read, never
 * copied (it may hold the account's password hash).
 */
unsigned vd_grants_line(const char *line, size_t len);

#endif
