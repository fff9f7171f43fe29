/* SPDX-License-Identifier: Apache-2.0 */
/* receiver_harness.h: loopback rig for the OTLP receiver tests and benchmark. The receiver runs
 * on its own libuv loop thread; the test talks to it with blocking sockets and inspects the
 * span buffer and stats on the loop thread (rig_call), so nothing is shared without a lock.
 * OTLP requests are built and decoded with the protobuf-c code generated from the repo's protos
 * (an independent encoder/decoder, not the receiver's). Included by test/bench files only. */
#ifndef TB_TEST_RECEIVER_HARNESS_H
#define TB_TEST_RECEIVER_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include "extension/base/base.h"
#include "extension/receiver/receiver.h"
#include "extension/export/export.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "tests/lib/test_server.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest ExportReq;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse ExportResp;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span PbSpan;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;

#define HARNESS_TIMEOUT_S 10

/* ---------------- the receiver on a loop thread ---------------- */

struct rig {
    uv_loop_t loop;
    uv_async_t wake;
    pthread_t thr;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void (*fn)(struct rig *, void *);
    void *arg;
    bool called;
    bool stop;
    struct spanbuf *sb;
    struct receiver *r;
    int port;
};

static void rig_on_wake(uv_async_t *a)
{
    struct rig *g = a->data;

    pthread_mutex_lock(&g->mu);
    if (g->fn) {
        g->fn(g, g->arg);
        g->fn = NULL;
        g->called = true;
        pthread_cond_broadcast(&g->cv);
    }
    if (g->stop) {
        receiver_free(g->r);
        uv_close((uv_handle_t *)&g->wake, NULL);
    }
    pthread_mutex_unlock(&g->mu);
}

static void *rig_main(void *arg)
{
    struct rig *g = arg;

    uv_run(&g->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Starts a receiver on 127.0.0.1:0 with its own span buffer. 0 or -errno. */
static __attribute__((unused)) int rig_start(struct rig *g, size_t max_request, size_t sb_spans,
                                             size_t sb_bytes)
{
    int err = 0;

    memset(g, 0, sizeof(*g));
    uv_loop_init(&g->loop);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->sb = spanbuf_new(sb_spans, sb_bytes);
    g->r = receiver_new(&g->loop, "127.0.0.1", 0, max_request, g->sb, NULL, &err);
    if (!g->r)
        return err;
    g->port = receiver_port(g->r);
    uv_async_init(&g->loop, &g->wake, rig_on_wake);
    g->wake.data = g;
    pthread_create(&g->thr, NULL, rig_main, g);
    return 0;
}

/* Runs fn(g, arg) on the loop thread and waits for it. */
static __attribute__((unused)) void rig_call(struct rig *g, void (*fn)(struct rig *, void *),
                                             void *arg)
{
    pthread_mutex_lock(&g->mu);
    g->fn = fn;
    g->arg = arg;
    g->called = false;
    uv_async_send(&g->wake);
    while (!g->called)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Frees the receiver, lets the loop run its closes, and returns uv_loop_close's result. */
static __attribute__((unused)) int rig_stop(struct rig *g)
{
    int rc;

    pthread_mutex_lock(&g->mu);
    g->stop = true;
    uv_async_send(&g->wake);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thr, NULL);
    rc = uv_loop_close(&g->loop);
    spanbuf_free(g->sb);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    return rc;
}

static void rig_stats_fn(struct rig *g, void *arg)
{
    receiver_get_stats(g->r, arg);
}

static __attribute__((unused)) struct receiver_stats rig_stats(struct rig *g)
{
    struct receiver_stats st;

    rig_call(g, rig_stats_fn, &st);
    return st;
}

struct rig_peek {
    struct buf out;
    size_t spans;
    size_t entries;
    bool drain; /* commit (remove) what was peeked */
};

static void rig_peek_fn(struct rig *g, void *arg)
{
    struct rig_peek *p = arg;
    uint64_t seq = 0;

    p->entries = spanbuf_peek(g->sb, SIZE_MAX, &p->out, &p->spans, &seq);
    if (p->drain && p->entries > 0)
        spanbuf_commit(g->sb, seq);
}

/* Copies every buffered payload, concatenated, into p->out (max set by the caller). */
static __attribute__((unused)) void rig_peek(struct rig *g, struct rig_peek *p, bool drain)
{
    p->drain = drain;
    p->spans = 0;
    p->entries = 0;
    buf_reset(&p->out);
    rig_call(g, rig_peek_fn, p);
}

/* ---------------- a blocking HTTP/1.1 client ---------------- */

struct client {
    int fd;
    struct buf in; /* bytes received and not parsed yet */
};

struct resp {
    int status;
    struct buf headers; /* "name: value\n" lines */
    struct buf body;
    bool complete;
    bool in_value;
};

static __attribute__((unused)) int client_open(struct client *c, int port)
{
    struct sockaddr_in a;
    struct timeval tv = {HARNESS_TIMEOUT_S, 0};
    int one = 1;

    memset(c, 0, sizeof(*c));
    buf_init(&c->in, 64 * 1024 * 1024);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -errno;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -errno;
    return 0;
}

static __attribute__((unused)) void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    buf_free(&c->in);
}

static __attribute__((unused)) int client_send(struct client *c, const void *p, size_t n)
{
    return test_send_all(c->fd, p, n);
}

static int rp_on_header_field(http_parser *p, const char *at, size_t n)
{
    struct resp *r = p->data;

    if (r->in_value)
        buf_append_byte(&r->headers, '\n');
    r->in_value = false;
    buf_append(&r->headers, at, n);
    return 0;
}

static int rp_on_header_value(http_parser *p, const char *at, size_t n)
{
    struct resp *r = p->data;

    if (!r->in_value)
        buf_append_str(&r->headers, ": ");
    r->in_value = true;
    buf_append(&r->headers, at, n);
    return 0;
}

static int rp_on_headers_complete(http_parser *p)
{
    struct resp *r = p->data;

    if (r->in_value)
        buf_append_byte(&r->headers, '\n');
    r->status = (int)p->status_code;
    return 0;
}

static int rp_on_headers_complete_no_body(http_parser *p)
{
    rp_on_headers_complete(p);
    return 1;
}

static int rp_on_body(http_parser *p, const char *at, size_t n)
{
    struct resp *r = p->data;

    buf_append(&r->body, at, n);
    return 0;
}

static int rp_on_complete(http_parser *p)
{
    struct resp *r = p->data;

    r->complete = true;
    http_parser_pause(p, 1);
    return 0;
}

static __attribute__((unused)) void resp_free(struct resp *r)
{
    buf_free(&r->headers);
    buf_free(&r->body);
}

/* Drops the n bytes the parser took from the front of the client's input. */
static void drop_parsed(struct buf *in, size_t n)
{
    if (n >= in->len) {
        buf_reset(in);
        return;
    }
    memmove(in->data, in->data + n, in->len - n);
    in->len -= n;
    in->data[in->len] = '\0';
}

/* Reads one response (for a HEAD request when `head`). 0, or -1 on EOF/timeout/garbage. */
static __attribute__((unused)) int client_read_as(struct client *c, struct resp *r, bool head)
{
    http_parser_settings st = {
        .on_header_field = rp_on_header_field,
        .on_header_value = rp_on_header_value,
        .on_headers_complete = head ? rp_on_headers_complete_no_body : rp_on_headers_complete,
        .on_body = rp_on_body,
        .on_message_complete = rp_on_complete,
    };
    http_parser p;
    char tmp[65536];

    memset(r, 0, sizeof(*r));
    buf_init(&r->headers, 1 << 20);
    buf_init(&r->body, 64 << 20);
    http_parser_init(&p, HTTP_RESPONSE);
    p.data = r;
    for (;;) {
        size_t n = http_parser_execute(&p, &st, c->in.data, c->in.len);
        ssize_t got;

        if (r->complete) {
            drop_parsed(&c->in, n);
            return 0;
        }
        if (HTTP_PARSER_ERRNO(&p) != HPE_OK)
            return -1;
        drop_parsed(&c->in, n);
        got = recv(c->fd, tmp, sizeof(tmp), 0);
        if (got <= 0)
            return -1;
        buf_append(&c->in, tmp, (size_t)got);
    }
}

static __attribute__((unused)) int client_read(struct client *c, struct resp *r)
{
    return client_read_as(c, r, false);
}

/* True when the server closed the connection (EOF or reset) within the timeout. */
static __attribute__((unused)) bool client_sees_close(struct client *c)
{
    char tmp[4096];
    ssize_t got;

    if (c->in.len > 0)
        return false;
    do
        got = recv(c->fd, tmp, sizeof(tmp), 0);
    while (got < 0 && errno == EINTR);
    return got == 0 || (got < 0 && errno == ECONNRESET);
}

static __attribute__((unused)) bool resp_has_header(const struct resp *r, const char *line)
{
    return r->headers.data && strcasestr(r->headers.data, line) != NULL;
}

/* Sends POST path with a Content-Length body (extra: more header lines, each ending CRLF). */
static __attribute__((unused)) int client_post(struct client *c, const char *path,
                                               const char *ctype, const char *extra,
                                               const void *body, size_t len)
{
    struct buf b;
    int rc;

    buf_init(&b, len + 4096);
    rc = buf_appendf(&b,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     path, ctype, len, extra ? extra : "");
    if (rc == 0)
        rc = buf_append(&b, body, len);
    if (rc == 0)
        rc = client_send(c, b.data, b.len);
    buf_free(&b);
    return rc;
}

/* The same with a chunked body cut into `chunk`-byte pieces. */
static __attribute__((unused)) int client_post_chunked(struct client *c, const char *path,
                                                       const char *ctype, const char *extra,
                                                       const void *body, size_t len, size_t chunk)
{
    struct buf b;
    size_t off;
    int rc;

    buf_init(&b, len * 2 + 4096);
    rc = buf_appendf(&b,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                     "Transfer-Encoding: chunked\r\n%s\r\n",
                     path, ctype, extra ? extra : "");
    for (off = 0; rc == 0 && off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;

        rc = buf_appendf(&b, "%zx\r\n", n);
        if (rc == 0)
            rc = buf_append(&b, (const char *)body + off, n);
        if (rc == 0)
            rc = buf_append_str(&b, "\r\n");
    }
    if (rc == 0)
        rc = buf_append_str(&b, "0\r\n\r\n");
    if (rc == 0)
        rc = client_send(c, b.data, b.len);
    buf_free(&b);
    return rc;
}

/* ---------------- OTLP payloads (protobuf-c, independent of the receiver) ---------------- */

/* A serialized ExportTraceServiceRequest: one resource (service.name = service), one scope
 * (name, version "1.2.3"), n spans named "<prefix>-<i>". Caller frees *out. */
static __attribute__((unused)) int make_export(const char *service, const char *scope_name,
                                               const char *prefix, size_t n, uint8_t **out,
                                               size_t *len)
{
    ExportReq req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    ResourceSpans *rsp = &rs;
    Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    KeyValue kv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    KeyValue *kvp = &kv;
    AnyValue av = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    ScopeSpans *ssp = &ss;
    Scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    PbSpan *spans = calloc(n ? n : 1, sizeof(*spans));
    PbSpan **sp = calloc(n ? n : 1, sizeof(*sp));
    char(*names)[64] = calloc(n ? n : 1, sizeof(*names));
    uint8_t tid[16];
    uint8_t(*sids)[8] = calloc(n ? n : 1, sizeof(*sids));
    size_t i;

    *out = NULL;
    *len = 0;
    if (!spans || !sp || !names || !sids) {
        free(spans);
        free(sp);
        free(names);
        free(sids);
        return -ENOMEM;
    }
    for (i = 0; i < 16; i++)
        tid[i] = (uint8_t)(0xa0 + i);
    av.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    av.string_value = (char *)service;
    kv.key = "service.name";
    kv.value = &av;
    res.n_attributes = 1;
    res.attributes = &kvp;
    scope.name = (char *)scope_name;
    scope.version = "1.2.3";
    for (i = 0; i < n; i++) {
        PbSpan init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;

        spans[i] = init;
        snprintf(names[i], sizeof(names[i]), "%s-%zu", prefix, i);
        memset(sids[i], 0, 8);
        sids[i][0] = 0x11;
        sids[i][7] = (uint8_t)(i + 1);
        spans[i].trace_id.data = tid;
        spans[i].trace_id.len = 16;
        spans[i].span_id.data = sids[i];
        spans[i].span_id.len = 8;
        spans[i].name = names[i];
        spans[i].kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL;
        spans[i].start_time_unix_nano = 1700000000000000000ull + i;
        spans[i].end_time_unix_nano = 1700000000000001000ull + i;
        sp[i] = &spans[i];
    }
    ss.scope = &scope;
    ss.n_spans = n;
    ss.spans = sp;
    rs.resource = &res;
    rs.n_scope_spans = 1;
    rs.scope_spans = &ssp;
    req.n_resource_spans = 1;
    req.resource_spans = &rsp;
    *len =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
            &req);
    *out = malloc(*len ? *len : 1);
    if (*out)
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, *out);
    free(spans);
    free(sp);
    free(names);
    free(sids);
    return *out ? 0 : -ENOMEM;
}

static __attribute__((unused)) ExportReq *decode_export(const void *p, size_t n)
{
    return opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, n,
                                                                                            p);
}

static __attribute__((unused)) void export_free(ExportReq *r)
{
    if (r)
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
            r, NULL);
}

static __attribute__((unused)) size_t export_span_count(const ExportReq *r)
{
    size_t n = 0;
    size_t i;
    size_t j;

    for (i = 0; r && i < r->n_resource_spans; i++)
        for (j = 0; j < r->resource_spans[i]->n_scope_spans; j++)
            n += r->resource_spans[i]->scope_spans[j]->n_spans;
    return n;
}

/* gzip (RFC 1952) of the bytes; caller frees *out. */
static __attribute__((unused)) int gzip_bytes(const void *p, size_t n, uint8_t **out, size_t *len)
{
    z_stream z;
    size_t cap = compressBound((uLong)n) + 64;
    int zr;

    memset(&z, 0, sizeof(z));
    *len = 0;
    *out = malloc(cap);
    if (!*out || deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    zr = deflate(&z, Z_FINISH);
    *len = cap - z.avail_out;
    deflateEnd(&z);
    return zr == Z_STREAM_END ? 0 : -EIO;
}

#endif
