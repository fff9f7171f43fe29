/* SPDX-License-Identifier: Apache-2.0 */
/* Carriers and targets on real event shapes (tests/fixtures), asserting exact bytes, plus
 * hostile inputs. Expected outputs are built from the fixture by explicit string edits. */
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/promote/promote.h"
#include "tests/lib/promote_run.h"
#include "tests/lib/tap.h"
#include "tests/lib/test_util.h"

#define TPA   "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define TPB   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define WA    "00-0af7651916cd43dd8448eb211c80319c-1111111111111111-01"
#define WB    "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01"
#define WROOT "00-0123456789abcdef0123456789abcdef-1111111111111111-01"
#define LXRAY "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"

static char *repl_n(char *s, const char *old, const char *new, bool once)
{
    char *hit = strstr(s, old);
    size_t ol = strlen(old), nl = strlen(new), sl = strlen(s);
    char *r;

    if (!hit || (once && strstr(hit + 1, old))) {
        printf("Bail out! expected exactly one \"%s\"\n", old);
        exit(1);
    }
    r = malloc(sl - ol + nl + 1);
    memcpy(r, s, (size_t)(hit - s));
    memcpy(r + (hit - s), new, nl);
    memcpy(r + (hit - s) + nl, hit + ol, sl - (size_t)(hit - s) - ol + 1);
    free(s);
    return r;
}

static char *repl(char *s, const char *old, const char *new)
{
    return repl_n(s, old, new, true);
}

static char *repl_all(char *s, const char *old, const char *new)
{
    while (strstr(s, old))
        s = repl_n(s, old, new, false);
    return s;
}

/* Runs analyse + apply; writes the parent with span 1111.. when found, else `fallback`. */
static const char *body_of(struct run *r)
{
    return r->o.body_changed ? r->o.body.data : r->in;
}

static bool same_body(struct run *r, const char *want)
{
    const char *got = body_of(r);
    size_t gl = r->o.body_changed ? r->o.body.len : r->n;
    bool same = gl == strlen(want) && memcmp(got, want, gl) == 0;

    if (!same)
        printf("#   got:  %.*s\n#   want: %s\n", (int)gl, got, want);
    return same;
}

static char *parent_str(struct run *r, char *buf)
{
    traceparent_format(&r->a.parent.ctx, buf);
    return buf;
}

/* "{" + ins + "," + rest: the root-level insertion of a new headers member. */
static char *root_insert(const char *in, const char *ins)
{
    size_t n = strlen(in), il = strlen(ins);
    char *r = malloc(n + il + 2);

    r[0] = '{';
    memcpy(r + 1, ins, il);
    r[1 + il] = ',';
    memcpy(r + 2 + il, in + 1, n);
    return r;
}

static void test_sqs_single(struct tap *t)
{
    struct promote_conf c = conf_default();
    size_t n;
    char *in = slurp("sqs_esm_single.json", &n);
    struct run *r = go(&c, in, n, LXRAY, NULL, NULL);
    char buf[64];
    char *want = root_insert(in, "\"headers\":{\"traceparent\":\"" WA
                                 "\",\"tracestate\":\"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7\"}");

    is_int(t, r->a.carrier, CARRIER_SQS_ATTRIBUTES, "sqs: carrier messageAttributes");
    is_str(t, parent_str(r, buf), TPA, "sqs: parent");
    is_str(t, r->a.parent.tracestate, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", "sqs: tracestate");
    is_int(t, r->a.info.trigger, TRIGGER_SQS, "sqs: trigger");
    is_str(t, r->a.info.destination, "my-queue", "sqs: queue name");
    is_str(t, r->a.info.source_arn, "arn:aws:sqs:us-east-2:123456789012:my-queue", "sqs: arn");
    is_str(t, r->a.info.message_id, "059f36b4-87a3-44ab-83d2-661975530690", "sqs: message id");
    is_int(t, r->a.info.record_count, 1, "sqs: record count");
    is_int(t, r->a.n_links, 1, "sqs: one link");
    ok(t, r->a.lambda_xray_valid && !r->a.lambda_xray.flags, "sqs: Lambda X-Ray parsed as link");
    ok(t, same_body(r, want), "sqs: exact output bytes");
    ok(t,
       r->o.client_context_changed &&
           strcmp(r->o.client_context.data,
                  "{\"custom\":{\"traceparent\":\"" WA
                  "\",\"tracestate\":\"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7\"}}") == 0,
       "sqs: client context created");
    is_int(t, r->o.targets_written, PROMOTE_TARGET_HEADERS | PROMOTE_TARGET_CLIENT_CONTEXT,
           "sqs: targets written");
    ok(t, !r->o.trace_id_changed, "sqs: X-Ray header untouched unless opted in");
    done(r);
    free(want);
    free(in);
}

static void test_sqs_batch(struct tap *t)
{
    struct promote_conf c = conf_default();
    size_t n;
    char *in = slurp("sqs_esm_batch10.json", &n);
    struct run *r = go(&c, in, n, NULL, NULL, NULL);
    char buf[64];

    is_int(t, r->a.n_links, 8, "batch: 8 valid record contexts (upper-case and empty skipped)");
    ok(t, r->a.records_disagree, "batch: records disagree");
    is_str(t, parent_str(r, buf), TPA, "batch: first record's context is the parent");
    is_int(t, r->a.info.record_count, 10, "batch: 10 records");
    is_str(t, r->a.info.message_id, "", "batch: no single message id");
    traceparent_format(&r->a.links[3].ctx, buf);
    is_str(t, buf, TPB, "batch: link 3 keeps its own trace");
    is_str(t, r->a.links[3].message_id, "059f36b4-87a3-44ab-83d2-661975530693", "batch: link id");
    traceparent_format(&r->a.links[7].ctx, buf);
    is_str(t, buf, "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
           "batch: AWSTraceHeader record converted");
    done(r);
    c.batch_parent = PROMOTE_BATCH_NONE;
    r = go(&c, in, n, NULL, NULL, NULL);
    ok(t, !r->a.found && r->a.n_links == 8, "batch none: no parent, links kept");
    ok(t, !r->o.body_changed, "batch none: body unchanged when nothing is written");
    done(r);
    in = repl_all(in, TPB, TPA);
    in = repl_all(in, "AWSTraceHeader", "SomethingElse");
    n = strlen(in);
    r = go(&c, in, n, NULL, NULL, NULL);
    ok(t, r->a.found && !r->a.records_disagree, "batch none: all agree -> shared parent");
    done(r);
    free(in);
}

static void test_sqs_sdk_and_sns(struct tap *t)
{
    struct promote_conf c = conf_default();
    size_t n;
    char *in = slurp("sqs_sdk_shape.json", &n);
    struct run *r = go(&c, in, n, NULL, NULL, NULL);
    char buf[64];

    is_int(t, r->a.carrier, CARRIER_SQS_ATTRIBUTES, "sdk shape: StringValue read");
    is_str(t, r->a.parent.baggage, "userId=alice,isProduction=false", "sdk shape: baggage");
    is_str(t, r->a.links[0].message_id, "c80e8021-a70a-42c7-a470-796e1186f753", "sdk: MessageId");
    done(r);
    free(in);

    in = slurp("sns.json", &n);
    r = go(&c, in, n, NULL, NULL, NULL);
    is_int(t, r->a.carrier, CARRIER_SNS, "sns: carrier");
    is_str(t, parent_str(r, buf), TPB, "sns: parent");
    is_int(t, r->a.info.trigger, TRIGGER_SNS, "sns: trigger");
    is_str(t, r->a.info.destination, "sns-lambda", "sns: topic name");
    is_str(t, r->a.info.message_id, "95df01b4-ee98-5cb9-9903-4c221d41eb5e", "sns: message id");
    {
        char *want = root_insert(in, "\"headers\":{\"traceparent\":\"" WB
                                     "\",\"tracestate\":\"rojo=00f067aa0ba902b7\"}");
        ok(t, same_body(r, want), "sns: exact output bytes");
        free(want);
    }
    done(r);
    free(in);

    in = slurp("sns_sqs_envelope.json", &n);
    r = go(&c, in, n, NULL, NULL, NULL);
    is_int(t, r->a.carrier, CARRIER_SQS_SNS, "sns->sqs: envelope carrier");
    is_str(t, parent_str(r, buf), TPB, "sns->sqs: parent");
    is_str(t, r->a.parent.tracestate, "vendor=abc", "sns->sqs: tracestate");
    is_str(t, r->a.info.destination, "orders-queue", "sns->sqs: queue");
    done(r);
    free(in);
}

static void test_eventbridge(struct tap *t)
{
    struct promote_conf c = conf_default();
    size_t n;
    char *in = slurp("eventbridge.json", &n);
    struct run *r = go(&c, in, n, NULL, NULL, NULL);
    char *want = root_insert(in, "\"headers\":{\"traceparent\":\"" WA
                                 "\",\"tracestate\":\"congo=t61rcWkgMzE\"}");

    is_int(t, r->a.carrier, CARRIER_EVENTBRIDGE, "eventbridge: carrier");
    is_int(t, r->a.info.trigger, TRIGGER_EVENTBRIDGE, "eventbridge: trigger");
    is_str(t, r->a.info.destination, "com.example.orders", "eventbridge: source");
    is_str(t, r->a.info.source_arn, "arn:aws:events:us-west-1:111122223333:rule/orders",
           "eventbridge: resource");
    ok(t, same_body(r, want), "eventbridge: exact bytes (1e400 kept)");
    done(r);
    free(want);
    free(in);

    in = slurp("eventbridge_reserved.json", &n);
    r = go(&c, in, n, NULL, NULL, NULL);
    want = root_insert(in, "\"headers\":{\"traceparent\":\"" WB "\"}");
    want = repl(want, ",\n    \"__traceparent__\": \"" TPB "\"", "");
    is_int(t, r->a.carrier, CARRIER_EVENTBRIDGE, "eventbridge __traceparent__: carrier");
    ok(t, r->o.reserved_stripped, "eventbridge: detail.__traceparent__ stripped");
    ok(t, same_body(r, want), "eventbridge reserved: exact bytes");
    done(r);
    free(want);
    free(in);
}

static void test_http(struct tap *t)
{
    struct promote_conf c = conf_default();
    size_t n;
    char *in = slurp("apigw_v1.json", &n);
    struct run *r = go(&c, in, n, NULL, NULL, NULL);
    char *want = strdup(in);
    char buf[64];

    want = repl(want, "\"headers\": {", "\"headers\": {\"traceparent\":\"" WA "\",");
    want = repl(want, "\"Traceparent\": \"" TPA "\",\n    ", "");
    want = repl(want, "\"multiValueHeaders\": {",
                "\"multiValueHeaders\": {\"traceparent\":[\"" WA "\"],");
    want = repl(want, ",\n    \"Traceparent\": [\n      \"" TPA "\"\n    ]", "");
    is_int(t, r->a.carrier, CARRIER_HTTP, "apigw v1: mixed-case header found");
    is_int(t, r->a.info.trigger, TRIGGER_APIGW_REST, "apigw v1: trigger");
    is_str(t, r->a.info.http_method, "POST", "apigw v1: method");
    is_str(t, r->a.info.http_route, "/{proxy+}", "apigw v1: route");
    ok(t, same_body(r, want), "apigw v1: one lower-case traceparent in both maps");
    done(r);
    free(want);
    free(in);

    in = slurp("apigw_v2.json", &n);
    r = go(&c, in, n, NULL, NULL, NULL);
    want = repl(strdup(in), "\"traceparent\": \"" TPA, "\"traceparent\": \"" WA);
    is_int(t, r->a.info.trigger, TRIGGER_APIGW_HTTP, "apigw v2: trigger");
    is_str(t, r->a.info.http_method, "GET", "apigw v2: method");
    is_str(t, r->a.info.http_route, "GET /items/{id}", "apigw v2: route");
    ok(t, same_body(r, want), "apigw v2: valid traceparent keeps all but the parent-id");
    done(r);
    free(want);
    free(in);

    in = slurp("alb_single.json", &n);
    r = go(&c, in, n, NULL, NULL, NULL);
    want = repl(strdup(in), "\"headers\": {",
                "\"headers\": {\"traceparent\":\"00-5bdb40ca556d8b0c50dc66f0511bf520-" RUN_SPAN
                "-01\",");
    is_int(t, r->a.carrier, CARRIER_HTTP_XRAY, "alb: X-Amzn-Trace-Id with Parent");
    is_str(t, parent_str(r, buf), "00-5bdb40ca556d8b0c50dc66f0511bf520-53995c3f42cd8ad8-01",
           "alb: converted");
    is_int(t, r->a.info.trigger, TRIGGER_ALB, "alb: trigger");
    is_str(t, r->a.info.http_route, "/lambda", "alb: path");
    ok(t, same_body(r, want), "alb single: exact bytes");
    done(r);
    free(want);
    free(in);

    in = slurp("alb_multi.json", &n);
    r = go(&c, in, n, NULL, NULL, NULL);
    want = root_insert(in, "\"headers\":{\"traceparent\":\"" WB "\"}");
    want = repl(want, "[\n      \"" TPB "\"\n    ]", "[\"" WB "\"]");
    is_int(t, r->a.carrier, CARRIER_HTTP, "alb multi: multiValueHeaders[0]");
    ok(t, same_body(r, want), "alb multi: exact bytes");
    done(r);
    free(want);
    free(in);

    in = slurp("function_url.json", &n);
    r = go(&c, in, n, NULL, NULL, WROOT);
    want = repl(strdup(in), "\"headers\": {", "\"headers\": {\"traceparent\":\"" WROOT "\",");
    ok(t, !r->a.found, "function url: no context");
    is_int(t, r->a.info.trigger, TRIGGER_FUNCTION_URL, "function url: trigger");
    is_str(t, r->a.info.http_method, "POST", "function url: method");
    is_str(t, r->a.info.http_route, "/my/path", "function url: raw path");
    ok(t, same_body(r, want), "function url: root context written into headers");
    done(r);
    free(want);
    free(in);
}

static void test_streams(struct tap *t)
{
    static const struct {
        const char *file;
        enum promote_trigger trig;
        const char *dest;
    } cases[] = {
        {"kinesis.json", TRIGGER_KINESIS, "lambda-stream"},
        {"s3.json", TRIGGER_S3, ""},
        {"dynamodb.json", TRIGGER_DYNAMODB, "ExampleTableWithStream"},
    };
    struct promote_conf c = conf_default();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n;
        char *in = slurp(cases[i].file, &n);
        struct run *r = go(&c, in, n, NULL, NULL, NULL);
        char *want;
        is_int(t, r->a.info.trigger, cases[i].trig, "%s: trigger", cases[i].file);
        ok(t, !r->a.found && r->a.n_links == 0, "%s: no context", cases[i].file);
        ok(t, !r->o.body_changed && !r->o.client_context_changed, "%s: untouched without write",
           cases[i].file);
        is_str(t, r->a.info.destination, cases[i].dest, "%s: destination", cases[i].file);
        done(r);
        r = go(&c, in, n, NULL, NULL, WROOT);
        want = root_insert(in, "\"headers\":{\"traceparent\":\"" WROOT "\"}");
        ok(t, same_body(r, want), "%s: root context inserted", cases[i].file);
        done(r);
        free(want);
        free(in);
    }
}

static void test_direct(struct tap *t)
{
    struct promote_conf c = conf_default();
    static const char *const nonobj[] = {"direct_array.json", "direct_scalar.json",
                                         "direct_string.json"};
    size_t n;
    char *in = slurp("direct_object.json", &n);
    struct run *r = go(&c, in, n, NULL, NULL, NULL);
    const char *want =
        "{\"headers\":{\"traceparent\":\"" WA "\",\"baggage\":\"userId=alice\"}, \"orderId\" : "
        "12345678901234567890123, \"name\": \"caf\\u00e9 \\ud83d\\ude00\", \"dup\": 1, \"dup\": "
        "2,\n  \"nested\": {\"a\": [1.5e+10, -0, true, false, null]} }\n";

    is_int(t, r->a.carrier, CARRIER_DIRECT, "direct: __traceparent__");
    is_int(t, r->a.info.trigger, TRIGGER_DIRECT, "direct: trigger");
    ok(t, r->o.reserved_stripped, "direct: reserved keys stripped");
    ok(t, same_body(r, want), "direct object: exact bytes (big numbers, escapes, dups kept)");
    done(r);
    free(in);

    for (size_t i = 0; i < 3; i++) {
        in = slurp(nonobj[i], &n);
        r = go(&c, in, n, NULL, NULL, WROOT);
        ok(t, !r->a.json_object && !r->o.body_changed && r->a.warning, "%s: unchanged, warned",
           nonobj[i]);
        is_int(t, r->a.info.trigger, TRIGGER_UNKNOWN, "%s: trigger unknown", nonobj[i]);
        ok(t, r->o.client_context_changed, "%s: client context still written", nonobj[i]);
        done(r);
        free(in);
    }
}

/* Direct invokes that carry W3C as plain keys: top-level traceparent/tracestate/baggage and
 * request.headers are read and kept; a top-level headers object is an HTTP carrier. */
static void test_direct_plain(struct tap *t)
{
    struct promote_conf c = conf_default();
    const char *top = "{\"traceparent\":\"" TPA "\",\"tracestate\":\"congo=t61rcWkgMzE\","
                      "\"baggage\":\"userId=alice\",\"order\":1}";
    const char *req = "{\"arguments\":{\"id\":1},\"request\":{\"headers\":{\"Traceparent\":\"" TPB
                      "\",\"host\":\"x\"}}}";
    const char *hdr = "{\"headers\":{\"traceparent\":\"" TPA "\"},\"order\":2}";
    const char *both = "{\"__traceparent__\":\"" TPB "\",\"traceparent\":\"" TPA "\"}";
    const char *bad =
        "{\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01\"}";
    char buf[64];
    char *want;
    struct run *r;

    r = go(&c, top, strlen(top), NULL, NULL, NULL);
    want =
        root_insert(top, "\"headers\":{\"traceparent\":\"" WA
                         "\",\"tracestate\":\"congo=t61rcWkgMzE\",\"baggage\":\"userId=alice\"}");
    is_int(t, r->a.carrier, CARRIER_DIRECT_PLAIN, "top-level traceparent: the carrier");
    is_str(t, parent_str(r, buf), TPA, "top-level traceparent: the parent");
    ok(t,
       !strcmp(r->a.parent.tracestate, "congo=t61rcWkgMzE") &&
           !strcmp(r->a.parent.baggage, "userId=alice"),
       "top-level tracestate and baggage go with it");
    is_int(t, r->a.info.trigger, TRIGGER_DIRECT, "top-level traceparent: a direct invoke");
    ok(t, same_body(r, want) && !r->o.reserved_stripped,
       "top-level keys kept byte for byte, headers added");
    done(r);
    free(want);

    r = go(&c, req, strlen(req), NULL, NULL, NULL);
    want = root_insert(req, "\"headers\":{\"traceparent\":\"" WB "\"}");
    is_int(t, r->a.carrier, CARRIER_REQUEST_HEADERS, "request.headers: the carrier");
    is_str(t, parent_str(r, buf), TPB, "request.headers: parent (case-insensitive key)");
    ok(t, same_body(r, want), "request.headers kept as they were, headers added at the top");
    done(r);
    free(want);

    r = go(&c, hdr, strlen(hdr), NULL, NULL, NULL);
    is_int(t, r->a.carrier, CARRIER_HTTP, "top-level headers of a direct invoke: the HTTP carrier");
    is_int(t, r->a.info.trigger, TRIGGER_DIRECT, "top-level headers: still a direct invoke");
    ok(t, same_body(r, "{\"headers\":{\"traceparent\":\"" WA "\"},\"order\":2}"),
       "top-level headers: parent-id replaced in place");
    done(r);

    r = go(&c, both, strlen(both), NULL, NULL, NULL);
    is_int(t, r->a.carrier, CARRIER_DIRECT, "__traceparent__ is preferred to a plain traceparent");
    ok(t, same_body(r, "{\"headers\":{\"traceparent\":\"" WB "\"},\"traceparent\":\"" TPA "\"}"),
       "the reserved key stripped, the plain one kept");
    done(r);

    r = go(&c, bad, strlen(bad), NULL, NULL, NULL);
    ok(t, !r->a.found && !r->o.body_changed, "invalid top-level traceparent: ignored, kept");
    done(r);
    is_str(t, promote_carrier_name(CARRIER_REQUEST_HEADERS), "request-headers", "carrier name");
}

/* Runs a literal event with write = parent (or WROOT); checks the exact output. */
static void lit(struct tap *t, const struct promote_conf *c, const char *in, const char *want,
                const char *name)
{
    struct run *r = go(c, in, strlen(in), NULL, NULL, WROOT);
    ok(t, r->rc == 0 && same_body(r, want), "%s", name);
    done(r);
}

static void test_hostile(struct tap *t)
{
    struct promote_conf c = conf_default();
    struct promote_conf strip = conf_default();
    struct run *r;
    char *deep;

    strip.targets = 0;
    lit(t, &strip, "{\"__traceparent__\":\"" TPA "\\r\\nX: 1\"}", "{}",
        "CRLF value: invalid, key still stripped");
    r = go(&c, "{\"__traceparent__\":\"" TPA "\\r\\n\"}", 64, NULL, NULL, NULL);
    ok(t, !r->a.found, "CRLF value never becomes the parent");
    done(r);
    lit(t, &strip, "{\"a\":1,\"__traceparent__\":{\"x\":[1]} ,\"b\":2}", "{\"a\":1,\"b\":2}",
        "non-string reserved value stripped");
    lit(t, &strip, "{\"__traceparent__\":\"A\",\"__traceparent__\":\"B\"}", "{}",
        "duplicate reserved keys all stripped");
    lit(t, &strip, "{\"a\":1, \"__baggage__\":\"x\", \"__tracestate__\":\"y\"}", "{\"a\":1}",
        "trailing run of reserved members takes its comma");
    lit(t, &strip, "{\"a\":\"\xff\xfe\x80\",\"__traceparent__\":\"x\"}", "{\"a\":\"\xff\xfe\x80\"}",
        "invalid UTF-8 inside strings passes through");
    lit(t, &c, "{\"__traceparent__\":\"x\",}", "{\"__traceparent__\":\"x\",}",
        "malformed JSON: unchanged");
    lit(t, &c, "{\"a\":01}", "{\"a\":01}", "leading zero: malformed, unchanged");
    lit(t, &c, "{\"a\":\"\x01\"}", "{\"a\":\"\x01\"}", "raw control byte: unchanged");
    lit(t, &c, "{\"a\":1} x", "{\"a\":1} x", "trailing bytes: unchanged");
    lit(t, &c, "{\"headers\":null}", "{\"headers\":{\"traceparent\":\"" WROOT "\"}}",
        "headers null replaced by an object");
    lit(t, &c, "{\"headers\":\"x\"}", "{\"headers\":\"x\"}", "headers string left alone");
    lit(t, &c, "{\"headers\":{}}", "{\"headers\":{\"traceparent\":\"" WROOT "\"}}",
        "empty headers");
    lit(t, &c, "{}", "{\"headers\":{\"traceparent\":\"" WROOT "\"}}", "empty event");
    lit(t, &c, "{\"headers\":{ \"TraceParent\" : \"x\" }}",
        "{\"headers\":{\"traceparent\":\"" WROOT "\"  }}", "only member replaced by lower-case");
    lit(t, &c,
        "{\"headers\":{\"traceparent\":\"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01\","
        "\"tracestate\":\"old=1\",\"TRACEPARENT\":\"y\",\"a\":\"b\"}}",
        "{\"headers\":{\"traceparent\":\"" WROOT "\",\"a\":\"b\"}}",
        "invalid lower-case value replaced, stale tracestate and variants deleted");
    lit(t, &c,
        "{\"headers\":{\"traceparent\":\"\\u00300-0af7651916cd43dd8448eb211c80319c-"
        "b7ad6b7169203331-01\"}}",
        "{\"headers\":{\"traceparent\":\"" WA "\"}}", "escaped value unescaped, canonical out");
    lit(t, &c, "{\"__traceparent__\":\"" TPA "\",\"__tracestate__\":\"a=\\\"x\\\"\"}",
        "{\"headers\":{\"traceparent\":\"" WA "\"}}", "tracestate with quotes never copied");
    deep = calloc(1, 2000);
    strcpy(deep, "{\"__traceparent__\":\"" TPA "\",\"x\":");
    for (int i = 0; i < 600; i++)
        strcat(deep, "[");
    for (int i = 0; i < 600; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    r = go(&c, deep, strlen(deep), NULL, NULL, NULL);
    ok(t, !r->o.body_changed && r->a.warning && strstr(r->a.warning, "deep"),
       "nesting over the limit: unchanged, warned");
    done(r);
    free(deep);
    c.max_event_bytes = 10;
    r = go(&c, "{\"__traceparent__\":\"x\"}", 23, NULL, NULL, NULL);
    ok(t, !r->o.body_changed && r->a.warning, "oversize: unchanged, warned");
    done(r);
}

static void test_cc_xray(struct tap *t)
{
    struct promote_conf c = conf_default();
    const char *ev = "{\"__traceparent__\":\"" TPA "\"}";
    struct run *r;

    c.targets |= PROMOTE_TARGET_XRAY;
    r = go(&c, ev, strlen(ev), LXRAY ";Lineage=1:8a3f2b1c:0",
           "{\"client\":{\"app_title\":\"x\"}, \"custom\":{\"k\":1,\"Traceparent\":\"old\"}}",
           NULL);
    is_str(t, r->o.client_context.data,
           "{\"client\":{\"app_title\":\"x\"}, \"custom\":{\"traceparent\":\"" WA "\",\"k\":1}}",
           "client context: other members kept byte for byte");
    is_str(t, r->o.trace_id.data,
           "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=1111111111111111;Sampled=1;"
           "Lineage=1:8a3f2b1c:0",
           "xray target: rewritten, Lineage kept");
    is_int(t, r->o.targets_written, 7, "all three targets written");
    done(r);
    r = go(&c, ev, strlen(ev), NULL, "{\"custom\":null}", NULL);
    is_str(t, r->o.client_context.data, "{\"custom\":{\"traceparent\":\"" WA "\"}}",
           "client context custom null replaced");
    is_str(t, r->o.trace_id.data,
           "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=1111111111111111;Sampled=1",
           "xray target: created when absent");
    done(r);
    r = go(&c, ev, strlen(ev), NULL, "{\"custom\":", NULL);
    ok(t, !r->o.client_context_changed, "invalid client context left untouched");
    done(r);
    r = go(&c, ev, strlen(ev), NULL, "[1]", NULL);
    ok(t, !r->o.client_context_changed, "non-object client context left untouched");
    done(r);
    r = go(&c, ev, strlen(ev), NULL, "{}", NULL);
    is_str(t, r->o.client_context.data, "{\"custom\":{\"traceparent\":\"" WA "\"}}",
           "empty client context object gets custom");
    done(r);

    c = conf_default();
    r = go(&c, "{\"a\":1}", 7, LXRAY, NULL, NULL);
    ok(t, !r->a.found && r->a.lambda_xray_valid, "Lambda X-Ray is a link, not the parent");
    done(r);
    c.xray_parent = true;
    r = go(&c, "{\"a\":1}", 7, LXRAY, NULL, NULL);
    is_int(t, r->a.carrier, CARRIER_LAMBDA_XRAY, "xray_parent: Lambda X-Ray becomes the parent");
    done(r);
    r = go(&c, ev, strlen(ev), LXRAY, NULL, NULL);
    is_int(t, r->a.carrier, CARRIER_DIRECT, "xray_parent: only when nothing else found");
    done(r);
    c.targets = 0;
    r = go(&c, ev, strlen(ev), NULL, NULL, NULL);
    ok(t, same_body(r, "{}") && !r->o.client_context_changed && r->o.targets_written == 0,
       "targets off: only stripping");
    done(r);
}

#define XR_NEW "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=1111111111111111;"

/* Runs the direct event `ev` with the Lambda header `hdr` under the xray settings; returns the
 * new Lambda-Runtime-Trace-Id, or "" when the header is left as it was. */
static char *xray_out(unsigned targets, enum promote_xray_header mode, const char *ev,
                      const char *hdr, bool inject)
{
    struct promote_conf c = conf_default();
    struct run *r;
    char *got;

    c.targets = targets;
    c.xray_header = mode;
    r = go(&c, ev, strlen(ev), hdr, NULL, inject ? WROOT : NULL);
    got = strdup(r->o.trace_id_changed ? r->o.trace_id.data : "");
    if (r->o.trace_id_changed != ((r->o.targets_written & PROMOTE_TARGET_XRAY) != 0))
        got[0] = '!'; /* targets_written must say what was written */
    done(r);
    return got;
}

static void check_xray(struct tap *t, unsigned targets, enum promote_xray_header mode,
                       const char *ev, const char *hdr, const char *want, const char *name)
{
    char *got = xray_out(targets, mode, ev, hdr, false);

    is_str(t, got, want, "%s", name);
    free(got);
}

/* The xray target beyond its modes (test_xray_modes): which fields of Lambda's header survive,
 * and the headers that are not Lambda's usual one. */
static void test_xray_fields(struct tap *t)
{
    const unsigned all =
        PROMOTE_TARGET_HEADERS | PROMOTE_TARGET_CLIENT_CONTEXT | PROMOTE_TARGET_XRAY;
    const char *ev = "{\"__traceparent__\":\"" TPA "\"}";
    const char *bad_root = "Root=1-zz;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=1:8a3f2b1c:0";
    char *got;

    check_xray(t, all, PROMOTE_XRAY_AUTO, ev,
               "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?;"
               "Self=1-5759e988-bd862e3fe1be46a994272794;Lineage=1:8a3f2b1c:0;Foo=bar",
               XR_NEW "Sampled=1;Self=1-5759e988-bd862e3fe1be46a994272794;Lineage=1:8a3f2b1c:0;"
                      "Foo=bar",
               "auto, Sampled=?: rewritten, every other field kept in order");
    check_xray(t, all, PROMOTE_XRAY_AUTO, ev, bad_root, XR_NEW "Sampled=1;Lineage=1:8a3f2b1c:0",
               "auto, Root that does not parse: Root/Parent/Sampled replaced, Lineage kept");
    check_xray(t, all, PROMOTE_XRAY_AUTO, ev, "Root=1-5759e988-bd862e3fe1be46a994272793\r\nX: 1",
               XR_NEW "Sampled=1", "auto, header with control bytes: none of it copied");
    check_xray(t, all, PROMOTE_XRAY_REWRITE, ev, "Root=\"x\";Lineage=1:8a3f2b1c:0",
               XR_NEW "Sampled=1", "rewrite, header with bytes never copied: none of it kept");
    check_xray(t, all, PROMOTE_XRAY_KEEP, ev, NULL, "", "keep: never created");
    got = xray_out(all, PROMOTE_XRAY_AUTO, "{\"a\":1}",
                   "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;"
                   "Lineage=1:8a3f2b1c:0",
                   true);
    is_str(t, got,
           "Root=1-01234567-89abcdef0123456789abcdef;Parent=1111111111111111;Sampled=1;"
           "Lineage=1:8a3f2b1c:0",
           "auto with an injected root context: written like the other targets");
    free(got);
}

/* The client context is scanned with the event's nesting limit (PROMOTE_MAX_DEPTH). */
static void test_cc_depth(struct tap *t)
{
    struct promote_conf c = conf_default();
    const char *ev = "{\"__traceparent__\":\"" TPA "\"}";
    char *cc = calloc(1, 4096);
    struct run *r;

    strcpy(cc, "{\"custom\":{},\"x\":");
    for (int i = 0; i < 100; i++)
        strcat(cc, "[");
    for (int i = 0; i < 100; i++)
        strcat(cc, "]");
    strcat(cc, "}");
    r = go(&c, ev, strlen(ev), NULL, cc, NULL);
    ok(t, r->o.client_context_changed && strstr(r->o.client_context.data, WA),
       "client context nested 100 deep: custom.traceparent written");
    done(r);
    memset(cc, 0, 4096);
    strcpy(cc, "{\"custom\":{},\"x\":");
    for (int i = 0; i < PROMOTE_MAX_DEPTH; i++)
        strcat(cc, "[");
    for (int i = 0; i < PROMOTE_MAX_DEPTH; i++)
        strcat(cc, "]");
    strcat(cc, "}");
    r = go(&c, ev, strlen(ev), NULL, cc, NULL);
    ok(t, !r->o.client_context_changed && r->o.body_changed,
       "client context nested past the limit: left alone, the event still rewritten");
    done(r);
    free(cc);
}

/* More records than PROMOTE_MAX_LINKS: links are capped and counted, all agree. */
static void test_many_records(struct tap *t)
{
    struct promote_conf c = conf_default();
    struct buf b;
    struct run *r;

    buf_init(&b, 1u << 20);
    buf_append_str(&b, "{\"Records\":[");
    for (int i = 0; i < 130; i++)
        buf_appendf(&b,
                    "%s{\"messageId\":\"m%d\",\"messageAttributes\":{\"traceparent\":{"
                    "\"stringValue\":\"" TPA "\"}},\"eventSource\":\"aws:sqs\"}",
                    i ? "," : "", i);
    buf_append_str(&b, "]}");
    c.batch_parent = PROMOTE_BATCH_NONE;
    r = go(&c, b.data, b.len, NULL, NULL, NULL);
    is_int(t, r->a.n_links, PROMOTE_MAX_LINKS, "130 records: links capped");
    is_int(t, r->a.links_dropped, 2, "130 records: 2 dropped and counted");
    ok(t, r->a.found && !r->a.records_disagree, "130 agreeing records: shared parent");
    is_str(t, r->a.links[127].message_id, "m127", "130 records: last kept link id");
    done(r);
    buf_free(&b);
}

/* TRACEBRIDGE_XRAY_HEADER: auto rewrites Lambda-Runtime-Trace-Id when a context was promoted and
 * Lambda's own tracing is not active (no header or Sampled other than 1); keep never; rewrite
 * always; nothing without a promoted context; the value is built only from validated ids. */
static void test_xray_modes(struct tap *t)
{
    struct promote_conf c = conf_default();
    const char *ev = "{\"__traceparent__\":\"" TPA "\"}";
    const char *active =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const char *want0 =
        "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=1111111111111111;Sampled=1";
    struct run *r;

    c.targets |= PROMOTE_TARGET_XRAY;
    c.xray_header = PROMOTE_XRAY_AUTO;
    r = go(&c, ev, strlen(ev), LXRAY ";Lineage=1:8a3f2b1c:0", NULL, NULL);
    is_str(t, r->o.trace_id.data,
           "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=1111111111111111;Sampled=1;Lineage=1:"
           "8a3f2b1c:0",
           "auto, Sampled=0 (PassThrough): rewritten to the promoted context, Lineage kept");
    done(r);
    r = go(&c, ev, strlen(ev), NULL, NULL, NULL);
    is_str(t, r->o.trace_id.data, want0, "auto, no header: written");
    done(r);
    r = go(&c, ev, strlen(ev), active, NULL, NULL);
    ok(t, !r->o.trace_id_changed && !(r->o.targets_written & PROMOTE_TARGET_XRAY),
       "auto, Sampled=1 (active tracing): Lambda's header kept");
    done(r);
    r = go(&c, ev, strlen(ev), "Root=1-zz;Parent=1;Sampled=1x", NULL, NULL);
    ok(t, r->o.trace_id_changed && strncmp(r->o.trace_id.data, "Root=1-0af76519-", 16) == 0,
       "auto, an invalid incoming header is not active tracing: a valid header is written");
    ok(t, !strstr(r->o.trace_id.data, "zz"), "nothing of the invalid header's Root is copied");
    done(r);
    r = go(&c, "{\"a\":1}", 7, LXRAY, NULL, NULL);
    ok(t, !r->o.trace_id_changed, "auto, no promoted context: header kept");
    done(r);
    {
        const char *ev0 =
            "{\"__traceparent__\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00\"}";
        r = go(&c, ev0, strlen(ev0), LXRAY, NULL, NULL);
    }
    ok(t, r->o.trace_id_changed && strstr(r->o.trace_id.data, ";Sampled=0"),
       "Sampled comes from the W3C flags (00 -> 0)");
    done(r);
    c.xray_header = PROMOTE_XRAY_REWRITE;
    r = go(&c, ev, strlen(ev), active, NULL, NULL);
    is_str(t, r->o.trace_id.data, want0, "rewrite: rewritten even when Lambda's tracing is active");
    done(r);
    c.xray_header = PROMOTE_XRAY_KEEP;
    r = go(&c, ev, strlen(ev), LXRAY, NULL, NULL);
    ok(t, !r->o.trace_id_changed, "keep: never rewritten");
    done(r);
    c.xray_header = PROMOTE_XRAY_AUTO;
    c.targets &= ~(unsigned)PROMOTE_TARGET_XRAY;
    r = go(&c, ev, strlen(ev), LXRAY, NULL, NULL);
    ok(t, !r->o.trace_id_changed, "auto without xray in the targets: never rewritten");
    done(r);
}

static void test_targets_parse(struct tap *t)
{
    unsigned b = 99;

    is_int(t, promote_targets_parse("headers,client-context,xray", &b), 0, "targets: all three");
    is_int(t, b, 7, "targets: all three bits, xray included");
    is_int(t, promote_targets_parse(" Headers , XRAY ", &b), 0, "targets: spaces and case");
    is_int(t, b, PROMOTE_TARGET_HEADERS | PROMOTE_TARGET_XRAY, "targets: headers and xray");
    is_int(t, promote_targets_parse("none", &b), 0, "targets: none");
    is_int(t, b, 0, "targets: none is no bit");
    b = 5;
    is_int(t, promote_targets_parse("headers,bogus", &b), -EINVAL, "targets: unknown name refused");
    is_int(t, b, 5, "targets: unchanged on error");
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_sqs_single(&t);
    test_sqs_batch(&t);
    test_sqs_sdk_and_sns(&t);
    test_eventbridge(&t);
    test_http(&t);
    test_streams(&t);
    test_direct(&t);
    test_direct_plain(&t);
    test_hostile(&t);
    test_cc_xray(&t);
    test_cc_depth(&t);
    test_xray_modes(&t);
    test_xray_fields(&t);
    test_targets_parse(&t);
    test_many_records(&t);
    is_str(&t, promote_carrier_name(CARRIER_SQS_SNS), "sqs-sns", "carrier names");
    is_str(&t, promote_trigger_name(TRIGGER_FUNCTION_URL), "function-url", "trigger names");
    return tap_done(&t);
}
