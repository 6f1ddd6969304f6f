/*
 * checkout_rec.h - checkout.c's readers of stored request records and of
 * the "checkout" field of a target's schedule record (issue 17), apart
 * from the daemon's types so that tests/fuzz/fuzz_checkout.c reaches
 * them.  Both take any JSON (a damaged record too) and never fail on it.
 */
#ifndef VD_CHECKOUT_REC_H
#define VD_CHECKOUT_REC_H

#include <stdint.h>

#include <jansson.h>

/*
 * A request record as answers show it: a copy with "id" and its times
 * (created_at, expires_at, until, ended_at, approvals[].at) as RFC 3339.
 * NULL when out of memory or req is not an object.
 */
json_t *vd_checkout_view(uint64_t id, const json_t *req);

/*
 * What status shows of a target's checkout, read from its schedule record
 * sched (may be NULL): {"request": ID, "holder": USER, "uid": UID,
 * "until": RFC 3339, "until_unix": SECS}, or NULL when the target is not
 * checked out (no "checkout" object, or one without a request id >= 1,
 * a holder name or an end time >= 1).
 */
json_t *vd_checkout_status(const json_t *sched);

#endif
