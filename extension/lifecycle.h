/* lifecycle: one invocation span per invocation, from the proxy's view of the Runtime API and
 * the Extensions API events, correlated by request id in either order (INVOKE may arrive before
 * or after the runtime's /next response; on Managed Instances there is no INVOKE at all and many
 * invocations are in flight).
 *
 *   proxy /next response   analyse the event, decide the parent (promoted context or a new
 *                          root) and sampling, create the span with a fresh span id, and write
 *                          that span as the parent into the event (promote_apply);
 *   /next delivered        the span starts;
 *   /response, /error      the span ends (ERROR + exception event for errors and streaming
 *                          error trailers);
 *   /restore/next 200      SnapStart restore: hooks.restored (the daemon reseeds the ids);
 *   next INVOKE, SHUTDOWN  invocations still open are ended as timeout or crash
 *                          (tracebridge.invocation.outcome); INVOKE events the proxy never saw
 *                          become spans made from the event alone (tracebridge.bypass=true,
 *                          from INVOKE receipt to the next INVOKE/SHUTDOWN: the best bound
 *                          available when the runtime bypasses the proxy).
 * Ended spans go to hooks.span_done. The table is bounded (LIFECYCLE_MAX_INFLIGHT). */
#ifndef TB_LIFECYCLE_H
#define TB_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

#include "extension/base/log.h"
#include "extension/conf.h"
#include "extension/extapi.h"
#include "extension/ids.h"
#include "extension/sampler.h"
#include "extension/span.h"
#include "proxy/proxy.h"

#define LIFECYCLE_MAX_INFLIGHT 256

struct lifecycle_hooks {
    void *arg;
    /* An ended, sampled span; the callee may take its contents (span_free is called after). */
    void (*span_done)(void *arg, struct span *s);
    /* An invocation ended at the proxy (response or error), for flush timing. */
    void (*invocation_end)(void *arg, const char *request_id);
    /* A /next event arrived, before any id is drawn for it (the daemon checks the clocks for a
     * restore it was not told about). */
    void (*next_event_begin)(void *arg);
    /* The runtime's GET /runtime/restore/next returned 200 through the proxy: the sandbox was
     * restored from a SnapStart snapshot. */
    void (*restored)(void *arg);
};

enum inv_state {
    INV_UNKNOWN = 0, /* the proxy has not seen this request id */
    INV_RUNNING,     /* /next went through the proxy, no response yet */
    INV_ENDED,       /* /response or /error seen */
};

struct lifecycle;

/* conf, ids must outlive the lifecycle. */
struct lifecycle *lifecycle_new(const struct conf *c, struct ids *ids,
                                const struct lifecycle_hooks *hooks, const struct log *lg);
void lifecycle_free(struct lifecycle *lc);

/* cloud.account.id for spans (from the register response). */
void lifecycle_set_account_id(struct lifecycle *lc, const char *account_id);

/* Whether the runtime was offered the proxy (the ready file was written). Only then does an
 * INVOKE the proxy never saw mean that the runtime ignores AWS_LAMBDA_EXEC_WRAPPER (warned
 * once); otherwise such invocations are expected. Default: false. */
void lifecycle_set_proxy_offered(struct lifecycle *lc, bool offered);

/* Spans dropped elsewhere (buffer, failed export) to report as tracebridge.dropped_spans on the
 * next span. */
void lifecycle_add_dropped(struct lifecycle *lc, size_t n);

/* Proxy hooks: pass lifecycle_proxy_hooks(lc) to proxy_new. */
struct proxy_hooks lifecycle_proxy_hooks(struct lifecycle *lc);

/* Extensions API events. now_ns is the wall clock at receipt. */
void lifecycle_on_invoke(struct lifecycle *lc, const struct extapi_event *ev, uint64_t now_ns);
void lifecycle_on_shutdown(struct lifecycle *lc, const struct extapi_event *ev, uint64_t now_ns);

enum inv_state lifecycle_state(const struct lifecycle *lc, const char *request_id);

struct lifecycle_stats {
    unsigned long spans;    /* spans handed to span_done */
    unsigned long bypassed; /* INVOKE events never seen at the proxy */
    unsigned long timeouts;
    unsigned long crashes;
    unsigned long rewrites; /* events whose body or headers were changed */
    unsigned long inflight; /* entries in the table */
};
void lifecycle_get_stats(const struct lifecycle *lc, struct lifecycle_stats *out);

/* The largest /next event (as received or as rewritten) since the last call. */
size_t lifecycle_take_peak_event(struct lifecycle *lc);

#endif
