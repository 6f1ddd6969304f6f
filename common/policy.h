/* policy.h - password policies (issue 3; placeholder). */
#ifndef VD_POLICY_H
#define VD_POLICY_H
#endif
