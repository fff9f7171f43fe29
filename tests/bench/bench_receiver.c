/* SPDX-License-Identifier: Apache-2.0 */
/* bench_receiver: what one OTLP export to tracebridge's local receiver costs the handler: the
 * round trip of a 10-span export over loopback on a keep-alive connection (send, buffered,
 * answered), p50/p99, for protobuf, gzip protobuf and JSON; then the receiver's throughput in
 * spans/s with 100-span protobuf exports.   usage: bench_receiver [ROUNDS] */
#include <time.h>

#include "tests/lib/receiver_harness.h"

#define SPANS_PER_EXPORT 10
#define PB               "application/x-protobuf"

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

struct payload {
    const char *label;
    const char *ctype;
    const char *extra;
    const void *body;
    size_t len;
};

/* Round trips on one keep-alive connection; prints p50/p99. 0, or -1 when an export failed. */
static int measure(int port, const struct payload *p, int rounds)
{
    double *lat = calloc((size_t)rounds, sizeof(*lat));
    struct client c;
    struct resp r;
    int i;
    int bad = 0;

    if (!lat || client_open(&c, port) < 0)
        return -1;
    for (i = -rounds / 10; i < rounds; i++) { /* the first tenth warms up */
        double t0 = now_us();

        client_post(&c, "/v1/traces", p->ctype, p->extra, p->body, p->len);
        bad += client_read(&c, &r) < 0 || r.status != 200;
        if (i >= 0)
            lat[i] = now_us() - t0;
        resp_free(&r);
    }
    client_close(&c);
    qsort(lat, (size_t)rounds, sizeof(*lat), cmp_double);
    printf("  %-34s p50 %7.1f us   p99 %7.1f us   (%d exports, %zu bytes each)\n", p->label,
           lat[rounds / 2], lat[rounds * 99 / 100], rounds, p->len);
    free(lat);
    return bad ? -1 : 0;
}

static int throughput(int port, const void *body, size_t len, size_t spans_each)
{
    struct client c;
    struct resp r;
    double t0;
    double dt;
    long n = 0;
    int bad = 0;

    if (client_open(&c, port) < 0)
        return -1;
    t0 = now_us();
    do {
        client_post(&c, "/v1/traces", PB, NULL, body, len);
        bad += client_read(&c, &r) < 0 || r.status != 200;
        resp_free(&r);
        n++;
        dt = now_us() - t0;
    } while (dt < 1e6);
    client_close(&c);
    printf("  throughput, %zu-span protobuf exports: %.0f spans/s (%.1f MB/s of OTLP)\n",
           spans_each, (double)n * (double)spans_each / (dt / 1e6), (double)n * (double)len / dt);
    return bad ? -1 : 0;
}

static char *json_export(size_t n, size_t *len)
{
    struct buf b;
    size_t i;

    buf_init(&b, 1 << 20);
    buf_append_str(&b,
                   "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
                   "\"value\":{\"stringValue\":\"bench\"}}]},\"scopeSpans\":[{\"scope\":{"
                   "\"name\":\"bench\"},\"spans\":[");
    for (i = 0; i < n; i++)
        buf_appendf(&b,
                    "%s{\"traceId\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",\"spanId\":"
                    "\"11000000000000%02zx\",\"name\":\"span-%zu\",\"kind\":1,"
                    "\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":"
                    "\"1700000000000001000\"}",
                    i ? "," : "", i + 1, i);
    buf_append_str(&b, "]}]}]}");
    return buf_take(&b, len);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 5000;
    struct rig g;
    uint8_t *pb;
    uint8_t *gz;
    uint8_t *big;
    char *json;
    size_t pblen = 0;
    size_t gzlen = 0;
    size_t biglen = 0;
    size_t jsonlen = 0;
    int rc = 0;

    signal(SIGPIPE, SIG_IGN);
    if (rounds < 100)
        rounds = 100;
    if (rig_start(&g, 4 << 20, 200000, 256 << 20) < 0) {
        fprintf(stderr, "bench_receiver: cannot start the receiver\n");
        return 1;
    }
    make_export("bench", "bench-scope", "span", SPANS_PER_EXPORT, &pb, &pblen);
    gzip_bytes(pb, pblen, &gz, &gzlen);
    json = json_export(SPANS_PER_EXPORT, &jsonlen);
    make_export("bench", "bench-scope", "span", 100, &big, &biglen);
    printf("OTLP receiver round trip over loopback, keep-alive (the handler's flush):\n");
    {
        const struct payload runs[] = {
            {"10-span export, protobuf", PB, NULL, pb, pblen},
            {"10-span export, protobuf + gzip", PB, "Content-Encoding: gzip\r\n", gz, gzlen},
            {"10-span export, JSON", "application/json", NULL, json, jsonlen},
        };
        size_t i;

        for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
            rc |= measure(g.port, &runs[i], rounds);
    }
    rc |= throughput(g.port, big, biglen, 100);
    if (rig_stop(&g) != 0)
        rc = -1;
    free(pb);
    free(gz);
    free(big);
    free(json);
    if (rc)
        fprintf(stderr, "bench_receiver: some exports failed\n");
    return rc ? 1 : 0;
}
