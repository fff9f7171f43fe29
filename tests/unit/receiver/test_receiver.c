/* SPDX-License-Identifier: Apache-2.0 */
/* test_receiver: the OTLP/HTTP receiver on real loopback sockets (receiver_harness.h), plus the
 * socket-free session (rx_session) fed byte by byte. Requests are built and answers decoded
 * with the protobuf-c code generated from the repo's protos. */
#include "extension/receiver/internal.h"
#include "tests/lib/receiver_harness.h"
#include "tests/lib/tap.h"

#define MAX_REQ (1024 * 1024)
#define PB      "application/x-protobuf"
#define JSON    "application/json"
#define TRACES  "/v1/traces"

static const char json_one[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
    "{\"stringValue\":\"json-svc\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"json-scope\","
    "\"version\":\"2.0\"},\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\","
    "\"spanId\":\"eee19b7ec3c1b174\",\"name\":\"json-span\",\"kind\":2,"
    "\"startTimeUnixNano\":\"1544712660000000000\",\"endTimeUnixNano\":"
    "\"1544712661000000000\"}]}]}]}";

static bool body_has(const struct resp *r, const char *s)
{
    return r->body.data && memmem(r->body.data, r->body.len, s, strlen(s)) != NULL;
}

/* One request on a fresh connection; the response in *r. */
static int one_post(int port, const char *path, const char *ctype, const char *extra,
                    const void *body, size_t len, struct resp *r)
{
    struct client c;
    int rc = client_open(&c, port);

    if (rc == 0)
        rc = client_post(&c, path, ctype, extra, body, len);
    if (rc == 0)
        rc = client_read(&c, r);
    else
        memset(r, 0, sizeof(*r));
    client_close(&c);
    return rc;
}

static ExportResp *decode_resp(const struct resp *r)
{
    return opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
        NULL, r->body.len, (const uint8_t *)r->body.data);
}

/* google.rpc.Status {1: code, 2: message} read by hand (no generated type for it). */
static bool status_pb(const struct resp *r, int *code, char *msg, size_t cap)
{
    const uint8_t *p = (const uint8_t *)r->body.data;
    size_t n = r->body.len;
    size_t len;

    if (n < 4 || p[0] != 0x08 || p[2] != 0x12)
        return false;
    *code = p[1];
    len = p[3];
    if (len & 0x80 || 4 + len != n || len >= cap)
        return false;
    memcpy(msg, p + 4, len);
    msg[len] = '\0';
    return true;
}

static void test_protobuf(struct tap *t, struct rig *g)
{
    struct rig_peek pk;
    struct resp r;
    uint8_t *req;
    size_t len;
    ExportReq *got;

    make_export("svc-a", "scope-a", "span", 10, &req, &len);
    ok(t, one_post(g->port, TRACES, PB, NULL, req, len, &r) == 0 && r.status == 200,
       "protobuf export: 200");
    ok(t, resp_has_header(&r, "Content-Type: application/x-protobuf"),
       "answer in the request's encoding");
    is_int(t, r.body.len, 0, "full success: empty ExportTraceServiceResponse");
    resp_free(&r);
    buf_init(&pk.out, 64 << 20);
    rig_peek(g, &pk, true);
    is_int(t, pk.spans, 10, "10 spans buffered");
    ok(t, pk.out.len == len && memcmp(pk.out.data, req, len) == 0,
       "buffered bytes are the request bytes, unchanged");
    got = decode_export(pk.out.data, pk.out.len);
    ok(t,
       got && export_span_count(got) == 10 &&
           strcmp(got->resource_spans[0]->scope_spans[0]->spans[9]->name, "span-9") == 0,
       "buffered payload decodes to the spans sent");
    export_free(got);
    buf_free(&pk.out);
    free(req);
}

static void test_json(struct tap *t, struct rig *g)
{
    struct rig_peek pk;
    struct resp r;
    ExportReq *got;
    const ResourceSpans *rs;
    const PbSpan *s;
    static const uint8_t tid[16] = {0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03,
                                    0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c};

    ok(t,
       one_post(g->port, TRACES, "application/json; charset=utf-8", NULL, json_one,
                strlen(json_one), &r) == 0 &&
           r.status == 200,
       "JSON export (Content-Type with charset): 200");
    ok(t, resp_has_header(&r, "Content-Type: application/json"), "JSON answer for JSON");
    ok(t, r.body.len == 2 && memcmp(r.body.data, "{}", 2) == 0, "full success: {}");
    resp_free(&r);
    buf_init(&pk.out, 64 << 20);
    rig_peek(g, &pk, true);
    is_int(t, pk.spans, 1, "JSON span buffered");
    got = decode_export(pk.out.data, pk.out.len);
    rs = got && got->n_resource_spans == 1 ? got->resource_spans[0] : NULL;
    s = rs && rs->n_scope_spans == 1 && rs->scope_spans[0]->n_spans == 1
            ? rs->scope_spans[0]->spans[0]
            : NULL;
    ok(t,
       s && strcmp(s->name, "json-span") == 0 && s->trace_id.len == 16 &&
           memcmp(s->trace_id.data, tid, 16) == 0 &&
           s->start_time_unix_nano == 1544712660000000000ull,
       "JSON converted once to protobuf: name, trace id, times");
    ok(t,
       rs && rs->resource && rs->resource->n_attributes == 1 &&
           strcmp(rs->resource->attributes[0]->value->string_value, "json-svc") == 0 &&
           strcmp(rs->scope_spans[0]->scope->name, "json-scope") == 0,
       "resource and scope preserved");
    export_free(got);
    buf_free(&pk.out);
}

static void test_gzip_chunked(struct tap *t, struct rig *g)
{
    struct rig_peek pk;
    struct client c;
    struct resp r;
    uint8_t *req;
    uint8_t *gz;
    size_t len;
    size_t gzlen;
    int good = 0;

    make_export("svc-gz", "scope", "gz", 50, &req, &len);
    gzip_bytes(req, len, &gz, &gzlen);
    client_open(&c, g->port);
    client_post(&c, TRACES, PB, "Content-Encoding: gzip\r\n", gz, gzlen);
    good += client_read(&c, &r) == 0 && r.status == 200;
    resp_free(&r);
    client_post_chunked(&c, TRACES, PB, NULL, req, len, 7);
    good += client_read(&c, &r) == 0 && r.status == 200;
    resp_free(&r);
    client_post_chunked(&c, TRACES, PB, "Content-Encoding: gzip\r\n", gz, gzlen, 3);
    good += client_read(&c, &r) == 0 && r.status == 200;
    resp_free(&r);
    client_close(&c);
    is_int(t, good, 3, "gzip, chunked, and chunked gzip exports: 200 on one connection");
    buf_init(&pk.out, 64 << 20);
    rig_peek(g, &pk, true);
    ok(t,
       pk.spans == 150 && pk.out.len == 3 * len && memcmp(pk.out.data, req, len) == 0 &&
           memcmp(pk.out.data + len, req, len) == 0 && memcmp(pk.out.data + 2 * len, req, len) == 0,
       "each inflated/de-chunked body buffered byte-identical to the original");
    buf_free(&pk.out);
    free(gz);
    free(req);
}

static void test_keepalive_pipelining(struct tap *t, struct rig *g)
{
    struct rig_peek pk;
    struct client c;
    struct resp r;
    struct buf many;
    uint8_t *req;
    size_t len;
    int good = 0;
    int i;

    make_export("svc-k", "scope", "k", 2, &req, &len);
    client_open(&c, g->port);
    for (i = 0; i < 20; i++) {
        client_post(&c, TRACES, PB, NULL, req, len);
        good += client_read(&c, &r) == 0 && r.status == 200 && !resp_has_header(&r, "close");
        resp_free(&r);
    }
    is_int(t, good, 20, "keep-alive: 20 exports on one connection");
    /* 1000 requests in one write: far more answers than RX_OUT_SOFT, so the session parks its
     * output and resumes as the socket drains. */
    buf_init(&many, 64 << 20);
    for (i = 0; i < 1000; i++)
        buf_appendf(&many,
                    "POST /v1/traces HTTP/1.1\r\nContent-Type: " JSON "\r\n"
                    "Content-Length: %zu\r\n\r\n%s",
                    strlen(json_one), json_one);
    client_send(&c, many.data, many.len);
    for (good = 0, i = 0; i < 1000; i++) {
        good += client_read(&c, &r) == 0 && r.status == 200 && body_has(&r, "{}");
        resp_free(&r);
    }
    is_int(t, good, 1000, "1000 pipelined requests answered in order");
    buf_free(&many);
    client_close(&c);
    buf_init(&pk.out, 64 << 20);
    rig_peek(g, &pk, true);
    is_int(t, pk.spans, 40 + 1000, "every pipelined span buffered");
    buf_free(&pk.out);
    free(req);
}

static void test_errors(struct tap *t, struct rig *g)
{
    struct resp r;
    char msg[256];
    int code = 0;

    one_post(g->port, TRACES, PB, NULL, "\xff\xff\xff\xff", 4, &r);
    ok(t,
       r.status == 400 && status_pb(&r, &code, msg, sizeof(msg)) && code == 3 &&
           strstr(msg, "invalid"),
       "undecodable protobuf: 400 with a google.rpc.Status (INVALID_ARGUMENT, message)");
    resp_free(&r);
    one_post(g->port, TRACES, JSON, NULL, "{\"resourceSpans\":", 17, &r);
    ok(t, r.status == 400 && body_has(&r, "\"code\":3") && body_has(&r, "\"message\":\"invalid"),
       "undecodable JSON: 400 with a JSON Status");
    resp_free(&r);
    one_post(g->port, "/v1/metrics", PB, NULL, "", 0, &r);
    ok(t, r.status == 404 && body_has(&r, "traces only"), "/v1/metrics: 404 'traces only'");
    resp_free(&r);
    one_post(g->port, "/v1/logs", "text/plain", NULL, "x", 1, &r);
    ok(t, r.status == 404 && body_has(&r, "traces only"), "/v1/logs: 404 'traces only'");
    resp_free(&r);
    one_post(g->port, "/other", JSON, NULL, "{}", 2, &r);
    ok(t, r.status == 404 && body_has(&r, "\"code\":5"), "other path: 404 (NOT_FOUND)");
    resp_free(&r);
    one_post(g->port, TRACES, "text/plain", NULL, "hello", 5, &r);
    ok(t, r.status == 415 && body_has(&r, "Content-Type"), "text/plain: 415");
    resp_free(&r);
    one_post(g->port, TRACES, PB, "Content-Encoding: br\r\n", "x", 1, &r);
    ok(t,
       r.status == 415 && status_pb(&r, &code, msg, sizeof(msg)) && strstr(msg, "Content-Encoding"),
       "Content-Encoding br: 415");
    resp_free(&r);
}

static void test_method_and_framing(struct tap *t, struct rig *g)
{
    struct client c;
    struct resp r;
    static const char get[] = "GET /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char head[] = "HEAD /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char other[] = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";

    client_open(&c, g->port);
    client_send(&c, get, strlen(get));
    ok(t, client_read(&c, &r) == 0 && r.status == 405 && resp_has_header(&r, "Allow: POST"),
       "GET /v1/traces: 405 with Allow: POST");
    resp_free(&r);
    client_send(&c, head, strlen(head));
    client_send(&c, other, strlen(other));
    ok(t, client_read_as(&c, &r, true) == 0 && r.status == 405, "HEAD: 405");
    resp_free(&r);
    ok(t, client_read(&c, &r) == 0 && r.status == 404,
       "HEAD answer has no body: the next answer parses (keep-alive after errors)");
    resp_free(&r);
    client_close(&c);

    client_open(&c, g->port);
    client_send(&c, "POST /v1/traces HTTP/1.1\r\nContent-Length: zz\r\n\r\n", 48);
    ok(t, client_read(&c, &r) == 0 && r.status == 400 && resp_has_header(&r, "Connection: close"),
       "malformed HTTP: 400 and Connection: close");
    ok(t, client_sees_close(&c), "then the connection closes");
    resp_free(&r);
    client_close(&c);
}

static void test_head_limit(struct tap *t, struct rig *g)
{
    struct client c;
    struct resp r;
    struct buf big;

    buf_init(&big, 1 << 20);
    buf_append_str(&big, "POST /v1/traces HTTP/1.1\r\n");
    while (big.len < RX_MAX_HEAD + 1000)
        buf_append_str(&big, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    client_open(&c, g->port);
    client_send(&c, big.data, big.len);
    ok(t, client_read(&c, &r) == 0 && r.status == 431 && client_sees_close(&c),
       "head over RX_MAX_HEAD: 431 and close");
    resp_free(&r);
    client_close(&c);
    buf_free(&big);
}

static void test_too_large(struct tap *t, struct rig *g)
{
    struct client c;
    struct resp r;
    uint8_t *zeros = calloc(1, 8 * MAX_REQ);
    uint8_t *gz;
    size_t gzlen;
    char head[256];

    client_open(&c, g->port);
    snprintf(head, sizeof(head),
             "POST /v1/traces HTTP/1.1\r\nContent-Type: " PB "\r\nContent-Length: %d\r\n\r\n",
             MAX_REQ + 1);
    client_send(&c, head, strlen(head));
    ok(t, client_read(&c, &r) == 0 && r.status == 413 && resp_has_header(&r, "Connection: close"),
       "Content-Length over the limit: 413 before any body byte");
    ok(t, body_has(&r, "limit"), "413 says why");
    ok(t, client_sees_close(&c), "and the connection closes");
    resp_free(&r);
    client_close(&c);

    /* Body bytes already on the way: the answer must still arrive (lingering close). */
    client_open(&c, g->port);
    client_send(&c, head, strlen(head));
    client_send(&c, zeros, 300 * 1024);
    ok(t, client_read(&c, &r) == 0 && r.status == 413, "413 readable while the body streams");
    resp_free(&r);
    client_close(&c);

    client_open(&c, g->port);
    client_post_chunked(&c, TRACES, PB, NULL, zeros, MAX_REQ + 10, 65536);
    ok(t, client_read(&c, &r) == 0 && r.status == 413, "chunked body over the limit: 413");
    resp_free(&r);
    client_close(&c);

    gzip_bytes(zeros, 8 * MAX_REQ, &gz, &gzlen);
    client_open(&c, g->port);
    client_post(&c, TRACES, PB, "Content-Encoding: gzip\r\n", gz, gzlen);
    ok(t, client_read(&c, &r) == 0 && r.status == 413 && body_has(&r, "inflated"),
       "gzip bomb (%zu bytes -> 8 MiB): 413 on the inflated size", gzlen);
    resp_free(&r);
    client_close(&c);

    one_post(g->port, TRACES, PB, "Content-Encoding: gzip\r\n", gz, gzlen - 12, &r);
    ok(t, r.status == 400 || r.status == 413, "truncated gzip bomb: not accepted");
    resp_free(&r);
    free(gz);
    free(zeros);
}

static void test_bad_gzip(struct tap *t, struct rig *g)
{
    struct resp r;
    uint8_t *req;
    uint8_t *gz;
    size_t len;
    size_t gzlen;

    make_export("svc", "scope", "s", 3, &req, &len);
    gzip_bytes(req, len, &gz, &gzlen);
    one_post(g->port, TRACES, PB, "Content-Encoding: gzip\r\n", gz, gzlen - 4, &r);
    ok(t, r.status == 400 && body_has(&r, "truncated gzip"), "truncated gzip: 400");
    resp_free(&r);
    gz[gzlen / 2] ^= 0x55;
    gz[gzlen / 2 + 1] ^= 0x55;
    one_post(g->port, TRACES, PB, "Content-Encoding: gzip\r\n", gz, gzlen, &r);
    ok(t, r.status == 400, "corrupt gzip: 400");
    resp_free(&r);
    one_post(g->port, TRACES, PB, "Content-Encoding: gzip\r\n", req, len, &r);
    ok(t, r.status == 400 && body_has(&r, "gzip"), "not gzip at all: 400 invalid gzip");
    resp_free(&r);
    free(gz);
    free(req);
}

static void test_expect_continue(struct tap *t, struct rig *g)
{
    struct client c;
    struct resp r;
    uint8_t *req;
    size_t len;
    char head[256];

    make_export("svc", "scope", "e", 4, &req, &len);
    snprintf(head, sizeof(head),
             "POST /v1/traces HTTP/1.1\r\nContent-Type: " PB
             "\r\nContent-Length: %zu\r\nExpect: 100-continue\r\n\r\n",
             len);
    client_open(&c, g->port);
    client_send(&c, head, strlen(head));
    ok(t, client_read(&c, &r) == 0 && r.status == 100, "Expect: 100-continue gets 100");
    resp_free(&r);
    client_send(&c, req, len);
    ok(t, client_read(&c, &r) == 0 && r.status == 200, "then the export gets 200");
    resp_free(&r);
    client_close(&c);
    free(req);
}

static void drain(struct rig *g)
{
    struct rig_peek pk;

    buf_init(&pk.out, 64 << 20);
    rig_peek(g, &pk, true);
    buf_free(&pk.out);
}

/* Waits until the receiver has released every connection (closes are asynchronous). */
static unsigned long wait_idle(struct rig *g)
{
    int tries;

    for (tries = 0; tries < 300 && rig_stats(g).open_conns > 0; tries++)
        usleep(10000);
    return rig_stats(g).open_conns;
}

/* One export on an open connection; true when it is answered 200. */
static bool post_ok(struct client *c, const void *req, size_t len)
{
    struct resp r;
    bool good = client_post(c, TRACES, PB, NULL, req, len) == 0 && client_read(c, &r) == 0 &&
                r.status == 200;

    resp_free(&r);
    return good;
}

/* Starts an export with Expect: 100-continue and waits for the 100: the receiver has then read
 * the head, and the connection is busy (a request in progress) until the body is sent. */
static bool begin_busy(struct client *c, size_t len)
{
    char head[256];
    struct resp r;
    bool got;

    snprintf(head, sizeof(head),
             "POST /v1/traces HTTP/1.1\r\nContent-Type: " PB
             "\r\nContent-Length: %zu\r\nExpect: 100-continue\r\n\r\n",
             len);
    got = client_send(c, head, strlen(head)) == 0 && client_read(c, &r) == 0 && r.status == 100;
    resp_free(&r);
    return got;
}

static bool end_busy(struct client *c, const void *req, size_t len)
{
    struct resp r;
    bool good = client_send(c, req, len) == 0 && client_read(c, &r) == 0 && r.status == 200;

    resp_free(&r);
    return good;
}

/* Fills the receiver with keep-alive connections, each idle after one export, in order. */
static int fill_idle(struct client *cs, int n, int port, const void *req, size_t len)
{
    int good = 0;
    int i;

    for (i = 0; i < n; i++) {
        client_open(&cs[i], port);
        good += post_ok(&cs[i], req, len);
    }
    return good;
}

/* At the limit, a new connection closes the least recently used idle one (never a busy one)
 * and is served; only when every connection is busy is it refused. */
static void test_many_connections(struct tap *t, struct rig *g)
{
    static struct client cs[RECEIVER_MAX_CONNS];
    struct client extra;
    struct client extra2;
    struct receiver_stats st;
    uint8_t *req;
    size_t len;
    int busy = 0;
    int i;

    is_int(t, wait_idle(g), 0, "earlier connections all released");
    make_export("svc", "scope", "m", 1, &req, &len);
    is_int(t, fill_idle(cs, RECEIVER_MAX_CONNS, g->port, req, len), RECEIVER_MAX_CONNS,
           "%d keep-alive connections each exported", RECEIVER_MAX_CONNS);
    is_int(t, rig_stats(g).open_conns, RECEIVER_MAX_CONNS, "%d connections open",
           RECEIVER_MAX_CONNS);
    /* cs[0], the oldest, is now mid-request; cs[1] exports again: cs[2] is the oldest idle. */
    ok(t, begin_busy(&cs[0], len), "the oldest connection starts a request (busy)");
    ok(t, post_ok(&cs[1], req, len), "the second oldest exports again (recently used)");
    client_open(&extra, g->port);
    ok(t, post_ok(&extra, req, len), "a new connection at the limit is served (200)");
    ok(t, client_sees_close(&cs[2]), "the least recently used idle connection was closed");
    ok(t, end_busy(&cs[0], req, len), "the busy connection was kept: its export completes");
    ok(t, post_ok(&cs[1], req, len), "the recently used connection was kept");
    client_open(&extra2, g->port);
    ok(t, post_ok(&extra2, req, len), "another new connection is served");
    ok(t, client_sees_close(&cs[3]), "it closed the next oldest idle connection");
    st = rig_stats(g);
    ok(t, st.conns_evicted == 2 && st.conns_refused == 0, "stats: %lu evicted, %lu refused",
       st.conns_evicted, st.conns_refused);
    /* Every open connection busy: nothing can be evicted. */
    client_close(&cs[2]);
    client_close(&cs[3]);
    cs[2] = extra;
    cs[3] = extra2;
    for (i = 0; i < RECEIVER_MAX_CONNS; i++)
        busy += begin_busy(&cs[i], len);
    is_int(t, busy, RECEIVER_MAX_CONNS, "all %d connections mid-request", RECEIVER_MAX_CONNS);
    client_open(&extra, g->port);
    ok(t, client_sees_close(&extra), "with none idle, one more connection is refused");
    client_close(&extra);
    busy = 0;
    for (i = 0; i < RECEIVER_MAX_CONNS; i++)
        busy += end_busy(&cs[i], req, len);
    is_int(t, busy, RECEIVER_MAX_CONNS, "no busy connection was closed: every export completes");
    st = rig_stats(g);
    ok(t, st.conns_evicted == 2 && st.conns_refused == 1, "stats: %lu evicted, %lu refused",
       st.conns_evicted, st.conns_refused);
    for (i = 0; i < RECEIVER_MAX_CONNS; i++)
        client_close(&cs[i]);
    is_int(t, wait_idle(g), 0, "every connection released after clients close");
    client_open(&extra, g->port);
    ok(t, post_ok(&extra, req, len), "new connections work again");
    client_close(&extra);
    drain(g);
    free(req);
}

/* A client that pipelines thousands of exports and never reads its answers must not hold up
 * anyone else: its connection stops being read once its answers pile up. */
static void test_slow_reader(struct tap *t, struct rig *g)
{
    struct client slow;
    struct resp r;
    struct buf many;
    uint8_t *req;
    size_t len;
    int i;
    double t0;
    struct timespec ts;

    make_export("svc", "scope", "slow", 1, &req, &len);
    buf_init(&many, 64 << 20);
    for (i = 0; i < 20000; i++) {
        buf_appendf(
            &many,
            "POST /v1/traces HTTP/1.1\r\nContent-Type: " PB "\r\nContent-Length: %zu\r\n\r\n", len);
        buf_append(&many, req, len);
    }
    client_open(&slow, g->port);
    /* Non-blocking send of as much as the kernel takes: the receiver reads until its answers
     * back up, then stops reading this connection. */
    (void)send(slow.fd, many.data, many.len, MSG_DONTWAIT | MSG_NOSIGNAL);
    usleep(200000);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    ok(t, one_post(g->port, TRACES, PB, NULL, req, len, &r) == 0 && r.status == 200,
       "another client is served while one never reads its answers");
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ok(t, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - t0 < 1.0, "and promptly");
    resp_free(&r);
    client_close(&slow);
    buf_free(&many);
    free(req);
    wait_idle(g);
    drain(g);
}

static void test_partial_success(struct tap *t)
{
    struct rig g;
    struct resp r;
    ExportResp *er;
    uint8_t *req;
    size_t len;
    struct buf json;
    int i;

    if (rig_start(&g, MAX_REQ, 15, 1 << 20) < 0) {
        ok(t, 0, "rig for partial success");
        return;
    }
    make_export("svc", "scope", "p", 10, &req, &len);
    one_post(g.port, TRACES, PB, NULL, req, len, &r);
    ok(t, r.status == 200 && r.body.len == 0, "first 10 spans fit (limit 15)");
    resp_free(&r);
    one_post(g.port, TRACES, PB, NULL, req, len, &r);
    er = r.status == 200 ? decode_resp(&r) : NULL;
    ok(t,
       er && er->partial_success && er->partial_success->rejected_spans == 10 &&
           strstr(er->partial_success->error_message, "dropped"),
       "next 10: 200 with partial_success.rejected_spans = 10 (the oldest dropped)");
    if (er)
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
            er, NULL);
    resp_free(&r);
    /* A JSON request with 6 spans: 10 + 6 > 15, so the previous 10 go. */
    buf_init(&json, 1 << 20);
    buf_append_str(&json, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[");
    for (i = 0; i < 6; i++)
        buf_appendf(&json,
                    "%s{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":"
                    "\"eee19b7ec3c1b17%d\",\"name\":\"j%d\"}",
                    i ? "," : "", i, i);
    buf_append_str(&json, "]}]}]}");
    one_post(g.port, TRACES, JSON, NULL, json.data, json.len, &r);
    ok(t, r.status == 200 && body_has(&r, "{\"partialSuccess\":{\"rejectedSpans\":\"10\""),
       "JSON partial success: rejectedSpans \"10\" (int64 as a string)");
    resp_free(&r);
    is_int(t, rig_stats(&g).spans_rejected, 20, "stats count rejected spans");
    is_int(t, rig_stats(&g).spans_accepted, 26, "stats count accepted spans");
    buf_free(&json);
    free(req);
    is_int(t, rig_stop(&g), 0, "partial-success rig: loop closes cleanly");
}

static void test_bind(struct tap *t, struct rig *g)
{
    uv_loop_t loop;
    struct spanbuf *sb = spanbuf_new(10, 1000);
    struct receiver *r;
    int err = 0;

    uv_loop_init(&loop);
    r = receiver_new(&loop, "127.0.0.1", g->port, MAX_REQ, sb, NULL, &err);
    ok(t, !r && err == -EADDRINUSE, "port in use: NULL, -EADDRINUSE (got %d)", err);
    r = receiver_new(&loop, "0.0.0.0", 0, MAX_REQ, sb, NULL, &err);
    ok(t, !r && err == -EADDRNOTAVAIL, "non-loopback address refused");
    r = receiver_new(&loop, "localhost", 0, MAX_REQ, sb, NULL, &err);
    ok(t, r && receiver_port(r) > 0, "localhost binds 127.0.0.1");
    receiver_free(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    is_int(t, uv_loop_close(&loop), 0, "failed binds and free leave no handle behind");
    spanbuf_free(sb);
}

/* ---------------- rx_session without sockets ---------------- */

static char *session_run(struct rx_ctx *ctx, const char *in, size_t n, size_t step, size_t *out_n)
{
    struct rx_session s;
    struct buf out;
    size_t off;

    buf_init(&out, 1 << 20);
    rx_session_init(&s, ctx);
    for (off = 0; off < n && !rx_session_closing(&s); off += step) {
        size_t len = n - off < step ? n - off : step;
        char *o;
        size_t olen;

        rx_session_feed(&s, in + off, len);
        while ((o = rx_session_take_output(&s, &olen)) != NULL) {
            buf_append(&out, o, olen);
            free(o);
            rx_session_resume(&s);
        }
    }
    rx_session_free(&s);
    return buf_take(&out, out_n);
}

static void test_session_bytewise(struct tap *t)
{
    struct rx_ctx ctx;
    struct buf in;
    uint8_t *req;
    uint8_t *gz;
    size_t len;
    size_t gzlen;
    size_t n1;
    size_t n2;
    char *a;
    char *b;

    memset(&ctx, 0, sizeof(ctx));
    ctx.sb = spanbuf_new(100000, 64 << 20);
    ctx.max_request_bytes = MAX_REQ;
    ctx.body_budget = 4 * MAX_REQ;
    make_export("svc", "scope", "b", 5, &req, &len);
    gzip_bytes(req, len, &gz, &gzlen);
    buf_init(&in, 1 << 20);
    buf_appendf(&in,
                "POST /v1/traces HTTP/1.1\r\nContent-Type: " PB "\r\nContent-Length: %zu\r\n\r\n",
                len);
    buf_append(&in, req, len);
    buf_appendf(&in,
                "POST /v1/traces?x=1 HTTP/1.1\r\nContent-Type: " PB
                "\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n",
                gzlen);
    buf_append(&in, gz, gzlen);
    buf_append_str(&in, "\r\n0\r\n\r\nGET /v1/metrics HTTP/1.1\r\n\r\n");
    buf_appendf(
        &in, "POST /v1/traces HTTP/1.0\r\nContent-Type: " JSON "\r\nContent-Length: %zu\r\n\r\n%s",
        strlen(json_one), json_one);
    a = session_run(&ctx, in.data, in.len, in.len, &n1);
    b = session_run(&ctx, in.data, in.len, 1, &n2);
    ok(t, n1 == n2 && memcmp(a, b, n1) == 0, "byte-at-a-time feeding answers exactly the same");
    ok(t,
       a && strstr(a, "HTTP/1.1 404") && strstr(a, "Connection: close") &&
           memmem(a, n1, "HTTP/1.1 200", 12),
       "answers: 200, 200, 404, and a closing 200 for HTTP/1.0");
    is_int(t, spanbuf_spans(ctx.sb), 4 * 5 + 2 * 1, "spans from both runs buffered");
    is_int(t, ctx.body_in_use, 0, "body budget fully released");
    free(a);
    free(b);
    free(req);
    free(gz);
    buf_free(&in);
    spanbuf_free(ctx.sb);
}

/* rx_session_idle, which decides what the receiver may evict, through one request's life. */
static void test_session_idle(struct tap *t)
{
    static const char head[] = "POST /v1/traces HTTP/1.1\r\nContent-Type: " PB;
    struct rx_ctx ctx;
    struct rx_session s;
    struct buf rest;
    uint8_t *req;
    size_t len;
    size_t olen;
    bool idle[4];

    memset(&ctx, 0, sizeof(ctx));
    ctx.sb = spanbuf_new(1000, 1 << 20);
    ctx.max_request_bytes = MAX_REQ;
    ctx.body_budget = 4 * MAX_REQ;
    make_export("svc", "scope", "i", 1, &req, &len);
    buf_init(&rest, 1 << 20);
    buf_appendf(&rest, "\r\nContent-Length: %zu\r\n\r\n", len);
    rx_session_init(&s, &ctx);
    idle[0] = rx_session_idle(&s);
    rx_session_feed(&s, head, strlen(head));
    idle[1] = rx_session_idle(&s);
    rx_session_feed(&s, rest.data, rest.len);
    rx_session_feed(&s, (const char *)req, len - 1);
    idle[2] = rx_session_idle(&s);
    rx_session_feed(&s, (const char *)req + len - 1, 1);
    free(rx_session_take_output(&s, &olen));
    idle[3] = rx_session_idle(&s);
    ok(t, idle[0] && !idle[1] && !idle[2] && idle[3] && olen > 0,
       "session idle when new, busy with part of a head or a body, idle once answered");
    rx_session_free(&s);
    buf_free(&rest);
    free(req);
    spanbuf_free(ctx.sb);
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct rig g;
    struct receiver_stats st;

    signal(SIGPIPE, SIG_IGN);
    if (rig_start(&g, MAX_REQ, 100000, 64 << 20) < 0) {
        ok(&t, 0, "receiver starts on 127.0.0.1:0");
        return tap_done(&t);
    }
    ok(&t, g.port > 0, "receiver listens on 127.0.0.1:%d", g.port);
    test_protobuf(&t, &g);
    test_json(&t, &g);
    test_gzip_chunked(&t, &g);
    test_keepalive_pipelining(&t, &g);
    test_errors(&t, &g);
    test_method_and_framing(&t, &g);
    test_head_limit(&t, &g);
    test_too_large(&t, &g);
    test_bad_gzip(&t, &g);
    test_expect_continue(&t, &g);
    test_many_connections(&t, &g);
    test_slow_reader(&t, &g);
    test_bind(&t, &g);
    st = rig_stats(&g);
    ok(&t, st.requests > 1100 && st.bad_requests >= 20 && st.spans_rejected == 0,
       "stats: %lu requests, %lu bad, %lu spans accepted", st.requests, st.bad_requests,
       st.spans_accepted);
    is_int(&t, rig_stop(&g), 0, "receiver_free leaves the loop empty (uv_loop_close == 0)");
    test_partial_success(&t);
    test_session_bytewise(&t);
    test_session_idle(&t);
    return tap_done(&t);
}
