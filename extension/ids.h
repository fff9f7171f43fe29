/* ids: trace and span ids from the kernel's random source (getrandom), read in blocks so that
 * an id costs a memcpy, not a system call. The state is a value owned by the daemon. Ids are
 * never all-zero (W3C: an all-zero id is invalid). */
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

/* Fills a fresh non-zero id. */
void ids_trace_id(struct ids *g, uint8_t out[16]);
void ids_span_id(struct ids *g, uint8_t out[8]);

#endif
