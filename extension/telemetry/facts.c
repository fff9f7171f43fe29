/* SPDX-License-Identifier: Apache-2.0 */
/* facts: the platform's facts per invocation, correlated by request id in any order, and the
 * spans they go on (telemetry.h: holding bounds, attributes). One table of TM_MAX_INV entries;
 * an entry is made by whichever comes first, the invocation span or one of its events, and
 * kept a little after its span went on, so that a report coming after that counts as late
 * instead of waiting for a span that is gone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extension/telemetry/internal.h"

#define MB                 (1024 * 1024)
#define WARN_EVERY_MS      60000
#define MI_FACTS_KEEP_MS   (5 * TM_MI_HOLD_MS)
#define OUT_OF_MEMORY_TYPE "Runtime.OutOfMemory"
#define EPOCHS_KEPT        3
/* The platform buffers events for 25 ms (our subscription's timeoutMs) before it sends them: an
 * invocation that settles sooner than this after it began may settle before the report of the
 * one before it arrived, so that one waits for the next settle. */
#define REPORT_GRACE_MS 100
#define RECENT          8 /* invocation spans remembered for a restore told late */

/* What an invocation entry or a phase has seen, and where its span is (.flags). */
enum {
    TMF_START = 1u << 0,    /* its start event came */
    TMF_DONE = 1u << 1,     /* its runtimeDone (init/restore: its ...RuntimeDone) */
    TMF_REPORT = 1u << 2,   /* its report (a phase's: with a duration) */
    TMF_USED = 1u << 3,     /* tm_inv: the entry holds an invocation */
    TMF_HELD = 1u << 4,     /* tm_inv: span holds the ended invocation span */
    TMF_RELEASED = 1u << 5, /* tm_inv: the span went on: a report now is late */
    TMF_PARENTED = 1u << 6, /* tm_phase: parent is the invocation span it belongs to */
    TMF_EMITTED = 1u << 7,  /* tm_phase: its span went out */
};

struct tm_inv {
    unsigned flags; /* TMF_* */
    enum tm_status done_status;
    enum tm_status rep_status;
    unsigned long seq;
    uint64_t epoch; /* of the INVOKE during which the entry was made or the span held */
    uint64_t since_ms;
    unsigned have; /* TM_HAVE_* of the report and the runtimeDone */
    double duration_ms;
    double billed_ms;
    double init_ms;
    double restore_ms;
    int64_t max_memory_mb;
    int64_t memory_mb;
    int64_t produced_bytes;
    char rid[TM_ID_MAX];
    char tenant[TM_TENANT_MAX];
    char done_error[TM_ERR_MAX];
    char rep_error[TM_ERR_MAX];
    struct span span;
};

/* The init or the restore phase: at most one of each per sandbox. */
struct tm_phase {
    unsigned flags; /* TMF_* */
    enum tm_status status;
    uint64_t start_ns;
    uint64_t done_ns;
    double report_ms;
    struct trace_ctx parent;
    char error[TM_ERR_MAX];
    char phase[16];
    char init_type[TM_TEXT_MAX];
    char runtime_version[TM_TEXT_MAX];
    char runtime_arn[TM_ARN_MAX];
};

/* An invocation span seen lately: the restore's events may come after its span (the handler
 * was quicker than the platform's buffering). */
struct seen {
    bool used;
    uint64_t start_ns;
    struct trace_ctx ctx;
    char rid[TM_ID_MAX];
};

struct tm_facts {
    struct ids *ids;
    bool live;
    struct tm_facts_hooks hooks;
    const struct log *lg;
    uint64_t epoch;
    uint64_t epoch_ms; /* when the current epoch (INVOKE) began */
    unsigned long seq;
    unsigned long spans_seen;
    struct tm_phase init;
    struct tm_phase restore;
    struct seen recent[RECENT];
    unsigned recent_next;
    struct ratelimit dropped_log;
    struct tm_stats stats;
    /* hashes[i]: the request id's hash of table[i], never 0; 0 for a free entry. Lookups scan
     * this compact array (1 KiB) instead of the entries (~900 bytes each). */
    uint32_t hashes[TM_MAX_INV];
    struct tm_inv table[TM_MAX_INV];
};

/* ---- attributes ---- */

static void set_str(struct span *s, const char *key, const char *val)
{
    (void)attr_list_remove(&s->attrs, key);
    (void)attr_list_add_str(&s->attrs, key, val);
}

static void set_int(struct span *s, const char *key, int64_t val)
{
    (void)attr_list_remove(&s->attrs, key);
    (void)attr_list_add_int(&s->attrs, key, val);
}

static void set_double(struct span *s, const char *key, double val)
{
    (void)attr_list_remove(&s->attrs, key);
    (void)attr_list_add_double(&s->attrs, key, val);
}

static void set_bool(struct span *s, const char *key, bool val)
{
    (void)attr_list_remove(&s->attrs, key);
    (void)attr_list_add_bool(&s->attrs, key, val);
}

static const char *str_attr(const struct span *s, const char *key)
{
    const struct attr *a = attr_list_find(&s->attrs, key);

    return a && a->type == ATTR_STRING ? a->v.s : NULL;
}

/* ---- the table ---- */

static struct tm_inv *find_hashed(struct tm_facts *f, const char *rid, uint32_t h)
{
    for (size_t i = 0; i < TM_MAX_INV; i++) {
        if (f->hashes[i] == h && strcmp(f->table[i].rid, rid) == 0)
            return &f->table[i];
    }
    return NULL;
}

static struct tm_inv *find(struct tm_facts *f, const char *rid)
{
    return find_hashed(f, rid, request_id_hash(rid));
}

static void entry_clear(struct tm_facts *f, struct tm_inv *v)
{
    span_free(&v->span);
    memset(v, 0, sizeof(*v));
    f->hashes[v - f->table] = 0;
}

static void release(struct tm_facts *f, struct tm_inv *v);

static struct tm_inv *oldest(struct tm_facts *f)
{
    struct tm_inv *best = NULL;

    for (size_t i = 0; i < TM_MAX_INV; i++) {
        struct tm_inv *v = &f->table[i];
        if ((v->flags & TMF_USED) && (!best || v->seq < best->seq))
            best = v;
    }
    return best;
}

/* The entry for rid, made when missing; a full table gives up its oldest entry (a held span
 * goes on with what it has). NULL for an id that does not fit. */
static struct tm_inv *find_or_add(struct tm_facts *f, const char *rid, uint64_t now_ms)
{
    uint32_t h = request_id_hash(rid);
    struct tm_inv *v = find_hashed(f, rid, h);

    if (v || strlen(rid) >= TM_ID_MAX)
        return v;
    for (size_t i = 0; i < TM_MAX_INV && !v; i++) {
        if (!f->hashes[i])
            v = &f->table[i];
    }
    if (!v) {
        v = oldest(f);
        if (v->flags & TMF_HELD) {
            f->stats.timed_out++;
            release(f, v);
        }
        entry_clear(f, v);
    }
    v->flags |= TMF_USED;
    f->hashes[v - f->table] = h;
    v->seq = ++f->seq;
    v->epoch = f->epoch;
    v->since_ms = now_ms;
    memcpy(v->rid, rid, strlen(rid) + 1);
    return v;
}

/* ---- the invocation span ---- */

static enum tm_status platform_status(const struct tm_inv *v)
{
    if ((v->flags & TMF_DONE) && v->done_status != TM_ST_NONE)
        return v->done_status;
    return (v->flags & TMF_REPORT) ? v->rep_status : TM_ST_NONE;
}

static const char *platform_error(const struct tm_inv *v)
{
    return v->done_error[0] ? v->done_error : v->rep_error;
}

/* Runtime.OutOfMemory, or a failed invocation that used all of its memory. A successful one
 * that touched the limit is not named an out-of-memory (Lambda would have ended it). */
static bool out_of_memory(const struct tm_inv *v, enum tm_status st)
{
    bool full = (v->have & TM_HAVE_MAX_MEMORY) && (v->have & TM_HAVE_MEMORY_SIZE) &&
                v->memory_mb > 0 && v->max_memory_mb >= v->memory_mb;

    return strcmp(platform_error(v), OUT_OF_MEMORY_TYPE) == 0 ||
           (full && st != TM_ST_SUCCESS && st != TM_ST_NONE);
}

static void mark_failed(struct span *s, const char *outcome, const char *message, bool force)
{
    if (outcome)
        set_str(s, "tracebridge.invocation.outcome", outcome);
    if (force || s->status != SPAN_STATUS_ERROR)
        (void)span_set_status(s, SPAN_STATUS_ERROR, message);
}

/* The platform's status confirms or corrects what the proxy saw. */
static void apply_outcome(struct span *s, const struct tm_inv *v)
{
    enum tm_status st = platform_status(v);
    const char *err = platform_error(v);
    const char *seen = str_attr(s, "tracebridge.invocation.outcome");
    char msg[TM_ERR_MAX + 48];

    if (st != TM_ST_NONE)
        set_str(s, "aws.lambda.status", tm_status_name(st));
    if (out_of_memory(v, st)) {
        set_str(s, "error.type", err[0] ? err : OUT_OF_MEMORY_TYPE);
        set_bool(s, "aws.lambda.out_of_memory", true);
        mark_failed(s, "out_of_memory", "out of memory", true);
        return;
    }
    if (err[0])
        set_str(s, "error.type", err);
    snprintf(msg, sizeof(msg), "Lambda reported %s%s%s", tm_status_name(st), err[0] ? ": " : "",
             err);
    if (st == TM_ST_SUCCESS && seen && (strcmp(seen, "crash") == 0 || strcmp(seen, "lost") == 0)) {
        /* The proxy missed the end (SHUTDOWN came first, the table was full): it succeeded. A
         * timeout by the deadline stays (Managed Instances report late answers as successes). */
        (void)attr_list_remove(&s->attrs, "tracebridge.invocation.outcome");
        (void)span_set_status(s, SPAN_STATUS_UNSET, NULL);
    } else if (st == TM_ST_TIMEOUT)
        mark_failed(s, "timeout", "invocation timed out", !seen || strcmp(seen, "timeout") != 0);
    else if (st == TM_ST_FAILURE)
        mark_failed(s, seen ? NULL : "failure", msg, false);
    else if (st == TM_ST_ERROR)
        mark_failed(s, NULL, msg, false);
}

static void apply_metrics(struct span *s, const struct tm_inv *v)
{
    if (v->have & TM_HAVE_DURATION)
        set_double(s, "aws.lambda.duration_ms", v->duration_ms);
    if (v->have & TM_HAVE_BILLED)
        set_int(s, "aws.lambda.billed_duration_ms", (int64_t)v->billed_ms);
    if (v->have & TM_HAVE_MAX_MEMORY)
        set_int(s, "aws.lambda.max_memory_used_mb", v->max_memory_mb);
    if (v->have & TM_HAVE_MEMORY_SIZE)
        set_int(s, "faas.max_memory", v->memory_mb * MB);
    if (v->have & TM_HAVE_PRODUCED)
        set_int(s, "aws.lambda.produced_bytes", v->produced_bytes);
    if (v->have & TM_HAVE_INIT_DURATION)
        set_double(s, "aws.lambda.init_duration_ms", v->init_ms);
    if (v->have & TM_HAVE_RESTORE)
        set_double(s, "aws.lambda.restore_duration_ms", v->restore_ms);
    if (v->have & (TM_HAVE_INIT_DURATION | TM_HAVE_RESTORE))
        set_bool(s, "faas.coldstart", true);
}

static void annotate(struct span *s, const struct tm_inv *v)
{
    if (v->tenant[0])
        set_str(s, "aws.lambda.tenant_id", v->tenant);
    apply_metrics(s, v);
    apply_outcome(s, v);
}

static void hand_on(struct tm_facts *f, struct span *s)
{
    if (f->hooks.span_ready)
        f->hooks.span_ready(f->hooks.arg, s);
    span_free(s);
}

/* The held span goes on with whatever facts its entry has; the entry stays, released. */
static void release(struct tm_facts *f, struct tm_inv *v)
{
    if (!(v->flags & TMF_HELD))
        return;
    annotate(&v->span, v);
    v->flags &= ~TMF_HELD;
    v->flags |= TMF_RELEASED;
    hand_on(f, &v->span);
}

/* ---- init and restore spans ---- */

static void phase_attrs(struct span *s, const struct tm_phase *p, bool init)
{
    if (p->phase[0])
        (void)attr_list_add_str(&s->attrs, "aws.lambda.init.phase", p->phase);
    if (p->init_type[0])
        (void)attr_list_add_str(&s->attrs, "aws.lambda.init.type", p->init_type);
    if (p->runtime_version[0])
        (void)attr_list_add_str(&s->attrs, "aws.lambda.runtime_version", p->runtime_version);
    if (p->runtime_arn[0])
        (void)attr_list_add_str(&s->attrs, "aws.lambda.runtime_version_arn", p->runtime_arn);
    if (p->flags & TMF_REPORT)
        (void)attr_list_add_double(
            &s->attrs, init ? "aws.lambda.init_duration_ms" : "aws.lambda.restore_duration_ms",
            p->report_ms);
    if (p->status != TM_ST_NONE)
        (void)attr_list_add_str(&s->attrs, "aws.lambda.status", tm_status_name(p->status));
    if (p->error[0])
        (void)attr_list_add_str(&s->attrs, "error.type", p->error);
}

/* start..end: initStart to initRuntimeDone; either side from the report's duration. */
static void phase_times(const struct tm_phase *p, uint64_t *start, uint64_t *end)
{
    uint64_t dur = (p->flags & TMF_REPORT) ? (uint64_t)(p->report_ms * 1e6) : 0;

    *start =
        (p->flags & TMF_START) ? p->start_ns : (p->done_ns > dur ? p->done_ns - dur : p->done_ns);
    *end = (p->flags & TMF_DONE) ? p->done_ns : *start + dur;
    if (*end < *start)
        *end = *start;
}

static void emit_phase(struct tm_facts *f, struct tm_phase *p, bool init)
{
    struct span s;
    char msg[TM_ERR_MAX + 48];

    p->flags |= TMF_EMITTED;
    span_init(&s);
    memcpy(s.ctx.trace_id, p->parent.trace_id, 16);
    ids_span_id(f->ids, s.ctx.span_id);
    s.ctx.flags = p->parent.flags;
    s.has_parent = true;
    memcpy(s.parent_span_id, p->parent.span_id, 8);
    s.kind = SPAN_KIND_INTERNAL;
    (void)span_set_name(&s, init ? "aws.lambda.init" : "aws.lambda.restore");
    phase_times(p, &s.start_ns, &s.end_ns);
    phase_attrs(&s, p, init);
    if (p->status != TM_ST_NONE && p->status != TM_ST_SUCCESS) {
        snprintf(msg, sizeof(msg), "%s %s%s%s", init ? "init" : "restore",
                 tm_status_name(p->status), p->error[0] ? ": " : "", p->error);
        (void)span_set_status(&s, SPAN_STATUS_ERROR, msg);
    }
    if (init)
        f->stats.init_spans++;
    else
        f->stats.restore_spans++;
    hand_on(f, &s);
}

/* How sure a phase span is to have all its events: its report came (the phase's last event);
 * a lifecycle point passed and its end is known; or nothing more will come (SHUTDOWN). */
enum { EMIT_REPORT = 0, EMIT_POINT, EMIT_LAST };

static void maybe_emit(struct tm_facts *f, struct tm_phase *p, bool init, int when)
{
    if ((p->flags & TMF_EMITTED) || !(p->flags & TMF_PARENTED))
        return;
    if ((p->flags & TMF_REPORT) || (when >= EMIT_POINT && (p->flags & TMF_DONE)) ||
        (when == EMIT_LAST && (p->flags & TMF_START)))
        emit_phase(f, p, init);
}

static void remember(struct tm_facts *f, const struct span *s, const char *rid)
{
    struct seen *r = &f->recent[f->recent_next++ % RECENT];

    r->used = true;
    r->start_ns = s->start_ns;
    r->ctx = s->ctx;
    snprintf(r->rid, sizeof(r->rid), "%s", rid ? rid : "");
}

/* The restore's invocation, when restoreStart came after its span: the earliest one seen that
 * began after it. A span still held is marked a cold start too. */
static void restore_from_recent(struct tm_facts *f)
{
    struct tm_phase *p = &f->restore;
    const struct seen *best = NULL;
    struct tm_inv *v;

    for (size_t i = 0; i < RECENT; i++) {
        const struct seen *r = &f->recent[i];
        if (r->used && r->start_ns >= p->start_ns && (!best || r->start_ns < best->start_ns))
            best = r;
    }
    if (!best)
        return;
    p->flags |= TMF_PARENTED;
    p->parent = best->ctx;
    v = best->rid[0] ? find(f, best->rid) : NULL;
    if (v && (v->flags & TMF_HELD))
        set_bool(&v->span, "faas.coldstart", true);
}

/* The first invocation span of the sandbox is the init's; the first one that began after
 * restoreStart is the restore's. Either is a cold start. */
static void adopt(struct tm_facts *f, struct span *s, const char *rid)
{
    bool first = ++f->spans_seen == 1;

    if (first && !(f->init.flags & TMF_PARENTED)) {
        f->init.flags |= TMF_PARENTED;
        f->init.parent = s->ctx;
        if (f->init.flags & TMF_START)
            set_bool(s, "faas.coldstart", true);
    }
    if ((f->restore.flags & TMF_START) && !(f->restore.flags & TMF_PARENTED) &&
        s->start_ns >= f->restore.start_ns) {
        f->restore.flags |= TMF_PARENTED;
        f->restore.parent = s->ctx;
        set_bool(s, "faas.coldstart", true);
    }
    remember(f, s, rid);
    maybe_emit(f, &f->init, true, EMIT_REPORT);
    maybe_emit(f, &f->restore, false, EMIT_REPORT);
}

void tm_facts_span(struct tm_facts *f, struct span *s, uint64_t now_ms)
{
    const char *rid = str_attr(s, "faas.invocation_id");
    struct tm_inv *v;

    if (!rid) { /* not an invocation span (an inferred queue span): no platform facts */
        hand_on(f, s);
        return;
    }
    adopt(f, s, rid);
    v = rid ? find(f, rid) : NULL;
    if (v && (v->flags & TMF_REPORT)) {
        annotate(s, v);
        v->flags |= TMF_RELEASED;
        f->stats.completed++;
        hand_on(f, s);
        return;
    }
    if (!f->live || !rid || !(v = find_or_add(f, rid, now_ms)) || (v->flags & TMF_HELD)) {
        if (v)
            annotate(s, v);
        hand_on(f, s);
        return;
    }
    v->span = *s;
    span_init(s);
    v->flags |= TMF_HELD;
    v->epoch = f->epoch;
    v->since_ms = now_ms;
    f->stats.held++;
}

/* ---- events ---- */

static void copy(char *dst, size_t cap, const char *src)
{
    if (src[0])
        snprintf(dst, cap, "%s", src);
}

static void phase_event(struct tm_facts *f, struct tm_phase *p, const struct tm_event *ev,
                        bool init)
{
    int step = ev->type == TM_INIT_START || ev->type == TM_RESTORE_START                 ? 0
               : ev->type == TM_INIT_RUNTIME_DONE || ev->type == TM_RESTORE_RUNTIME_DONE ? 1
                                                                                         : 2;

    if (p->flags & TMF_EMITTED)
        return;
    copy(p->phase, sizeof(p->phase), ev->phase);
    copy(p->init_type, sizeof(p->init_type), ev->init_type);
    copy(p->runtime_version, sizeof(p->runtime_version), ev->runtime_version);
    copy(p->runtime_arn, sizeof(p->runtime_arn), ev->runtime_version_arn);
    copy(p->error, sizeof(p->error), ev->error_type);
    if (ev->status != TM_ST_NONE && (step == 1 || p->status == TM_ST_NONE))
        p->status = ev->status;
    if (step == 0) {
        p->flags |= TMF_START;
        p->start_ns = ev->time_ns;
        if (!init && !(p->flags & TMF_PARENTED))
            restore_from_recent(f);
    } else if (step == 1) {
        p->flags |= TMF_DONE;
        p->done_ns = ev->time_ns;
    } else {
        flags_put(&p->flags, TMF_REPORT, ev->have & TM_HAVE_DURATION);
        p->report_ms = ev->duration_ms;
    }
    maybe_emit(f, p, init, EMIT_REPORT);
}

static void take_metrics(struct tm_inv *v, const struct tm_event *ev)
{
    v->have |= ev->have;
    if (ev->have & TM_HAVE_DURATION)
        v->duration_ms = ev->duration_ms;
    if (ev->have & TM_HAVE_BILLED)
        v->billed_ms = ev->billed_ms;
    if (ev->have & TM_HAVE_INIT_DURATION)
        v->init_ms = ev->init_ms;
    if (ev->have & TM_HAVE_RESTORE)
        v->restore_ms = ev->restore_ms;
    if (ev->have & TM_HAVE_MAX_MEMORY)
        v->max_memory_mb = ev->max_memory_mb;
    if (ev->have & TM_HAVE_MEMORY_SIZE)
        v->memory_mb = ev->memory_mb;
}

static void invocation_event(struct tm_facts *f, const struct tm_event *ev, uint64_t now_ms)
{
    struct tm_inv *v = find_or_add(f, ev->request_id, now_ms);

    if (!v)
        return;
    copy(v->tenant, sizeof(v->tenant), ev->tenant_id);
    if (ev->type == TM_START) {
        v->flags |= TMF_START;
    } else if (ev->type == TM_RUNTIME_DONE) {
        v->flags |= TMF_DONE;
        v->done_status = ev->status;
        copy(v->done_error, sizeof(v->done_error), ev->error_type);
        v->have |= ev->have & TM_HAVE_PRODUCED;
        v->produced_bytes = ev->produced_bytes;
    } else {
        v->flags |= TMF_REPORT;
        v->rep_status = ev->status;
        copy(v->rep_error, sizeof(v->rep_error), ev->error_type);
        /* runtimeDone's durationMs is the runtime's part; the report's is the invocation's */
        take_metrics(v, ev);
        if (v->flags & TMF_HELD) {
            f->stats.completed++;
            release(f, v);
        } else if (v->flags & TMF_RELEASED) {
            f->stats.late++;
            entry_clear(f, v);
        }
    }
}

static void logs_dropped(struct tm_facts *f, const struct tm_event *ev, uint64_t now_ms)
{
    unsigned long held = 0;

    if (ratelimit_hit(&f->dropped_log, now_ms, &held))
        log_warn(f->lg, "telemetry",
                 "Lambda dropped %lld telemetry records for tracebridge (it read them too "
                 "slowly)%s",
                 (long long)ev->dropped_records, held ? "; and more since the last warning" : "");
}

void tm_facts_event(struct tm_facts *f, const struct tm_event *ev, uint64_t now_ms)
{
    f->live = true;
    f->stats.events++;
    switch (ev->type) {
    case TM_INIT_START:
    case TM_INIT_RUNTIME_DONE:
    case TM_INIT_REPORT:
        phase_event(f, &f->init, ev, true);
        break;
    case TM_RESTORE_START:
    case TM_RESTORE_RUNTIME_DONE:
    case TM_RESTORE_REPORT:
        phase_event(f, &f->restore, ev, false);
        break;
    case TM_START:
    case TM_RUNTIME_DONE:
    case TM_REPORT:
        invocation_event(f, ev, now_ms);
        break;
    case TM_LOGS_DROPPED:
        logs_dropped(f, ev, now_ms);
        break;
    default:
        break;
    }
}

/* ---- lifecycle points ---- */

static bool due(const struct tm_facts *f, const struct tm_inv *v, enum tm_point p,
                bool keep_current, uint64_t now_ms)
{
    switch (p) {
    case TM_POINT_INVOKE:
        return v->epoch + EPOCHS_KEPT <= f->epoch;
    case TM_POINT_SETTLED:
        if (!keep_current)
            return (v->flags & TMF_HELD) != 0;
        return (v->flags & TMF_HELD) && v->epoch < f->epoch &&
               (v->epoch + 1 < f->epoch || now_ms - f->epoch_ms >= REPORT_GRACE_MS);
    case TM_POINT_TICK:
        return now_ms - v->since_ms >= ((v->flags & TMF_HELD) ? TM_MI_HOLD_MS : MI_FACTS_KEEP_MS);
    default:
        return true;
    }
}

void tm_facts_point(struct tm_facts *f, enum tm_point p, bool keep_current, uint64_t now_ms)
{
    if (p == TM_POINT_INVOKE) {
        f->epoch++;
        f->epoch_ms = now_ms;
    }
    for (size_t i = 0; i < TM_MAX_INV; i++) {
        struct tm_inv *v = &f->table[i];
        if (!(v->flags & TMF_USED) || !due(f, v, p, keep_current, now_ms))
            continue;
        if (v->flags & TMF_HELD) {
            f->stats.timed_out++;
            release(f, v);
        }
        if (p != TM_POINT_SETTLED)
            entry_clear(f, v);
    }
    maybe_emit(f, &f->init, true, p == TM_POINT_ALL ? EMIT_LAST : EMIT_POINT);
    maybe_emit(f, &f->restore, false, p == TM_POINT_ALL ? EMIT_LAST : EMIT_POINT);
}

size_t tm_facts_waiting(const struct tm_facts *f)
{
    size_t n = 0;

    for (size_t i = 0; i < TM_MAX_INV; i++)
        n += flags_are(f->table[i].flags, TMF_USED | TMF_HELD, 0);
    return n;
}

bool tm_facts_live(const struct tm_facts *f)
{
    return f->live;
}

void tm_facts_get_stats(const struct tm_facts *f, struct tm_stats *out)
{
    *out = f->stats;
}

/* ---- lifetime ---- */

struct tm_facts *tm_facts_new(struct ids *ids, const struct tm_facts_hooks *hooks,
                              const struct log *lg)
{
    struct tm_facts *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    f->ids = ids;
    f->hooks = *hooks;
    f->lg = lg;
    f->dropped_log = (struct ratelimit)RATELIMIT_INIT(WARN_EVERY_MS);
    return f;
}

void tm_facts_free(struct tm_facts *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < TM_MAX_INV; i++)
        entry_clear(f, &f->table[i]);
    free(f);
}
