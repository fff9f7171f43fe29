/* SPDX-License-Identifier: Apache-2.0 */
/* The read-only carriers of DESIGN.md items 2 (EventBridge inside an SQS body) and 5 to 9
 * (Kafka, Datadog, Kinesis and DynamoDB Streams, Step Functions, durable functions) on real
 * event shapes (tests/fixtures), asserting the context found, the facts, and that nothing but
 * the root "headers" insertion changes. Includes decoders.c for its static helpers. */
#include "proxy/promote/decoders.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/promote/promote.h"
#include "tests/lib/promote_run.h"
#include "tests/lib/tap.h"
#include "tests/lib/test_util.h"

#define TPA "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define TPB "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
/* x-datadog-trace-id 1234567890123456789, parent 987654321, _dd.p.tid 66bcb5eb00000000 */
#define DD_TP "00-66bcb5eb00000000112210f47de98115-000000003ade68b1-01"

static const char *tp(const struct trace_ctx *t, char *buf)
{
    traceparent_format(t, buf);
    return buf;
}

/* The output is the input with only `"headers":{"traceparent":<parent, span 1111..>}` (and
 * `ts` as its tracestate when set) inserted at the start of the root object. */
static bool only_headers_added(struct run *r, const char *ts)
{
    char want_tp[64];
    struct buf b;
    bool same;

    if (!r->o.body_changed)
        return false;
    traceparent_format(&r->w.ctx, want_tp);
    buf_init(&b, r->n + 4096);
    buf_appendf(&b, "{\"headers\":{\"traceparent\":\"%s\"", want_tp);
    if (ts)
        buf_appendf(&b, ",\"tracestate\":\"%s\"", ts);
    buf_append_str(&b, "},");
    buf_append(&b, r->in + 1, r->n - 1);
    same = b.len == r->o.body.len && memcmp(b.data, r->o.body.data, b.len) == 0;
    if (!same)
        printf("#   got: %.*s\n", (int)(r->o.body.len < 300 ? r->o.body.len : 300), r->o.body.data);
    buf_free(&b);
    return same;
}

static struct run *fixture(const char *name, char **in)
{
    struct promote_conf c = conf_default();
    size_t n;

    *in = slurp(name, &n);
    return go(&c, *in, n, NULL, NULL, NULL);
}

static void test_eventbridge_in_sqs(struct tap *t)
{
    char *in, buf[64];
    struct run *r = fixture("sqs_eventbridge.json", &in);

    is_int(t, r->a.carrier, CARRIER_SQS_EVENTBRIDGE, "eventbridge->sqs: carrier");
    is_str(t, tp(&r->a.parent.ctx, buf), TPA, "eventbridge->sqs: detail.traceparent");
    is_str(t, r->a.parent.tracestate, "congo=t61rcWkgMzE", "eventbridge->sqs: tracestate");
    is_int(t, r->a.n_links, 2, "eventbridge->sqs: a link per record");
    is_str(t, tp(&r->a.links[1].ctx, buf), TPB, "eventbridge->sqs: detail.__traceparent__ read");
    ok(t, r->a.records_disagree, "eventbridge->sqs: records disagree");
    is_int(t, r->a.info.trigger, TRIGGER_SQS, "eventbridge->sqs: an SQS trigger");
    ok(t, only_headers_added(r, "congo=t61rcWkgMzE") && !r->o.reserved_stripped,
       "eventbridge->sqs: bodies byte for byte (__traceparent__ kept inside)");
    done(r);
    free(in);

    r = fixture("sqs_sns_eventbridge.json", &in);
    is_int(t, r->a.carrier, CARRIER_SQS_SNS, "eventbridge->sns->sqs: the envelope's carrier");
    is_str(t, tp(&r->a.parent.ctx, buf), TPB, "eventbridge->sns->sqs: detail inside Message");
    is_str(t, r->a.info.destination, "orders-queue", "eventbridge->sns->sqs: queue");
    ok(t, only_headers_added(r, NULL), "eventbridge->sns->sqs: body untouched");
    done(r);
    free(in);
}

static void test_kafka(struct tap *t)
{
    char *in, buf[64];
    struct run *r = fixture("msk.json", &in);

    is_int(t, r->a.carrier, CARRIER_KAFKA, "msk: carrier");
    is_str(t, tp(&r->a.parent.ctx, buf), TPA, "msk: traceparent from header bytes");
    is_int(t, r->a.info.trigger, TRIGGER_KAFKA, "msk: trigger kafka");
    is_str(t, promote_trigger_name(r->a.info.trigger), "kafka", "msk: trigger name");
    is_str(t, r->a.info.destination, "orders", "msk: topic");
    is_str(t, r->a.info.partition, "0", "msk: partition");
    is_str(t, r->a.info.offset, "15", "msk: offset");
    is_int(t, r->a.info.record_count, 1, "msk: one record");
    ok(t, strncmp(r->a.info.source_arn, "arn:aws:kafka:us-east-1:111122223333:cluster/", 45) == 0,
       "msk: eventSourceArn");
    is_str(t, r->a.parent.tracestate, "congo=t61rcWkgMzE", "msk: tracestate header");
    ok(t, only_headers_added(r, "congo=t61rcWkgMzE"), "msk: record headers never edited");
    done(r);
    free(in);

    r = fixture("msk_batch.json", &in);
    is_int(t, r->a.info.record_count, 4, "msk batch: records counted across partitions");
    is_int(t, r->a.n_links, 3, "msk batch: three records with a valid context");
    is_str(t, tp(&r->a.links[0].ctx, buf), TPA, "msk batch: link 0 (number bytes)");
    is_str(t, tp(&r->a.links[1].ctx, buf), TPB,
           "msk batch: link 1 (decimal strings, object value)");
    is_str(t, tp(&r->a.links[2].ctx, buf), DD_TP, "msk batch: link 2 (x-datadog-* converted)");
    ok(t, r->a.records_disagree && r->a.carrier == CARRIER_KAFKA, "msk batch: first-record parent");
    is_str(t, r->a.info.partition, "", "msk batch: no single partition");
    ok(t, only_headers_added(r, NULL), "msk batch: unchanged but for headers");
    done(r);
    free(in);

    r = fixture("kafka_self_managed.json", &in);
    is_int(t, r->a.info.trigger, TRIGGER_KAFKA, "self-managed: trigger kafka");
    is_int(t, r->a.n_links, 2, "self-managed: index-keyed records, both");
    is_str(t, tp(&r->a.links[0].ctx, buf), TPB, "self-managed: index-keyed decimal-string bytes");
    is_str(t, tp(&r->a.links[1].ctx, buf), TPA, "self-managed: base64 header");
    is_str(t, r->a.info.destination, "payments", "self-managed: topic");
    is_str(t, r->a.info.source_arn, "", "self-managed: no ARN");
    done(r);
    free(in);
}

/* Header byte encodings, one record each. */
static void kafka_lit(struct tap *t, const char *headers, const char *want, const char *name)
{
    struct promote_conf c = conf_default();
    struct buf b;
    struct run *r;
    char buf[64];

    buf_init(&b, 1 << 16);
    buf_appendf(&b,
                "{\"eventSource\":\"aws:kafka\",\"records\":{\"t-0\":[{\"topic\":\"t\","
                "\"partition\":0,\"offset\":1,\"headers\":%s}]}}",
                headers);
    r = go(&c, b.data, b.len, NULL, NULL, NULL);
    is_str(t, r->a.found ? tp(&r->a.parent.ctx, buf) : "", want, "kafka headers: %s", name);
    done(r);
    buf_free(&b);
}

static void bytes_of(struct buf *b, const char *s, const char *fmt)
{
    for (size_t i = 0; s[i]; i++)
        buf_appendf(b, fmt, i ? "," : "", (unsigned char)s[i]);
}

static void test_kafka_bytes(struct tap *t)
{
    struct buf b;

    buf_init(&b, 1 << 16);
    buf_append_str(&b, "[{\"traceparent\":[");
    bytes_of(&b, TPA, "%s%u");
    buf_append_str(&b, "]}]");
    kafka_lit(t, b.data, TPA, "numbers");
    buf_reset(&b);
    buf_append_str(&b, "[{\"traceparent\":[");
    bytes_of(&b, TPA, "%s%u");
    buf_append_str(&b, ",256]}]");
    kafka_lit(t, b.data, "", "a byte over 255: not a header");
    buf_reset(&b);
    buf_append_str(&b, "[{\"traceparent\":[-48");
    bytes_of(&b, TPA + 1, ",%s%u");
    buf_append_str(&b, "]}]");
    kafka_lit(t, b.data, "", "a signed byte (-48 = 208): not ASCII, not a header");
    buf_reset(&b);
    buf_append_str(&b, "[{\"traceparent\":[48.0");
    bytes_of(&b, TPA + 1, ",%s%u");
    buf_append_str(&b, "]}]");
    kafka_lit(t, b.data, "", "a fraction: not a byte");
    buf_reset(&b);
    buf_append_str(&b, "{\"0\":{\"traceparent\":{\"1\":\"48\"}}}");
    kafka_lit(t, b.data, "", "index-keyed bytes out of order");
    kafka_lit(t, "[{\"traceparent\":\"" TPB "\"}]", TPB, "a plain string");
    kafka_lit(t, "[{\"traceparent\":null},{\"traceparent\":{}}]", "", "null and empty values");
    kafka_lit(t, "null", "", "headers null");
    kafka_lit(t, "[]", "", "no headers");
    buf_free(&b);
    {
        uint8_t v;
        ok(t,
           byte_of("-1", 2, &v) && v == 255 && byte_of("-128", 4, &v) && v == 128 &&
               !byte_of("-129", 4, &v) && !byte_of("", 0, &v) && !byte_of("-", 1, &v) &&
               !byte_of("1000", 4, &v),
           "signed bytes: -1 is 255, -128 is 128, nothing past");
    }
}

static void test_datadog(struct tap *t)
{
    char *in, buf[64];
    struct run *r = fixture("datadog_sqs.json", &in);

    is_int(t, r->a.carrier, CARRIER_DATADOG, "datadog sqs: carrier");
    is_str(t, tp(&r->a.parent.ctx, buf), DD_TP, "datadog sqs: String attribute converted");
    is_int(t, r->a.n_links, 2, "datadog sqs: two links");
    is_str(t, tp(&r->a.links[1].ctx, buf), TPB, "datadog sqs: Binary attribute, its traceparent");
    ok(t, only_headers_added(r, NULL), "datadog sqs: unchanged but for headers");
    done(r);
    free(in);

    r = fixture("datadog_sns.json", &in);
    is_int(t, r->a.carrier, CARRIER_DATADOG, "datadog sns: carrier");
    is_str(t, tp(&r->a.parent.ctx, buf), DD_TP, "datadog sns: Binary attribute converted");
    done(r);
    free(in);

    r = fixture("datadog_eventbridge.json", &in);
    is_int(t, r->a.carrier, CARRIER_EVENTBRIDGE_DATADOG, "datadog eventbridge: carrier");
    is_str(t, tp(&r->a.parent.ctx, buf), "00-0000000000000000112210f47de98115-000000003ade68b1-00",
           "datadog eventbridge: no _dd.p.tid (upper half zero), priority -1: not sampled");
    is_str(t, promote_carrier_name(r->a.carrier), "eventbridge-datadog", "carrier name");
    done(r);
    free(in);
}

/* A W3C carrier in the same record wins over _datadog, wherever it comes. */
static void test_datadog_preference(struct tap *t)
{
    struct promote_conf c = conf_default();
    const char *ev = "{\"Records\":[{\"messageId\":\"m\",\"messageAttributes\":{\"_datadog\":{"
                     "\"stringValue\":\"{\\\"x-datadog-trace-id\\\":\\\"5\\\","
                     "\\\"x-datadog-parent-id\\\":\\\"6\\\"}\",\"dataType\":\"String\"},"
                     "\"traceparent\":{\"stringValue\":\"" TPA "\",\"dataType\":\"String\"}},"
                     "\"eventSource\":\"aws:sqs\"}]}";
    const char *eb = "{\"detail-type\":\"x\",\"source\":\"s\",\"detail\":{\"_datadog\":{"
                     "\"x-datadog-trace-id\":\"5\",\"x-datadog-parent-id\":\"6\"},"
                     "\"traceparent\":\"" TPB "\"}}";
    char buf[64];
    struct run *r = go(&c, ev, strlen(ev), NULL, NULL, NULL);

    is_int(t, r->a.carrier, CARRIER_SQS_ATTRIBUTES, "sqs: traceparent attribute beats _datadog");
    done(r);
    {
        const char *sns = "{\"Records\":[{\"EventSource\":\"aws:sns\",\"Sns\":{\"MessageId\":\"m\","
                          "\"MessageAttributes\":{\"_datadog\":{\"Type\":\"String\",\"Value\":"
                          "\"{\\\"x-datadog-trace-id\\\":\\\"5\\\",\\\"x-datadog-parent-id\\\":"
                          "\\\"6\\\",\\\"x-datadog-sampling-priority\\\":\\\"1\\\"}\"}}}}]}";
        r = go(&c, sns, strlen(sns), NULL, NULL, NULL);
        is_str(t, r->a.found ? tp(&r->a.parent.ctx, buf) : "",
               "00-00000000000000000000000000000005-0000000000000006-01",
               "sns: a String _datadog attribute is JSON");
        done(r);
    }
    r = go(&c, eb, strlen(eb), NULL, NULL, NULL);
    is_str(t, tp(&r->a.parent.ctx, buf), TPB, "eventbridge: detail.traceparent beats _datadog");
    done(r);
}

static bool dd_conv(const char *tid, const char *pid, const char *prio, const char *tags, char *out)
{
    struct hdrs h;
    struct trace_ctx c;

    memset(h.ok, 0, sizeof(h.ok));
    hdr_put(&h, H_DD_TID, tid, strlen(tid));
    hdr_put(&h, H_DD_PID, pid, strlen(pid));
    if (prio)
        hdr_put(&h, H_DD_PRIO, prio, strlen(prio));
    if (tags)
        hdr_put(&h, H_DD_TAGS, tags, strlen(tags));
    if (!dd_ctx(&h, &c))
        return false;
    traceparent_format(&c, out);
    return true;
}

static void test_datadog_ids(struct tap *t)
{
    char buf[64];

    ok(t,
       dd_conv("18446744073709551615", "1", "2", NULL, buf) &&
           strcmp(buf, "00-0000000000000000ffffffffffffffff-0000000000000001-01") == 0,
       "datadog: the largest 64-bit id");
    ok(t, !dd_conv("18446744073709551616", "1", "1", NULL, buf), "datadog: past 64 bits refused");
    ok(t, !dd_conv("0", "1", "1", NULL, buf), "datadog: zero trace id refused");
    ok(t, !dd_conv("1", "0", "1", NULL, buf), "datadog: zero parent id refused");
    ok(t,
       !dd_conv("+1", "1", "1", NULL, buf) && !dd_conv("1 ", "1", "1", NULL, buf) &&
           !dd_conv("0x1", "1", "1", NULL, buf),
       "datadog: only decimal digits");
    ok(t, !dd_conv("1", "1", "yes", NULL, buf), "datadog: a sampling priority that is no number");
    ok(t, dd_conv("1", "1", "0", NULL, buf) && strcmp(buf + 53, "00") == 0,
       "datadog: priority 0 is not sampled");
    ok(t,
       !dd_conv("1", "1", "1", "_dd.p.tid=66BCB5EB00000000", buf) &&
           !dd_conv("1", "1", "1", "_dd.p.tid=66bcb5eb", buf),
       "datadog: a malformed _dd.p.tid refuses the carrier");
    ok(t,
       dd_conv("1", "1", NULL, "_dd.p.dm=-1", buf) &&
           strcmp(buf, "00-00000000000000000000000000000001-0000000000000001-00") == 0,
       "datadog: other tags ignored, no priority: not sampled");
}

static void test_streams(struct tap *t)
{
    char *in, buf[64];
    struct run *r = fixture("kinesis_traceparent.json", &in);

    is_int(t, r->a.carrier, CARRIER_KINESIS, "kinesis: carrier");
    is_int(t, r->a.n_links, 3, "kinesis: three records with context, the non-JSON one without");
    is_str(t, tp(&r->a.links[0].ctx, buf), TPA, "kinesis: top-level traceparent");
    is_str(t, tp(&r->a.links[1].ctx, buf), TPB, "kinesis: _otel.traceparent");
    is_str(t, tp(&r->a.links[2].ctx, buf), DD_TP, "kinesis: _datadog");
    is_str(t, r->a.info.destination, "orders-stream", "kinesis: stream");
    ok(t, only_headers_added(r, NULL), "kinesis: data never rewritten");
    done(r);
    free(in);

    r = fixture("dynamodb_traceparent.json", &in);
    is_int(t, r->a.carrier, CARRIER_DYNAMODB, "dynamodb: carrier");
    is_str(t, tp(&r->a.parent.ctx, buf), TPA, "dynamodb: NewImage.traceparent.S");
    is_str(t, r->a.parent.tracestate, "congo=t61rcWkgMzE", "dynamodb: tracestate.S");
    is_int(t, r->a.n_links, 2, "dynamodb: two links");
    is_str(t, tp(&r->a.links[1].ctx, buf), DD_TP, "dynamodb: NewImage._datadog.S");
    ok(t, only_headers_added(r, "congo=t61rcWkgMzE"), "dynamodb: images never rewritten");
    done(r);
    free(in);
}

/* The worked example of README "Step Functions". */
#define SFN_TP "00-12d5566c08096b75bd8196995199274d-a97d3943bc9cc5b9-01"

static void test_step_functions(struct tap *t)
{
    struct promote_conf c = conf_default();
    char *in, buf[64];
    struct run *r = fixture("stepfunctions.json", &in);
    char *ev;

    is_int(t, r->a.carrier, CARRIER_STEP_FUNCTIONS, "step functions: carrier");
    is_str(t, tp(&r->a.parent.ctx, buf), SFN_TP, "step functions: derived ids (README example)");
    is_int(t, r->a.info.trigger, TRIGGER_DIRECT, "step functions: a direct invoke");
    ok(t, only_headers_added(r, NULL), "step functions: payload kept");
    done(r);
    ev = strdup(in);
    memcpy(strstr(ev, "\"RetryCount\": 0"), "\"RetryCount\": 1", 15);
    r = go(&c, ev, strlen(ev), NULL, NULL, NULL);
    ok(t,
       r->a.found && memcmp(tp(&r->a.parent.ctx, buf), SFN_TP, 36) == 0 && strcmp(buf, SFN_TP) != 0,
       "step functions: a retry is the same trace, another parent");
    done(r);
    memcpy(strstr(ev, "\"RetryCount\": 1"), "\"RetryCount\":-1", 15);
    r = go(&c, ev, strlen(ev), NULL, NULL, NULL);
    ok(t, !r->a.found, "step functions: a negative retry count is no context");
    done(r);
    free(ev);
    ev = strdup(in);
    memcpy(strstr(ev, "\"State\""), "\"Stade\"", 7);
    r = go(&c, ev, strlen(ev), NULL, NULL, NULL);
    ok(t, !r->a.found, "step functions: no State, no context");
    done(r);
    free(ev);
    {
        const char *noarn = "{\"Execution\":{\"Id\":\"x\"},\"State\":{\"Name\":\"a\","
                            "\"EnteredTime\":\"b\",\"RetryCount\":0}}";
        r = go(&c, noarn, strlen(noarn), NULL, NULL, NULL);
    }
    ok(t, !r->a.found, "step functions: an Id that is no execution ARN");
    done(r);
    {
        const char *both = "{\"__traceparent__\":\"" TPA "\",\"Execution\":{\"Id\":"
                           "\"arn:aws:states:us-east-1:1:execution:a:b\"},\"State\":{\"Name\":"
                           "\"a\",\"EnteredTime\":\"b\",\"RetryCount\":0}}";
        r = go(&c, both, strlen(both), NULL, NULL, NULL);
        is_int(t, r->a.carrier, CARRIER_DIRECT, "step functions: after every other carrier");
        done(r);
    }
    free(in);
}

static void test_durable(struct tap *t)
{
    char *in, buf[64];
    struct run *r = fixture("durable.json", &in);

    is_int(t, r->a.carrier, CARRIER_DURABLE, "durable: carrier");
    is_str(t, tp(&r->a.parent.ctx, buf), TPA, "durable: __traceparent__ in InputPayload");
    is_str(t, r->a.parent.tracestate, "congo=t61rcWkgMzE", "durable: __tracestate__");
    ok(t,
       strncmp(r->a.info.durable_execution_arn, "arn:aws:lambda:us-east-1:123456789012:", 38) == 0,
       "durable: execution ARN");
    ok(t, r->a.info.durable_first_invocation, "durable: one operation, the first invocation");
    ok(t, only_headers_added(r, "congo=t61rcWkgMzE") && !r->o.reserved_stripped,
       "durable: InputPayload never rewritten");
    done(r);
    free(in);
}

static void test_names(struct tap *t)
{
    static const enum promote_carrier cs[] = {CARRIER_SQS_EVENTBRIDGE, CARRIER_KAFKA,
                                              CARRIER_DATADOG,         CARRIER_EVENTBRIDGE_DATADOG,
                                              CARRIER_KINESIS,         CARRIER_DYNAMODB,
                                              CARRIER_STEP_FUNCTIONS,  CARRIER_DURABLE};
    unsigned bad = 0;

    for (size_t i = 0; i < ARRAY_LEN(cs); i++)
        bad += strcmp(promote_carrier_name(cs[i]), "unknown") == 0;
    ok(t, bad == 0, "every new carrier has a name");
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_eventbridge_in_sqs(&t);
    test_kafka(&t);
    test_kafka_bytes(&t);
    test_datadog(&t);
    test_datadog_preference(&t);
    test_datadog_ids(&t);
    test_streams(&t);
    test_step_functions(&t);
    test_durable(&t);
    test_names(&t);
    return tap_done(&t);
}
