/* SPDX-License-Identifier: Apache-2.0 */
/* tojson: serialized ExportTraceServiceRequest -> OTLP/JSON, per the OTLP JSON encoding
 * (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): lowerCamelCase keys,
 * trace and span ids as hex, enums as integers, 64-bit integers as decimal strings, other
 * bytes as base64, proto3 defaults left out.
 *
 * The bytes are first checked by the walker (strict, and it bounds the nesting depth, which
 * protobuf-c's recursive unpack does not), then unpacked by protobuf-c through an allocator
 * with a budget proportional to the input, so hostile input cannot make memory balloon.
 * Strings are escaped for JSON; invalid UTF-8 becomes U+FFFD so the output is always valid. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "extension/base/base.h"
#include "extension/otlp/internal.h"

/* protobuf-c allocates ~100 bytes for the smallest (2-byte) span and ~20x the wire size for
 * typical attribute lists; real requests stay far below this budget. */
#define UNPACK_BUDGET_PER_BYTE 64
#define UNPACK_BUDGET_BASE     (1u << 20)

struct budget {
    size_t left;
    bool exhausted; /* an allocation was refused */
};

static void *budget_alloc(void *data, size_t size)
{
    struct budget *b = data;

    if (size > b->left) {
        b->exhausted = true;
        return NULL;
    }
    b->left -= size;
    return malloc(size);
}

static void budget_free(void *data, void *p)
{
    (void)data;
    free(p);
}

/* The JSON writer keeps the first error and ignores later writes, so emitters stay linear. */
struct jw {
    struct buf *out;
    int err;
};

static void raw(struct jw *w, const char *s, size_t n)
{
    if (!w->err)
        w->err = buf_append(w->out, s, n);
}

#define RAW(w, lit) raw(w, "" lit, sizeof(lit) - 1) /* literals only */

static void str_n(struct jw *w, const uint8_t *s, size_t n)
{
    RAW(w, "\"");
    if (!w->err)
        w->err = json_escape_append(w->out, (const char *)s, n);
    RAW(w, "\"");
}

static void str(struct jw *w, const char *s)
{
    str_n(w, (const uint8_t *)s, strlen(s));
}

/* Writes `,"key":` (no comma before the first member). */
static void key(struct jw *w, bool *first, const char *k)
{
    if (!*first)
        RAW(w, ",");
    *first = false;
    raw(w, "\"", 1);
    raw(w, k, strlen(k));
    raw(w, "\":", 2);
}

static void str_member(struct jw *w, bool *first, const char *k, const char *v)
{
    if (!v || !*v)
        return;
    key(w, first, k);
    str(w, v);
}

static void u32_member(struct jw *w, bool *first, const char *k, uint32_t v)
{
    char tmp[16];
    int n;

    if (!v)
        return;
    key(w, first, k);
    n = snprintf(tmp, sizeof(tmp), "%" PRIu32, v);
    raw(w, tmp, (size_t)n);
}

/* Enums are int32 on the wire, negative values included. */
static void enum_member(struct jw *w, bool *first, const char *k, int v)
{
    char tmp[16];
    int n;

    if (!v)
        return;
    key(w, first, k);
    n = snprintf(tmp, sizeof(tmp), "%d", v);
    raw(w, tmp, (size_t)n);
}

/* 64-bit integers are JSON strings: JavaScript numbers lose precision past 2^53. */
static void u64_member(struct jw *w, bool *first, const char *k, uint64_t v)
{
    char tmp[24];
    int n;

    if (!v)
        return;
    key(w, first, k);
    n = snprintf(tmp, sizeof(tmp), "\"%" PRIu64 "\"", v);
    raw(w, tmp, (size_t)n);
}

static void hex_member(struct jw *w, bool *first, const char *k, const ProtobufCBinaryData *d)
{
    char two[2];

    if (!d->len)
        return;
    key(w, first, k);
    RAW(w, "\"");
    for (size_t i = 0; i < d->len && !w->err; i++) {
        hex_encode(&d->data[i], 1, two);
        raw(w, two, 2);
    }
    RAW(w, "\"");
}

static void base64(struct jw *w, const uint8_t *d, size_t n)
{
    RAW(w, "\"");
    if (!w->err)
        w->err = base64_encode_append(d, n, w->out);
    RAW(w, "\"");
}

/* Shortest of %.15g / %.17g that reads back to the same double; proto3 JSON spells the
 * non-finite values as strings. */
static void number(struct jw *w, double d)
{
    char tmp[40];
    int n;

    if (isnan(d)) {
        RAW(w, "\"NaN\"");
        return;
    }
    if (isinf(d)) {
        if (d > 0)
            RAW(w, "\"Infinity\"");
        else
            RAW(w, "\"-Infinity\"");
        return;
    }
    n = snprintf(tmp, sizeof(tmp), "%.15g", d);
    if (strtod(tmp, NULL) != d)
        n = snprintf(tmp, sizeof(tmp), "%.17g", d);
    raw(w, tmp, (size_t)n);
}

static void kv_array(struct jw *w, bool *first, const char *k, KeyValue **kvs, size_t n);

static void any_value(struct jw *w, const AnyValue *v)
{
    char tmp[48]; /* {"intValue":"-9223372036854775808" */
    int n;

    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        RAW(w, "{\"stringValue\":");
        str(w, v->string_value ? v->string_value : "");
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        if (v->bool_value)
            RAW(w, "{\"boolValue\":true");
        else
            RAW(w, "{\"boolValue\":false");
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        n = snprintf(tmp, sizeof(tmp), "{\"intValue\":\"%" PRId64 "\"", v->int_value);
        raw(w, tmp, (size_t)n);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        RAW(w, "{\"doubleValue\":");
        number(w, v->double_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        RAW(w, "{\"arrayValue\":{");
        if (v->array_value && v->array_value->n_values) {
            RAW(w, "\"values\":[");
            for (size_t i = 0; i < v->array_value->n_values; i++) {
                if (i)
                    RAW(w, ",");
                any_value(w, v->array_value->values[i]);
            }
            RAW(w, "]");
        }
        RAW(w, "}");
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
        bool first = true;
        RAW(w, "{\"kvlistValue\":{");
        if (v->kvlist_value)
            kv_array(w, &first, "values", v->kvlist_value->values, v->kvlist_value->n_values);
        RAW(w, "}");
        break;
    }
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        RAW(w, "{\"bytesValue\":");
        base64(w, v->bytes_value.data, v->bytes_value.len);
        break;
    default:
        RAW(w, "{");
    }
    RAW(w, "}");
}

static void kv_array(struct jw *w, bool *first, const char *k, KeyValue **kvs, size_t n)
{
    if (!n)
        return;
    key(w, first, k);
    RAW(w, "[");
    for (size_t i = 0; i < n; i++) {
        bool f = true;
        if (i)
            RAW(w, ",");
        RAW(w, "{");
        str_member(w, &f, "key", kvs[i]->key);
        if (kvs[i]->value) {
            key(w, &f, "value");
            any_value(w, kvs[i]->value);
        }
        RAW(w, "}");
    }
    RAW(w, "]");
}

static void resource(struct jw *w, const Resource *r)
{
    bool first = true;

    RAW(w, "{");
    kv_array(w, &first, "attributes", r->attributes, r->n_attributes);
    u32_member(w, &first, "droppedAttributesCount", r->dropped_attributes_count);
    RAW(w, "}");
}

static void scope(struct jw *w, const Scope *s)
{
    bool first = true;

    RAW(w, "{");
    str_member(w, &first, "name", s->name);
    str_member(w, &first, "version", s->version);
    kv_array(w, &first, "attributes", s->attributes, s->n_attributes);
    u32_member(w, &first, "droppedAttributesCount", s->dropped_attributes_count);
    RAW(w, "}");
}

static void event(struct jw *w, const Event *e)
{
    bool first = true;

    RAW(w, "{");
    u64_member(w, &first, "timeUnixNano", e->time_unix_nano);
    str_member(w, &first, "name", e->name);
    kv_array(w, &first, "attributes", e->attributes, e->n_attributes);
    u32_member(w, &first, "droppedAttributesCount", e->dropped_attributes_count);
    RAW(w, "}");
}

static void link(struct jw *w, const Link *l)
{
    bool first = true;

    RAW(w, "{");
    hex_member(w, &first, "traceId", &l->trace_id);
    hex_member(w, &first, "spanId", &l->span_id);
    str_member(w, &first, "traceState", l->trace_state);
    kv_array(w, &first, "attributes", l->attributes, l->n_attributes);
    u32_member(w, &first, "droppedAttributesCount", l->dropped_attributes_count);
    u32_member(w, &first, "flags", l->flags);
    RAW(w, "}");
}

static void status(struct jw *w, bool *first, const Status *s)
{
    bool f = true;

    if (!s)
        return;
    key(w, first, "status");
    RAW(w, "{");
    str_member(w, &f, "message", s->message);
    enum_member(w, &f, "code", (int)s->code);
    RAW(w, "}");
}

static void span_lists(struct jw *w, bool *first, const Span *s)
{
    kv_array(w, first, "attributes", s->attributes, s->n_attributes);
    u32_member(w, first, "droppedAttributesCount", s->dropped_attributes_count);
    if (s->n_events) {
        key(w, first, "events");
        RAW(w, "[");
        for (size_t i = 0; i < s->n_events; i++) {
            if (i)
                RAW(w, ",");
            event(w, s->events[i]);
        }
        RAW(w, "]");
    }
    u32_member(w, first, "droppedEventsCount", s->dropped_events_count);
    if (s->n_links) {
        key(w, first, "links");
        RAW(w, "[");
        for (size_t i = 0; i < s->n_links; i++) {
            if (i)
                RAW(w, ",");
            link(w, s->links[i]);
        }
        RAW(w, "]");
    }
    u32_member(w, first, "droppedLinksCount", s->dropped_links_count);
}

static void span(struct jw *w, const Span *s)
{
    bool first = true;

    RAW(w, "{");
    hex_member(w, &first, "traceId", &s->trace_id);
    hex_member(w, &first, "spanId", &s->span_id);
    str_member(w, &first, "traceState", s->trace_state);
    hex_member(w, &first, "parentSpanId", &s->parent_span_id);
    u32_member(w, &first, "flags", s->flags);
    str_member(w, &first, "name", s->name);
    enum_member(w, &first, "kind", (int)s->kind);
    u64_member(w, &first, "startTimeUnixNano", s->start_time_unix_nano);
    u64_member(w, &first, "endTimeUnixNano", s->end_time_unix_nano);
    span_lists(w, &first, s);
    status(w, &first, s->status);
    RAW(w, "}");
}

static void scope_spans(struct jw *w, const ScopeSpans *ss)
{
    bool first = true;

    RAW(w, "{");
    if (ss->scope) {
        key(w, &first, "scope");
        scope(w, ss->scope);
    }
    if (ss->n_spans) {
        key(w, &first, "spans");
        RAW(w, "[");
        for (size_t i = 0; i < ss->n_spans; i++) {
            if (i)
                RAW(w, ",");
            span(w, ss->spans[i]);
        }
        RAW(w, "]");
    }
    str_member(w, &first, "schemaUrl", ss->schema_url);
    RAW(w, "}");
}

static void resource_spans(struct jw *w, const ResourceSpans *rs)
{
    bool first = true;

    RAW(w, "{");
    if (rs->resource) {
        key(w, &first, "resource");
        resource(w, rs->resource);
    }
    if (rs->n_scope_spans) {
        key(w, &first, "scopeSpans");
        RAW(w, "[");
        for (size_t i = 0; i < rs->n_scope_spans; i++) {
            if (i)
                RAW(w, ",");
            scope_spans(w, rs->scope_spans[i]);
        }
        RAW(w, "]");
    }
    str_member(w, &first, "schemaUrl", rs->schema_url);
    RAW(w, "}");
}

static void request(struct jw *w, const Request *req)
{
    RAW(w, "{\"resourceSpans\":[");
    for (size_t i = 0; i < req->n_resource_spans; i++) {
        if (i)
            RAW(w, ",");
        resource_spans(w, req->resource_spans[i]);
    }
    RAW(w, "]}");
}

int otlp__protobuf_to_json(const void *data, size_t len, struct buf *out)
{
    struct budget b = {UNPACK_BUDGET_BASE, false};
    ProtobufCAllocator a = {budget_alloc, budget_free, &b};
    struct jw w = {out, 0};
    size_t start = out->len;
    Request *req;

    if (otlp__walk_request(data, len) < 0)
        return -EBADMSG;
    if (len > (SIZE_MAX - UNPACK_BUDGET_BASE) / UNPACK_BUDGET_PER_BYTE)
        return -E2BIG;
    b.left += len * UNPACK_BUDGET_PER_BYTE;
    req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(&a, len,
                                                                                           data);
    /* The walker accepted it, so either the allocation budget ran out or protobuf-c is stricter
     * than the wire format in a corner case (a singular message field repeated with empty
     * values fails its merge): both mean these bytes cannot be converted. */
    if (!req)
        return b.exhausted ? -ENOMEM : -EBADMSG;
    request(&w, req);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                            &a);
    if (w.err) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return w.err;
}
