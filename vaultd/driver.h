/* driver.h - the MariaDB driver (placeholder). */
#ifndef VD_DRIVER_H
#define VD_DRIVER_H
#endif
