/* policy.c - password policies (issue 3; placeholder). */
#include "policy.h"
