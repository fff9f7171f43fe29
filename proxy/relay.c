/* SPDX-License-Identifier: Apache-2.0 */
/* relay: the per-connection exchange state machine. The request parser's events forward the
 * request upstream; the response parser's events relay (or, for /next, buffer and rewrite) the
 * response downstream. Reports go to the hooks once the request is fully forwarded and the
 * upstream status is known. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy/internal.h"

#define RT_PREFIX    "/2018-06-01/runtime/"
#define INVOCATION   RT_PREFIX "invocation/"
#define ERR_TYPE_HDR "Lambda-Runtime-Function-Error-Type"
#define ERR_BODY_HDR "Lambda-Runtime-Function-Error-Body"

static bool hooks_on(const struct conn *c)
{
    return !c->p->closing;
}

/* ---- classification of the request ---- */

static bool path_is(const char *path, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(path, want, len) == 0;
}

/* Matches /2018-06-01/runtime/invocation/{id}/{suffix}; copies id into ex->rid. */
static bool invocation_path(struct exchange *ex, const char *path, size_t len, const char *suffix)
{
    size_t pre = strlen(INVOCATION);
    size_t suf = strlen(suffix);
    size_t idlen;

    if (len <= pre + suf || memcmp(path, INVOCATION, pre) != 0 ||
        memcmp(path + len - suf, suffix, suf) != 0)
        return false;
    idlen = len - pre - suf;
    if (idlen >= sizeof(ex->rid) || memchr(path + pre, '/', idlen))
        return false;
    memcpy(ex->rid, path + pre, idlen);
    ex->rid[idlen] = '\0';
    return true;
}

static enum req_kind classify(struct conn *c)
{
    const struct http1 *h = &c->req;
    const char *url = h->head.data + h->url_off;
    const char *q = memchr(url, '?', h->url_len);
    size_t len = q ? (size_t)(q - url) : h->url_len;
    unsigned method = h->parser.method;

    if (method == HTTP_GET && path_is(url, len, INVOCATION "next"))
        return REQ_NEXT;
    if (method == HTTP_GET && path_is(url, len, RT_PREFIX "restore/next"))
        return REQ_RESTORE_NEXT;
    if (method != HTTP_POST)
        return REQ_OTHER;
    if (path_is(url, len, RT_PREFIX "init/error"))
        return REQ_INIT_ERROR;
    if (invocation_path(&c->ex, url, len, "/response"))
        return REQ_RESPONSE;
    if (invocation_path(&c->ex, url, len, "/error"))
        return REQ_ERROR;
    return REQ_OTHER;
}

static void copy_capped(struct buf *b, const char *p, size_t n)
{
    size_t room = b->max - b->len;

    (void)buf_append(b, p, n < room ? n : room);
}

static void capture_request_headers(struct conn *c)
{
    size_t len = 0;
    const char *v = http1_header(&c->req, "Lambda-Runtime-Function-Response-Mode", &len);

    if (v && len == 9 && memcmp(v, "streaming", 9) == 0)
        c->ex.flags |= EX_F_STREAMING;
    v = http1_header(&c->req, ERR_TYPE_HDR, &len);
    if (v)
        copy_capped(&c->ex.err_type, v, len);
    if (c->ex.kind == REQ_RESPONSE && !(c->ex.flags & EX_F_STREAMING) &&
        c->p->hooks.wants_response_body && hooks_on(c) &&
        c->p->hooks.wants_response_body(c->p->hooks.arg, c->ex.rid))
        c->ex.flags |= EX_F_KEEP_BODY;
}

/* Keeps a /response body for the report, whole or not at all. */
static void keep_body(struct exchange *ex, const char *p, size_t n)
{
    if (ex->flags & EX_F_BODY_CUT)
        return;
    if (buf_append(&ex->resp_body, p, n) < 0) {
        ex->flags |= EX_F_BODY_CUT;
        buf_free(&ex->resp_body);
    }
}

/* ---- reports ---- */

static void report(struct conn *c)
{
    struct exchange *ex = &c->ex;
    const struct proxy_hooks *hk = &c->p->hooks;
    struct proxy_report r = {0};
    void (*fn)(void *, const struct proxy_report *) = NULL;

    ex->flags |= EX_F_REPORTED;
    if (ex->kind == REQ_RESPONSE)
        fn = hk->invocation_response;
    else if (ex->kind == REQ_ERROR)
        fn = hk->invocation_error;
    else if (ex->kind == REQ_INIT_ERROR)
        fn = hk->init_error;
    else if (ex->kind == REQ_RESTORE_NEXT)
        fn = hk->restored;
    if (!fn || !hooks_on(c))
        return;
    r.request_id = ex->rid;
    r.upstream_status = ex->status;
    r.streaming = (ex->flags & EX_F_STREAMING);
    r.error_type = ex->err_type.len ? ex->err_type.data : NULL;
    r.error_body = ex->err_body.len ? ex->err_body.data : NULL;
    r.error_body_len = ex->err_body.len;
    r.error_body_base64 = (ex->flags & EX_F_ERR_B64);
    if ((ex->flags & (EX_F_KEEP_BODY | EX_F_BODY_CUT)) == EX_F_KEEP_BODY) {
        r.response_body = ex->resp_body.data ? ex->resp_body.data : "";
        r.response_body_len = ex->resp_body.len;
    }
    fn(hk->arg, &r);
}

static void maybe_report(struct conn *c)
{
    struct exchange *ex = &c->ex;

    if (flags_are(ex->flags, EX_F_ACTIVE | EX_F_REQ_DONE | EX_F_RESP_HEAD, EX_F_REPORTED))
        report(c);
}

/* ---- exchange lifecycle ---- */

static void exchange_reset(struct conn *c)
{
    struct exchange *ex = &c->ex;

    buf_reset(&ex->err_type);
    buf_reset(&ex->err_body);
    if (ex->resp_body.cap > 64 * 1024)
        buf_free(&ex->resp_body); /* a large kept body is not held between invocations */
    else
        buf_reset(&ex->resp_body);
    ex->flags = 0;
    ex->kind = REQ_OTHER;
    ex->mode = RESP_NONE;
    ex->status = 0;
    ex->rid[0] = '\0';
}

static void exchange_end(struct conn *c)
{
    bool keep = (c->ex.flags & EX_F_REQ_KEEPALIVE) && !(c->flags & CONN_F_CLOSE_DRAINED);

    exchange_reset(c);
    if (!keep) {
        conn_close_when_drained(c);
        return;
    }
    http1_resume(&c->req);
}

static int send_canned(struct conn *c, int status, const char *reason, const char *body, bool close)
{
    struct buf b;
    char *data;
    size_t len;

    buf_init(&b, 1024);
    if (buf_appendf(&b,
                    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n%s\r\n%s",
                    status, reason, strlen(body), close ? "Connection: close\r\n" : "", body) < 0) {
        buf_free(&b);
        return -E2BIG;
    }
    data = buf_take(&b, &len);
    return side_write_take(&c->down, data, len, NULL, 0);
}

/* ---- request parser events ---- */

/* A request without a body: all of it is in its head. */
static bool bodyless(const struct http1 *h)
{
    return !(h->parser.flags & F_CHUNKED) &&
           (h->parser.content_length == 0 || h->parser.content_length == ULLONG_MAX);
}

void relay_forward(struct conn *c)
{
    struct exchange *ex = &c->ex;
    int rc;

    if (http1_has_held(&c->resp)) {
        /* Upstream sent bytes after its last response, unasked: they must not be taken for
         * the answer to this request. That connection goes; a fresh one serves the request. */
        log_warn(c->p->lg, "proxy", "upstream sent data nobody asked for; reconnecting");
        conn_up_detach(c);
        http1_reset(&c->resp);
    }
    http1_resume(&c->resp);
    flags_put(&c->resp.flags, H1_F_SKIP_BODY, ex->flags & EX_F_HEAD);
    rc = conn_up_ensure(c);
    if (rc == 0)
        rc = side_write(c->up, c->req.head.data, c->req.head.len);
    ex->flags |= EX_F_FORWARDED;
    if (rc < 0)
        relay_upstream_failed(c, rc);
}

static void req_head(void *owner)
{
    struct conn *c = owner;
    struct exchange *ex = &c->ex;

    exchange_reset(c);
    ex->flags |= EX_F_ACTIVE;
    ex->kind = classify(c);
    if (c->req.parser.method == HTTP_HEAD)
        ex->flags |= EX_F_HEAD;
    if (ex->kind == REQ_NEXT)
        c->p->stats.next_requests++;
    capture_request_headers(c);
    if (ex->kind == REQ_NEXT && orphan_serve(c, bodyless(&c->req)))
        return; /* answered by the proxy (orphan.c): no upstream /next for this one now */
    relay_forward(c);
}

static void req_raw(void *owner, const char *p, size_t n)
{
    struct conn *c = owner;
    int rc;

    if (!c->up || (c->flags & CONN_F_CLOSING) || (c->ex.flags & EX_F_LOCAL))
        return; /* upstream failed (the runtime has its 502), or nothing went upstream */
    rc = side_write(c->up, p, n);
    if (rc < 0)
        relay_upstream_failed(c, rc);
}

static void req_body(void *owner, const char *p, size_t n)
{
    struct conn *c = owner;

    if (c->ex.kind == REQ_ERROR || c->ex.kind == REQ_INIT_ERROR)
        copy_capped(&c->ex.err_body, p, n);
    else if (c->ex.flags & EX_F_KEEP_BODY)
        keep_body(&c->ex, p, n);
}

static void req_trailer(void *owner, const char *name, size_t nlen, const char *v, size_t vlen)
{
    struct conn *c = owner;
    struct exchange *ex = &c->ex;

    if (nlen == strlen(ERR_TYPE_HDR) && strncasecmp(name, ERR_TYPE_HDR, nlen) == 0) {
        buf_reset(&ex->err_type);
        copy_capped(&ex->err_type, v, vlen);
    } else if (nlen == strlen(ERR_BODY_HDR) && strncasecmp(name, ERR_BODY_HDR, nlen) == 0) {
        buf_reset(&ex->err_body);
        copy_capped(&ex->err_body, v, vlen);
        ex->flags |= EX_F_ERR_B64;
    }
}

static void req_done(void *owner)
{
    struct conn *c = owner;
    struct exchange *ex = &c->ex;

    ex->flags |= EX_F_REQ_DONE;
    if (http_should_keep_alive(&c->req.parser))
        ex->flags |= EX_F_REQ_KEEPALIVE;
    maybe_report(c);
    if (ex->flags & EX_F_RESP_DONE)
        exchange_end(c);
}

static void req_error(void *owner, enum http_errno err)
{
    struct conn *c = owner;
    bool overflow = err == HPE_HEADER_OVERFLOW;

    if (overflow)
        log_warn(c->p->lg, "proxy",
                 "request head larger than %zu bytes from the runtime: answered 431",
                 c->p->max_header_bytes);
    else
        log_warn(c->p->lg, "proxy", "bad request from runtime: %s", http_errno_name(err));
    if (c->ex.flags & (EX_F_RESP_STARTED | EX_F_FORWARDED)) {
        conn_close(c);
        return;
    }
    (void)send_canned(c, overflow ? 431 : 400,
                      overflow ? "Request Header Fields Too Large" : "Bad Request",
                      overflow ? "{\"errorMessage\":\"tracebridge: request head too large\","
                                 "\"errorType\":\"Runtime.ProxyRequestTooLarge\"}"
                               : "{\"errorMessage\":\"tracebridge: malformed request\","
                                 "\"errorType\":\"Runtime.ProxyBadRequest\"}",
                      true);
    conn_close_when_drained(c);
}

static const struct http1_ops req_ops = {
    .head = req_head,
    .raw = req_raw,
    .body = req_body,
    .trailer = req_trailer,
    .done = req_done,
    .error = req_error,
};

/* ---- response parser events ---- */

/* An orphan has no runtime to write to: what it would write is dropped (orphan.c decides). */
static void write_down(struct conn *c, const char *p, size_t n)
{
    if (c->flags & CONN_F_ORPHAN)
        return;
    c->ex.flags |= EX_F_RESP_STARTED;
    if (side_write(&c->down, p, n) < 0)
        conn_close(c);
}

static void write_down_take(struct conn *c, struct nb_out *o)
{
    if (c->flags & CONN_F_ORPHAN) {
        free(o->a);
        free(o->b);
        free(o->c);
        return;
    }
    c->ex.flags |= EX_F_RESP_STARTED;
    if (side_write_out(&c->down, o) < 0)
        conn_close(c);
}

static void resp_head(void *owner)
{
    struct conn *c = owner;
    struct exchange *ex = &c->ex;
    int status = c->resp.parser.status_code;

    if (!(ex->flags & EX_F_ACTIVE)) {
        relay_upstream_failed(c, UV_EPROTO); /* a response nobody asked for */
        return;
    }
    if (status >= 200) {
        ex->status = status;
        ex->flags |= EX_F_RESP_HEAD;
    }
    if (ex->kind == REQ_NEXT && status == 200 && !(ex->flags & EX_F_HEAD)) {
        ex->mode = RESP_NEXTBUF;
        nextbuf_adopt(&c->nb, &c->p->spare, &c->p->spare_cap,
                      (c->resp.parser.flags & F_CHUNKED) ? 0 : c->resp.parser.content_length);
        nextbuf_start(&c->nb, &c->resp);
    } else {
        ex->mode = RESP_RELAY;
        write_down(c, c->resp.head.data, c->resp.head.len);
    }
    maybe_report(c);
}

/* The event is too large to rewrite: the bytes so far go out as they came, the rest streams. */
static void next_oversize(struct conn *c)
{
    struct nb_out o;

    if (c->flags & CONN_F_ORPHAN) {
        orphan_oversize(c);
        return;
    }
    c->ex.mode = RESP_RELAY;
    c->p->stats.passthrough_oversize++;
    log_warn(c->p->lg, "proxy", "/next event larger than %zu bytes: relayed unchanged",
             c->p->max_event_bytes);
    if (nextbuf_flush(&c->nb, &o) < 0) {
        conn_close(c);
        return;
    }
    write_down_take(c, &o);
}

static void resp_raw(void *owner, const char *p, size_t n)
{
    struct conn *c = owner;

    if (c->flags & CONN_F_CLOSING)
        return; /* closed from an earlier callback of the same read */
    if (c->ex.mode == RESP_NEXTBUF) {
        if (nextbuf_raw(&c->nb, p, n) < 0)
            next_oversize(c);
        else
            return;
        /* next_oversize switched to relaying: these bytes were not buffered, send them. */
    }
    if (!(c->flags & CONN_F_CLOSING))
        write_down(c, p, n);
}

static void resp_body(void *owner, const char *p, size_t n)
{
    struct conn *c = owner;

    if (c->flags & CONN_F_CLOSING)
        return;
    /* For Content-Length bodies the raw bytes are the body; an overflow here happens before
     * resp_raw sees the same bytes, which are then relayed by resp_raw. */
    if (c->ex.mode == RESP_NEXTBUF && nextbuf_body(&c->nb, p, n) < 0)
        next_oversize(c);
}

int relay_deliver_next(struct conn *dst, struct conn *src)
{
    struct proxy *p = dst->p;
    struct nb_out o;
    char rid[REQUEST_ID_MAX];

    if (nextbuf_finish(&src->nb, &p->hooks, rid, sizeof(rid), &o) < 0) {
        conn_close(dst);
        return -1;
    }
    if (o.changed)
        p->stats.rewrites++;
    write_down_take(dst, &o);
    if (dst->flags & CONN_F_CLOSING)
        return -1;
    if (p->hooks.next_delivered && hooks_on(dst))
        p->hooks.next_delivered(p->hooks.arg, rid);
    return 0;
}

void relay_answered_locally(struct conn *dst, bool keepalive)
{
    struct exchange *ex = &dst->ex;

    ex->status = 200;
    ex->flags |= EX_F_RESP_HEAD;
    ex->flags |= EX_F_RESP_DONE;
    if (!keepalive)
        dst->flags |= CONN_F_CLOSE_DRAINED; /* the runtime was told Connection: close */
    if (ex->flags & EX_F_REQ_DONE)
        exchange_end(dst);
}

static void resp_done(void *owner)
{
    struct conn *c = owner;
    struct exchange *ex = &c->ex;

    if (c->flags & CONN_F_CLOSING)
        return;
    if (!(ex->flags & EX_F_RESP_HEAD)) { /* 1xx interim response: the final one follows */
        http1_resume(&c->resp);
        flags_put(&c->resp.flags, H1_F_SKIP_BODY, ex->flags & EX_F_HEAD);
        return;
    }
    if (c->flags & CONN_F_ORPHAN) {
        ex->flags |= EX_F_RESP_DONE;
        orphan_response_done(c);
        return;
    }
    if (ex->mode == RESP_NEXTBUF)
        (void)relay_deliver_next(c, c);
    if (c->flags & CONN_F_CLOSING)
        return;
    ex->flags |= EX_F_RESP_DONE;
    if (!http_should_keep_alive(&c->resp.parser)) {
        conn_up_detach(c);
        c->flags |= CONN_F_CLOSE_DRAINED; /* the runtime was told Connection: close */
    }
    if (ex->flags & EX_F_REQ_DONE)
        exchange_end(c);
}

static void resp_error(void *owner, enum http_errno err)
{
    struct conn *c = owner;

    log_warn(c->p->lg, "proxy", "bad response from upstream: %s", http_errno_name(err));
    relay_upstream_failed(c, UV_EPROTO);
}

static const struct http1_ops resp_ops = {
    .head = resp_head,
    .raw = resp_raw,
    .body = resp_body,
    .done = resp_done,
    .error = resp_error,
};

/* ---- failures and closes ---- */

static void send_502(struct conn *c, int err)
{
    struct buf body;

    buf_init(&body, 512);
    (void)buf_appendf(&body,
                      "{\"errorMessage\":\"tracebridge: upstream Runtime API unreachable (%s)\","
                      "\"errorType\":\"Runtime.ProxyUpstreamError\"}",
                      uv_err_name(err));
    if (send_canned(c, 502, "Bad Gateway", body.data ? body.data : "{}",
                    !(c->ex.flags & EX_F_REQ_DONE)) < 0)
        conn_close(c);
    buf_free(&body);
}

void relay_upstream_failed(struct conn *c, int err)
{
    struct proxy *p = c->p;
    struct exchange *ex = &c->ex;

    if (c->flags & CONN_F_ORPHAN) {
        orphan_upstream_gone(c);
        return;
    }
    conn_up_detach(c);
    http1_reset(&c->resp); /* whatever the dead connection sent is dropped */
    if (!(ex->flags & EX_F_ACTIVE) || (ex->flags & EX_F_LOCAL))
        return; /* an idle upstream connection: the next request opens a new one */
    p->stats.upstream_failures++;
    if (!p->upstream_down)
        log_warn(p->lg, "proxy", "upstream Runtime API failed: %s", uv_strerror(err));
    p->upstream_down = true;
    if (ex->flags & EX_F_RESP_STARTED) {
        conn_close(c);
        return;
    }
    ex->status = 0;
    ex->flags |= EX_F_RESP_HEAD; /* the request is answered (by us) */
    maybe_report(c);
    send_502(c, err);
    if (c->flags & CONN_F_CLOSING)
        return;
    ex->flags |= EX_F_RESP_DONE;
    if (ex->flags & EX_F_REQ_DONE) {
        exchange_end(c);
    } else {
        http1_stop(&c->req);
        conn_close_when_drained(c);
    }
}

void relay_upstream_eof(struct conn *c)
{
    struct exchange *ex = &c->ex;

    if (flags_are(ex->flags, EX_F_ACTIVE | EX_F_RESP_HEAD, EX_F_RESP_DONE))
        http1_eof(&c->resp); /* completes a read-until-close body */
    if (c->flags & (CONN_F_CLOSING | CONN_F_HELD))
        return;
    if ((ex->flags & EX_F_ACTIVE) && !(ex->flags & EX_F_RESP_DONE)) {
        relay_upstream_failed(c, UV_ECONNRESET);
        return;
    }
    conn_up_detach(c);
    http1_reset(&c->resp);
}

void relay_downstream_eof(struct conn *c)
{
    const struct exchange *ex = &c->ex;

    if (c->flags & CONN_F_ORPHAN)
        return; /* its runtime side is closed already */
    if (ex->flags & EX_F_PARKED) {
        conn_close(c); /* nothing of it went upstream */
        return;
    }
    /* A /next whose answer has not begun to reach the runtime: nobody waits for it any more. */
    if (ex->kind == REQ_NEXT && c->up &&
        flags_are(ex->flags, EX_F_ACTIVE | EX_F_REQ_DONE, EX_F_RESP_STARTED | EX_F_LOCAL)) {
        orphan_begin(c);
        return;
    }
    if ((c->ex.flags & EX_F_ACTIVE) && (c->ex.flags & EX_F_REQ_DONE) &&
        !(c->ex.flags & EX_F_RESP_DONE)) {
        c->flags |= CONN_F_CLOSE_DRAINED; /* still relay the response, then close */
        return;
    }
    conn_close(c);
}

void relay_conn_closing(struct conn *c)
{
    struct exchange *ex = &c->ex;

    http1_stop(&c->req);
    http1_stop(&c->resp);
    if (flags_are(ex->flags, EX_F_ACTIVE | EX_F_REQ_DONE, EX_F_REPORTED)) {
        ex->status = 0;
        report(c);
    }
}

char *relay_read_target(struct conn *c, size_t *len)
{
    const struct http1 *h = &c->resp;

    /* Only while the parser consumes bytes as they come (not holding them) and is inside a
     * Content-Length body: the read is then capped at the body's remaining bytes. */
    if (c->ex.mode != RESP_NEXTBUF || (c->ex.flags & EX_F_RESP_DONE) ||
        !flags_are(h->flags, H1_F_IN_BODY, H1_F_BLOCKED | H1_F_STOPPED) ||
        (h->parser.flags & F_CHUNKED))
        return NULL;
    return nextbuf_read_target(&c->nb, (size_t)h->parser.content_length, len);
}

void relay_init(struct conn *c)
{
    size_t head_max = c->p->max_header_bytes + 64 * 1024;

    http1_init(&c->req, HTTP_REQUEST, head_max, &req_ops, c);
    http1_init(&c->resp, HTTP_RESPONSE, head_max, &resp_ops, c);
    nextbuf_init(&c->nb, c->p->max_event_bytes);
    c->nb.keep_bytes = c->p->keep_buffer_bytes;
    buf_init(&c->ex.err_type, 256);
    buf_init(&c->ex.err_body, PROXY_ERROR_BODY_MAX);
    buf_init(&c->ex.resp_body, PROXY_RESPONSE_BODY_MAX);
}

void relay_free(struct conn *c)
{
    http1_free(&c->req);
    http1_free(&c->resp);
    nextbuf_free(&c->nb);
    buf_free(&c->ex.err_type);
    buf_free(&c->ex.err_body);
    buf_free(&c->ex.resp_body);
}
