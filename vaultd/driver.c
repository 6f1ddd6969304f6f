/* driver.c - the MariaDB driver (placeholder). */
#include <mysql.h>

#include "driver.h"
