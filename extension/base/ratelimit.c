/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/base/base.h"

bool ratelimit_hit(struct ratelimit *r, uint64_t now_ms, unsigned long *held)
{
    /* A clock that went backwards counts as a period gone by: better one line too many. */
    bool due = !r->started || now_ms < r->last_ms || now_ms - r->last_ms >= r->period_ms;

    if (!due) {
        r->held++;
        return false;
    }
    *held = r->held;
    r->held = 0;
    r->last_ms = now_ms;
    r->started = true;
    return true;
}

unsigned long ratelimit_take_held(struct ratelimit *r)
{
    unsigned long n = r->held;

    r->held = 0;
    return n;
}
