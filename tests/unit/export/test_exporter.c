/* SPDX-License-Identifier: Apache-2.0 */
/* exporter: the real exporter, httpc and span buffer on a libuv loop against a scripted loopback
 * OTLP backend (tests/lib/fake_http.h). Retry classification, Retry-After (seconds and
 * HTTP-date), deadlines, gzip and JSON bodies, header decoding and secrecy, and one request in
 * flight at a time (no entry in two exports). Also the HTTP-date parser on its own. */
#include <signal.h>

#include "extension/conf.h"
#include "extension/export/export.h"
#include "extension/base/base.h"
#include "extension/otlp/otlp.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "tests/lib/fake_http.h"
#include "tests/lib/tap.h"
#include "tests/lib/test_util.h"

#define MAXREQ 32

/* ---- the backend ---- */

struct backend {
    pthread_mutex_t mu;
    struct fake_http *http;
    int statuses[MAXREQ];         /* 0 = 200 */
    char retry_after[MAXREQ][64]; /* sent with that answer when set */
    bool drop[MAXREQ];            /* close the connection without answering */
    bool reset[MAXREQ];           /* abort the connection with a RST (after reset_raw) */
    const char *reset_raw[MAXREQ];
    unsigned conn[MAXREQ]; /* which connection of the backend the request came on (1, 2...) */
    int delay_ms;
    int requests;
    int in_flight, max_in_flight;
    uint64_t at[MAXREQ];
    struct buf body[MAXREQ]; /* as received, gunzipped when Content-Encoding: gzip */
    char ctype[MAXREQ][64];
    char cenc[MAXREQ][32];
    char auth[MAXREQ][64];
    char tenant[MAXREQ][64];
};

static void backend_handler(void *arg, const struct fake_req *rq, struct fake_resp *rs)
{
    struct backend *b = arg;
    int i;

    pthread_mutex_lock(&b->mu);
    i = b->requests++;
    b->in_flight++;
    if (b->in_flight > b->max_in_flight)
        b->max_in_flight = b->in_flight;
    if (i < MAXREQ) {
        b->at[i] = fake_now_ms();
        b->conn[i] = rq->conn_no;
        fake_req_copy_header(rq, "Content-Type", b->ctype[i], sizeof(b->ctype[i]));
        fake_req_copy_header(rq, "Content-Encoding", b->cenc[i], sizeof(b->cenc[i]));
        fake_req_copy_header(rq, "Authorization", b->auth[i], sizeof(b->auth[i]));
        fake_req_copy_header(rq, "X-Tenant", b->tenant[i], sizeof(b->tenant[i]));
        buf_init(&b->body[i], 64 << 20);
        fake_req_body_decoded(rq, &b->body[i]);
    }
    pthread_mutex_unlock(&b->mu);
    if (b->delay_ms)
        usleep((useconds_t)b->delay_ms * 1000);
    pthread_mutex_lock(&b->mu);
    b->in_flight--;
    rs->status = i < MAXREQ && b->statuses[i] ? b->statuses[i] : 200;
    rs->close = i < MAXREQ && b->drop[i];
    rs->reset = i < MAXREQ && b->reset[i];
    rs->raw = i < MAXREQ ? b->reset_raw[i] : NULL;
    if (i < MAXREQ && b->retry_after[i][0])
        buf_appendf(&rs->headers, "Retry-After: %s\r\n", b->retry_after[i]);
    pthread_mutex_unlock(&b->mu);
}

/* ---- the exporter on a loop ---- */

struct rig {
    uv_loop_t loop;
    struct log lg;
    char log_path[128];
    struct conf c;
    struct spanbuf *sb;
    struct exporter *x;
    struct otlp_resource *res;
    struct backend be;
    int done;
    uint64_t done_at;
    bool timed_out;
};

static void on_done(void *arg)
{
    struct rig *r = arg;

    r->done++;
    r->done_at = fake_now_ms();
    /* A flush can finish inside the timers phase of uv_run(ONCE); without this the loop would
     * still wait in poll for the next timer (the watchdog) before run_until_done saw it. */
    uv_stop(&r->loop);
}

/* env: extra name/value pairs; endpoint_port: where the exporter sends (0 = the backend). */
static void rig_start(struct rig *r, const char *const *env, int endpoint_port)
{
    const char *kv[40];
    char url[64];
    int n = 0;
    int err = 0;
    struct attr_list attrs = {0};

    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->be.mu, NULL);
    r->be.http = fake_http_start(0, backend_handler, &r->be);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d",
             endpoint_port ? endpoint_port : r->be.http->port);
    kv[n++] = "OTEL_EXPORTER_OTLP_ENDPOINT";
    kv[n++] = url;
    for (int i = 0; env && env[i]; i++)
        kv[n++] = env[i];
    kv[n] = NULL;
    snprintf(r->log_path, sizeof(r->log_path), "/tmp/tb-test-exporter-%d.log", (int)getpid());
    log_init(&r->lg, LOG_DEBUG);
    r->lg.out = fopen(r->log_path, "w");
    conf_load(&r->c, env_of, kv, &r->lg);
    uv_loop_init(&r->loop);
    r->sb = spanbuf_new(10000, 64 << 20);
    r->x = exporter_new(&r->loop, r->sb, &r->c.exporter, on_done, r, &r->lg, &err);
    attr_list_add_str(&attrs, "service.name", "exporter-test");
    r->res = otlp_resource_new(&attrs, "tracebridge", "test");
    attr_list_free(&attrs);
}

static void rig_stop(struct rig *r)
{
    exporter_free(r->x);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);
    spanbuf_free(r->sb);
    otlp_resource_free(r->res);
    fake_http_stop(r->be.http);
    for (int i = 0; i < r->be.requests && i < MAXREQ; i++)
        buf_free(&r->be.body[i]);
    fclose(r->lg.out);
}

static void push_span(struct rig *r, const char *name)
{
    struct span s;
    struct buf out;

    span_init(&s);
    span_set_name(&s, name);
    memset(s.ctx.trace_id, 0x11, 16);
    memset(s.ctx.span_id, 0x22, 8);
    s.start_ns = 1;
    s.end_ns = 2;
    buf_init(&out, 1 << 20);
    if (otlp_encode_span(r->res, &s, &out) == 0)
        spanbuf_push(r->sb, out.data, out.len, 1);
    buf_free(&out);
    span_free(&s);
}

static void on_watchdog(uv_timer_t *t)
{
    struct rig *r = t->data;

    r->timed_out = true;
}

/* Runs the loop until `n` flushes finished (or ms passed). */
static bool run_until_done(struct rig *r, int n, int ms)
{
    uv_timer_t wd;

    uv_timer_init(&r->loop, &wd);
    wd.data = r;
    r->timed_out = false;
    uv_timer_start(&wd, on_watchdog, (uint64_t)ms, 0);
    while (r->done < n && !r->timed_out)
        uv_run(&r->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wd, NULL);
    uv_run(&r->loop, UV_RUN_NOWAIT);
    return r->done >= n;
}

static uint64_t in_ms(struct rig *r, uint64_t ms)
{
    uv_update_time(&r->loop);
    return uv_now(&r->loop) + ms;
}

/* A fresh rig whose backend refuses the first export with status (and Retry-After:
 * retry_after unless it is ""), one span pushed and flushed with flush_ms to the deadline.
 * Whether the flush ended within a second more. */
static bool flush_after_refusal(struct rig *r, int status, const char *retry_after, int flush_ms)
{
    rig_start(r, NULL, 0);
    r->be.statuses[0] = status;
    snprintf(r->be.retry_after[0], sizeof(r->be.retry_after[0]), "%s", retry_after);
    push_span(r, "s0");
    exporter_flush(r->x, in_ms(r, (uint64_t)flush_ms));
    return run_until_done(r, 1, flush_ms + 1000);
}

/* How many times each span "s<i>" reached the backend in accepted (2xx) requests. */
static void count_names(struct rig *r, int *counts, int n)
{
    memset(counts, 0, sizeof(int) * (size_t)n);
    for (int i = 0; i < r->be.requests && i < MAXREQ; i++) {
        Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *q;
        if ((r->be.statuses[i] && r->be.statuses[i] != 200) || r->be.reset[i] || r->be.drop[i])
            continue; /* not accepted */
        q = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
            NULL, r->be.body[i].len, (const uint8_t *)r->be.body[i].data);
        for (size_t a = 0; q && a < q->n_resource_spans; a++) {
            for (size_t b = 0; b < q->resource_spans[a]->n_scope_spans; b++) {
                Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
                    q->resource_spans[a]->scope_spans[b];
                for (size_t c = 0; c < ss->n_spans; c++) {
                    int k = atoi(ss->spans[c]->name + 1);
                    if (ss->spans[c]->name[0] == 's' && k >= 0 && k < n)
                        counts[k]++;
                }
            }
        }
        if (q)
            opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
                q, NULL);
    }
}

static bool log_contains(struct rig *r, const char *needle)
{
    char cmd[256];

    fflush(r->lg.out);
    snprintf(cmd, sizeof(cmd), "grep -q '%s' %s", needle, r->log_path);
    return system(cmd) == 0;
}

/* The lines of the log holding needle. */
static int log_count(struct rig *r, const char *needle)
{
    char cmd[256];
    int n = -1;
    FILE *f;

    fflush(r->lg.out);
    snprintf(cmd, sizeof(cmd), "grep -c '%s' %s", needle, r->log_path);
    f = popen(cmd, "r");
    if (f && fscanf(f, "%d", &n) != 1)
        n = -1;
    if (f)
        pclose(f);
    return n;
}

/* ---- scenarios ---- */

static void test_retryable(struct tap *t)
{
    static const int codes[] = {429, 502, 503, 504};

    for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
        struct rig r;
        struct exporter_stats st;
        ok(t, flush_after_refusal(&r, codes[k], "", 3000), "%d: flush finished", codes[k]);
        exporter_get_stats(r.x, &st);
        is_int(t, r.be.requests, 2, "%d: retried once, then accepted", codes[k]);
        ok(t, st.retries == 1 && st.successes == 1 && st.spans_sent == 1 && st.spans_dropped == 0,
           "%d: stats retries=%lu successes=%lu sent=%lu", codes[k], st.retries, st.successes,
           st.spans_sent);
        is_int(t, spanbuf_spans(r.sb), 0, "%d: buffer empty after the retry succeeded", codes[k]);
        rig_stop(&r);
    }
}

static void test_not_retryable(struct tap *t)
{
    static const int codes[] = {400, 401, 413};

    for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
        struct rig r;
        struct exporter_stats st;
        rig_start(&r, NULL, 0);
        r.be.statuses[0] = codes[k];
        push_span(&r, "s0");
        push_span(&r, "s1");
        exporter_flush(r.x, in_ms(&r, 3000));
        ok(t, run_until_done(&r, 1, 4000), "%d: flush finished", codes[k]);
        exporter_get_stats(r.x, &st);
        is_int(t, r.be.requests, 1, "%d: not retried", codes[k]);
        is_int(t, st.spans_dropped, 2, "%d: both spans dropped and counted", codes[k]);
        is_int(t, exporter_take_dropped(r.x), 2, "%d: reported for tracebridge.dropped_spans",
               codes[k]);
        is_int(t, exporter_take_dropped(r.x), 0, "%d: taken once", codes[k]);
        is_int(t, spanbuf_spans(r.sb), 0, "%d: nothing left to re-send", codes[k]);
        rig_stop(&r);
    }
}

static void test_connection_errors(struct tap *t)
{
    struct rig r;
    struct exporter_stats st;
    uint64_t t0;
    int dead = 0;

    /* A port nobody listens on: retried with backoff until the deadline, spans kept. */
    {
        struct fake_http *tmp = fake_http_start(0, backend_handler, NULL);
        dead = tmp->port;
        fake_http_stop(tmp);
    }
    rig_start(&r, NULL, dead);
    push_span(&r, "s0");
    t0 = fake_now_ms();
    exporter_flush(r.x, in_ms(&r, 600));
    ok(t, run_until_done(&r, 1, 3000), "refused: flush finished");
    exporter_get_stats(r.x, &st);
    ok(t, r.done_at - t0 <= 700, "refused: gave up by the deadline (%llu ms)",
       (unsigned long long)(r.done_at - t0));
    ok(t, st.requests >= 2 && st.retries >= 1, "refused: retried (%lu requests)", st.requests);
    is_int(t, st.gave_up, 1, "refused: counted as given up");
    is_int(t, spanbuf_spans(r.sb), 1, "refused: the span stays buffered for the next flush");
    /* The backend stays down and every flush tries it (flush_final drops the backoff, as a
     * backoff that has run out before the next invocation's flush does): every flush fails,
     * the warning is said once a period. */
    for (int k = 2; k <= 4; k++) {
        exporter_flush_final(r.x, in_ms(&r, 300));
        ok(t, run_until_done(&r, k, 2000), "refused: flush %d finished", k);
    }
    exporter_get_stats(r.x, &st);
    ok(t, st.gave_up == 4 && st.requests >= 5,
       "refused: each later flush tried and gave up (%lu, %lu requests)", st.gave_up, st.requests);
    is_int(t, log_count(&r, "WARN.*export failed"), 1,
           "refused: one warning for every failed flush of the period");
    rig_stop(&r);

    /* The backend drops the connection once, then accepts. */
    rig_start(&r, NULL, 0);
    r.be.drop[0] = true;
    push_span(&r, "s0");
    exporter_flush(r.x, in_ms(&r, 3000));
    ok(t, run_until_done(&r, 1, 4000), "dropped connection: flush finished");
    exporter_get_stats(r.x, &st);
    ok(t, r.be.requests == 2 && st.successes == 1 && spanbuf_spans(r.sb) == 0,
       "dropped connection: retried and delivered");
    rig_stop(&r);
}

static void test_retry_after(struct tap *t)
{
    struct rig r;
    struct exporter_stats st;
    uint64_t gap;
    char date[64];
    time_t when;
    struct tm tm;

    ok(t, flush_after_refusal(&r, 503, "1", 4000), "Retry-After seconds: finished");
    gap = r.be.at[1] - r.be.at[0];
    ok(t, r.be.requests == 2 && gap >= 990 && gap < 1500, "Retry-After: 1 waited %llu ms",
       (unsigned long long)gap);
    rig_stop(&r);

    /* HTTP-date two seconds ahead (1-second resolution: the wait is 1-2 s). */
    when = time(NULL) + 2;
    gmtime_r(&when, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    ok(t, flush_after_refusal(&r, 429, date, 5000), "Retry-After HTTP-date: finished");
    gap = r.be.at[1] - r.be.at[0];
    ok(t, r.be.requests == 2 && gap >= 900 && gap < 2600, "Retry-After: %s waited %llu ms",
       r.be.retry_after[0], (unsigned long long)gap);
    rig_stop(&r);

    /* A date in the past: retry at once (a backoff-free retry). */
    ok(t, flush_after_refusal(&r, 503, "Thu, 01 Jan 1970 00:00:00 GMT", 3000),
       "past HTTP-date: finished");
    gap = r.be.at[1] - r.be.at[0];
    ok(t, r.be.requests == 2 && gap < 100, "past HTTP-date: retried at once (%llu ms)",
       (unsigned long long)gap);
    rig_stop(&r);

    /* Never past the deadline: Retry-After beyond it ends the flush now, and the next flush
     * within the wait sends nothing. */
    rig_start(&r, NULL, 0);
    r.be.statuses[0] = 503;
    snprintf(r.be.retry_after[0], 64, "5");
    push_span(&r, "s0");
    {
        uint64_t t0 = fake_now_ms();
        exporter_flush(r.x, in_ms(&r, 500));
        ok(t, run_until_done(&r, 1, 2000), "Retry-After past the deadline: finished");
        ok(t, r.done_at - t0 < 300, "gave up at once instead of waiting (%llu ms)",
           (unsigned long long)(r.done_at - t0));
        exporter_flush(r.x, in_ms(&r, 300));
        ok(t, run_until_done(&r, 2, 2000), "a flush inside the Retry-After wait: finished");
        exporter_get_stats(r.x, &st);
        ok(t, r.be.requests == 1 && st.gave_up == 2 && spanbuf_spans(r.sb) == 1,
           "no request inside the wait; the span stays buffered");
    }
    rig_stop(&r);

    /* Garbage Retry-After: backoff instead. */
    ok(t, flush_after_refusal(&r, 503, "Sun, 06 Nov 1994 08:49:37 PST", 3000),
       "invalid Retry-After: finished");
    gap = r.be.at[1] - r.be.at[0];
    ok(t, r.be.requests == 2 && gap >= 40 && gap < 400, "invalid Retry-After: backoff (%llu ms)",
       (unsigned long long)gap);
    rig_stop(&r);
}

static void test_slow_backend_deadline(struct tap *t)
{
    struct rig r;
    uint64_t t0;

    rig_start(&r, NULL, 0);
    r.be.delay_ms = 1500;
    push_span(&r, "s0");
    t0 = fake_now_ms();
    exporter_flush(r.x, in_ms(&r, 300));
    ok(t, run_until_done(&r, 1, 3000), "slow backend: finished");
    ok(t, r.done_at - t0 < 450, "slow backend: the request ended at the deadline (%llu ms)",
       (unsigned long long)(r.done_at - t0));
    is_int(t, spanbuf_spans(r.sb), 1, "slow backend: span kept");
    rig_stop(&r);
}

static void test_gzip_json(struct tap *t)
{
    const char *gz[] = {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip", NULL};
    const char *js[] = {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", NULL};
    struct rig r;
    struct buf raw;
    size_t spans = 0;
    uint64_t seq = 0;

    rig_start(&r, gz, 0);
    for (int i = 0; i < 50; i++) {
        char name[16];
        snprintf(name, sizeof(name), "s%d", i);
        push_span(&r, name);
    }
    buf_init(&raw, 64 << 20);
    spanbuf_peek(r.sb, SIZE_MAX, &raw, &spans, &seq);
    exporter_flush(r.x, in_ms(&r, 3000));
    ok(t, run_until_done(&r, 1, 4000), "gzip: finished");
    is_str(t, r.be.cenc[0], "gzip", "gzip: Content-Encoding");
    is_str(t, r.be.ctype[0], "application/x-protobuf", "gzip: protobuf content type");
    ok(t,
       r.be.requests == 1 && r.be.body[0].len == raw.len &&
           memcmp(r.be.body[0].data, raw.data, raw.len) == 0,
       "gzip: the body decompresses to exactly the buffered bytes (%zu)", raw.len);
    buf_free(&raw);
    rig_stop(&r);

    rig_start(&r, js, 0);
    push_span(&r, "s0");
    push_span(&r, "s1");
    exporter_flush(r.x, in_ms(&r, 3000));
    ok(t, run_until_done(&r, 1, 4000), "json: finished");
    is_str(t, r.be.ctype[0], "application/json", "json: Content-Type");
    {
        struct buf pb;
        buf_init(&pb, 1 << 20);
        is_int(t, otlp_json_to_protobuf(r.be.body[0].data, r.be.body[0].len, &pb), 0,
               "json: the body decodes as OTLP/JSON");
        is_int(t, otlp_count_spans(pb.data, pb.len), 2, "json: both spans in it");
        ok(t, strstr(r.be.body[0].data, "\"name\":\"s1\"") != NULL, "json: span names readable");
        buf_free(&pb);
    }
    rig_stop(&r);
}

/* An entry the receiver accepted (a valid wire walk) that protobuf-c cannot unpack — a
 * singular message field given twice, both empty — cannot be converted to JSON: it is dropped
 * alone, the spans around it still go out, and nothing stays stuck at the front. */
static void test_json_poison(struct tap *t)
{
    static const unsigned char poison[] = {0x0a, 0x0d, 0x12, 0x0b, 0x12, 0x09, 0x4a, 0x07,
                                           0x0a, 0x01, 0x78, 0x12, 0x00, 0x12, 0x00};
    const char *js[] = {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", NULL};
    struct rig r;
    struct buf pb;
    long total = 0;

    rig_start(&r, js, 0);
    push_span(&r, "s0");
    ok(t, otlp_count_spans(poison, sizeof(poison)) == 1, "poison: the wire walk accepts it");
    spanbuf_push(r.sb, poison, sizeof(poison), 1);
    push_span(&r, "s1");
    exporter_flush(r.x, in_ms(&r, 3000));
    ok(t, run_until_done(&r, 1, 4000), "poison: flush finished");
    buf_init(&pb, 1 << 20);
    for (int i = 0; i < r.be.requests && i < MAXREQ; i++) {
        buf_reset(&pb);
        if (otlp_json_to_protobuf(r.be.body[i].data, r.be.body[i].len, &pb) == 0)
            total += otlp_count_spans(pb.data, pb.len);
    }
    buf_free(&pb);
    is_int(t, total, 2, "poison: both good spans reached the backend");
    is_int(t, spanbuf_spans(r.sb), 0, "poison: nothing left stuck in the buffer");
    is_int(t, exporter_take_dropped(r.x), 1, "poison: the bad entry counted as dropped");
    ok(t, log_contains(&r, "cannot be converted to OTLP/JSON"), "poison: logged");
    rig_stop(&r);
}

static void test_headers(struct tap *t)
{
    const char *env[] = {"OTEL_EXPORTER_OTLP_HEADERS",
                         "Authorization=Bearer%20s3cret , X-Tenant = a%2Cb", NULL};
    struct rig r;
    struct buf b;
    size_t n = 0;

    rig_start(&r, env, 0);
    r.be.statuses[0] = 503;
    r.be.statuses[1] = 400;
    push_span(&r, "s0");
    exporter_flush(r.x, in_ms(&r, 3000));
    ok(t, run_until_done(&r, 1, 4000), "headers: finished");
    is_str(t, r.be.auth[0], "Bearer s3cret", "headers: value URL-decoded");
    is_str(t, r.be.tenant[0], "a,b", "headers: %%2C decoded, spaces trimmed");
    is_str(t, r.be.auth[1], "Bearer s3cret", "headers: sent on retries too");
    ok(t, log_contains(&r, "rejected"), "headers: the failure was logged");
    ok(t, !log_contains(&r, "s3cret") && !log_contains(&r, "Bearer"),
       "headers: the value never appears in the log");
    rig_stop(&r);

    buf_init(&b, 4096);
    is_int(t, exporter_parse_headers("a=1,b=x%3Dy", &b, &n), 0, "parse: ok");
    is_int(t, n, 2, "parse: two headers");
    ok(t, b.len > 0 && strcmp(b.data, "a: 1") == 0 && strcmp(b.data + 5, "b: x=y") == 0,
       "parse: \"k: v\" lines, value decoded");
    b.len = 0;
    is_int(t, exporter_parse_headers("a=1%0D%0AX-Evil: 1", &b, &n), -EINVAL,
           "parse: encoded CR/LF rejected (no header injection)");
    is_int(t, (int)b.len, 0, "parse: nothing added on error");
    is_int(t, exporter_parse_headers("novalue", &b, &n), -EINVAL, "parse: member without '='");
    is_int(t, exporter_parse_headers("bad key=1", &b, &n), -EINVAL, "parse: key not a token");
    buf_free(&b);
}

/* An export still running when more flushes are asked for (as after /event/next in end and
 * invoke modes): one request at a time, every span exactly once. */
static void test_one_in_flight(struct tap *t)
{
    struct rig r;
    int counts[8];
    int once = 0;

    rig_start(&r, NULL, 0);
    r.be.delay_ms = 300;
    push_span(&r, "s0");
    push_span(&r, "s1");
    exporter_flush(r.x, in_ms(&r, 5000));
    /* Let the first request reach the backend, then add spans and ask again, repeatedly. */
    for (int i = 0; i < 20 && r.be.requests == 0; i++)
        uv_run(&r.loop, UV_RUN_NOWAIT), usleep(10000);
    push_span(&r, "s2");
    exporter_flush(r.x, in_ms(&r, 5000));
    push_span(&r, "s3");
    exporter_flush(r.x, in_ms(&r, 5000));
    exporter_flush(r.x, in_ms(&r, 5000));
    ok(t, exporter_busy(r.x), "in flight: the exporter is busy");
    ok(t, run_until_done(&r, 1, 5000), "in flight: finished");
    count_names(&r, counts, 4);
    for (int i = 0; i < 4; i++)
        once += counts[i] == 1;
    is_int(t, once, 4, "every span reached the backend exactly once");
    is_int(t, r.be.max_in_flight, 1, "never two requests in flight");
    is_int(t, r.be.requests, 2, "the spans pushed meanwhile went in the next request");
    is_int(t, r.done, 1, "the flushes joined the running one (one completion)");
    rig_stop(&r);
}

static void test_httpdate(struct tap *t)
{
    struct {
        const char *s;
        int rc;
        int64_t want;
    } cases[] = {
        {"Sun, 06 Nov 1994 08:49:37 GMT", 0, 784111777},
        {"Sunday, 06-Nov-94 08:49:37 GMT", 0, 784111777},
        {"Sun Nov  6 08:49:37 1994", 0, 784111777},
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0, 0},
        {"Sat, 29 Feb 2020 23:59:60 GMT", 0, 1583020800},
        {"Tue, 19 Jan 2038 03:14:08 GMT", 0, 2147483648LL},
        {"Mon, 06 Nov 1994 08:49:37 GMT", -EINVAL, 0},  /* wrong day name */
        {"Sun, 06 Nov 1994 08:49:37 gmt", -EINVAL, 0},  /* case */
        {"Sun, 06 Nov 1994 08:49:37 UTC", -EINVAL, 0},  /* zone */
        {"Sun,  06 Nov 1994 08:49:37 GMT", -EINVAL, 0}, /* spacing */
        {"Sun, 6 Nov 1994 08:49:37 GMT", -EINVAL, 0},   /* two-digit day */
        {"Mon, 29 Feb 2021 12:00:00 GMT", -EINVAL, 0},  /* not a leap year */
        {"Sun, 31 Apr 2022 12:00:00 GMT", -EINVAL, 0},  /* no such day */
        {"Sun, 06 Nov 1994 24:00:00 GMT", -EINVAL, 0},  /* hour */
        {"Sun, 06 Nov 1994 08:49:37 GMT ", -EINVAL, 0}, /* trailing */
        {"Sun, 06 Nov 1994 08:49", -EINVAL, 0},         /* cut */
        {"Wed, 31 Dec 1969 23:59:59 GMT", -EINVAL, 0},  /* before the epoch */
        {"Sun Nov 06 08:49:37 1994", -EINVAL, 0},       /* asctime pads with a space */
        {"120", -EINVAL, 0},
        {"", -EINVAL, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t e = -1;
        int rc = httpdate_parse(cases[i].s, strlen(cases[i].s), &e);
        ok(t, rc == cases[i].rc && (rc != 0 || e == cases[i].want), "httpdate \"%s\" -> %d %lld",
           cases[i].s, rc, (long long)e);
    }
}

/* One span pushed and exported; whether the flush finished. */
static bool export_one(struct rig *r, const char *name)
{
    int want = r->done + 1;

    push_span(r, name);
    exporter_flush(r->x, in_ms(r, 3000));
    return run_until_done(r, want, 4000);
}

/* Connections kept alive are reused only while they can be trusted: not after a restore, not
 * after idling longer than a peer's idle timeout (a freeze in between), and a reset on one is
 * not a failed export. */
static void test_connection_reuse(struct tap *t)
{
    struct rig r;
    struct exporter_stats st;
    int counts[4] = {0};

    rig_start(&r, NULL, 0);
    ok(t, export_one(&r, "s0") && export_one(&r, "s1"), "reuse: two exports");
    ok(t, r.be.conn[0] == 1 && r.be.conn[1] == 1, "reuse: back to back on one connection");
    exporter_restored(r.x);
    ok(t, export_one(&r, "s2"), "restore: export after exporter_restored");
    is_int(t, r.be.conn[2], 2, "restore: a new connection, the kept one is not reused");
    usleep((EXPORTER_REUSE_IDLE_MS + 300) * 1000);
    ok(t, export_one(&r, "s3"), "idle: export after %d ms idle", EXPORTER_REUSE_IDLE_MS + 300);
    is_int(t, r.be.conn[3], 3, "idle: a new connection after a longer idle than a peer keeps");
    exporter_get_stats(r.x, &st);
    is_int(t, st.new_pools, 2, "two pools thrown away (restore, idle)");
    rig_stop(&r);

    /* The kept connection answers the start of a head, then resets: the batch goes again at
     * once on a new connection; no retry, no failure, nothing lost. */
    rig_start(&r, NULL, 0);
    r.be.reset[1] = true;
    r.be.reset_raw[1] = "HTTP/1.1 200 OK\r\n";
    ok(t, export_one(&r, "s0") && export_one(&r, "s1"), "reset: both flushes finished");
    exporter_get_stats(r.x, &st);
    is_int(t, r.be.requests, 3, "reset: the reset request was sent again");
    is_int(t, r.be.conn[2], 2, "reset: on a new connection");
    count_names(&r, counts, 2);
    ok(t, counts[0] == 1 && counts[1] == 1, "reset: both spans delivered");
    ok(t, st.retries == 0 && st.gave_up == 0 && st.reset_resends == 1 && st.successes == 2,
       "reset: not a retry nor a failure (retries=%lu gave_up=%lu resends=%lu)", st.retries,
       st.gave_up, st.reset_resends);
    ok(t, exporter_responsive(r.x, 1000), "reset: the backend still counts as responsive");
    ok(t, !log_contains(&r, "export failed"), "reset: no failure logged");
    rig_stop(&r);

    /* A reset before any byte of the answer (libcurl resends that one itself). */
    rig_start(&r, NULL, 0);
    r.be.reset[1] = true;
    ok(t, export_one(&r, "s0") && export_one(&r, "s1"), "silent reset: both flushes finished");
    exporter_get_stats(r.x, &st);
    ok(t, st.successes == 2 && st.retries == 0 && spanbuf_spans(r.sb) == 0,
       "silent reset: delivered, no retry counted");
    rig_stop(&r);
}

int main(void)
{
    struct tap t = TAP_INIT;

    signal(SIGPIPE, SIG_IGN);
    test_httpdate(&t);
    test_retryable(&t);
    test_not_retryable(&t);
    test_connection_errors(&t);
    test_retry_after(&t);
    test_slow_backend_deadline(&t);
    test_gzip_json(&t);
    test_json_poison(&t);
    test_headers(&t);
    test_one_in_flight(&t);
    test_connection_reuse(&t);
    return tap_done(&t);
}
