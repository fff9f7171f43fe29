/* SPDX-License-Identifier: Apache-2.0 */
/* invspan: what the invocation span says for every trigger (name, kind, attributes, links), run
 * on the real event shapes of tests/fixtures through the real promote analysis, and the
 * exception event made from /error bodies of every Lambda runtime language and from the base64
 * streaming error trailers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extension/base/base.h"
#include "extension/spans/spans.h"
#include "tests/lib/tap.h"
#include "tests/lib/test_util.h"

#define LXRAY "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"

/* The parent the analysis found for the last described event (lifecycle makes it the span's
 * parent; invspan only names and describes). */
struct parent_seen {
    bool found;
    uint8_t span_id[8];
};

/* Analyses body (with the Lambda X-Ray header) and describes span s from it. */
static int describe_body_p(struct span *s, const char *body, size_t n, bool coldstart,
                           struct parent_seen *p)
{
    struct promote_conf pc = {.targets = PROMOTE_TARGET_HEADERS | PROMOTE_TARGET_CLIENT_CONTEXT,
                              .batch_parent = PROMOTE_BATCH_FIRST,
                              .max_event_bytes = 8u << 20};
    struct promote_input in = {.body = body,
                               .body_len = n,
                               .trace_id_header = LXRAY,
                               .trace_id_header_len = strlen(LXRAY)};
    struct promote_analysis a;
    struct invspan_facts f = {.request_id = "req-1",
                              .function_name = "orders-fn",
                              .function_arn =
                                  "arn:aws:lambda:eu-west-1:123456789012:function:orders-fn",
                              .account_id = "123456789012",
                              .coldstart = coldstart};
    int rc;

    promote_analyse(&pc, &in, &a);
    span_init(s);
    rc = invspan_describe(s, &a, &f);
    if (p) {
        p->found = a.found;
        memcpy(p->span_id, a.parent.ctx.span_id, 8);
    }
    promote_analysis_free(&a);
    return rc;
}

static int describe_body(struct span *s, const char *body, size_t n, bool coldstart)
{
    return describe_body_p(s, body, n, coldstart, NULL);
}

static int describe_fixture_p(struct span *s, const char *fixture, struct parent_seen *p)
{
    size_t n;
    char *body = slurp(fixture, &n);
    int rc = describe_body_p(s, body, n, false, p);

    free(body);
    return rc;
}

static int describe_fixture(struct span *s, const char *fixture)
{
    return describe_fixture_p(s, fixture, NULL);
}

static const char *sattr(const struct attr_list *l, const char *k)
{
    const struct attr *a = attr_list_find(l, k);

    return a && a->type == ATTR_STRING ? a->v.s : NULL;
}

static long long iattr(const struct attr_list *l, const char *k)
{
    const struct attr *a = attr_list_find(l, k);

    return a && a->type == ATTR_INT ? (long long)a->v.i : -1;
}

/* Links that carry a record's context (not the Lambda X-Ray one). */
static size_t record_links(const struct span *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n_links; i++)
        n += attr_list_find(&s->links[i].attrs, "tracebridge.link.source") == NULL;
    return n;
}

static bool has_xray_link(const struct span *s)
{
    for (size_t i = 0; i < s->n_links; i++) {
        const char *src = sattr(&s->links[i].attrs, "tracebridge.link.source");
        if (src && strcmp(src, "lambda_xray") == 0)
            return true;
    }
    return false;
}

static void common(struct tap *t, const struct span *s, const char *what, const char *trigger)
{
    char m[128];

    snprintf(m, sizeof(m), "%s: faas.trigger=%s", what, trigger);
    is_str(t, sattr(&s->attrs, "faas.trigger"), trigger, "%s", m);
    ok(t,
       sattr(&s->attrs, "faas.invocation_id") &&
           !strcmp(sattr(&s->attrs, "faas.invocation_id"), "req-1") &&
           sattr(&s->attrs, "cloud.resource_id") &&
           strstr(sattr(&s->attrs, "cloud.resource_id"), ":function:orders-fn") &&
           sattr(&s->attrs, "cloud.account.id") && attr_list_find(&s->attrs, "faas.coldstart"),
       "%s: faas.invocation_id, cloud.resource_id, cloud.account.id, faas.coldstart", what);
    ok(t, has_xray_link(s), "%s: the Lambda X-Ray context is a link", what);
}

static void test_sqs(struct tap *t)
{
    struct span s;

    is_int(t, describe_fixture(&s, "sqs_esm_single.json"), 0, "sqs single: described");
    is_str(t, s.name, "process my-queue", "sqs single: name process <queue>");
    is_int(t, s.kind, SPAN_KIND_CONSUMER, "sqs single: CONSUMER");
    common(t, &s, "sqs single", "pubsub");
    is_str(t, sattr(&s.attrs, "messaging.system"), "aws_sqs", "sqs: messaging.system=aws_sqs");
    is_str(t, sattr(&s.attrs, "messaging.operation.type"), "process",
           "sqs: messaging.operation.type=process");
    is_str(t, sattr(&s.attrs, "messaging.destination.name"), "my-queue",
           "sqs: messaging.destination.name");
    is_str(t, sattr(&s.attrs, "messaging.message.id"), "059f36b4-87a3-44ab-83d2-661975530690",
           "sqs single: messaging.message.id on the span");
    ok(t, !attr_list_find(&s.attrs, "messaging.batch.message_count"), "sqs single: no batch count");
    is_int(t, record_links(&s), 1, "sqs single: one record link");
    ok(t,
       s.n_links >= 1 && sattr(&s.links[0].attrs, "messaging.message.id") &&
           !strcmp(sattr(&s.links[0].attrs, "messaging.message.id"),
                   "059f36b4-87a3-44ab-83d2-661975530690"),
       "sqs single: the link carries messaging.message.id");
    span_free(&s);

    is_int(t, describe_fixture(&s, "sqs_esm_batch10.json"), 0, "sqs batch: described");
    is_str(t, s.name, "process my-queue", "sqs batch: name");
    is_int(t, iattr(&s.attrs, "messaging.batch.message_count"), 10,
           "sqs batch: messaging.batch.message_count=10");
    ok(t, !attr_list_find(&s.attrs, "messaging.message.id"),
       "sqs batch: no messaging.message.id on the span");
    /* Records 0-6 carry traceparent, 7 only AWSTraceHeader, 8 an upper-case (invalid) one,
     * 9 nothing: a link for each record with a valid context. */
    is_int(t, record_links(&s), 8, "sqs batch: a link per record with a valid context");
    {
        int with_id = 0;
        for (size_t i = 0; i < s.n_links; i++) {
            const char *id = sattr(&s.links[i].attrs, "messaging.message.id");
            char want[64];
            snprintf(want, sizeof(want), "059f36b4-87a3-44ab-83d2-66197553069%d", with_id);
            if (id && strcmp(id, want) == 0)
                with_id++;
        }
        is_int(t, with_id, 8, "sqs batch: each link has its record's messaging.message.id");
    }
    span_free(&s);
}

static void test_sns(struct tap *t)
{
    struct span s;
    struct parent_seen p;

    is_int(t, describe_fixture_p(&s, "sns.json", &p), 0, "sns: described");
    is_str(t, s.name, "process sns-lambda", "sns: name process <topic>");
    is_int(t, s.kind, SPAN_KIND_CONSUMER, "sns: CONSUMER");
    common(t, &s, "sns", "pubsub");
    is_str(t, sattr(&s.attrs, "messaging.system"), "aws.sns", "sns: messaging.system=aws.sns");
    is_str(t, sattr(&s.attrs, "messaging.destination.name"), "sns-lambda",
           "sns: messaging.destination.name = topic");
    is_str(t, sattr(&s.attrs, "messaging.message.id"), "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
           "sns: messaging.message.id");
    ok(t, p.found, "sns: parent from Sns.MessageAttributes");
    span_free(&s);

    is_int(t, describe_fixture_p(&s, "sns_sqs_envelope.json", &p), 0, "sns->sqs: described");
    is_str(t, s.name, "process orders-queue", "sns->sqs: named after the queue");
    is_int(t, s.kind, SPAN_KIND_CONSUMER, "sns->sqs: CONSUMER");
    common(t, &s, "sns->sqs", "pubsub");
    is_str(t, sattr(&s.attrs, "messaging.system"), "aws_sqs", "sns->sqs: messaging.system=aws_sqs");
    ok(t, p.found && p.span_id[0] == 0x00 && p.span_id[1] == 0xf0,
       "sns->sqs: parent from the SNS envelope in the body");
    span_free(&s);
}

static void test_kafka(struct tap *t)
{
    struct span s;
    struct parent_seen p;

    is_int(t, describe_fixture_p(&s, "msk.json", &p), 0, "kafka: described");
    is_str(t, s.name, "process orders", "kafka: name process <topic>");
    is_int(t, s.kind, SPAN_KIND_CONSUMER, "kafka: CONSUMER");
    common(t, &s, "kafka", "pubsub");
    is_str(t, sattr(&s.attrs, "messaging.system"), "kafka", "kafka: messaging.system=kafka");
    is_str(t, sattr(&s.attrs, "messaging.destination.name"), "orders",
           "kafka: messaging.destination.name = topic");
    is_str(t, sattr(&s.attrs, "messaging.destination.partition.id"), "0", "kafka: partition");
    is_str(t, sattr(&s.attrs, "messaging.kafka.offset"), "15", "kafka: offset");
    ok(t, p.found && record_links(&s) == 1, "kafka: parent and a link from the record headers");
    span_free(&s);

    is_int(t, describe_fixture(&s, "msk_batch.json"), 0, "kafka batch: described");
    is_int(t, iattr(&s.attrs, "messaging.batch.message_count"), 4, "kafka batch: 4 records");
    ok(t, !attr_list_find(&s.attrs, "messaging.kafka.offset"), "kafka batch: no single offset");
    is_int(t, (long long)record_links(&s), 3, "kafka batch: a link per record with context");
    span_free(&s);
}

static void test_durable(struct tap *t)
{
    struct span s;
    const struct attr *first;

    is_int(t, describe_fixture(&s, "durable.json"), 0, "durable: described");
    ok(t,
       sattr(&s.attrs, "aws.lambda.durable_execution_arn") &&
           strstr(sattr(&s.attrs, "aws.lambda.durable_execution_arn"), "/durable-execution/"),
       "durable: aws.lambda.durable_execution_arn");
    first = attr_list_find(&s.attrs, "aws.lambda.durable.first_invocation");
    ok(t, first && first->type == ATTR_BOOL && first->v.b,
       "durable: aws.lambda.durable.first_invocation");
    span_free(&s);
}

static void test_eventbridge(struct tap *t)
{
    const char *ev =
        "{\"version\":\"0\",\"id\":\"6a7e8feb\",\"detail-type\":\"OrderPlaced\","
        "\"source\":\"com.example.orders\",\"account\":\"111122223333\","
        "\"time\":\"2017-12-22T18:43:48Z\",\"region\":\"us-west-1\","
        "\"resources\":[\"arn:aws:events:us-west-1:111122223333:rule/orders\"],"
        "\"detail\":{\"orderId\":\"o-1\","
        "\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}}";
    struct span s;
    struct parent_seen p;

    is_int(t, describe_body_p(&s, ev, strlen(ev), false, &p), 0, "eventbridge: described");
    is_str(t, s.name, "process com.example.orders", "eventbridge: name process <source>");
    is_int(t, s.kind, SPAN_KIND_CONSUMER, "eventbridge: CONSUMER");
    common(t, &s, "eventbridge", "pubsub");
    is_str(t, sattr(&s.attrs, "messaging.destination.name"), "com.example.orders",
           "eventbridge: messaging.destination.name = source");
    ok(t, p.found, "eventbridge: parent from detail.traceparent");
    span_free(&s);
}

static void test_http(struct tap *t)
{
    struct span s;

    is_int(t, describe_fixture(&s, "apigw_v1.json"), 0, "apigw v1: described");
    is_str(t, s.name, "POST /{proxy+}", "apigw v1: name <METHOD> <resource>");
    is_int(t, s.kind, SPAN_KIND_SERVER, "apigw v1: SERVER");
    common(t, &s, "apigw v1", "http");
    is_str(t, sattr(&s.attrs, "http.request.method"), "POST", "apigw v1: http.request.method");
    is_str(t, sattr(&s.attrs, "http.route"), "/{proxy+}", "apigw v1: http.route = resource");
    ok(t, !attr_list_find(&s.attrs, "messaging.system"), "apigw v1: no messaging attributes");
    span_free(&s);

    is_int(t, describe_fixture(&s, "apigw_v2.json"), 0, "apigw v2: described");
    is_str(t, s.name, "GET /items/{id}", "apigw v2: name from the routeKey");
    is_int(t, s.kind, SPAN_KIND_SERVER, "apigw v2: SERVER");
    common(t, &s, "apigw v2", "http");
    is_str(t, sattr(&s.attrs, "http.request.method"), "GET", "apigw v2: http.request.method");
    is_str(t, sattr(&s.attrs, "http.route"), "/items/{id}",
           "apigw v2: http.route is the routeKey's path template (no method)");
    span_free(&s);

    /* Function URLs and ALB have no route template: the path is high-cardinality, so it is
     * url.path, never http.route or the span name (HTTP semantic conventions). */
    is_int(t, describe_fixture(&s, "function_url.json"), 0, "function url: described");
    is_str(t, s.name, "orders-fn", "function url: named after the function (no route)");
    is_int(t, s.kind, SPAN_KIND_SERVER, "function url: SERVER");
    common(t, &s, "function url", "http");
    is_str(t, sattr(&s.attrs, "http.request.method"), "POST", "function url: method");
    ok(t, !attr_list_find(&s.attrs, "http.route"), "function url: no http.route");
    is_str(t, sattr(&s.attrs, "url.path"), "/my/path", "function url: url.path");
    span_free(&s);

    is_int(t, describe_fixture(&s, "alb_single.json"), 0, "alb: described");
    is_str(t, s.name, "orders-fn", "alb: named after the function (no route)");
    is_int(t, s.kind, SPAN_KIND_SERVER, "alb: SERVER");
    common(t, &s, "alb", "http");
    is_str(t, sattr(&s.attrs, "http.request.method"), "GET", "alb: method");
    ok(t, !attr_list_find(&s.attrs, "http.route"), "alb: no http.route");
    is_str(t, sattr(&s.attrs, "url.path"), "/lambda", "alb: url.path");
    span_free(&s);

    {
        const char *ev = "{\"version\":\"2.0\",\"routeKey\":\"$default\",\"rawPath\":\"/a/b\","
                         "\"headers\":{},\"requestContext\":{\"apiId\":\"x\",\"http\":{"
                         "\"method\":\"PUT\",\"path\":\"/a/b\"}}}";
        is_int(t, describe_body(&s, ev, strlen(ev), false), 0, "apigw v2 $default: described");
        ok(t, !attr_list_find(&s.attrs, "http.route"), "apigw v2 $default route: no http.route");
        is_str(t, s.name, "orders-fn", "apigw v2 $default route: named after the function");
        span_free(&s);
    }
}

static void test_direct_unknown(struct tap *t)
{
    struct span s;
    struct parent_seen p;
    const char *unknown = "[1,2,3]";

    is_int(t, describe_fixture_p(&s, "direct_object.json", &p), 0, "direct: described");
    is_str(t, s.name, "orders-fn", "direct: named after the function");
    is_int(t, s.kind, SPAN_KIND_SERVER, "direct: SERVER");
    common(t, &s, "direct", "other");
    ok(t, p.found, "direct: parent from __traceparent__");
    ok(t, !attr_list_find(&s.attrs, "messaging.system") && !attr_list_find(&s.attrs, "http.route"),
       "direct: no messaging or http attributes");
    span_free(&s);

    is_int(t, describe_body_p(&s, unknown, strlen(unknown), true, &p), 0, "unknown: described");
    is_str(t, s.name, "orders-fn", "unknown: named after the function");
    is_int(t, s.kind, SPAN_KIND_SERVER, "unknown: SERVER");
    is_str(t, sattr(&s.attrs, "faas.trigger"), "other", "unknown: faas.trigger=other");
    ok(t, attr_list_find(&s.attrs, "faas.coldstart")->v.b, "unknown: faas.coldstart=true");
    ok(t, !p.found && record_links(&s) == 0, "unknown: root span, no record links");
    span_free(&s);

    {
        struct invspan_facts f = {.request_id = "req-2", .function_name = "fn"};
        span_init(&s);
        is_int(t, invspan_describe(&s, NULL, &f), 0, "INVOKE-only (bypass): described");
        is_str(t, s.name, "fn", "bypass: named after the function");
        is_str(t, sattr(&s.attrs, "faas.trigger"), "other", "bypass: faas.trigger=other");
        ok(t, !attr_list_find(&s.attrs, "cloud.resource_id"), "bypass: no ARN, no resource id");
        span_free(&s);
    }
}

/* ---- errors ---- */

struct exc {
    const char *type, *message, *stack;
};

static struct exc exception_of(const struct span *s)
{
    struct exc e = {NULL, NULL, NULL};

    if (s->n_events != 1 || strcmp(s->events[0].name, "exception") != 0)
        return e;
    e.type = sattr(&s->events[0].attrs, "exception.type");
    e.message = sattr(&s->events[0].attrs, "exception.message");
    e.stack = sattr(&s->events[0].attrs, "exception.stacktrace");
    return e;
}

static struct exc record(struct span *s, const char *type_hdr, const char *body, size_t n, bool b64)
{
    span_init(s);
    if (invspan_record_error(s, type_hdr, body, n, b64, 42) < 0)
        printf("# invspan_record_error failed\n");
    return exception_of(s);
}

static void test_error_languages(struct tap *t)
{
    struct span s;
    struct exc e;
    const char *node = "{\"errorType\":\"TypeError\",\"errorMessage\":\"x is not a function\","
                       "\"trace\":[\"TypeError: x is not a function\","
                       "\"    at Runtime.handler (/var/task/index.js:3:9)\"]}";
    const char *python = "{\"errorMessage\": \"division by zero\", \"errorType\": "
                         "\"ZeroDivisionError\", \"requestId\": \"r\", \"stackTrace\": [\"  File "
                         "\\\"/var/task/app.py\\\", line 3, in handler\\n    return 1/0\\n\"]}";
    const char *java =
        "{\"errorMessage\":\"boom\",\"errorType\":\"java.lang.IllegalStateException\","
        "\"stackTrace\":[\"example.Handler.handleRequest(Handler.java:10)\","
        "\"java.base/java.lang.Thread.run(Thread.java:829)\"]}";
    const char *go = "{\"errorMessage\":\"open x: no such file\",\"errorType\":\"PathError\","
                     "\"stackTrace\":[{\"path\":\"github.com/a/b/main.go\",\"line\":42,"
                     "\"label\":\"handler\"}]}";
    const char *dotnet =
        "{\"errorType\":\"InvalidOperationException\",\"errorMessage\":\"bad state\","
        "\"stackTrace\":[\"at Fn.Handler.Run(String input) in /src/Handler.cs:line 12\"],"
        "\"cause\":{\"errorType\":\"Exception\",\"errorMessage\":\"inner\"}}";

    e = record(&s, NULL, node, strlen(node), false);
    is_str(t, e.type, "TypeError", "node: exception.type");
    is_str(t, e.message, "x is not a function", "node: exception.message");
    is_str(t, e.stack,
           "TypeError: x is not a function\n    at Runtime.handler (/var/task/index.js:3:9)",
           "node: exception.stacktrace from \"trace\"");
    is_int(t, s.status, SPAN_STATUS_ERROR, "node: status ERROR");
    is_str(t, s.status_message, "x is not a function", "node: status message = error message");
    is_int(t, (long long)s.events[0].time_ns, 42, "exception event at the given time");
    span_free(&s);

    e = record(&s, NULL, python, strlen(python), false);
    is_str(t, e.type, "ZeroDivisionError", "python: exception.type");
    is_str(t, e.message, "division by zero", "python: exception.message");
    is_str(t, e.stack, "  File \"/var/task/app.py\", line 3, in handler\n    return 1/0\n",
           "python: stack frames kept as written");
    span_free(&s);

    e = record(&s, "Runtime.Unhandled", java, strlen(java), false);
    is_str(t, e.type, "Runtime.Unhandled", "java: the Error-Type header wins over errorType");
    is_str(t, e.message, "boom", "java: exception.message");
    is_str(t, e.stack,
           "example.Handler.handleRequest(Handler.java:10)\n"
           "java.base/java.lang.Thread.run(Thread.java:829)",
           "java: stack frames one per line");
    span_free(&s);

    e = record(&s, NULL, go, strlen(go), false);
    is_str(t, e.type, "PathError", "go: exception.type");
    is_str(t, e.message, "open x: no such file", "go: exception.message");
    is_str(t, e.stack, "handler (github.com/a/b/main.go:42)", "go: frame objects made readable");
    span_free(&s);

    e = record(&s, NULL, dotnet, strlen(dotnet), false);
    is_str(t, e.type, "InvalidOperationException", ".NET: exception.type");
    is_str(t, e.message, "bad state", ".NET: exception.message");
    ok(t, e.stack && strstr(e.stack, "Handler.cs:line 12"), ".NET: stack trace");
    span_free(&s);

    e = record(&s, NULL, "Segmentation fault", 18, false);
    ok(t, e.type == NULL, "plain text: no exception.type");
    is_str(t, e.message, "Segmentation fault", "plain text: the text is the message");
    is_int(t, s.status, SPAN_STATUS_ERROR, "plain text: status ERROR");
    span_free(&s);

    e = record(&s, "Runtime.ExitError", "{\"errorMessage\": ", 17, false);
    is_str(t, e.type, "Runtime.ExitError", "invalid JSON: type from the header");
    is_str(t, e.message, "{\"errorMessage\": ", "invalid JSON: the text is the message");
    span_free(&s);

    e = record(&s, "Function.Unhandled", NULL, 0, false);
    is_str(t, e.type, "Function.Unhandled", "no body: type only");
    is_str(t, s.status_message, "Function.Unhandled", "no body: status message = type");
    span_free(&s);

    e = record(&s, NULL, "{\"foo\":1}", 9, false);
    is_str(t, e.message, "{\"foo\":1}", "JSON that is not a Lambda error: the text is the message");
    span_free(&s);
}

static void test_error_huge(struct tap *t)
{
    size_t big = 1 << 20;
    char *body = malloc(big + 128);
    struct span s;
    struct exc e;
    size_t n;

    /* 1 MiB message and a stack of 20000 frames. */
    n = (size_t)sprintf(body, "{\"errorType\":\"E\",\"errorMessage\":\"");
    memset(body + n, 'm', big / 2);
    n += big / 2;
    n += (size_t)sprintf(body + n, "\",\"stackTrace\":[");
    for (int i = 0; i < 20000 && n < big; i++)
        n += (size_t)sprintf(body + n, "%s\"frame %d\"", i ? "," : "", i);
    n += (size_t)sprintf(body + n, "]}");
    e = record(&s, NULL, body, n, false);
    is_str(t, e.type, "E", "huge body: type");
    ok(t, e.message && strlen(e.message) > 1000 && strlen(e.message) < 8192,
       "huge body: message capped (%zu bytes)", e.message ? strlen(e.message) : 0);
    ok(t, e.stack && strncmp(e.stack, "frame 0\nframe 1\n", 16) == 0 && strlen(e.stack) <= 32768,
       "huge body: stack capped (%zu bytes)", e.stack ? strlen(e.stack) : 0);
    span_free(&s);

    memset(body, 'x', big);
    e = record(&s, NULL, body, big, false);
    ok(t, e.message && strlen(e.message) < 8192, "huge plain body: message capped");
    span_free(&s);

    /* Nested deeply enough to defeat a recursive parser. */
    for (n = 0; n < 100000; n++)
        body[n] = '[';
    e = record(&s, NULL, body, n, false);
    ok(t, e.message != NULL, "deeply nested JSON: kept as text, no crash");
    span_free(&s);
    free(body);
}

/* Checked with the shared UTF-8 module, which test_utf8 checks against a decoder of its own. */
static bool utf8_ok(const char *s)
{
    return s && utf8_valid(s, strlen(s));
}

static void test_error_utf8(struct tap *t)
{
    struct span s;
    struct exc e;
    char *body = malloc(20000);
    size_t n = 0;

    e = record(&s, NULL, "bad \xff\xfe bytes \xed\xa0\x80 and \xc0\xaf end", 27, false);
    is_str(t, e.message,
           "bad \xef\xbf\xbd\xef\xbf\xbd bytes \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd and "
           "\xef\xbf\xbd\xef\xbf\xbd end",
           "ill-formed UTF-8 (invalid bytes, surrogate, overlong) becomes U+FFFD");
    span_free(&s);

    e = record(&s, NULL, "caf\xc3\xa9 \xf0\x9f\x98\x80", 10, false);
    is_str(t, e.message, "caf\xc3\xa9 \xf0\x9f\x98\x80", "well-formed UTF-8 kept as is");
    span_free(&s);

    e = record(&s, NULL, "a\0b", 3, false);
    is_str(t, e.message,
           "a\xef\xbf\xbd"
           "b",
           "an embedded NUL does not cut the message");
    span_free(&s);

    /* 3-byte characters: the 4096-byte cap falls inside one; the cut must not split it. */
    n = (size_t)sprintf(body, "{\"errorType\":\"E\",\"errorMessage\":\"");
    for (int i = 0; i < 3000; i++)
        n += (size_t)sprintf(body + n, "\xe2\x82\xac");
    n += (size_t)sprintf(body + n, "\"}");
    e = record(&s, NULL, body, n, false);
    ok(t, e.message && utf8_ok(e.message) && strlen(e.message) % 3 == 0 && strlen(e.message) > 4000,
       "a cut message ends on a character boundary (%zu bytes)", e.message ? strlen(e.message) : 0);
    ok(t, utf8_ok(s.status_message), "status message is UTF-8 too");
    span_free(&s);
    free(body);
}

static void test_error_trailers(struct tap *t)
{
    /* base64 of {"errorMessage":"stream broke","errorType":"Error","stackTrace":["at s (a.js:1)"]}
     */
    const char *b64 = "eyJlcnJvck1lc3NhZ2UiOiJzdHJlYW0gYnJva2UiLCJlcnJvclR5cGUiOiJFcnJvciIsInN0YW"
                      "NrVHJhY2UiOlsiYXQgcyAoYS5qczoxKSJdfQ==";
    struct span s;
    struct exc e;

    e = record(&s, "Runtime.StreamError", b64, strlen(b64), true);
    is_str(t, e.type, "Runtime.StreamError", "trailer: Error-Type trailer is the type");
    is_str(t, e.message, "stream broke", "trailer: message from the base64 Error-Body");
    is_str(t, e.stack, "at s (a.js:1)", "trailer: stack from the base64 Error-Body");
    span_free(&s);

    /* base64 of "plain words" without padding */
    e = record(&s, NULL, "cGxhaW4gd29yZHM", 15, true);
    is_str(t, e.message, "plain words", "trailer: unpadded base64 of plain text");
    span_free(&s);

    e = record(&s, "Runtime.StreamError", "not base64!", 11, true);
    is_str(t, e.type, "Runtime.StreamError", "trailer: invalid base64 keeps the type");
    is_str(t, e.message, "not base64!", "trailer: invalid base64 kept as text");
    span_free(&s);

    /* The trailer is checked strictly: padding must complete the last group of four. */
    e = record(&s, NULL, "YWJj=", 5, true);
    is_str(t, e.message, "YWJj=", "trailer: padding past a whole group: kept as text");
    span_free(&s);
}

/* Batch truth: deliveries and waiting, on links and span, and the inferred "wait" span. */
static void test_batch_truth(struct tap *t)
{
    static const char ev[] =
        "{\"Records\":[{\"messageId\":\"m0\",\"attributes\":{\"ApproximateReceiveCount\":"
        "\"1\",\"SentTimestamp\":\"1700000000000\"},\"messageAttributes\":{\"traceparent\":"
        "{\"stringValue\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}},"
        "\"eventSource\":\"aws:sqs\",\"eventSourceARN\":\"arn:aws:sqs:us-east-1:1:orders\"},"
        "{\"messageId\":\"m1\",\"attributes\":{\"ApproximateReceiveCount\":\"4\","
        "\"SentTimestamp\":\"1699999998500\"},\"messageAttributes\":{},\"eventSource\":"
        "\"aws:sqs\",\"eventSourceARN\":\"arn:aws:sqs:us-east-1:1:orders\"}]}";
    struct promote_conf pc = {.targets = PROMOTE_TARGET_HEADERS,
                              .batch_parent = PROMOTE_BATCH_FIRST,
                              .max_event_bytes = 8u << 20};
    struct promote_input in = {.body = ev, .body_len = sizeof(ev) - 1};
    struct invspan_facts f = {.request_id = "r", .function_name = "fn"};
    static const uint8_t qid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct promote_analysis a;
    struct span s, q;
    int rc;

    promote_analyse(&pc, &in, &a);
    span_init(&s);
    s.start_ns = 1700000001000ull * 1000000u; /* 1 s after the first message was sent */
    s.has_parent = true;
    memcpy(s.parent_span_id, a.parent.ctx.span_id, 8);
    memcpy(s.ctx.trace_id, a.parent.ctx.trace_id, 16);
    is_int(t, invspan_describe(&s, &a, &f), 0, "batch: described");
    is_int(t, iattr(&s.attrs, "tracebridge.batch.redelivered_count"), 1, "one record redelivered");
    is_int(t, iattr(&s.attrs, "tracebridge.batch.max_receive_count"), 4, "the fourth delivery");
    is_int(t, iattr(&s.attrs, "tracebridge.queue.wait_ms"), 2500, "the oldest waited 2.5 s");
    is_int(t, (long long)record_links(&s), 1, "one record had a context: one link");
    is_int(t, iattr(&s.links[0].attrs, "tracebridge.message.wait_ms"), 1000, "its link: 1 s");
    is_int(t, iattr(&s.links[0].attrs, "tracebridge.message.receive_count"), 1, "delivered once");
    ok(t, !attr_list_find(&s.links[0].attrs, "tracebridge.message.redelivered"),
       "not marked redelivered");
    rc = invspan_queue_wait(&q, &s, &a, qid);
    is_int(t, rc, 1, "a wait span is made");
    if (rc == 1) {
        is_str(t, q.name, "wait orders", "named after the queue");
        ok(t, q.end_ns == s.start_ns && q.start_ns == 1699999998500ull * 1000000u,
           "from the oldest send time to the invocation's start");
        ok(t, q.has_parent && memcmp(q.parent_span_id, s.parent_span_id, 8) == 0,
           "under the producer, beside the invocation span");
        ok(t, memcmp(q.ctx.trace_id, s.ctx.trace_id, 16) == 0 && memcmp(q.ctx.span_id, qid, 8) == 0,
           "same trace, its own span id");
        is_int(t, q.kind, SPAN_KIND_INTERNAL, "an internal (inferred) span");
        span_free(&q);
    }
    /* The handler's partial-batch answer. */
    is_int(t, invspan_mark_failures(&s, "not json", 8, 2), 0, "a body that is not JSON: nothing");
    is_int(t, invspan_mark_failures(&s, "{\"batchItemFailures\":[]}", 24, 2), 0, "none failed");
    ok(t, s.status != SPAN_STATUS_ERROR, "the span is not failed for an empty list");
    {
        static const char fb[] = " \n{\"batchItemFailures\":[{\"itemIdentifier\":\"m0\"},"
                                 "{\"itemIdentifier\":\"m1\"}]}";
        is_int(t, invspan_mark_failures(&s, fb, sizeof(fb) - 1, 2), 2, "two records failed");
    }
    is_int(t, iattr(&s.attrs, "tracebridge.batch.failed_count"), 2, "counted on the span");
    ok(t, attr_list_find(&s.links[0].attrs, "tracebridge.message.failed") != NULL,
       "the failed record's link is marked (the other had no context: counted only)");
    ok(t,
       s.status == SPAN_STATUS_ERROR &&
           strcmp(s.status_message, "2 of 2 records failed (batchItemFailures)") == 0,
       "status ERROR says how many of the batch failed");
    s.start_ns = 1600000000000ull * 1000000u; /* before the messages were sent: clocks disagree */
    is_int(t, invspan_queue_wait(&q, &s, &a, qid), 0, "no wait span for a send time in the future");
    s.has_parent = false;
    s.start_ns = 1700000001000ull * 1000000u;
    is_int(t, invspan_queue_wait(&q, &s, &a, qid), 0, "no wait span without a producer");
    span_free(&s);
    promote_analysis_free(&a);
}

/* A durable execution's answer says how it went. */
static void test_durable_status(struct tap *t)
{
    static const char ok_body[] = "{\"Status\":\"SUCCEEDED\",\"Result\":\"{}\"}";
    static const char failed[] =
        "{\"Status\":\"FAILED\",\"Error\":{\"ErrorType\":\"PaymentDeclined\","
        "\"ErrorMessage\":\"card declined\"}}";
    struct span s;

    span_init(&s);
    is_int(t, invspan_durable_status(&s, ok_body, strlen(ok_body)), 1,
           "durable: SUCCEEDED is an answer");
    is_str(t, sattr(&s.attrs, "aws.lambda.durable.status"), "SUCCEEDED",
           "durable: the status said");
    ok(t, s.status != SPAN_STATUS_ERROR, "durable: SUCCEEDED is not an error");
    span_free(&s);
    span_init(&s);
    is_int(t, invspan_durable_status(&s, failed, sizeof(failed) - 1), 1, "durable: FAILED");
    ok(t, s.status == SPAN_STATUS_ERROR && strcmp(s.status_message, "card declined") == 0,
       "durable: FAILED is ERROR with the error message");
    is_str(t, sattr(&s.attrs, "error.type"), "PaymentDeclined", "durable: error.type");
    span_free(&s);
    span_init(&s);
    is_int(t, invspan_durable_status(&s, "{\"ok\":true}", 11), 0,
           "durable: no Status, nothing said");
    is_int(t, invspan_durable_status(&s, "[1,2", 4), 0, "durable: not JSON, nothing said");
    ok(t, s.attrs.len == 0 && s.status != SPAN_STATUS_ERROR, "durable: the span unchanged");
    span_free(&s);
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_sqs(&t);
    test_sns(&t);
    test_eventbridge(&t);
    test_kafka(&t);
    test_durable(&t);
    test_http(&t);
    test_direct_unknown(&t);
    test_error_languages(&t);
    test_error_huge(&t);
    test_error_utf8(&t);
    test_error_trailers(&t);
    test_batch_truth(&t);
    test_durable_status(&t);
    return tap_done(&t);
}
