/* ids: trace and span ids from the kernel's random source (getrandom), read in blocks so that
 * an id costs a memcpy, not a system call. The state is a value owned by the daemon. Ids are
 * never all-zero (W3C: an all-zero id is invalid).
 *
 * SnapStart: a snapshot copies the pool into every restored sandbox, so all of them would hand
 * out the same ids until their pools ran dry. After a restore the daemon calls ids_reseed(),
 * which throws the pool away; the next id comes from getrandom, which Lambda guarantees unique
 * per restored sandbox.
 *
 * Test build only (compiled with -DTB_IDS_TEST_SEED, never in build/tracebridge nor the layer):
 * TRACEBRIDGE_TEST_IDS_SEED=<number> fills the first pool from that seed, so that two processes
 * start with the same pool, as two sandboxes restored from one snapshot do. */
#ifndef TB_IDS_H
#define TB_IDS_H

#include <stddef.h>
#include <stdint.h>

#define IDS_POOL_BYTES 512

struct ids {
    uint8_t pool[IDS_POOL_BYTES];
    size_t used;       /* bytes of pool already handed out; == IDS_POOL_BYTES means empty */
    uint64_t fallback; /* splitmix64 state, only used if getrandom ever fails */
};

/* Starts with an empty pool (filled on first use). */
void ids_init(struct ids *g);

/* Discards every pooled id and the fallback state: the next id draws fresh entropy. */
void ids_reseed(struct ids *g);

/* Fills a fresh non-zero id. */
void ids_trace_id(struct ids *g, uint8_t out[16]);
void ids_span_id(struct ids *g, uint8_t out[8]);

#endif
