/* SPDX-License-Identifier: Apache-2.0 */
/* fromjson: OTLP/JSON ExportTraceServiceRequest -> protobuf bytes (the receiver's http/json
 * input). The JSON is parsed with cJSON, mapped onto protobuf-c structs allocated from one
 * arena (freed in one call) and packed by protobuf-c.
 *
 * Accepted per the proto3 JSON mapping and the OTLP rules: lowerCamelCase or original field
 * names, ids as hex (upper or lower case; "" for none), enums as integers or names, 64-bit
 * integers as strings or numbers, doubles as numbers or strings ("NaN", "Infinity"), bytes as
 * base64 (standard or URL-safe, padding optional), null as "absent". Unknown members are
 * ignored. Anything else (wrong JSON types, bad hex length, out-of-range numbers, two members
 * of one oneof, nesting past OTLP_MAX_DEPTH) is -EBADMSG. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "extension/base/base.h"
#include "extension/otlp/internal.h"

/* ---- arena: every protobuf-c struct of one conversion, freed together ---- */

struct chunk {
    struct chunk *next;
    size_t used;
    size_t cap;
    alignas(max_align_t) unsigned char data[];
};

struct arena {
    struct chunk *head;
};

#define CHUNK_MIN (64u * 1024)

static void *arena_alloc(struct arena *a, size_t size)
{
    struct chunk *c = a->head;
    void *p;

    size = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    if (!c || c->cap - c->used < size) {
        size_t cap = size > CHUNK_MIN ? size : CHUNK_MIN;
        c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

static void arena_free(struct arena *a)
{
    while (a->head) {
        struct chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

struct ctx {
    struct arena arena;
};

/* ---- scalar members ---- */

/* A member under its JSON (lowerCamelCase) or proto name; JSON null counts as absent. */
static const cJSON *member(const cJSON *o, const char *camel, const char *snake)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, camel);

    if (!m && snake)
        m = cJSON_GetObjectItemCaseSensitive(o, snake);
    return cJSON_IsNull(m) ? NULL : m;
}

static int get_str(const cJSON *o, const char *camel, const char *snake, char **out)
{
    const cJSON *m = member(o, camel, snake);

    if (!m)
        return 0;
    if (!cJSON_IsString(m))
        return -EBADMSG;
    *out = m->valuestring;
    return 0;
}

/* Decimal digits with an optional leading '-', the whole string, into 64 bits. */
static int parse_decimal(const char *s, bool is_signed, uint64_t *mag, bool *neg)
{
    uint64_t v = 0;

    *neg = false;
    if (is_signed && *s == '-') {
        *neg = true;
        s++;
    }
    if (!*s)
        return -EBADMSG;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -EBADMSG;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *mag = v;
    return 0;
}

/* An integer member, as a JSON number (integral) or a decimal string, within [min, max]. */
static int get_int(const cJSON *m, int64_t min, uint64_t max, uint64_t *out)
{
    uint64_t mag;
    bool neg;

    if (cJSON_IsNumber(m)) {
        double d = m->valuedouble;
        if (d != floor(d) || d < (double)min || d >= 18446744073709551616.0)
            return -EBADMSG;
        neg = d < 0;
        mag = neg ? (uint64_t)(-d) : (uint64_t)d;
    } else if (!cJSON_IsString(m) || parse_decimal(m->valuestring, min < 0, &mag, &neg) < 0) {
        return -EBADMSG;
    }
    if (neg ? mag > (uint64_t)(-(min + 1)) + 1 : mag > max)
        return -EBADMSG;
    *out = neg ? (uint64_t)0 - mag : mag;
    return 0;
}

static int get_u64(const cJSON *o, const char *camel, const char *snake, uint64_t *out)
{
    const cJSON *m = member(o, camel, snake);

    return m ? get_int(m, 0, UINT64_MAX, out) : 0;
}

static int get_u32(const cJSON *o, const char *camel, const char *snake, uint32_t *out)
{
    const cJSON *m = member(o, camel, snake);
    uint64_t v;
    int rc;

    if (!m)
        return 0;
    rc = get_int(m, 0, UINT32_MAX, &v);
    *out = (uint32_t)v;
    return rc;
}

/* An enum member as an integer or as one of its value names (names[i] is value i). */
static int get_enum(const cJSON *o, const char *camel, const char *snake, const char *const *names,
                    size_t n_names, int *out)
{
    const cJSON *m = member(o, camel, snake);
    uint64_t v;

    if (!m)
        return 0;
    if (cJSON_IsString(m)) {
        for (size_t i = 0; i < n_names; i++) {
            if (strcmp(m->valuestring, names[i]) == 0) {
                *out = (int)i;
                return 0;
            }
        }
    }
    if (get_int(m, INT32_MIN, INT32_MAX, &v) < 0)
        return -EBADMSG;
    *out = (int)(int64_t)v;
    return 0;
}

/* A trace or span id: "" (none) or exactly 2 * want hex digits. */
static int get_id(struct ctx *c, const cJSON *o, const char *camel, const char *snake, size_t want,
                  ProtobufCBinaryData *out)
{
    const cJSON *m = member(o, camel, snake);
    const char *s;
    size_t n;

    if (!m)
        return 0;
    if (!cJSON_IsString(m))
        return -EBADMSG;
    s = m->valuestring;
    n = strlen(s);
    if (n == 0)
        return 0;
    if (n != 2 * want)
        return -EBADMSG;
    out->data = arena_alloc(&c->arena, want);
    if (!out->data)
        return -ENOMEM;
    if (!hex_decode(s, n, out->data))
        return -EBADMSG;
    out->len = want;
    return 0;
}

/* proto3 JSON bytes: either alphabet; padding is optional and, when there, loosely checked. */
static int bytes_decode(struct ctx *c, const char *s, ProtobufCBinaryData *out)
{
    size_t n = strlen(s);

    out->data = arena_alloc(&c->arena, base64_decoded_max(n) + 1);
    if (!out->data)
        return -ENOMEM;
    return base64_decode(s, n, BASE64_LOOSE_PADDING, out->data, &out->len) < 0 ? -EBADMSG : 0;
}

static int get_double(const cJSON *m, double *out)
{
    const char *s;
    char *end;

    if (cJSON_IsNumber(m)) {
        *out = m->valuedouble;
        return 0;
    }
    if (!cJSON_IsString(m) || !*m->valuestring)
        return -EBADMSG;
    s = m->valuestring;
    if (strcmp(s, "NaN") == 0) {
        *out = NAN;
        return 0;
    }
    if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
        *out = *s == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    /* strtod alone would also take "inf", "nan(...)", hex floats and leading spaces. */
    if (strspn(s, "0123456789+-.eE") != strlen(s))
        return -EBADMSG;
    *out = strtod(s, &end);
    return *end || !isfinite(*out) ? -EBADMSG : 0;
}

/* ---- messages ---- */

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0)                                                                               \
            return rc_;                                                                            \
    } while (0)

#define DESC(name) (&opentelemetry__proto__##name##__descriptor)

typedef int (*parse_fn)(struct ctx *c, const cJSON *o, void *msg, int depth);

/* Allocates and initialises one message at `depth` (as counted by the walker, so that every
 * request built here also passes otlp_count_spans) and fills it from the object o. */
static int new_msg(struct ctx *c, const ProtobufCMessageDescriptor *d, const cJSON *o, parse_fn fn,
                   int depth, void **out)
{
    void *msg;

    if (depth > OTLP_MAX_DEPTH || !cJSON_IsObject(o))
        return -EBADMSG;
    msg = arena_alloc(&c->arena, d->sizeof_message);
    if (!msg)
        return -ENOMEM;
    protobuf_c_message_init(d, msg);
    *out = msg;
    return fn(c, o, msg, depth);
}

static int get_msg(struct ctx *c, const cJSON *o, const char *camel, const char *snake,
                   const ProtobufCMessageDescriptor *d, parse_fn fn, int depth, void **out)
{
    const cJSON *m = member(o, camel, snake);

    return m ? new_msg(c, d, m, fn, depth, out) : 0;
}

static int get_msg_array(struct ctx *c, const cJSON *o, const char *camel, const char *snake,
                         const ProtobufCMessageDescriptor *d, parse_fn fn, int depth, size_t *n,
                         void ***out)
{
    const cJSON *m = member(o, camel, snake);
    const cJSON *item;
    size_t count = 0;
    void **ptrs;

    if (!m)
        return 0;
    if (!cJSON_IsArray(m))
        return -EBADMSG;
    cJSON_ArrayForEach(item, m) count++;
    if (!count)
        return 0;
    ptrs = arena_alloc(&c->arena, count * sizeof(*ptrs));
    if (!ptrs)
        return -ENOMEM;
    count = 0;
    cJSON_ArrayForEach(item, m) TRY(new_msg(c, d, item, fn, depth, &ptrs[count++]));
    *n = count;
    *out = ptrs;
    return 0;
}

static int parse_key_value(struct ctx *c, const cJSON *o, void *msg, int depth);

static int parse_array_value(struct ctx *c, const cJSON *o, void *msg, int depth);

static int parse_kvlist_value(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    KeyValueList *l = msg;

    return get_msg_array(c, o, "values", NULL, DESC(common__v1__key_value), parse_key_value,
                         depth + 1, &l->n_values, (void ***)&l->values);
}

/* The scalar members of the AnyValue oneof; *set counts the members present. */
static int any_scalar(const cJSON *o, AnyValue *v, int *set)
{
    const cJSON *m;
    uint64_t i;

    if ((m = member(o, "stringValue", "string_value"))) {
        if (!cJSON_IsString(m))
            return -EBADMSG;
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        v->string_value = m->valuestring;
        ++*set;
    }
    if ((m = member(o, "boolValue", "bool_value"))) {
        if (!cJSON_IsBool(m))
            return -EBADMSG;
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
        v->bool_value = cJSON_IsTrue(m);
        ++*set;
    }
    if ((m = member(o, "intValue", "int_value"))) {
        TRY(get_int(m, INT64_MIN, INT64_MAX, &i));
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        v->int_value = (int64_t)i;
        ++*set;
    }
    if ((m = member(o, "doubleValue", "double_value"))) {
        TRY(get_double(m, &v->double_value));
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        ++*set;
    }
    return 0;
}

static int parse_any_value(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    AnyValue *v = msg;
    const cJSON *m;
    int set = 0;

    TRY(any_scalar(o, v, &set));
    if ((m = member(o, "bytesValue", "bytes_value"))) {
        if (!cJSON_IsString(m))
            return -EBADMSG;
        TRY(bytes_decode(c, m->valuestring, &v->bytes_value));
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
        set++;
    }
    if ((m = member(o, "arrayValue", "array_value"))) {
        TRY(new_msg(c, DESC(common__v1__array_value), m, parse_array_value, depth + 1,
                    (void **)&v->array_value));
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
        set++;
    }
    if ((m = member(o, "kvlistValue", "kvlist_value"))) {
        TRY(new_msg(c, DESC(common__v1__key_value_list), m, parse_kvlist_value, depth + 1,
                    (void **)&v->kvlist_value));
        v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
        set++;
    }
    return set > 1 ? -EBADMSG : 0; /* one oneof, one member */
}

static int parse_array_value(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    ArrayValue *a = msg;

    return get_msg_array(c, o, "values", NULL, DESC(common__v1__any_value), parse_any_value,
                         depth + 1, &a->n_values, (void ***)&a->values);
}

static int parse_key_value(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    KeyValue *kv = msg;

    TRY(get_str(o, "key", NULL, &kv->key));
    return get_msg(c, o, "value", NULL, DESC(common__v1__any_value), parse_any_value, depth + 1,
                   (void **)&kv->value);
}

/* `attributes` of Resource, InstrumentationScope, Span, Event and Link. */
static int get_attributes(struct ctx *c, const cJSON *o, int depth, size_t *n, KeyValue ***out)
{
    return get_msg_array(c, o, "attributes", NULL, DESC(common__v1__key_value), parse_key_value,
                         depth + 1, n, (void ***)out);
}

static int get_dropped(const cJSON *o, uint32_t *out)
{
    return get_u32(o, "droppedAttributesCount", "dropped_attributes_count", out);
}

static int parse_resource(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    Resource *r = msg;

    TRY(get_attributes(c, o, depth, &r->n_attributes, &r->attributes));
    return get_dropped(o, &r->dropped_attributes_count);
}

static int parse_scope(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    Scope *s = msg;

    TRY(get_str(o, "name", NULL, &s->name));
    TRY(get_str(o, "version", NULL, &s->version));
    TRY(get_attributes(c, o, depth, &s->n_attributes, &s->attributes));
    return get_dropped(o, &s->dropped_attributes_count);
}

static int parse_status(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    static const char *const codes[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};
    Status *s = msg;
    int code = 0;

    (void)c;
    (void)depth;
    TRY(get_str(o, "message", NULL, &s->message));
    TRY(get_enum(o, "code", NULL, codes, 3, &code));
    s->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)code;
    return 0;
}

static int parse_event(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    Event *e = msg;

    TRY(get_u64(o, "timeUnixNano", "time_unix_nano", &e->time_unix_nano));
    TRY(get_str(o, "name", NULL, &e->name));
    TRY(get_attributes(c, o, depth, &e->n_attributes, &e->attributes));
    return get_dropped(o, &e->dropped_attributes_count);
}

static int parse_link(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    Link *l = msg;

    TRY(get_id(c, o, "traceId", "trace_id", 16, &l->trace_id));
    TRY(get_id(c, o, "spanId", "span_id", 8, &l->span_id));
    TRY(get_str(o, "traceState", "trace_state", &l->trace_state));
    TRY(get_attributes(c, o, depth, &l->n_attributes, &l->attributes));
    TRY(get_dropped(o, &l->dropped_attributes_count));
    return get_u32(o, "flags", NULL, &l->flags);
}

static int span_ids(struct ctx *c, const cJSON *o, Span *s)
{
    static const char *const kinds[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
                                        "SPAN_KIND_SERVER",      "SPAN_KIND_CLIENT",
                                        "SPAN_KIND_PRODUCER",    "SPAN_KIND_CONSUMER"};
    int kind = 0;

    TRY(get_id(c, o, "traceId", "trace_id", 16, &s->trace_id));
    TRY(get_id(c, o, "spanId", "span_id", 8, &s->span_id));
    TRY(get_str(o, "traceState", "trace_state", &s->trace_state));
    TRY(get_id(c, o, "parentSpanId", "parent_span_id", 8, &s->parent_span_id));
    TRY(get_u32(o, "flags", NULL, &s->flags));
    TRY(get_str(o, "name", NULL, &s->name));
    TRY(get_enum(o, "kind", NULL, kinds, 6, &kind));
    s->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)kind;
    TRY(get_u64(o, "startTimeUnixNano", "start_time_unix_nano", &s->start_time_unix_nano));
    return get_u64(o, "endTimeUnixNano", "end_time_unix_nano", &s->end_time_unix_nano);
}

static int parse_span(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    Span *s = msg;

    TRY(span_ids(c, o, s));
    TRY(get_attributes(c, o, depth, &s->n_attributes, &s->attributes));
    TRY(get_dropped(o, &s->dropped_attributes_count));
    TRY(get_msg_array(c, o, "events", NULL, DESC(trace__v1__span__event), parse_event, depth + 1,
                      &s->n_events, (void ***)&s->events));
    TRY(get_u32(o, "droppedEventsCount", "dropped_events_count", &s->dropped_events_count));
    TRY(get_msg_array(c, o, "links", NULL, DESC(trace__v1__span__link), parse_link, depth + 1,
                      &s->n_links, (void ***)&s->links));
    TRY(get_u32(o, "droppedLinksCount", "dropped_links_count", &s->dropped_links_count));
    return get_msg(c, o, "status", NULL, DESC(trace__v1__status), parse_status, depth + 1,
                   (void **)&s->status);
}

static int parse_scope_spans(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    ScopeSpans *ss = msg;

    TRY(get_msg(c, o, "scope", NULL, DESC(common__v1__instrumentation_scope), parse_scope,
                depth + 1, (void **)&ss->scope));
    TRY(get_msg_array(c, o, "spans", NULL, DESC(trace__v1__span), parse_span, depth + 1,
                      &ss->n_spans, (void ***)&ss->spans));
    return get_str(o, "schemaUrl", "schema_url", &ss->schema_url);
}

static int parse_resource_spans(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    ResourceSpans *rs = msg;

    TRY(get_msg(c, o, "resource", NULL, DESC(resource__v1__resource), parse_resource, depth + 1,
                (void **)&rs->resource));
    TRY(get_msg_array(c, o, "scopeSpans", "scope_spans", DESC(trace__v1__scope_spans),
                      parse_scope_spans, depth + 1, &rs->n_scope_spans,
                      (void ***)&rs->scope_spans));
    return get_str(o, "schemaUrl", "schema_url", &rs->schema_url);
}

static int parse_request(struct ctx *c, const cJSON *o, void *msg, int depth)
{
    Request *req = msg;

    return get_msg_array(c, o, "resourceSpans", "resource_spans", DESC(trace__v1__resource_spans),
                         parse_resource_spans, depth + 1, &req->n_resource_spans,
                         (void ***)&req->resource_spans);
}

/* ---- entry ---- */

/* cJSON keeps numbers as doubles, which cannot hold every 64-bit integer (timestamps in
 * nanoseconds need 61 bits). So integer literals too long to be exact in a double (over 15
 * digits) are put in quotes first; every integer field accepts a decimal string, and
 * doubleValue accepts numeric strings too, so the meaning is unchanged and nothing is lost.
 * Each quoted token has at least 16 characters, so the copy grows by at most 1/8. */
/* The number token at in[i..n): its length, and whether it is a plain integer (-?[0-9]+) with
 * more than 15 digits. */
static size_t number_token(const char *in, size_t i, size_t n, bool *long_int)
{
    size_t j = i + (in[i] == '-');
    size_t digits;

    while (j < n && in[j] >= '0' && in[j] <= '9')
        j++;
    digits = j - i - (in[i] == '-');
    *long_int = digits > 15;
    while (j < n && strchr("0123456789+-.eE", in[j]) && in[j]) {
        *long_int = false; /* a fraction or an exponent: a double, left as it is */
        j++;
    }
    return j - i;
}

static int quote_long_integers(const char *in, size_t n, struct buf *out)
{
    char *o;
    bool in_str = false;
    size_t i = 0;

    TRY(buf_reserve(out, n + n / 8 + 2));
    o = out->data;
    while (i < n) {
        char ch = in[i];
        size_t len;
        bool long_int;
        if (in_str || (ch != '-' && (ch < '0' || ch > '9'))) {
            *o++ = in[i++];
            if (in_str && ch == '\\' && i < n)
                *o++ = in[i++];
            else if (ch == '"')
                in_str = !in_str;
            continue;
        }
        len = number_token(in, i, n, &long_int);
        if (long_int)
            *o++ = '"';
        memcpy(o, in + i, len);
        o += len;
        if (long_int)
            *o++ = '"';
        i += len;
    }
    out->len = (size_t)(o - out->data);
    return 0;
}

static int pack(const Request *req, struct buf *out)
{
    size_t n =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
            req);

    TRY(buf_reserve(out, n));
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(
        req, (uint8_t *)out->data + out->len);
    out->len += n;
    out->data[out->len] = '\0';
    return 0;
}

int otlp__json_to_protobuf(const char *json, size_t len, struct buf *out)
{
    struct ctx c = {{NULL}};
    struct buf text;
    cJSON *root = NULL;
    void *req = NULL;
    int rc;

    buf_init(&text, len + len / 8 + 2);
    rc = quote_long_integers(json, len, &text);
    if (rc < 0)
        goto out;
    root = cJSON_ParseWithLength(text.data, text.len);
    if (!root) {
        rc = -EBADMSG; /* cJSON also returns NULL on allocation failure; both reject */
        goto out;
    }
    rc = new_msg(&c, DESC(collector__trace__v1__export_trace_service_request), root, parse_request,
                 0, &req);
    if (rc == 0)
        rc = pack(req, out);
out:
    cJSON_Delete(root);
    arena_free(&c.arena);
    buf_free(&text);
    return rc;
}
