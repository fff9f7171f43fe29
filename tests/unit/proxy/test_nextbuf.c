/* SPDX-License-Identifier: Apache-2.0 */
/* nextbuf: a /next response the hook leaves alone goes out byte for byte; one it changes goes
 * out with the original status line and headers, set headers replaced or added, framing
 * headers dropped, a fresh Content-Length and the new body; chunked input is re-framed; an
 * event past the limit is refused for buffering. A spliced body goes out as segments of the
 * original buffer and the inserted bytes, which together are the edited body; bad splices are
 * refused and leave the body as it was. */
#include "proxy/nextbuf.c"

#include <stdlib.h>

#include "tests/lib/tap.h"

struct rig {
    struct http1 h;
    struct nextbuf nb;
    int done;
};

static void r_head(void *o)
{
    struct rig *r = o;

    nextbuf_start(&r->nb, &r->h);
}
static void r_raw(void *o, const char *p, size_t n)
{
    nextbuf_raw(&((struct rig *)o)->nb, p, n);
}
static void r_body(void *o, const char *p, size_t n)
{
    nextbuf_body(&((struct rig *)o)->nb, p, n);
}
static void r_done(void *o)
{
    ((struct rig *)o)->done = 1;
}
static const struct http1_ops ops = {r_head, r_raw, r_body, NULL, r_done, NULL};

static void leave(void *arg, struct proxy_next *ev)
{
    (void)arg;
    (void)ev;
}

static void change(void *arg, struct proxy_next *ev)
{
    struct buf b;

    (void)arg;
    buf_init(&b, 1024);
    buf_append_str(&b, "{\"x\":2}");
    proxy_next_set_body(ev, &b);
    proxy_next_set_header(ev, "Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000001",
                          40);
    proxy_next_set_header(ev, "X-New", "v", 1);
}

/* What splice hooks did: the return codes of their calls. */
struct sres {
    int rc[4];
};

/* {"hello": 1 } -> {"t":1,"hello": 2} (an insert, a replace, a delete). */
static void splice3(void *arg, struct proxy_next *ev)
{
    static const struct proxy_splice sp[] = {
        {1, 0, "\"t\":1,", 6}, {10, 1, "2", 1}, {11, 1, NULL, 0}};
    struct sres *r = arg;

    r->rc[0] = proxy_next_splice_body(ev, sp, 3);
}

/* Bad splice lists are refused, and leave the body as it was (here: spliced by the first). */
static void splice_bad(void *arg, struct proxy_next *ev)
{
    static const struct proxy_splice first[] = {{1, 0, "\"b\":0,", 6}};
    static const struct proxy_splice unsorted[] = {{5, 0, "x", 1}, {2, 0, "y", 1}};
    static const struct proxy_splice overlap[] = {{1, 3, NULL, 0}, {2, 0, "y", 1}};
    const struct proxy_splice past[] = {{ev->body_len, 1, NULL, 0}};
    struct sres *r = arg;

    r->rc[0] = proxy_next_splice_body(ev, first, 1);
    r->rc[1] = proxy_next_splice_body(ev, unsorted, 2);
    r->rc[2] = proxy_next_splice_body(ev, overlap, 2);
    r->rc[3] = proxy_next_splice_body(ev, past, 1);
}

/* A set body after splices wins, and splices after a set body win. */
static void splice_then_set(void *arg, struct proxy_next *ev)
{
    static const struct proxy_splice sp[] = {{0, 1, "[", 1}};

    (void)arg;
    (void)proxy_next_splice_body(ev, sp, 1);
    change(arg, ev);
}
static void set_then_splice(void *arg, struct proxy_next *ev)
{
    change(arg, ev);
    splice3(arg, ev);
}

/* The body bytes of out: b, or the segments in order. */
static size_t out_body(const struct nb_out *out, char *to)
{
    size_t n = 0;

    if (out->nseg == 0) {
        memcpy(to, out->b, out->blen);
        return out->blen;
    }
    for (unsigned i = 0; i < out->nseg; i++) {
        memcpy(to + n, out->seg[i].p, out->seg[i].len);
        n += out->seg[i].len;
    }
    return n;
}

/* Feeds a response, finishes it with the hook, returns the output bytes (malloc'd). */
static char *run_arg(const char *resp, void (*hook)(void *, struct proxy_next *), void *arg,
                     char *rid, size_t max)
{
    struct rig r = {0};
    struct proxy_hooks hooks = {0};
    struct nb_out out = {0};
    char *s = NULL;

    hooks.next_event = hook;
    hooks.arg = arg;
    http1_init(&r.h, HTTP_RESPONSE, 8192, &ops, &r);
    nextbuf_init(&r.nb, max);
    http1_feed(&r.h, resp, strlen(resp));
    if (r.done && nextbuf_finish(&r.nb, &hooks, rid, 64, &out) == 0) {
        s = malloc(out.alen + out.blen + 1024);
        memcpy(s, out.a, out.alen);
        s[out.alen + out_body(&out, s + out.alen)] = '\0';
    }
    free(out.a != out.b ? out.b : NULL);
    free(out.a);
    free(out.c);
    nextbuf_free(&r.nb);
    http1_free(&r.h);
    return s;
}

static char *run(const char *resp, void (*hook)(void *, struct proxy_next *), char *rid, size_t max)
{
    return run_arg(resp, hook, NULL, rid, max);
}

static void test_splices(struct tap *t, const char *cl, const char *ch)
{
    struct sres r = {{1, 1, 1, 1}};
    char rid[64] = "";
    char *o;

    o = run_arg(cl, splice3, &r, rid, 1 << 20);
    is_int(t, r.rc[0], 0, "splices: accepted");
    ok(t, o && strcmp(strstr(o, "\r\n\r\n") + 4, "{\"t\":1,\"hello\": 2}") == 0,
       "splices: insert, replace and delete applied around the original bytes");
    ok(t, o && strstr(o, "Content-Length: 18\r\n") && !strstr(o, "Content-Length: 13"),
       "splices: a fresh Content-Length for the spliced length");
    ok(t, o && strstr(o, "Lambda-Runtime-Trace-Id: Root=1-5759e988"), "splices: headers kept");
    free(o);

    o = run_arg(ch, splice_bad, &r, rid, 1 << 20);
    ok(t, r.rc[0] == 0 && r.rc[1] == -EINVAL && r.rc[2] == -EINVAL && r.rc[3] == -EINVAL,
       "splices: unsorted, overlapping and out-of-range lists are refused");
    ok(t,
       o && !strstr(o, "Transfer-Encoding") && strstr(o, "Content-Length: 13\r\n") &&
           strcmp(strstr(o, "\r\n\r\n") + 4, "{\"b\":0,\"a\":1}") == 0,
       "splices: a chunked event is spliced and re-framed; refused lists changed nothing");
    free(o);

    o = run(cl, splice_then_set, rid, 1 << 20);
    ok(t, o && strcmp(strstr(o, "\r\n\r\n") + 4, "{\"x\":2}") == 0, "a set body replaces splices");
    free(o);
    o = run_arg(cl, set_then_splice, &r, rid, 1 << 20);
    ok(t, o && strcmp(strstr(o, "\r\n\r\n") + 4, "{\"t\":1,\"hello\": 2}") == 0,
       "splices replace a set body");
    free(o);
}

int main(void)
{
    struct tap t = TAP_INIT;
    char rid[64] = "";
    static const char cl[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Lambda-Runtime-Aws-Request-Id: r-1\r\n"
        "Lambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0\r\n"
        "Content-Length: 13\r\n\r\n{\"hello\": 1 }";
    static const char ch[] =
        "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-2\r\n"
        "Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
    char *o;

    o = run(cl, leave, rid, 1 << 20);
    ok(&t, o && strcmp(o, cl) == 0, "unchanged: the original bytes, byte for byte");
    is_str(&t, rid, "r-1", "the request id is reported");
    free(o);

    o = run(cl, change, rid, 1 << 20);
    ok(&t, o && strncmp(o, "HTTP/1.1 200 OK\r\n", 17) == 0, "changed: the original status line");
    ok(&t, o && strstr(o, "Content-Type: application/json\r\n"), "other headers kept");
    ok(&t,
       o && strstr(o, "Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000001\r\n") &&
           !strstr(o, "5759e988"),
       "a set header replaces the original");
    ok(&t, o && strstr(o, "X-New: v\r\n"), "a new header is added");
    ok(&t, o && strstr(o, "Content-Length: 7\r\n") && !strstr(o, "Content-Length: 13"),
       "a fresh Content-Length, the old one dropped");
    ok(&t, o && strcmp(strstr(o, "\r\n\r\n") + 4, "{\"x\":2}") == 0, "the new body");
    free(o);

    o = run(ch, change, rid, 1 << 20);
    ok(&t, o && !strstr(o, "Transfer-Encoding") && strstr(o, "Content-Length: 7\r\n"),
       "chunked input is re-framed with Content-Length");
    is_str(&t, rid, "r-2", "the request id of the chunked response");
    free(o);

    o = run(ch, leave, rid, 1 << 20);
    ok(&t, o && strcmp(o, ch) == 0, "unchanged chunked: the original bytes, chunk framing kept");
    free(o);
    test_splices(&t, cl, ch);

    {
        struct rig r = {0};
        http1_init(&r.h, HTTP_RESPONSE, 8192, &ops, &r);
        nextbuf_init(&r.nb, 8);
        http1_feed(&r.h, cl, strlen(cl) - 13);
        is_int(&t, nextbuf_body(&r.nb, "{\"hello\": 1 }", 13), -E2BIG,
               "an event past the limit is refused");
        nextbuf_free(&r.nb);
        http1_free(&r.h);
    }
    return tap_done(&t);
}
