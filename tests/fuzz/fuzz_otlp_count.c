/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_count_spans on arbitrary bytes (the receiver's untrusted input). Invariants:
 *  - when the walker accepts the bytes, protobuf-c unpacks them too (the walker is the
 *    stricter of the two: it also rejects groups, over-64-bit varints and nesting past
 *    OTLP_MAX_DEPTH, which protobuf-c accepts or would recurse on without limit), and both
 *    count the same spans;
 *  - an accepted request converts to JSON, and when its ids have OTLP's lengths (16/8 bytes or
 *    none: otlp_json_to_protobuf rejects other hex lengths) that JSON converts back to a request
 *    with the same number of spans.
 * Requests protobuf-c accepts but the walker rejects are allowed (see the list above). */
#include <errno.h>
#include <stdbool.h>

#include "extension/otlp/otlp.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "tests/fuzz/fuzz_common.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;

static long tree_spans(const Request *r)
{
    long n = 0;

    for (size_t i = 0; i < r->n_resource_spans; i++)
        for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++)
            n += (long)r->resource_spans[i]->scope_spans[j]->n_spans;
    return n;
}

static bool id_ok(const ProtobufCBinaryData *d, size_t want)
{
    return d->len == 0 || d->len == want;
}

static bool span_ids_ok(const Opentelemetry__Proto__Trace__V1__Span *s)
{
    if (!id_ok(&s->trace_id, 16) || !id_ok(&s->span_id, 8) || !id_ok(&s->parent_span_id, 8))
        return false;
    for (size_t i = 0; i < s->n_links; i++)
        if (!id_ok(&s->links[i]->trace_id, 16) || !id_ok(&s->links[i]->span_id, 8))
            return false;
    return true;
}

static bool ids_ok(const Request *r)
{
    for (size_t i = 0; i < r->n_resource_spans; i++)
        for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++)
            for (size_t k = 0; k < r->resource_spans[i]->scope_spans[j]->n_spans; k++)
                if (!span_ids_ok(r->resource_spans[i]->scope_spans[j]->spans[k]))
                    return false;
    return true;
}

static void check_json(const uint8_t *data, size_t size, const Request *r, long spans)
{
    struct buf json;
    struct buf pb;
    int rc;

    buf_init(&json, 64u << 20);
    buf_init(&pb, 64u << 20);
    FUZZ_ASSERT(otlp_protobuf_to_json(data, size, &json) == 0);
    rc = otlp_json_to_protobuf(json.data, json.len, &pb);
    FUZZ_ASSERT(rc == (ids_ok(r) ? 0 : -EBADMSG));
    FUZZ_ASSERT(rc < 0 || otlp_count_spans(pb.data, pb.len) == spans);
    buf_free(&json);
    buf_free(&pb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long n = otlp_count_spans(data, size);
    Request *r;

    FUZZ_ASSERT(n >= 0 || n == -EBADMSG);
    r = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, size,
                                                                                         data);
    if (n >= 0 && r == NULL) {
        /* protobuf-c is stricter than the wire format in corner cases (a singular message
         * field repeated with empty values fails its merge): the JSON path must then say
         * EBADMSG, which makes the exporter drop that one entry instead of blocking. */
        struct buf json;
        buf_init(&json, 64u << 20);
        FUZZ_ASSERT(otlp_protobuf_to_json(data, size, &json) == -EBADMSG);
        buf_free(&json);
    } else if (n >= 0) {
        FUZZ_ASSERT(tree_spans(r) == n);
        check_json(data, size, r, n);
    }
    if (r)
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
            r, NULL);
    return 0;
}
