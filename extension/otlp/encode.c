/* SPDX-License-Identifier: Apache-2.0 */
/* otlp: hand-written protobuf encoding of tracebridge's own span and of the receiver's two
 * answers, plus the entry points of the walker and the JSON converters (extension/otlp/).
 *
 * The span is encoded straight into the output buffer in two passes: one computes every
 * message length (a length prefix precedes its payload), the other writes. The resource and the
 * instrumentation scope never change, so they are encoded once in otlp_resource_new and
 * spliced in. Fields are written in field-number order and proto3 defaults (empty strings,
 * zero numbers) are left out, as protobuf-c and the other official encoders do, so the bytes
 * equal what protobuf-c would pack for the same message. */
#include "extension/otlp/otlp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "extension/otlp/internal.h"

/* Span.flags bits (trace.proto SpanFlags): the low 8 bits are the W3C trace flags. */
#define SPAN_FLAGS_HAS_IS_REMOTE 0x100u
#define SPAN_FLAGS_IS_REMOTE     0x200u

/* Field numbers used below (trace.proto, common.proto). */
enum {
    F_REQ_RESOURCE_SPANS = 1,
    F_RS_RESOURCE = 1,
    F_RS_SCOPE_SPANS = 2,
    F_SS_SCOPE = 1,
    F_SS_SPANS = 2,
    F_RES_ATTRIBUTES = 1,
    F_SCOPE_NAME = 1,
    F_SCOPE_VERSION = 2,
    F_KV_KEY = 1,
    F_KV_VALUE = 2,
    F_ANY_STRING = 1,
    F_ANY_BOOL = 2,
    F_ANY_INT = 3,
    F_ANY_DOUBLE = 4,
    F_SPAN_TRACE_ID = 1,
    F_SPAN_SPAN_ID = 2,
    F_SPAN_TRACE_STATE = 3,
    F_SPAN_PARENT = 4,
    F_SPAN_NAME = 5,
    F_SPAN_KIND = 6,
    F_SPAN_START = 7,
    F_SPAN_END = 8,
    F_SPAN_ATTRIBUTES = 9,
    F_SPAN_EVENTS = 11,
    F_SPAN_LINKS = 13,
    F_SPAN_STATUS = 15,
    F_SPAN_FLAGS = 16,
    F_EVENT_TIME = 1,
    F_EVENT_NAME = 2,
    F_EVENT_ATTRIBUTES = 3,
    F_LINK_TRACE_ID = 1,
    F_LINK_SPAN_ID = 2,
    F_LINK_TRACE_STATE = 3,
    F_LINK_ATTRIBUTES = 4,
    F_LINK_FLAGS = 6,
    F_STATUS_MESSAGE = 2,
    F_STATUS_CODE = 3,
};

struct otlp_resource {
    uint8_t *resource; /* serialized Resource message */
    size_t resource_len;
    uint8_t *scope; /* serialized InstrumentationScope message */
    size_t scope_len;
};

/* ---- sizes ---- */

static size_t str_len(const char *s)
{
    return s ? strlen(s) : 0;
}

/* A string field is left out when empty (proto3 default). */
static size_t str_field_size(uint32_t field, const char *s)
{
    size_t n = str_len(s);

    return n ? pb_len_field_size(field, n) : 0;
}

static size_t any_value_size(const struct attr *a)
{
    switch (a->type) {
    case ATTR_STRING:
        /* A oneof member is written even when empty: that is how "set to ''" is told apart. */
        return pb_len_field_size(F_ANY_STRING, a->s_len);
    case ATTR_INT:
        return 1 + pb_varint_size((uint64_t)a->v.i);
    case ATTR_DOUBLE:
        return 1 + 8;
    case ATTR_BOOL:
        return 1 + 1;
    }
    return 0;
}

static size_t key_value_size(size_t klen, size_t any_len)
{
    return (klen ? pb_len_field_size(F_KV_KEY, klen) : 0) + pb_len_field_size(F_KV_VALUE, any_len);
}

static size_t attrs_size(uint32_t field, const struct attr_list *l)
{
    size_t n = 0;

    for (size_t i = 0; i < l->len; i++) {
        const struct attr *a = &l->items[i];
        size_t any_len = any_value_size(a);
        n += pb_len_field_size(field, key_value_size(a->key_len, any_len));
    }
    return n;
}

static size_t event_size(const struct span_event *e)
{
    return (e->time_ns ? 1 + 8 : 0) + str_field_size(F_EVENT_NAME, e->name) +
           attrs_size(F_EVENT_ATTRIBUTES, &e->attrs);
}

static size_t link_size(const struct span_link *l)
{
    return pb_len_field_size(F_LINK_TRACE_ID, 16) + pb_len_field_size(F_LINK_SPAN_ID, 8) +
           str_field_size(F_LINK_TRACE_STATE, l->tracestate) +
           attrs_size(F_LINK_ATTRIBUTES, &l->attrs) + 1 + 4;
}

static bool has_status(const struct span *s)
{
    return s->status != SPAN_STATUS_UNSET || str_len(s->status_message) > 0;
}

static size_t status_size(const struct span *s)
{
    return str_field_size(F_STATUS_MESSAGE, s->status_message) +
           (s->status ? 1 + pb_varint_size((uint64_t)s->status) : 0);
}

static size_t span_size(const struct span *s)
{
    size_t n = pb_len_field_size(F_SPAN_TRACE_ID, 16) + pb_len_field_size(F_SPAN_SPAN_ID, 8);

    n += str_field_size(F_SPAN_TRACE_STATE, s->tracestate);
    n += s->has_parent ? pb_len_field_size(F_SPAN_PARENT, 8) : 0;
    n += str_field_size(F_SPAN_NAME, s->name);
    n += s->kind ? 1 + pb_varint_size((uint64_t)s->kind) : 0;
    n += (s->start_ns ? 1 + 8 : 0) + (s->end_ns ? 1 + 8 : 0);
    n += attrs_size(F_SPAN_ATTRIBUTES, &s->attrs);
    for (size_t i = 0; i < s->n_events; i++)
        n += pb_len_field_size(F_SPAN_EVENTS, event_size(&s->events[i]));
    for (size_t i = 0; i < s->n_links; i++)
        n += pb_len_field_size(F_SPAN_LINKS, link_size(&s->links[i]));
    n += has_status(s) ? pb_len_field_size(F_SPAN_STATUS, status_size(s)) : 0;
    return n + 2 + 4; /* flags: field 16 needs a two-byte tag */
}

/* ---- writers (each mirrors its size function above) ---- */

static uint8_t *put_str_field(uint8_t *p, uint32_t field, const char *s)
{
    size_t n = str_len(s);

    return n ? pb_put_bytes_field(p, field, s, n) : p;
}

static uint8_t *put_double(uint8_t *p, double d)
{
    uint64_t bits;

    memcpy(&bits, &d, sizeof(bits));
    return pb_put_fixed64(p, bits);
}

static uint8_t *put_any_value(uint8_t *p, const struct attr *a)
{
    switch (a->type) {
    case ATTR_STRING:
        return pb_put_bytes_field(p, F_ANY_STRING, a->v.s, a->s_len);
    case ATTR_INT:
        *p++ = PB_TAG(F_ANY_INT, PB_VARINT);
        return pb_put_varint(p, (uint64_t)a->v.i);
    case ATTR_DOUBLE:
        *p++ = PB_TAG(F_ANY_DOUBLE, PB_I64);
        return put_double(p, a->v.d);
    case ATTR_BOOL:
        *p++ = PB_TAG(F_ANY_BOOL, PB_VARINT);
        *p++ = a->v.b ? 1 : 0;
        return p;
    }
    return p;
}

static uint8_t *put_attrs(uint8_t *p, uint32_t field, const struct attr_list *l)
{
    for (size_t i = 0; i < l->len; i++) {
        const struct attr *a = &l->items[i];
        size_t any_len = any_value_size(a);
        p = pb_put_len_header(p, field, key_value_size(a->key_len, any_len));
        if (a->key_len)
            p = pb_put_bytes_field(p, F_KV_KEY, a->key, a->key_len);
        p = pb_put_len_header(p, F_KV_VALUE, any_len);
        p = put_any_value(p, a);
    }
    return p;
}

static uint8_t *put_fixed64_field(uint8_t *p, uint32_t field, uint64_t v)
{
    if (!v)
        return p;
    *p++ = (uint8_t)PB_TAG(field, PB_I64);
    return pb_put_fixed64(p, v);
}

static uint8_t *put_event(uint8_t *p, const struct span_event *e)
{
    p = pb_put_len_header(p, F_SPAN_EVENTS, event_size(e));
    p = put_fixed64_field(p, F_EVENT_TIME, e->time_ns);
    p = put_str_field(p, F_EVENT_NAME, e->name);
    return put_attrs(p, F_EVENT_ATTRIBUTES, &e->attrs);
}

/* Links come from context carried in the event (queue messages, batch records): contexts that
 * were propagated from another process, so they are flagged remote like the OTel SDKs do. */
static uint8_t *put_link(uint8_t *p, const struct span_link *l)
{
    p = pb_put_len_header(p, F_SPAN_LINKS, link_size(l));
    p = pb_put_bytes_field(p, F_LINK_TRACE_ID, l->ctx.trace_id, 16);
    p = pb_put_bytes_field(p, F_LINK_SPAN_ID, l->ctx.span_id, 8);
    p = put_str_field(p, F_LINK_TRACE_STATE, l->tracestate);
    p = put_attrs(p, F_LINK_ATTRIBUTES, &l->attrs);
    *p++ = PB_TAG(F_LINK_FLAGS, PB_I32);
    return pb_put_fixed32(p, l->ctx.flags | SPAN_FLAGS_HAS_IS_REMOTE | SPAN_FLAGS_IS_REMOTE);
}

static uint8_t *put_status(uint8_t *p, const struct span *s)
{
    if (!has_status(s))
        return p;
    p = pb_put_len_header(p, F_SPAN_STATUS, status_size(s));
    p = put_str_field(p, F_STATUS_MESSAGE, s->status_message);
    if (s->status) {
        *p++ = PB_TAG(F_STATUS_CODE, PB_VARINT);
        p = pb_put_varint(p, (uint64_t)s->status);
    }
    return p;
}

/* tracebridge's parent always comes from the invocation's carrier, i.e. another process: the
 * span says so with both is-remote bits. A root span only says "we know it has no remote
 * parent" (HAS_IS_REMOTE alone), as the OTel JS SDK does. */
static uint32_t span_flags(const struct span *s)
{
    return s->ctx.flags | SPAN_FLAGS_HAS_IS_REMOTE | (s->has_parent ? SPAN_FLAGS_IS_REMOTE : 0);
}

static uint8_t *put_span(uint8_t *p, const struct span *s)
{
    p = pb_put_bytes_field(p, F_SPAN_TRACE_ID, s->ctx.trace_id, 16);
    p = pb_put_bytes_field(p, F_SPAN_SPAN_ID, s->ctx.span_id, 8);
    p = put_str_field(p, F_SPAN_TRACE_STATE, s->tracestate);
    if (s->has_parent)
        p = pb_put_bytes_field(p, F_SPAN_PARENT, s->parent_span_id, 8);
    p = put_str_field(p, F_SPAN_NAME, s->name);
    if (s->kind) {
        *p++ = PB_TAG(F_SPAN_KIND, PB_VARINT);
        p = pb_put_varint(p, (uint64_t)s->kind);
    }
    p = put_fixed64_field(p, F_SPAN_START, s->start_ns);
    p = put_fixed64_field(p, F_SPAN_END, s->end_ns);
    p = put_attrs(p, F_SPAN_ATTRIBUTES, &s->attrs);
    for (size_t i = 0; i < s->n_events; i++)
        p = put_event(p, &s->events[i]);
    for (size_t i = 0; i < s->n_links; i++)
        p = put_link(p, &s->links[i]);
    p = put_status(p, s);
    p = pb_put_varint(p, PB_TAG(F_SPAN_FLAGS, PB_I32));
    return pb_put_fixed32(p, span_flags(s));
}

/* ---- resource ---- */

static uint8_t *encode_message(size_t len, uint8_t **out)
{
    /* malloc(0) may return NULL: always ask for at least one byte. */
    *out = malloc(len ? len : 1);
    return *out;
}

struct otlp_resource *otlp_resource_new(const struct attr_list *attrs, const char *scope_name,
                                        const char *scope_version)
{
    struct otlp_resource *r = calloc(1, sizeof(*r));
    static const struct attr_list none = {NULL, 0, 0};
    uint8_t *p;

    if (!r)
        return NULL;
    if (!attrs)
        attrs = &none;
    r->resource_len = attrs_size(F_RES_ATTRIBUTES, attrs);
    r->scope_len =
        str_field_size(F_SCOPE_NAME, scope_name) + str_field_size(F_SCOPE_VERSION, scope_version);
    if (!encode_message(r->resource_len, &r->resource) ||
        !encode_message(r->scope_len, &r->scope)) {
        otlp_resource_free(r);
        return NULL;
    }
    put_attrs(r->resource, F_RES_ATTRIBUTES, attrs);
    p = put_str_field(r->scope, F_SCOPE_NAME, scope_name);
    put_str_field(p, F_SCOPE_VERSION, scope_version);
    return r;
}

void otlp_resource_free(struct otlp_resource *r)
{
    if (!r)
        return;
    free(r->resource);
    free(r->scope);
    free(r);
}

/* ---- output ---- */

/* Room for total bytes at the end of out: where to write them, or NULL with *rc set. */
static uint8_t *out_begin(struct buf *out, size_t total, int *rc)
{
    *rc = buf_reserve(out, total);
    return *rc < 0 ? NULL : (uint8_t *)out->data + out->len;
}

/* The total bytes written at out_begin's pointer are now part of out. */
static void out_end(struct buf *out, size_t total)
{
    out->len += total;
    out->data[out->len] = '\0';
}

/* ---- request ---- */

int otlp_encode_span(const struct otlp_resource *r, const struct span *s, struct buf *out)
{
    size_t span_len = span_size(s);
    size_t ss_len =
        pb_len_field_size(F_SS_SCOPE, r->scope_len) + pb_len_field_size(F_SS_SPANS, span_len);
    size_t rs_len = pb_len_field_size(F_RS_RESOURCE, r->resource_len) +
                    pb_len_field_size(F_RS_SCOPE_SPANS, ss_len);
    size_t total = pb_len_field_size(F_REQ_RESOURCE_SPANS, rs_len);
    int rc;
    uint8_t *p = out_begin(out, total, &rc);

    if (!p)
        return rc;
    p = pb_put_len_header(p, F_REQ_RESOURCE_SPANS, rs_len);
    p = pb_put_bytes_field(p, F_RS_RESOURCE, r->resource, r->resource_len);
    p = pb_put_len_header(p, F_RS_SCOPE_SPANS, ss_len);
    p = pb_put_bytes_field(p, F_SS_SCOPE, r->scope, r->scope_len);
    p = pb_put_len_header(p, F_SS_SPANS, span_len);
    put_span(p, s);
    out_end(out, total);
    return 0;
}

/* ---- the receiver's answers ---- */

/* {a number as varint field 1; a string as field 2}: google.rpc.Status {int32 code; string
 * message} and ExportTracePartialSuccess {int64 rejected_spans; string error_message} alike.
 * Both fields are written even when zero or empty, as the receiver always did. */
static size_t num_msg_size(uint64_t v, size_t mlen)
{
    return 1 + pb_varint_size(v) + pb_len_field_size(2, mlen);
}

static uint8_t *put_num_msg(uint8_t *p, uint64_t v, const char *msg, size_t mlen)
{
    *p++ = PB_TAG(1, PB_VARINT);
    p = pb_put_varint(p, v);
    return pb_put_bytes_field(p, 2, msg, mlen);
}

int otlp_encode_status(struct buf *out, int code, const char *msg)
{
    size_t mlen = strlen(msg);
    uint64_t c = (uint64_t)(int64_t)code; /* int32: a negative one takes 10 bytes */
    size_t total = num_msg_size(c, mlen);
    int rc;
    uint8_t *p = out_begin(out, total, &rc);

    if (!p)
        return rc;
    put_num_msg(p, c, msg, mlen);
    out_end(out, total);
    return 0;
}

/* ExportTraceServiceResponse {ExportTracePartialSuccess partial_success = 1}. */
int otlp_encode_partial_success(struct buf *out, uint64_t rejected, const char *msg)
{
    size_t mlen = strlen(msg);
    size_t inner = num_msg_size(rejected, mlen);
    size_t total = pb_len_field_size(1, inner);
    int rc;
    uint8_t *p;

    if (rejected == 0)
        return 0;
    p = out_begin(out, total, &rc);
    if (!p)
        return rc;
    p = pb_put_len_header(p, 1, inner);
    put_num_msg(p, rejected, msg, mlen);
    out_end(out, total);
    return 0;
}

long otlp_count_spans(const void *data, size_t len)
{
    return otlp__walk_request(data, len);
}

int otlp_protobuf_to_json(const void *data, size_t len, struct buf *out)
{
    return otlp__protobuf_to_json(data, len, out);
}

int otlp_json_to_protobuf(const char *json, size_t len, struct buf *out)
{
    return otlp__json_to_protobuf(json, len, out);
}
