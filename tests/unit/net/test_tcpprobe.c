/* SPDX-License-Identifier: Apache-2.0 */
/* tcpprobe: the start-up check of the upstream Runtime API: listening, refused (retried until
 * the budget), a listener that comes up late (a chained proxy starting in parallel), a peer that
 * never completes the handshake (timeout), cancel. Also hostport, the address parser under it. */
#include "extension/net/net.h"

#include <netinet/in.h>
#include <pthread.h>

#include "tests/lib/tap.h"
#include "tests/lib/test_server.h"

struct run {
    int status;
    int calls;
    uint64_t took;
};

static void on_done(void *arg, int status)
{
    struct run *r = arg;

    r->status = status;
    r->calls++;
}

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static struct run probe(int port, uint64_t budget)
{
    uv_loop_t loop;
    struct sockaddr_storage a;
    char hp[32];
    struct run r = {.status = 1};
    uint64_t t0 = now_ms();

    snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
    hostport_parse(hp, &a);
    uv_loop_init(&loop);
    tcpprobe_start(&loop, &a, budget, on_done, &r);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    r.took = now_ms() - t0;
    return r;
}

struct late {
    int port;
    int fd;
    int after_ms;
};

static void *listen_late(void *arg)
{
    struct late *l = arg;

    usleep((useconds_t)l->after_ms * 1000);
    l->fd = test_listen(l->port);
    return NULL;
}

static void test_probe(struct tap *t)
{
    int lfd = test_listen(0);
    int dead = test_free_port();
    struct run r = probe(test_sock_port(lfd), 1000);
    struct late l = {.port = test_free_port(), .fd = -1, .after_ms = 200};
    pthread_t th;

    ok(t, r.status == 0 && r.calls == 1 && r.took < 500, "listening: reachable at once (%llu ms)",
       (unsigned long long)r.took);
    close(lfd);
    r = probe(dead, 300);
    ok(t, r.status == UV_ECONNREFUSED && r.calls == 1, "nobody listening: refused (%s)",
       uv_err_name(r.status));
    ok(t, r.took >= 250 && r.took < 800, "refused: tried again until the budget (%llu ms)",
       (unsigned long long)r.took);
    pthread_create(&th, NULL, listen_late, &l);
    r = probe(l.port, 1000);
    pthread_join(th, NULL);
    ok(t, r.status == 0 && r.took >= 150, "a listener that comes up 200 ms late is found (%llu ms)",
       (unsigned long long)r.took);
    if (l.fd >= 0)
        close(l.fd);
}

/* A listener that never accepts, its queue full: further handshakes never complete. */
static void test_timeout(struct tap *t)
{
    int lfd = test_listen(0);
    int port = test_sock_port(lfd);
    int fill[8];
    int n = 0;
    struct run r;

    listen(lfd, 0);
    for (int i = 0; i < 8; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        (void)connect(fd, (struct sockaddr *)&a, sizeof(a));
        fill[n++] = fd;
    }
    usleep(50000);
    r = probe(port, 400);
    ok(t, r.status == UV_ETIMEDOUT || r.status == 0, "full accept queue: %s after %llu ms",
       uv_err_name(r.status), (unsigned long long)r.took);
    ok(t, r.status != UV_ETIMEDOUT || (r.took >= 350 && r.took < 1000),
       "a handshake that never completes ends at the budget");
    for (int i = 0; i < n; i++)
        close(fill[i]);
    close(lfd);
}

static void test_cancel(struct tap *t)
{
    uv_loop_t loop;
    struct sockaddr_storage a;
    char hp[32];
    struct run r = {.status = 1};
    struct tcpprobe *p;

    snprintf(hp, sizeof(hp), "127.0.0.1:%d", test_free_port());
    hostport_parse(hp, &a);
    uv_loop_init(&loop);
    p = tcpprobe_start(&loop, &a, 5000, on_done, &r);
    uv_run(&loop, UV_RUN_NOWAIT);
    tcpprobe_cancel(p);
    uv_run(&loop, UV_RUN_DEFAULT);
    ok(t, r.calls == 0 && uv_loop_close(&loop) == 0, "cancel: no callback, every handle closed");
}

static void test_hostport(struct tap *t)
{
    struct sockaddr_storage a;

    ok(t, hostport_parse("127.0.0.1:9001", &a) == 0 && hostport_port(&a) == 9001, "IPv4 literal");
    ok(t, hostport_parse("localhost:9011", &a) == 0 && hostport_is_local_port(&a, 9011),
       "localhost is 127.0.0.1");
    ok(t,
       hostport_parse("[::1]:80", &a) == 0 && a.ss_family == AF_INET6 &&
           hostport_is_local_port(&a, 80),
       "[::1]");
    ok(t, hostport_parse("0.0.0.0:9011", &a) == 0 && hostport_is_local_port(&a, 9011),
       "0.0.0.0 reaches local listeners");
    ok(t, hostport_parse("10.0.0.1:9011", &a) == 0 && !hostport_is_local_port(&a, 9011),
       "another host is not local");
    ok(t, hostport_parse("127.0.0.2:9011", &a) == 0 && !hostport_is_local_port(&a, 9012),
       "another port is not");
    ok(t,
       hostport_parse("example.com:80", &a) < 0 && hostport_parse("127.0.0.1", &a) < 0 &&
           hostport_parse("127.0.0.1:70000", &a) < 0 && hostport_parse("127.0.0.1:x", &a) < 0 &&
           hostport_parse(":80", &a) < 0 && hostport_parse(NULL, &a) < 0,
       "names (no DNS), missing or bad ports are rejected");
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_hostport(&t);
    test_probe(&t);
    test_timeout(&t);
    test_cancel(&t);
    return tap_done(&t);
}
