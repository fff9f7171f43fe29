/* SPDX-License-Identifier: Apache-2.0 */
/* lean_upstream: a minimal Runtime-API-like server for the proxy benchmark, run as its own
 * process. It behaves like the real API where latency is concerned: keep-alive, TCP_NODELAY,
 * the /next head and body in one writev(), a blocking thread per connection (no event-loop hop).
 *   lean_upstream [--port N]     prints "READY <port>" once listening; SIGTERM stops it.
 * Routes:
 *   GET  /2018-06-01/runtime/invocation/next        the current event (SQS batch, see below)
 *   POST /2018-06-01/runtime/invocation/ID/response 202 {"status":"OK"} (also /error)
 *   PUT  /bench/size/N      makes the current event an SQS batch of exactly N bytes (N >= 1024)
 *   GET  /bench/event       the current event body, for byte checks
 *   POST /2020-01-01/extension/register     200 with an extension id (Extensions API)
 *   GET  /2020-01-01/extension/event/next   never answered: no INVOKE or SHUTDOWN comes, so
 *                                           a real tracebridge binary only proxies
 *   POST /v1/traces         200 (an OTLP sink that drops what it gets)
 * The event is an SQS ESM batch whose records carry a W3C traceparent in messageAttributes and
 * an AWSTraceHeader, so the promote path has real work to do. */
#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "extension/base/base.h"

#define LEAN_TRACE_ID  "4bf92f3577b34da6a3ce929d0e0e4736"
#define LEAN_SPAN_ID   "00f067aa0ba902b7"
#define LEAN_MAX_EVENT (8u * 1024 * 1024)
#define LEAN_RECORD    7000 /* bytes per SQS record, like the 1 MB batch of perf-anchors.md */

struct event {
    struct event *next;
    char *body;
    size_t len;
};

struct lean {
    int lfd;
    pthread_mutex_t mu;
    struct event *events; /* every event made so far; freed at exit (threads may still send) */
    struct event *cur;
    unsigned long seq;
};

struct lconn {
    struct lean *l;
    int fd;
    http_parser p;
    char url[256];
    size_t url_len;
    bool done;
};

/* ---- the SQS batch ---- */

static int append_record(struct buf *b, unsigned i, size_t pad)
{
    static const char fill[] = "lorem ipsum dolor sit amet ";
    int rc = buf_appendf(
        b,
        "%s{\"messageId\":\"059f36b4-87a3-44ab-83d2-%012u\",\"receiptHandle\":\"AQEBwJnKyrHigUMZj6r"
        "YigCgxlaS3SLy0a\",\"body\":\"{\\\"orderId\\\":%u,\\\"customer\\\":\\\"c-42\\\","
        "\\\"note\\\":\\\"",
        i ? "," : "", i, i);

    for (size_t k = 0; rc == 0 && k < pad; k++)
        rc = buf_append_byte(b, fill[k % (sizeof(fill) - 1)]);
    if (rc == 0)
        rc = buf_appendf(
            b,
            "\\\"}\",\"attributes\":{\"ApproximateReceiveCount\":\"1\",\"AWSTraceHeader\":"
            "\"Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=%s;Sampled=1\",\"SentTimestamp\":"
            "\"1700000000000\",\"SenderId\":\"AIDAIENQZJOLO23YVJ4VO\","
            "\"ApproximateFirstReceiveTimestamp\":\"1700000000001\"},\"messageAttributes\":{"
            "\"traceparent\":{\"stringValue\":\"00-%s-%s-01\",\"stringListValues\":[],"
            "\"binaryListValues\":[],\"dataType\":\"String\"}},\"md5OfBody\":"
            "\"e4e68fb7bd0e697a0ae8f1bb342846b3\",\"eventSource\":\"aws:sqs\",\"eventSourceARN\":"
            "\"arn:aws:sqs:us-east-1:123456789012:bench-queue\",\"awsRegion\":\"us-east-1\"}",
            LEAN_SPAN_ID, LEAN_TRACE_ID, LEAN_SPAN_ID);
    return rc;
}

/* Builds a batch of exactly `size` bytes: records of ~LEAN_RECORD bytes, the padding spread
 * over their message bodies. Returns 0 or -errno (size below one empty record: -EINVAL). */
static int make_batch(size_t size, struct buf *out)
{
    struct buf probe;
    size_t nrec = size / LEAN_RECORD ? size / LEAN_RECORD : 1;
    size_t base;
    size_t pad;
    int rc = 0;

    buf_init(&probe, LEAN_MAX_EVENT);
    for (unsigned i = 0; rc == 0 && i < nrec; i++)
        rc = append_record(&probe, i, 0);
    base = probe.len + strlen("{\"Records\":[]}");
    buf_free(&probe);
    if (rc < 0 || base > size)
        return rc < 0 ? rc : -EINVAL;
    pad = size - base;
    buf_init(out, LEAN_MAX_EVENT);
    rc = buf_append_str(out, "{\"Records\":[");
    for (unsigned i = 0; rc == 0 && i < nrec; i++)
        rc = append_record(out, i, pad / nrec + (i == 0 ? pad % nrec : 0));
    if (rc == 0)
        rc = buf_append_str(out, "]}");
    if (rc == 0 && out->len != size)
        rc = -EPROTO;
    if (rc < 0)
        buf_free(out);
    return rc;
}

/* Makes (or finds) the event of `size` bytes and makes it current. 0 or -errno. */
static int select_event(struct lean *l, size_t size)
{
    struct event *e;
    struct buf b;
    int rc = 0;

    pthread_mutex_lock(&l->mu);
    for (e = l->events; e && e->len != size; e = e->next)
        ;
    if (!e && (rc = make_batch(size, &b)) == 0) {
        e = calloc(1, sizeof(*e));
        if (!e) {
            buf_free(&b);
            rc = -ENOMEM;
        } else {
            e->body = buf_take(&b, &e->len);
            e->next = l->events;
            l->events = e;
        }
    }
    if (e)
        l->cur = e;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

/* ---- sockets ---- */

static int send_iov(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static int send_simple(int fd, int status, const char *reason, const char *body, size_t blen)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     status, reason, blen);
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, blen}};

    return send_iov(fd, iov, blen ? 2 : 1);
}

static int send_next(struct lconn *c)
{
    struct lean *l = c->l;
    struct event *e;
    unsigned long seq;
    char head[1024];
    int n;

    pthread_mutex_lock(&l->mu);
    e = l->cur;
    seq = ++l->seq;
    pthread_mutex_unlock(&l->mu);
    if (!e)
        return send_simple(c->fd, 500, "Internal Server Error", "{}", 2);
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 "Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-%012lu\r\n"
                 "Lambda-Runtime-Deadline-Ms: 1700000030000\r\n"
                 "Lambda-Runtime-Invoked-Function-Arn: "
                 "arn:aws:lambda:us-east-1:123456789012:function:bench\r\n"
                 "Lambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;"
                 "Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0\r\n"
                 "Date: Thu, 23 Nov 2026 10:00:00 GMT\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 seq, e->len);
    struct iovec iov[2] = {{head, (size_t)n}, {e->body, e->len}};
    return send_iov(c->fd, iov, 2);
}

static int send_register(int fd)
{
    static const char body[] = "{\"functionName\":\"bench\",\"functionVersion\":\"$LATEST\","
                               "\"handler\":\"index.handler\"}";
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Lambda-Extension-Identifier: bench-ext-0001\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     sizeof(body) - 1);
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, sizeof(body) - 1}};

    return send_iov(fd, iov, 2);
}

/* The Extensions API and the OTLP sink a real tracebridge binary talks to. 1 when u is not
 * theirs. */
static int respond_extension(struct lconn *c, unsigned m, const char *u)
{
    if (m == HTTP_POST && strcmp(u, "/2020-01-01/extension/register") == 0)
        return send_register(c->fd);
    if (m == HTTP_GET && strcmp(u, "/2020-01-01/extension/event/next") == 0)
        return 0; /* held forever: the extension waits, as between invocations */
    if (m == HTTP_POST && strcmp(u, "/v1/traces") == 0)
        return send_simple(c->fd, 200, "OK", "{}", 2);
    return 1;
}

static int respond(struct lconn *c)
{
    static const char ok[] = "{\"status\":\"OK\"}\n";
    const char *u = c->url;
    unsigned m = c->p.method;
    int rc = respond_extension(c, m, u);

    if (rc <= 0)
        return rc;
    if (m == HTTP_GET && strcmp(u, "/2018-06-01/runtime/invocation/next") == 0)
        return send_next(c);
    if (m == HTTP_POST && strncmp(u, "/2018-06-01/runtime/invocation/", 31) == 0)
        return send_simple(c->fd, 202, "Accepted", ok, sizeof(ok) - 1);
    if (m == HTTP_PUT && strncmp(u, "/bench/size/", 12) == 0) {
        size_t size = (size_t)strtoull(u + 12, NULL, 10);

        if (size > LEAN_MAX_EVENT || select_event(c->l, size) < 0)
            return send_simple(c->fd, 400, "Bad Request", "{}", 2);
        return send_simple(c->fd, 200, "OK", "{}", 2);
    }
    if (m == HTTP_GET && strcmp(u, "/bench/event") == 0) {
        struct event *e;

        pthread_mutex_lock(&c->l->mu);
        e = c->l->cur;
        pthread_mutex_unlock(&c->l->mu);
        return e ? send_simple(c->fd, 200, "OK", e->body, e->len)
                 : send_simple(c->fd, 404, "", "", 0);
    }
    return send_simple(c->fd, 404, "Not Found", "{}", 2);
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct lconn *c = p->data;

    if (c->url_len + n >= sizeof(c->url))
        return 1;
    memcpy(c->url + c->url_len, at, n);
    c->url_len += n;
    c->url[c->url_len] = '\0';
    return 0;
}

static int on_done(http_parser *p)
{
    ((struct lconn *)p->data)->done = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings lean_settings = {.on_url = on_url,
                                                   .on_message_complete = on_done};

/* Parses what arrived and answers every complete request. -1 closes the connection. */
static int consume(struct lconn *c, const char *data, size_t n)
{
    while (n > 0) {
        size_t k = http_parser_execute(&c->p, &lean_settings, data, n);
        enum http_errno err = HTTP_PARSER_ERRNO(&c->p);

        data += k;
        n -= k;
        if (err == HPE_PAUSED)
            http_parser_pause(&c->p, 0);
        else if (err != HPE_OK)
            return -1;
        if (c->done) {
            if (respond(c) < 0)
                return -1;
            c->done = false;
            c->url_len = 0;
        }
    }
    return 0;
}

static void *conn_main(void *arg)
{
    struct lconn *c = arg;
    char *tmp = malloc(256 * 1024);
    ssize_t n;

    http_parser_init(&c->p, HTTP_REQUEST);
    c->p.data = c;
    while (tmp && (n = recv(c->fd, tmp, 256 * 1024, 0)) > 0)
        if (consume(c, tmp, (size_t)n) < 0)
            break;
    free(tmp);
    close(c->fd);
    free(c);
    return NULL;
}

static int listen_loopback(int port, int *out_port)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        close(fd);
        return -1;
    }
    *out_port = ntohs(a.sin_port);
    return fd;
}

int main(int argc, char **argv)
{
    struct lean l = {0};
    int port = 0;
    int one = 1;
    int fd;

    if (argc == 3 && strcmp(argv[1], "--port") == 0)
        port = (int)strtol(argv[2], NULL, 10);
    else if (argc != 1)
        return fprintf(stderr, "usage: lean_upstream [--port N]\n"), 2;
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&l.mu, NULL);
    l.lfd = listen_loopback(port, &port);
    if (l.lfd < 0 || select_event(&l, 1024) < 0)
        return perror("lean_upstream"), 1;
    printf("READY %d\n", port);
    fflush(stdout);
    while ((fd = accept(l.lfd, NULL, NULL)) >= 0) {
        struct lconn *c = calloc(1, sizeof(*c));
        pthread_t t;

        if (!c) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->l = &l;
        c->fd = fd;
        if (pthread_create(&t, NULL, conn_main, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
    return 0;
}
