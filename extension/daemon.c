/* SPDX-License-Identifier: Apache-2.0 */
/* daemon: wires the parts together on one libuv loop.
 *
 * Start-up order matters (Lambda starts the runtime as soon as every extension registered):
 * config, proxy listening, OTLP receiver, Telemetry API listener, a TCP connect to the upstream
 * Runtime API (at most UPSTREAM_PROBE_MS: a proxy that forwards to nothing would fail every
 * invocation), ready file (the wrapper's signal: proxy address and, when the receiver listens,
 * its address for the handler's SDK; not written when the proxy cannot serve), THEN register,
 * and subscribe to the Telemetry API before the first /event/next.
 * When /event/next is called after an INVOKE is the flush gate's decision (flushgate.h); the
 * daemon feeds it the loop clock and what it sees, and carries out what it answers. The export
 * itself may outlive that wait (it carries on across the freeze, bounded by
 * OTEL_EXPORTER_OTLP_TIMEOUT); only the wait for it is bounded by max_flush_ms. */
#include "extension/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "extension/base/base.h"
#include "extension/conf.h"
#include "extension/export/export.h"
#include "extension/flushgate.h"
#include "extension/lifecycle/lifecycle.h"
#include "extension/net/net.h"
#include "extension/spans/spans.h"
#include "extension/otlp/otlp.h"
#include "extension/receiver/receiver.h"
#include "extension/telemetry/telemetry.h"
#include "proxy/proxy.h"

#define UPSTREAM_PROBE_MS    1000
#define SHUTDOWN_MARGIN_MS   150
#define SIGNAL_BUDGET_MS     500
#define LMI_FLUSH_EVERY_MS   1000
#define DROPPED_LOG_EVERY_MS 60000 /* the "spans dropped" warning of a buffer that stays full */
/* SHUTDOWN waits at most this long (and a quarter of its budget) for the platform's reports of
 * the spans still held for them (telemetry_drain). */
#define TELEMETRY_DRAIN_MS 200

/* What the last invocations' work was (struct daemon.mem_flags, maybe_trim). */
enum {
    MEM_F_LARGE = 1u << 0,   /* the last invocation's work was large (memtrim_threshold) */
    MEM_F_KEEPING = 1u << 1, /* large work in a row: the proxy keeps its large /next buffer */
};

enum daemon_state { ST_INIT = 0, ST_REGISTERING, ST_WAITING, ST_INVOKE, ST_SHUTDOWN, ST_DONE };

struct daemon {
    uv_loop_t loop;
    struct log lg;
    struct conf conf;
    struct ids ids;
    struct clockjump clocks; /* restore detection when the runtime does not tell us */
    unsigned long restores;
    struct httpc *http;
    struct extapi *ext;
    struct proxy *proxy;
    struct receiver *recv;
    struct tcpprobe *probe;
    struct spanbuf *sb;
    struct exporter *exp;
    struct lifecycle *lc;
    struct otlp_resource *res;
    struct telemetry *tm;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_timer_t gate;
    uv_timer_t stop_timer;
    uv_timer_t periodic; /* Managed Instances: no INVOKE events, so flush on a clock */
    uv_idle_t trim;      /* memory release after a large invocation, off the relay's turn */
    unsigned mem_flags;  /* MEM_F_*: what the last invocations' work was (maybe_trim) */
    struct ratelimit dropped_log;
    size_t dropped_unlogged; /* spans dropped since the last "spans dropped" line */
    enum daemon_state state;
    bool export_enabled;
    char name[256];
    char account_id[32];
    struct flushgate gate_state; /* the current invocation, between INVOKE and /event/next */
    uint64_t started_ns;         /* uv_hrtime at daemon_main: the start-up line's clock */
    uint64_t shutdown_deadline;
    char shutdown_reason[32];
    int exit_code;
};

/* ---- clocks ---- */

static uint64_t epoch_ms(void)
{
    return span_now_ns() / 1000000ULL;
}

/* Converts an epoch-ms deadline to the loop clock, minus a margin. */
static uint64_t loop_deadline(struct daemon *d, uint64_t deadline_epoch_ms, uint64_t margin,
                              uint64_t fallback)
{
    uint64_t now = uv_now(&d->loop);
    uint64_t wall = epoch_ms();

    if (!deadline_epoch_ms || deadline_epoch_ms <= wall + margin)
        return deadline_epoch_ms ? now : now + fallback;
    return now + (deadline_epoch_ms - wall - margin);
}

/* ---- spans in ---- */

static void warn_dropped(struct daemon *d, bool again)
{
    log_warn(&d->lg, "daemon", "%zu spans dropped (buffer full or rejected by the backend)%s",
             d->dropped_unlogged, again ? " since the last warning" : "");
    d->dropped_unlogged = 0;
}

/* Drops are counted on the next invocation span always; the warning is rate-limited, since a
 * backend that stays down fills the buffer and then drops on every invocation. */
static void collect_dropped(struct daemon *d)
{
    size_t n = spanbuf_take_dropped(d->sb) + (d->exp ? exporter_take_dropped(d->exp) : 0);
    unsigned long held = 0;

    if (!n)
        return;
    lifecycle_add_dropped(d->lc, n);
    d->dropped_unlogged += n;
    if (ratelimit_hit(&d->dropped_log, uv_now(&d->loop), &held))
        warn_dropped(d, held > 0);
}

static void ensure_resource(struct daemon *d)
{
    struct attr_list attrs = {0};
    struct resource_facts f = {.account_id = d->account_id, .log_stream = NULL};

    if (d->res)
        return;
    f.log_stream = getenv("AWS_LAMBDA_LOG_STREAM_NAME");
    if (resource_build(&d->conf.resource, &f, &attrs, &d->lg) == 0)
        d->res = otlp_resource_new(&attrs, TRACEBRIDGE_SCOPE, TRACEBRIDGE_VERSION);
    attr_list_free(&attrs);
}

static void start_flush(struct daemon *d, uint64_t deadline);

/* A span leaves the telemetry's hold (with the platform's facts, or at a bound). One released
 * while the handler of the next invocation runs joins that invocation's flush (flush at INVOKE);
 * later ones wait for the next flush. */
static void on_span_ready(void *arg, struct span *s)
{
    struct daemon *d = arg;
    unsigned f = d->gate_state.flags;

    ensure_resource(d);
    if (!d->res || spanbuf_push_span(d->sb, d->res, s) < 0)
        log_warn(&d->lg, "daemon", "span could not be encoded; dropped");
    collect_dropped(d);
    if (d->state == ST_INVOKE && (f & GATE_INVOKE_MODE) && (f & GATE_FLUSH_STARTED) &&
        !(f & GATE_SETTLED))
        start_flush(d, uv_now(&d->loop) + (uint64_t)d->conf.exporter.timeout_ms);
}

/* An invocation span ended: the telemetry holds it for the platform's facts, or passes it on. */
static void on_span_done(void *arg, struct span *s)
{
    struct daemon *d = arg;

    telemetry_span(d->tm, s);
}

/* ---- SnapStart restore ---- */

/* Every restored copy of a snapshot starts with the same id pool and retry jitter: both are
 * drawn afresh, and no connection the snapshot holds is reused. */
static void restored(struct daemon *d, const char *how)
{
    struct clock_reading now;

    ids_reseed(&d->ids);
    if (d->exp)
        exporter_restored(d->exp);
    clockjump_now(&now);
    (void)clockjump_observe(&d->clocks, &now, CLOCKJUMP_THRESHOLD_NS, NULL);
    d->restores++;
    log_info(&d->lg, "daemon",
             "sandbox restored from a snapshot (%s): ids reseeded, exporter connections renewed",
             how);
}

static void on_restored(void *arg)
{
    restored(arg, "the runtime's /restore/next returned");
}

/* A restore the runtime did not report (it bypasses the proxy) still moves the wall clock
 * against the monotonic one; so does a step of the clock, for which the same is harmless. */
static void check_clocks(struct daemon *d)
{
    struct clock_reading now;
    int64_t jump = 0;
    char how[96];

    clockjump_now(&now);
    if (!clockjump_observe(&d->clocks, &now, CLOCKJUMP_THRESHOLD_NS, &jump))
        return;
    snprintf(how, sizeof(how), "the wall clock jumped by %lld ms against the monotonic clock",
             (long long)(jump / 1000000));
    restored(d, how);
}

static void on_next_event_begin(void *arg)
{
    check_clocks(arg);
}

/* ---- the /event/next gate ---- */

static void gate_check(struct daemon *d);

static void on_gate_timer(uv_timer_t *t)
{
    gate_check(t->data);
}

/* Why /event/next is called now: how long after the invocation ended, and the export state. */
static void log_call_next(struct daemon *d)
{
    const struct flushgate *g = &d->gate_state;
    uint64_t now = uv_now(&d->loop);
    bool busy = d->export_enabled && exporter_busy(d->exp);
    bool settled = g->flags & GATE_SETTLED;

    if (d->state != ST_INVOKE)
        return;
    log_debug(&d->lg, "daemon",
              "event/next rid=%s ended=%d held_ms=%llu export=%s buffered_spans=%zu", g->rid,
              settled, (unsigned long long)(settled ? now - g->settled_at : 0),
              !busy                         ? "idle"
              : g->flags & GATE_INVOKE_MODE ? "running (overlaps the next invocation)"
                                            : "running (not waited for)",
              spanbuf_spans(d->sb));
}

/* The largest work (bytes held at once) since the last invocation ended. */
static size_t take_peak(struct daemon *d)
{
    size_t peak = lifecycle_take_peak_event(d->lc);
    size_t other = d->recv ? receiver_take_peak_body(d->recv) : 0;

    if (other > peak)
        peak = other;
    other = d->exp ? exporter_take_peak_bytes(d->exp) : 0;
    return other > peak ? other : peak;
}

/* After large work, while idle: memory back to the system (memtrim.h), so that a one-off large
 * event does not take the handler's memory for the sandbox's life. Large work twice in a row
 * means the function's events are large: handing the memory back would only fault the same
 * pages in again at the next one, and the sandbox's peak holds them anyway, so the proxy keeps
 * its large /next buffer until an invocation with small work, after which it goes. Only once an
 * invocation ended: in invoke mode /event/next may come before its event was even relayed. */
static void maybe_trim(struct daemon *d)
{
    size_t peak = take_peak(d);
    bool large = peak >= memtrim_threshold(d->conf.resource.memory_mb);
    unsigned was = d->mem_flags;
    uint64_t t0;

    d->mem_flags = large ? MEM_F_LARGE : 0;
    if (large && (was & MEM_F_LARGE)) {
        d->mem_flags |= MEM_F_KEEPING;
        if (was & MEM_F_KEEPING)
            return;
        if (d->proxy)
            proxy_set_spare_max(d->proxy, SIZE_MAX);
        log_debug(&d->lg, "daemon", "large work again (%zu bytes): memory kept", peak);
        return;
    }
    if ((was & MEM_F_KEEPING) && d->proxy)
        proxy_set_spare_max(d->proxy, 0);
    if (!large && !(was & MEM_F_KEEPING))
        return;
    t0 = uv_hrtime();
    memtrim_release();
    log_debug(&d->lg, "daemon", "memory released (%s) after %zu bytes of work, in %llu us",
              memtrim_method(), peak, (unsigned long long)((uv_hrtime() - t0) / 1000));
}

/* An idle callback runs after the loop's pending callbacks, among them the completion of the
 * write that handed the event to the runtime (which frees the event's memory); a timer would
 * run before them. */
static void on_trim_idle(uv_idle_t *h)
{
    uv_idle_stop(h);
    maybe_trim(h->data);
}

static void call_next(struct daemon *d)
{
    int rc;

    log_call_next(d);
    uv_timer_stop(&d->gate);
    d->state = ST_WAITING;
    rc = extapi_next(d->ext);
    if (rc < 0 && rc != -EALREADY)
        log_error(&d->lg, "daemon", "cannot call /event/next: %s", strerror(-rc));
}

static void start_flush(struct daemon *d, uint64_t deadline)
{
    if (d->export_enabled && spanbuf_spans(d->sb) > 0)
        exporter_flush(d->exp, deadline);
}

static struct flushgate_facts gate_facts(struct daemon *d)
{
    struct flushgate_facts f = {.have_proxy = d->proxy != NULL};

    f.seen_at_proxy = d->proxy && lifecycle_state(d->lc, d->gate_state.rid) != INV_UNKNOWN;
    /* Hold /event/next for an export only while the backend is answering quickly; an outage
     * must not cost every invocation the whole budget (spans stay buffered meanwhile). */
    f.export_waits = d->export_enabled && exporter_busy(d->exp) &&
                     exporter_responsive(d->exp, (uint64_t)d->conf.max_flush_ms);
    return f;
}

static void gate_check(struct daemon *d)
{
    uint64_t now = uv_now(&d->loop);
    struct flushgate_facts f;
    struct flushgate_verdict v;
    bool was_settled = d->gate_state.flags & GATE_SETTLED;

    if (d->state != ST_INVOKE)
        return;
    f = gate_facts(d);
    v = flushgate_check(&d->gate_state, now, &f);
    /* Settled: spans held for the platform's facts of earlier invocations go on now, before
     * this invocation's flush (telemetry.h, holding bounds). */
    if (!was_settled && (d->gate_state.flags & GATE_SETTLED))
        telemetry_point(d->tm, TM_POINT_SETTLED, d->gate_state.flags & GATE_INVOKE_MODE);
    if (v.actions & GATE_DO_FLUSH) {
        /* Asked once per invocation; the flush just started is then a fact of the next look. */
        start_flush(d, now + (uint64_t)d->conf.exporter.timeout_ms);
        f = gate_facts(d);
        v = flushgate_check(&d->gate_state, now, &f);
    }
    if (v.actions & GATE_DO_NEXT) {
        call_next(d);
        return;
    }
    if (v.wake_at != UINT64_MAX)
        uv_timer_start(&d->gate, on_gate_timer, v.wake_at > now ? v.wake_at - now : 0, 0);
}

static void on_invocation_end(void *arg, const char *rid)
{
    struct daemon *d = arg;

    flushgate_ended(&d->gate_state, rid);
    /* The event and the response went through: the memory they took can go back, once the
     * loop has finished this turn (the runtime's 202, the event's write completion). */
    uv_idle_start(&d->trim, on_trim_idle);
    gate_check(d);
}

/* ---- events ---- */

static void handle_invoke(struct daemon *d, const struct extapi_event *ev)
{
    uint64_t now = uv_now(&d->loop);
    uint64_t deadline = loop_deadline(d, ev->deadline_ms, 0, 900000);
    unsigned r;

    check_clocks(d);
    lifecycle_on_invoke(d->lc, ev, span_now_ns());
    telemetry_point(d->tm, TM_POINT_INVOKE, false);
    collect_dropped(d);
    d->state = ST_INVOKE;
    r = flushgate_invoke(&d->gate_state, ev->request_id, now, deadline);
    if (r & GATE_NOW_FAST)
        log_info(&d->lg, "daemon", "adaptive flush: invocations are frequent, flushing at INVOKE");
    if (r & GATE_NOW_RARE)
        log_info(&d->lg, "daemon", "adaptive flush: invocations are rare, flushing at the end");
    log_debug(&d->lg, "daemon", "INVOKE rid=%s deadline_in_ms=%llu flush_at=%s buffered_spans=%zu",
              ev->request_id, (unsigned long long)(deadline - now),
              flush_mode_names[r & GATE_DO_FLUSH ? FLUSH_INVOKE : FLUSH_END], spanbuf_spans(d->sb));
    if (r & GATE_DO_FLUSH)
        start_flush(d, now + (uint64_t)d->conf.exporter.timeout_ms);
    gate_check(d);
}

static void close_all(struct daemon *d);

/* What the proxy did over the sandbox's life, at SHUTDOWN (debug); closed runtime /next
 * (orphans) at info, only when there were some. */
static void log_proxy_stats(struct daemon *d)
{
    struct proxy_stats ps = {0};

    if (!d->proxy)
        return;
    proxy_get_stats(d->proxy, &ps);
    log_debug(&d->lg, "daemon",
              "proxy: %lu /next, %lu rewritten, %lu passed unchanged as oversize, %lu upstream "
              "failures",
              ps.next_requests, ps.rewrites, ps.passthrough_oversize, ps.upstream_failures);
    if (ps.orphaned_next || ps.handed_over || ps.orphan_lost)
        log_info(&d->lg, "daemon",
                 "proxy: %lu upstream /next ended for a runtime that left, %lu invocations handed "
                 "to the next /next, %lu lost",
                 ps.orphaned_next, ps.handed_over, ps.orphan_lost);
}

static void finish_shutdown(struct daemon *d)
{
    struct exporter_stats es = {0};

    if (d->state == ST_DONE)
        return;
    d->state = ST_DONE;
    if (d->exp)
        exporter_get_stats(d->exp, &es);
    if (d->dropped_unlogged)
        warn_dropped(d, true);
    if (spanbuf_spans(d->sb) > 0 && d->export_enabled)
        log_warn(&d->lg, "daemon",
                 "shutdown: %zu spans lost (not exported before the SHUTDOWN deadline: %lu "
                 "export requests, %lu accepted; %lu spans exported in all)",
                 spanbuf_spans(d->sb), es.requests, es.successes, es.spans_sent);
    else
        log_info(&d->lg, "daemon", "shutdown: %lu spans exported, %zu left unsent", es.spans_sent,
                 spanbuf_spans(d->sb));
    log_proxy_stats(d);
    close_all(d);
}

static void on_stop_timer(uv_timer_t *t)
{
    finish_shutdown(t->data);
}

/* The final flush, once the telemetry released what it held. */
static void flush_for_shutdown(void *arg)
{
    struct daemon *d = arg;
    uint64_t deadline = d->shutdown_deadline;
    uint64_t now = uv_now(&d->loop);

    if (d->state != ST_SHUTDOWN)
        return;
    if (deadline < now)
        deadline = now;
    log_info(&d->lg, "daemon", "SHUTDOWN (%s): flushing %zu spans within %llu ms",
             d->shutdown_reason, spanbuf_spans(d->sb), (unsigned long long)(deadline - now));
    if (!d->export_enabled || spanbuf_spans(d->sb) == 0) {
        finish_shutdown(d);
        return;
    }
    uv_timer_start(&d->stop_timer, on_stop_timer, deadline - now + 1, 0);
    /* A flush already running (begun at an INVOKE) goes on with this deadline; its end is the
     * end of the shutdown (on_export_done). */
    exporter_flush_final(d->exp, deadline);
}

static void begin_shutdown(struct daemon *d, const struct extapi_event *ev, uint64_t budget_ms)
{
    uint64_t deadline = loop_deadline(d, ev->deadline_ms, SHUTDOWN_MARGIN_MS, budget_ms);
    uint64_t wait = (deadline - uv_now(&d->loop)) / 4;

    if (d->state == ST_SHUTDOWN || d->state == ST_DONE)
        return;
    uv_timer_stop(&d->gate);
    lifecycle_on_shutdown(d->lc, ev, span_now_ns());
    d->state = ST_SHUTDOWN;
    d->shutdown_deadline = deadline;
    snprintf(d->shutdown_reason, sizeof(d->shutdown_reason), "%s",
             ev->shutdown_reason[0] ? ev->shutdown_reason : "signal");
    if (telemetry_drain(d->tm, wait < TELEMETRY_DRAIN_MS ? wait : TELEMETRY_DRAIN_MS,
                        flush_for_shutdown, d) < 0)
        flush_for_shutdown(d);
}

static void on_export_done(void *arg)
{
    struct daemon *d = arg;

    collect_dropped(d);
    if (d->state == ST_SHUTDOWN) {
        /* The final flush (exporter_flush_final took over any flush already running) ended:
         * what is left could not be sent before the deadline. Flushing again from here could
         * only spin until the deadline. */
        finish_shutdown(d);
        return;
    }
    gate_check(d);
}

static void on_event(void *arg, const struct extapi_event *ev)
{
    struct daemon *d = arg;

    if (ev->type == EXTAPI_INVOKE)
        handle_invoke(d, ev);
    else
        begin_shutdown(d, ev, 1500);
}

/* Managed Instances are never frozen between invocations and send no INVOKE: export what is
 * buffered every LMI_FLUSH_EVERY_MS. */
static void on_periodic(uv_timer_t *t)
{
    struct daemon *d = t->data;

    lifecycle_expire(d->lc, span_now_ns());
    telemetry_point(d->tm, TM_POINT_TICK, false);
    if (d->state == ST_WAITING && d->export_enabled && !exporter_busy(d->exp))
        start_flush(d, uv_now(&d->loop) + (uint64_t)d->conf.exporter.timeout_ms);
}

/* Registered (and subscribed, or not): start-up is over. */
static void on_subscribed(void *arg)
{
    struct daemon *d = arg;
    uint64_t us = (uv_hrtime() - d->started_ns) / 1000;

    if (d->state != ST_REGISTERING)
        return;
    log_info(&d->lg, "daemon", "started in %llu.%03llu ms (exec to registered%s)",
             (unsigned long long)(us / 1000), (unsigned long long)(us % 1000),
             telemetry_subscribed(d->tm) ? " and subscribed to the Telemetry API" : "");
    call_next(d);
}

static void on_registered(void *arg, int err, const struct extapi_registration *reg)
{
    struct daemon *d = arg;

    if (err < 0) {
        /* Without an identifier nothing can be reported; Lambda sees the exit as an init
         * failure of this extension, which is the truth. */
        log_error(&d->lg, "daemon", "could not register with the Extensions API; exiting");
        d->exit_code = 1;
        finish_shutdown(d);
        return;
    }
    snprintf(d->account_id, sizeof(d->account_id), "%s", reg->account_id);
    log_debug(&d->lg, "daemon", "registered function=%s version=%s account_id=%s",
              reg->function_name, reg->function_version,
              reg->account_id[0] ? reg->account_id : "(not granted)");
    lifecycle_set_account_id(d->lc, reg->account_id);
    ensure_resource(d);
    if (d->conf.lifecycle.managed_instances)
        uv_timer_start(&d->periodic, on_periodic, LMI_FLUSH_EVERY_MS, LMI_FLUSH_EVERY_MS);
    /* The subscription needs the extension id and closes with init: between register and the
     * first /event/next. */
    if (telemetry_subscribe(d->tm, reg->extension_id, on_subscribed, d) < 0)
        on_subscribed(d);
}

/* ---- signals ---- */

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    struct extapi_event ev = {.type = EXTAPI_SHUTDOWN};

    log_info(&d->lg, "daemon", "signal %d: shutting down", signum);
    snprintf(ev.shutdown_reason, sizeof(ev.shutdown_reason), "spindown");
    if (d->state == ST_REGISTERING || d->state == ST_INIT) {
        finish_shutdown(d);
        return;
    }
    begin_shutdown(d, &ev, SIGNAL_BUDGET_MS);
}

/* ---- start-up ---- */

/* The wrapper reads this file to point the runtime at the proxy (first line) and the handler's
 * OTel SDK at our receiver (an "otlp=" line, only when the receiver listens and redirection is
 * on); written atomically so it never sees a partial address. */
static int write_ready_file(const char *path, int proxy_port, int otlp_port)
{
    char tmp[CONF_STR_MAX + 32];
    char text[96];
    int fd;
    int n;
    ssize_t w;

    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    if (otlp_port > 0)
        n = snprintf(text, sizeof(text), "127.0.0.1:%d\notlp=127.0.0.1:%d\n", proxy_port,
                     otlp_port);
    else
        n = snprintf(text, sizeof(text), "127.0.0.1:%d\n", proxy_port);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    w = write(fd, text, (size_t)n);
    close(fd);
    if (w != n || rename(tmp, path) < 0) {
        int e = w != n ? EIO : errno;
        unlink(tmp);
        return -e;
    }
    return 0;
}

/* A proxy the runtime is not pointed at: gone, so that invocations are not waited for at it. */
static void withdraw_proxy(struct daemon *d)
{
    proxy_free(d->proxy);
    d->proxy = NULL;
    lifecycle_set_proxy_offered(d->lc, false);
}

/* Written once the proxy and the receiver listen, before register: Lambda starts the runtime
 * (and so the wrapper) only after every extension registered. */
static void publish_ready(struct daemon *d)
{
    int otlp_port = 0;
    int rc;

    if (!d->proxy)
        return;
    if (d->recv && d->conf.sdk_redirect && strcmp(d->conf.receiver_host, "127.0.0.1") == 0)
        otlp_port = receiver_port(d->recv);
    rc = write_ready_file(d->conf.ready_file, proxy_port(d->proxy), otlp_port);
    if (rc < 0)
        log_error(&d->lg, "daemon",
                  "cannot write %s (%s); the runtime will talk to Lambda directly (no context "
                  "promotion)",
                  d->conf.ready_file, strerror(-rc));
    if (rc < 0)
        withdraw_proxy(d);
    else
        lifecycle_set_proxy_offered(d->lc, true);
}

static void start_proxy(struct daemon *d)
{
    struct proxy_hooks hooks = lifecycle_proxy_hooks(d->lc);
    struct proxy_conf pc = {.listen_host = "127.0.0.1",
                            .listen_port = d->conf.proxy_port,
                            .upstream = d->conf.upstream,
                            .max_event_bytes = d->conf.max_event_bytes,
                            .max_header_bytes = 1024 * 1024 + 64 * 1024,
                            .keep_buffer_bytes = memtrim_threshold(d->conf.resource.memory_mb)};
    int err = 0;

    unlink(d->conf.ready_file); /* a previous instance's file would point at a dead port */
    d->proxy = proxy_new(&d->loop, &pc, &hooks, &d->lg, &err);
    if (!d->proxy) {
        log_error(&d->lg, "daemon",
                  "proxy cannot listen on 127.0.0.1:%d (%s); the runtime will talk to Lambda "
                  "directly (no context promotion)",
                  d->conf.proxy_port, strerror(-err));
        uv_run(&d->loop, UV_RUN_NOWAIT);
        return;
    }
}

static void register_now(struct daemon *d)
{
    int rc = extapi_register(d->ext);

    if (rc < 0) {
        log_error(&d->lg, "daemon", "start-up failed: %s", strerror(-rc));
        d->exit_code = 1;
        finish_shutdown(d);
    }
}

static void on_upstream_probed(void *arg, int status)
{
    struct daemon *d = arg;

    d->probe = NULL;
    if (d->state != ST_REGISTERING)
        return; /* shut down meanwhile */
    if (status == 0) {
        publish_ready(d);
        register_now(d);
        return;
    }
    withdraw_proxy(d);
    log_error(&d->lg, "daemon",
              "upstream Runtime API %s is not reachable (%s)%s; the proxy is not used: the runtime "
              "talks to Lambda directly (no context promotion)",
              d->conf.upstream, uv_strerror(status),
              strcmp(d->conf.upstream, d->conf.runtime_api) != 0 ? " (TRACEBRIDGE_UPSTREAM)" : "");
    register_now(d);
}

/* Registers once the ready file is settled: the runtime starts right after. */
static void probe_then_register(struct daemon *d)
{
    struct sockaddr_storage up;

    d->state = ST_REGISTERING;
    if (!d->proxy || hostport_parse(d->conf.upstream, &up) < 0) {
        register_now(d);
        return;
    }
    d->probe = tcpprobe_start(&d->loop, &up, UPSTREAM_PROBE_MS, on_upstream_probed, d);
    if (!d->probe) {
        publish_ready(d); /* cannot even look: offer the proxy as before */
        register_now(d);
    }
}

static void start_receiver(struct daemon *d)
{
    int err = 0;

    if (!d->conf.receiver_enabled)
        return;
    d->recv = receiver_new(&d->loop, d->conf.receiver_host, d->conf.receiver_port,
                           d->conf.receiver_max_request_bytes, d->sb, &d->lg, &err);
    if (!d->recv)
        log_warn(&d->lg, "daemon",
                 "OTLP receiver not started on %s:%d (%s); another collector may own the port",
                 d->conf.receiver_host, d->conf.receiver_port, strerror(-err));
}

/* Exporting to our own receiver would loop spans back into the buffer forever. */
static void decide_export(struct daemon *d)
{
    char host[256];
    long port = 0;
    bool loops =
        d->recv && httpc_url_is_loopback(d->conf.exporter.traces_endpoint) &&
        httpc_url_host_port(d->conf.exporter.traces_endpoint, host, sizeof(host), &port) == 0 &&
        port == receiver_port(d->recv);

    d->export_enabled = !loops;
    if (loops)
        log_warn(
            &d->lg, "daemon",
            "the OTLP endpoint is tracebridge's own receiver (set OTEL_EXPORTER_OTLP_ENDPOINT); "
            "spans are not exported");
}

/* The settings that decide what happens per invocation, once at start-up. OTLP header values
 * and the endpoint's path and query (vendors put keys there) are never logged. */
static void log_config(struct daemon *d)
{
    char host[256] = "?";
    char receiver[96] = "off";
    long port = 0;

    if (!log_enabled(&d->lg, LOG_DEBUG))
        return;
    (void)httpc_url_host_port(d->conf.exporter.traces_endpoint, host, sizeof(host), &port);
    if (d->recv)
        snprintf(receiver, sizeof(receiver), "%s:%d", d->conf.receiver_host,
                 receiver_port(d->recv));
    log_debug(&d->lg, "daemon",
              "config export=%s endpoint_host=%s:%ld protocol=%s gzip=%d otlp_headers=%s "
              "flush=%s max_flush_ms=%d sampler=%s ratio=%g receiver=%s managed_instances=%d",
              d->export_enabled ? "on" : "off", host, port,
              otlp_protocol_names[d->conf.exporter.protocol], d->conf.exporter.gzip,
              d->conf.exporter.headers[0] ? "set (values not logged)" : "none",
              flush_mode_names[d->conf.flush], d->conf.max_flush_ms,
              sampler_name(d->conf.lifecycle.sampler), d->conf.lifecycle.sampler_ratio, receiver,
              d->conf.lifecycle.managed_instances);
}

static int start_parts(struct daemon *d)
{
    struct tm_facts_hooks th = {.arg = d, .span_ready = on_span_ready};
    struct lifecycle_hooks lh = {.arg = d,
                                 .span_done = on_span_done,
                                 .invocation_end = on_invocation_end,
                                 .next_event_begin = on_next_event_begin,
                                 .restored = on_restored};
    struct extapi_hooks eh = {.arg = d, .registered = on_registered, .event = on_event};
    struct extapi_conf ec = {.runtime_api = d->conf.runtime_api,
                             .name = d->name,
                             .shutdown_only = d->conf.lifecycle.managed_instances};
    int err = 0;

    d->sb = spanbuf_new(d->conf.buffer_spans, d->conf.buffer_bytes);
    d->http = httpc_new(&d->loop, &d->lg, &err);
    d->conf.lifecycle.function_name = d->conf.resource.function_name;
    d->lc = lifecycle_new(&d->conf.lifecycle, &d->ids, &lh, &d->lg);
    if (!d->sb || !d->http || !d->lc)
        return -ENOMEM;
    d->exp = exporter_new(&d->loop, d->sb, &d->conf.exporter, on_export_done, d, &d->lg, &err);
    d->ext = d->exp ? extapi_new(&d->loop, d->http, &ec, &eh, &d->lg, &err) : NULL;
    if (!d->ext)
        return -ENOMEM;
    start_proxy(d);
    start_receiver(d);
    d->conf.telemetry.runtime_api = d->conf.runtime_api;
    d->tm = telemetry_new(&d->loop, d->http, &d->ids, &d->conf.telemetry, &th, &d->lg);
    if (!d->tm)
        return -ENOMEM;
    decide_export(d);
    log_config(d);
    probe_then_register(d);
    return 0;
}

static void init_handles(struct daemon *d)
{
    uv_timer_init(&d->loop, &d->gate);
    d->gate.data = d;
    uv_timer_init(&d->loop, &d->stop_timer);
    d->stop_timer.data = d;
    uv_timer_init(&d->loop, &d->periodic);
    d->periodic.data = d;
    uv_idle_init(&d->loop, &d->trim);
    d->trim.data = d;
    uv_signal_init(&d->loop, &d->sigterm);
    d->sigterm.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_init(&d->loop, &d->sigint);
    d->sigint.data = d;
    uv_signal_start(&d->sigint, on_signal, SIGINT);
}

static void close_all(struct daemon *d)
{
    tcpprobe_cancel(d->probe);
    d->probe = NULL;
    exporter_free(d->exp);
    d->exp = NULL;
    extapi_free(d->ext);
    d->ext = NULL;
    if (d->proxy)
        proxy_free(d->proxy);
    d->proxy = NULL;
    if (d->recv)
        receiver_free(d->recv);
    d->recv = NULL;
    telemetry_free(d->tm);
    d->tm = NULL;
    httpc_free(d->http);
    d->http = NULL;
    uv_close((uv_handle_t *)&d->gate, NULL);
    uv_close((uv_handle_t *)&d->stop_timer, NULL);
    uv_close((uv_handle_t *)&d->periodic, NULL);
    uv_close((uv_handle_t *)&d->trim, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
}

static void release(struct daemon *d)
{
    lifecycle_free(d->lc);
    spanbuf_free(d->sb);
    otlp_resource_free(d->res);
    unlink(d->conf.ready_file); /* the proxy is gone: the wrapper must not use it */
}

int daemon_main(int argc, char **argv)
{
    struct daemon *d = calloc(1, sizeof(*d));
    int rc;

    (void)argc;
    if (!d)
        return 1;
    d->started_ns = uv_hrtime();
    log_init(&d->lg, LOG_INFO);
    d->dropped_log = (struct ratelimit)RATELIMIT_INIT(DROPPED_LOG_EVERY_MS);
    conf_load_env(&d->conf, &d->lg);
    d->lg.level = d->conf.log_level;
    ids_init(&d->ids);
    flushgate_init(&d->gate_state, d->conf.flush, (uint64_t)d->conf.max_flush_ms);
    check_clocks(d); /* the reference for the clock gaps */
    snprintf(d->name, sizeof(d->name), "%s", argv && argv[0] ? argv[0] : "tracebridge");
    uv_loop_init(&d->loop);
    init_handles(d);
    rc = start_parts(d);
    if (rc < 0) {
        log_error(&d->lg, "daemon", "start-up failed: %s", strerror(-rc));
        d->exit_code = 1;
        finish_shutdown(d);
    }
    uv_run(&d->loop, UV_RUN_DEFAULT);
    release(d);
    if (uv_loop_close(&d->loop) != 0)
        log_warn(&d->lg, "daemon", "loop closed with handles still open");
    rc = d->exit_code;
    free(d);
    return rc;
}
