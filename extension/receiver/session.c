/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/receiver/internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "extension/otlp/otlp.h"

#define TRACES_PATH "/v1/traces"
/* One response is well under 1 KiB, so this leaves room for the response that crosses
 * RX_OUT_SOFT and a 100 Continue. */
#define OUT_MAX        (RX_OUT_SOFT + 16 * 1024)
#define STATUS_MSG_MAX 512
#define INFLATE_CHUNK  (16 * 1024)

/* google.rpc.Code values for the Status body of an error answer (OTLP/HTTP spec). */
enum rpc_code {
    RPC_INVALID_ARGUMENT = 3,
    RPC_NOT_FOUND = 5,
    RPC_RESOURCE_EXHAUSTED = 8,
    RPC_UNIMPLEMENTED = 12,
    RPC_UNAVAILABLE = 14,
};

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Service Unavailable";
    }
}

static enum rpc_code rpc_code_of(int status)
{
    switch (status) {
    case 404:
        return RPC_NOT_FOUND;
    case 405:
        return RPC_UNIMPLEMENTED;
    case 413:
    case 431:
        return RPC_RESOURCE_EXHAUSTED;
    case 503:
        return RPC_UNAVAILABLE;
    default:
        return RPC_INVALID_ARGUMENT;
    }
}

static const char *content_type_of(enum rx_encoding enc)
{
    if (enc == RX_ENC_PROTOBUF)
        return "application/x-protobuf";
    if (enc == RX_ENC_JSON)
        return "application/json";
    return "text/plain; charset=utf-8";
}

/* ---------------- response bodies ---------------- */

/* The messages here are tracebridge's own text, but escape anyway so JSON stays valid. */
static int put_json_string(struct buf *b, const char *s)
{
    int rc = buf_append_byte(b, '"');

    if (rc == 0)
        rc = json_escape_append(b, s, strlen(s));
    return rc == 0 ? buf_append_byte(b, '"') : rc;
}

/* google.rpc.Status {int32 code = 1; string message = 2;} in the request's encoding, or the
 * bare message as text when the request's encoding is unknown. */
static int status_body(struct buf *b, enum rx_encoding enc, int status, const char *msg)
{
    int rc;

    if (enc == RX_ENC_PROTOBUF)
        return otlp_encode_status(b, (int)rpc_code_of(status), msg);
    if (enc == RX_ENC_JSON) {
        rc = buf_appendf(b, "{\"code\":%d,\"message\":", (int)rpc_code_of(status));
        if (rc == 0)
            rc = put_json_string(b, msg);
        return rc == 0 ? buf_append_byte(b, '}') : rc;
    }
    return buf_appendf(b, "%s\n", msg);
}

/* ExportTraceServiceResponse: empty, or partial_success {rejected_spans, error_message}. */
static int success_body(struct buf *b, enum rx_encoding enc, size_t rejected, const char *msg)
{
    int rc;

    if (enc == RX_ENC_JSON && rejected == 0)
        return buf_append_str(b, "{}");
    if (enc == RX_ENC_JSON) {
        rc = buf_appendf(
            b, "{\"partialSuccess\":{\"rejectedSpans\":\"%zu\",\"errorMessage\":", rejected);
        if (rc == 0)
            rc = put_json_string(b, msg);
        return rc == 0 ? buf_append_str(b, "}}") : rc;
    }
    return otlp_encode_partial_success(b, rejected, msg);
}

/* ---------------- writing answers ---------------- */

struct answer {
    int status;
    const char *ctype;
    const struct buf *body;
    bool close;
    bool head_only; /* the request was HEAD: headers only */
};

/* Appends one whole response to the output, or nothing (and the connection closes). */
static void emit(struct rx_session *s, const struct answer *a)
{
    size_t mark = s->out.len;
    const char *extra = a->status == 405   ? "Allow: POST\r\n"
                        : a->status == 503 ? "Retry-After: 1\r\n"
                                           : "";
    int rc;

    rc = buf_appendf(&s->out,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                     a->status, reason_phrase(a->status), a->ctype, a->body->len, extra,
                     a->close ? "Connection: close\r\n" : "");
    if (rc == 0 && !a->head_only && a->body->len > 0)
        rc = buf_append(&s->out, a->body->data, a->body->len);
    if (rc < 0) {
        s->out.len = mark;
        s->state = RX_CLOSING;
        http1_stop(&s->h);
    }
}

static void answer_error(struct rx_session *s, int status, const char *msg, bool close)
{
    struct buf body;
    struct answer a = {status, content_type_of(s->enc), &body, close, (s->flags & RX_F_HEAD) != 0};

    buf_init(&body, STATUS_MSG_MAX + 64);
    if (status_body(&body, s->enc, status, msg) < 0)
        buf_reset(&body);
    s->ctx->stats.requests++;
    s->ctx->stats.bad_requests++;
    log_debug(s->ctx->lg, "receiver", "answered %d: %s", status, msg);
    emit(s, &a);
    buf_free(&body);
}

/* Answers at once and closes: the rest of the request is never read (oversize, broken). */
static void reject_now(struct rx_session *s, int status, const char *msg)
{
    if (s->state == RX_CLOSING)
        return;
    answer_error(s, status, msg, true);
    s->state = RX_CLOSING;
    http1_stop(&s->h);
}

static void answer_ok(struct rx_session *s, size_t rejected)
{
    char msg[128];
    struct buf body;
    struct answer a = {200, content_type_of(s->enc), &body, !(s->flags & RX_F_KEEPALIVE),
                       (s->flags & RX_F_HEAD) != 0};

    snprintf(msg, sizeof(msg), "span buffer full: %zu buffered spans were dropped to make room",
             rejected);
    buf_init(&body, STATUS_MSG_MAX);
    if (success_body(&body, s->enc, rejected, msg) < 0)
        buf_reset(&body);
    s->ctx->stats.requests++;
    emit(s, &a);
    buf_free(&body);
}

/* ---------------- request head ---------------- */

static bool token_is(const char *v, size_t n, const char *want)
{
    return n == strlen(want) && strncasecmp(v, want, n) == 0;
}

/* The media type of a Content-Type value, parameters (charset=...) ignored. */
static enum rx_encoding media_encoding(const char *v, size_t n)
{
    const char *semi = memchr(v, ';', n);

    if (semi)
        n = (size_t)(semi - v);
    http_trim_ows(&v, &n);
    if (token_is(v, n, "application/x-protobuf"))
        return RX_ENC_PROTOBUF;
    if (token_is(v, n, "application/json"))
        return RX_ENC_JSON;
    return RX_ENC_NONE;
}

/* The request target's path (query ignored) is exactly `path`. */
static bool path_is(const struct rx_session *s, const char *path)
{
    const char *url = s->h.head.data + s->h.url_off;
    size_t n = s->h.url_len;
    const char *q = memchr(url, '?', n);

    if (q)
        n = (size_t)(q - url);
    return n == strlen(path) && memcmp(url, path, n) == 0;
}

/* 0 when the request is an export we take, else the error status (and its message). */
static int classify(struct rx_session *s, const char **msg)
{
    const char *v;
    size_t n = 0;

    v = http1_header(&s->h, "Content-Type", &n);
    s->enc = v ? media_encoding(v, n) : RX_ENC_NONE;
    if (!path_is(s, TRACES_PATH)) {
        bool other_signal = path_is(s, "/v1/metrics") || path_is(s, "/v1/logs");

        *msg = other_signal ? "tracebridge receives traces only (POST /v1/traces); send metrics "
                              "and logs to a collector"
                            : "not found: tracebridge's OTLP receiver serves POST /v1/traces";
        return 404;
    }
    if (s->h.parser.method != HTTP_POST) {
        *msg = "method not allowed: OTLP/HTTP exports use POST /v1/traces";
        return 405;
    }
    if (s->enc == RX_ENC_NONE) {
        *msg = "unsupported Content-Type: use application/x-protobuf or application/json";
        return 415;
    }
    v = http1_header(&s->h, "Content-Encoding", &n);
    if (v)
        http_trim_ows(&v, &n);
    flags_put(&s->flags, RX_F_GZIP, v && (token_is(v, n, "gzip") || token_is(v, n, "x-gzip")));
    if (v && !(s->flags & RX_F_GZIP) && !token_is(v, n, "identity")) {
        *msg = "unsupported Content-Encoding: use gzip or none";
        return 415;
    }
    return 0;
}

static bool expects_continue(const struct rx_session *s)
{
    size_t n = 0;
    const char *v = http1_header(&s->h, "Expect", &n);

    if (v)
        http_trim_ows(&v, &n);
    return v && token_is(v, n, "100-continue") && s->h.parser.http_minor >= 1;
}

/* Starts (or restarts) the gzip decoder; 16 + MAX_WBITS accepts the gzip wrapper only. */
static int start_inflate(struct rx_session *s)
{
    s->flags &= ~RX_F_Z_ENDED;
    if (s->flags & RX_F_Z_READY)
        return inflateReset(&s->z) == Z_OK ? 0 : -ENOMEM;
    memset(&s->z, 0, sizeof(s->z));
    if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
        return -ENOMEM;
    s->flags |= RX_F_Z_READY;
    return 0;
}

static void on_head(void *owner)
{
    struct rx_session *s = owner;
    const http_parser *p = &s->h.parser;
    const char *msg = NULL;
    char big[160];
    int status = classify(s, &msg);

    flags_put(&s->flags, RX_F_HEAD, p->method == HTTP_HEAD);
    flags_put(&s->flags, RX_F_KEEPALIVE, http_should_keep_alive(p) != 0);
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > s->ctx->max_request_bytes) {
        snprintf(big, sizeof(big), "request body of %llu bytes is over the limit of %zu bytes",
                 (unsigned long long)p->content_length, s->ctx->max_request_bytes);
        reject_now(s, 413, big);
        return;
    }
    if (status != 0 && expects_continue(s)) {
        reject_now(s, status, msg); /* the client waits for 100 before sending its body */
        return;
    }
    if (status != 0) {
        s->state = RX_DISCARD;
        s->err_status = status;
        s->err_msg = msg;
        return;
    }
    if ((s->flags & RX_F_GZIP) && start_inflate(s) < 0) {
        reject_now(s, 503, "receiver out of memory");
        return;
    }
    s->state = RX_BODY;
    if (expects_continue(s) && buf_append_str(&s->out, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
        reject_now(s, 503, "receiver output full");
}

/* ---------------- request body ---------------- */

static int body_append(struct rx_session *s, const void *p, size_t n)
{
    struct rx_ctx *ctx = s->ctx;
    int rc;

    if (n > ctx->body_budget - ctx->body_in_use)
        return -EBUSY;
    rc = buf_append(&s->body, p, n);
    if (rc == 0)
        ctx->body_in_use += n;
    if (ctx->body_in_use > ctx->body_peak)
        ctx->body_peak = ctx->body_in_use;
    return rc;
}

static void body_release(struct rx_session *s)
{
    s->ctx->body_in_use -= s->body.len;
    /* Keep a small buffer for the next request on this keep-alive connection. */
    if (s->body.cap > 64 * 1024)
        buf_free(&s->body);
    else
        buf_reset(&s->body);
}

/* Inflates a piece of a gzip body into s->body. Several gzip members in a row are allowed
 * (RFC 1952). 0, -EBADMSG, -E2BIG (inflated size over the limit), -EBUSY or -ENOMEM. */
static int inflate_piece(struct rx_session *s, const char *p, size_t n)
{
    unsigned char out[INFLATE_CHUNK];
    int zr;
    int rc;

    s->z.next_in = (Bytef *)(uintptr_t)p;
    s->z.avail_in = (uInt)n;
    do {
        if ((s->flags & RX_F_Z_ENDED) && inflateReset(&s->z) != Z_OK)
            return -EBADMSG;
        s->flags &= ~RX_F_Z_ENDED;
        s->z.next_out = out;
        s->z.avail_out = sizeof(out);
        zr = inflate(&s->z, Z_NO_FLUSH);
        if (zr == Z_MEM_ERROR)
            return -ENOMEM;
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
            return -EBADMSG;
        rc = body_append(s, out, sizeof(out) - s->z.avail_out);
        if (rc < 0)
            return rc;
        if (zr == Z_STREAM_END)
            s->flags |= RX_F_Z_ENDED;
        else if (zr == Z_BUF_ERROR)
            break; /* no progress possible until more input arrives */
    } while (s->z.avail_in > 0 || s->z.avail_out == 0);
    return 0;
}

static void body_failed(struct rx_session *s, int rc)
{
    char msg[160];

    if (rc == -E2BIG) {
        snprintf(msg, sizeof(msg), "request body over the limit of %zu bytes%s",
                 s->ctx->max_request_bytes, (s->flags & RX_F_GZIP) ? " (inflated)" : "");
        reject_now(s, 413, msg);
    } else if (rc == -EBADMSG) {
        /* Read the rest so the connection stays usable, then answer 400. */
        body_release(s);
        s->state = RX_DISCARD;
        s->err_status = 400;
        s->err_msg = "invalid gzip body";
    } else {
        reject_now(s, 503, "receiver busy: too many request bytes in flight, retry");
    }
}

static void on_body(void *owner, const char *p, size_t n)
{
    struct rx_session *s = owner;
    int rc;

    if (s->state != RX_BODY && s->state != RX_DISCARD)
        return;
    s->wire_bytes += n;
    if (s->wire_bytes > s->ctx->max_request_bytes) {
        body_failed(s, -E2BIG);
        return;
    }
    if (s->state == RX_DISCARD)
        return;
    rc = (s->flags & RX_F_GZIP) ? inflate_piece(s, p, n) : body_append(s, p, n);
    if (rc < 0)
        body_failed(s, rc);
}

static void on_raw(void *owner, const char *p, size_t n)
{
    (void)owner;
    (void)p;
    (void)n;
}

/* ---------------- complete requests ---------------- */

/* Validates, counts (*spans) and buffers one export; returns the spans dropped for room, or
 * -EBADMSG (the body is not an ExportTraceServiceRequest) or -ENOMEM/-E2BIG (JSON conversion). */
static long buffer_export(struct rx_session *s, long *spans)
{
    const char *pb = s->body.data ? s->body.data : "";
    size_t len = s->body.len;
    struct buf conv;
    long n;
    size_t dropped = 0;
    int rc;

    /* Protobuf from JSON is smaller than its JSON (hex ids, quoted numbers), and the request
     * limit bounds both. */
    buf_init(&conv, s->ctx->max_request_bytes + 1024);
    if (s->enc == RX_ENC_JSON) {
        rc = otlp_json_to_protobuf(pb, len, &conv);
        if (rc < 0) {
            buf_free(&conv);
            return rc;
        }
        pb = conv.data ? conv.data : "";
        len = conv.len;
    }
    n = otlp_count_spans(pb, len);
    *spans = n;
    if (n > 0) {
        dropped = spanbuf_push(s->ctx->sb, pb, len, (size_t)n);
        s->ctx->stats.spans_accepted += (unsigned long)n;
        s->ctx->stats.spans_rejected += dropped;
    }
    buf_free(&conv);
    return n < 0 ? n : (long)dropped;
}

/* One debug line per export the handler's SDK sent: what was taken and what was dropped. */
static void log_export(const struct rx_session *s, long spans, long dropped)
{
    log_debug(s->ctx->lg, "receiver",
              "request encoding=%s%s wire_bytes=%zu bytes=%zu spans=%ld rejected=%ld",
              s->enc == RX_ENC_JSON ? "json" : "protobuf", (s->flags & RX_F_GZIP) ? "+gzip" : "",
              s->wire_bytes, s->body.len, spans, dropped);
}

static void answer_export(struct rx_session *s)
{
    long spans = 0;
    long dropped = buffer_export(s, &spans);

    if (dropped == -EBADMSG) {
        answer_error(s, 400,
                     s->enc == RX_ENC_JSON ? "invalid OTLP/JSON ExportTraceServiceRequest"
                                           : "invalid protobuf ExportTraceServiceRequest",
                     !(s->flags & RX_F_KEEPALIVE));
    } else if (dropped < 0) {
        answer_error(s, 503, "receiver could not convert the request, retry",
                     !(s->flags & RX_F_KEEPALIVE));
    } else {
        log_export(s, spans, dropped);
        if (dropped > 0)
            log_warn(s->ctx->lg, "receiver", "span buffer full: dropped %ld spans", dropped);
        answer_ok(s, (size_t)dropped);
    }
}

static void next_request(struct rx_session *s)
{
    body_release(s);
    s->state = RX_HEAD;
    s->enc = RX_ENC_NONE;
    s->flags &= ~(RX_F_GZIP | RX_F_Z_ENDED | RX_F_HEAD);
    s->wire_bytes = 0;
    s->err_status = 0;
    s->err_msg = NULL;
}

static void on_done(void *owner)
{
    struct rx_session *s = owner;

    if (s->state == RX_CLOSING)
        return;
    if (s->state == RX_DISCARD)
        answer_error(s, s->err_status, s->err_msg, !(s->flags & RX_F_KEEPALIVE));
    else if (flags_are(s->flags, RX_F_GZIP, RX_F_Z_ENDED))
        answer_error(s, 400, "truncated gzip body", !(s->flags & RX_F_KEEPALIVE));
    else
        answer_export(s);
    if (s->state == RX_CLOSING)
        return;
    next_request(s);
    if (!(s->flags & RX_F_KEEPALIVE)) {
        s->state = RX_CLOSING;
        http1_stop(&s->h);
    } else if (s->out.len >= RX_OUT_SOFT) {
        s->flags |= RX_F_BLOCKED; /* the parser stays blocked; rx_session_resume continues */
    } else {
        http1_resume(&s->h);
    }
}

static void on_error(void *owner, enum http_errno err)
{
    struct rx_session *s = owner;
    char msg[96];

    if (err == HPE_HEADER_OVERFLOW) {
        snprintf(msg, sizeof(msg), "request head over %d bytes", RX_MAX_HEAD);
        reject_now(s, 431, msg);
        return;
    }
    snprintf(msg, sizeof(msg), "malformed HTTP/1.1 request (%s)", http_errno_name(err));
    reject_now(s, 400, msg);
}

static const struct http1_ops rx_ops = {
    .head = on_head,
    .raw = on_raw,
    .body = on_body,
    .done = on_done,
    .error = on_error,
};

/* ---------------- public ---------------- */

void rx_session_init(struct rx_session *s, struct rx_ctx *ctx)
{
    memset(s, 0, sizeof(*s));
    s->ctx = ctx;
    s->state = RX_HEAD;
    http1_init(&s->h, HTTP_REQUEST, RX_MAX_HEAD, &rx_ops, s);
    buf_init(&s->body, ctx->max_request_bytes);
    buf_init(&s->out, OUT_MAX);
}

void rx_session_free(struct rx_session *s)
{
    s->ctx->body_in_use -= s->body.len;
    buf_free(&s->body);
    buf_free(&s->out);
    http1_free(&s->h);
    if (s->flags & RX_F_Z_READY)
        inflateEnd(&s->z);
    s->flags &= ~RX_F_Z_READY;
}

void rx_session_feed(struct rx_session *s, const char *data, size_t len)
{
    if (s->state != RX_CLOSING)
        http1_feed(&s->h, data, len);
}

void rx_session_eof(struct rx_session *s)
{
    s->state = RX_CLOSING;
    http1_stop(&s->h);
}

char *rx_session_take_output(struct rx_session *s, size_t *len)
{
    *len = 0;
    if (s->out.len == 0)
        return NULL;
    return buf_take(&s->out, len);
}

bool rx_session_blocked(const struct rx_session *s)
{
    return (s->flags & RX_F_BLOCKED) != 0;
}

void rx_session_resume(struct rx_session *s)
{
    if (!(s->flags & RX_F_BLOCKED) || s->out.len >= RX_OUT_SOFT || s->state == RX_CLOSING)
        return;
    s->flags &= ~RX_F_BLOCKED;
    http1_resume(&s->h);
}

bool rx_session_idle(const struct rx_session *s)
{
    return s->state == RX_HEAD && !(s->flags & RX_F_BLOCKED) && s->out.len == 0 &&
           s->h.head.len == 0 && !http1_has_held(&s->h);
}

bool rx_session_closing(const struct rx_session *s)
{
    return s->state == RX_CLOSING;
}
