/* SPDX-License-Identifier: Apache-2.0 */
/* walk: a strict, allocation-free check of a serialized ExportTraceServiceRequest that counts
 * its spans. It reads untrusted bytes (the receiver's input), so every length is checked
 * against the bytes left, recursion is bounded by OTLP_MAX_DEPTH, and anything that the
 * schema forbids is -EBADMSG: a malformed or overlong varint, a length past the end, a known
 * field with the wrong wire type, groups (protobuf-c rejects them too), field number 0.
 * Unknown fields are skipped per their wire type, as protobuf requires. Every known
 * sub-message is walked too, so a request that passes here also unpacks with protobuf-c. */
#include <errno.h>

#include "extension/otlp/internal.h"

/* The messages of the OTLP trace schema; M_NONE marks a bytes or string field. */
enum msg {
    M_NONE,
    M_REQUEST,
    M_RESOURCE_SPANS,
    M_RESOURCE,
    M_SCOPE_SPANS,
    M_SCOPE,
    M_SPAN,
    M_EVENT,
    M_LINK,
    M_STATUS,
    M_KEY_VALUE,
    M_ANY_VALUE,
    M_ARRAY_VALUE,
    M_KVLIST_VALUE,
    M_COUNT,
};

#define MAX_FIELD 16

struct rule {
    uint8_t known;
    uint8_t wire;
    uint8_t sub; /* enum msg of a length-delimited field */
};

#define V                                                                                          \
    {                                                                                              \
        1, PB_VARINT, M_NONE                                                                       \
    }
#define I8                                                                                         \
    {                                                                                              \
        1, PB_I64, M_NONE                                                                          \
    }
#define I4                                                                                         \
    {                                                                                              \
        1, PB_I32, M_NONE                                                                          \
    }
#define B                                                                                          \
    {                                                                                              \
        1, PB_LEN, M_NONE                                                                          \
    }
#define SUB(m)                                                                                     \
    {                                                                                              \
        1, PB_LEN, m                                                                               \
    }

/* Indexed by message, then by field number (trace.proto, common.proto, resource.proto). */
static const struct rule RULES[M_COUNT][MAX_FIELD + 1] = {
    [M_REQUEST] = {[1] = SUB(M_RESOURCE_SPANS)},
    [M_RESOURCE_SPANS] = {[1] = SUB(M_RESOURCE), [2] = SUB(M_SCOPE_SPANS), [3] = B},
    [M_RESOURCE] = {[1] = SUB(M_KEY_VALUE), [2] = V},
    [M_SCOPE_SPANS] = {[1] = SUB(M_SCOPE), [2] = SUB(M_SPAN), [3] = B},
    [M_SCOPE] = {[1] = B, [2] = B, [3] = SUB(M_KEY_VALUE), [4] = V},
    [M_SPAN] = {[1] = B,
                [2] = B,
                [3] = B,
                [4] = B,
                [5] = B,
                [6] = V,
                [7] = I8,
                [8] = I8,
                [9] = SUB(M_KEY_VALUE),
                [10] = V,
                [11] = SUB(M_EVENT),
                [12] = V,
                [13] = SUB(M_LINK),
                [14] = V,
                [15] = SUB(M_STATUS),
                [16] = I4},
    [M_EVENT] = {[1] = I8, [2] = B, [3] = SUB(M_KEY_VALUE), [4] = V},
    [M_LINK] = {[1] = B, [2] = B, [3] = B, [4] = SUB(M_KEY_VALUE), [5] = V, [6] = I4},
    [M_STATUS] = {[2] = B, [3] = V},
    [M_KEY_VALUE] = {[1] = B, [2] = SUB(M_ANY_VALUE)},
    [M_ANY_VALUE] =
        {[1] = B,
         [2] = V,
         [3] = V,
         [4] = I8,
         [5] = SUB(M_ARRAY_VALUE),
         [6] = SUB(M_KVLIST_VALUE),
         [7] = B},
    [M_ARRAY_VALUE] = {[1] = SUB(M_ANY_VALUE)},
    [M_KVLIST_VALUE] = {[1] = SUB(M_KEY_VALUE)},
};

/* Reads a varint of at most 10 bytes whose value fits 64 bits. */
static int read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;

    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t b;
        if (p == end)
            return -EBADMSG;
        b = *p++;
        if (shift == 63 && b > 1)
            return -EBADMSG; /* bits past 64 */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -EBADMSG;
}

static int skip(const uint8_t **pp, const uint8_t *end, size_t n)
{
    if ((size_t)(end - *pp) < n)
        return -EBADMSG;
    *pp += n;
    return 0;
}

static int walk_message(const uint8_t *p, const uint8_t *end, enum msg m, int depth, long *spans);

static int walk_len_field(const uint8_t **pp, const uint8_t *end, enum msg parent,
                          const struct rule *r, int depth, long *spans)
{
    uint64_t len;
    const uint8_t *body;
    int rc;

    const uint8_t *len_start = *pp;

    rc = read_varint(pp, end, &len);
    /* protobuf-c reads length prefixes of at most 5 bytes too (see walk_field). */
    if (rc < 0 || *pp - len_start > 5 || len > (uint64_t)(end - *pp))
        return -EBADMSG;
    body = *pp;
    *pp += len;
    if (!r->known || r->sub == M_NONE)
        return 0;
    if (depth + 1 > OTLP_MAX_DEPTH)
        return -EBADMSG;
    if (parent == M_SCOPE_SPANS && r->sub == M_SPAN)
        (*spans)++;
    return walk_message(body, *pp, (enum msg)r->sub, depth + 1, spans);
}

static int walk_field(const uint8_t **pp, const uint8_t *end, enum msg m, int depth, long *spans)
{
    static const struct rule unknown = {0, 0, M_NONE};
    const struct rule *r = &unknown;
    uint64_t tag;
    uint64_t field;
    uint64_t v;
    unsigned wire;

    const uint8_t *tag_start = *pp;

    /* A tag is at most 5 bytes on the wire (protobuf-c refuses longer ones, even padded with
     * 0x80 continuation bytes): accepting them here would buffer requests the backend's
     * decoder rejects. Field numbers are below 2^29. */
    if (read_varint(pp, end, &tag) < 0 || *pp - tag_start > 5 || tag > UINT32_MAX ||
        (tag >> 3) == 0)
        return -EBADMSG;
    field = tag >> 3;
    wire = (unsigned)(tag & 7);
    if (field <= MAX_FIELD && RULES[m][field].known)
        r = &RULES[m][field];
    if (r->known && r->wire != wire)
        return -EBADMSG;
    switch (wire) {
    case PB_VARINT:
        return read_varint(pp, end, &v);
    case PB_I64:
        return skip(pp, end, 8);
    case PB_I32:
        return skip(pp, end, 4);
    case PB_LEN:
        return walk_len_field(pp, end, m, r, depth, spans);
    default:
        return -EBADMSG; /* groups (deprecated, unsupported by protobuf-c) and wire types 6, 7 */
    }
}

static int walk_message(const uint8_t *p, const uint8_t *end, enum msg m, int depth, long *spans)
{
    while (p < end) {
        int rc = walk_field(&p, end, m, depth, spans);
        if (rc < 0)
            return rc;
    }
    return 0;
}

long otlp__walk_request(const uint8_t *p, size_t len)
{
    long spans = 0;
    int rc;

    if (!p && len)
        return -EBADMSG;
    if (!len)
        return 0;
    rc = walk_message(p, p + len, M_REQUEST, 0, &spans);
    return rc < 0 ? rc : spans;
}
