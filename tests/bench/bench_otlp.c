/* SPDX-License-Identifier: Apache-2.0 */
/* bench_otlp: cost of the OTLP codec.
 *  - ns per encoded span: the typical invocation span (tests/lib/otlp_sample.h: 12 attributes,
 *    2 events, 3 links), hand-written encoder next to protobuf-c packing the same message;
 *  - otlp_count_spans throughput on a ~1 MB request (concatenated spans), next to protobuf-c
 *    unpack+free of the same bytes;
 *  - protobuf -> OTLP/JSON and OTLP/JSON -> protobuf on the same request.
 * Medians over rounds; MB = 10^6 bytes. Prints TAP lines.   build/bench/bench_otlp [rounds] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "extension/otlp/otlp.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "tests/lib/otlp_sample.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;

#define ENCODES_PER_ROUND 20000
#define REQUEST_GOAL      1000000
#define MAX_ROUNDS        101

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

struct fixture {
    struct otlp_resource *r;
    struct span s;
    struct buf one;  /* one encoded request */
    struct buf big;  /* ~1 MB of concatenated requests */
    struct buf json; /* big as OTLP/JSON */
    long spans;
};

static int fixture_init(struct fixture *f)
{
    f->r = sample_resource();
    span_init(&f->s);
    buf_init(&f->one, 1u << 20);
    buf_init(&f->big, 4u << 20);
    buf_init(&f->json, 64u << 20);
    if (!f->r || sample_span(&f->s) < 0 || otlp_encode_span(f->r, &f->s, &f->one) < 0)
        return -1;
    while (f->big.len < REQUEST_GOAL)
        if (buf_append(&f->big, f->one.data, f->one.len) < 0)
            return -1;
    f->spans = otlp_count_spans(f->big.data, f->big.len);
    return otlp_protobuf_to_json(f->big.data, f->big.len, &f->json);
}

static void fixture_free(struct fixture *f)
{
    span_free(&f->s);
    otlp_resource_free(f->r);
    buf_free(&f->one);
    buf_free(&f->big);
    buf_free(&f->json);
}

/* ns per span: our encoder, and protobuf-c packing the same (already built) message. */
static void time_encode(struct fixture *f, double *ours, double *pbc)
{
    Request *req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        NULL, f->one.len, (const uint8_t *)f->one.data);
    uint8_t *tmp = malloc(f->one.len);
    struct buf out;
    double t0;

    buf_init(&out, 1u << 20);
    t0 = now();
    for (int i = 0; i < ENCODES_PER_ROUND; i++) {
        buf_reset(&out);
        otlp_encode_span(f->r, &f->s, &out);
    }
    *ours = (now() - t0) * 1e9 / ENCODES_PER_ROUND;
    t0 = now();
    for (int i = 0; req && tmp && i < ENCODES_PER_ROUND; i++)
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(req, tmp);
    *pbc = (now() - t0) * 1e9 / ENCODES_PER_ROUND;
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                            NULL);
    free(tmp);
    buf_free(&out);
}

enum { T_COUNT, T_UNPACK, T_TOJSON, T_FROMJSON, T_N };

/* Seconds for one pass of each whole-request operation over f->big (or f->json). */
static void time_request(struct fixture *f, double *sec)
{
    struct buf out;
    Request *req;
    double t0 = now();

    buf_init(&out, 64u << 20);
    if (otlp_count_spans(f->big.data, f->big.len) != f->spans)
        fprintf(stderr, "count changed\n");
    sec[T_COUNT] = now() - t0;
    t0 = now();
    req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        NULL, f->big.len, (const uint8_t *)f->big.data);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                            NULL);
    sec[T_UNPACK] = now() - t0;
    t0 = now();
    otlp_protobuf_to_json(f->big.data, f->big.len, &out);
    sec[T_TOJSON] = now() - t0;
    buf_reset(&out);
    t0 = now();
    otlp_json_to_protobuf(f->json.data, f->json.len, &out);
    sec[T_FROMJSON] = now() - t0;
    buf_free(&out);
}

static void report(struct fixture *f, int rounds, double enc, double pbc, double *sec)
{
    double mb = (double)f->big.len / 1e6;
    int n = 0;

    printf("# typical invocation span: %zu bytes encoded (12 attributes, 2 events, 3 links)\n",
           f->one.len);
    printf("#   otlp_encode_span          %8.0f ns/span\n", enc);
    printf("#   protobuf-c pack (same)    %8.0f ns/span (message already built)\n", pbc);
    printf("# request: %zu bytes, %ld spans; %d rounds (median)\n", f->big.len, f->spans, rounds);
    printf("#   otlp_count_spans          %8.0f MB/s  %8.3f ms\n", mb / sec[T_COUNT],
           sec[T_COUNT] * 1e3);
    printf("#   protobuf-c unpack+free    %8.0f MB/s  %8.3f ms\n", mb / sec[T_UNPACK],
           sec[T_UNPACK] * 1e3);
    printf("#   otlp_protobuf_to_json     %8.0f MB/s  %8.3f ms (protobuf MB)\n", mb / sec[T_TOJSON],
           sec[T_TOJSON] * 1e3);
    printf("#   otlp_json_to_protobuf     %8.0f MB/s  %8.3f ms (%zu bytes of JSON)\n",
           (double)f->json.len / 1e6 / sec[T_FROMJSON], sec[T_FROMJSON] * 1e3, f->json.len);
    printf("ok %d - encode: %.0f ns/span (protobuf-c pack %.0f ns)\n", ++n, enc, pbc);
    printf("ok %d - count_spans: %.0f MB/s on a %.1f MB request\n", ++n, mb / sec[T_COUNT], mb);
    printf("ok %d - protobuf->json %.0f MB/s, json->protobuf %.0f MB/s\n", ++n, mb / sec[T_TOJSON],
           (double)f->json.len / 1e6 / sec[T_FROMJSON]);
    printf("1..%d\n", n);
}

int main(int argc, char **argv)
{
    static double enc[MAX_ROUNDS], pbc[MAX_ROUNDS], sec[T_N][MAX_ROUNDS];
    int rounds = argc > 1 ? atoi(argv[1]) : 21;
    double med[T_N];
    double one[T_N];
    struct fixture f;

    if (rounds < 1 || rounds > MAX_ROUNDS)
        rounds = 21;
    if (fixture_init(&f) < 0) {
        printf("not ok 1 - bench fixture\n1..1\n");
        fixture_free(&f);
        return 1;
    }
    for (int r = 0; r < rounds; r++) {
        time_encode(&f, &enc[r], &pbc[r]);
        time_request(&f, one);
        for (int t = 0; t < T_N; t++)
            sec[t][r] = one[t];
    }
    for (int t = 0; t < T_N; t++)
        med[t] = median(sec[t], rounds);
    report(&f, rounds, median(enc, rounds), median(pbc, rounds), med);
    fixture_free(&f);
    return 0;
}
