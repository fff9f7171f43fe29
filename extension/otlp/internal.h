/* SPDX-License-Identifier: Apache-2.0 */
/* otlp/internal.h: what the files of extension/otlp share (not part of otlp.h's contract).
 * Protobuf wire-format helpers for hand-written encoding, and the three converters that
 * otlp.c exposes. */
#ifndef TB_OTLP_INTERNAL_H
#define TB_OTLP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "extension/base/base.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

/* Short names for the protobuf-c message types the converters use. */
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event Event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link Link;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ArrayValue;
typedef Opentelemetry__Proto__Common__V1__KeyValueList KeyValueList;

/* Wire types (protobuf encoding spec). */
enum pb_wire {
    PB_VARINT = 0,
    PB_I64 = 1,
    PB_LEN = 2,
    PB_SGROUP = 3,
    PB_EGROUP = 4,
    PB_I32 = 5,
};

#define PB_TAG(field, wire) ((uint32_t)(field) << 3 | (uint32_t)(wire))

static inline size_t pb_varint_size(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *pb_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint8_t *pb_put_fixed32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

static inline uint8_t *pb_put_fixed64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

/* Size of a length-delimited field (tag, length, payload). */
static inline size_t pb_len_field_size(uint32_t field, size_t len)
{
    return pb_varint_size(PB_TAG(field, PB_LEN)) + pb_varint_size(len) + len;
}

/* Writes the tag and length of a length-delimited field; the payload follows. */
static inline uint8_t *pb_put_len_header(uint8_t *p, uint32_t field, size_t len)
{
    p = pb_put_varint(p, PB_TAG(field, PB_LEN));
    return pb_put_varint(p, len);
}

static inline uint8_t *pb_put_bytes_field(uint8_t *p, uint32_t field, const void *d, size_t len)
{
    p = pb_put_len_header(p, field, len);
    if (len)
        memcpy(p, d, len);
    return p + len;
}

/* Nesting limit for AnyValue arrays and kvlists (and so for every walk and conversion): it
 * keeps recursion on untrusted bytes bounded. Google's parsers stop at 100 levels. */
#define OTLP_MAX_DEPTH 64

/* Walks a serialized ExportTraceServiceRequest (see otlp_count_spans). */
long otlp__walk_request(const uint8_t *p, size_t len);

int otlp__protobuf_to_json(const void *data, size_t len, struct buf *out);
int otlp__json_to_protobuf(const char *json, size_t len, struct buf *out);

#endif
