/* SPDX-License-Identifier: Apache-2.0 */
/* OTLP encoding: the hand-written span encoder checked field by field with protobuf-c's
 * decoder, the strict wire walker on valid, concatenated and malformed inputs, the JSON
 * converters (round trips and edge cases) and the -E2BIG limits. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "extension/otlp/otlp.h"
#include "extension/otlp/internal.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "tests/lib/otlp_sample.h"
#include "tests/lib/tap.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

#define MB (1u << 20)

static Request *unpack(const struct buf *b)
{
    return opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
        NULL, b->len, (const uint8_t *)b->data);
}

static void unpack_free(Request *r)
{
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(r,
                                                                                            NULL);
}

static bool bytes_hex(const ProtobufCBinaryData *d, const char *hex)
{
    char tmp[64];

    if (d->len * 2 != strlen(hex) || d->len > 32)
        return false;
    hex_encode(d->data, d->len, tmp);
    return memcmp(tmp, hex, d->len * 2) == 0;
}

static const KeyValue *find_kv(KeyValue **kvs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kvs[i]->key, key) == 0)
            return kvs[i];
    return NULL;
}

/* Encodes the sample span into b; 0 or the encoder's error. */
static int encode_sample(struct buf *b)
{
    struct otlp_resource *r = sample_resource();
    struct span s;
    int rc = -ENOMEM;

    span_init(&s);
    if (r && sample_span(&s) == 0)
        rc = otlp_encode_span(r, &s, b);
    span_free(&s);
    otlp_resource_free(r);
    return rc;
}

static void check_span_attrs(struct tap *t, const Span *sp)
{
    const KeyValue *kv;

    is_int(t, sp->n_attributes, 12, "12 attributes");
    kv = find_kv(sp->attributes, sp->n_attributes, "faas.trigger");
    ok(t, kv && kv->value->value_case == 1 && strcmp(kv->value->string_value, "pubsub") == 0,
       "string attribute");
    kv = find_kv(sp->attributes, sp->n_attributes, "tracebridge.carrier.depth");
    ok(t, kv && kv->value->value_case == 3 && kv->value->int_value == -2, "negative int attribute");
    kv = find_kv(sp->attributes, sp->n_attributes, "tracebridge.overhead_ms");
    ok(t, kv && kv->value->value_case == 4 && kv->value->double_value == 0.042, "double attribute");
    kv = find_kv(sp->attributes, sp->n_attributes, "faas.coldstart");
    ok(t, kv && kv->value->value_case == 2 && kv->value->bool_value, "bool attribute");
}

static void check_events_links(struct tap *t, const Span *sp)
{
    const KeyValue *kv;

    is_int(t, sp->n_events, 2, "two events");
    is_str(t, sp->events[0]->name, "exception", "event name");
    ok(t, sp->events[0]->time_unix_nano == SAMPLE_START_NS + 1000, "event time");
    kv = find_kv(sp->events[0]->attributes, sp->events[0]->n_attributes, "exception.message");
    ok(t, kv && strcmp(kv->value->string_value, "boom \"quoted\"\n") == 0, "event attribute");
    is_int(t, sp->events[1]->n_attributes, 0, "event without attributes");
    is_int(t, sp->n_links, 3, "three links");
    ok(t, bytes_hex(&sp->links[0]->trace_id, SAMPLE_LINK_TRACE), "link trace id");
    ok(t, bytes_hex(&sp->links[1]->span_id, "0000000000000002"), "link span id");
    is_str(t, sp->links[0]->trace_state, "congo=t61rcWkgMzE", "link trace_state");
    is_str(t, sp->links[1]->trace_state, "", "link without trace_state");
    is_int(t, sp->links[2]->flags, 0x301, "link flags: sampled + has-is-remote + is-remote");
    kv = find_kv(sp->links[2]->attributes, sp->links[2]->n_attributes, "batch.index");
    ok(t, kv && kv->value->int_value == 2, "link attribute");
}

static void test_encode_fields(struct tap *t)
{
    struct buf b;
    Request *req;
    const Span *sp;

    buf_init(&b, MB);
    is_int(t, encode_sample(&b), 0, "encode the sample span");
    req = unpack(&b);
    ok(t, req != NULL, "protobuf-c decodes the request");
    if (!req) {
        buf_free(&b);
        return;
    }
    ok(t,
       req->n_resource_spans == 1 && req->resource_spans[0]->n_scope_spans == 1 &&
           req->resource_spans[0]->scope_spans[0]->n_spans == 1,
       "one resource, one scope, one span");
    ok(t,
       find_kv(req->resource_spans[0]->resource->attributes,
               req->resource_spans[0]->resource->n_attributes, "faas.max_memory")
               ->value->int_value == 536870912,
       "resource attributes");
    is_str(t, req->resource_spans[0]->scope_spans[0]->scope->name, "tracebridge", "scope name");
    is_str(t, req->resource_spans[0]->scope_spans[0]->scope->version, "0.1.0", "scope version");
    sp = req->resource_spans[0]->scope_spans[0]->spans[0];
    ok(t, bytes_hex(&sp->trace_id, SAMPLE_TRACE_ID), "trace id (16 bytes)");
    ok(t, bytes_hex(&sp->span_id, SAMPLE_SPAN_ID), "span id (8 bytes)");
    ok(t, bytes_hex(&sp->parent_span_id, SAMPLE_PARENT_ID), "parent span id");
    is_str(t, sp->trace_state, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "trace_state");
    is_int(t, sp->flags, 0x301, "flags: W3C sampled + parent is remote (0x100|0x200)");
    is_str(t, sp->name, "orders process", "name");
    is_int(t, sp->kind, 5, "kind consumer");
    ok(t, sp->start_time_unix_nano == SAMPLE_START_NS && sp->end_time_unix_nano == SAMPLE_END_NS,
       "start and end times");
    check_span_attrs(t, sp);
    check_events_links(t, sp);
    ok(t, sp->status && sp->status->code == 2 && strcmp(sp->status->message, "handler threw") == 0,
       "status code and message");
    unpack_free(req);
    buf_free(&b);
}

/* The encoder must produce exactly what protobuf-c packs for the same message (canonical field
 * order, defaults left out), for the sample and for a minimal root span. */
static void test_encode_canonical(struct tap *t)
{
    struct otlp_resource *r = otlp_resource_new(NULL, NULL, NULL);
    struct buf b;
    struct buf again;
    struct span s;
    Request *req;

    buf_init(&b, MB);
    buf_init(&again, MB);
    encode_sample(&b);
    span_init(&s);
    traceparent_parse("00-" SAMPLE_TRACE_ID "-" SAMPLE_SPAN_ID "-00", TRACEPARENT_LEN, &s.ctx);
    s.kind = 0;
    is_int(t, otlp_encode_span(r, &s, &b), 0, "encode a bare root span (no name, no times)");
    req = unpack(&b);
    ok(t, req != NULL, "two concatenated requests decode as one");
    if (req) {
        const Span *root = req->resource_spans[1]->scope_spans[0]->spans[0];
        is_int(t, req->n_resource_spans, 2, "two resource_spans");
        is_int(t, root->flags, 0x100, "root span: has-is-remote only");
        is_int(t, root->parent_span_id.len, 0, "root span: no parent");
        buf_reserve(&again, b.len);
        again.len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(
            req, (uint8_t *)again.data);
        ok(t, again.len == b.len && memcmp(again.data, b.data, b.len) == 0,
           "bytes equal protobuf-c's own packing");
        unpack_free(req);
    }
    span_free(&s);
    otlp_resource_free(r);
    buf_free(&b);
    buf_free(&again);
}

static void test_encode_limits(struct tap *t)
{
    struct buf full;
    struct buf b;

    buf_init(&full, MB);
    encode_sample(&full);
    buf_init(&b, full.len - 1);
    is_int(t, encode_sample(&b), -E2BIG, "one byte short of the limit: -E2BIG");
    is_int(t, b.len, 0, "and nothing appended");
    buf_free(&b);
    buf_init(&b, full.len);
    is_int(t, encode_sample(&b), 0, "exactly at the limit: fits");
    is_int(t, encode_sample(&b), -E2BIG, "a second one does not");
    is_int(t, b.len, full.len, "the first is intact");
    buf_free(&b);
    buf_free(&full);
}

static long count_bytes(const char *p, size_t n)
{
    return otlp_count_spans(p, n);
}

static void test_count_valid(struct tap *t)
{
    struct buf b;
    size_t one;
    long bad_prefixes = 0;

    buf_init(&b, MB);
    encode_sample(&b);
    one = b.len;
    is_int(t, otlp_count_spans(b.data, b.len), 1, "one span");
    encode_sample(&b);
    encode_sample(&b);
    is_int(t, otlp_count_spans(b.data, b.len), 3, "three concatenated requests: 3 spans");
    is_int(t, otlp_count_spans(NULL, 0), 0, "empty request: 0 spans");
    for (size_t k = 1; k < one; k++)
        bad_prefixes += otlp_count_spans(b.data, k) == -EBADMSG;
    is_int(t, bad_prefixes, one - 1, "every truncation of a request is -EBADMSG");
    is_int(t, count_bytes("\x0a\x02\x12\x00", 4), 0, "scope_spans without spans: 0");
    is_int(t, count_bytes("\x0a\x06\x12\x04\x12\x00\x12\x00", 8), 2, "two empty spans: 2");
    buf_free(&b);
}

static void test_count_unknown(struct tap *t)
{
    /* unknown fields of every wire type, at the top and inside a span */
    static const char top[] = "\xf8\x06\x05"                             /* 111 varint */
                              "\xf9\x06\x01\x02\x03\x04\x05\x06\x07\x08" /* 111 i64 */
                              "\xfa\x06\x02\xff\xff"                     /* 111 len */
                              "\xfd\x06\x01\x02\x03\x04"                 /* 111 i32 */
                              "\x0a\x07\x12\x05\x12\x03\xa0\x01\x7f";    /* span { 20: 127 } */

    is_int(t, count_bytes(top, sizeof(top) - 1), 1, "unknown fields of every wire type skipped");
    is_int(t, count_bytes("\x0a\x05\x9a\x3f\x02\x08\x01", 7), 0,
           "unknown field in ResourceSpans skipped");
    is_int(t, count_bytes("\x0a\x03\xc2\x3e\x00", 5), 0,
           "reserved field 1000 of ResourceSpans skipped");
    is_int(t, count_bytes("\x0a\x06\x12\x04\x12\x02\x7a\x00", 8), 1, "empty status");
    /* span { kind: -1 (10-byte varint) } */
    is_int(t,
           count_bytes("\x0a\x0f\x12\x0d\x12\x0b\x30\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 17),
           1, "negative enum value");
}

static void test_count_malformed(struct tap *t)
{
    static const struct {
        const char *bytes;
        size_t n;
        const char *what;
    } bad[] = {
        {"\x08\x01", 2, "field 1 as varint (wrong wire type)"},
        {"\x0b", 1, "group start"},
        {"\x0c", 1, "group end"},
        {"\x0e", 1, "wire type 6"},
        {"\x00\x00", 2, "field number 0"},
        {"\x0a", 1, "tag without length"},
        {"\x0a\x05\x00", 3, "length past the end"},
        {"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11, "length of 2^64-ish"},
        {"\x0a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 12, "11-byte varint"},
        {"\xf8\x06\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 12, "varint over 64 bits"},
        {"\xf8\x06\x80", 3, "truncated varint"},
        {"\xf9\x06\x01\x02", 4, "truncated i64"},
        {"\xfd\x06\x01", 3, "truncated i32"},
        {"\x80\x80\x80\x80\x80\x01", 6, "tag over 32 bits"},
        {"\x0a\x04\x12\x02\x12\x01", 6, "span length past its parent"},
        {"\x0a\x06\x12\x04\x12\x02\x28\x01", 8, "span name as varint"},
        {"\x0a\x06\x12\x04\x12\x02\x30\xff", 8, "truncated kind inside a span"},
        {"\x0a\x08\x12\x06\x12\x04\x85\x01\x01\x00", 10, "span flags truncated"},
        {"\x0a\x07\x12\x05\x12\x03\x80\x01\x00", 9, "span flags as varint"},
        {"\x0a\x06\x12\x04\x12\x02\x4a\x01", 8, "attribute length past the span"},
        {"\x0a\x08\x12\x06\x12\x04\x4a\x02\x12\x01", 10, "AnyValue truncated"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        is_int(t, count_bytes(bad[i].bytes, bad[i].n), -EBADMSG, "malformed: %s", bad[i].what);
}

/* ArrayValue nested `levels` deep inside one span attribute. */
static void nested_request(struct buf *b, int levels)
{
    struct buf inner;
    struct buf wrap;

    buf_init(&inner, MB);
    buf_init(&wrap, MB);
    buf_append(&inner, "\x10\x01", 2); /* AnyValue{bool_value: true} */
    for (int i = 0; i < levels; i++) {
        uint8_t hdr[16];
        uint8_t *p;
        buf_reset(&wrap);
        p = pb_put_len_header(hdr, 1, inner.len); /* ArrayValue.values */
        buf_append(&wrap, hdr, (size_t)(p - hdr));
        buf_append(&wrap, inner.data, inner.len);
        buf_reset(&inner);
        p = pb_put_len_header(hdr, 5, wrap.len); /* AnyValue.array_value */
        buf_append(&inner, hdr, (size_t)(p - hdr));
        buf_append(&inner, wrap.data, wrap.len);
    }
    /* KeyValue.value, Span.attributes, ScopeSpans.spans, ResourceSpans.scope_spans, request */
    static const uint32_t fields[] = {2, 9, 2, 2, 1};
    for (size_t i = 0; i < 5; i++) {
        uint8_t hdr[16];
        uint8_t *p = pb_put_len_header(hdr, fields[i], inner.len);
        buf_reset(&wrap);
        buf_append(&wrap, hdr, (size_t)(p - hdr));
        buf_append(&wrap, inner.data, inner.len);
        buf_reset(&inner);
        buf_append(&inner, wrap.data, wrap.len);
    }
    buf_reset(b);
    buf_append(b, inner.data, inner.len);
    buf_free(&inner);
    buf_free(&wrap);
}

static void test_count_depth(struct tap *t)
{
    struct buf b;
    struct buf j;
    /* request 0, resource_spans 1, scope_spans 2, span 3, key_value 4, any_value 5; then each
     * level adds an ArrayValue and an AnyValue. */
    int ok_levels = (OTLP_MAX_DEPTH - 5) / 2;

    buf_init(&b, 4 * MB);
    buf_init(&j, 4 * MB);
    nested_request(&b, ok_levels);
    is_int(t, otlp_count_spans(b.data, b.len), 1, "%d nested arrays: accepted", ok_levels);
    is_int(t, otlp_protobuf_to_json(b.data, b.len, &j), 0, "and converted to JSON");
    nested_request(&b, ok_levels + 1);
    is_int(t, otlp_count_spans(b.data, b.len), -EBADMSG, "one more level: -EBADMSG");
    nested_request(&b, 20000);
    is_int(t, otlp_count_spans(b.data, b.len), -EBADMSG, "20000 levels: -EBADMSG, no overflow");
    buf_reset(&j);
    is_int(t, otlp_protobuf_to_json(b.data, b.len, &j), -EBADMSG,
           "and the converter refuses it before protobuf-c recurses");
    buf_free(&b);
    buf_free(&j);
}

static bool same_buf(const struct buf *a, const struct buf *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void test_roundtrip_sample(struct tap *t)
{
    struct buf pb;
    struct buf json;
    struct buf back;

    buf_init(&pb, MB);
    buf_init(&json, MB);
    buf_init(&back, MB);
    encode_sample(&pb);
    encode_sample(&pb);
    is_int(t, otlp_protobuf_to_json(pb.data, pb.len, &json), 0, "sample to JSON");
    ok(t, strstr(json.data, "\"traceId\":\"" SAMPLE_TRACE_ID "\"") != NULL, "trace id in hex");
    ok(t, strstr(json.data, "\"parentSpanId\":\"" SAMPLE_PARENT_ID "\"") != NULL,
       "parent id in hex");
    ok(t, strstr(json.data, "\"startTimeUnixNano\":\"1700000000123456789\"") != NULL,
       "fixed64 as a decimal string");
    ok(t, strstr(json.data, "\"kind\":5") && strstr(json.data, "\"code\":2"), "enums as ints");
    ok(t,
       strstr(json.data, "{\"key\":\"tracebridge.carrier.depth\",\"value\":{\"intValue\":\"-2\"}}"),
       "intValue as a string");
    ok(t, strstr(json.data, "\"doubleValue\":0.042}"), "doubleValue as a number");
    ok(t, strstr(json.data, "\"boom \\\"quoted\\\"\\n\""), "quotes and newline escaped");
    ok(t, strstr(json.data, "\"flags\":769"), "flags");
    is_int(t, otlp_json_to_protobuf(json.data, json.len, &back), 0, "JSON back to protobuf");
    ok(t, same_buf(&pb, &back), "pb -> json -> pb gives the same bytes");
    buf_free(&pb);
    buf_free(&json);
    buf_free(&back);
}

/* Every AnyValue form and every resource/scope field, from JSON. */
#define FULL_JSON                                                                                  \
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"     \
    "\"stringValue\":\"svc\"}},{\"key\":\"k.arr\",\"value\":{\"arrayValue\":{\"values\":[{"        \
    "\"intValue\":\"-9223372036854775808\"},{\"doubleValue\":\"NaN\"},{\"doubleValue\":"           \
    "\"-Infinity\"},{\"boolValue\":false},{\"stringValue\":\"\"},{}]}}},{\"key\":\"k.kv\","        \
    "\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"inner\",\"value\":{\"bytesValue\":"        \
    "\"AAEC/w==\"}}]}}},{\"key\":\"k.empty\",\"value\":{\"arrayValue\":{}}}],"                     \
    "\"droppedAttributesCount\":7},\"scopeSpans\":[{\"scope\":{\"name\":\"lib\",\"version\":"      \
    "\"1.2\",\"attributes\":[{\"key\":\"s\",\"value\":{\"intValue\":\"18446744\"}}],"              \
    "\"droppedAttributesCount\":3},\"spans\":[{\"traceId\":\"" SAMPLE_TRACE_ID                     \
    "\",\"spanId\":\"" SAMPLE_SPAN_ID                                                              \
    "\",\"traceState\":\"a=b\",\"parentSpanId\":\"" SAMPLE_PARENT_ID "\","                         \
    "\"flags\":257,\"name\":\"n\",\"kind\":2,\"startTimeUnixNano\":\"1700000000123456789\","       \
    "\"endTimeUnixNano\":\"18446744073709551615\",\"droppedAttributesCount\":1,\"events\":[{"      \
    "\"timeUnixNano\":\"5\",\"name\":\"e\",\"droppedAttributesCount\":2}],"                        \
    "\"droppedEventsCount\":4,\"links\":[{\"traceId\":\"" SAMPLE_LINK_TRACE                        \
    "\",\"spanId\":\"" SAMPLE_SPAN_ID                                                              \
    "\",\"traceState\":\"x=y\",\"droppedAttributesCount\":6,\"flags\":769}],"                      \
    "\"droppedLinksCount\":8,\"status\":{}}],\"schemaUrl\":\"https://s/1\"}],\"schemaUrl\":"       \
    "\"https://r/1\"}]}"

static void check_full(struct tap *t, const Request *req)
{
    const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[0];
    const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[0];
    const Span *sp = ss->spans[0];
    const Opentelemetry__Proto__Common__V1__ArrayValue *arr =
        rs->resource->attributes[1]->value->array_value;

    ok(t, rs->resource->n_attributes == 4 && rs->resource->dropped_attributes_count == 7,
       "resource attributes and dropped count preserved");
    is_str(t, rs->schema_url, "https://r/1", "resource schema_url");
    is_str(t, ss->schema_url, "https://s/1", "scope schema_url");
    ok(t, ss->scope->dropped_attributes_count == 3 && ss->scope->n_attributes == 1,
       "scope attributes and dropped count");
    ok(t,
       arr->n_values == 6 && arr->values[0]->int_value == INT64_MIN &&
           isnan(arr->values[1]->double_value) && arr->values[2]->double_value == -INFINITY &&
           arr->values[3]->value_case == 2 && !arr->values[3]->bool_value &&
           arr->values[4]->value_case == 1 && arr->values[5]->value_case == 0,
       "array of every scalar form, int64 min, NaN, -Infinity, false, \"\", unset");
    ok(t, rs->resource->attributes[2]->value->kvlist_value->values[0]->value->bytes_value.len == 4,
       "kvlist with bytes (base64)");
    ok(t, sp->end_time_unix_nano == UINT64_MAX && sp->start_time_unix_nano == SAMPLE_START_NS,
       "64-bit times exact");
    ok(t,
       sp->dropped_attributes_count == 1 && sp->dropped_events_count == 4 &&
           sp->dropped_links_count == 8 && sp->events[0]->dropped_attributes_count == 2 &&
           sp->links[0]->dropped_attributes_count == 6,
       "every dropped count");
    ok(t, sp->links[0]->flags == 769 && strcmp(sp->links[0]->trace_state, "x=y") == 0,
       "link flags and trace_state");
    ok(t, sp->status && sp->status->code == 0, "empty status kept");
}

static void test_roundtrip_full(struct tap *t)
{
    struct buf pb;
    struct buf json;
    struct buf pb2;
    Request *req;

    buf_init(&pb, MB);
    buf_init(&json, MB);
    buf_init(&pb2, MB);
    is_int(t, otlp_json_to_protobuf(FULL_JSON, strlen(FULL_JSON), &pb), 0, "full JSON parses");
    req = unpack(&pb);
    ok(t, req != NULL, "and protobuf-c decodes the result");
    if (req) {
        check_full(t, req);
        unpack_free(req);
    }
    is_int(t, otlp_count_spans(pb.data, pb.len), 1, "count: 1");
    is_int(t, otlp_protobuf_to_json(pb.data, pb.len, &json), 0, "back to JSON");
    is_int(t, otlp_json_to_protobuf(json.data, json.len, &pb2), 0, "and to protobuf again");
    ok(t, same_buf(&pb, &pb2), "same bytes after json -> pb -> json -> pb");
    ok(t, strstr(json.data, "\"bytesValue\":\"AAEC/w==\""), "bytes as base64");
    ok(t, strstr(json.data, "{\"doubleValue\":\"NaN\"},{\"doubleValue\":\"-Infinity\"}"),
       "non-finite doubles as strings");
    ok(t, strstr(json.data, "\"status\":{}"), "empty status written as {}");
    buf_free(&pb);
    buf_free(&json);
    buf_free(&pb2);
}

static int j2p(const char *json, struct buf *out)
{
    buf_reset(out);
    return otlp_json_to_protobuf(json, strlen(json), out);
}

#define SPAN_JSON(fields) "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{" fields "}]}]}]}"

static const Span *first_span(const Request *r)
{
    if (!r || r->n_resource_spans < 1 || r->resource_spans[0]->n_scope_spans < 1 ||
        r->resource_spans[0]->scope_spans[0]->n_spans < 1)
        return NULL;
    return r->resource_spans[0]->scope_spans[0]->spans[0];
}

static void test_json_accepts(struct tap *t)
{
    struct buf pb;
    Request *req;
    const Span *sp;

    buf_init(&pb, MB);
    is_int(t,
           j2p(SPAN_JSON("\"trace_id\":\"0AF7651916CD43DD8448EB211C80319C\",\"spanId\":\"\","
                         "\"kind\":\"SPAN_KIND_PRODUCER\",\"startTimeUnixNano\":"
                         "1700000000123456789,\"end_time_unix_nano\":1e9,\"unknown\":{\"x\":[1]},"
                         "\"status\":{\"code\":\"STATUS_CODE_OK\"},\"name\":null,"
                         "\"attributes\":[{\"key\":\"i\",\"value\":{\"intValue\":-12}}]"),
               &pb),
           0, "upper-case hex, snake_case, enum names, numbers, unknown members, null");
    req = unpack(&pb);
    sp = first_span(req);
    ok(t, sp && bytes_hex(&sp->trace_id, SAMPLE_TRACE_ID) && sp->span_id.len == 0, "ids decoded");
    ok(t, sp && sp->kind == 4 && sp->status->code == 1, "enum names mapped");
    ok(t, sp && sp->start_time_unix_nano == SAMPLE_START_NS,
       "a 19-digit JSON number keeps every digit");
    ok(t, sp && sp->end_time_unix_nano == 1000000000ull, "1e9 accepted as an integer");
    ok(t, sp && sp->attributes[0]->value->int_value == -12, "intValue as a number");
    if (req)
        unpack_free(req);
    is_int(t,
           j2p(SPAN_JSON("\"attributes\":[{\"value\":{\"doubleValue\":0.042000000000001411}},"
                         "{\"value\":{\"doubleValue\":12345678901234567890.5}},"
                         "{\"value\":{\"doubleValue\":-1234567890123456789e-3}},"
                         "{\"value\":{\"intValue\":-9223372036854775808}}]"),
               &pb),
           0, "long doubles and a 19-digit negative integer as JSON numbers");
    req = unpack(&pb);
    sp = first_span(req);
    ok(t,
       sp && sp->n_attributes == 4 &&
           sp->attributes[0]->value->double_value == 0.042000000000001411 &&
           sp->attributes[1]->value->double_value == 12345678901234567890.5 &&
           sp->attributes[2]->value->double_value == -1234567890123456789e-3 &&
           sp->attributes[3]->value->int_value == INT64_MIN,
       "each read exactly (fractions and exponents stay doubles)");
    if (req)
        unpack_free(req);
    is_int(t, j2p("{}", &pb), 0, "empty object: empty request");
    is_int(t, pb.len, 0, "which is zero bytes");
    is_int(t, j2p("{\"resourceSpans\":[]}", &pb), 0, "empty list");
    is_int(t, j2p(SPAN_JSON("\"name\":\"a \\u00e9\\ud83d\\ude00 \\\"b\\\"\""), &pb), 0,
           "\\u escapes incl. a surrogate pair");
    req = unpack(&pb);
    sp = first_span(req);
    is_str(t, sp ? sp->name : NULL, "a \xc3\xa9\xf0\x9f\x98\x80 \"b\"", "decoded to UTF-8");
    if (req)
        unpack_free(req);
    buf_free(&pb);
}

static void test_json_rejects(struct tap *t)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"resourceSpans\":{}}",
        "{\"resourceSpans\":[1]}",
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"x\"}]}]}",
        SPAN_JSON("\"traceId\":\"0af7\""),
        SPAN_JSON("\"traceId\":\"0af7651916cd43dd8448eb211c80319\""),
        SPAN_JSON("\"traceId\":\"zzf7651916cd43dd8448eb211c80319c\""),
        SPAN_JSON("\"spanId\":\"b7ad6b71692033310\""),
        SPAN_JSON("\"traceId\":16"),
        SPAN_JSON("\"name\":5"),
        SPAN_JSON("\"kind\":\"SERVER\""),
        SPAN_JSON("\"kind\":1.5"),
        SPAN_JSON("\"kind\":4294967296"),
        SPAN_JSON("\"flags\":-1"),
        SPAN_JSON("\"flags\":4294967296"),
        SPAN_JSON("\"startTimeUnixNano\":\"-1\""),
        SPAN_JSON("\"startTimeUnixNano\":\"18446744073709551616\""),
        SPAN_JSON("\"startTimeUnixNano\":\"12a\""),
        SPAN_JSON("\"startTimeUnixNano\":true"),
        SPAN_JSON("\"attributes\":{}"),
        SPAN_JSON("\"attributes\":[{\"key\":1}]"),
        SPAN_JSON("\"attributes\":[{\"key\":\"k\",\"value\":\"v\"}]"),
        SPAN_JSON(
            "\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":\"9223372036854775808\"}}]"),
        SPAN_JSON(
            "\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":\"1\",\"boolValue\":true}}]"),
        SPAN_JSON("\"attributes\":[{\"key\":\"k\",\"value\":{\"boolValue\":1}}]"),
        SPAN_JSON("\"attributes\":[{\"key\":\"k\",\"value\":{\"doubleValue\":\"inf\"}}]"),
        SPAN_JSON("\"attributes\":[{\"key\":\"k\",\"value\":{\"doubleValue\":\"0x10\"}}]"),
        SPAN_JSON("\"attributes\":[{\"key\":\"k\",\"value\":{\"bytesValue\":\"A\"}}]"),
        SPAN_JSON("\"attributes\":[{\"key\":\"k\",\"value\":{\"bytesValue\":\"AA*A\"}}]"),
        SPAN_JSON("\"attributes\":[{\"key\":\"k\",\"value\":{\"arrayValue\":[]}}]"),
        SPAN_JSON("\"status\":{\"code\":\"ERROR\"}"),
        SPAN_JSON("\"status\":[]"),
        SPAN_JSON("\"events\":[{\"timeUnixNano\":1.5}]"),
        SPAN_JSON("\"links\":[{\"spanId\":\"xyz\"}]"),
    };
    struct buf pb;
    int n_bad = 0;

    buf_init(&pb, MB);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = j2p(bad[i], &pb);
        n_bad += rc == -EBADMSG;
        if (rc != -EBADMSG)
            printf("# accepted (rc %d): %s\n", rc, bad[i]);
    }
    is_int(t, n_bad, sizeof(bad) / sizeof(bad[0]), "every malformed JSON input is -EBADMSG");
    buf_free(&pb);
}

static void test_json_depth(struct tap *t)
{
    struct buf j;
    struct buf pb;
    int levels = (OTLP_MAX_DEPTH - 5) / 2;

    buf_init(&j, MB);
    buf_init(&pb, MB);
    for (int pass = 0; pass < 2; pass++) {
        int n = levels + pass;
        buf_reset(&j);
        buf_append_str(&j, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":["
                           "{\"key\":\"k\",\"value\":");
        for (int i = 0; i < n; i++)
            buf_append_str(&j, "{\"arrayValue\":{\"values\":[");
        buf_append_str(&j, "{\"boolValue\":true}");
        for (int i = 0; i < n; i++)
            buf_append_str(&j, "]}}");
        buf_append_str(&j, "}]}]}]}]}");
        buf_reset(&pb);
        is_int(t, otlp_json_to_protobuf(j.data, j.len, &pb), pass ? -EBADMSG : 0,
               "%d nested arrays in JSON: %s", n, pass ? "-EBADMSG" : "accepted");
        if (!pass)
            is_int(t, otlp_count_spans(pb.data, pb.len), 1, "and the walker accepts the result");
    }
    buf_free(&j);
    buf_free(&pb);
}

#define R "\xef\xbf\xbd" /* U+FFFD */

/* Hand-built protobuf with awkward strings: control bytes, invalid UTF-8, valid 4-byte UTF-8. */
static void test_json_escaping(struct tap *t)
{
    static const char name[] = "\x01\x1f\"\\/\x7f\xc3\xa9\xff\xc0\xaf\xed\xa0\x80\xf0\x9f\x98\x80";
    struct buf pb;
    struct buf json;
    uint8_t span[64];
    uint8_t *p = pb_put_bytes_field(span, 5, name, sizeof(name) - 1);

    buf_init(&pb, MB);
    buf_init(&json, MB);
    buf_append(&pb, "\x0a", 1);
    buf_append(&pb, (char[]){(char)(p - span + 4)}, 1);
    buf_append(&pb, "\x12", 1);
    buf_append(&pb, (char[]){(char)(p - span + 2)}, 1);
    buf_append(&pb, "\x12", 1);
    buf_append(&pb, (char[]){(char)(p - span)}, 1);
    buf_append(&pb, span, (size_t)(p - span));
    is_int(t, otlp_count_spans(pb.data, pb.len), 1, "invalid UTF-8 does not stop the walker");
    is_int(t, otlp_protobuf_to_json(pb.data, pb.len, &json), 0, "converted");
    is_str(
        t, json.data,
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"\\u0001\\u001f\\\"\\\\/"
        "\\u007f\xc3\xa9" R R R R R R "\xf0\x9f\x98\x80\"}]}]}]}",
        "control chars and DEL escaped, invalid bytes (incl. overlong, surrogate) become U+FFFD");
    buf_free(&pb);
    buf_free(&json);
}

static void test_json_limits(struct tap *t)
{
    struct buf pb;
    struct buf json;
    struct buf small;

    buf_init(&pb, MB);
    buf_init(&json, MB);
    encode_sample(&pb);
    otlp_protobuf_to_json(pb.data, pb.len, &json);
    buf_init(&small, json.len - 1);
    buf_append(&small, "x", 1);
    is_int(t, otlp_protobuf_to_json(pb.data, pb.len, &small), -E2BIG, "JSON past max: -E2BIG");
    ok(t, small.len == 1 && small.data[1] == '\0', "buffer left as it was");
    buf_free(&small);
    buf_init(&small, pb.len - 1);
    is_int(t, otlp_json_to_protobuf(json.data, json.len, &small), -E2BIG,
           "protobuf past max: -E2BIG");
    is_int(t, small.len, 0, "nothing appended");
    is_int(t, otlp_protobuf_to_json("\x08\x01", 2, &small), -EBADMSG, "malformed input: -EBADMSG");
    buf_free(&small);
    buf_init(&small, MB);
    is_int(t,
           otlp_protobuf_to_json(
               "\x0a\x0f\x12\x0d\x12\x0b\x30\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 17, &small),
           0, "negative kind converted");
    ok(t, strstr(small.data, "\"kind\":-1"), "enums are signed int32 in JSON");
    buf_free(&small);
    buf_free(&pb);
    buf_free(&json);
}

/* The receiver's answers: partial success read back by protobuf-c; Status by hand (its
 * message type is not among the generated ones). */
static void test_answers(struct tap *t)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r;
    char msg[201];
    struct buf b;

    memset(msg, 'm', 200);
    msg[200] = '\0';
    buf_init(&b, MB);
    is_int(t, otlp_encode_partial_success(&b, 0, "x"), 0, "nothing rejected: 0");
    is_int(t, (long)b.len, 0, "and nothing written (the empty response)");
    is_int(t, otlp_encode_partial_success(&b, 300, msg), 0, "300 rejected: 0");
    r = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
        NULL, b.len, (const uint8_t *)b.data);
    ok(t,
       r && r->partial_success && r->partial_success->rejected_spans == 300 &&
           strcmp(r->partial_success->error_message, msg) == 0,
       "protobuf-c reads back rejected_spans 300 and the 200-byte message");
    if (r)
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
            r, NULL);
    buf_reset(&b);
    is_int(t, otlp_encode_status(&b, 8, "full"), 0, "status: 0");
    ok(t,
       b.len == 8 && memcmp(b.data,
                            "\x08\x08\x12\x04"
                            "full",
                            8) == 0,
       "status: code 8 as field 1, the message as field 2");
    buf_reset(&b);
    otlp_encode_status(&b, -1, "");
    ok(t, b.len == 13 && (uint8_t)b.data[10] == 0x01 && b.data[11] == 0x12 && b.data[12] == 0,
       "a negative int32 code takes 10 varint bytes, as protobuf writes it");
    buf_free(&b);
    buf_init(&b, 8);
    ok(t, otlp_encode_partial_success(&b, 1, "too long") == -E2BIG && b.len == 0,
       "past the buffer's max: -E2BIG, nothing written");
    buf_free(&b);
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_encode_fields(&t);
    test_encode_canonical(&t);
    test_encode_limits(&t);
    test_count_valid(&t);
    test_count_unknown(&t);
    test_count_malformed(&t);
    test_count_depth(&t);
    test_roundtrip_sample(&t);
    test_roundtrip_full(&t);
    test_json_accepts(&t);
    test_json_rejects(&t);
    test_json_depth(&t);
    test_json_escaping(&t);
    test_json_limits(&t);
    test_answers(&t);
    return tap_done(&t);
}
