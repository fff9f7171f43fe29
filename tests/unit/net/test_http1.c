/* SPDX-License-Identifier: Apache-2.0 */
/* http1: the raw-byte wrapper around http-parser. Heads are indexed, every byte after the head
 * reaches ops->raw unchanged, chunked bodies are decoded, trailers reported, pipelined messages
 * held until resume, an oversize head is an error; the same whether the bytes come at once or
 * one at a time. */
#include "extension/net/http1.c"

#include "tests/lib/tap.h"

struct rec {
    struct http1 h;
    int heads, dones, errors;
    char host[64];
    struct buf raw, body, trailers;
};

static void t_head(void *o)
{
    struct rec *r = o;
    size_t n;
    const char *v = http1_header(&r->h, "host", &n);

    r->heads++;
    snprintf(r->host, sizeof(r->host), "%.*s", v ? (int)n : 0, v ? v : "");
}
static void t_raw(void *o, const char *p, size_t n)
{
    buf_append(&((struct rec *)o)->raw, p, n);
}
static void t_body(void *o, const char *p, size_t n)
{
    buf_append(&((struct rec *)o)->body, p, n);
}
static void t_trailer(void *o, const char *k, size_t kl, const char *v, size_t vl)
{
    struct rec *r = o;

    buf_appendf(&r->trailers, "%.*s=%.*s;", (int)kl, k, (int)vl, v);
}
static void t_done(void *o)
{
    ((struct rec *)o)->dones++;
}
static void t_error(void *o, enum http_errno e)
{
    (void)e;
    ((struct rec *)o)->errors++;
}
static const struct http1_ops ops = {t_head, t_raw, t_body, t_trailer, t_done, t_error};

static void rec_init(struct rec *r, enum http_parser_type type, size_t max_head)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->raw, 1 << 20);
    buf_init(&r->body, 1 << 20);
    buf_init(&r->trailers, 1 << 16);
    http1_init(&r->h, type, max_head, &ops, r);
}
static void rec_free(struct rec *r)
{
    http1_free(&r->h);
    buf_free(&r->raw);
    buf_free(&r->body);
    buf_free(&r->trailers);
}

static const char CHUNKED[] = "POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\n"
                              "Host: 127.0.0.1:9001\r\nTransfer-Encoding: chunked\r\n"
                              "Trailer: Lambda-Runtime-Function-Error-Type\r\n\r\n"
                              "5\r\nhello\r\n6\r\n world\r\n0\r\n"
                              "Lambda-Runtime-Function-Error-Type: Runtime.Boom\r\n\r\n";

static void check_chunked(struct tap *t, size_t step)
{
    struct rec r;
    const char *after = strstr(CHUNKED, "\r\n\r\n") + 4;

    rec_init(&r, HTTP_REQUEST, 8192);
    for (size_t i = 0; i < sizeof(CHUNKED) - 1; i += step)
        http1_feed(&r.h, CHUNKED + i,
                   i + step <= sizeof(CHUNKED) - 1 ? step : sizeof(CHUNKED) - 1 - i);
    is_int(t, r.heads, 1, "step %zu: one head", step);
    is_str(t, r.host, "127.0.0.1:9001", "step %zu: header lookup is case-insensitive", step);
    is_int(t, r.dones, 1, "step %zu: one complete message", step);
    ok(t, r.raw.len == strlen(after) && memcmp(r.raw.data, after, r.raw.len) == 0,
       "step %zu: every byte after the head reaches raw unchanged", step);
    is_str(t, r.body.data, "hello world", "step %zu: the chunked body is decoded", step);
    is_str(t, r.trailers.data, "Lambda-Runtime-Function-Error-Type=Runtime.Boom;",
           "step %zu: the trailer is reported", step);
    is_int(t, r.errors, 0, "step %zu: no error", step);
    rec_free(&r);
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct rec r;
    static const char two[] =
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: y\r\n\r\n";
    char big[4096];

    check_chunked(&t, sizeof(CHUNKED));
    check_chunked(&t, 1);
    check_chunked(&t, 7);

    rec_init(&r, HTTP_REQUEST, 8192);
    http1_feed(&r.h, two, sizeof(two) - 1);
    ok(&t, r.dones == 1 && http1_has_held(&r.h), "pipelined: the second message is held");
    is_str(&t, r.host, "x", "pipelined: the first head is the one indexed");
    http1_resume(&r.h);
    ok(&t, r.dones == 2 && !http1_has_held(&r.h), "resume parses the held message");
    is_str(&t, r.host, "y", "and its head is indexed");
    rec_free(&r);

    rec_init(&r, HTTP_REQUEST, 256);
    memset(big, 'a', sizeof(big));
    http1_feed(&r.h, "GET / HTTP/1.1\r\nX-Big: ", 23);
    http1_feed(&r.h, big, sizeof(big));
    ok(&t, r.errors == 1 && r.heads == 0, "a head past max_head is an error, no head event");
    http1_feed(&r.h, "\r\n\r\n", 4);
    is_int(&t, r.errors, 1, "nothing more happens after the error");
    rec_free(&r);

    rec_init(&r, HTTP_REQUEST, 8192);
    http1_feed(&r.h, "GET / HTTP/1.1\r\nHost x\r\n\r\n", 26);
    is_int(&t, r.errors, 1, "a header line without a colon is a parse error");
    rec_free(&r);
    return tap_done(&t);
}
