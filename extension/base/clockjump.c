/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/base/base.h"

#include <time.h>

static int64_t read_ns(clockid_t id)
{
    struct timespec ts;

    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void clockjump_now(struct clock_reading *r)
{
    r->monotonic_ns = read_ns(CLOCK_MONOTONIC);
    r->realtime_ns = read_ns(CLOCK_REALTIME);
    r->boottime_ns = read_ns(CLOCK_BOOTTIME);
}

static int64_t magnitude(int64_t v)
{
    return v < 0 ? -v : v;
}

bool clockjump_observe(struct clockjump *cj, const struct clock_reading *r, uint64_t threshold_ns,
                       int64_t *jump_ns)
{
    int64_t wall = r->realtime_ns - r->monotonic_ns;
    int64_t boot = r->boottime_ns - r->monotonic_ns;
    int64_t dw = magnitude(wall - cj->wall_gap);
    int64_t db = magnitude(boot - cj->boot_gap);
    bool started = cj->started;

    cj->started = true;
    cj->wall_gap = wall;
    cj->boot_gap = boot;
    if (jump_ns)
        *jump_ns = started ? (dw > db ? dw : db) : 0;
    return started && (dw > (int64_t)threshold_ns || db > (int64_t)threshold_ns);
}
