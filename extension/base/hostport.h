/* hostport: "host:port" of the Runtime API (or of a proxy to chain behind), parsed without DNS:
 * the address is always a literal (IPv4, [IPv6]) or "localhost" (taken as 127.0.0.1), and a
 * blocking resolve on the loop is not allowed. */
#ifndef TB_HOSTPORT_H
#define TB_HOSTPORT_H

#include <stdbool.h>
#include <sys/socket.h>

/* Fills out with the address. 0 or -EINVAL. Port 0 is accepted (a listener may ask for it). */
int hostport_parse(const char *s, struct sockaddr_storage *out);

/* The port of a parsed address. */
int hostport_port(const struct sockaddr_storage *a);

/* Whether connecting to a reaches this host's own sockets bound to port: a loopback address
 * (127.0.0.0/8, ::1) or the unspecified one (0.0.0.0, ::) on that port. */
bool hostport_is_local_port(const struct sockaddr_storage *a, int port);

#endif
