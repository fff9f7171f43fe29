/* SPDX-License-Identifier: Apache-2.0 */
/* lifecycle: the Extensions API client (register, event/next, INVOKE/SHUTDOWN) and the
 * invocation table that correlates INVOKE events with the proxy's /next, /response and /error
 * to finish each invocation span. Includes base/, net/, proxy/, spans/. */
#ifndef TB_LIFECYCLE_LIFECYCLE_H
#define TB_LIFECYCLE_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "extension/base/base.h"
#include "extension/net/net.h"
#include "extension/spans/spans.h"
#include "proxy/proxy.h"

/* ---- extapi ------------------------------------------------------------------------ */
/* extapi: the Lambda Extensions API client (2020-01-01) on the daemon's loop, through httpc.
 *   register     POST /extension/register, Lambda-Extension-Name = the executable's basename,
 *                events INVOKE+SHUTDOWN (SHUTDOWN only on Managed Instances), and
 *                Lambda-Extension-Accept-Feature: accountId; keeps Lambda-Extension-Identifier.
 *   next         GET /extension/event/next with no timeout (Lambda freezes us inside it);
 *                transport failures are retried with a short backoff, never given up.
 * tracebridge never reports init/error or exit/error: it fails open instead (a broken
 * configuration is logged and the function runs without it).
 * Event bodies are parsed strictly with cJSON, size-bounded; unknown fields are ignored. */
#define EXTAPI_EVENT_MAX   (64 * 1024) /* larger event bodies are rejected */
#define EXTAPI_ID_MAX      128         /* Lambda-Extension-Identifier (a UUID), NUL included */
#define EXTAPI_ARN_MAX     512
#define EXTAPI_TRACING_MAX 512

enum extapi_event_type { EXTAPI_INVOKE = 1, EXTAPI_SHUTDOWN };

struct extapi_event {
    enum extapi_event_type type;
    uint64_t deadline_ms; /* epoch ms */
    char request_id[REQUEST_ID_MAX];
    char function_arn[EXTAPI_ARN_MAX];
    char tracing_value[EXTAPI_TRACING_MAX]; /* X-Amzn-Trace-Id value, "" when absent */
    char shutdown_reason[32];               /* lower-cased: spindown, timeout, failure, ... */
};

struct extapi_registration {
    char extension_id[EXTAPI_ID_MAX]; /* Lambda-Extension-Identifier */
    char function_name[256];
    char function_version[64];
    char handler[256];
    char account_id[32]; /* "" unless the accountId feature was granted */
};

/* Parses an /event/next body. 0, or -EBADMSG when it is not a valid INVOKE/SHUTDOWN event
 * (missing eventType, INVOKE without requestId, wrong types, oversize strings). */
int extapi_parse_event(const char *json, size_t len, struct extapi_event *ev);

/* Parses a register response body into reg (extension_id untouched). 0 or -EBADMSG. */
int extapi_parse_register(const char *json, size_t len, struct extapi_registration *reg);

/* Called from the loop, never from inside an extapi_* call. reg and ev are borrowed until the
 * callback returns: copy what must be kept. */
struct extapi_hooks {
    void *arg;
    /* Registration finished: err 0 and reg, or -errno (-EACCES for a 4xx answer; reg NULL). */
    void (*registered)(void *arg, int err, const struct extapi_registration *reg);
    /* An event arrived (after extapi_next). */
    void (*event)(void *arg, const struct extapi_event *ev);
};

struct extapi_conf {
    const char *runtime_api; /* host:port of the real API */
    const char *name;        /* extension name (argv[0]; its basename is used) */
    bool shutdown_only;      /* Managed Instances: INVOKE may not be subscribed */
};

struct extapi;

/* The callee copies c (its strings too) and hooks. Borrowed, and so required to outlive the
 * client: loop, the httpc (whose requests extapi_free cancels) and lg. NULL with *err. */
struct extapi *extapi_new(uv_loop_t *loop, struct httpc *h, const struct extapi_conf *c,
                          const struct extapi_hooks *hooks, const struct log *lg, int *err);
/* Cancels the requests in flight (no hook runs after this); the memory is released once the
 * loop has run the close callback. */
void extapi_free(struct extapi *e);

/* Starts registration (retried a few times on transport errors). 0 or -errno. */
int extapi_register(struct extapi *e);

/* Starts the /event/next long-poll; the event hook fires once per call. -EALREADY when one is
 * already outstanding, -ENOTCONN before registration. */
int extapi_next(struct extapi *e);

/* ---- lifecycle --------------------------------------------------------------------- */
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
 *   next INVOKE, SHUTDOWN  invocations still open are ended as timeout or crash
 *                          (tracebridge.invocation.outcome); INVOKE events the proxy never saw
 *                          become spans made from the event alone (tracebridge.bypass=true,
 *                          from INVOKE receipt to the next INVOKE/SHUTDOWN: the best bound
 *                          available when the runtime bypasses the proxy).
 * Ended spans go to hooks.span_done. The table is bounded (LIFECYCLE_MAX_INFLIGHT). */
#define LIFECYCLE_MAX_INFLIGHT 256

/* Called synchronously from the lifecycle_* entry points and the proxy hooks. */
struct lifecycle_hooks {
    void *arg;
    /* An ended, sampled span. The lifecycle owns it and calls span_free on it when the hook
     * returns: the callee may move members out (leaving them empty) but keeps no pointer. */
    void (*span_done)(void *arg, struct span *s);
    /* An invocation ended at the proxy (response or error), for flush timing. request_id is
     * borrowed until the callback returns. */
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

/* What the lifecycle takes from the configuration. Borrowed, not copied (see lifecycle_new). */
struct lifecycle_conf {
    struct promote_conf promote;
    bool root_inject;       /* TRACEBRIDGE_ROOT_CONTEXT=inject */
    bool queue_spans;       /* TRACEBRIDGE_QUEUE_SPANS: inferred "wait <queue>" spans */
    bool sdk_disabled;      /* OTEL_SDK_DISABLED */
    bool managed_instances; /* AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances */
    enum sampler_kind sampler;
    double sampler_ratio;
    const char *function_name; /* span name of direct invokes; must outlive the lifecycle */
};

struct lifecycle;

/* Borrowed, and so required to outlive the lifecycle: c (with function_name), ids and lg;
 * hooks is copied. NULL on -ENOMEM. */
struct lifecycle *lifecycle_new(const struct lifecycle_conf *c, struct ids *ids,
                                const struct lifecycle_hooks *hooks, const struct log *lg);
/* Frees the table and every open span (not handed to span_done). Free the proxy whose hooks
 * point here first. */
void lifecycle_free(struct lifecycle *lc);

/* cloud.account.id for spans (from the register response); copied (at most 31 bytes). */
void lifecycle_set_account_id(struct lifecycle *lc, const char *account_id);

/* Spans dropped elsewhere (buffer, failed export) to report as tracebridge.dropped_spans on the
 * next span. */
void lifecycle_add_dropped(struct lifecycle *lc, size_t n);

/* Whether the runtime was offered the proxy (the ready file was written). Only then does an
 * INVOKE the proxy never saw mean that the runtime ignores AWS_LAMBDA_EXEC_WRAPPER (warned
 * once); otherwise such invocations are expected. Default: false. */
void lifecycle_set_proxy_offered(struct lifecycle *lc, bool offered);

/* The largest /next event (as received or as rewritten) since the last call. */
size_t lifecycle_take_peak_event(struct lifecycle *lc);

/* Proxy hooks: pass lifecycle_proxy_hooks(lc) to proxy_new; lc must outlive the proxy. */
struct proxy_hooks lifecycle_proxy_hooks(struct lifecycle *lc);

/* Extensions API events (ev borrowed for the call). now_ns is the wall clock at receipt. */
void lifecycle_on_invoke(struct lifecycle *lc, const struct extapi_event *ev, uint64_t now_ns);
void lifecycle_on_shutdown(struct lifecycle *lc, const struct extapi_event *ev, uint64_t now_ns);

/* Managed Instances do not enforce timeouts: an invocation still running at its deadline is
 * ended there (timeout, the span's end at the deadline); its late /response or /error is then
 * relayed as any other and changes nothing. Call it periodically; a no-op elsewhere. */
void lifecycle_expire(struct lifecycle *lc, uint64_t now_ns);

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

#endif
