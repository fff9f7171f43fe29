/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/spans/spans.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#ifdef TB_IDS_TEST_SEED
/* The state a snapshot would copy: a full pool, identical in every process given the seed. */
static void fill_from_test_seed(struct ids *g)
{
    const char *s = getenv("TRACEBRIDGE_TEST_IDS_SEED");
    uint64_t st;

    if (!s || !*s)
        return;
    st = strtoull(s, NULL, 10);
    for (size_t i = 0; i < IDS_POOL_BYTES; i += 8) {
        uint64_t v = splitmix64(&st);
        memcpy(g->pool + i, &v, 8);
    }
    g->used = 0;
}
#endif

void ids_init(struct ids *g)
{
    memset(g, 0, sizeof(*g));
    g->used = IDS_POOL_BYTES;
#ifdef TB_IDS_TEST_SEED
    fill_from_test_seed(g);
#endif
}

void ids_reseed(struct ids *g)
{
    explicit_bzero(g->pool, sizeof(g->pool));
    g->used = IDS_POOL_BYTES;
    g->fallback = 0;
}

/* getrandom() cannot fail for small reads once the pool is initialised; should it ever
 * (seccomp, ancient kernel), ids still have to be unique, so fall back to a clock-seeded
 * generator rather than hand out zeros. */
static void fill_fallback(struct ids *g)
{
    struct timespec ts;

    if (g->fallback == 0) {
        clock_gettime(CLOCK_REALTIME, &ts);
        g->fallback = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
                      ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)g;
    }
    for (size_t i = 0; i < IDS_POOL_BYTES; i += 8) {
        uint64_t v = splitmix64(&g->fallback);
        memcpy(g->pool + i, &v, 8);
    }
}

static void refill(struct ids *g)
{
    size_t got = 0;

    while (got < IDS_POOL_BYTES) {
        ssize_t n = getrandom(g->pool + got, IDS_POOL_BYTES - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fill_fallback(g);
            break;
        }
        got += (size_t)n;
    }
    g->used = 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

static void take(struct ids *g, uint8_t *out, size_t n)
{
    do { /* all-zero ids are invalid: draw again */
        if (g->used + n > IDS_POOL_BYTES)
            refill(g);
        memcpy(out, g->pool + g->used, n);
        g->used += n;
    } while (all_zero(out, n));
}

void ids_trace_id(struct ids *g, uint8_t out[16])
{
    take(g, out, 16);
}

void ids_span_id(struct ids *g, uint8_t out[8])
{
    take(g, out, 8);
}
