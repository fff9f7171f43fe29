/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/export/export.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <zlib.h>

#include "extension/base/base.h"
#include "extension/net/net.h"
#include "extension/otlp/otlp.h"

#define MAX_HEADERS          32
#define BACKOFF_BASE_MS      100
#define BACKOFF_MAX_MS       5000
#define EXPORT_WARN_EVERY_MS 60000 /* the failure warnings of a backend that stays down */
/* A longer Retry-After is cut to this, so that one answer cannot hold a sandbox's spans back
 * for hours (they would be dropped for room long before). */
#define RETRY_AFTER_MAX_MS 60000

/* The exporter's state (struct exporter.flags). */
enum {
    X_F_BUSY = 1u << 0,         /* a flush is running */
    X_F_STALE = 1u << 1,        /* the pool's connections must not be reused (restore) */
    X_F_RESENT = 1u << 2,       /* the batch in flight is already a resend after a reset */
    X_F_ANY_FINISHED = 1u << 3, /* a request has finished */
    X_F_LAST_OK = 1u << 4,      /* ... and the last one was accepted by the backend */
};

struct exporter {
    uv_loop_t *loop;
    struct httpc *http;
    struct spanbuf *sb;
    const struct exporter_conf *conf;
    const struct log *lg;
    void (*done)(void *arg);
    void *done_arg;
    struct buf header_lines; /* NUL-separated "k: v" */
    const char *headers[MAX_HEADERS + 3];
    struct httpc_req *req;
    const char *ca_file;   /* cabundle_find(): configured, $SSL_CERT_FILE or the system's */
    uint64_t used_mono_ms; /* when the pool last finished a request, monotonic clock */
    uint64_t used_wall_ms; /* ... and wall clock */
    uv_timer_t retry;
    uint64_t deadline_ms;
    uint64_t not_before; /* Retry-After / backoff, kept across flushes */
    unsigned attempt;
    uint64_t rng;
    uint64_t batch_seq;
    uint64_t sent_at;      /* loop time the request in flight started */
    uint64_t last_took_ms; /* how long the last finished request took (X_F_LAST_OK: accepted) */
    unsigned flags;        /* X_F_* */
    size_t batch_spans;
    size_t batch_raw_bytes;    /* protobuf as buffered */
    size_t batch_sent_bytes;   /* body as sent (JSON and/or gzip) */
    uint64_t flush_started;    /* loop time, for the debug log */
    struct ratelimit kept_log; /* "export failed; spans stay buffered": once a flush when the
                                * backend is down, so at most one line a period */
    size_t dropped;
    size_t peak_bytes; /* largest raw + encoded request since exporter_take_peak_bytes */
    struct exporter_stats stats;
};

const char *const otlp_protocol_names[] = {
    [OTLP_PROTOBUF] = "http/protobuf",
    [OTLP_JSON] = "http/json",
    [OTLP_JSON + 1] = NULL,
};

/* ---- headers ---- */

struct header_ctx {
    struct buf *out;
    size_t count;
};

/* One member as a "k: v" line: the key must be an HTTP token (so it is not decoded); the value
 * is percent-decoded, leniently (a stray '%' stays), but control characters would allow
 * header injection. */
static int add_header(void *arg, const struct kvlist_member *m)
{
    struct header_ctx *c = arg;

    if (c->count++ >= MAX_HEADERS)
        return -E2BIG;
    if (!http_token(m->key, m->key_len))
        return -EINVAL;
    if (buf_append(c->out, m->key, m->key_len) < 0 || buf_append(c->out, ": ", 2) < 0)
        return -E2BIG;
    if (kvlist_decode(m->value, m->value_len, KVLIST_NO_CONTROL, c->out) < 0)
        return -EINVAL;
    return buf_append_byte(c->out, '\0');
}

int exporter_parse_headers(const char *s, struct buf *out, size_t *n)
{
    size_t start_len = out->len;
    struct header_ctx c = {.out = out};
    int rc = kvlist_each(s, add_header, &c);

    if (rc < 0) {
        out->len = start_len;
        return rc;
    }
    *n = c.count;
    return 0;
}

/* ---- body ---- */

/* gzip (RFC 1952) of in, appended to out. 0, -E2BIG or -ENOMEM. */
static int gzip_append(const void *in, size_t n, struct buf *out)
{
    z_stream zs;
    int rc;
    uLong bound;

    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return -ENOMEM;
    bound = deflateBound(&zs, (uLong)n) + 32;
    rc = buf_reserve(out, bound);
    if (rc == 0) {
        zs.next_in = (Bytef *)(uintptr_t)in;
        zs.avail_in = (uInt)n;
        zs.next_out = (Bytef *)out->data + out->len;
        zs.avail_out = (uInt)bound;
        rc = deflate(&zs, Z_FINISH) == Z_STREAM_END ? 0 : -ENOMEM;
        if (rc == 0)
            out->len += zs.total_out;
    }
    deflateEnd(&zs);
    return rc;
}

static int encode_body(struct exporter *x, struct buf *raw, struct buf *body)
{
    struct buf json;
    struct buf *plain = raw;
    int rc = 0;

    buf_init(&json, raw->len * 4 + 4096);
    if (x->conf->protocol == OTLP_JSON) {
        rc = otlp_protobuf_to_json(raw->data, raw->len, &json);
        plain = &json;
    }
    if (rc == 0 && x->conf->gzip)
        rc = gzip_append(plain->data, plain->len, body);
    else if (rc == 0)
        rc = buf_append(body, plain->data ? plain->data : "", plain->len);
    buf_free(&json);
    return rc;
}

/* Removes the batch just peeked without sending it, counted as dropped (reported on the next
 * span and in the stats): keeping what can never be sent would block every span behind it. */
static void drop_batch(struct exporter *x)
{
    spanbuf_commit(x->sb, x->batch_seq);
    x->dropped += x->batch_spans;
    x->stats.spans_dropped += x->batch_spans;
}

/* Peeks the next batch and encodes it. Protobuf bodies are sent as buffered; only the JSON
 * conversion can fail on bytes the receiver accepted (its validation is a wire walk, protobuf-c
 * is stricter in corner cases): then the batch is retried one entry at a time and the entry
 * that fails alone is dropped. -ENODATA when nothing is left. */
static int next_body(struct exporter *x, struct buf *raw, struct buf *body)
{
    size_t max = EXPORTER_BATCH_BYTES;
    int rc;

    for (;;) {
        buf_reset(raw);
        buf_reset(body);
        if (spanbuf_peek(x->sb, max, raw, &x->batch_spans, &x->batch_seq) == 0)
            return -ENODATA;
        x->batch_raw_bytes = raw->len;
        rc = encode_body(x, raw, body);
        if (rc != -EBADMSG)
            return rc;
        if (max > 0) {
            max = 0; /* spanbuf_peek takes exactly one entry */
            continue;
        }
        log_error(x->lg, "exporter",
                  "%zu buffered spans cannot be converted to OTLP/JSON (undecodable request from "
                  "the receiver); dropped",
                  x->batch_spans);
        drop_batch(x);
        max = EXPORTER_BATCH_BYTES;
    }
}

/* ---- the flush state machine ---- */

static void flush_done(struct exporter *x, bool gave_up)
{
    log_debug(x->lg, "exporter", "flush done result=%s ms=%llu buffered_spans=%zu",
              gave_up ? "gave_up" : "empty",
              (unsigned long long)(uv_now(x->loop) - x->flush_started), spanbuf_spans(x->sb));
    x->flags &= ~X_F_BUSY;
    if (gave_up)
        x->stats.gave_up++;
    if (x->done)
        x->done(x->done_arg);
}

static void send_batch(struct exporter *x);

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_retry_timer(uv_timer_t *t)
{
    send_batch(t->data);
}

static uint64_t next_random(struct exporter *x)
{
    x->rng ^= x->rng << 13;
    x->rng ^= x->rng >> 7;
    x->rng ^= x->rng << 17;
    return x->rng;
}

/* Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; -1 when absent or invalid
 * (the caller then uses its backoff). A date in the past means "now". */
static long retry_after_ms(const struct httpc_result *r)
{
    size_t n = 0;
    const char *v = httpc_header(r->req, "Retry-After", &n);
    int64_t ms = 0;
    int64_t when = 0;

    if (!v || n == 0)
        return -1;
    if (v[0] >= '0' && v[0] <= '9') {
        for (size_t i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9')
                return -1;
            if (ms < RETRY_AFTER_MAX_MS)
                ms = ms * 10 + (v[i] - '0') * 1000;
        }
    } else if (httpdate_parse(v, n, &when) == 0) {
        ms = when * 1000 - (int64_t)(span_now_ns() / 1000000u); /* wall clock, as the date */
        if (ms < 0)
            ms = 0;
    } else {
        return -1;
    }
    return (long)(ms < RETRY_AFTER_MAX_MS ? ms : RETRY_AFTER_MAX_MS);
}

static uint64_t backoff_ms(struct exporter *x)
{
    uint64_t base = (uint64_t)BACKOFF_BASE_MS << (x->attempt < 6 ? x->attempt : 6);

    if (base > BACKOFF_MAX_MS)
        base = BACKOFF_MAX_MS;
    /* Jitter: anywhere in [base/2, base*3/2) so that many sandboxes do not retry in step. */
    return base / 2 + next_random(x) % (base ? base : 1);
}

/* A flush ends with its spans kept for the next one. While the backend stays down that is every
 * flush (every invocation when flushing at INVOKE): one line, then one a period with the count. */
static void warn_kept(struct exporter *x, const struct httpc_result *r)
{
    const char *why = r->err ? r->error : "retryable status";
    unsigned long held = 0;

    if (!ratelimit_hit(&x->kept_log, uv_now(x->loop), &held)) {
        log_debug(x->lg, "exporter", "export failed (%s, status %ld); spans stay buffered", why,
                  r->status);
        return;
    }
    if (held)
        log_warn(x->lg, "exporter",
                 "export failed (%s, status %ld); %zu spans stay buffered for the next flush "
                 "(%lu more flushes failed since the last warning)",
                 why, r->status, spanbuf_spans(x->sb), held);
    else
        log_warn(x->lg, "exporter",
                 "export failed (%s, status %ld); %zu spans stay buffered for the next flush", why,
                 r->status, spanbuf_spans(x->sb));
}

static void retry_later(struct exporter *x, const struct httpc_result *r)
{
    long ra = retry_after_ms(r);
    uint64_t backoff = backoff_ms(x);
    uint64_t delay = ra >= 0 ? (uint64_t)ra : backoff;
    uint64_t now = uv_now(x->loop);

    /* A backend that keeps answering Retry-After: 0 (or a date in the past) would otherwise get
     * requests in a busy loop until the deadline: from the second retry on, the backoff is the
     * least we wait. */
    if (x->attempt > 0 && delay < backoff)
        delay = backoff;

    x->attempt++;
    x->not_before = now + delay;
    if (now + delay >= x->deadline_ms) {
        warn_kept(x, r);
        flush_done(x, true);
        return;
    }
    x->stats.retries++;
    log_debug(x->lg, "exporter", "export retry in %llu ms (%s)", (unsigned long long)delay,
              ra >= 0 ? "Retry-After" : "backoff");
    uv_timer_start(&x->retry, on_retry_timer, delay, 0);
}

static bool retryable(const struct httpc_result *r)
{
    return r->err != 0 || r->status == 429 || r->status == 502 || r->status == 503 ||
           r->status == 504;
}

/* One debug line per request: what was sent and how the backend answered. The transport error
 * is libcurl's text (host, reason), never a header. */
static void log_sent(const struct exporter *x, const struct httpc_result *r)
{
    log_debug(x->lg, "exporter",
              "export attempt=%u spans=%zu bytes=%zu sent_bytes=%zu status=%ld ms=%llu%s%s%s",
              x->attempt + 1, x->batch_spans, x->batch_raw_bytes, x->batch_sent_bytes, r->status,
              (unsigned long long)x->last_took_ms, r->err ? " error=\"" : "",
              r->err ? (r->error ? r->error : "transport") : "", r->err ? "\"" : "");
}

/* A reset on a connection kept from earlier: the connection was stale (idle across a freeze
 * that outlasted the peer's idle timeout, or a restore), not the backend broken. */
static bool stale_reset(struct exporter *x, const struct httpc_result *r)
{
    if (r->err != -ECONNRESET || !r->reused || (x->flags & X_F_RESENT))
        return false;
    log_debug(x->lg, "exporter",
              "connection reset on a reused connection (%s); sending again on a new one",
              r->error ? r->error : "reset");
    x->flags |= X_F_RESENT | X_F_STALE;
    x->stats.reset_resends++;
    return true;
}

static void on_sent(void *arg, const struct httpc_result *r)
{
    struct exporter *x = arg;

    x->req = NULL;
    x->used_mono_ms = mono_ms();
    x->used_wall_ms = span_now_ns() / 1000000u;
    if (stale_reset(x, r)) {
        send_batch(x); /* the batch is still in the buffer, uncommitted */
        return;
    }
    x->flags = (x->flags & ~(X_F_RESENT | X_F_LAST_OK)) | X_F_ANY_FINISHED;
    x->last_took_ms = uv_now(x->loop) - x->sent_at;
    if (!r->err && r->status >= 200 && r->status < 300)
        x->flags |= X_F_LAST_OK;
    log_sent(x, r);
    if (x->flags & X_F_LAST_OK) {
        spanbuf_commit(x->sb, x->batch_seq);
        x->stats.successes++;
        x->stats.spans_sent += x->batch_spans;
        x->attempt = 0;
        send_batch(x);
        return;
    }
    if (retryable(r)) {
        retry_later(x, r);
        return;
    }
    log_error(x->lg, "exporter", "backend rejected %zu spans with status %ld; dropped",
              x->batch_spans, r->status);
    drop_batch(x);
    send_batch(x);
}

static uint64_t since(uint64_t now, uint64_t then)
{
    return now > then ? now - then : 0;
}

/* Whether the kept connection (if any) may be dead: see exporter.h. */
static bool pool_suspect(const struct exporter *x)
{
    uint64_t idle_mono = since(mono_ms(), x->used_mono_ms);
    uint64_t idle_wall = since(span_now_ns() / 1000000u, x->used_wall_ms);

    if (x->flags & X_F_STALE)
        return true;
    if (!x->used_mono_ms)
        return false; /* nothing was ever connected */
    return idle_mono > EXPORTER_REUSE_IDLE_MS || idle_wall > EXPORTER_REUSE_IDLE_MS;
}

/* Throws the pool (and the connections kept in it) away for a new, empty one. */
static int renew_pool(struct exporter *x)
{
    int err = 0;
    struct httpc *h = httpc_new(x->loop, x->lg, &err);

    if (!h)
        return err;
    httpc_free(x->http);
    x->http = h;
    x->flags &= ~X_F_STALE;
    x->used_mono_ms = 0;
    x->used_wall_ms = 0;
    x->stats.new_pools++;
    return 0;
}

static int start_request(struct exporter *x, struct buf *body, long timeout_ms)
{
    struct httpc_opts o = {.method = "POST",
                           .url = x->conf->traces_endpoint,
                           .headers = x->headers,
                           .body = body,
                           .timeout_ms = timeout_ms,
                           .connect_timeout_ms = timeout_ms,
                           .ca_file = x->ca_file,
                           .max_response_bytes = 64 * 1024};
    int err;

    if (pool_suspect(x) && (err = renew_pool(x)) < 0)
        return err;
    x->stats.requests++;
    x->stats.bytes_sent += body->len;
    x->batch_sent_bytes = body->len;
    if (x->batch_raw_bytes + body->len > x->peak_bytes)
        x->peak_bytes = x->batch_raw_bytes + body->len;
    x->sent_at = uv_now(x->loop);
    x->req = httpc_start(x->http, &o, on_sent, x, &err);
    return x->req ? 0 : err;
}

static void send_batch(struct exporter *x)
{
    struct buf raw, body;
    uint64_t now = uv_now(x->loop);
    long timeout = x->conf->timeout_ms;
    int rc;

    /* One request at a time: the entries it carries stay in the buffer until it ends, and a
     * second request would peek them again (the same spans twice at the backend). on_sent
     * carries on from here. */
    if (x->req)
        return;
    if (spanbuf_spans(x->sb) == 0 && spanbuf_bytes(x->sb) == 0) {
        flush_done(x, false);
        return;
    }
    if (now + 1 >= x->deadline_ms) {
        flush_done(x, true);
        return;
    }
    if (now < x->not_before) {
        /* The backend asked us to wait (Retry-After) or we are backing off. */
        if (x->not_before >= x->deadline_ms) {
            flush_done(x, true);
            return;
        }
        uv_timer_start(&x->retry, on_retry_timer, x->not_before - now, 0);
        return;
    }
    if ((uint64_t)timeout > x->deadline_ms - now)
        timeout = (long)(x->deadline_ms - now);
    buf_init(&raw, EXPORTER_BATCH_BYTES * 2);
    buf_init(&body, EXPORTER_BATCH_BYTES * 8);
    rc = next_body(x, &raw, &body);
    if (rc == -ENODATA) {
        buf_free(&raw);
        buf_free(&body);
        flush_done(x, false);
        return;
    }
    if (rc == 0)
        rc = start_request(x, &body, timeout);
    if (rc < 0) {
        log_error(x->lg, "exporter", "cannot export (%s); spans stay buffered", strerror(-rc));
        flush_done(x, true);
    }
    buf_free(&raw);
    buf_free(&body);
}

/* The first attempt runs from the loop, never inside exporter_flush: `done` must not run while
 * the caller is still in the middle of deciding what to do (it may start another flush). */
void exporter_flush(struct exporter *x, uint64_t deadline_ms)
{
    if (x->flags & X_F_BUSY) {
        if (deadline_ms > x->deadline_ms)
            x->deadline_ms = deadline_ms;
        return;
    }
    x->flags |= X_F_BUSY;
    x->deadline_ms = deadline_ms;
    x->flush_started = uv_now(x->loop);
    log_debug(
        x->lg, "exporter", "flush start buffered_spans=%zu deadline_in_ms=%llu",
        spanbuf_spans(x->sb),
        (unsigned long long)(deadline_ms > x->flush_started ? deadline_ms - x->flush_started : 0));
    uv_timer_start(&x->retry, on_retry_timer, 0, 0);
}

void exporter_flush_final(struct exporter *x, uint64_t deadline_ms)
{
    /* A wait (backoff, Retry-After) that ends after the last deadline would lose every buffered
     * span although the backend may well be back by now: one more attempt instead. */
    if (x->not_before >= deadline_ms)
        x->not_before = 0;
    if (!(x->flags & X_F_BUSY)) {
        exporter_flush(x, deadline_ms);
        return;
    }
    x->deadline_ms = deadline_ms;
    if (!x->req) {
        uint64_t now = uv_now(x->loop);
        uv_timer_start(&x->retry, on_retry_timer, x->not_before > now ? x->not_before - now : 0, 0);
    }
}

bool exporter_responsive(const struct exporter *x, uint64_t budget_ms)
{
    /* A request already in flight for longer than the budget says as much as a slow answer. */
    if (x->req && uv_now(x->loop) - x->sent_at > budget_ms)
        return false;
    if (!(x->flags & X_F_ANY_FINISHED))
        return true; /* nothing known yet: give the first export its chance */
    return (x->flags & X_F_LAST_OK) && x->last_took_ms <= budget_ms;
}

void exporter_restored(struct exporter *x)
{
    uint64_t seed = 0;

    x->flags |= X_F_STALE;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed) && seed)
        x->rng = seed;
    else
        x->rng ^= span_now_ns();
    if (!x->rng)
        x->rng = 1; /* xorshift must not be all-zero */
}

bool exporter_busy(const struct exporter *x)
{
    return (x->flags & X_F_BUSY) != 0;
}

size_t exporter_take_peak_bytes(struct exporter *x)
{
    size_t p = x->peak_bytes;

    x->peak_bytes = 0;
    return p;
}

size_t exporter_take_dropped(struct exporter *x)
{
    size_t n = x->dropped;

    x->dropped = 0;
    return n;
}

void exporter_get_stats(const struct exporter *x, struct exporter_stats *out)
{
    *out = x->stats;
}

/* ---- lifetime ---- */

static int build_headers(struct exporter *x)
{
    size_t n = 0;
    size_t k = 0;
    const char *p;

    buf_init(&x->header_lines, 64 * 1024);
    if (x->conf->headers[0] && exporter_parse_headers(x->conf->headers, &x->header_lines, &n) < 0)
        log_warn(x->lg, "exporter", "OTEL_EXPORTER_OTLP_HEADERS is malformed; ignored");
    p = x->header_lines.data;
    for (size_t i = 0; i < n; i++) {
        x->headers[k++] = p;
        p += strlen(p) + 1;
    }
    x->headers[k++] = x->conf->protocol == OTLP_JSON ? "Content-Type: application/json"
                                                     : "Content-Type: application/x-protobuf";
    if (x->conf->gzip)
        x->headers[k++] = "Content-Encoding: gzip";
    x->headers[k] = NULL;
    return 0;
}

/* The static layer binary's libcurl has no compiled-in CA path (Amazon Linux and Debian keep
 * their bundles in different places), so HTTPS needs the file chosen here, once. */
static void pick_ca_file(struct exporter *x)
{
    enum cabundle_source src;

    x->ca_file = cabundle_find(x->conf->certificate, &src);
    if (strncasecmp(x->conf->traces_endpoint, "https:", 6) != 0)
        return;
    if (x->ca_file)
        log_debug(x->lg, "exporter", "CA bundle %s (%s)", x->ca_file, cabundle_source_name(src));
    else
        log_warn(x->lg, "exporter",
                 "no CA bundle found: HTTPS exports will fail verification; "
                 "set OTEL_EXPORTER_OTLP_CERTIFICATE");
}

struct exporter *exporter_new(uv_loop_t *loop, struct spanbuf *sb, const struct exporter_conf *c,
                              void (*done)(void *arg), void *arg, const struct log *lg, int *err)
{
    struct exporter *x = calloc(1, sizeof(*x));

    if (!x) {
        *err = -ENOMEM;
        return NULL;
    }
    x->http = httpc_new(loop, lg, err);
    if (!x->http) {
        free(x);
        return NULL;
    }
    x->loop = loop;
    x->sb = sb;
    x->conf = c;
    x->lg = lg;
    x->kept_log = (struct ratelimit)RATELIMIT_INIT(EXPORT_WARN_EVERY_MS);
    x->done = done;
    x->done_arg = arg;
    x->rng = uv_hrtime() | 1;
    build_headers(x);
    pick_ca_file(x);
    uv_timer_init(loop, &x->retry);
    x->retry.data = x;
    *err = 0;
    return x;
}

static void on_closed(uv_handle_t *handle)
{
    struct exporter *x = handle->data;

    buf_free(&x->header_lines);
    free(x);
}

void exporter_free(struct exporter *x)
{
    if (!x)
        return;
    httpc_cancel(x->req);
    httpc_free(x->http);
    uv_timer_stop(&x->retry);
    uv_close((uv_handle_t *)&x->retry, on_closed);
}
