/* loopback: listening sockets that only the sandbox can reach. The proxy and the OTLP
 * receiver take loopback literals only (127.0.0.0/8 or ::1; no name, so no DNS on the loop)
 * and report the port they got, which tests need when they ask for port 0. */
#ifndef TB_LOOPBACK_H
#define TB_LOOPBACK_H

#include <sys/socket.h>
#include <uv.h>

/* Fills out with the IPv4 or IPv6 literal host and port. 0, -EADDRNOTAVAIL for an address
 * that is not loopback, -EINVAL for anything that is not an address literal. */
int loopback_addr(const char *host, int port, struct sockaddr_storage *out);

/* Binds the initialised listener to addr, listens (backlog 128) with cb, and sets *port to the
 * port it got. 0 or a libuv error. */
int loopback_listen(uv_tcp_t *listener, const struct sockaddr_storage *addr, uv_connection_cb cb,
                    int *port);

#endif
