/* SPDX-License-Identifier: Apache-2.0 */
/* httpc: libcurl multi socket interface driven by libuv, after curl's docs/examples/multi-uv.c:
 * CURLMOPT_SOCKETFUNCTION maps to uv_poll start/stop per socket, CURLMOPT_TIMERFUNCTION to one
 * uv_timer, and finished transfers are collected with curl_multi_info_read after each action. */
#include "extension/net/net.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEADERS_MAX (64 * 1024)

struct httpc {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    const struct log *lg;
    struct tb_list reqs;  /* requests in flight (httpc_req.link) */
    struct tb_list socks; /* every poll handle not yet closed (sock_ctx.link) */
    size_t active;
    int open_handles; /* timer + poll handles still to be closed */
    bool freeing;
};

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct httpc *h;
    struct tb_list link;
    bool closing;
};

struct httpc_req {
    struct httpc *h;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *resolve;
    char *body; /* POST body, owned */
    size_t body_len;
    struct buf resp;
    struct buf hdrs; /* response header lines of the last response */
    bool too_big;
    httpc_done_fn cb;
    void *arg;
    struct tb_list link;
    char errbuf[CURL_ERROR_SIZE];
};

static void maybe_release(struct httpc *h)
{
    if (h->freeing && h->open_handles == 0)
        free(h);
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct httpc *h = handle->data;

    h->open_handles--;
    maybe_release(h);
}

static void on_sock_closed(uv_handle_t *handle)
{
    struct sock_ctx *s = handle->data;
    struct httpc *h = s->h;

    free(s);
    h->open_handles--;
    maybe_release(h);
}

static void sock_close(struct sock_ctx *s)
{
    if (s->closing)
        return;
    s->closing = true;
    tb_list_remove(&s->link);
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* ---- requests ---- */

static void req_unlink(struct httpc_req *r)
{
    tb_list_remove(&r->link);
    r->h->active--;
}

/* Frees a request that was never added to the multi handle. */
static void req_discard(struct httpc_req *r)
{
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    curl_slist_free_all(r->resolve);
    free(r->body);
    buf_free(&r->resp);
    buf_free(&r->hdrs);
    free(r);
}

static void req_free(struct httpc_req *r)
{
    curl_multi_remove_handle(r->h->multi, r->easy);
    req_discard(r);
}

static int map_curl_error(CURLcode c, bool too_big)
{
    switch (c) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -EHOSTUNREACH;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return -EPROTO;
    case CURLE_WRITE_ERROR:
        return too_big ? -E2BIG : -EIO;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return -ECONNRESET;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    default:
        return -EIO;
    }
}

static void req_finish(struct httpc_req *r, CURLcode code)
{
    struct httpc_result res;
    long connects = 0;

    memset(&res, 0, sizeof(res));
    res.err = map_curl_error(code, r->too_big);
    if (res.err == 0)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
    if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
        res.reused = connects == 0;
    res.body = r->resp.data ? r->resp.data : "";
    res.body_len = r->resp.len;
    res.error = res.err ? (r->errbuf[0] ? r->errbuf : curl_easy_strerror(code)) : NULL;
    res.req = r;
    req_unlink(r);
    r->cb(r->arg, &res);
    req_free(r);
}

static void drain_done(struct httpc *h)
{
    CURLMsg *msg;
    int pending;

    while ((msg = curl_multi_info_read(h->multi, &pending)) != NULL) {
        struct httpc_req *r = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r)
            req_finish(r, msg->data.result);
    }
}

/* ---- libuv <-> libcurl glue ---- */

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock_ctx *s = p->data;
    struct httpc *h = s->h;
    int flags = 0;
    int running;

    /* On a poll error let curl look at the socket; it will see the error itself. */
    if (status < 0)
        flags = CURL_CSELECT_IN | CURL_CSELECT_OUT;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(h->multi, s->fd, flags, &running);
    drain_done(h);
}

static void on_timer(uv_timer_t *t)
{
    struct httpc *h = t->data;
    int running;

    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain_done(h);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct httpc *h = userp;

    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static struct sock_ctx *sock_new(struct httpc *h, curl_socket_t fd)
{
    struct sock_ctx *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    if (uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
        free(s);
        return NULL;
    }
    s->fd = fd;
    s->h = h;
    s->poll.data = s;
    tb_list_insert_head(&h->socks, &s->link);
    h->open_handles++;
    return s;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct httpc *h = userp;
    struct sock_ctx *s = socketp;
    int events = 0;

    (void)easy;
    if (h->freeing && what != CURL_POLL_REMOVE)
        return 0;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            if (!h->freeing)
                curl_multi_assign(h->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (!s) {
        s = sock_new(h, fd);
        if (!s)
            return -1; /* curl fails the transfer */
        curl_multi_assign(h->multi, fd, s);
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

struct httpc *httpc_new(uv_loop_t *loop, const struct log *lg, int *err)
{
    struct httpc *h = calloc(1, sizeof(*h));

    if (!h) {
        *err = -ENOMEM;
        return NULL;
    }
    h->multi = curl_multi_init();
    if (!h->multi) {
        free(h);
        *err = -ENOMEM;
        return NULL;
    }
    h->loop = loop;
    tb_list_init(&h->reqs);
    tb_list_init(&h->socks);
    h->lg = lg;
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->open_handles = 1;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    *err = 0;
    return h;
}

void httpc_free(struct httpc *h)
{
    if (!h)
        return;
    while (!tb_list_empty(&h->reqs)) {
        struct httpc_req *r = tb_list_entry(h->reqs.next, struct httpc_req, link);
        req_unlink(r);
        req_free(r);
    }
    h->freeing = true;
    /* Cleanup may still report sockets removed (cached connections); those close below. */
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
    while (!tb_list_empty(&h->socks))
        sock_close(tb_list_entry(h->socks.next, struct sock_ctx, link));
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, on_handle_closed);
}

void httpc_cancel(struct httpc_req *r)
{
    if (!r)
        return;
    req_unlink(r);
    req_free(r);
}

size_t httpc_active(const struct httpc *h)
{
    return h->active;
}

/* ---- per-request setup ---- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct httpc_req *r = arg;

    if (buf_append(&r->resp, p, size * n) < 0) {
        r->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct httpc_req *r = arg;

    /* A new status line starts a new response (after 100 Continue): keep only the last. */
    if (n * size >= 5 && memcmp(p, "HTTP/", 5) == 0)
        buf_reset(&r->hdrs);
    (void)buf_append(&r->hdrs, p, size * n); /* overlong header blocks are cut, not fatal */
    return size * n;
}

const char *httpc_header(const struct httpc_req *r, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    const char *p = r->hdrs.data;
    const char *end = p ? p + r->hdrs.len : NULL;

    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;

        if ((size_t)(line_end - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            while (line_end > v && (line_end[-1] == '\r' || line_end[-1] == ' '))
                line_end--;
            *len = (size_t)(line_end - v);
            return v;
        }
        p = eol ? eol + 1 : end;
    }
    return NULL;
}

/* Host part of a URL and its port, via libcurl's own parser so the answer matches what curl
 * will connect to. */
int httpc_url_host_port(const char *url, char *host, size_t hcap, long *port)
{
    CURLU *u = curl_url();
    char *h = NULL;
    char *p = NULL;
    int rc = -EINVAL;

    if (!u)
        return -ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK && strlen(h) < hcap) {
        memcpy(host, h, strlen(h) + 1);
        *port = strtol(p, NULL, 10);
        rc = 0;
    }
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}

static bool host_is_loopback(const char *host)
{
    return strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

bool httpc_url_is_loopback(const char *url)
{
    char host[256];
    long port;

    return httpc_url_host_port(url, host, sizeof(host), &port) == 0 && host_is_loopback(host);
}

/* Loopback never goes through a proxy (HTTP_PROXY is for the outside world) and "localhost" is
 * pinned so that no resolver runs for it. */
static int setup_loopback(struct httpc_req *r, const char *url)
{
    char host[256];
    char pin[300];
    long port;

    if (httpc_url_host_port(url, host, sizeof(host), &port) < 0 || !host_is_loopback(host))
        return 0;
    curl_easy_setopt(r->easy, CURLOPT_PROXY, "");
    if (strcasecmp(host, "localhost") == 0) {
        snprintf(pin, sizeof(pin), "%s:%ld:127.0.0.1", host, port);
        r->resolve = curl_slist_append(NULL, pin);
        if (!r->resolve)
            return -ENOMEM;
        curl_easy_setopt(r->easy, CURLOPT_RESOLVE, r->resolve);
    }
    return 0;
}

static int setup_headers(struct httpc_req *r, const char *const *headers)
{
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");

    for (size_t i = 0; l && headers && headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(l, headers[i]);
        if (!n) {
            curl_slist_free_all(l);
            return -ENOMEM;
        }
        l = n;
    }
    if (!l)
        return -ENOMEM;
    r->headers = l;
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, l);
    return 0;
}

static void setup_common(struct httpc_req *r, const struct httpc_opts *o)
{
    CURL *e = r->easy;

    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    if (o->connect_timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (o->ca_file && o->ca_file[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
}

static int setup_method(struct httpc_req *r, const struct httpc_opts *o)
{
    if (strcmp(o->method, "GET") == 0)
        return 0;
    if (strcmp(o->method, "POST") != 0 && strcmp(o->method, "PUT") != 0)
        return -EINVAL;
    if (o->body)
        r->body = buf_take(o->body, &r->body_len);
    curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
    if (o->method[1] == 'U') /* PUT with the body as POSTFIELDS (the Telemetry API) */
        curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    return 0;
}

static struct httpc_req *req_new(struct httpc *h, const struct httpc_opts *o)
{
    struct httpc_req *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->easy = curl_easy_init();
    if (!r->easy) {
        free(r);
        return NULL;
    }
    r->h = h;
    buf_init(&r->resp, o->max_response_bytes ? o->max_response_bytes : 1024 * 1024);
    buf_init(&r->hdrs, HEADERS_MAX);
    return r;
}

struct httpc_req *httpc_start(struct httpc *h, const struct httpc_opts *o, httpc_done_fn cb,
                              void *arg, int *err)
{
    struct httpc_req *r = req_new(h, o);
    int rc;

    if (!r) {
        *err = -ENOMEM;
        return NULL;
    }
    setup_common(r, o);
    rc = setup_method(r, o);
    if (rc == 0)
        rc = setup_headers(r, o->headers);
    if (rc == 0)
        rc = setup_loopback(r, o->url);
    if (rc == 0 && curl_multi_add_handle(h->multi, r->easy) != CURLM_OK)
        rc = -ENOMEM;
    if (rc < 0) {
        req_discard(r);
        *err = rc;
        return NULL;
    }
    r->cb = cb;
    r->arg = arg;
    tb_list_insert_head(&h->reqs, &r->link);
    h->active++;
    *err = 0;
    return r;
}
