/* clockjump: notices that the sandbox was restored from a snapshot (SnapStart) or otherwise
 * had its clock stepped, by watching the gap between clocks that normally move together.
 *
 * CLOCK_MONOTONIC runs inside the sandbox; CLOCK_REALTIME is the wall clock, which Lambda sets
 * to the real time when it restores a snapshot, taken minutes or days earlier; CLOCK_BOOTTIME
 * also counts time the machine was suspended. A plain freeze between invocations moves them all
 * alike (the gaps stay put); a restore or a step of the wall clock moves one against the
 * other. A gap that changed by more than the threshold counts as a jump. Pure: the caller
 * passes the readings in (clockjump_now() reads them), so the logic is testable. */
#ifndef TB_CLOCKJUMP_H
#define TB_CLOCKJUMP_H

#include <stdbool.h>
#include <stdint.h>

/* NTP slews by at most 500 ppm (0.5 ms per second): far below this. */
#define CLOCKJUMP_THRESHOLD_NS (1000ULL * 1000 * 1000)

struct clock_reading {
    int64_t realtime_ns;
    int64_t monotonic_ns;
    int64_t boottime_ns;
};

struct clockjump {
    bool started;
    int64_t wall_gap; /* realtime - monotonic */
    int64_t boot_gap; /* boottime - monotonic */
};

void clockjump_now(struct clock_reading *r);

/* Records a reading; true when a gap moved by more than threshold_ns since the last reading
 * (the first reading only sets the reference). *jump_ns (may be NULL) gets the larger move. */
bool clockjump_observe(struct clockjump *cj, const struct clock_reading *r, uint64_t threshold_ns,
                       int64_t *jump_ns);

#endif
