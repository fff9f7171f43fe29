/* SPDX-License-Identifier: Apache-2.0 */
/* test_server.h: the threaded loopback HTTP/1.1 server under the unit tests' fake peers
 * (fake_http.h: Extensions, Runtime and OTLP APIs; proxy_harness.h: the proxy's upstream), and
 * the blocking socket helpers the test clients share.
 * Blocking sockets and one thread per connection, so a fake may sleep or block (long-poll) on
 * one connection without stopping the others. Each connection parses requests with the fake's
 * http-parser settings; once one is complete, the fake answers it. Included by tests only. */
#ifndef TB_TEST_SERVER_H
#define TB_TEST_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TEST_SERVER_MAX_CONNS 256

struct test_server;

/* The first member of a fake's own connection struct (its parser callbacks cast p->data). */
struct test_conn {
    struct test_server *srv;
    int fd;
    http_parser parser; /* parser.data is this connection */
    bool message_done;
};

struct test_server_ops {
    const http_parser_settings *settings; /* on_message_complete = test_server_message_done */
    size_t conn_size;                     /* of the fake's connection struct */
    void (*conn_open)(struct test_conn *c);
    /* Optional: the bytes the parser has just taken (a fake that records raw requests). */
    void (*parsed)(struct test_conn *c, const char *p, size_t n);
    /* A request is complete: answer it and get ready for the next. false drops the connection. */
    bool (*answer)(struct test_conn *c);
    void (*conn_close)(struct test_conn *c); /* frees what conn_open made */
};

struct test_server {
    const struct test_server_ops *ops;
    void *arg; /* the fake's own state, for its callbacks */
    int lfd;
    int port;
    pthread_t accept_thr;
    pthread_mutex_t mu; /* guards the connection table and stop */
    int fds[TEST_SERVER_MAX_CONNS];
    pthread_t thr[TEST_SERVER_MAX_CONNS];
    int nconns;
    bool stop;
};

/* Sends all n bytes (again after a signal). 0, or -errno (-EIO when nothing was taken). */
static __attribute__((unused)) int test_send_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static __attribute__((unused)) int test_sock_port(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    getsockname(fd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

/* A listening socket on 127.0.0.1:port (0: any free port), or -1. */
static __attribute__((unused)) int test_listen(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The low end of the kernel's ephemeral port range (bind(0) and connect() pick from it). */
static __attribute__((unused)) int test_ephemeral_low(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    int lo = 32768;

    if (f) {
        if (fscanf(f, "%d", &lo) != 1)
            lo = 32768;
        fclose(f);
    }
    return lo;
}

/* A loopback port that was free a moment ago (for a server the test starts later, or for
 * nothing to listen on). Taken below the ephemeral range: a port from bind(0) may be the next
 * outgoing connection's local port, and while that connection lives a later listen on it fails. */
static __attribute__((unused)) int test_free_port(void)
{
    struct timespec ts;
    int high = test_ephemeral_low();
    int lo = high - 12000 < 1024 ? 1024 : high - 12000;
    int fd = -1;
    int port;
    unsigned seed;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    seed = (unsigned)ts.tv_nsec ^ ((unsigned)getpid() << 16);
    for (int i = 0; fd < 0 && high > lo && i < 64; i++)
        fd = test_listen(lo + (int)(rand_r(&seed) % (unsigned)(high - lo)));
    if (fd < 0)
        fd = test_listen(0);
    port = test_sock_port(fd);
    close(fd);
    return port;
}

/* The on_message_complete of every fake: pauses the parser so the request is answered before
 * the bytes of the next (pipelined) one are parsed. */
static __attribute__((unused)) int test_server_message_done(http_parser *p)
{
    ((struct test_conn *)p->data)->message_done = true;
    http_parser_pause(p, 1);
    return 0;
}

/* Feeds n received bytes to the parser, answering each request completed. false: drop. */
static bool test_conn_feed(struct test_conn *c, const char *d, size_t n)
{
    const struct test_server_ops *ops = c->srv->ops;
    size_t off = 0;

    while (off < n) {
        size_t k = http_parser_execute(&c->parser, ops->settings, d + off, n - off);
        if (ops->parsed)
            ops->parsed(c, d + off, k);
        off += k;
        if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED)
            http_parser_pause(&c->parser, 0);
        else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK)
            return false;
        if (c->message_done) {
            c->message_done = false;
            if (!ops->answer(c))
                return false;
        }
    }
    return true;
}

static void *test_conn_main(void *arg)
{
    struct test_conn *c = arg;
    char tmp[65536];
    ssize_t n;

    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->srv->ops->conn_open(c);
    while ((n = recv(c->fd, tmp, sizeof(tmp), 0)) > 0 && test_conn_feed(c, tmp, (size_t)n))
        ;
    shutdown(c->fd, SHUT_RDWR);
    c->srv->ops->conn_close(c);
    free(c);
    return NULL;
}

static void *test_accept_main(void *arg)
{
    struct test_server *s = arg;
    int one = 1;
    int fd;

    while ((fd = accept(s->lfd, NULL, NULL)) >= 0) {
        struct test_conn *c;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_mutex_lock(&s->mu);
        if (s->stop || s->nconns == TEST_SERVER_MAX_CONNS) {
            pthread_mutex_unlock(&s->mu);
            close(fd);
            continue;
        }
        c = calloc(1, s->ops->conn_size);
        c->srv = s;
        c->fd = fd;
        s->fds[s->nconns] = fd;
        pthread_create(&s->thr[s->nconns++], NULL, test_conn_main, c);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* Listens on 127.0.0.1:port (0: any; s->port tells which) and starts accepting. 0 or -1. */
static __attribute__((unused)) int test_server_start(struct test_server *s, int port,
                                                     const struct test_server_ops *ops, void *arg)
{
    s->ops = ops;
    s->arg = arg;
    s->nconns = 0;
    s->stop = false;
    s->lfd = test_listen(port);
    if (s->lfd < 0)
        return -1;
    s->port = test_sock_port(s->lfd);
    pthread_mutex_init(&s->mu, NULL);
    pthread_create(&s->accept_thr, NULL, test_accept_main, s);
    return 0;
}

/* Stops accepting, shuts every connection down and joins the threads. Handlers blocked in a
 * long-poll must be released by the test first. */
static __attribute__((unused)) void test_server_stop(struct test_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    for (int i = 0; i < s->nconns; i++)
        shutdown(s->fds[i], SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
    shutdown(s->lfd, SHUT_RDWR);
    close(s->lfd);
    pthread_join(s->accept_thr, NULL);
    for (int i = 0; i < s->nconns; i++) {
        pthread_join(s->thr[i], NULL);
        close(s->fds[i]);
    }
    pthread_mutex_destroy(&s->mu);
}

#endif
