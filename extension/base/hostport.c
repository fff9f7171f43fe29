/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/base/base.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static int set_v4(const char *host, int port, struct sockaddr_storage *out)
{
    struct sockaddr_in *a = (struct sockaddr_in *)out;

    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return -EINVAL;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    return 0;
}

static int set_v6(const char *host, int port, struct sockaddr_storage *out)
{
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;

    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
        return -EINVAL;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    return 0;
}

int hostport_parse(const char *s, struct sockaddr_storage *out)
{
    char host[64];
    const char *colon = s ? strrchr(s, ':') : NULL;
    size_t hlen;
    char *end;
    long port;

    if (!colon)
        return -EINVAL;
    hlen = (size_t)(colon - s);
    if (hlen > 1 && s[0] == '[' && s[hlen - 1] == ']') {
        s++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return -EINVAL;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
        return -EINVAL;
    if (strcmp(host, "localhost") == 0)
        memcpy(host, "127.0.0.1", 10);
    memset(out, 0, sizeof(*out));
    return strchr(host, ':') ? set_v6(host, (int)port, out) : set_v4(host, (int)port, out);
}

int hostport_port(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)a)->sin_port);
    if (a->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
    return -1;
}

bool hostport_is_local_port(const struct sockaddr_storage *a, int port)
{
    if (hostport_port(a) != port)
        return false;
    if (a->ss_family == AF_INET) {
        uint32_t ip = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
        return (ip >> 24) == 127 || ip == 0;
    }
    if (a->ss_family == AF_INET6) {
        const struct in6_addr *ip = &((const struct sockaddr_in6 *)a)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(ip) || IN6_IS_ADDR_UNSPECIFIED(ip);
    }
    return false;
}
