/* SPDX-License-Identifier: Apache-2.0 */
/* fake_lambda.h: a fake Lambda for daemon tests: Runtime API and Extensions API on one port
 * (as in Lambda), an OTLP backend with scripted failures, a blocking runtime client that talks
 * to the proxy, and a launcher for the real build/tracebridge binary. Included by tests only. */
#ifndef TB_TEST_FAKE_LAMBDA_H
#define TB_TEST_FAKE_LAMBDA_H

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "tests/lib/fake_http.h"
#include "tests/lib/tap.h"
#include "tests/lib/test_util.h"

#define FL_MAX 64

/* An SQS event of one record whose message attributes carry the traceparent FL_SQS_TP (trace
 * FL_TID, parent span FL_PSPAN), as a producer instrumented with OTel sends it. */
#define FL_TID    "4bf92f3577b34da6a3ce929d0e0e4736"
#define FL_PSPAN  "00f067aa0ba902b7"
#define FL_SQS_TP "00-" FL_TID "-" FL_PSPAN "-01"
#define FL_SQS_EVENT                                                                               \
    "{\"Records\":[{\"messageId\":\"m-1\",\"receiptHandle\":\"rh\",\"body\":\"hi\","               \
    "\"attributes\":{\"ApproximateReceiveCount\":\"1\"},"                                          \
    "\"messageAttributes\":{\"traceparent\":{\"stringValue\":\"" FL_SQS_TP "\","                   \
    "\"stringListValues\":[],\"binaryListValues\":[],\"dataType\":\"String\"}},"                   \
    "\"md5OfBody\":\"x\",\"eventSource\":\"aws:sqs\","                                             \
    "\"eventSourceARN\":\"arn:aws:sqs:eu-west-1:123456789012:orders\",\"awsRegion\":\"eu-west-"    \
    "1\"}]}"

struct fl_invocation {
    char rid[64];
    char body[8192];
    const char *big_body; /* used instead of body when set (owned by the test) */
    char trace_hdr[256];
    uint64_t deadline_ms;
};

struct fake_lambda {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fake_http *http;
    /* extension side */
    int registered;
    char reg_events[128];
    bool ready_file_at_register;
    char ready_path[256];
    const char *ext_events[FL_MAX]; /* JSON bodies, owned by the test (static strings) */
    char ext_event_buf[FL_MAX][1024];
    int n_ext, served_ext;
    uint64_t ext_next_at[FL_MAX];   /* fake_now_ms() of each /event/next call */
    uint64_t ext_next_wall[FL_MAX]; /* epoch_ms() of each /event/next call */
    int n_ext_next;
    /* runtime side */
    struct fl_invocation inv[FL_MAX];
    int n_inv, served_inv;
    int responses, errors;
    int restores; /* GET /runtime/restore/next answered */
    bool closing;
};

struct fake_otlp {
    pthread_mutex_t mu;
    struct fake_http *http;
    int requests;
    int statuses[16]; /* scripted answers for the first requests; 0 = 200 */
    int retry_after;  /* seconds, sent with 429/503 when > 0 */
    int delay_ms;
    uint64_t req_at[FL_MAX];
    struct buf bodies[FL_MAX]; /* decoded (gunzipped) bodies of accepted requests */
    char ctype[FL_MAX][64];
    char cenc[FL_MAX][32];
    char auth[FL_MAX][64];
    int accepted;
};

static void fl_ext(struct fake_lambda *fl, const struct fake_req *rq, struct fake_resp *rs)
{
    struct stat st;

    if (strstr(rq->url, "/register")) {
        fl->registered++;
        fl->ready_file_at_register = stat(fl->ready_path, &st) == 0;
        snprintf(fl->reg_events, sizeof(fl->reg_events), "%.*s", (int)rq->body.len, rq->body.data);
        buf_append_str(&rs->headers, "Lambda-Extension-Identifier: ext-abc\r\n");
        buf_append_str(&rs->body, "{\"functionName\":\"orders\",\"functionVersion\":\"$LATEST\","
                                  "\"handler\":\"index.handler\",\"accountId\":\"123456789012\"}");
        return;
    }
    if (strstr(rq->url, "/event/next")) {
        if (fl->n_ext_next < FL_MAX) {
            fl->ext_next_at[fl->n_ext_next] = fake_now_ms();
            fl->ext_next_wall[fl->n_ext_next] = epoch_ms();
        }
        fl->n_ext_next++;
        pthread_cond_broadcast(&fl->cv);
        while (fl->served_ext >= fl->n_ext && !fl->closing)
            pthread_cond_wait(&fl->cv, &fl->mu);
        if (fl->closing) {
            rs->close = true;
            return;
        }
        buf_append_str(&rs->body, fl->ext_event_buf[fl->served_ext++]);
        return;
    }
    rs->status = 202;
}

static void fl_runtime(struct fake_lambda *fl, const struct fake_req *rq, struct fake_resp *rs)
{
    struct fl_invocation *iv;

    if (strstr(rq->url, "/invocation/next")) {
        while (fl->served_inv >= fl->n_inv && !fl->closing)
            pthread_cond_wait(&fl->cv, &fl->mu);
        if (fl->closing) {
            rs->close = true;
            return;
        }
        iv = &fl->inv[fl->served_inv++];
        buf_appendf(&rs->headers,
                    "Lambda-Runtime-Aws-Request-Id: %s\r\nLambda-Runtime-Deadline-Ms: %llu\r\n"
                    "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:"
                    "function:orders\r\nContent-Type: application/json\r\n",
                    iv->rid, (unsigned long long)iv->deadline_ms);
        if (iv->trace_hdr[0])
            buf_appendf(&rs->headers, "Lambda-Runtime-Trace-Id: %s\r\n", iv->trace_hdr);
        buf_append_str(&rs->body, iv->big_body ? iv->big_body : iv->body);
        return;
    }
    if (strstr(rq->url, "/runtime/restore/next")) {
        fl->restores++; /* SnapStart: Lambda answers once the snapshot is restored */
        return;
    }
    if (strstr(rq->url, "/response"))
        fl->responses++;
    else if (strstr(rq->url, "/error"))
        fl->errors++;
    rs->status = 202;
    buf_append_str(&rs->body, "{\"status\":\"OK\"}");
    pthread_cond_broadcast(&fl->cv);
}

static void fl_handler(void *arg, const struct fake_req *rq, struct fake_resp *rs)
{
    struct fake_lambda *fl = arg;

    pthread_mutex_lock(&fl->mu);
    if (strncmp(rq->url, "/2020-01-01/", 12) == 0)
        fl_ext(fl, rq, rs);
    else
        fl_runtime(fl, rq, rs);
    pthread_mutex_unlock(&fl->mu);
}

static __attribute__((unused)) void fl_start(struct fake_lambda *fl, const char *ready_path)
{
    memset(fl, 0, sizeof(*fl));
    pthread_mutex_init(&fl->mu, NULL);
    pthread_cond_init(&fl->cv, NULL);
    snprintf(fl->ready_path, sizeof(fl->ready_path), "%s", ready_path);
    fl->http = fake_http_start(0, fl_handler, fl);
}

static __attribute__((unused)) void fl_stop(struct fake_lambda *fl)
{
    pthread_mutex_lock(&fl->mu);
    fl->closing = true;
    pthread_cond_broadcast(&fl->cv);
    pthread_mutex_unlock(&fl->mu);
    fake_http_stop(fl->http);
}

/* Queues an INVOKE event (to the extension) and the matching /next (to the runtime). */
static __attribute__((unused)) void fl_invoke(struct fake_lambda *fl, const char *rid,
                                              const char *body, uint64_t deadline_ms, bool to_ext,
                                              bool to_runtime)
{
    struct fl_invocation *iv;

    pthread_mutex_lock(&fl->mu);
    if (to_ext)
        snprintf(fl->ext_event_buf[fl->n_ext], sizeof(fl->ext_event_buf[0]),
                 "{\"eventType\":\"INVOKE\",\"deadlineMs\":%llu,\"requestId\":\"%s\","
                 "\"invokedFunctionArn\":\"arn:aws:lambda:eu-west-1:123456789012:function:orders\","
                 "\"tracing\":{\"type\":\"X-Amzn-Trace-Id\",\"value\":\"Root=1-5759e988-"
                 "bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0\"}}",
                 (unsigned long long)deadline_ms, rid);
    if (to_ext)
        fl->n_ext++;
    if (to_runtime) {
        iv = &fl->inv[fl->n_inv++];
        snprintf(iv->rid, sizeof(iv->rid), "%s", rid);
        snprintf(iv->body, sizeof(iv->body), "%s", body);
        snprintf(iv->trace_hdr, sizeof(iv->trace_hdr),
                 "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0");
        iv->deadline_ms = deadline_ms;
    }
    pthread_cond_broadcast(&fl->cv);
    pthread_mutex_unlock(&fl->mu);
}

static __attribute__((unused)) void fl_shutdown(struct fake_lambda *fl, const char *reason,
                                                uint64_t deadline_ms)
{
    pthread_mutex_lock(&fl->mu);
    snprintf(fl->ext_event_buf[fl->n_ext], sizeof(fl->ext_event_buf[0]),
             "{\"eventType\":\"SHUTDOWN\",\"deadlineMs\":%llu,\"shutdownReason\":\"%s\"}",
             (unsigned long long)deadline_ms, reason);
    fl->n_ext++;
    pthread_cond_broadcast(&fl->cv);
    pthread_mutex_unlock(&fl->mu);
}

/* Waits until the extension made `n` /event/next calls. */
static __attribute__((unused)) bool fl_wait_ext_next(struct fake_lambda *fl, int n, int ms)
{
    uint64_t end = fake_now_ms() + (uint64_t)ms;
    bool okay;

    pthread_mutex_lock(&fl->mu);
    while (fl->n_ext_next < n && fake_now_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&fl->cv, &fl->mu, &ts);
    }
    okay = fl->n_ext_next >= n;
    pthread_mutex_unlock(&fl->mu);
    return okay;
}

/* ---- OTLP backend ---- */

static void fo_handler(void *arg, const struct fake_req *rq, struct fake_resp *rs)
{
    struct fake_otlp *fo = arg;
    int i, status;

    pthread_mutex_lock(&fo->mu);
    i = fo->requests++;
    status = i < 16 && fo->statuses[i] ? fo->statuses[i] : 200;
    if (i < FL_MAX)
        fo->req_at[i] = fake_now_ms();
    pthread_mutex_unlock(&fo->mu);
    if (fo->delay_ms)
        usleep((useconds_t)fo->delay_ms * 1000);
    rs->status = status;
    if (status != 200) {
        if (fo->retry_after > 0)
            buf_appendf(&rs->headers, "Retry-After: %d\r\n", fo->retry_after);
        return;
    }
    pthread_mutex_lock(&fo->mu);
    if (fo->accepted < FL_MAX) {
        int k = fo->accepted++;
        fake_req_copy_header(rq, "Content-Type", fo->ctype[k], sizeof(fo->ctype[k]));
        fake_req_copy_header(rq, "Content-Encoding", fo->cenc[k], sizeof(fo->cenc[k]));
        fake_req_copy_header(rq, "Authorization", fo->auth[k], sizeof(fo->auth[k]));
        buf_init(&fo->bodies[k], 64 << 20);
        fake_req_body_decoded(rq, &fo->bodies[k]);
    }
    pthread_mutex_unlock(&fo->mu);
    buf_append_str(&rs->headers, "Content-Type: application/x-protobuf\r\n");
}

static __attribute__((unused)) void fo_start(struct fake_otlp *fo)
{
    memset(fo, 0, sizeof(*fo));
    pthread_mutex_init(&fo->mu, NULL);
    fo->http = fake_http_start(0, fo_handler, fo);
}

static __attribute__((unused)) void fo_stop(struct fake_otlp *fo)
{
    fake_http_stop(fo->http);
}

/* Frees what the backend recorded (after the checks). */
static __attribute__((unused)) void fo_release(struct fake_otlp *fo)
{
    for (int i = 0; i < fo->accepted && i < FL_MAX; i++)
        buf_free(&fo->bodies[i]);
}

/* Every span the backend accepted (protobuf bodies), decoded with protobuf-c's generated code. */
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest fo_request;
typedef Opentelemetry__Proto__Trace__V1__Span fo_span;

static __attribute__((unused)) fo_request *fo_decode(struct fake_otlp *fo, int i)
{
    return opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        NULL, fo->bodies[i].len, (const uint8_t *)fo->bodies[i].data);
}

static __attribute__((unused)) void fo_free(fo_request *r)
{
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(r,
                                                                                            NULL);
}

/* Finds a span by name across all accepted requests; *req must be freed with fo_free. */
static __attribute__((unused)) const fo_span *fo_find(struct fake_otlp *fo, const char *name,
                                                      fo_request **req)
{
    for (int i = 0; i < fo->accepted; i++) {
        fo_request *r = fo_decode(fo, i);
        for (size_t a = 0; r && a < r->n_resource_spans; a++) {
            for (size_t b = 0; b < r->resource_spans[a]->n_scope_spans; b++) {
                Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
                    r->resource_spans[a]->scope_spans[b];
                for (size_t c = 0; c < ss->n_spans; c++) {
                    if (strcmp(ss->spans[c]->name, name) == 0) {
                        *req = r;
                        return ss->spans[c];
                    }
                }
            }
        }
        if (r)
            fo_free(r);
    }
    *req = NULL;
    return NULL;
}

static __attribute__((unused)) int fo_count_spans(struct fake_otlp *fo)
{
    int n = 0;

    for (int i = 0; i < fo->accepted; i++) {
        fo_request *r = fo_decode(fo, i);
        for (size_t a = 0; r && a < r->n_resource_spans; a++) {
            for (size_t b = 0; b < r->resource_spans[a]->n_scope_spans; b++)
                n += (int)r->resource_spans[a]->scope_spans[b]->n_spans;
        }
        if (r)
            fo_free(r);
    }
    return n;
}

static __attribute__((unused)) const Opentelemetry__Proto__Common__V1__AnyValue *
fo_attr(const fo_span *s, const char *key)
{
    for (size_t i = 0; i < s->n_attributes; i++) {
        if (strcmp(s->attributes[i]->key, key) == 0)
            return s->attributes[i]->value;
    }
    return NULL;
}

/* ---- the runtime: a blocking HTTP client ---- */

struct rt_resp {
    int status;
    char head[8192];
    struct buf body;
};

static __attribute__((unused)) int rt_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request/response on an open connection (Content-Length responses only). */
static __attribute__((unused)) int rt_call(int fd, const char *method, const char *path,
                                           const char *extra_headers, const char *body,
                                           struct rt_resp *out)
{
    struct buf req;
    char tmp[65536];
    size_t have = 0;
    char *end = NULL;
    long clen = 0;

    buf_init(&req, 1 << 20);
    buf_appendf(&req, "%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %zu\r\n\r\n%s", method, path,
                extra_headers ? extra_headers : "", body ? strlen(body) : 0, body ? body : "");
    test_send_all(fd, req.data, req.len);
    buf_free(&req);
    memset(out->head, 0, sizeof(out->head));
    buf_init(&out->body, 16 << 20);
    while (!end) {
        ssize_t n = recv(fd, out->head + have, sizeof(out->head) - 1 - have, 0);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        end = strstr(out->head, "\r\n\r\n");
    }
    out->status = atoi(out->head + 9);
    {
        const char *cl = strcasestr(out->head, "\r\nContent-Length:");
        if (cl && cl < end)
            clen = strtol(cl + 17, NULL, 10);
    }
    buf_append(&out->body, end + 4, have - (size_t)(end + 4 - out->head));
    end[2] = '\0';
    while ((long)out->body.len < clen) {
        ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
        if (n <= 0)
            return -1;
        buf_append(&out->body, tmp, (size_t)n);
    }
    return 0;
}

/* ---- launching the daemon ---- */

/* Sets bin to the daemon binary of this test's build (build/tests/integ/test_x ->
 * build/tracebridge, build/asan/tests/... -> build/asan/tracebridge) and ignores SIGPIPE (a daemon
 * that dies mid-write must not kill the test). false, with a failed check, when there is no binary
 * there. */
static __attribute__((unused)) bool fl_find_daemon(struct tap *t, const char *argv0, char *bin,
                                                   size_t cap)
{
    char dir[400];

    signal(SIGPIPE, SIG_IGN);
    if (tu_build_dir(argv0, dir, sizeof(dir)) < 0)
        snprintf(dir, sizeof(dir), "build");
    if ((size_t)snprintf(bin, cap, "%s/tracebridge", dir) >= cap)
        return false;
    if (access(bin, X_OK) == 0)
        return true;
    ok(t, 0, "daemon binary %s exists", bin);
    return false;
}

/* Starts the daemon with env (NULL-terminated "K=V" list added to a clean environment);
 * its stderr goes to log_path. */
static __attribute__((unused)) pid_t spawn_daemon(const char *bin, char *const *env,
                                                  const char *log_path)
{
    pid_t pid = fork();

    if (pid == 0) {
        char *argv[] = {"tracebridge", NULL};
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execve(bin, argv, env);
        _exit(127);
    }
    return pid;
}

/* Waits for the child; returns its exit status, or -1 (killed after ms). */
static __attribute__((unused)) int wait_exit(pid_t pid, int ms)
{
    uint64_t end = fake_now_ms() + (uint64_t)ms;
    int st;

    while (fake_now_ms() < end) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(5000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* ---- the whole rig: the fakes and the real daemon ---- */

struct fl_rig {
    struct fake_lambda fl;
    struct fake_otlp fo;
    pid_t pid;
    int proxy_port;
    char ready[128];
    char log[128];
};

/* Starts the fake Lambda, the fake backend and bin with the environment every daemon test
 * needs (Runtime API, a free proxy port, the ready file, the OTLP endpoint: the fake backend
 * when endpoint is NULL; function name, region, debug logs), with extra (NULL-terminated
 * "K=V") first: a name given twice keeps the first, so extra overrides these defaults.
 * Files: /tmp/<tag>-<pid>.{ready,log}. */
static __attribute__((unused)) void fl_rig_start(struct fl_rig *r, const char *bin, const char *tag,
                                                 const char *endpoint, const char *const *extra)
{
    char *env[40];
    char buf[4][256];
    int n = 0;

    snprintf(r->ready, sizeof(r->ready), "/tmp/%s-%d.ready", tag, (int)getpid());
    snprintf(r->log, sizeof(r->log), "/tmp/%s-%d.log", tag, (int)getpid());
    unlink(r->ready);
    fl_start(&r->fl, r->ready);
    fo_start(&r->fo);
    r->proxy_port = test_free_port();
    snprintf(buf[0], 256, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", r->fl.http->port);
    snprintf(buf[1], 256, "TRACEBRIDGE_PROXY_PORT=%d", r->proxy_port);
    snprintf(buf[2], 256, "TRACEBRIDGE_READY_FILE=%s", r->ready);
    if (endpoint)
        snprintf(buf[3], 256, "OTEL_EXPORTER_OTLP_ENDPOINT=%s", endpoint);
    else
        snprintf(buf[3], 256, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", r->fo.http->port);
    for (int i = 0; extra && extra[i] && n < 30; i++)
        env[n++] = (char *)extra[i];
    for (int k = 0; k < 4; k++)
        env[n++] = buf[k];
    env[n++] = "AWS_LAMBDA_FUNCTION_NAME=orders";
    env[n++] = "AWS_REGION=eu-west-1";
    env[n++] = "TRACEBRIDGE_LOG_LEVEL=debug";
    env[n] = NULL;
    r->pid = spawn_daemon(bin, env, r->log);
}

/* Sends SHUTDOWN (reason), waits for the daemon and stops the fakes; its exit code or -1. */
static __attribute__((unused)) int fl_rig_stop(struct fl_rig *r, const char *reason)
{
    int code;

    fl_shutdown(&r->fl, reason, epoch_ms() + 2000);
    code = wait_exit(r->pid, 4000);
    fl_stop(&r->fl);
    fo_stop(&r->fo);
    return code;
}

/* Prints the daemon log's last lines as TAP comments (after a failure). */
static __attribute__((unused)) void fl_rig_dump_log(const struct fl_rig *r, int lines)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "sed 's/^/#   /' %s | tail -%d", r->log, lines);
    if (system(cmd) != 0)
        printf("# (no log)\n");
}

/* Ends a scenario after fl_rig_stop: the daemon log's tail when a check failed since
 * failed_before (t->failed when the scenario began), then frees the backend's recordings and
 * removes the log. */
static __attribute__((unused)) void fl_rig_done(struct tap *t, struct fl_rig *r, int failed_before)
{
    if (t->failed > failed_before)
        fl_rig_dump_log(r, 25);
    fo_release(&r->fo);
    unlink(r->log);
}

/* A span's string attribute, or NULL. */
static __attribute__((unused)) const char *fo_attr_str(const fo_span *s, const char *key)
{
    const Opentelemetry__Proto__Common__V1__AnyValue *v = fo_attr(s, key);

    return v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
               ? v->string_value
               : NULL;
}

#endif
