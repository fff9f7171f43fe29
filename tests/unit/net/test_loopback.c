/* SPDX-License-Identifier: Apache-2.0 */
/* loopback: which addresses are accepted as loopback literals, and listening on one (the port
 * reported for port 0 is the one connected to; a taken port is refused). */
#include "extension/net/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

#include "tests/lib/tap.h"

static int addr_rc(const char *host)
{
    struct sockaddr_storage a;

    return loopback_addr(host, 80, &a);
}

static void test_addr(struct tap *t)
{
    struct sockaddr_storage a;

    is_int(t, addr_rc("127.0.0.1"), 0, "127.0.0.1 is loopback");
    is_int(t, addr_rc("127.9.8.7"), 0, "all of 127/8 is loopback");
    is_int(t, addr_rc("::1"), 0, "::1 is loopback");
    is_int(t, addr_rc("10.0.0.1"), -EADDRNOTAVAIL, "10.0.0.1 is not");
    is_int(t, addr_rc("0.0.0.0"), -EADDRNOTAVAIL, "0.0.0.0 (every interface) is not");
    is_int(t, addr_rc("::"), -EADDRNOTAVAIL, ":: (every interface) is not");
    is_int(t, addr_rc("128.0.0.1"), -EADDRNOTAVAIL, "128.0.0.1 is not");
    is_int(t, addr_rc("localhost"), -EINVAL, "a name is not a literal (no DNS)");
    is_int(t, addr_rc("127.0.0.1:80"), -EINVAL, "host:port is not a literal");
    loopback_addr("127.0.0.1", 4318, &a);
    ok(t, a.ss_family == AF_INET && ntohs(((struct sockaddr_in *)&a)->sin_port) == 4318,
       "the port is set");
}

static void on_conn(uv_stream_t *server, int status)
{
    (void)server;
    (void)status;
}

static void test_listen(struct tap *t)
{
    uv_loop_t loop;
    uv_tcp_t l1, l2;
    struct sockaddr_storage a;
    struct sockaddr_in peer = {.sin_family = AF_INET};
    int port = 0, port2 = -1;
    int fd;

    uv_loop_init(&loop);
    uv_tcp_init(&loop, &l1);
    uv_tcp_init(&loop, &l2);
    loopback_addr("127.0.0.1", 0, &a);
    is_int(t, loopback_listen(&l1, &a, on_conn, &port), 0, "listen on port 0");
    ok(t, port > 0, "the port it got is reported (%d)", port);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    peer.sin_port = htons((uint16_t)port);
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    is_int(t, connect(fd, (struct sockaddr *)&peer, sizeof(peer)), 0,
           "a client connects to that port");
    close(fd);
    loopback_addr("127.0.0.1", port, &a);
    is_int(t, loopback_listen(&l2, &a, on_conn, &port2), UV_EADDRINUSE,
           "a port already listened on: UV_EADDRINUSE");
    is_int(t, port2, -1, "no port reported on failure");
    uv_close((uv_handle_t *)&l1, NULL);
    uv_close((uv_handle_t *)&l2, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    is_int(t, uv_loop_close(&loop), 0, "every handle closed");
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_addr(&t);
    test_listen(&t);
    return tap_done(&t);
}
