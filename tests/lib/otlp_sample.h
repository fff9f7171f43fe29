/* SPDX-License-Identifier: Apache-2.0 */
/* otlp_sample.h: the "typical invocation span" that the OTLP tests, the sample encoder tool and
 * the benchmark share: every span field set, 12 attributes of all four types, two events,
 * three links from a batch, an error status, and a Lambda-like resource. */
#ifndef TB_OTLP_SAMPLE_H
#define TB_OTLP_SAMPLE_H

#include <string.h>

#include "extension/otlp/otlp.h"
#include "extension/spans/spans.h"
#include "extension/base/base.h"

#define SAMPLE_TRACE_ID   "0af7651916cd43dd8448eb211c80319c"
#define SAMPLE_SPAN_ID    "b7ad6b7169203331"
#define SAMPLE_PARENT_ID  "00f067aa0ba902b7"
#define SAMPLE_START_NS   1700000000123456789ull
#define SAMPLE_END_NS     1700000000223456789ull
#define SAMPLE_LINK_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"

static inline int sample_link(struct span *s, int i)
{
    struct trace_ctx c;
    struct span_link *l;
    char tp[TRACEPARENT_LEN + 1];

    memcpy(tp, "00-" SAMPLE_LINK_TRACE "-000000000000000a-01", TRACEPARENT_LEN + 1);
    tp[TRACEPARENT_LEN - 4] = (char)('1' + i);
    if (!traceparent_parse(tp, TRACEPARENT_LEN, &c))
        return -1;
    l = span_add_link(s, &c, i == 0 ? "congo=t61rcWkgMzE" : NULL);
    if (!l)
        return -1;
    return attr_list_add_str(&l->attrs, "messaging.message.id", i == 0 ? "m-1" : "m-2") |
           attr_list_add_int(&l->attrs, "batch.index", i);
}

static inline int sample_attrs(struct attr_list *a)
{
    return attr_list_add_str(a, "faas.trigger", "pubsub") |
           attr_list_add_str(a, "faas.invocation_id", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef") |
           attr_list_add_str(a, "cloud.provider", "aws") |
           attr_list_add_str(a, "cloud.region", "eu-west-1") |
           attr_list_add_str(a, "cloud.resource_id",
                             "arn:aws:lambda:eu-west-1:123456789012:function:orders") |
           attr_list_add_str(a, "messaging.system", "aws_sqs") |
           attr_list_add_str(a, "messaging.operation.type", "process") |
           attr_list_add_int(a, "messaging.batch.message_count", 3) |
           attr_list_add_bool(a, "faas.coldstart", true) |
           attr_list_add_int(a, "tracebridge.carrier.depth", -2) |
           attr_list_add_double(a, "tracebridge.overhead_ms", 0.042) |
           attr_list_add_str(a, "tracebridge.version", "0.1.0");
}

/* Fills s (span_init'ed by the caller); 0 or -1. */
static inline int sample_span(struct span *s)
{
    struct span_event *e;
    int rc = 0;

    if (!traceparent_parse("00-" SAMPLE_TRACE_ID "-" SAMPLE_SPAN_ID "-01", TRACEPARENT_LEN,
                           &s->ctx) ||
        !hex_decode_lower(SAMPLE_PARENT_ID, 16, s->parent_span_id))
        return -1;
    s->has_parent = true;
    s->tracestate = strdup("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    s->kind = SPAN_KIND_CONSUMER;
    s->start_ns = SAMPLE_START_NS;
    s->end_ns = SAMPLE_END_NS;
    rc |= span_set_name(s, "orders process");
    rc |= sample_attrs(&s->attrs);
    e = span_add_event(s, "exception", SAMPLE_START_NS + 1000);
    rc |= e ? attr_list_add_str(&e->attrs, "exception.type", "Error") |
                  attr_list_add_str(&e->attrs, "exception.message", "boom \"quoted\"\n")
            : -1;
    rc |= span_add_event(s, "flush", SAMPLE_END_NS) ? 0 : -1;
    for (int i = 0; i < 3; i++)
        rc |= sample_link(s, i);
    rc |= span_set_status(s, SPAN_STATUS_ERROR, "handler threw");
    return rc || !s->tracestate ? -1 : 0;
}

static inline struct otlp_resource *sample_resource(void)
{
    struct attr_list a = {NULL, 0, 0};
    struct otlp_resource *r = NULL;

    if ((attr_list_add_str(&a, "service.name", "orders") |
         attr_list_add_str(&a, "cloud.provider", "aws") |
         attr_list_add_str(&a, "faas.name", "orders") |
         attr_list_add_int(&a, "faas.max_memory", 536870912)) == 0)
        r = otlp_resource_new(&a, "tracebridge", "0.1.0");
    attr_list_free(&a);
    return r;
}

#endif
