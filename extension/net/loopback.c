/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/net/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

int loopback_addr(const char *host, int port, struct sockaddr_storage *out)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;

    memset(out, 0, sizeof(*out));
    if (uv_ip4_addr(host, port, in4) == 0)
        return (ntohl(in4->sin_addr.s_addr) >> 24) == 127 ? 0 : -EADDRNOTAVAIL;
    if (uv_ip6_addr(host, port, in6) == 0)
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ? 0 : -EADDRNOTAVAIL;
    return -EINVAL;
}

int loopback_listen(uv_tcp_t *listener, const struct sockaddr_storage *addr, uv_connection_cb cb,
                    int *port)
{
    struct sockaddr_storage got;
    int len = sizeof(got);
    int rc;

    rc = uv_tcp_bind(listener, (const struct sockaddr *)addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)listener, 128, cb);
    if (rc == 0)
        rc = uv_tcp_getsockname(listener, (struct sockaddr *)&got, &len);
    if (rc < 0)
        return rc;
    *port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                            : ((struct sockaddr_in *)&got)->sin_port);
    return 0;
}
