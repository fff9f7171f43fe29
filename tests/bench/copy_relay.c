/* SPDX-License-Identifier: Apache-2.0 */
/* copy_relay: the copy floor of the proxy benchmark. The least any proxy must do: one extra
 * loopback hop, every byte read into user space and written out again, nothing parsed. One
 * thread, poll(), each accepted connection paired with its own upstream connection, reads of up
 * to 1 MiB written on at once (blocking writes: the benchmark's peers always read).
 *   copy_relay --upstream HOST:PORT    prints "READY <port>" once listening; SIGTERM stops it */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_PAIRS 16
#define RELAY_BUF   (1024 * 1024)

struct relay {
    int lfd;
    struct sockaddr_in up;
    int fd[2 * RELAY_PAIRS]; /* [2i] downstream, [2i+1] its upstream; -1 when free */
    char *buf;
};

static int tcp_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;

    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int listen_any(int *port)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void close_pair(struct relay *r, int i)
{
    close(r->fd[i & ~1]);
    close(r->fd[i | 1]);
    r->fd[i & ~1] = -1;
    r->fd[i | 1] = -1;
}

static void accept_one(struct relay *r)
{
    int d = accept(r->lfd, NULL, NULL);
    int u;
    int one = 1;
    int i;

    if (d < 0)
        return;
    setsockopt(d, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (i = 0; i < 2 * RELAY_PAIRS && r->fd[i] >= 0; i += 2)
        ;
    u = i < 2 * RELAY_PAIRS ? tcp_socket() : -1;
    if (u < 0 || connect(u, (struct sockaddr *)&r->up, sizeof(r->up)) < 0) {
        if (u >= 0)
            close(u);
        close(d);
        return;
    }
    r->fd[i] = d;
    r->fd[i + 1] = u;
}

/* Moves what fd i has to its peer; closes the pair at EOF or on an error. */
static void pump(struct relay *r, int i)
{
    ssize_t n = read(r->fd[i], r->buf, RELAY_BUF);

    if (n < 0 && errno == EINTR)
        return;
    if (n <= 0 || write_all(r->fd[i ^ 1], r->buf, (size_t)n) < 0)
        close_pair(r, i);
}

static void serve(struct relay *r)
{
    struct pollfd pf[2 * RELAY_PAIRS + 1];
    int idx[2 * RELAY_PAIRS];
    int n;
    int k;

    for (;;) {
        n = 0;
        for (k = 0; k < 2 * RELAY_PAIRS; k++)
            if (r->fd[k] >= 0) {
                idx[n] = k;
                pf[n++] = (struct pollfd){.fd = r->fd[k], .events = POLLIN};
            }
        pf[n] = (struct pollfd){.fd = r->lfd, .events = POLLIN};
        if (poll(pf, (nfds_t)n + 1, -1) < 0 && errno != EINTR)
            return;
        for (k = 0; k < n; k++)
            if ((pf[k].revents & (POLLIN | POLLHUP | POLLERR)) && r->fd[idx[k]] >= 0)
                pump(r, idx[k]);
        if (pf[n].revents & POLLIN)
            accept_one(r);
    }
}

int main(int argc, char **argv)
{
    struct relay r = {0};
    char host[64] = "";
    int uport = 0;
    int port = 0;
    int k;

    if (argc != 3 || strcmp(argv[1], "--upstream") != 0 ||
        sscanf(argv[2], "%63[^:]:%d", host, &uport) != 2)
        return fprintf(stderr, "usage: copy_relay --upstream HOST:PORT\n"), 2;
    signal(SIGPIPE, SIG_IGN);
    r.up.sin_family = AF_INET;
    r.up.sin_port = htons((uint16_t)uport);
    r.buf = malloc(RELAY_BUF);
    r.lfd = listen_any(&port);
    if (inet_pton(AF_INET, host, &r.up.sin_addr) != 1 || !r.buf || r.lfd < 0)
        return perror("copy_relay"), 1;
    for (k = 0; k < 2 * RELAY_PAIRS; k++)
        r.fd[k] = -1;
    printf("READY %d\n", port);
    fflush(stdout);
    serve(&r);
    free(r.buf);
    return 0;
}
