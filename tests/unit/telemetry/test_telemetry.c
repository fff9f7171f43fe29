/* SPDX-License-Identifier: Apache-2.0 */
/* test_telemetry: the Telemetry API batch parser (schema 2025-01-29, the Managed Instances
 * variant, hostile input), the correlation of facts and spans (holding bounds, outcomes, the
 * init and restore spans, concurrent invocations in any order), the listener's HTTP framing,
 * and the listener + subscription on a real loop against a fake Runtime API. TAP. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extension/telemetry/internal.h"
#include "extension/telemetry/telemetry.h"
#include "tests/lib/tap.h"
#include "tests/lib/test_server.h"

/* ---- helpers ---- */

#define MAX_GOT 400

struct sink {
    struct span got[MAX_GOT];
    size_t n;
};

static void on_ready(void *arg, struct span *s)
{
    struct sink *k = arg;

    if (k->n < MAX_GOT) {
        k->got[k->n++] = *s;
        span_init(s);
    }
}

static void sink_clear(struct sink *k)
{
    for (size_t i = 0; i < k->n; i++)
        span_free(&k->got[i]);
    k->n = 0;
}

static struct span *got_named(struct sink *k, const char *name)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->got[i].name && strcmp(k->got[i].name, name) == 0)
            return &k->got[i];
    return NULL;
}

static struct span *got_rid(struct sink *k, const char *rid)
{
    for (size_t i = 0; i < k->n; i++) {
        const struct attr *a = attr_list_find(&k->got[i].attrs, "faas.invocation_id");
        if (a && strcmp(a->v.s, rid) == 0)
            return &k->got[i];
    }
    return NULL;
}

static const char *sattr(const struct span *s, const char *key)
{
    const struct attr *a = s ? attr_list_find(&s->attrs, key) : NULL;

    return a && a->type == ATTR_STRING ? a->v.s : NULL;
}

static int64_t iattr(const struct span *s, const char *key)
{
    const struct attr *a = s ? attr_list_find(&s->attrs, key) : NULL;

    return a && a->type == ATTR_INT ? a->v.i : -1;
}

static double dattr(const struct span *s, const char *key)
{
    const struct attr *a = s ? attr_list_find(&s->attrs, key) : NULL;

    return a && a->type == ATTR_DOUBLE ? a->v.d : -1;
}

static int battr(const struct span *s, const char *key)
{
    const struct attr *a = s ? attr_list_find(&s->attrs, key) : NULL;

    return a && a->type == ATTR_BOOL ? a->v.b : -1;
}

/* An ended invocation span as the lifecycle makes it. */
static void inv_span(struct span *s, const char *rid, uint8_t tag, uint64_t start_ns)
{
    span_init(s);
    memset(s->ctx.trace_id, tag, 16);
    memset(s->ctx.span_id, tag + 1, 8);
    s->ctx.flags = TRACE_FLAG_SAMPLED;
    (void)span_set_name(s, "process orders");
    s->start_ns = start_ns;
    s->end_ns = start_ns + 5000000;
    (void)attr_list_add_str(&s->attrs, "faas.invocation_id", rid);
    (void)attr_list_add_bool(&s->attrs, "faas.coldstart", false);
}

struct counted {
    struct tm_event evs[64];
    int n;
};

static void collect(void *arg, const struct tm_event *ev)
{
    struct counted *c = arg;

    if (c->n < 64)
        c->evs[c->n++] = *ev;
}

static int parse(const char *json, struct counted *c, struct tm_parse_stats *st)
{
    static struct tm_event scratch;

    memset(c, 0, sizeof(*c));
    return tm_parse_batch(json, strlen(json), &scratch, collect, c, st);
}

/* Feeds a batch to the facts as the listener would. */
struct feed {
    struct tm_facts *f;
    uint64_t now;
};

static void feed_event(void *arg, const struct tm_event *ev)
{
    struct feed *fd = arg;

    tm_facts_event(fd->f, ev, fd->now);
}

static void feed(struct tm_facts *f, const char *json, uint64_t now)
{
    static struct tm_event scratch;
    struct tm_parse_stats st;
    struct feed fd = {f, now};

    (void)tm_parse_batch(json, strlen(json), &scratch, feed_event, &fd, &st);
}

#define T0 "2026-11-23T10:00:00.000Z"

/* ---- parser ---- */

static const char ON_DEMAND[] =
    "[{\"time\":\"2026-11-23T10:00:00.000Z\",\"type\":\"platform.initStart\",\"record\":"
    "{\"initializationType\":\"on-demand\",\"phase\":\"init\",\"runtimeVersion\":\"nodejs:24.v7\","
    "\"runtimeVersionArn\":\"arn:aws:lambda:us-east-1::runtime:abc\",\"functionName\":\"f\","
    "\"functionVersion\":\"$LATEST\",\"instanceId\":\"i-1\",\"instanceMaxMemory\":134217728}},"
    "{\"time\":\"2026-11-23T10:00:00.250Z\",\"type\":\"platform.initRuntimeDone\",\"record\":"
    "{\"initializationType\":\"on-demand\",\"phase\":\"init\",\"status\":\"success\"}},"
    "{\"time\":\"2026-11-23T10:00:00.251Z\",\"type\":\"platform.initReport\",\"record\":"
    "{\"initializationType\":\"on-demand\",\"phase\":\"init\",\"status\":\"success\","
    "\"metrics\":{\"durationMs\":250.5}}},"
    "{\"time\":\"2026-11-23T10:00:00.300Z\",\"type\":\"platform.telemetrySubscription\","
    "\"record\":{\"name\":\"tracebridge\",\"state\":\"Subscribed\",\"types\":[\"platform\"]}},"
    "{\"record\":{\"requestId\":\"r-1\",\"version\":\"$LATEST\",\"tenantId\":\"tenant-a\","
    "\"tracing\":{\"spanId\":\"54565fb41ac79632\",\"type\":\"X-Amzn-Trace-Id\",\"value\":"
    "\"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\"}},"
    "\"type\":\"platform.start\",\"time\":\"2026-11-23T10:00:01.000Z\"},"
    "{\"time\":\"2026-11-23T10:00:01.020Z\",\"type\":\"platform.runtimeDone\",\"record\":"
    "{\"requestId\":\"r-1\",\"status\":\"success\",\"metrics\":{\"durationMs\":20.1,"
    "\"producedBytes\":42},\"spans\":[{\"name\":\"responseLatency\",\"start\":"
    "\"2026-11-23T10:00:01.001Z\",\"durationMs\":18.0}]}},"
    "{\"time\":\"2026-11-23T10:00:01.030Z\",\"type\":\"platform.report\",\"record\":"
    "{\"requestId\":\"r-1\",\"status\":\"success\",\"metrics\":{\"durationMs\":29.63,"
    "\"billedDurationMs\":30,\"memorySizeMB\":128,\"maxMemoryUsedMB\":71,\"initDurationMs\":"
    "250.5}}}]";

static void test_parse_on_demand(struct tap *t)
{
    struct counted c;
    struct tm_parse_stats st;
    int rc = parse(ON_DEMAND, &c, &st);
    const struct tm_event *e;

    is_int(t, rc, 0, "on-demand batch: parses");
    is_int(t, st.events, 7, "on-demand batch: 7 events");
    is_int(t, st.used, 6, "on-demand batch: 6 used (the subscription event is known, not used)");
    is_int(t, st.ignored, 1, "on-demand batch: 1 ignored");
    is_int(t, st.malformed + st.unknown, 0, "on-demand batch: nothing malformed or unknown");
    if (c.n < 6)
        return;
    e = &c.evs[0];
    ok(t,
       e->type == TM_INIT_START && strcmp(e->init_type, "on-demand") == 0 &&
           strcmp(e->phase, "init") == 0 && strcmp(e->runtime_version, "nodejs:24.v7") == 0 &&
           strcmp(e->runtime_version_arn, "arn:aws:lambda:us-east-1::runtime:abc") == 0,
       "initStart: initializationType, phase, runtimeVersion, runtimeVersionArn");
    is_int(t, (int64_t)(e->time_ns / 1000000), 1795428000000LL, "initStart: time to epoch ms");
    ok(t, c.evs[1].type == TM_INIT_RUNTIME_DONE && c.evs[1].status == TM_ST_SUCCESS,
       "initRuntimeDone: status success");
    ok(t,
       c.evs[2].type == TM_INIT_REPORT && (c.evs[2].have & TM_HAVE_DURATION) &&
           c.evs[2].duration_ms == 250.5,
       "initReport: metrics.durationMs");
    e = &c.evs[3];
    ok(t,
       e->type == TM_START && strcmp(e->request_id, "r-1") == 0 &&
           strcmp(e->tenant_id, "tenant-a") == 0 && strcmp(e->version, "$LATEST") == 0,
       "start (record before type): requestId, tenantId, version");
    e = &c.evs[4];
    ok(t,
       e->type == TM_RUNTIME_DONE && e->status == TM_ST_SUCCESS && e->duration_ms == 20.1 &&
           e->produced_bytes == 42 && (e->have & TM_HAVE_PRODUCED),
       "runtimeDone: status, durationMs, producedBytes (spans skipped)");
    e = &c.evs[5];
    ok(t,
       e->type == TM_REPORT && e->billed_ms == 30 && e->memory_mb == 128 &&
           e->max_memory_mb == 71 && e->init_ms == 250.5 && e->duration_ms == 29.63 &&
           e->have == (TM_HAVE_DURATION | TM_HAVE_BILLED | TM_HAVE_MAX_MEMORY |
                       TM_HAVE_MEMORY_SIZE | TM_HAVE_INIT_DURATION),
       "report: every metric");
}

static void test_parse_variants(struct tap *t)
{
    struct counted c;
    struct tm_parse_stats st;
    const char *mi =
        "[{\"time\":\"2026-11-23T10:00:01.000Z\",\"type\":\"platform.start\",\"record\":"
        "{\"requestId\":\"m-1\",\"version\":\"1\",\"functionArn\":\"arn:x\"}},"
        "{\"time\":\"2026-11-23T10:00:01.500Z\",\"type\":\"platform.report\",\"record\":"
        "{\"requestId\":\"m-1\",\"status\":\"timeout\",\"errorType\":\"Sandbox.Timedout\","
        "\"metrics\":{\"durationMs\":500.000},\"spans\":[]}}]";
    const char *restore =
        "[{\"time\":\"2026-11-23T10:00:01Z\",\"type\":\"platform.restoreStart\",\"record\":"
        "{\"runtimeVersion\":\"java:21.v9\",\"functionName\":\"f\",\"functionVersion\":\"3\"}},"
        "{\"time\":\"2026-11-23T10:00:01.2Z\",\"type\":\"platform.restoreRuntimeDone\",\"record\":"
        "{\"status\":\"success\"}},"
        "{\"time\":\"2026-11-23T10:00:01.21+00:00\",\"type\":\"platform.restoreReport\","
        "\"record\":{\"status\":\"success\",\"metrics\":{\"durationMs\":210.0}}},"
        "{\"time\":\"2026-11-23T10:00:02Z\",\"type\":\"platform.logsDropped\",\"record\":"
        "{\"droppedBytes\":5,\"droppedRecords\":3,\"reason\":\"slow\"}}]";

    is_int(t, parse(mi, &c, &st), 0, "Managed Instances batch parses");
    ok(t,
       c.n == 2 && c.evs[1].type == TM_REPORT && c.evs[1].status == TM_ST_TIMEOUT &&
           c.evs[1].have == TM_HAVE_DURATION && c.evs[1].duration_ms == 500 &&
           strcmp(c.evs[1].error_type, "Sandbox.Timedout") == 0,
       "Managed Instances report: status and durationMs only, errorType");
    is_int(t, parse(restore, &c, &st), 0, "SnapStart restore batch parses");
    ok(t,
       c.n == 4 && c.evs[0].type == TM_RESTORE_START &&
           strcmp(c.evs[0].runtime_version, "java:21.v9") == 0 &&
           c.evs[1].type == TM_RESTORE_RUNTIME_DONE && c.evs[1].status == TM_ST_SUCCESS &&
           c.evs[2].type == TM_RESTORE_REPORT && c.evs[2].duration_ms == 210 &&
           c.evs[3].type == TM_LOGS_DROPPED && c.evs[3].dropped_records == 3,
       "restoreStart, restoreRuntimeDone, restoreReport, logsDropped");
    ok(t,
       c.n == 4 && c.evs[1].time_ns - c.evs[0].time_ns == 200000000ULL &&
           c.evs[2].time_ns - c.evs[0].time_ns == 210000000ULL,
       "times without a fraction, with one digit, with +00:00");
    is_int(t, parse("[]", &c, &st), 0, "an empty batch is fine");
    is_int(t, parse(" [ ] \n", &c, &st), 0, "whitespace around the array");
}

static void test_parse_hostile(struct tap *t)
{
    struct counted c;
    struct tm_parse_stats st;
    char deep[256] = "[";
    char longid[400];
    const char *mixed =
        "[42,"
        "{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"[INFO] hello\"},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.start\",\"record\":[1,2]},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.start\",\"record\":{\"version\":\"1\"}},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.runtimeDone\",\"record\":{\"requestId\":\"x\"}},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":{\"requestId\":\"x\","
        "\"metrics\":{\"durationMs\":-1}}},"
        "{\"time\":\"2026-02-30T00:00:00Z\",\"type\":\"platform.start\",\"record\":"
        "{\"requestId\":\"x\"}},"
        "{\"type\":\"platform.start\",\"record\":{\"requestId\":\"x\"}},"
        "{\"time\":\"" T0 "\",\"type\":7,\"record\":{\"requestId\":\"x\"}},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.runtimeDone\",\"record\":{\"requestId\":\"x\","
        "\"status\":5}},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":{\"requestId\":\"ok\","
        "\"status\":null,\"errorType\":null,\"metrics\":{\"durationMs\":1,\"billedDurationMs\":"
        "null}}},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.runtimeDone\",\"record\":{\"requestId\":\"y\","
        "\"status\":\"error\",\"errorType\":\"Handler.\\u00e9rr\\ud83d\\ude00\"}}]";

    is_int(t, parse(mixed, &c, &st), 0, "a batch of bad events is still a batch");
    is_int(t, st.events, 12, "all 12 elements counted");
    is_int(t, st.unknown, 1, "a function log line: an unexpected type");
    is_int(t, st.malformed, 9,
           "9 malformed events (not an object, record array, no requestId, "
           "no status, negative metric, bad date, no time, type not a "
           "string, status not a string)");
    is_int(t, c.n, 2, "the 2 well-formed ones are used");
    ok(t,
       c.n == 2 && strcmp(c.evs[0].request_id, "ok") == 0 && c.evs[0].have == TM_HAVE_DURATION &&
           c.evs[0].status == TM_ST_NONE,
       "null members are absent");
    ok(t, c.n == 2 && strcmp(c.evs[1].error_type, "Handler.\xc3\xa9rr\xf0\x9f\x98\x80") == 0,
       "escapes and a surrogate pair decode to UTF-8");
    ok(t, st.problem[0] != '\0', "the first problem is described (%s)", st.problem);

    for (int i = 1; i < 60; i++)
        strcat(deep, "[");
    is_int(t, parse(deep, &c, &st), -EBADMSG, "nesting past 32: broken batch");
    is_int(t, parse("{\"a\":1}", &c, &st), -EBADMSG, "not an array: broken batch");
    is_int(t, parse("[{\"time\":\"x\"", &c, &st), -EBADMSG, "truncated: broken batch");
    is_int(t, parse("[] []", &c, &st), -EBADMSG, "trailing bytes: broken batch");
    is_int(t, parse("[{\"a\":\"\\ud800\"}]", &c, &st), -EBADMSG, "a lone surrogate: broken");
    is_int(t, parse("[{\"a\":01}]", &c, &st), -EBADMSG, "a leading zero: broken");
    is_int(t, parse("[1,]", &c, &st), -EBADMSG, "a trailing comma: broken");
    is_int(t, parse("[\"\x01\"]", &c, &st), -EBADMSG, "a raw control character: broken");

    memset(longid, 'a', 300);
    longid[300] = '\0';
    {
        char buf[1024];
        snprintf(buf, sizeof(buf),
                 "[{\"time\":\"%s\",\"type\":\"platform.start\",\"record\":{\"requestId\":"
                 "\"%s\"}},{\"time\":\"%s\",\"type\":\"platform.runtimeDone\",\"record\":"
                 "{\"requestId\":\"r\",\"status\":\"error\",\"errorType\":\"%s\"}}]",
                 T0, longid, T0, longid);
        is_int(t, parse(buf, &c, &st), 0, "oversize strings: the batch parses");
        ok(t, st.malformed == 1 && c.n == 1 && c.evs[0].error_type[0] == '\0',
           "a request id too long: malformed; an errorType too long: dropped, event kept");
    }
}

static void test_time(struct tap *t)
{
    uint64_t ns = 0;

    is_int(t, tm_parse_time("1970-01-01T00:00:00Z", 20, &ns), 0, "the epoch");
    is_int(t, (int64_t)ns, 0, "the epoch is 0");
    tm_parse_time("2024-02-29T23:59:59.123456789Z", 30, &ns);
    is_int(t, (int64_t)(ns % 1000000000ULL), 123456789, "nine fraction digits");
    is_int(t, (int64_t)(ns / 1000000000ULL), 1709251199, "a leap day");
    tm_parse_time("2024-03-01T01:30:00+01:30", 25, &ns);
    is_int(t, (int64_t)(ns / 1000000000ULL), 1709251200, "an offset (01:30+01:30 is midnight UTC)");
    is_int(t, tm_parse_time("2023-02-29T00:00:00Z", 20, &ns), -EINVAL, "no Feb 29 in 2023");
    is_int(t, tm_parse_time("2023-01-01 00:00:00Z", 20, &ns), -EINVAL, "T required");
    is_int(t, tm_parse_time("2023-01-01T00:00:00", 19, &ns), -EINVAL, "zone required");
    is_int(t, tm_parse_time("2023-01-01T00:00:00.Z", 21, &ns), -EINVAL, "an empty fraction");
    is_int(t, tm_parse_time("2023-01-01T24:00:00Z", 20, &ns), -EINVAL, "hour 24");
}

/* ---- facts ---- */

struct rig {
    struct ids ids;
    struct sink sink;
    struct tm_facts *f;
};

static void rig_init(struct rig *r)
{
    struct tm_facts_hooks h = {.arg = &r->sink, .span_ready = on_ready};

    memset(&r->sink, 0, sizeof(r->sink));
    ids_init(&r->ids);
    r->f = tm_facts_new(&r->ids, &h, NULL);
}

static void rig_done(struct rig *r)
{
    tm_facts_free(r->f);
    sink_clear(&r->sink);
}

static const char REPORT_R1[] =
    "[{\"time\":\"" T0 "\",\"type\":\"platform.runtimeDone\",\"record\":{\"requestId\":\"r-1\","
    "\"status\":\"success\",\"metrics\":{\"durationMs\":20,\"producedBytes\":42}}},"
    "{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":{\"requestId\":\"r-1\","
    "\"status\":\"success\",\"tenantId\":\"t-9\",\"metrics\":{\"durationMs\":29.5,"
    "\"billedDurationMs\":30,\"memorySizeMB\":128,\"maxMemoryUsedMB\":71}}}]";

static void test_facts_report_after_span(struct tap *t)
{
    struct rig r;
    struct span s;
    struct span *g;

    rig_init(&r);
    inv_span(&s, "r-1", 0x11, 1000);
    tm_facts_span(r.f, &s, 0);
    is_int(t, r.sink.n, 1, "not live (no event yet): a span passes at once");
    sink_clear(&r.sink);
    feed(r.f,
         "[{\"time\":\"" T0 "\",\"type\":\"platform.start\",\"record\":{\"requestId\":"
         "\"r-1\"}}]",
         1);
    ok(t, tm_facts_live(r.f), "an event makes it live");
    inv_span(&s, "r-1", 0x11, 1000);
    tm_facts_span(r.f, &s, 2);
    ok(t, r.sink.n == 0 && tm_facts_waiting(r.f) == 1 && s.name == NULL,
       "live: the ended span is held (contents taken)");
    feed(r.f, REPORT_R1, 3);
    g = got_rid(&r.sink, "r-1");
    ok(t, r.sink.n == 1 && g && tm_facts_waiting(r.f) == 0, "its report releases it");
    ok(t,
       dattr(g, "aws.lambda.duration_ms") == 29.5 &&
           iattr(g, "aws.lambda.billed_duration_ms") == 30 &&
           iattr(g, "aws.lambda.max_memory_used_mb") == 71 &&
           iattr(g, "faas.max_memory") == 128LL * 1024 * 1024 &&
           iattr(g, "aws.lambda.produced_bytes") == 42,
       "duration, billed duration, max memory used, memory size (bytes), produced bytes");
    ok(t,
       sattr(g, "aws.lambda.status") && strcmp(sattr(g, "aws.lambda.status"), "success") == 0 &&
           g->status == SPAN_STATUS_UNSET && !sattr(g, "tracebridge.invocation.outcome"),
       "status success: the span keeps its status");
    is_str(t, sattr(g, "aws.lambda.tenant_id"), "t-9", "tenant id from the events");
    is_int(t, battr(g, "faas.coldstart"), 0, "no init duration: not a cold start");
    feed(r.f, REPORT_R1, 4);
    {
        struct tm_stats st;
        tm_facts_get_stats(r.f, &st);
        ok(t, st.late == 1 && st.completed == 1 && st.held == 1, "a report after its span: late");
    }
    rig_done(&r);
}

static void test_facts_outcomes(struct tap *t)
{
    struct rig r;
    struct span s;
    struct span *g;
    const char *timeout =
        "[{\"time\":\"" T0 "\",\"type\":\"platform.runtimeDone\",\"record\":{\"requestId\":\"to\","
        "\"status\":\"timeout\",\"errorType\":\"Sandbox.Timedout\"}},{\"time\":\"" T0 "\","
        "\"type\":\"platform.report\",\"record\":{\"requestId\":\"to\",\"status\":\"timeout\","
        "\"metrics\":{\"durationMs\":3000,\"billedDurationMs\":3000,\"memorySizeMB\":128,"
        "\"maxMemoryUsedMB\":80}}}]";
    const char *oom =
        "[{\"time\":\"" T0 "\",\"type\":\"platform.runtimeDone\",\"record\":{\"requestId\":\"om\","
        "\"status\":\"error\",\"errorType\":\"Runtime.OutOfMemory\"}},{\"time\":\"" T0 "\","
        "\"type\":\"platform.report\",\"record\":{\"requestId\":\"om\",\"status\":\"error\","
        "\"errorType\":\"Runtime.OutOfMemory\",\"metrics\":{\"durationMs\":90,"
        "\"billedDurationMs\":90,\"memorySizeMB\":128,\"maxMemoryUsedMB\":128}}}]";
    const char *full =
        "[{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":{\"requestId\":\"fu\","
        "\"status\":\"failure\",\"errorType\":\"Runtime.ExitError\",\"metrics\":{\"durationMs\":"
        "9,\"memorySizeMB\":256,\"maxMemoryUsedMB\":256}}},{\"time\":\"" T0 "\",\"type\":"
        "\"platform.report\",\"record\":{\"requestId\":\"ok\",\"status\":\"success\",\"metrics\":"
        "{\"durationMs\":9,\"memorySizeMB\":256,\"maxMemoryUsedMB\":256}}},{\"time\":\"" T0 "\","
        "\"type\":\"platform.report\",\"record\":{\"requestId\":\"er\",\"status\":\"error\","
        "\"errorType\":\"Function.ResponseSizeTooLarge\",\"metrics\":{\"durationMs\":9}}},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":{\"requestId\":\"cr\","
        "\"status\":\"failure\",\"errorType\":\"Runtime.ExitError\",\"metrics\":{\"durationMs\":"
        "9}}}]";

    rig_init(&r);
    /* Timeout: the platform's facts come first, the span at SHUTDOWN ("crash" by the proxy's
     * view, its deadline having been missed by a hair). */
    feed(r.f, timeout, 1);
    inv_span(&s, "to", 0x21, 1000);
    (void)attr_list_add_str(&s.attrs, "tracebridge.invocation.outcome", "crash");
    (void)span_set_status(&s, SPAN_STATUS_ERROR, "runtime ended without response");
    tm_facts_span(r.f, &s, 2);
    g = got_rid(&r.sink, "to");
    ok(t, g && r.sink.n == 1, "facts before the span: it goes at once");
    ok(t,
       g && strcmp(sattr(g, "tracebridge.invocation.outcome"), "timeout") == 0 &&
           g->status == SPAN_STATUS_ERROR && strstr(g->status_message, "timed out") &&
           strcmp(sattr(g, "error.type"), "Sandbox.Timedout") == 0,
       "runtimeDone timeout corrects the proxy's crash into a timeout, error.type");
    /* Out of memory, by errorType. */
    inv_span(&s, "om", 0x22, 1000);
    (void)span_set_status(&s, SPAN_STATUS_ERROR, "runtime ended without response");
    (void)attr_list_add_str(&s.attrs, "tracebridge.invocation.outcome", "crash");
    tm_facts_span(r.f, &s, 3);
    feed(r.f, oom, 4);
    g = got_rid(&r.sink, "om");
    ok(t,
       g && strcmp(sattr(g, "tracebridge.invocation.outcome"), "out_of_memory") == 0 &&
           battr(g, "aws.lambda.out_of_memory") == 1 &&
           strcmp(sattr(g, "error.type"), "Runtime.OutOfMemory") == 0 &&
           strcmp(g->status_message, "out of memory") == 0,
       "Runtime.OutOfMemory: named as such (outcome, error.type, status message)");
    /* max memory used == memory size */
    for (const char *const *rid = (const char *const[]){"fu", "ok", "er", "cr", NULL}; *rid;
         rid++) {
        inv_span(&s, *rid, 0x30, 1000);
        if (strcmp(*rid, "cr") == 0) {
            (void)attr_list_add_str(&s.attrs, "tracebridge.invocation.outcome", "crash");
            (void)span_set_status(&s, SPAN_STATUS_ERROR, "runtime ended without response");
        }
        tm_facts_span(r.f, &s, 5);
    }
    feed(r.f, full, 6);
    g = got_rid(&r.sink, "fu");
    ok(t, g && strcmp(sattr(g, "tracebridge.invocation.outcome"), "out_of_memory") == 0,
       "a failure with max memory used == memory size: out of memory");
    g = got_rid(&r.sink, "ok");
    ok(t, g && g->status == SPAN_STATUS_UNSET && battr(g, "aws.lambda.out_of_memory") == -1,
       "a success that touched the memory size: not an out-of-memory");
    g = got_rid(&r.sink, "er");
    ok(t,
       g && g->status == SPAN_STATUS_ERROR &&
           strstr(g->status_message, "Function.ResponseSizeTooLarge") &&
           !sattr(g, "tracebridge.invocation.outcome"),
       "status error where the proxy saw a success: the span becomes ERROR");
    g = got_rid(&r.sink, "cr");
    ok(t,
       g && strcmp(sattr(g, "tracebridge.invocation.outcome"), "crash") == 0 &&
           strcmp(sattr(g, "aws.lambda.status"), "failure") == 0,
       "failure confirms the proxy's crash");
    /* success corrects a crash the proxy inferred (it missed the response), not a timeout */
    inv_span(&s, "missed", 0x31, 1000);
    (void)attr_list_add_str(&s.attrs, "tracebridge.invocation.outcome", "crash");
    (void)span_set_status(&s, SPAN_STATUS_ERROR, "runtime ended without response");
    tm_facts_span(r.f, &s, 7);
    inv_span(&s, "late-ok", 0x32, 1000);
    (void)attr_list_add_str(&s.attrs, "tracebridge.invocation.outcome", "timeout");
    (void)span_set_status(&s, SPAN_STATUS_ERROR, "invocation timed out");
    tm_facts_span(r.f, &s, 7);
    feed(r.f,
         "[{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":{\"requestId\":"
         "\"missed\",\"status\":\"success\",\"metrics\":{\"durationMs\":9}}},{\"time\":\"" T0
         "\",\"type\":\"platform.report\",\"record\":{\"requestId\":\"late-ok\",\"status\":"
         "\"success\",\"metrics\":{\"durationMs\":9}}}]",
         8);
    g = got_rid(&r.sink, "missed");
    ok(t, g && g->status == SPAN_STATUS_UNSET && !sattr(g, "tracebridge.invocation.outcome"),
       "success corrects the proxy's crash (it missed the response)");
    g = got_rid(&r.sink, "late-ok");
    ok(t,
       g && g->status == SPAN_STATUS_ERROR &&
           strcmp(sattr(g, "tracebridge.invocation.outcome"), "timeout") == 0,
       "success keeps a timeout by the deadline (Managed Instances' late answers)");
    rig_done(&r);
}

static void test_facts_init_restore(struct tap *t)
{
    struct rig r;
    struct span s;
    struct span *init;
    struct span *first;
    uint64_t t0 = 1795428000000ULL * 1000000ULL;

    rig_init(&r);
    feed(r.f, ON_DEMAND, 1);
    inv_span(&s, "r-1", 0x41, t0 + 1000000000ULL);
    tm_facts_span(r.f, &s, 2);
    init = got_named(&r.sink, "aws.lambda.init");
    first = got_rid(&r.sink, "r-1");
    ok(t, init && first, "the first invocation span and an init span");
    ok(t,
       init && memcmp(init->ctx.trace_id, first->ctx.trace_id, 16) == 0 && init->has_parent &&
           memcmp(init->parent_span_id, first->ctx.span_id, 8) == 0 &&
           init->ctx.flags == first->ctx.flags,
       "init span: in the first invocation's trace, its child");
    ok(t, init && init->start_ns == t0 && init->end_ns == t0 + 250000000ULL,
       "init span: from initStart to initRuntimeDone");
    ok(t,
       init && strcmp(sattr(init, "aws.lambda.init.phase"), "init") == 0 &&
           strcmp(sattr(init, "aws.lambda.runtime_version"), "nodejs:24.v7") == 0 &&
           strcmp(sattr(init, "aws.lambda.init.type"), "on-demand") == 0 &&
           dattr(init, "aws.lambda.init_duration_ms") == 250.5 && init->status == SPAN_STATUS_UNSET,
       "init span: phase, runtime version, type, duration from initReport");
    ok(t,
       first && battr(first, "faas.coldstart") == 1 &&
           dattr(first, "aws.lambda.init_duration_ms") == 250.5 &&
           iattr(first, "aws.lambda.billed_duration_ms") == 30,
       "first invocation: faas.coldstart=true, report facts (the report was in the batch)");
    sink_clear(&r.sink);
    inv_span(&s, "r-2", 0x42, t0 + 2000000000ULL);
    tm_facts_span(r.f, &s, 3);
    ok(t, !got_named(&r.sink, "aws.lambda.init"), "no second init span");

    /* SnapStart: the restore told after the first restored invocation's span is held. */
    feed(r.f,
         "[{\"time\":\"" T0 "\",\"type\":\"platform.start\",\"record\":{\"requestId\":"
         "\"x\"}}]",
         4);
    inv_span(&s, "after-restore", 0x43, t0 + 5000000000ULL);
    tm_facts_span(r.f, &s, 5);
    feed(r.f,
         "[{\"time\":\"2026-11-23T10:00:04.000Z\",\"type\":\"platform.restoreStart\",\"record\":"
         "{\"runtimeVersion\":\"java:21.v9\"}},{\"time\":\"2026-11-23T10:00:04.400Z\",\"type\":"
         "\"platform.restoreRuntimeDone\",\"record\":{\"status\":\"success\"}},{\"time\":"
         "\"2026-11-23T10:00:04.401Z\",\"type\":\"platform.restoreReport\",\"record\":"
         "{\"status\":\"success\",\"metrics\":{\"durationMs\":400.5}}},{\"time\":\"" T0 "\","
         "\"type\":\"platform.report\",\"record\":{\"requestId\":\"after-restore\",\"status\":"
         "\"success\",\"metrics\":{\"durationMs\":3,\"restoreDurationMs\":400.5}}}]",
         6);
    {
        struct span *rs = got_named(&r.sink, "aws.lambda.restore");
        struct span *inv = got_rid(&r.sink, "after-restore");
        ok(t,
           rs && inv && memcmp(rs->parent_span_id, inv->ctx.span_id, 8) == 0 &&
               rs->start_ns == t0 + 4000000000ULL && rs->end_ns == t0 + 4400000000ULL &&
               dattr(rs, "aws.lambda.restore_duration_ms") == 400.5,
           "restore span: child of the first invocation after restoreStart, restoreStart to "
           "restoreRuntimeDone, restoreReport's duration");
        ok(t,
           inv && battr(inv, "faas.coldstart") == 1 &&
               dattr(inv, "aws.lambda.restore_duration_ms") == 400.5,
           "restored invocation: cold start, restore duration");
    }
    rig_done(&r);
}

static void test_facts_bounds(struct tap *t)
{
    struct rig r;
    struct span s;
    struct tm_stats st;

    rig_init(&r);
    feed(r.f,
         "[{\"time\":\"" T0 "\",\"type\":\"platform.start\",\"record\":{\"requestId\":"
         "\"a\"}}]",
         0);
    /* flush at INVOKE: held through the next invocation, released when it settles */
    tm_facts_point(r.f, TM_POINT_INVOKE, false, 0);
    inv_span(&s, "n1", 0x51, 1);
    tm_facts_span(r.f, &s, 1);
    tm_facts_point(r.f, TM_POINT_SETTLED, true, 2);
    is_int(t, r.sink.n, 0, "flush at INVOKE: its own settle keeps it");
    tm_facts_point(r.f, TM_POINT_INVOKE, false, 3);
    is_int(t, r.sink.n, 0, "the next INVOKE keeps it (its report is due now)");
    tm_facts_point(r.f, TM_POINT_SETTLED, true, 3 + 99);
    is_int(t, r.sink.n, 0, "the next invocation settling within 100 ms keeps it (buffered report)");
    tm_facts_point(r.f, TM_POINT_INVOKE, false, 200);
    tm_facts_point(r.f, TM_POINT_SETTLED, true, 201);
    ok(t, r.sink.n == 1 && got_rid(&r.sink, "n1"), "the settle after that releases it");
    inv_span(&s, "n1b", 0x51, 1);
    tm_facts_span(r.f, &s, 202);
    tm_facts_point(r.f, TM_POINT_INVOKE, false, 300);
    tm_facts_point(r.f, TM_POINT_SETTLED, true, 400);
    ok(t, r.sink.n == 2 && got_rid(&r.sink, "n1b"),
       "a next invocation that ran 100 ms: its settle releases it");
    /* flush at the end: released at its own settle */
    inv_span(&s, "n2", 0x52, 1);
    tm_facts_span(r.f, &s, 5);
    tm_facts_point(r.f, TM_POINT_SETTLED, false, 6);
    ok(t, r.sink.n == 3 && got_rid(&r.sink, "n2"), "flush at the end: its own settle releases it");
    /* no settle at all (a bypassed proxy): three INVOKEs */
    inv_span(&s, "n3", 0x53, 1);
    tm_facts_span(r.f, &s, 7);
    tm_facts_point(r.f, TM_POINT_INVOKE, false, 8);
    tm_facts_point(r.f, TM_POINT_INVOKE, false, 9);
    ok(t, got_rid(&r.sink, "n3") == NULL, "without settles: kept over two INVOKEs");
    tm_facts_point(r.f, TM_POINT_INVOKE, false, 10);
    ok(t, got_rid(&r.sink, "n3") != NULL, "without settles: the third INVOKE releases it");
    /* Managed Instances: TICK after TM_MI_HOLD_MS */
    inv_span(&s, "m1", 0x54, 1);
    tm_facts_span(r.f, &s, 100);
    tm_facts_point(r.f, TM_POINT_TICK, false, 100 + TM_MI_HOLD_MS - 1);
    ok(t, !got_rid(&r.sink, "m1"), "Managed Instances: held until TM_MI_HOLD_MS");
    tm_facts_point(r.f, TM_POINT_TICK, false, 100 + TM_MI_HOLD_MS);
    ok(t, got_rid(&r.sink, "m1") != NULL, "Managed Instances: released at TM_MI_HOLD_MS");
    sink_clear(&r.sink);
    /* the table bound */
    for (int i = 0; i < TM_MAX_INV + 40; i++) {
        char rid[32];
        snprintf(rid, sizeof(rid), "b-%d", i);
        inv_span(&s, rid, 0x60, 1);
        tm_facts_span(r.f, &s, 200);
    }
    ok(t,
       tm_facts_waiting(r.f) <= TM_MAX_INV && r.sink.n == 40 && got_rid(&r.sink, "b-0") &&
           got_rid(&r.sink, "b-39") && !got_rid(&r.sink, "b-40"),
       "at most TM_MAX_INV held: the oldest go first (%zu released)", r.sink.n);
    tm_facts_point(r.f, TM_POINT_ALL, false, 300);
    ok(t, tm_facts_waiting(r.f) == 0 && r.sink.n == TM_MAX_INV + 40, "ALL releases every span");
    tm_facts_get_stats(r.f, &st);
    is_int(t, (long long)st.timed_out, TM_MAX_INV + 40 + 5, "each counted as released unreported");
    rig_done(&r);
}

/* 16 concurrent invocations, their events and spans shuffled. */
static void test_facts_concurrent(struct tap *t)
{
    enum { N = 16 };
    struct rig r;
    struct span s;
    char batch[N * 400];
    int order[N];
    unsigned seed = 12345;
    int good = 0;

    rig_init(&r);
    for (int i = 0; i < N; i++)
        order[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)((seed = seed * 1103515245u + 12345u) >> 16) % (i + 1);
        int x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    /* starts arrive first for half of them, the spans of every other one next, reports last */
    strcpy(batch, "[");
    for (int k = 0; k < N; k++) {
        char ev[256];
        snprintf(ev, sizeof(ev),
                 "%s{\"time\":\"" T0 "\",\"type\":\"platform.start\",\"record\":{\"requestId\":"
                 "\"c-%d\",\"tenantId\":\"tenant-%d\"}}",
                 k ? "," : "", order[k], order[k] % 3);
        strcat(batch, ev);
    }
    strcat(batch, "]");
    feed(r.f, batch, 1);
    for (int k = 0; k < N; k += 2) {
        char rid[16];
        snprintf(rid, sizeof(rid), "c-%d", order[(k * 7) % N]);
        inv_span(&s, rid, (uint8_t)(0x70 + k), 1);
        tm_facts_span(r.f, &s, 2);
    }
    strcpy(batch, "[");
    for (int k = N - 1; k >= 0; k--) {
        char ev[300];
        snprintf(ev, sizeof(ev),
                 "%s{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":{\"requestId\":"
                 "\"c-%d\",\"status\":\"success\",\"metrics\":{\"durationMs\":%d.5}}}",
                 k != N - 1 ? "," : "", order[k], 100 + order[k]);
        strcat(batch, ev);
    }
    strcat(batch, "]");
    feed(r.f, batch, 3);
    for (int k = 1; k < N; k += 2) {
        char rid[16];
        snprintf(rid, sizeof(rid), "c-%d", order[(k * 7) % N]);
        inv_span(&s, rid, (uint8_t)(0x70 + k), 1);
        tm_facts_span(r.f, &s, 4);
    }
    for (int i = 0; i < N; i++) {
        char rid[16];
        char tenant[16];
        struct span *g;
        snprintf(rid, sizeof(rid), "c-%d", i);
        snprintf(tenant, sizeof(tenant), "tenant-%d", i % 3);
        g = got_rid(&r.sink, rid);
        good += g && dattr(g, "aws.lambda.duration_ms") == 100 + i + 0.5 &&
                strcmp(sattr(g, "aws.lambda.tenant_id"), tenant) == 0;
    }
    is_int(t, good, N, "16 concurrent invocations in any order: each span got its own facts");
    is_int(t, (long long)tm_facts_waiting(r.f), 0, "none left waiting");
    rig_done(&r);
}

/* ---- session ---- */

struct batches {
    int n;
    size_t bytes;
    char last[256];
};

static void on_sess_batch(void *arg, const char *body, size_t len)
{
    struct batches *b = arg;

    b->n++;
    b->bytes += len;
    snprintf(b->last, sizeof(b->last), "%.*s", (int)len, body);
}

static char *out_of(struct tm_session *s)
{
    size_t n = 0;
    char *p = tms_take_output(s, &n);
    static char buf[1024];

    snprintf(buf, sizeof(buf), "%.*s", p ? (int)n : 0, p ? p : "");
    free(p);
    return buf;
}

static void test_session(struct tap *t)
{
    struct tm_session s;
    struct batches b = {0};
    const char *two =
        "POST / HTTP/1.1\r\nHost: sandbox.localdomain:1\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n[]"
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n";
    char *o;

    tms_init(&s, on_sess_batch, &b);
    tms_feed(&s, two, strlen(two));
    o = out_of(&s);
    ok(t, b.n == 2 && strcmp(b.last, "[1,2]") == 0, "two pipelined POSTs (length, chunked)");
    ok(t,
       strncmp(o, "HTTP/1.1 200 OK\r\n", 17) == 0 && strstr(o + 17, "HTTP/1.1 200 OK\r\n") &&
           !tms_closing(&s),
       "answered 200 twice, kept alive");
    tms_feed(&s, "GET / HTTP/1.1\r\n\r\n", 18);
    ok(t, strncmp(out_of(&s), "HTTP/1.1 405", 12) == 0 && b.n == 2, "GET: 405, no batch");
    tms_free(&s);

    tms_init(&s, on_sess_batch, &b);
    {
        char head[128];
        char *big = calloc(1, TMS_MAX_BODY + 2);
        memset(big, ' ', TMS_MAX_BODY + 1);
        snprintf(head, sizeof(head), "POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
                 TMS_MAX_BODY + 1);
        tms_feed(&s, head, strlen(head));
        tms_feed(&s, big, TMS_MAX_BODY + 1);
        free(big);
    }
    ok(t, strncmp(out_of(&s), "HTTP/1.1 413", 12) == 0 && tms_closing(&s) && b.n == 2,
       "a body over TMS_MAX_BODY: 413, closing, no batch");
    tms_free(&s);
    tms_init(&s, on_sess_batch, &b);
    tms_feed(&s, "BROKEN\r\n\r\n", 10);
    ok(t, strncmp(out_of(&s), "HTTP/1.1 400", 12) == 0 && tms_closing(&s), "broken HTTP: 400");
    tms_free(&s);
}

/* ---- the listener and the subscription on a loop ---- */

struct fake_api {
    struct test_conn c; /* first */
    char url[256];
    char hdr[64];
    char value[256];
    char id[128];
    char body[2048];
    size_t body_len;
};

struct fake_state {
    int status;
    char body[2048];
    char id[128];
    char method[8];
    char url[256];
};

static int fa_url(http_parser *p, const char *at, size_t n)
{
    struct fake_api *c = p->data;

    strncat(c->url, at, n < sizeof(c->url) - strlen(c->url) - 1 ? n : 0);
    return 0;
}

static int fa_field(http_parser *p, const char *at, size_t n)
{
    struct fake_api *c = p->data;

    snprintf(c->hdr, sizeof(c->hdr), "%.*s", (int)n, at);
    return 0;
}

static int fa_value(http_parser *p, const char *at, size_t n)
{
    struct fake_api *c = p->data;

    if (strcasecmp(c->hdr, "Lambda-Extension-Identifier") == 0)
        snprintf(c->id, sizeof(c->id), "%.*s", (int)n, at);
    return 0;
}

static int fa_body(http_parser *p, const char *at, size_t n)
{
    struct fake_api *c = p->data;

    if (c->body_len + n < sizeof(c->body)) {
        memcpy(c->body + c->body_len, at, n);
        c->body_len += n;
    }
    return 0;
}

static const http_parser_settings fa_settings = {.on_url = fa_url,
                                                 .on_header_field = fa_field,
                                                 .on_header_value = fa_value,
                                                 .on_body = fa_body,
                                                 .on_message_complete = test_server_message_done};

static void fa_open(struct test_conn *c)
{
    (void)c;
}

static void fa_close(struct test_conn *c)
{
    (void)c;
}

static bool fa_answer(struct test_conn *tc)
{
    struct fake_api *c = (struct fake_api *)tc;
    struct fake_state *st = tc->srv->arg;
    char resp[256];

    snprintf(st->body, sizeof(st->body), "%.*s", (int)c->body_len, c->body);
    snprintf(st->id, sizeof(st->id), "%s", c->id);
    snprintf(st->url, sizeof(st->url), "%s", c->url);
    snprintf(st->method, sizeof(st->method), "%s", http_method_str(tc->parser.method));
    snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 4\r\n\r\n\"OK\"", st->status);
    return test_send_all(tc->fd, resp, strlen(resp)) == 0;
}

static const struct test_server_ops fa_ops = {.settings = &fa_settings,
                                              .conn_size = sizeof(struct fake_api),
                                              .conn_open = fa_open,
                                              .answer = fa_answer,
                                              .conn_close = fa_close};

static void on_sub_done(void *arg)
{
    (*(int *)arg)++;
}

static void run_until(uv_loop_t *loop, const int *flag, int want)
{
    for (int i = 0; i < 400 && *flag < want; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
}

/* POSTs a batch to host:port with a blocking socket and reads the answer while running the loop. */
static int post_batch(uv_loop_t *loop, const char *host, int port, const char *json, char *resp,
                      size_t cap)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    char req[4096];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t n = 0;

    inet_pton(AF_INET, host, &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s", strlen(json),
             json);
    (void)test_send_all(fd, req, strlen(req));
    for (int i = 0; i < 200 && n <= 0; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        n = recv(fd, resp, cap - 1, MSG_DONTWAIT);
        if (n <= 0)
            usleep(5000);
    }
    close(fd);
    resp[n > 0 ? n : 0] = '\0';
    return n > 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_loop(struct tap *t)
{
    uv_loop_t loop;
    struct ids ids;
    struct log lg;
    struct sink sink = {0};
    struct httpc *http;
    struct test_server srv;
    struct fake_state st = {.status = 200};
    struct tm_facts_hooks h = {.arg = &sink, .span_ready = on_ready};
    char api[64];
    char hosts[] = "/tmp/tb-telemetry-hosts-XXXXXX";
    struct telemetry_conf c = {.enabled = true, .runtime_api = api, .hosts_file = hosts};
    struct telemetry *tm;
    char resp[512];
    struct span s;
    int done = 0;
    int err = 0;

    uv_loop_init(&loop);
    log_init(&lg, LOG_OFF);
    ids_init(&ids);
    http = httpc_new(&loop, &lg, &err);
    close(mkstemp(hosts));
    write_file(hosts, "127.0.0.1 localhost\n# comment\n127.0.0.2\tsandbox.localdomain sandbox\n");
    test_server_start(&srv, 0, &fa_ops, &st);
    snprintf(api, sizeof(api), "127.0.0.1:%d", srv.port);

    tm = telemetry_new(&loop, http, &ids, &c, &h, &lg);
    ok(t, telemetry_port(tm) > 0, "listening (port %d)", telemetry_port(tm));
    is_int(t, telemetry_subscribe(tm, "ext-id-1", on_sub_done, &done), 0, "subscribe starts");
    run_until(&loop, &done, 1);
    ok(t, done == 1 && telemetry_subscribed(tm), "the subscription was accepted");
    ok(t,
       strcmp(st.method, "PUT") == 0 && strcmp(st.url, "/2022-07-01/telemetry") == 0 &&
           strcmp(st.id, "ext-id-1") == 0,
       "PUT /2022-07-01/telemetry with Lambda-Extension-Identifier");
    {
        char want[160];
        snprintf(want, sizeof(want), "\"URI\":\"http://sandbox.localdomain:%d/\"",
                 telemetry_port(tm));
        ok(t,
           strstr(st.body, "\"schemaVersion\":\"2025-01-29\"") &&
               strstr(st.body, "\"types\":[\"platform\"]") && strstr(st.body, "\"timeoutMs\":25") &&
               strstr(st.body, "\"maxItems\":1000") && strstr(st.body, "\"maxBytes\":262144") &&
               strstr(st.body, want),
           "body: schema 2025-01-29, platform, buffering 25 ms / 1000 / 256 KiB, destination");
    }
    ok(t,
       post_batch(&loop, "127.0.0.2", telemetry_port(tm), REPORT_R1, resp, sizeof(resp)) == 0 &&
           strncmp(resp, "HTTP/1.1 200", 12) == 0,
       "the listener is on sandbox.localdomain's address from the hosts file (127.0.0.2): 200");
    ok(t, tm_facts_live(telemetry_facts(tm)), "the batch made the facts live");
    inv_span(&s, "r-1", 0x11, 1);
    telemetry_span(tm, &s);
    ok(t,
       got_rid(&sink, "r-1") && iattr(got_rid(&sink, "r-1"), "aws.lambda.billed_duration_ms") == 30,
       "a span whose report came first goes on at once, with it");
    inv_span(&s, "r-2", 0x12, 1);
    telemetry_span(tm, &s);
    done = 0;
    is_int(t, telemetry_drain(tm, 50, on_sub_done, &done), 0, "SHUTDOWN drain waits for r-2");
    run_until(&loop, &done, 1);
    ok(t, done == 1 && got_rid(&sink, "r-2"), "the drain ended at its bound and released r-2");
    telemetry_free(tm);
    uv_run(&loop, UV_RUN_NOWAIT);

    /* refused: a 403 */
    st.status = 403;
    write_file(hosts, "10.1.2.3 sandbox.localdomain\n");
    tm = telemetry_new(&loop, http, &ids, &c, &h, &lg);
    done = 0;
    ok(t, telemetry_port(tm) > 0, "a routable sandbox.localdomain: loopback instead");
    telemetry_subscribe(tm, "ext-id-2", on_sub_done, &done);
    run_until(&loop, &done, 1);
    ok(t, done == 1 && !telemetry_subscribed(tm), "a refused subscription: done, not subscribed");
    sink_clear(&sink);
    inv_span(&s, "r-3", 0x13, 1);
    telemetry_span(tm, &s);
    ok(t, sink.n == 1 && tm_facts_waiting(telemetry_facts(tm)) == 0, "refused: spans pass at once");
    is_int(t, telemetry_drain(tm, 50, on_sub_done, &done), -EALREADY, "nothing to drain");
    telemetry_free(tm);

    /* disabled */
    c.enabled = false;
    tm = telemetry_new(&loop, http, &ids, &c, &h, &lg);
    ok(t, telemetry_port(tm) == 0 && telemetry_subscribe(tm, "x", on_sub_done, &done) == -ENOTCONN,
       "TRACEBRIDGE_TELEMETRY=off: no listener, no subscription");
    telemetry_free(tm);

    httpc_free(http);
    while (uv_run(&loop, UV_RUN_NOWAIT))
        ;
    test_server_stop(&srv);
    ok(t, uv_loop_close(&loop) == 0, "every handle closed");
    unlink(hosts);
    sink_clear(&sink);
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_parse_on_demand(&t);
    test_parse_variants(&t);
    test_parse_hostile(&t);
    test_time(&t);
    test_facts_report_after_span(&t);
    test_facts_outcomes(&t);
    test_facts_init_restore(&t);
    test_facts_bounds(&t);
    test_facts_concurrent(&t);
    test_session(&t);
    test_loop(&t);
    return tap_done(&t);
}
