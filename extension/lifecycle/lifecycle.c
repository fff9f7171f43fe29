/* SPDX-License-Identifier: Apache-2.0 */
/* lifecycle: the invocation table. An entry joins one request id's INVOKE event, its /next
 * (next_event.c starts the span), its /response or /error, and ends the span; what never
 * answers is ended at the next INVOKE, at SHUTDOWN, or (Managed Instances) at its deadline. */
#include "extension/lifecycle/internal.h"

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

static uint64_t ms_to_ns(uint64_t ms)
{
    return ms * 1000000ULL;
}

/* ---- the table ---- */

/* The index of rid's entry (key: its request_id_hash), or -1. */
static int find_keyed(const struct lifecycle *lc, const char *rid, uint32_t key)
{
    for (int i = 0; i < LIFECYCLE_MAX_INFLIGHT; i++) {
        if (lc->keys[i] == key && strcmp(lc->table[i].rid, rid) == 0)
            return i;
    }
    return -1;
}

struct inv *lifecycle_find(struct lifecycle *lc, const char *rid)
{
    int i = find_keyed(lc, rid, request_id_hash(rid));

    return i < 0 ? NULL : &lc->table[i];
}

/* The first entry in use at index *i or after it (*i moves there), or NULL. */
static struct inv *next_used(struct lifecycle *lc, size_t *i)
{
    for (; *i < LIFECYCLE_MAX_INFLIGHT; (*i)++)
        if (lc->keys[*i])
            return &lc->table[*i];
    return NULL;
}

static void inv_remove(struct lifecycle *lc, struct inv *v)
{
    if (v->flags & INV_F_RECORDING)
        span_free(&v->span);
    tb_list_remove(&v->age);
    memset(v, 0, sizeof(*v));
    lc->keys[v - lc->table] = 0;
    lc->stats.inflight--;
}

static void finish(struct lifecycle *lc, struct inv *v);

static struct inv *oldest(struct lifecycle *lc)
{
    return tb_list_empty(&lc->by_age) ? NULL : tb_list_entry(lc->by_age.next, struct inv, age);
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
struct inv *lifecycle_find_or_add(struct lifecycle *lc, const char *rid, uint64_t now_ns)
{
    uint32_t key = request_id_hash(rid);
    int found = find_keyed(lc, rid, key);
    struct inv *v = NULL;

    if (found >= 0)
        return &lc->table[found];
    if (strlen(rid) >= REQUEST_ID_MAX)
        return NULL;
    for (size_t i = 0; i < LIFECYCLE_MAX_INFLIGHT && !v; i++) {
        if (!lc->keys[i])
            v = &lc->table[i];
    }
    if (!v) {
        v = oldest(lc);
        warn_eviction(lc, v, now_ns);
        if (flags_are(v->flags, INV_F_NEXT, INV_F_ENDED))
            end_with_outcome(lc, v, "lost", now_ns);
        inv_remove(lc, v);
    }
    memset(v, 0, sizeof(*v));
    tb_list_insert_tail(&lc->by_age, &v->age);
    memcpy(v->rid, rid, strlen(rid) + 1);
    lc->keys[v - lc->table] = key;
    lc->stats.inflight++;
    return v;
}

/* ---- span hand-off ---- */

void lifecycle_hand_off(struct lifecycle *lc, struct span *s)
{
    if (lc->hooks.span_done)
        lc->hooks.span_done(lc->hooks.arg, s);
    lc->stats.spans++;
    span_free(s);
}

static void finish(struct lifecycle *lc, struct inv *v)
{
    v->flags |= INV_F_ENDED;
    if (!(v->flags & INV_F_RECORDING))
        return;
    if (lc->dropped_pending) {
        (void)attr_list_add_int(&v->span.attrs, "tracebridge.dropped_spans",
                                (int64_t)lc->dropped_pending);
        lc->dropped_pending = 0;
    }
    lifecycle_hand_off(lc, &v->span);
    v->flags &= ~INV_F_RECORDING;
}

static void end_with_outcome(struct lifecycle *lc, struct inv *v, const char *outcome,
                             uint64_t now_ns)
{
    bool timeout = strcmp(outcome, "timeout") == 0;

    if (v->flags & INV_F_RECORDING) {
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

/* ---- the proxy's reports ---- */

bool lifecycle_wants_response_body(void *arg, const char *rid)
{
    struct inv *v = lifecycle_find(arg, rid);

    return v && (v->flags & INV_F_RECORDING) && (v->flags & (INV_F_BATCH | INV_F_DURABLE));
}

/* Both sides seen and the span ended: the entry has nothing left to correlate. On Managed
 * Instances no INVOKE ever comes, so the end alone is enough. */
static void maybe_retire(struct lifecycle *lc, struct inv *v)
{
    if ((v->flags & INV_F_ENDED) && ((v->flags & INV_F_INVOKE) || lc->conf->managed_instances))
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
              r->upstream_status, !!(v->flags & INV_F_RECORDING));
}

/* Managed Instances do not enforce timeouts: an answer after the deadline is relayed, and the
 * invocation counts as timed out at its deadline (lifecycle_expire ends those never answered). */
static bool past_deadline_mi(const struct lifecycle *lc, const struct inv *v, uint64_t now_ns)
{
    return lc->conf->managed_instances && v->deadline_ms && ms_to_ns(v->deadline_ms) < now_ns;
}

static void on_report(struct lifecycle *lc, const struct proxy_report *r, bool is_error)
{
    struct inv *v = lifecycle_find(lc, r->request_id);
    char rid[REQUEST_ID_MAX];
    uint64_t now = span_now_ns();

    if (!v || !flags_are(v->flags, INV_F_NEXT, INV_F_ENDED))
        return;
    log_end(lc, v, r, is_error, now);
    if (past_deadline_mi(lc, v, now)) {
        end_with_outcome(lc, v, "timeout", now);
    } else if (v->flags & INV_F_RECORDING) {
        v->span.end_ns = now;
        if (is_error || r->error_type || r->error_body)
            (void)invspan_record_error(&v->span, r->error_type, r->error_body, r->error_body_len,
                                       r->error_body_base64, now);
        else if (r->response_body && r->upstream_status < 400 && (v->flags & INV_F_DURABLE))
            (void)invspan_durable_status(&v->span, r->response_body, r->response_body_len);
        else if (r->response_body && r->upstream_status < 400)
            (void)invspan_mark_failures(&v->span, r->response_body, r->response_body_len,
                                        v->records);
        else if (r->upstream_status >= 400)
            (void)span_set_status(&v->span, SPAN_STATUS_ERROR, "Runtime API rejected the response");
    }
    if (!(v->flags & INV_F_ENDED))
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
                            .next_event = lifecycle_next_event,
                            .next_delivered = lifecycle_next_delivered,
                            .wants_response_body = lifecycle_wants_response_body,
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
                              .coldstart = !(lc->flags & LC_F_COLDSTART_DONE)};

    lc->stats.bypassed++;
    log_debug(lc->lg, "lifecycle", "bypass rid=%s: never seen at the proxy; span from INVOKE",
              v->rid);
    /* Only a runtime that was offered the proxy and did not come ignores the wrapper; when the
     * proxy was never offered, the daemon already said why at start-up. */
    if (!(lc->flags & LC_F_BYPASS_WARNED) && (lc->flags & LC_F_PROXY_OFFERED)) {
        lc->flags |= LC_F_BYPASS_WARNED;
        log_warn(lc->lg, "lifecycle",
                 "invocation %s never reached the proxy: the runtime ignores "
                 "AWS_LAMBDA_EXEC_WRAPPER (provided.* runtimes do), so events are not "
                 "rewritten; spans come from INVOKE events only",
                 v->rid);
    }
    lc->flags |= LC_F_COLDSTART_DONE;
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
    if (v->flags & INV_F_XRAY)
        (void)invspan_add_xray_link(&v->span, &v->xray);
    v->flags |= INV_F_RECORDING;
    finish(lc, v);
}

/* Ends what an invocation left open, at the next INVOKE or at SHUTDOWN. */
static void settle(struct lifecycle *lc, struct inv *v, const char *reason, uint64_t now_ns)
{
    if (flags_are(v->flags, INV_F_NEXT, INV_F_ENDED)) {
        bool late = v->deadline_ms && ms_to_ns(v->deadline_ms) <= now_ns;
        const char *outcome = late ? "timeout" : "crash";
        if (reason && strcmp(reason, "timeout") == 0)
            outcome = "timeout";
        else if (reason && strcmp(reason, "failure") == 0)
            outcome = "crash";
        end_with_outcome(lc, v, outcome, now_ns);
    } else if ((v->flags & INV_F_INVOKE) && !(v->flags & INV_F_NEXT)) {
        bypass_span(lc, v, now_ns);
    }
}

void lifecycle_on_invoke(struct lifecycle *lc, const struct extapi_event *ev, uint64_t now_ns)
{
    struct inv *v;
    struct inv *o;

    for (size_t i = 0; (o = next_used(lc, &i)); i++) {
        if (strcmp(o->rid, ev->request_id) != 0) {
            settle(lc, o, NULL, now_ns);
            inv_remove(lc, o);
        }
    }
    v = lifecycle_find_or_add(lc, ev->request_id, now_ns);
    if (!v)
        return;
    v->flags |= INV_F_INVOKE;
    v->invoke_ns = now_ns;
    if (ev->deadline_ms)
        v->deadline_ms = ev->deadline_ms;
    if (!v->arn[0])
        snprintf(v->arn, sizeof(v->arn), "%s", ev->function_arn);
    if (ev->tracing_value[0] && xray_parse(ev->tracing_value, strlen(ev->tracing_value), &v->xray))
        v->flags |= INV_F_XRAY;
    maybe_retire(lc, v);
}

void lifecycle_on_shutdown(struct lifecycle *lc, const struct extapi_event *ev, uint64_t now_ns)
{
    struct inv *o;

    warn_evictions_held(lc);
    for (size_t i = 0; (o = next_used(lc, &i)); i++) {
        settle(lc, o, ev->shutdown_reason, now_ns);
        inv_remove(lc, o);
    }
}

void lifecycle_expire(struct lifecycle *lc, uint64_t now_ns)
{
    struct inv *v;

    if (!lc->conf->managed_instances)
        return;
    for (size_t i = 0; (v = next_used(lc, &i)); i++) {
        if (flags_are(v->flags, INV_F_NEXT, INV_F_ENDED) && v->deadline_ms &&
            ms_to_ns(v->deadline_ms) <= now_ns) {
            end_with_outcome(lc, v, "timeout", now_ns);
            inv_remove(lc, v);
        }
    }
}

enum inv_state lifecycle_state(const struct lifecycle *lc, const char *rid)
{
    int i = find_keyed(lc, rid, request_id_hash(rid));
    unsigned f = i < 0 ? 0 : lc->table[i].flags;

    return !(f & INV_F_NEXT) ? INV_UNKNOWN : (f & INV_F_ENDED) ? INV_ENDED : INV_RUNNING;
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
    tb_list_init(&lc->by_age);
    lc->evict_log = (struct ratelimit)RATELIMIT_INIT(EVICT_LOG_EVERY_MS);
    lc->reserved_log = (struct ratelimit)RATELIMIT_INIT(RESERVED_LOG_EVERY_MS);
    sampler_init(&lc->sampler, c->sampler, c->sampler_ratio, c->sdk_disabled);
    return lc;
}

void lifecycle_free(struct lifecycle *lc)
{
    struct inv *v;

    if (!lc)
        return;
    for (size_t i = 0; (v = next_used(lc, &i)); i++)
        inv_remove(lc, v);
    free(lc);
}

void lifecycle_set_account_id(struct lifecycle *lc, const char *account_id)
{
    snprintf(lc->account_id, sizeof(lc->account_id), "%s", account_id ? account_id : "");
}

void lifecycle_set_proxy_offered(struct lifecycle *lc, bool offered)
{
    if (offered)
        lc->flags |= LC_F_PROXY_OFFERED;
    else
        lc->flags &= ~LC_F_PROXY_OFFERED;
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
