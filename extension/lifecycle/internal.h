/* SPDX-License-Identifier: Apache-2.0 */
/* lifecycle's private parts: the invocation table entry and the state shared by lifecycle.c
 * (the table: INVOKE, SHUTDOWN, /response, /error, timeouts) and next_event.c (the /next hook). */
#ifndef TB_LIFECYCLE_INTERNAL_H
#define TB_LIFECYCLE_INTERNAL_H

#include "extension/lifecycle/lifecycle.h"

/* What an entry has seen (struct inv.flags). Whether it holds an invocation at all is its
 * key (struct lifecycle.keys, 0 when free). */
enum {
    INV_F_INVOKE = 1u << 1,    /* its INVOKE event arrived */
    INV_F_NEXT = 1u << 2,      /* its /next went through the proxy */
    INV_F_ENDED = 1u << 3,     /* answered, or given up on: the span is final */
    INV_F_RECORDING = 1u << 4, /* the span is live and sampled */
    INV_F_XRAY = 1u << 5,      /* xray holds the INVOKE event's valid X-Ray header */
    INV_F_BATCH = 1u << 6,     /* a batch event whose handler may report partial failures */
    INV_F_DURABLE = 1u << 7,   /* a durable execution: its /response says how it went */
};

struct inv {
    unsigned flags;     /* INV_F_* */
    struct tb_list age; /* in lifecycle.by_age, oldest first: what a full table gives up */
    char rid[REQUEST_ID_MAX];
    uint64_t invoke_ns;
    uint64_t deadline_ms;
    char arn[EXTAPI_ARN_MAX];
    struct trace_ctx xray;
    uint64_t started_ns; /* /next handed to the runtime (for the debug log's duration) */
    unsigned records;    /* records in the event (batches) */
    struct span span;
};

/* What the sandbox has seen so far (struct lifecycle.flags). */
enum {
    LC_F_COLDSTART_DONE = 1u << 0, /* an invocation span was started: later ones are warm */
    LC_F_BYPASS_WARNED = 1u << 1,  /* said once that the runtime bypasses the proxy */
    LC_F_PROXY_OFFERED = 1u << 2,  /* the ready file pointed the runtime at the proxy */
};

struct lifecycle {
    const struct lifecycle_conf *conf;
    struct ids *ids;
    struct lifecycle_hooks hooks;
    const struct log *lg;
    struct sampler sampler;
    char account_id[32];
    unsigned flags; /* LC_F_* */
    size_t dropped_pending;
    struct tb_list by_age; /* the entries in use, in the order they were made */
    struct ratelimit evict_log;
    struct ratelimit reserved_log;
    struct lifecycle_stats stats;
    size_t peak_event;
    struct promote_analysis analysis; /* scratch: large, so not on the stack */
    struct trace_ctx_full write;      /* scratch */
    struct inv table[LIFECYCLE_MAX_INFLIGHT];
    uint32_t keys[LIFECYCLE_MAX_INFLIGHT]; /* table[i]'s request_id_hash, 0 when free: lookups
                                            * and walks scan these 1 KB, not the 220 KB of
                                            * entries */
};

/* The entry for rid, or NULL. */
struct inv *lifecycle_find(struct lifecycle *lc, const char *rid);
/* The entry for rid, made if missing (a full table gives up its oldest entry); NULL for a
 * request id too long to be one. */
struct inv *lifecycle_find_or_add(struct lifecycle *lc, const char *rid, uint64_t now_ns);

/* An ended span goes to hooks.span_done, is counted and freed. */
void lifecycle_hand_off(struct lifecycle *lc, struct span *s);

/* The proxy hooks of next_event.c (see struct proxy_hooks). */
void lifecycle_next_event(void *arg, struct proxy_next *ev);
void lifecycle_next_delivered(void *arg, const char *rid);
/* Whether rid's /response body says something about its span: a batch's failed records, or a
 * durable execution's status. */
bool lifecycle_wants_response_body(void *arg, const char *rid);

#endif
