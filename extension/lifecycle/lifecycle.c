/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/lifecycle/lifecycle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "extension/base/base.h"
#include "extension/spans/spans.h"

/* A full table means more invocations in flight than it holds (a flood on Managed Instances,
 * or request ids that never end): one warning per eviction would flood the logs as well. The
 * first is logged, later ones at most once per this period with a count, the rest at
 * SHUTDOWN. */
#define EVICT_LOG_EVERY_MS 10000
/* Invalid reserved traceparents come from callers, possibly on every invocation: the first is
 * logged, then at most one line per period with the count of the others. */
#define RESERVED_LOG_EVERY_MS 60000

struct inv {
    bool used;
    unsigned long seq; /* creation order, for eviction */
    char rid[REQUEST_ID_MAX];
    bool have_invoke; /* the INVOKE event arrived */
    uint64_t invoke_ns;
    uint64_t deadline_ms;
    char arn[EXTAPI_ARN_MAX];
    bool xray_valid;
    struct trace_ctx xray;
    bool have_next;      /* the runtime's /next went through the proxy */
    uint64_t started_ns; /* /next handed to the runtime (for the debug log's duration) */
    bool ended;
    bool recording; /* span is live and sampled */
    struct span span;
};

struct lifecycle {
    const struct lifecycle_conf *conf;
    struct ids *ids;
    struct lifecycle_hooks hooks;
    const struct log *lg;
    struct sampler sampler;
    char account_id[32];
    bool coldstart_done;
    bool bypass_warned;
    bool proxy_offered; /* the ready file pointed the runtime at the proxy */
    size_t dropped_pending;
    unsigned long seq;
    struct ratelimit evict_log;
    struct ratelimit reserved_log;
    struct lifecycle_stats stats;
    size_t peak_event;
    struct promote_analysis analysis; /* scratch: large, so not on the stack */
    struct trace_ctx_full write;      /* scratch */
    struct inv table[LIFECYCLE_MAX_INFLIGHT];
};

static uint64_t ms_to_ns(uint64_t ms)
{
    return ms * 1000000ULL;
}

/* ---- the table ---- */

static struct inv *find(struct lifecycle *lc, const char *rid)
{
    for (size_t i = 0; i < LIFECYCLE_MAX_INFLIGHT; i++) {
        if (lc->table[i].used && strcmp(lc->table[i].rid, rid) == 0)
            return &lc->table[i];
    }
    return NULL;
}

static void inv_remove(struct lifecycle *lc, struct inv *v)
{
    if (v->recording)
        span_free(&v->span);
    memset(v, 0, sizeof(*v));
    lc->stats.inflight--;
}

static void finish(struct lifecycle *lc, struct inv *v);

static struct inv *oldest(struct lifecycle *lc)
{
    struct inv *best = NULL;

    for (size_t i = 0; i < LIFECYCLE_MAX_INFLIGHT; i++) {
        struct inv *v = &lc->table[i];
        if (v->used && (!best || v->seq < best->seq))
            best = v;
    }
    return best;
}

static void end_with_outcome(struct lifecycle *lc, struct inv *v, const char *outcome,
                             uint64_t now_ns);

static void warn_eviction(struct lifecycle *lc, const struct inv *v, uint64_t now_ns)
{
    unsigned long held = 0;

    if (!ratelimit_hit(&lc->evict_log, now_ns / 1000000, &held))
        return;
    if (held)
        log_warn(lc->lg, "lifecycle",
                 "invocation table still full; giving up on %s (and on %lu others since the "
                 "last warning)",
                 v->rid, held);
    else
        log_warn(lc->lg, "lifecycle", "invocation table full; giving up on %s", v->rid);
}

/* The evictions not logged yet, in one line (at SHUTDOWN). */
static void warn_evictions_held(struct lifecycle *lc)
{
    unsigned long held = ratelimit_take_held(&lc->evict_log);

    if (held)
        log_warn(lc->lg, "lifecycle",
                 "invocation table was full: gave up on %lu more invocations since the last "
                 "warning",
                 held);
}

/* Finds the entry for rid or makes one; a full table gives up its oldest entry. */
static struct inv *find_or_add(struct lifecycle *lc, const char *rid, uint64_t now_ns)
{
    struct inv *v = find(lc, rid);

    if (v || strlen(rid) >= REQUEST_ID_MAX)
        return v;
    for (size_t i = 0; i < LIFECYCLE_MAX_INFLIGHT && !v; i++) {
        if (!lc->table[i].used)
            v = &lc->table[i];
    }
    if (!v) {
        v = oldest(lc);
        warn_eviction(lc, v, now_ns);
        if (v->have_next && !v->ended)
            end_with_outcome(lc, v, "lost", now_ns);
        inv_remove(lc, v);
    }
    memset(v, 0, sizeof(*v));
    v->used = true;
    v->seq = ++lc->seq;
    memcpy(v->rid, rid, strlen(rid) + 1);
    lc->stats.inflight++;
    return v;
}

/* ---- span hand-off ---- */

static void finish(struct lifecycle *lc, struct inv *v)
{
    v->ended = true;
    if (!v->recording)
        return;
    if (lc->dropped_pending) {
        (void)attr_list_add_int(&v->span.attrs, "tracebridge.dropped_spans",
                                (int64_t)lc->dropped_pending);
        lc->dropped_pending = 0;
    }
    if (lc->hooks.span_done)
        lc->hooks.span_done(lc->hooks.arg, &v->span);
    lc->stats.spans++;
    span_free(&v->span);
    v->recording = false;
}

static void end_with_outcome(struct lifecycle *lc, struct inv *v, const char *outcome,
                             uint64_t now_ns)
{
    bool timeout = strcmp(outcome, "timeout") == 0;

    if (v->recording) {
        uint64_t end = now_ns;
        /* A timed-out invocation ended at its deadline, not when we noticed. */
        if (timeout && v->deadline_ms && ms_to_ns(v->deadline_ms) < now_ns &&
            ms_to_ns(v->deadline_ms) > v->span.start_ns)
            end = ms_to_ns(v->deadline_ms);
        v->span.end_ns = end;
        (void)span_set_status(&v->span, SPAN_STATUS_ERROR,
                              timeout ? "invocation timed out" : "runtime ended without response");
        (void)attr_list_add_str(&v->span.attrs, "tracebridge.invocation.outcome", outcome);
    }
    if (timeout)
        lc->stats.timeouts++;
    else
        lc->stats.crashes++;
    log_warn(lc->lg, "lifecycle", "invocation %s ended without a response (%s)", v->rid, outcome);
    finish(lc, v);
}

/* ---- proxy side ---- */

static void header_copy(const struct proxy_next *ev, const char *name, char *out, size_t cap)
{
    size_t n = 0;
    const char *v = proxy_next_header(ev, name, &n);

    out[0] = '\0';
    if (v && n < cap) {
        memcpy(out, v, n);
        out[n] = '\0';
    }
}

static uint64_t header_u64(const struct proxy_next *ev, const char *name)
{
    char tmp[32];

    header_copy(ev, name, tmp, sizeof(tmp));
    return tmp[0] ? strtoull(tmp, NULL, 10) : 0;
}

/* Chooses the trace, the sampling decision and the span id; fills lc->write with what the
 * handler must see as its parent (this span). Returns whether to write it into the event. */
static bool decide_context(struct lifecycle *lc, const struct promote_analysis *a,
                           struct trace_ctx *span_ctx, bool *sampled)
{
    const struct lifecycle_conf *c = lc->conf;
    struct trace_ctx_full *w = &lc->write;
    bool parent_sampled = a->found && (a->parent.ctx.flags & TRACE_FLAG_SAMPLED);

    memset(w, 0, sizeof(*w));
    if (a->found) {
        memcpy(span_ctx->trace_id, a->parent.ctx.trace_id, 16);
        memcpy(w->tracestate, a->parent.tracestate, sizeof(w->tracestate));
        memcpy(w->baggage, a->parent.baggage, sizeof(w->baggage));
    } else {
        ids_trace_id(lc->ids, span_ctx->trace_id);
    }
    ids_span_id(lc->ids, span_ctx->span_id);
    *sampled = sampler_should_sample(&lc->sampler, span_ctx->trace_id, a->found, parent_sampled);
    span_ctx->flags = (uint8_t)((a->found ? a->parent.ctx.flags & ~TRACE_FLAG_SAMPLED : 0) |
                                (*sampled ? TRACE_FLAG_SAMPLED : 0));
    w->ctx = *span_ctx;
    if (c->sdk_disabled) {
        /* No span of ours: handlers nest directly under the caller. */
        w->ctx = a->parent.ctx;
        return a->found;
    }
    return a->found || c->root_inject;
}

static void apply_output(struct lifecycle *lc, struct proxy_next *ev, struct promote_output *o)
{
    if (o->body_changed)
        proxy_next_set_body(ev, &o->body);
    if (o->client_context_changed)
        (void)proxy_next_set_header(ev, "Lambda-Runtime-Client-Context", o->client_context.data,
                                    o->client_context.len);
    if (o->trace_id_changed)
        (void)proxy_next_set_header(ev, "Lambda-Runtime-Trace-Id", o->trace_id.data,
                                    o->trace_id.len);
    if (o->body_changed || o->client_context_changed || o->trace_id_changed)
        lc->stats.rewrites++;
}

static void start_span(struct lifecycle *lc, struct inv *v, const struct promote_analysis *a,
                       const struct trace_ctx *ctx)
{
    struct invspan_facts f = {.request_id = v->rid,
                              .function_name = lc->conf->function_name,
                              .function_arn = v->arn,
                              .account_id = lc->account_id,
                              .coldstart = !lc->coldstart_done};

    lc->coldstart_done = true;
    span_init(&v->span);
    v->span.ctx = *ctx;
    v->span.start_ns = span_now_ns();
    if (a->found) {
        v->span.has_parent = true;
        memcpy(v->span.parent_span_id, a->parent.ctx.span_id, 8);
        if (a->parent.tracestate[0])
            v->span.tracestate = strdup(a->parent.tracestate); /* NULL: just not kept */
    }
    if (invspan_describe(&v->span, a, &f) < 0)
        log_warn(lc->lg, "lifecycle", "span attributes incomplete (no memory)");
    v->recording = true;
}

/* Tenant isolation: the tenant the invocation runs for (Lambda-Runtime-Aws-Tenant-Id). */
static void add_tenant(struct inv *v, const struct proxy_next *ev)
{
    char tenant[257];

    header_copy(ev, "Lambda-Runtime-Aws-Tenant-Id", tenant, sizeof(tenant));
    if (tenant[0] && utf8_valid(tenant, strlen(tenant)))
        (void)attr_list_add_str(&v->span.attrs, "aws.lambda.tenant_id", tenant);
}

static void fill_input(const struct proxy_next *ev, struct promote_input *in)
{
    size_t n = 0;

    memset(in, 0, sizeof(*in));
    in->body = ev->body;
    in->body_len = ev->body_len;
    in->trace_id_header = proxy_next_header(ev, "Lambda-Runtime-Trace-Id", &n);
    in->trace_id_header_len = in->trace_id_header ? n : 0;
    in->client_context = proxy_next_header(ev, "Lambda-Runtime-Client-Context", &n);
    in->client_context_len = in->client_context ? n : 0;
}

static void record_next(struct lifecycle *lc, struct inv *v, const struct proxy_next *ev)
{
    v->have_next = true;
    v->started_ns = span_now_ns();
    if (!v->deadline_ms)
        v->deadline_ms = header_u64(ev, "Lambda-Runtime-Deadline-Ms");
    if (!v->arn[0])
        header_copy(ev, "Lambda-Runtime-Invoked-Function-Arn", v->arn, sizeof(v->arn));
    (void)lc;
}

/* What the debug line of one /next event reports besides the analysis. */
struct next_summary {
    const char *rid;
    size_t bytes_in;
    size_t bytes_out;
    unsigned targets; /* enum promote_target bits written */
    bool stripped;    /* reserved keys removed */
    bool sampled;
    bool recording;  /* our span exists */
    bool own_parent; /* the handler's parent-id is our span id (written or recorded) */
    int apply_rc;
};

static void targets_text(unsigned t, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s%s", t & PROMOTE_TARGET_HEADERS ? "headers," : "",
             t & PROMOTE_TARGET_CLIENT_CONTEXT ? "client_context," : "",
             t & PROMOTE_TARGET_XRAY ? "xray," : "", t ? "" : "none");
    if (t)
        out[strlen(out) - 1] = '\0';
}

/* Why no parent was found, when the analysis does not say. */
static const char *why_no_carrier(const struct promote_analysis *a)
{
    if (a->warning)
        return a->warning;
    return a->json_object ? "no trace context in the event" : "event is not a JSON object";
}

/* One debug line per invocation: what tracebridge found in the event and what it wrote. Trace
 * values come from parsed (valid) contexts, re-formatted; event text is never logged. */
static void log_next(const struct lifecycle *lc, const struct promote_analysis *a,
                     const struct trace_ctx *ctx, const struct next_summary *m)
{
    char parent[TRACEPARENT_LEN + 1] = "none";
    char span[17] = "none";
    char targets[64];
    char why[256] = "";

    if (!log_enabled(lc->lg, LOG_DEBUG))
        return;
    if (!a->found || a->warning)
        snprintf(why, sizeof(why), " why=\"%s\"", why_no_carrier(a));
    if (a->found)
        traceparent_format(&a->parent.ctx, parent);
    if (m->own_parent) {
        hex_encode(ctx->span_id, 8, span);
        span[16] = '\0';
    }
    targets_text(m->targets, targets, sizeof(targets));
    log_debug(lc->lg, "lifecycle",
              "next rid=%.128s trigger=%s carrier=%s parent=%s span=%s sampled=%d targets=%s%s "
              "links=%u%s bytes=%zu->%zu%s%s",
              m->rid[0] ? m->rid : "-", promote_trigger_name(a->info.trigger),
              promote_carrier_name(a->carrier), parent, span, m->sampled, targets,
              m->stripped ? " reserved_keys=stripped" : "",
              a->n_links + (a->lambda_xray_valid ? 1u : 0u),
              a->links_dropped ? " (some record links dropped)" : "", m->bytes_in, m->bytes_out,
              why, m->apply_rc < 0 ? " apply=failed" : "");
}

/* The caller put a "__traceparent__" into the event that is not a traceparent: stripped (the
 * handler never sees it), not used, and said once in a while: what was wrong, and never more of
 * the value than its safe prefix. */
static void warn_reserved_invalid(struct lifecycle *lc, const struct promote_analysis *a,
                                  const char *rid)
{
    unsigned long held = 0;
    char more[96] = "";

    if (!a->reserved_invalid || !ratelimit_hit(&lc->reserved_log, span_now_ns() / 1000000, &held))
        return;
    if (held)
        snprintf(more, sizeof(more), " (%lu more such invocations since the last warning)", held);
    log_warn(lc->lg, "lifecycle",
             "invocation %.128s: \"__traceparent__\" is not a valid traceparent (%s; starts "
             "\"%s\"): stripped from the event, not used as the parent%s",
             rid[0] ? rid : "-", a->reserved_invalid, a->reserved_prefix, more);
}

static void on_next_event(void *arg, struct proxy_next *ev)
{
    struct lifecycle *lc = arg;
    struct promote_analysis *a = &lc->analysis;
    struct promote_input in;
    struct promote_output out;
    struct trace_ctx ctx;
    struct next_summary m = {.rid = ev->request_id, .bytes_in = ev->body_len};
    bool write;
    struct inv *v = ev->request_id[0] ? find_or_add(lc, ev->request_id, span_now_ns()) : NULL;

    if (lc->hooks.next_event_begin)
        lc->hooks.next_event_begin(lc->hooks.arg);
    fill_input(ev, &in);
    promote_analyse(&lc->conf->promote, &in, a);
    warn_reserved_invalid(lc, a, ev->request_id);
    write = decide_context(lc, a, &ctx, &m.sampled);
    m.apply_rc = promote_apply(&lc->conf->promote, &in, a, write ? &lc->write : NULL, &out);
    m.bytes_out = m.apply_rc == 0 && out.body_changed ? out.body.len : ev->body_len;
    if (ev->body_len + m.bytes_out > lc->peak_event)
        lc->peak_event = ev->body_len + m.bytes_out; /* both are held while rewriting */
    m.targets = m.apply_rc == 0 ? out.targets_written : 0;
    m.stripped = m.apply_rc == 0 && out.reserved_stripped;
    if (m.apply_rc == 0)
        apply_output(lc, ev, &out);
    promote_output_free(&out);
    if (v && !v->have_next) {
        record_next(lc, v, ev);
        if (m.sampled && !lc->conf->sdk_disabled)
            start_span(lc, v, a, &ctx);
        if (v->recording)
            add_tenant(v, ev);
        m.recording = v->recording;
    }
    m.own_parent = !lc->conf->sdk_disabled && (m.recording || m.targets);
    log_next(lc, a, &ctx, &m);
    promote_analysis_free(a);
}

static void on_next_delivered(void *arg, const char *rid)
{
    struct lifecycle *lc = arg;
    struct inv *v = find(lc, rid);

    if (!v)
        return;
    v->started_ns = span_now_ns();
    if (v->recording)
        v->span.start_ns = v->started_ns;
}

/* Both sides seen and the span ended: the entry has nothing left to correlate. On Managed
 * Instances no INVOKE ever comes, so the end alone is enough. */
static void maybe_retire(struct lifecycle *lc, struct inv *v)
{
    if (v->ended && (v->have_invoke || lc->conf->managed_instances))
        inv_remove(lc, v);
}

static const char *report_outcome(const struct proxy_report *r, bool is_error)
{
    if (is_error || r->error_type || r->error_body)
        return "error";
    if (r->upstream_status == 0)
        return "undelivered"; /* the Runtime API did not answer */
    return r->upstream_status >= 400 ? "rejected" : "success";
}

static void log_end(const struct lifecycle *lc, const struct inv *v, const struct proxy_report *r,
                    bool is_error, uint64_t now_ns)
{
    uint64_t took = now_ns > v->started_ns ? now_ns - v->started_ns : 0;

    log_debug(lc->lg, "lifecycle",
              "end rid=%s outcome=%s%s duration_ms=%llu.%03llu runtime_api_status=%d sampled=%d",
              v->rid, report_outcome(r, is_error), r->streaming ? " streaming=1" : "",
              (unsigned long long)(took / 1000000), (unsigned long long)(took / 1000 % 1000),
              r->upstream_status, v->recording);
}

/* Managed Instances do not enforce timeouts: an answer after the deadline is relayed, and the
 * invocation counts as timed out at its deadline (lifecycle_expire ends those never answered). */
static bool past_deadline_mi(const struct lifecycle *lc, const struct inv *v, uint64_t now_ns)
{
    return lc->conf->managed_instances && v->deadline_ms && ms_to_ns(v->deadline_ms) < now_ns;
}

static void on_report(struct lifecycle *lc, const struct proxy_report *r, bool is_error)
{
    struct inv *v = find(lc, r->request_id);
    char rid[REQUEST_ID_MAX];
    uint64_t now = span_now_ns();

    if (!v || !v->have_next || v->ended)
        return;
    log_end(lc, v, r, is_error, now);
    if (past_deadline_mi(lc, v, now)) {
        end_with_outcome(lc, v, "timeout", now);
    } else if (v->recording) {
        v->span.end_ns = now;
        if (is_error || r->error_type || r->error_body)
            (void)invspan_record_error(&v->span, r->error_type, r->error_body, r->error_body_len,
                                       r->error_body_base64, now);
        else if (r->upstream_status >= 400)
            (void)span_set_status(&v->span, SPAN_STATUS_ERROR, "Runtime API rejected the response");
    }
    if (!v->ended)
        finish(lc, v);
    snprintf(rid, sizeof(rid), "%s", v->rid);
    maybe_retire(lc, v);
    if (lc->hooks.invocation_end)
        lc->hooks.invocation_end(lc->hooks.arg, rid);
}

static void on_response(void *arg, const struct proxy_report *r)
{
    on_report(arg, r, false);
}

static void on_error(void *arg, const struct proxy_report *r)
{
    on_report(arg, r, true);
}

/* The runtime's own init failure: Lambda reports it; we only say so in our log. */
static void on_init_error(void *arg, const struct proxy_report *r)
{
    struct lifecycle *lc = arg;

    log_warn(lc->lg, "lifecycle", "runtime reported an init error: %.200s",
             r->error_type ? r->error_type : "(no type)");
}

/* SnapStart: Lambda answers /restore/next once this sandbox was restored from its snapshot. */
static void on_restored(void *arg, const struct proxy_report *r)
{
    struct lifecycle *lc = arg;

    if (r->upstream_status != 200) {
        log_warn(lc->lg, "lifecycle", "runtime's /restore/next got status %d from the Runtime API",
                 r->upstream_status);
        return;
    }
    if (lc->hooks.restored)
        lc->hooks.restored(lc->hooks.arg);
}

struct proxy_hooks lifecycle_proxy_hooks(struct lifecycle *lc)
{
    struct proxy_hooks h = {.arg = lc,
                            .next_event = on_next_event,
                            .next_delivered = on_next_delivered,
                            .invocation_response = on_response,
                            .invocation_error = on_error,
                            .init_error = on_init_error,
                            .restored = on_restored};
    return h;
}

/* ---- Extensions API side ---- */

static void bypass_span(struct lifecycle *lc, struct inv *v, uint64_t now_ns)
{
    struct invspan_facts f = {.request_id = v->rid,
                              .function_name = lc->conf->function_name,
                              .function_arn = v->arn,
                              .account_id = lc->account_id,
                              .coldstart = !lc->coldstart_done};

    lc->stats.bypassed++;
    log_debug(lc->lg, "lifecycle", "bypass rid=%s: never seen at the proxy; span from INVOKE",
              v->rid);
    /* Only a runtime that was offered the proxy and did not come ignores the wrapper; when the
     * proxy was never offered, the daemon already said why at start-up. */
    if (!lc->bypass_warned && lc->proxy_offered) {
        lc->bypass_warned = true;
        log_warn(lc->lg, "lifecycle",
                 "invocation %s never reached the proxy: the runtime ignores "
                 "AWS_LAMBDA_EXEC_WRAPPER (provided.* runtimes do), so events are not "
                 "rewritten; spans come from INVOKE events only",
                 v->rid);
    }
    lc->coldstart_done = true;
    if (lc->conf->sdk_disabled)
        return;
    span_init(&v->span);
    ids_trace_id(lc->ids, v->span.ctx.trace_id);
    ids_span_id(lc->ids, v->span.ctx.span_id);
    if (!sampler_should_sample(&lc->sampler, v->span.ctx.trace_id, false, false)) {
        span_free(&v->span);
        return;
    }
    v->span.ctx.flags = TRACE_FLAG_SAMPLED;
    v->span.start_ns = v->invoke_ns;
    v->span.end_ns = now_ns;
    (void)invspan_describe(&v->span, NULL, &f);
    (void)attr_list_add_bool(&v->span.attrs, "tracebridge.bypass", true);
    if (v->xray_valid)
        (void)invspan_add_xray_link(&v->span, &v->xray);
    v->recording = true;
    finish(lc, v);
}

/* Ends what an invocation left open, at the next INVOKE or at SHUTDOWN. */
static void settle(struct lifecycle *lc, struct inv *v, const char *reason, uint64_t now_ns)
{
    if (v->have_next && !v->ended) {
        bool late = v->deadline_ms && ms_to_ns(v->deadline_ms) <= now_ns;
        const char *outcome = late ? "timeout" : "crash";
        if (reason && strcmp(reason, "timeout") == 0)
            outcome = "timeout";
        else if (reason && strcmp(reason, "failure") == 0)
            outcome = "crash";
        end_with_outcome(lc, v, outcome, now_ns);
    } else if (v->have_invoke && !v->have_next) {
        bypass_span(lc, v, now_ns);
    }
}

void lifecycle_on_invoke(struct lifecycle *lc, const struct extapi_event *ev, uint64_t now_ns)
{
    struct inv *v;

    for (size_t i = 0; i < LIFECYCLE_MAX_INFLIGHT; i++) {
        struct inv *o = &lc->table[i];
        if (o->used && strcmp(o->rid, ev->request_id) != 0) {
            settle(lc, o, NULL, now_ns);
            inv_remove(lc, o);
        }
    }
    v = find_or_add(lc, ev->request_id, now_ns);
    if (!v)
        return;
    v->have_invoke = true;
    v->invoke_ns = now_ns;
    if (ev->deadline_ms)
        v->deadline_ms = ev->deadline_ms;
    if (!v->arn[0])
        snprintf(v->arn, sizeof(v->arn), "%s", ev->function_arn);
    v->xray_valid =
        ev->tracing_value[0] && xray_parse(ev->tracing_value, strlen(ev->tracing_value), &v->xray);
    maybe_retire(lc, v);
}

void lifecycle_on_shutdown(struct lifecycle *lc, const struct extapi_event *ev, uint64_t now_ns)
{
    warn_evictions_held(lc);
    for (size_t i = 0; i < LIFECYCLE_MAX_INFLIGHT; i++) {
        struct inv *o = &lc->table[i];
        if (o->used) {
            settle(lc, o, ev->shutdown_reason, now_ns);
            inv_remove(lc, o);
        }
    }
}

void lifecycle_expire(struct lifecycle *lc, uint64_t now_ns)
{
    if (!lc->conf->managed_instances)
        return;
    for (size_t i = 0; i < LIFECYCLE_MAX_INFLIGHT; i++) {
        struct inv *v = &lc->table[i];
        if (v->used && v->have_next && !v->ended && v->deadline_ms &&
            ms_to_ns(v->deadline_ms) <= now_ns) {
            end_with_outcome(lc, v, "timeout", now_ns);
            inv_remove(lc, v);
        }
    }
}

enum inv_state lifecycle_state(const struct lifecycle *lc, const char *rid)
{
    for (size_t i = 0; i < LIFECYCLE_MAX_INFLIGHT; i++) {
        const struct inv *v = &lc->table[i];
        if (v->used && strcmp(v->rid, rid) == 0)
            return !v->have_next ? INV_UNKNOWN : v->ended ? INV_ENDED : INV_RUNNING;
    }
    return INV_UNKNOWN;
}

/* ---- lifetime ---- */

struct lifecycle *lifecycle_new(const struct lifecycle_conf *c, struct ids *ids,
                                const struct lifecycle_hooks *hooks, const struct log *lg)
{
    struct lifecycle *lc = calloc(1, sizeof(*lc));

    if (!lc)
        return NULL;
    lc->conf = c;
    lc->ids = ids;
    lc->hooks = *hooks;
    lc->lg = lg;
    lc->evict_log = (struct ratelimit)RATELIMIT_INIT(EVICT_LOG_EVERY_MS);
    lc->reserved_log = (struct ratelimit)RATELIMIT_INIT(RESERVED_LOG_EVERY_MS);
    sampler_init(&lc->sampler, c->sampler, c->sampler_ratio, c->sdk_disabled);
    return lc;
}

void lifecycle_free(struct lifecycle *lc)
{
    if (!lc)
        return;
    for (size_t i = 0; i < LIFECYCLE_MAX_INFLIGHT; i++) {
        if (lc->table[i].used)
            inv_remove(lc, &lc->table[i]);
    }
    free(lc);
}

void lifecycle_set_account_id(struct lifecycle *lc, const char *account_id)
{
    snprintf(lc->account_id, sizeof(lc->account_id), "%s", account_id ? account_id : "");
}

void lifecycle_set_proxy_offered(struct lifecycle *lc, bool offered)
{
    lc->proxy_offered = offered;
}

void lifecycle_add_dropped(struct lifecycle *lc, size_t n)
{
    lc->dropped_pending += n;
}

void lifecycle_get_stats(const struct lifecycle *lc, struct lifecycle_stats *out)
{
    *out = lc->stats;
}

size_t lifecycle_take_peak_event(struct lifecycle *lc)
{
    size_t p = lc->peak_event;

    lc->peak_event = 0;
    return p;
}
