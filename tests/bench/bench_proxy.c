/* SPDX-License-Identifier: Apache-2.0 */
/* bench_proxy: per-invoke round trip direct to a Runtime-API-like upstream vs through the proxy,
 * with upstream, proxies and this client in SEPARATE processes (perf-anchors.md):
 *   lean_upstream            the upstream (build/bench/lean_upstream)
 *   proxyd                   identity hook (bytes relayed unchanged)
 *   proxyd --promote         the real promote engine rewriting every event
 * One invoke is what the AWS runtime clients do: GET /next on one keep-alive connection, read
 * the whole body, POST ~50 B of JSON to /response on a second one, read the 202. Variants are
 * interleaved in rounds (order rotated each round) after a warm-up, samples pooled, and p50/p99
 * and the difference to direct printed from the same run. Every response is checked (length
 * always, bytes on warm-up). Children inherit this process's CPU affinity, so
 * `taskset -c 0 bench_proxy` pins all of them.
 *   bench_proxy [ROUNDS [SIZE...]]      (default 20 rounds; all four sizes) */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSG   (16u * 1024 * 1024)
#define SPAN_HEX  "1a2b3c4d5e6f7081" /* the span id proxyd --promote writes */
#define NEXT_PATH "/2018-06-01/runtime/invocation/next"

enum { V_DIRECT, V_IDENTITY, V_PROMOTE, NV };
static const char *const vname[NV] = {"direct", "proxy, identity hook", "proxy, promote hook"};

struct child {
    pid_t pid;
    int port;
};

struct hconn {
    int fd;
    char *buf;
    size_t cap;
    size_t have; /* bytes in buf */
    size_t head; /* head length of the message in buf */
    size_t body; /* its body length */
    int status;
    char rid[128];
};

struct variant {
    struct hconn next;
    struct hconn post;
    double *lat;
    size_t n;
};

struct size_plan {
    size_t size;
    int per_round;
    int warmup;
};

/* ---- child processes ---- */

static int spawn(char *const argv[], struct child *ch)
{
    int fds[2];
    char line[64] = {0};
    FILE *f;

    if (pipe(fds) < 0)
        return -errno;
    ch->pid = fork();
    if (ch->pid < 0)
        return -errno;
    if (ch->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "READY %d", &ch->port) != 1) {
        fprintf(stderr, "bench_proxy: %s did not start\n", argv[0]);
        if (f)
            fclose(f);
        return -EIO;
    }
    fclose(f);
    return 0;
}

static void stop_child(struct child *ch)
{
    if (ch->pid > 0) {
        kill(ch->pid, SIGTERM);
        waitpid(ch->pid, NULL, 0);
        ch->pid = 0;
    }
}

static long peak_rss_kb(pid_t pid)
{
    char path[64];
    char line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* ---- a lean blocking HTTP/1.1 client (Content-Length responses only) ---- */

static int hc_open(struct hconn *c, int port)
{
    struct sockaddr_in a = {0};
    int one = 1;

    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    c->cap = 64 * 1024;
    c->buf = malloc(c->cap);
    if (c->fd < 0 || !c->buf)
        return -1;
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return connect(c->fd, (struct sockaddr *)&a, sizeof(a));
}

static void hc_close(struct hconn *c)
{
    close(c->fd);
    free(c->buf);
}

static void header_value(const char *head, size_t hlen, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = memchr(head, '\n', hlen);

    out[0] = '\0';
    while (p && (size_t)(p - head) + 1 + nlen + 1 < hlen) {
        p++;
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            size_t k = 0;

            while (*v == ' ')
                v++;
            while (v[k] != '\r' && v[k] != '\n' && k + 1 < cap) {
                out[k] = v[k];
                k++;
            }
            out[k] = '\0';
            return;
        }
        p = memchr(p, '\n', hlen - (size_t)(p - head));
    }
}

static int hc_parse_head(struct hconn *c, const char *end)
{
    char v[32];

    c->head = (size_t)(end - c->buf) + 4;
    if (sscanf(c->buf, "HTTP/1.1 %d", &c->status) != 1)
        return -1;
    header_value(c->buf, c->head, "Content-Length", v, sizeof(v));
    if (!v[0])
        return -1; /* every peer here answers with Content-Length */
    c->body = (size_t)strtoull(v, NULL, 10);
    header_value(c->buf, c->head, "Lambda-Runtime-Aws-Request-Id", c->rid, sizeof(c->rid));
    return c->head + c->body > MAX_MSG ? -1 : 0;
}

/* Sends a request and reads one whole response into c->buf. 0 or -1. */
static int hc_roundtrip(struct hconn *c, const char *req, size_t len)
{
    const char *end = NULL;

    if (send(c->fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
        return -1;
    c->have = 0;
    c->head = 0;
    while (c->head == 0 || c->have < c->head + c->body) {
        size_t want = c->head ? c->head + c->body : c->have + 64 * 1024;
        ssize_t n;

        if (want > c->cap) {
            char *nb = realloc(c->buf, want);
            if (!nb)
                return -1;
            c->buf = nb;
            c->cap = want;
        }
        n = recv(c->fd, c->buf + c->have, c->cap - c->have, 0);
        if (n <= 0)
            return -1;
        c->have += (size_t)n;
        if (c->head == 0 && (end = memmem(c->buf, c->have, "\r\n\r\n", 4)) &&
            hc_parse_head(c, end) < 0)
            return -1;
    }
    return c->have == c->head + c->body ? 0 : -1; /* nothing pipelined */
}

/* ---- the benchmark ---- */

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int one_invoke(struct variant *v)
{
    static const char body[] = "{\"statusCode\":200,\"body\":\"ok-ok-ok-ok-ok-ok-ok-ok\"}";
    static const char get[] = "GET " NEXT_PATH " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "User-Agent: bench\r\n\r\n";
    char req[512];
    int n;

    if (hc_roundtrip(&v->next, get, sizeof(get) - 1) < 0 || v->next.status != 200)
        return -1;
    n = snprintf(req, sizeof(req),
                 "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\n"
                 "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 v->next.rid, sizeof(body) - 1, body);
    if (hc_roundtrip(&v->post, req, (size_t)n) < 0 || v->post.status != 202)
        return -1;
    return 0;
}

/* The body the runtime got must be the event (identity), or the event with the promoted
 * context (promote). `full` compares every byte. */
static bool body_ok(int k, const struct hconn *c, const char *ev, size_t evlen, size_t *promoted,
                    bool full)
{
    static const char want[] = "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-" SPAN_HEX;
    const char *b = c->buf + c->head;

    if (k != V_PROMOTE)
        return c->body == evlen && (!full || memcmp(b, ev, evlen) == 0);
    if (*promoted == 0) {
        if (!memmem(b, c->body, want, sizeof(want) - 1) || c->body <= evlen)
            return false;
        *promoted = c->body;
    }
    return c->body == *promoted;
}

static int fetch_event(int port, size_t size, char **ev, size_t *evlen)
{
    struct hconn c;
    char req[128];
    int n = snprintf(req, sizeof(req), "PUT /bench/size/%zu HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                     size);
    int rc = hc_open(&c, port);

    if (rc == 0)
        rc = hc_roundtrip(&c, req, (size_t)n);
    if (rc == 0 && c.status == 200)
        rc = hc_roundtrip(&c, "GET /bench/event HTTP/1.1\r\n\r\n", 29);
    else
        rc = -1;
    if (rc == 0 && c.status == 200 && c.body == size) {
        *ev = malloc(size);
        memcpy(*ev, c.buf + c.head, size);
        *evlen = size;
    } else {
        rc = -1;
    }
    hc_close(&c);
    return rc;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p)
{
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

static void print_rows(struct variant *v, size_t size)
{
    double p50[NV];
    double p99[NV];
    int k;

    for (k = 0; k < NV; k++) {
        qsort(v[k].lat, v[k].n, sizeof(double), cmp_d);
        p50[k] = pct(v[k].lat, v[k].n, 0.50);
        p99[k] = pct(v[k].lat, v[k].n, 0.99);
    }
    for (k = 0; k < NV; k++)
        printf("| %-20s | %9zu | %5zu | %9.1f | %9.1f | %+9.1f | %+9.1f | %5.2f |\n", vname[k],
               size, v[k].n, p50[k], p99[k], p50[k] - p50[V_DIRECT], p99[k] - p99[V_DIRECT],
               p50[k] / p50[V_DIRECT]);
}

static int measure(struct variant *v, const struct size_plan *sp, int rounds, const char *ev,
                   size_t evlen)
{
    size_t promoted = 0;
    int j;
    int k;
    int i;

    for (k = 0; k < NV; k++)
        for (i = 0; i < sp->warmup; i++)
            if (one_invoke(&v[k]) < 0 || !body_ok(k, &v[k].next, ev, evlen, &promoted, true))
                return fprintf(stderr, "bench_proxy: %s, %zu B: warm-up %d wrong\n", vname[k],
                               sp->size, i),
                       -1;
    for (j = 0; j < rounds; j++)
        for (k = 0; k < NV; k++) {
            int idx = (j + k) % NV;
            struct variant *cur = &v[idx];

            for (i = 0; i < sp->per_round; i++) {
                double t0 = now_us();
                int rc = one_invoke(cur);
                double dt = now_us() - t0;

                if (rc < 0 || !body_ok(idx, &cur->next, ev, evlen, &promoted, false))
                    return fprintf(stderr, "bench_proxy: %s, %zu B: invoke failed\n", vname[idx],
                                   sp->size),
                           -1;
                cur->lat[cur->n++] = dt;
            }
        }
    return 0;
}

static int run_size(const struct child ch[NV], const struct size_plan *sp, int rounds)
{
    struct variant v[NV];
    char *ev = NULL;
    size_t evlen = 0;
    int rc = 0;
    int k;

    if (fetch_event(ch[V_DIRECT].port, sp->size, &ev, &evlen) < 0)
        return fprintf(stderr, "bench_proxy: cannot set a %zu B event\n", sp->size), -1;
    for (k = 0; k < NV; k++) {
        if (hc_open(&v[k].next, ch[k].port) < 0 || hc_open(&v[k].post, ch[k].port) < 0)
            rc = -1;
        v[k].lat = calloc((size_t)rounds * (size_t)sp->per_round, sizeof(double));
        v[k].n = 0;
    }
    if (rc == 0)
        rc = measure(v, sp, rounds, ev, evlen);
    if (rc == 0)
        print_rows(v, sp->size);
    for (k = 0; k < NV; k++) {
        hc_close(&v[k].next);
        hc_close(&v[k].post);
        free(v[k].lat);
    }
    free(ev);
    return rc;
}

static int start_all(struct child ch[NV])
{
    char dir[PATH_MAX];
    char lean[PATH_MAX + 32];
    char proxyd[PATH_MAX + 32];
    char up[32];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

    if (n <= 0)
        return -1;
    dir[n] = '\0';
    dirname(dir);
    snprintf(lean, sizeof(lean), "%s/lean_upstream", dir);
    snprintf(proxyd, sizeof(proxyd), "%s/../tools/proxyd", dir);
    char *lean_argv[] = {lean, NULL};
    if (spawn(lean_argv, &ch[V_DIRECT]) < 0)
        return -1;
    snprintf(up, sizeof(up), "127.0.0.1:%d", ch[V_DIRECT].port);
    char *id_argv[] = {proxyd, "--upstream", up, NULL};
    char *pr_argv[] = {proxyd, "--upstream", up, "--promote", NULL};
    if (spawn(id_argv, &ch[V_IDENTITY]) < 0 || spawn(pr_argv, &ch[V_PROMOTE]) < 0)
        return -1;
    return 0;
}

static bool wanted(int argc, char **argv, size_t size)
{
    int i;

    for (i = 2; i < argc; i++)
        if ((size_t)strtoull(argv[i], NULL, 10) == size)
            return true;
    return argc <= 2;
}

int main(int argc, char **argv)
{
    static const struct size_plan plans[] = {
        {1024, 100, 50}, {256 * 1024, 20, 10}, {1024 * 1024, 10, 5}, {6 * 1024 * 1024, 3, 3}};
    struct child ch[NV] = {{0}};
    int rounds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 20;
    int rc = 0;
    size_t i;

    signal(SIGPIPE, SIG_IGN);
    if (rounds < 1 || start_all(ch) < 0)
        rc = -1;
    if (rc == 0) {
        printf("# per-invoke round trip (GET /next + POST /response), upstream, proxies and client "
               "in separate processes, %d rounds interleaved\n",
               rounds);
        printf("| %-20s | %9s | %5s | %9s | %9s | %9s | %9s | %5s |\n", "path", "event B", "n",
               "p50 us", "p99 us", "added p50", "added p99", "ratio");
        printf("|----------------------|-----------|-------|-----------|-----------|-----------|"
               "-----------|-------|\n");
    }
    for (i = 0; rc == 0 && i < sizeof(plans) / sizeof(plans[0]); i++)
        if (wanted(argc, argv, plans[i].size))
            rc = run_size(ch, &plans[i], rounds);
    if (rc == 0)
        printf("# proxyd peak RSS: identity %ld kB, promote %ld kB\n",
               peak_rss_kb(ch[V_IDENTITY].pid), peak_rss_kb(ch[V_PROMOTE].pid));
    for (i = 0; i < NV; i++)
        stop_child(&ch[i]);
    return rc < 0 ? 1 : 0;
}
