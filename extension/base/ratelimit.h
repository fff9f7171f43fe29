/* ratelimit: lets a repeated warning through the first time, then at most once per period,
 * with the count of the occurrences held back meanwhile, so that a flood of one event (every
 * invocation of a burst, say) cannot become a flood of log lines. The caller owns the state
 * and passes the time in, so the limiter is pure and testable. */
#ifndef TB_RATELIMIT_H
#define TB_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
    uint64_t period_ms;
    uint64_t last_ms;   /* when an occurrence was last let through */
    unsigned long held; /* occurrences held back since then */
    bool started;       /* one was let through already */
};

#define RATELIMIT_INIT(period)                                                                     \
    {                                                                                              \
        .period_ms = (period)                                                                      \
    }

/* Records one occurrence at now_ms (any monotonic-enough millisecond clock). true when this
 * one should be logged; *held is then the number held back since the last one logged (0 the
 * first time), and the count starts again. */
bool ratelimit_hit(struct ratelimit *r, uint64_t now_ms, unsigned long *held);

/* The occurrences held back since the last one logged (for a summary at shutdown); resets
 * the count. */
unsigned long ratelimit_take_held(struct ratelimit *r);

#endif
