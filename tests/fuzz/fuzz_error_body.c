/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_error_body: arbitrary bytes as what a runtime reports for a failed invocation: an /error
 * body (Lambda error JSON of any language, or anything else) or a base64 Error-Body trailer,
 * with or without an Error-Type. The first byte says which (bit 0: base64 trailer, bit 1: an
 * error type runs up to the first '\n'). Invariants: the span is ERROR with exactly one
 * `exception` event, every string is well-formed UTF-8 within its cap, and the span encodes to
 * OTLP protobuf and to OTLP/JSON that parses. */
#include <cjson/cJSON.h>
#include <stdbool.h>

#include "extension/base/base.h"
#include "extension/spans/spans.h"
#include "extension/otlp/otlp.h"
#include "tests/fuzz/fuzz_common.h"

static void check_attr(const struct attr_list *l, const char *key, size_t cap)
{
    const struct attr *a = attr_list_find(l, key);

    if (!a)
        return;
    FUZZ_ASSERT(a->type == ATTR_STRING && a->v.s[0] != '\0');
    FUZZ_ASSERT(strlen(a->v.s) < cap);
    FUZZ_ASSERT(utf8_valid(a->v.s, strlen(a->v.s)));
}

static void check_encodes(const struct span *s)
{
    struct attr_list attrs = {0};
    struct otlp_resource *res;
    struct buf pb, js;
    cJSON *root;

    attr_list_add_str(&attrs, "service.name", "fuzz");
    res = otlp_resource_new(&attrs, "tracebridge", "fuzz");
    attr_list_free(&attrs);
    FUZZ_ASSERT(res != NULL);
    buf_init(&pb, 1 << 20);
    buf_init(&js, 8 << 20);
    FUZZ_ASSERT(otlp_encode_span(res, s, &pb) == 0);
    FUZZ_ASSERT(otlp_count_spans(pb.data, pb.len) == 1);
    FUZZ_ASSERT(otlp_protobuf_to_json(pb.data, pb.len, &js) == 0);
    root = cJSON_ParseWithLength(js.data, js.len);
    FUZZ_ASSERT(root != NULL);
    cJSON_Delete(root);
    buf_free(&pb);
    buf_free(&js);
    otlp_resource_free(res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char type[300] = "";
    const char *body;
    size_t len;
    bool b64;
    struct span s;

    if (size < 1)
        return 0;
    b64 = data[0] & 1;
    body = (const char *)data + 1;
    len = size - 1;
    if (data[0] & 2) {
        const char *nl = memchr(body, '\n', len);
        size_t tl = nl ? (size_t)(nl - body) : len;
        snprintf(type, sizeof(type), "%.*s", (int)(tl < sizeof(type) - 1 ? tl : sizeof(type) - 1),
                 body);
        body += nl ? tl + 1 : tl;
        len -= nl ? tl + 1 : tl;
    }
    span_init(&s);
    span_set_name(&s, "fuzz");
    memset(s.ctx.trace_id, 1, 16);
    memset(s.ctx.span_id, 2, 8);
    FUZZ_ASSERT(invspan_record_error(&s, type[0] ? type : NULL, len ? body : NULL, len, b64, 7) ==
                0);
    FUZZ_ASSERT(s.status == SPAN_STATUS_ERROR);
    FUZZ_ASSERT(s.n_events == 1 && strcmp(s.events[0].name, "exception") == 0);
    FUZZ_ASSERT(s.events[0].time_ns == 7);
    check_attr(&s.events[0].attrs, "exception.type", 512);
    check_attr(&s.events[0].attrs, "exception.message", 4096);
    check_attr(&s.events[0].attrs, "exception.stacktrace", 32 * 1024);
    FUZZ_ASSERT(!s.status_message || utf8_valid(s.status_message, strlen(s.status_message)));
    check_encodes(&s);
    span_free(&s);
    return 0;
}
