/* SPDX-License-Identifier: Apache-2.0 */
/* bench_rewrite: throughput of the event rewriter on SQS batches (~1 MB as in perf-anchors.md,
 * and ~6 MB, the Lambda payload limit), on ~1 MB Kafka and EventBridge->SQS batches (carriers
 * in header bytes and inside the body string), and its cost per event on a ~1 KB SQS event, next to
 * memcpy of the same bytes and the naive cJSON parse+print, in one run. Variants are
 * interleaved per round; medians are reported. Small events are timed over a loop of
 * repetitions per sample (the clock cannot resolve one). cJSON runs in a child process so its
 * heap churn does not slow the variants after it (see run_variant).
 * MB = 10^6 bytes. Prints TAP lines so tests/run.sh style tooling can read it.
 *   build/bench/bench_rewrite [rounds [label]]    (label: run only the rows whose name has it) */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proxy/promote/promote.h"

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define XR "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

enum { V_MEMCPY, V_CJSON, V_ANALYSE, V_REWRITE, V_N };
static const char *const VNAMES[V_N] = {"memcpy", "cJSON parse+print", "promote_analyse",
                                        "analyse+apply"};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One SQS ESM record whose escaped JSON body grows until the batch reaches `goal` bytes. */
static void add_record(struct buf *b, unsigned i, size_t goal)
{
    buf_appendf(b,
                "%s{\"messageId\":\"%08x-87a3-44ab-83d2-661975530690\",\"receiptHandle\":"
                "\"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a%u\",\"body\":\"{",
                i ? "," : "", i, i);
    for (unsigned k = 0; k == 0 || b->len + 700 < goal; k++)
        buf_appendf(b,
                    "%s\\\"item%u\\\":{\\\"sku\\\":\\\"SKU-%05u\\\",\\\"qty\\\":%u,"
                    "\\\"price\\\":12345678901234567890,\\\"note\\\":\\\"caf\\\\u00e9 "
                    "ok\\\"}",
                    k ? "," : "", k, k, k % 7);
    buf_appendf(b,
                "}\",\"attributes\":{\"ApproximateReceiveCount\":\"1\",\"SentTimestamp\":"
                "\"1545082649183\",\"SenderId\":\"AIDAIENQZJOLO23YVJ4VO\","
                "\"AWSTraceHeader\":\"%s\"},\"messageAttributes\":{\"traceparent\":{"
                "\"stringValue\":\"%s\",\"stringListValues\":[],\"binaryListValues\":[],"
                "\"dataType\":\"String\"}},\"md5OfBody\":"
                "\"e4e68fb7bd0e697a0ae8f1bb342846b3\",\"eventSource\":\"aws:sqs\","
                "\"eventSourceARN\":\"arn:aws:sqs:us-east-2:123456789012:my-queue\","
                "\"awsRegion\":\"us-east-2\"}",
                XR, TP);
}

/* One SQS record whose body is an EventBridge event (detail.traceparent), grown to `goal`. */
static void add_eb_record(struct buf *b, unsigned i, size_t goal)
{
    buf_appendf(b,
                "%s{\"messageId\":\"%08x-87a3-44ab-83d2-661975530690\",\"receiptHandle\":"
                "\"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a%u\",\"body\":\"{\\\"version\\\":\\\"0\\\","
                "\\\"id\\\":\\\"6a7e8feb-b491-4cf7-a9f1-bf3703467718\\\",\\\"detail-type\\\":"
                "\\\"OrderPlaced\\\",\\\"source\\\":\\\"com.example.orders\\\",\\\"account\\\":"
                "\\\"111122223333\\\",\\\"time\\\":\\\"2024-01-02T12:45:07Z\\\",\\\"region\\\":"
                "\\\"us-east-1\\\",\\\"resources\\\":[],\\\"detail\\\":{\\\"traceparent\\\":"
                "\\\"%s\\\"",
                i ? "," : "", i, i, TP);
    for (unsigned k = 0; k == 0 || b->len + 600 < goal; k++)
        buf_appendf(b,
                    ",\\\"item%u\\\":{\\\"sku\\\":\\\"SKU-%05u\\\",\\\"qty\\\":%u,"
                    "\\\"note\\\":\\\"caf\\\\u00e9 ok\\\"}",
                    k, k, k % 7);
    buf_appendf(b,
                "}}\",\"attributes\":{\"ApproximateReceiveCount\":\"1\",\"SentTimestamp\":"
                "\"1545082649183\",\"SenderId\":\"AIDAIENQZJOLO23YVJ4VO\","
                "\"AWSTraceHeader\":\"%s\"},\"messageAttributes\":{},\"md5OfBody\":"
                "\"e4e68fb7bd0e697a0ae8f1bb342846b3\",\"eventSource\":\"aws:sqs\","
                "\"eventSourceARN\":\"arn:aws:sqs:us-east-2:123456789012:my-queue\","
                "\"awsRegion\":\"us-east-2\"}",
                XR);
}

/* One MSK record: a base64 value grown to `goal`, headers as decimal byte arrays. */
static void add_kafka_record(struct buf *b, unsigned i, size_t goal)
{
    buf_appendf(b,
                "%s{\"topic\":\"orders\",\"partition\":0,\"offset\":%u,\"timestamp\":"
                "1704199507000,\"timestampType\":\"CREATE_TIME\",\"key\":\"b3JkZXItMQ==\","
                "\"value\":\"",
                i ? "," : "", i);
    while (b->len + 400 < goal)
        buf_append_str(b, "eyJpdGVtIjp7InNrdSI6IlNLVS0wMDAwMSIsInF0eSI6M319");
    buf_append_str(b, "\",\"headers\":[{\"content-type\":[97,112,112,108,105,99,97,116,105,111,"
                      "110,47,106,115,111,110]},{\"traceparent\":[");
    for (size_t k = 0; TP[k]; k++)
        buf_appendf(b, "%s%u", k ? "," : "", (unsigned char)TP[k]);
    buf_append_str(b, "]}]}");
}

enum shape { SHAPE_SQS, SHAPE_EB_SQS, SHAPE_KAFKA };

static void make_batch(struct buf *b, enum shape sh, unsigned records, size_t target)
{
    void (*add)(struct buf *, unsigned, size_t) = sh == SHAPE_SQS      ? add_record
                                                  : sh == SHAPE_EB_SQS ? add_eb_record
                                                                       : add_kafka_record;

    buf_init(b, 64u << 20);
    if (sh == SHAPE_KAFKA)
        buf_append_str(b, "{\"eventSource\":\"aws:kafka\",\"eventSourceArn\":\"arn:aws:kafka:"
                          "us-east-1:123456789012:cluster/orders/751d2973\",\"bootstrapServers\":"
                          "\"b-1.orders.kafka.us-east-1.amazonaws.com:9098\",\"records\":{"
                          "\"orders-0\":[");
    else
        buf_append_str(b, "{\"Records\":[");
    for (unsigned i = 0; i < records; i++)
        add(b, i, (size_t)(i + 1) * (target / records));
    buf_append_str(b, sh == SHAPE_KAFKA ? "]}}" : "]}");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct ctx {
    const struct buf *ev;
    char *dst;
    struct promote_conf conf;
    struct promote_analysis *a;
    size_t sink;
};

static void run_once(struct ctx *c, int v)
{
    struct promote_input in = {c->ev->data, c->ev->len, NULL, 0, NULL, 0, false};

    if (v == V_MEMCPY) {
        memcpy(c->dst, c->ev->data, c->ev->len);
        c->sink += (unsigned char)c->dst[c->ev->len / 2];
    } else if (v == V_CJSON) {
        cJSON *j = cJSON_ParseWithLength(c->ev->data, c->ev->len);
        char *s = cJSON_PrintUnformatted(j);
        c->sink += strlen(s);
        cJSON_free(s);
        cJSON_Delete(j);
    } else {
        promote_analyse(&c->conf, &in, c->a);
        if (v == V_REWRITE) {
            struct promote_output o;
            struct trace_ctx_full w = c->a->parent;
            w.ctx.span_id[0] ^= 0x5a;
            promote_apply(&c->conf, &in, c->a, &w, &o);
            c->sink += o.body.len;
            promote_output_free(&o);
        }
        c->sink += c->a->n_links;
        promote_analysis_free(c->a);
    }
}

/* Seconds per event, over `reps` back-to-back runs. */
static double time_variant(struct ctx *c, int v, unsigned reps)
{
    double t0 = now();

    for (unsigned i = 0; i < reps; i++)
        run_once(c, v);
    return (now() - t0) / reps;
}

/* cJSON runs in a helper process forked once per event size: freeing its ~10^6 nodes left
 * glibc's heap in a state where the next 100 KB malloc took ~1.4 ms, a bill the variant after
 * it paid (no such tree exists in the proxy). The helper times a sample when asked and
 * writes the seconds back; a sample of -1 means it failed. */
struct helper {
    pid_t pid;
    int ask;    /* write end: one byte per sample, EOF to stop */
    int answer; /* read end: one double per sample */
};

static int helper_start(struct helper *h, struct ctx *c, unsigned reps)
{
    int to[2];
    int from[2];
    char cmd;

    h->pid = -1;
    h->ask = -1;
    h->answer = -1;
    if (pipe(to) < 0)
        return -1;
    if (pipe(from) < 0) {
        close(to[0]);
        close(to[1]);
        return -1;
    }
    h->pid = fork();
    if (h->pid == 0) {
        close(to[1]);
        close(from[0]);
        while (read(to[0], &cmd, 1) == 1) {
            double t = time_variant(c, V_CJSON, reps);
            if (write(from[1], &t, sizeof(t)) != (ssize_t)sizeof(t))
                break;
        }
        _exit(0);
    }
    close(to[0]);
    close(from[1]);
    h->ask = to[1];
    h->answer = from[0];
    return h->pid < 0 ? -1 : 0;
}

static double helper_sample(struct helper *h)
{
    double t;

    if (h->pid < 0 || write(h->ask, "s", 1) != 1 ||
        read(h->answer, &t, sizeof(t)) != (ssize_t)sizeof(t))
        return -1;
    return t;
}

static void helper_stop(struct helper *h)
{
    if (h->ask >= 0)
        close(h->ask);
    if (h->answer >= 0)
        close(h->answer);
    if (h->pid > 0)
        waitpid(h->pid, NULL, 0);
}

static double run_variant(struct ctx *c, struct helper *h, int v, unsigned reps)
{
    return v == V_CJSON ? helper_sample(h) : time_variant(c, v, reps);
}

static const char *only; /* argv[2]: set once in main, before any row runs */

static int bench(const char *label, enum shape sh, unsigned records, size_t target, int rounds,
                 int *tn)
{
    struct buf ev;
    struct ctx c;
    double *t[V_N];
    double med[V_N];
    struct helper h;
    int bad = 0;
    unsigned reps;

    if (only && !strstr(label, only))
        return 0;
    make_batch(&ev, sh, records, target);
    reps = ev.len >= 100000 ? 1 : (unsigned)(1000000 / ev.len);
    memset(&c, 0, sizeof(c));
    c.ev = &ev;
    fflush(stdout); /* the helper must not inherit buffered output */
    bad |= helper_start(&h, &c, reps) < 0;
    c.dst = malloc(ev.len);
    c.conf.targets = PROMOTE_TARGET_HEADERS | PROMOTE_TARGET_CLIENT_CONTEXT;
    c.conf.max_event_bytes = 64u << 20;
    c.a = calloc(1, sizeof(*c.a));
    for (int v = 0; v < V_N; v++)
        t[v] = calloc((size_t)rounds, sizeof(double));
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < V_N; k++) {
            int v = (k + r) % V_N; /* rotate the order every round */
            t[v][r] = run_variant(&c, &h, v, reps);
            bad |= t[v][r] < 0;
        }
    helper_stop(&h);
    {
        struct promote_input in = {ev.data, ev.len, NULL, 0, NULL, 0, false};
        promote_analyse(&c.conf, &in, c.a);
        bad |= !c.a->found || c.a->n_links != (records < PROMOTE_MAX_LINKS ? records : 128);
        promote_analysis_free(c.a);
    }
    printf("# %s: %zu bytes, %u records, %d rounds (median)\n", label, ev.len, records, rounds);
    for (int v = 0; v < V_N; v++) {
        qsort(t[v], (size_t)rounds, sizeof(double), cmp_double);
        med[v] = t[v][rounds / 2];
        printf("#   %-20s %9.3f ms %9.0f MB/s %10.0f ns/event\n", VNAMES[v], med[v] * 1e3,
               (double)ev.len / med[v] / 1e6, med[v] * 1e9);
    }
    printf("#   analyse+apply is %.1fx faster than cJSON parse+print, %.1fx slower than memcpy\n",
           med[V_CJSON] / med[V_REWRITE], med[V_REWRITE] / med[V_MEMCPY]);
    ++*tn;
    printf("%s %d - %s: rewrite %.0f MB/s (cJSON %.0f MB/s, memcpy %.0f MB/s)\n",
           bad ? "not ok" : "ok", *tn, label, (double)ev.len / med[V_REWRITE] / 1e6,
           (double)ev.len / med[V_CJSON] / 1e6, (double)ev.len / med[V_MEMCPY] / 1e6);
    for (int v = 0; v < V_N; v++)
        free(t[v]);
    free(c.a);
    free(c.dst);
    buf_free(&ev);
    if (c.sink == 42)
        printf("#\n");
    return bad;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 31;
    int tn = 0;
    int bad = 0;

    if (rounds < 1)
        rounds = 1;
    only = argc > 2 ? argv[2] : NULL;
    bad |= bench("1 KB SQS event", SHAPE_SQS, 1, 1420, rounds, &tn);
    bad |= bench("1 MB SQS batch", SHAPE_SQS, 150, 1006663, rounds, &tn);
    bad |= bench("1 MB Kafka batch", SHAPE_KAFKA, 150, 1006663, rounds, &tn);
    bad |= bench("1 MB EventBridge->SQS batch", SHAPE_EB_SQS, 150, 1006663, rounds, &tn);
    bad |= bench("6 MB SQS batch", SHAPE_SQS, 900, 6000000, rounds, &tn);
    printf("1..%d\n", tn);
    return bad;
}
