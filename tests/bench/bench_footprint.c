/* SPDX-License-Identifier: Apache-2.0 */
/* bench_footprint: what a tracebridge binary costs as a Lambda extension.
 *
 * This program plays Lambda on one loopback port (Extensions API, Runtime API and an OTLP sink,
 * as AWS_LAMBDA_RUNTIME_API and OTEL_EXPORTER_OTLP_ENDPOINT), starts the binary the way Lambda
 * starts an extension, and measures:
 *   - exec to register (and to the first /event/next: "ready"), median of many cold starts;
 *   - idle RSS once the extension waits in /event/next;
 *   - RSS after many invocations of a large SQS event, driven by a runtime client (a child
 *     process) that talks to the extension's Runtime API proxy, as a real runtime would;
 *   - that SHUTDOWN makes it flush and exit 0.
 * With --telemetry 1 it also accepts the Telemetry API subscription and, after each /response,
 * POSTs the invocation's batch (platform.start, runtimeDone, report) to the extension's listener,
 * as Lambda does: the invocation round trip then includes the telemetry path's work on the loop.
 * It follows the Lambda rules that matter here: the runtime starts after the extension
 * registered and called /event/next, and each INVOKE goes out together with the runtime's /next.
 *
 * usage: bench_footprint BINARY [--runs N] [--invokes N] [--event-kb N] [--otlp-endpoint URL]
 *                        [--telemetry 0|1]
 * --otlp-endpoint: the extension exports there (e.g. an HTTPS sink; the environment, such as
 * OTEL_EXPORTER_OTLP_CERTIFICATE, passes through) instead of to this program's own sink, whose
 * otlp_exports count then stays 0.
 * Prints one "key value" line per number, then a human summary. Exit 0 when every step worked. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/test_server.h"

#define MAX_CONNS     16
#define MAX_REQUEST   (32u * 1024 * 1024)
#define EXT_ID        "bench-ext-0001"
#define FUNCTION_ARN  "arn:aws:lambda:us-east-1:123456789012:function:bench"
#define TRACEPARENT   "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define STEP_TIMEOUT  5000 /* ms any single step may take before the bench gives up */
#define SETTLE_MS     150  /* quiet time before reading RSS */
#define EXIT_GRACE_MS 3000

enum waiter { W_NONE, W_EXT_NEXT, W_RT_NEXT };

struct conn {
    int fd;
    char *in;
    size_t len, cap;
    enum waiter waiting; /* a long-poll this connection is parked in */
};

struct request {
    char method[8];
    char path[512];
    const char *body;
    size_t body_len;
    size_t total; /* head + body bytes to consume */
};

struct lambda {
    int lfd;
    int port;
    struct conn conns[MAX_CONNS];
    pid_t ext;          /* the extension under test */
    const char *event;  /* the invocation payload */
    size_t event_len;   /* its length */
    int invokes_left;   /* INVOKEs still to send */
    int invokes_target; /* responses expected in this phase */
    int responses;      /* runtime /response posts seen */
    int otlp_posts;     /* exports received */
    size_t otlp_bytes;  /* their body bytes */
    int errors_posted;  /* init/exit error reports (should stay 0) */
    bool registered;    /* register request seen */
    double t_register;  /* monotonic ms when it arrived */
    double t_first_next;
    unsigned long seq; /* request id counter */
    bool shutdown_sent;
    bool telemetry; /* accept the subscription and deliver batches */
    int tm_port;    /* the extension's telemetry listener, once subscribed */
    int tm_fd;      /* keep-alive connection to it */
    int tm_batches; /* batches delivered */
};

struct opts {
    const char *bin;
    int runs;
    int invokes;
    int event_kb;
    const char *otlp_endpoint; /* NULL: this program's own sink */
    int telemetry;
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t epoch_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int listen_loopback(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        close(fd);
        return -errno;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port nobody listens on right now, for the extension's own listeners. */
static int free_port(void)
{
    int port = 0;
    int fd = listen_loopback(&port);

    if (fd < 0)
        return -1;
    close(fd);
    return port;
}

/* ---- the fake Lambda's HTTP side ---- */

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

static int reply(struct conn *c, int status, const char *extra_headers, const char *body,
                 size_t body_len)
{
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "%s\r\n",
                     status, body_len, extra_headers ? extra_headers : "");

    if (n < 0 || (size_t)n >= sizeof(head))
        return -E2BIG;
    if (test_send_all(c->fd, head, (size_t)n) != 0 || test_send_all(c->fd, body, body_len) != 0)
        return -EIO;
    return 0;
}

static size_t header_value(const char *head, size_t head_len, const char *name, char *out,
                           size_t out_cap)
{
    size_t nl = strlen(name);
    const char *p = head;
    const char *end = head + head_len;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            break;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            size_t vl;
            while (v < eol && *v == ' ')
                v++;
            vl = (size_t)(eol - v);
            if (vl > 0 && v[vl - 1] == '\r')
                vl--;
            if (vl >= out_cap)
                vl = out_cap - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return vl;
        }
        p = eol + 1;
    }
    return 0;
}

/* One complete request at the start of c->in: 1, not yet: 0, malformed: -EPROTO. */
static int parse_request(const struct conn *c, struct request *r)
{
    const char *end = c->len >= 4 ? memmem(c->in, c->len, "\r\n\r\n", 4) : NULL;
    char cl[32] = "", te[32] = "";
    size_t head_len;

    if (end == NULL)
        return c->len > 65536 ? -EPROTO : 0;
    head_len = (size_t)(end - c->in) + 4;
    if (sscanf(c->in, "%7s %511s", r->method, r->path) != 2)
        return -EPROTO;
    if (header_value(c->in, head_len, "Transfer-Encoding", te, sizeof(te)) > 0)
        return -EPROTO; /* every client here sends Content-Length */
    header_value(c->in, head_len, "Content-Length", cl, sizeof(cl));
    r->body_len = (size_t)strtoul(cl, NULL, 10);
    if (r->body_len > MAX_REQUEST)
        return -EPROTO;
    if (c->len < head_len + r->body_len)
        return 0;
    r->body = c->in + head_len;
    r->total = head_len + r->body_len;
    return 1;
}

static int waiter_index(const struct lambda *lb, enum waiter w)
{
    int i;

    for (i = 0; i < MAX_CONNS; i++) {
        if (lb->conns[i].fd >= 0 && lb->conns[i].waiting == w)
            return i;
    }
    return -1;
}

static struct conn *find_waiter(struct lambda *lb, enum waiter w)
{
    int i = waiter_index(lb, w);

    return i < 0 ? NULL : &lb->conns[i];
}

/* INVOKE to the extension and the event to the runtime, together, as Lambda does. */
static int release_invoke(struct lambda *lb, struct conn *ext, struct conn *rt)
{
    char ev[1024], hdrs[1024], id[64];
    uint64_t deadline = epoch_ms() + 30000;
    int n;

    snprintf(id, sizeof(id), "req-%06lu", ++lb->seq);
    n = snprintf(ev, sizeof(ev),
                 "{\"eventType\":\"INVOKE\",\"deadlineMs\":%llu,\"requestId\":\"%s\","
                 "\"invokedFunctionArn\":\"%s\",\"tracing\":{\"type\":\"X-Amzn-Trace-Id\","
                 "\"value\":\"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                 "Sampled=0\"}}",
                 (unsigned long long)deadline, id, FUNCTION_ARN);
    snprintf(hdrs, sizeof(hdrs),
             "Lambda-Runtime-Aws-Request-Id: %s\r\nLambda-Runtime-Deadline-Ms: %llu\r\n"
             "Lambda-Runtime-Invoked-Function-Arn: %s\r\nLambda-Runtime-Trace-Id: "
             "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0\r\n",
             id, (unsigned long long)deadline, FUNCTION_ARN);
    ext->waiting = W_NONE;
    rt->waiting = W_NONE;
    lb->invokes_left--;
    if (reply(ext, 200, "Lambda-Extension-Event-Identifier: e\r\n", ev, (size_t)n) != 0)
        return -EIO;
    return reply(rt, 200, hdrs, lb->event, lb->event_len);
}

static int send_shutdown(struct lambda *lb, struct conn *ext)
{
    char ev[256];
    int n = snprintf(ev, sizeof(ev),
                     "{\"eventType\":\"SHUTDOWN\",\"shutdownReason\":\"spindown\","
                     "\"deadlineMs\":%llu}",
                     (unsigned long long)(epoch_ms() + 2000));

    ext->waiting = W_NONE;
    lb->shutdown_sent = true;
    return reply(ext, 200, "", ev, (size_t)n);
}

static void maybe_release(struct lambda *lb)
{
    struct conn *ext = find_waiter(lb, W_EXT_NEXT);
    struct conn *rt = find_waiter(lb, W_RT_NEXT);

    if (ext != NULL && rt != NULL && lb->invokes_left > 0)
        release_invoke(lb, ext, rt);
}

static int on_register(struct lambda *lb, struct conn *c)
{
    static const char body[] = "{\"functionName\":\"bench\",\"functionVersion\":\"$LATEST\","
                               "\"handler\":\"index.handler\",\"accountId\":\"123456789012\"}";

    lb->registered = true;
    lb->t_register = now_ms();
    return reply(c, 200, "Lambda-Extension-Identifier: " EXT_ID "\r\n", body, sizeof(body) - 1);
}

/* The Telemetry API's batch for one invocation, as Lambda sends it after the response. */
static void tm_deliver(struct lambda *lb, const char *path)
{
    const char *id = path + strlen("/2018-06-01/runtime/invocation/");
    const char *end = strchr(id, '/');
    char body[2048], req[2300], drain[512];
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)lb->tm_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int n, m;

    if (!end || lb->tm_port == 0)
        return;
    if (lb->tm_fd < 0) {
        lb->tm_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lb->tm_fd < 0 || connect(lb->tm_fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
            if (lb->tm_fd >= 0)
                close(lb->tm_fd);
            lb->tm_fd = -1;
            return;
        }
    }
    while (recv(lb->tm_fd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
        ; /* the answers to earlier batches */
    n = snprintf(body, sizeof(body),
                 "[{\"time\":\"2026-11-23T10:00:01.000Z\",\"type\":\"platform.start\",\"record\":"
                 "{\"requestId\":\"%.*s\",\"version\":\"$LATEST\"}},{\"time\":"
                 "\"2026-11-23T10:00:01.020Z\",\"type\":\"platform.runtimeDone\",\"record\":"
                 "{\"requestId\":\"%.*s\",\"status\":\"success\",\"metrics\":{\"durationMs\":"
                 "0.5,\"producedBytes\":42}}},{\"time\":\"2026-11-23T10:00:01.030Z\",\"type\":"
                 "\"platform.report\",\"record\":{\"requestId\":\"%.*s\",\"status\":\"success\","
                 "\"metrics\":{\"durationMs\":0.7,\"billedDurationMs\":1,\"memorySizeMB\":128,"
                 "\"maxMemoryUsedMB\":12}}}]",
                 (int)(end - id), id, (int)(end - id), id, (int)(end - id), id);
    m = snprintf(req, sizeof(req),
                 "POST / HTTP/1.1\r\nContent-Type: application/json\r\n"
                 "Content-Length: %d\r\n\r\n%s",
                 n, body);
    if (test_send_all(lb->tm_fd, req, (size_t)m) == 0)
        lb->tm_batches++;
}

/* The subscription: its destination port (http://sandbox.localdomain:<port>/). */
static int on_subscribe(struct lambda *lb, struct conn *c, const struct request *r)
{
    char body[2048];
    const char *p;

    if (!lb->telemetry)
        return reply(c, 404, "", "{}", 2);
    snprintf(body, sizeof(body), "%.*s", (int)r->body_len, r->body);
    p = strstr(body, "sandbox.localdomain:");
    lb->tm_port = p ? atoi(p + strlen("sandbox.localdomain:")) : 0;
    return reply(c, 200, "", "\"OK\"", 4);
}

static int on_request(struct lambda *lb, struct conn *c, const struct request *r)
{
    static const char accepted[] = "{\"status\":\"OK\"}";

    if (strcmp(r->path, "/2020-01-01/extension/register") == 0)
        return on_register(lb, c);
    if (strcmp(r->path, "/2020-01-01/extension/event/next") == 0) {
        if (lb->t_first_next == 0)
            lb->t_first_next = now_ms();
        c->waiting = W_EXT_NEXT;
        return 0;
    }
    if (strcmp(r->path, "/2018-06-01/runtime/invocation/next") == 0) {
        c->waiting = W_RT_NEXT;
        return 0;
    }
    if (strstr(r->path, "/response") != NULL && strncmp(r->path, "/2018-06-01/", 12) == 0) {
        int rc = reply(c, 202, "", accepted, sizeof(accepted) - 1);
        lb->responses++;
        tm_deliver(lb, r->path);
        return rc;
    }
    if (strcmp(r->path, "/2022-07-01/telemetry") == 0)
        return on_subscribe(lb, c, r);
    if (strcmp(r->path, "/v1/traces") == 0) {
        lb->otlp_posts++;
        lb->otlp_bytes += r->body_len;
        return reply(c, 200, "", "", 0);
    }
    if (strstr(r->path, "/error") != NULL) {
        lb->errors_posted++;
        fprintf(stderr, "bench_footprint: error reported on %s: %.*s\n", r->path,
                (int)(r->body_len > 300 ? 300 : r->body_len), r->body);
        return reply(c, 202, "", accepted, sizeof(accepted) - 1);
    }
    return reply(c, 404, "", "{}", 2);
}

static int conn_read(struct lambda *lb, struct conn *c)
{
    struct request r;
    ssize_t n;
    int rc;

    if (c->cap - c->len < 65536) {
        size_t cap = c->cap ? c->cap * 2 : 262144;
        char *p = cap > MAX_REQUEST * 2 ? NULL : realloc(c->in, cap);
        if (p == NULL)
            return -ENOMEM;
        c->in = p;
        c->cap = cap;
    }
    n = read(c->fd, c->in + c->len, c->cap - c->len);
    if (n <= 0)
        return n == 0 ? -ECONNRESET : -errno;
    c->len += (size_t)n;
    while ((rc = parse_request(c, &r)) == 1) {
        if (on_request(lb, c, &r) != 0)
            return -EIO;
        memmove(c->in, c->in + r.total, c->len - r.total);
        c->len -= r.total;
    }
    return rc;
}

static void accept_conn(struct lambda *lb)
{
    int fd = accept4(lb->lfd, NULL, NULL, SOCK_CLOEXEC);
    int one = 1;
    int i;

    if (fd < 0)
        return;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (i = 0; i < MAX_CONNS; i++) {
        if (lb->conns[i].fd < 0) {
            lb->conns[i].fd = fd;
            return;
        }
    }
    close(fd);
}

/* Serves until done(lb) holds or timeout_ms passes. 0 or -ETIMEDOUT. */
static int serve_until(struct lambda *lb, bool (*done)(const struct lambda *), int timeout_ms)
{
    double end = now_ms() + timeout_ms;

    while (!done(lb)) {
        struct pollfd pf[MAX_CONNS + 1];
        struct conn *who[MAX_CONNS + 1];
        int n = 0, i, left = (int)(end - now_ms());

        if (left <= 0)
            return -ETIMEDOUT;
        pf[n] = (struct pollfd){.fd = lb->lfd, .events = POLLIN};
        who[n++] = NULL;
        for (i = 0; i < MAX_CONNS; i++) {
            if (lb->conns[i].fd >= 0) {
                pf[n] = (struct pollfd){.fd = lb->conns[i].fd, .events = POLLIN};
                who[n++] = &lb->conns[i];
            }
        }
        if (poll(pf, (nfds_t)n, left) < 0 && errno != EINTR)
            return -errno;
        for (i = 0; i < n; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (who[i] == NULL)
                accept_conn(lb);
            else if (conn_read(lb, who[i]) < 0)
                conn_close(who[i]);
        }
        maybe_release(lb);
    }
    return 0;
}

static bool ext_waiting(const struct lambda *lb)
{
    return waiter_index(lb, W_EXT_NEXT) >= 0;
}

static bool all_invoked(const struct lambda *lb)
{
    return lb->responses >= lb->invokes_target && waiter_index(lb, W_EXT_NEXT) >= 0;
}

static bool never(const struct lambda *lb)
{
    (void)lb;
    return false;
}

/* ---- the extension process ---- */

struct ext_env {
    char api[64], endpoint[256], proxy_port[16], otlp_listen[48], ready_file[96];
};

static pid_t spawn_ext(const char *bin, const struct ext_env *e)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    setenv("AWS_LAMBDA_RUNTIME_API", e->api, 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", e->endpoint, 1);
    setenv("TRACEBRIDGE_PROXY_PORT", e->proxy_port, 1);
    setenv("TRACEBRIDGE_OTLP_LISTEN", e->otlp_listen, 1);
    setenv("TRACEBRIDGE_READY_FILE", e->ready_file, 1);
    setenv("AWS_LAMBDA_FUNCTION_NAME", "bench", 1);
    setenv("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST", 1);
    /* TB_BENCH_MEMORY_MB: the function size (tracebridge releases memory after large work only
     * when that work was a noticeable share of it). */
    setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
           getenv("TB_BENCH_MEMORY_MB") ? getenv("TB_BENCH_MEMORY_MB") : "128", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    if (getenv("TRACEBRIDGE_LOG_LEVEL") == NULL)
        setenv("TRACEBRIDGE_LOG_LEVEL", "warn", 1);
    execl(bin, "tracebridge", (char *)NULL);
    _exit(127);
}

/* Reaps the extension when it has exited; lb->ext becomes 0 and *status is set. */
static void reap(struct lambda *lb, int *status)
{
    if (lb->ext > 0 && waitpid(lb->ext, status, WNOHANG) == lb->ext)
        lb->ext = 0;
}

static int wait_exit(struct lambda *lb, int *status)
{
    double end = now_ms() + EXIT_GRACE_MS;

    while (lb->ext > 0 && now_ms() < end) {
        serve_until(lb, never, 10);
        reap(lb, status);
    }
    if (lb->ext > 0) {
        kill(lb->ext, SIGKILL);
        waitpid(lb->ext, status, 0);
        lb->ext = 0;
        return -ETIMEDOUT;
    }
    return 0;
}

static long proc_status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    size_t kl = strlen(key);
    long v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* CPU time (user + system) the process used so far, in microseconds. */
static double proc_cpu_us(pid_t pid)
{
    char path[64], line[1024];
    unsigned long ut = 0, st = 0;
    const char *p;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
    fclose(f);
    /* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static void lambda_reset(struct lambda *lb)
{
    int i;

    for (i = 0; i < MAX_CONNS; i++)
        conn_close(&lb->conns[i]);
    lb->registered = false;
    lb->t_register = 0;
    lb->t_first_next = 0;
    lb->shutdown_sent = false;
    if (lb->tm_fd >= 0)
        close(lb->tm_fd);
    lb->tm_fd = -1;
    lb->tm_port = 0;
}

static void ext_env_fill(struct ext_env *e, int api_port, const char *otlp_endpoint)
{
    snprintf(e->api, sizeof(e->api), "127.0.0.1:%d", api_port);
    if (otlp_endpoint != NULL)
        snprintf(e->endpoint, sizeof(e->endpoint), "%s", otlp_endpoint);
    else
        snprintf(e->endpoint, sizeof(e->endpoint), "http://127.0.0.1:%d", api_port);
    snprintf(e->proxy_port, sizeof(e->proxy_port), "%d", free_port());
    snprintf(e->otlp_listen, sizeof(e->otlp_listen), "127.0.0.1:%d", free_port());
    snprintf(e->ready_file, sizeof(e->ready_file), "/tmp/tb-footprint-%d.ready", (int)getpid());
    unlink(e->ready_file);
}

/* One cold start: spawn, register, first /event/next. Leaves the extension waiting. */
static int cold_start(struct lambda *lb, const struct opts *o, struct ext_env *env, double *reg_ms,
                      double *ready_ms)
{
    double t0;

    lambda_reset(lb);
    ext_env_fill(env, lb->port, o->otlp_endpoint);
    t0 = now_ms();
    lb->ext = spawn_ext(o->bin, env);
    if (lb->ext < 0)
        return -errno;
    if (serve_until(lb, ext_waiting, STEP_TIMEOUT) != 0 || !lb->registered)
        return -ETIMEDOUT;
    *reg_ms = lb->t_register - t0;
    *ready_ms = lb->t_first_next - t0;
    return 0;
}

static int shutdown_ext(struct lambda *lb, int *status)
{
    struct conn *ext = find_waiter(lb, W_EXT_NEXT);

    if (ext == NULL || send_shutdown(lb, ext) != 0)
        return -EIO;
    return wait_exit(lb, status);
}

/* ---- the runtime client (child process, blocking sockets) ---- */

static int rt_connect(const char *ready_file)
{
    char addr[64] = "";
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    FILE *f = fopen(ready_file, "r");
    int port = 0, one = 1, fd;
    char *colon;

    if (f == NULL)
        return -ENOENT;
    if (fgets(addr, sizeof(addr), f) == NULL)
        addr[0] = '\0';
    fclose(f);
    colon = strrchr(addr, ':');
    port = colon ? (int)strtol(colon + 1, NULL, 10) : 0;
    if (port <= 0)
        return -EINVAL;
    a.sin_port = htons((uint16_t)port);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        return -errno;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Reads one response; returns its body (in *buf) length, request id in id. */
static ssize_t rt_read_response(int fd, char **buf, size_t *cap, char *id, size_t id_cap)
{
    size_t len = 0, head_len = 0, body_len = 0;
    char cl[32] = "";

    for (;;) {
        ssize_t n;
        if (*cap - len < 65536) {
            char *p = realloc(*buf, *cap * 2);
            if (p == NULL)
                return -ENOMEM;
            *buf = p;
            *cap *= 2;
        }
        n = read(fd, *buf + len, *cap - len);
        if (n <= 0)
            return -EIO;
        len += (size_t)n;
        if (head_len == 0) {
            char *end = memmem(*buf, len, "\r\n\r\n", 4);
            if (end == NULL)
                continue;
            head_len = (size_t)(end - *buf) + 4;
            header_value(*buf, head_len, "Content-Length", cl, sizeof(cl));
            header_value(*buf, head_len, "Lambda-Runtime-Aws-Request-Id", id, id_cap);
            body_len = (size_t)strtoul(cl, NULL, 10);
        }
        if (len >= head_len + body_len)
            break;
    }
    memmove(*buf, *buf + head_len, body_len);
    return (ssize_t)body_len;
}

static int rt_one(int fd, char **buf, size_t *cap)
{
    static const char next[] =
        "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: rt\r\n\r\n";
    char id[128] = "", post[512];
    ssize_t body;
    int n;

    if (test_send_all(fd, next, sizeof(next) - 1) != 0)
        return -EIO;
    body = rt_read_response(fd, buf, cap, id, sizeof(id));
    if (body < 0 || id[0] == '\0')
        return -EPROTO;
    n = snprintf(post, sizeof(post),
                 "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: rt\r\n"
                 "Content-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}",
                 id);
    if (test_send_all(fd, post, (size_t)n) != 0)
        return -EIO;
    return rt_read_response(fd, buf, cap, id, sizeof(id)) < 0 ? -EIO : 0;
}

static pid_t spawn_runtime(const char *ready_file, int invokes)
{
    pid_t pid = fork();
    size_t cap = 1 << 20;
    char *buf;
    int fd, i;

    if (pid != 0)
        return pid;
    buf = malloc(cap);
    fd = rt_connect(ready_file);
    if (fd < 0 || buf == NULL)
        _exit(2);
    for (i = 0; i < invokes; i++) {
        if (rt_one(fd, &buf, &cap) != 0)
            _exit(3);
    }
    _exit(0);
}

/* ---- the event ---- */

static size_t put_record(char *out, size_t cap, int i, size_t body_len)
{
    int n =
        snprintf(out, cap,
                 "%s{\"messageId\":\"m-%d\",\"receiptHandle\":\"AQEB\",\"body\":\"%*s\","
                 "\"attributes\":{\"ApproximateReceiveCount\":\"1\"},\"messageAttributes\":{"
                 "\"traceparent\":{\"stringValue\":\"" TRACEPARENT "\",\"dataType\":\"String\"}},"
                 "\"eventSource\":\"aws:sqs\",\"eventSourceARN\":"
                 "\"arn:aws:sqs:us-east-1:123456789012:orders\",\"awsRegion\":\"us-east-1\"}",
                 i ? "," : "", i, (int)body_len, "");

    return n < 0 ? 0 : (size_t)n;
}

/* An ESM-shaped SQS batch of exactly kb KiB whose records carry a traceparent (bodies are
 * spaces: the size, not the content, is what this measures). */
static char *make_event(int kb, size_t *len)
{
    const size_t target = (size_t)kb * 1024, body = 16384;
    size_t cap = target + 1, n, overhead;
    char *ev = malloc(cap);
    int i;

    if (ev == NULL)
        return NULL;
    overhead = put_record(ev, cap, 1, 0);
    n = (size_t)snprintf(ev, cap, "{\"Records\":[");
    for (i = 0; n + 2 * (overhead + body) + 2 <= target; i++)
        n += put_record(ev + n, cap - n, i, body);
    overhead = put_record(ev + n, cap - n, i, 0); /* the last one's own index width */
    n += put_record(ev + n, cap - n, i, target - n - overhead - 2);
    n += (size_t)snprintf(ev + n, cap - n, "]}");
    *len = n;
    return ev;
}

/* ---- the measurements ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static int bench_cold_starts(struct lambda *lb, const struct opts *o)
{
    double *reg = calloc((size_t)o->runs, sizeof(*reg));
    double *ready = calloc((size_t)o->runs, sizeof(*ready));
    struct ext_env env;
    int i, status = 0, bad_exit = 0;

    if (reg == NULL || ready == NULL)
        return -ENOMEM;
    for (i = 0; i < o->runs; i++) {
        if (cold_start(lb, o, &env, &reg[i], &ready[i]) != 0) {
            fprintf(stderr, "bench_footprint: run %d: no registration within %d ms\n", i,
                    STEP_TIMEOUT);
            return -ETIMEDOUT;
        }
        if (shutdown_ext(lb, &status) != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad_exit++;
    }
    qsort(reg, (size_t)o->runs, sizeof(*reg), cmp_double);
    qsort(ready, (size_t)o->runs, sizeof(*ready), cmp_double);
    printf("exec_to_register_ms_median %.3f\n", reg[o->runs / 2]);
    printf("exec_to_register_ms_p90 %.3f\n", reg[o->runs * 9 / 10]);
    printf("exec_to_ready_ms_median %.3f\n", ready[o->runs / 2]);
    printf("cold_starts %d\n", o->runs);
    printf("shutdown_clean_exits %d\n", o->runs - bad_exit);
    free(reg);
    free(ready);
    return bad_exit ? -EPROTO : 0;
}

static int bench_invocations(struct lambda *lb, const struct opts *o)
{
    struct ext_env env;
    double reg, ready, t0, elapsed, cpu0;
    int status = 0, rt_status = 0;
    pid_t rt;

    if (cold_start(lb, o, &env, &reg, &ready) != 0)
        return -ETIMEDOUT;
    serve_until(lb, never, SETTLE_MS);
    printf("idle_rss_kb %ld\n", proc_status_kb(lb->ext, "VmRSS"));
    lb->invokes_left = o->invokes;
    lb->invokes_target = o->invokes;
    lb->responses = 0;
    lb->otlp_posts = 0;
    lb->otlp_bytes = 0;
    cpu0 = proc_cpu_us(lb->ext);
    t0 = now_ms();
    rt = spawn_runtime(env.ready_file, o->invokes);
    if (serve_until(lb, all_invoked, STEP_TIMEOUT + o->invokes * 50) != 0)
        fprintf(stderr, "bench_footprint: invocations stalled after %d\n", lb->responses);
    elapsed = now_ms() - t0;
    waitpid(rt, &rt_status, 0);
    serve_until(lb, never, SETTLE_MS);
    printf("ext_cpu_us_per_invocation %.1f\n",
           lb->responses ? (proc_cpu_us(lb->ext) - cpu0) / lb->responses : 0.0);
    printf("invocations %d\n", lb->responses);
    printf("invocation_event_bytes %zu\n", lb->event_len);
    printf("invocation_ms_mean %.3f\n", lb->responses ? elapsed / lb->responses : 0.0);
    printf("rss_after_invocations_kb %ld\n", proc_status_kb(lb->ext, "VmRSS"));
    printf("peak_rss_kb %ld\n", proc_status_kb(lb->ext, "VmHWM"));
    if (shutdown_ext(lb, &status) != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -EPROTO;
    printf("otlp_exports %d\n", lb->otlp_posts);
    printf("telemetry_batches %d\n", lb->tm_batches);
    printf("otlp_bytes %zu\n", lb->otlp_bytes);
    unlink(env.ready_file);
    return lb->responses == o->invokes && WIFEXITED(rt_status) && WEXITSTATUS(rt_status) == 0
               ? 0
               : -EPROTO;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    int i;

    *o = (struct opts){.runs = 31, .invokes = 1000, .event_kb = 256};
    if (argc < 2)
        return -EINVAL;
    o->bin = argv[1];
    for (i = 2; i + 1 < argc; i += 2) {
        int v = (int)strtol(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "--otlp-endpoint") == 0 && strlen(argv[i + 1]) < 256)
            o->otlp_endpoint = argv[i + 1];
        else if (strcmp(argv[i], "--runs") == 0 && v > 0)
            o->runs = v;
        else if (strcmp(argv[i], "--invokes") == 0 && v > 0)
            o->invokes = v;
        else if (strcmp(argv[i], "--event-kb") == 0 && v >= 2)
            o->event_kb = v;
        else if (strcmp(argv[i], "--telemetry") == 0)
            o->telemetry = v;
        else
            return -EINVAL;
    }
    return i == argc ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
    struct lambda lb = {.lfd = -1, .tm_fd = -1};
    struct opts o;
    int i, rc_cold, rc_inv;

    if (parse_opts(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: bench_footprint BINARY [--runs N] [--invokes N] [--event-kb N] "
                        "[--otlp-endpoint URL] [--telemetry 0|1]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    for (i = 0; i < MAX_CONNS; i++)
        lb.conns[i].fd = -1;
    lb.telemetry = o.telemetry != 0;
    lb.lfd = listen_loopback(&lb.port);
    lb.event = make_event(o.event_kb, &lb.event_len);
    if (lb.lfd < 0 || lb.event == NULL)
        return 1;
    rc_cold = bench_cold_starts(&lb, &o);
    rc_inv = bench_invocations(&lb, &o);
    printf("error_reports %d\n", lb.errors_posted);
    lambda_reset(&lb);
    free((char *)lb.event);
    close(lb.lfd);
    return rc_cold == 0 && rc_inv == 0 && lb.errors_posted == 0 ? 0 : 1;
}
