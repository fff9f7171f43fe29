/* SPDX-License-Identifier: Apache-2.0 */
/* ids: uniqueness, never all-zero, pool refills. */
#include "extension/spans/spans.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/tap.h"

static bool zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i])
            return false;
    }
    return true;
}

static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct ids g;
    enum { N = 5000 };
    uint8_t(*tids)[16] = calloc(N, 16);
    uint8_t sid[8];
    bool any_zero = false;
    int dups = 0;
    unsigned bits = 0;

    ids_init(&g);
    for (int i = 0; i < N; i++) {
        ids_trace_id(&g, tids[i]);
        ids_span_id(&g, sid);
        any_zero |= zero(tids[i], 16) || zero(sid, 8);
        for (int b = 0; b < 16; b++)
            bits |= tids[i][b];
    }
    qsort(tids, N, 16, cmp16);
    for (int i = 1; i < N; i++)
        dups += memcmp(tids[i - 1], tids[i], 16) == 0;
    ok(&t, !any_zero, "no all-zero ids in %d draws (pool refilled %d times)", N,
       N * 24 / IDS_POOL_BYTES);
    is_int(&t, dups, 0, "5000 trace ids are distinct");
    is_int(&t, bits, 0xff, "every bit position is used");

    /* Force the "zero draw" path: a pool of zeros must not produce a zero id. */
    memset(g.pool, 0, sizeof(g.pool));
    g.used = 0;
    ids_span_id(&g, sid);
    ok(&t, !zero(sid, 8), "a zeroed pool is skipped, the id is still non-zero");

    /* SnapStart: what was pooled before a restore is never handed out after ids_reseed. */
    {
        uint8_t pooled[IDS_POOL_BYTES];
        uint8_t after[8];
        size_t at;
        ids_init(&g);
        ids_span_id(&g, sid); /* the pool is full now, minus one id */
        at = g.used;
        memcpy(pooled, g.pool, sizeof(pooled));
        ids_reseed(&g);
        is_int(&t, g.used, IDS_POOL_BYTES, "reseed: the pool is empty");
        ids_span_id(&g, after);
        ok(&t, memcmp(after, pooled + at, 8) != 0, "reseed: the next id is not the pooled one");
        ok(&t, memcmp(g.pool + 8, pooled + 8, IDS_POOL_BYTES - 8) != 0,
           "reseed: the refill is fresh entropy, not the old pool");
    }
    free(tids);
    return tap_done(&t);
}
