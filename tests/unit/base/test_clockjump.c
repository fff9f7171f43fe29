/* SPDX-License-Identifier: Apache-2.0 */
/* clockjump: a restore or a stepped wall clock is noticed from the clock gaps; the ordinary
 * passing of time (a freeze between invocations moves every clock alike) is not. */
#include "extension/base/base.h"

#include "tests/lib/tap.h"

#define S 1000000000LL

static struct clock_reading at(int64_t mono, int64_t wall, int64_t boot)
{
    struct clock_reading r = {.realtime_ns = wall, .monotonic_ns = mono, .boottime_ns = boot};

    return r;
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct clockjump cj = {0};
    struct clock_reading r;
    int64_t jump = -1;

    r = at(100 * S, 1700000000 * S, 100 * S);
    ok(&t, !clockjump_observe(&cj, &r, CLOCKJUMP_THRESHOLD_NS, &jump) && jump == 0,
       "the first reading only sets the reference");
    r = at(400 * S, 1700000300 * S, 400 * S);
    ok(&t, !clockjump_observe(&cj, &r, CLOCKJUMP_THRESHOLD_NS, &jump),
       "five minutes frozen, every clock moved alike: no jump");
    r = at(400 * S + S / 1000, 1700000300 * S + S / 1000 + S / 2, 400 * S + S / 1000);
    ok(&t, !clockjump_observe(&cj, &r, CLOCKJUMP_THRESHOLD_NS, &jump),
       "half a second of wall-clock correction: under the threshold");
    /* SnapStart: the snapshot's monotonic clock goes on from where it was; the wall clock is
     * the real time, a day later. */
    r = at(401 * S, 1700086701 * S, 401 * S);
    ok(&t, clockjump_observe(&cj, &r, CLOCKJUMP_THRESHOLD_NS, &jump),
       "restore: the wall clock jumped");
    ok(&t, jump > 86000 * S && jump < 86500 * S, "restore: by about a day (%lld s)",
       (long long)(jump / S));
    r = at(402 * S, 1700086702 * S, 402 * S);
    ok(&t, !clockjump_observe(&cj, &r, CLOCKJUMP_THRESHOLD_NS, &jump),
       "after the jump the new gap is the reference");
    r = at(403 * S, 1700086603 * S, 403 * S);
    ok(&t, clockjump_observe(&cj, &r, CLOCKJUMP_THRESHOLD_NS, &jump),
       "a step backwards counts too");
    r = at(404 * S, 1700086604 * S, 464 * S);
    ok(&t, clockjump_observe(&cj, &r, CLOCKJUMP_THRESHOLD_NS, &jump) && jump == 60 * S,
       "a minute of suspend (boottime against monotonic) counts");
    clockjump_now(&r);
    ok(&t, r.monotonic_ns > 0 && r.realtime_ns > r.monotonic_ns && r.boottime_ns >= r.monotonic_ns,
       "clockjump_now reads all three clocks");
    return tap_done(&t);
}
