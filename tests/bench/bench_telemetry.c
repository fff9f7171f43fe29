/* SPDX-License-Identifier: Apache-2.0 */
/* bench_telemetry: what the Telemetry API path costs per invocation, on the daemon's loop.
 *
 *   per invocation  one batch as Lambda sends it for an invocation (platform.start,
 *                   runtimeDone, report: ~1.3 KB), parsed; its facts correlated; the ended
 *                   invocation span held and released with its attributes (the whole path but
 *                   the socket read and the OTLP encoding);
 *   parse only      the same batch through tm_parse_batch, next to cJSON parse+delete of it;
 *   full batch      a 1000-event batch (the subscription's maxItems; ~400 KB), parsed and
 *                   correlated: the longest the loop is ever busy with one batch;
 *   memory          the facts table and the listener's buffers (bytes allocated).
 * Median of rounds, in ns. usage: bench_telemetry [ROUNDS] */
#include <cjson/cJSON.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "extension/telemetry/internal.h"
#include "extension/telemetry/telemetry.h"

#define PER_ROUND 2000

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return v[n / 2];
}

static void invocation_batch(char *out, size_t cap, const char *rid)
{
    snprintf(out, cap,
             "[{\"time\":\"2026-11-23T10:00:01.000Z\",\"type\":\"platform.start\",\"record\":"
             "{\"requestId\":\"%s\",\"version\":\"$LATEST\",\"tracing\":{\"spanId\":"
             "\"54565fb41ac79632\",\"type\":\"X-Amzn-Trace-Id\",\"value\":\"Root=1-5759e988-"
             "bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\"}}},"
             "{\"time\":\"2026-11-23T10:00:01.020Z\",\"type\":\"platform.runtimeDone\",\"record\":"
             "{\"requestId\":\"%s\",\"status\":\"success\",\"metrics\":{\"durationMs\":20.1,"
             "\"producedBytes\":42},\"tracing\":{\"spanId\":\"54565fb41ac79632\",\"type\":"
             "\"X-Amzn-Trace-Id\",\"value\":\"Root=1-5759e988-bd862e3fe1be46a994272793;Parent="
             "53995c3f42cd8ad8;Sampled=1\"},\"spans\":[{\"name\":\"responseLatency\",\"start\":"
             "\"2026-11-23T10:00:01.001Z\",\"durationMs\":18.0},{\"name\":\"responseDuration\","
             "\"start\":\"2026-11-23T10:00:01.019Z\",\"durationMs\":0.4}]}},"
             "{\"time\":\"2026-11-23T10:00:01.030Z\",\"type\":\"platform.report\",\"record\":"
             "{\"requestId\":\"%s\",\"status\":\"success\",\"metrics\":{\"durationMs\":29.63,"
             "\"billedDurationMs\":30,\"memorySizeMB\":128,\"maxMemoryUsedMB\":71},\"tracing\":"
             "{\"spanId\":\"54565fb41ac79632\",\"type\":\"X-Amzn-Trace-Id\",\"value\":\"Root=1-"
             "5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\"}}}]",
             rid, rid, rid);
}

struct run {
    struct tm_facts *f;
    uint64_t now;
    size_t released;
};

static void on_event(void *arg, const struct tm_event *ev)
{
    struct run *r = arg;

    tm_facts_event(r->f, ev, r->now);
}

static void on_ready(void *arg, struct span *s)
{
    ((struct run *)arg)->released += s->attrs.len > 0;
}

static void span_of(struct span *s, const char *rid)
{
    span_init(s);
    memset(s->ctx.trace_id, 7, 16);
    memset(s->ctx.span_id, 8, 8);
    (void)span_set_name(s, "process orders");
    (void)attr_list_add_str(&s->attrs, "faas.invocation_id", rid);
    (void)attr_list_add_str(&s->attrs, "faas.trigger", "pubsub");
    (void)attr_list_add_bool(&s->attrs, "faas.coldstart", false);
}

static double per_invocation(struct run *r, struct ids *ids, int i0)
{
    static struct tm_event scratch;
    struct tm_parse_stats st;
    char rid[48];
    char batch[4096];
    struct span s;
    uint64_t t0;
    uint64_t spent = 0;

    (void)ids;
    for (int i = 0; i < PER_ROUND; i++) {
        snprintf(rid, sizeof(rid), "6d68ca91-49c9-448d-89b8-%012d", i0 + i);
        invocation_batch(batch, sizeof(batch), rid);
        span_of(&s, rid);
        t0 = now_ns();
        tm_facts_span(r->f, &s, r->now); /* held: the report is not in yet */
        (void)tm_parse_batch(batch, strlen(batch), &scratch, on_event, r, &st);
        tm_facts_point(r->f, TM_POINT_SETTLED, true, r->now);
        spent += now_ns() - t0;
        span_free(&s);
        r->now++;
    }
    return (double)spent / PER_ROUND;
}

static double parse_only(const char *batch, bool with_cjson)
{
    static struct tm_event scratch;
    struct tm_parse_stats st;
    uint64_t t0 = now_ns();

    for (int i = 0; i < PER_ROUND; i++) {
        if (with_cjson)
            cJSON_Delete(cJSON_ParseWithLength(batch, strlen(batch)));
        else
            (void)tm_parse_batch(batch, strlen(batch), &scratch, NULL, NULL, &st);
    }
    return (double)(now_ns() - t0) / PER_ROUND;
}

static char *full_batch(size_t *len)
{
    size_t cap = 1100 * 1500;
    char *b = malloc(cap);
    size_t n = 0;

    b[n++] = '[';
    for (int i = 0; i < 1000; i++) {
        char one[4096];
        char rid[48];
        snprintf(rid, sizeof(rid), "c0ffee00-49c9-448d-89b8-%012d", i / 3);
        invocation_batch(one, sizeof(one), rid);
        one[strlen(one) - 1] = '\0'; /* drop the closing bracket */
        n += (size_t)snprintf(b + n, cap - n, "%s%s", i ? "," : "", one + 1);
    }
    b[n++] = ']';
    b[n] = '\0';
    *len = n;
    return b;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 15;
    struct ids ids;
    struct run r = {0};
    struct tm_facts_hooks h = {.arg = &r, .span_ready = on_ready};
    double inv[64], p[64], pc[64], full[64];
    char batch[4096];
    size_t flen;
    char *fb = full_batch(&flen);
    static struct tm_event scratch;
    struct tm_parse_stats st;
    struct mallinfo2 before, after;
    size_t facts_bytes;

    if (rounds < 1 || rounds > 64)
        rounds = 15;
    ids_init(&ids);
    before = mallinfo2();
    r.f = tm_facts_new(&ids, &h, NULL);
    after = mallinfo2();
    facts_bytes = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);
    /* live: one event first */
    invocation_batch(batch, sizeof(batch), "warm-up");
    (void)tm_parse_batch(batch, strlen(batch), &scratch, on_event, &r, &st);
    for (int k = 0; k < rounds; k++) {
        uint64_t t0;
        inv[k] = per_invocation(&r, &ids, k * PER_ROUND);
        p[k] = parse_only(batch, false);
        pc[k] = parse_only(batch, true);
        t0 = now_ns();
        (void)tm_parse_batch(fb, flen, &scratch, on_event, &r, &st);
        full[k] = (double)(now_ns() - t0);
    }
    printf("telemetry_per_invocation_ns %.0f\n", median(inv, rounds));
    printf("telemetry_batch_bytes %zu\n", strlen(batch));
    printf("telemetry_parse_ns %.0f\n", median(p, rounds));
    printf("cjson_parse_delete_ns %.0f\n", median(pc, rounds));
    printf("telemetry_full_batch_bytes %zu\n", flen);
    printf("telemetry_full_batch_us %.1f\n", median(full, rounds) / 1000);
    printf("telemetry_released_with_facts %zu\n", r.released);
    printf("telemetry_facts_bytes %zu\n", facts_bytes);
    printf("\nper invocation (batch of start+runtimeDone+report, %zu B; hold, parse, correlate, "
           "release with attributes): %.2f us\n",
           strlen(batch), median(inv, rounds) / 1000);
    printf("parse only: %.2f us (cJSON parse+delete of the same batch: %.2f us)\n",
           median(p, rounds) / 1000, median(pc, rounds) / 1000);
    printf("a full 1000-event batch (%zu KB): %.0f us of loop time\n", flen / 1000,
           median(full, rounds) / 1000);
    printf("memory: the facts table %zu KiB (calloc: pages are touched as entries are used); "
           "per connection a %d KiB head and up to %d KiB body while a batch is read\n",
           facts_bytes / 1024, TMS_MAX_HEAD / 1024, TMS_MAX_BODY / 1024);
    tm_facts_point(r.f, TM_POINT_ALL, false, r.now);
    tm_facts_free(r.f);
    free(fb);
    return r.released > 0 ? 0 : 1;
}
