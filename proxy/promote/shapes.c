/* SPDX-License-Identifier: Apache-2.0 */
/* shapes: what the analysis pass looks for, as tables. Each row is a key path from the root of
 * a document and what its value is: a carrier (where context is found, DESIGN.md "Where context
 * is found (carriers), in order of preference"), an event fact (what the invocation span says,
 * and how the event shape is recognised), or an edit target (where context is written).
 * A new carrier is one row here, plus its decoder when the value is not a plain string. */
#include "proxy/promote/internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- path segments ---- */
// clang-format off
#define KEY(s)     {.kind = SEG_KEY, .name = s, .len = sizeof(s) - 1, .bloom = KEY_BLOOM(s)}
#define KEY2(s, t) {.kind = SEG_KEY, .name = s, .len = sizeof(s) - 1, .alt = t, \
                    .alt_len = sizeof(t) - 1, .bloom = KEY_BLOOM(s) | KEY_BLOOM(t)}
#define KEY_CI(s)  {.kind = SEG_KEY_CI, .name = s, .len = sizeof(s) - 1, .bloom = KEY_BLOOM(s)}
#define TRIO_BLOOM (KEY_BLOOM("traceparent") | KEY_BLOOM("tracestate") | KEY_BLOOM("baggage"))
#define TRIO       {.kind = SEG_TRIO, .bloom = TRIO_BLOOM}
#define TRIO_CI    {.kind = SEG_TRIO_CI, .bloom = TRIO_BLOOM}
#define RESERVED   {.kind = SEG_RESERVED, .bloom = KEY_BLOOM("__traceparent__") | \
                    KEY_BLOOM("__tracestate__") | KEY_BLOOM("__baggage__")}
#define FIRST      {.kind = SEG_FIRST}
#define ANY        {.kind = SEG_ANY, .bloom = ~0ull}
#define RECORD_ANY {.kind = SEG_RECORD_ANY, .bloom = ~0ull}
#define ROOT       {.kind = SEG_END} /* the document itself */
#define RECORDS    KEY2("Records", "Messages"), {.kind = SEG_RECORD}
/* Kafka: an object of "<topic>-<partition>" arrays (or index-keyed objects) of records */
#define KAFKA_RECORDS KEY("records"), ANY, RECORD_ANY

/* ---- rows ---- */
#define CARRIER(shape_, carrier_, pref_, dec_, ...) {.kind = ROW_CARRIER, .shape = shape_, \
    .carrier = carrier_, .pref = PREF(pref_), .dec = dec_, .path = {__VA_ARGS__}}
/* A preference, checked at compile time: 1..PREF_MAX. */
#define PREF(p) ((p) + 0 * sizeof(char[(p) >= 1 && (p) <= PREF_MAX ? 1 : -1]))
#define FACT(fact_, note_, ...) {.kind = ROW_FACT, .fact = fact_, .note = note_, \
    .path = {__VA_ARGS__}}
#define TARGET(map_, holder_, ...) {.kind = ROW_TARGET, .map = map_, .holder = holder_, \
    .path = {__VA_ARGS__}}
// clang-format on

/* ---- decoders: how a carrier's value is read ---- */

/* A JSON string holding a W3C value (traceparent, tracestate or baggage, by its key). */
static void read_w3c(struct actx *c, const struct decoder *d, enum which w, size_t off, size_t end,
                     struct tvals *tv)
{
    size_t n;
    const char *v = promote_str_value(c, c->base, off, end, &n);

    (void)d;
    if (v)
        promote_tvals_put(c, tv, w, v, n, off, end);
}

/* A JSON string holding an X-Ray trace header (Root, Parent, Sampled). */
static void read_xray(struct actx *c, const struct decoder *d, enum which w, size_t off, size_t end,
                      struct tvals *tv)
{
    size_t n;
    const char *v = promote_str_value(c, c->base, off, end, &n);

    (void)d, (void)w;
    if (v)
        promote_tvals_put(c, tv, W_XRAY, v, n, off, end);
}

static const struct grammar GRAMMAR_SNS_ENVELOPE, GRAMMAR_EVENTBRIDGE_DOC, GRAMMAR_KINESIS_DATA,
    GRAMMAR_DURABLE_PAYLOAD;

/* Documents inside strings, and what must be in the raw string before one is unescaped. */
static const struct nested_doc SNS_ENVELOPE_DOC = {
    &GRAMMAR_SNS_ENVELOPE, "TopicArn", {"raceparent", "_datadog"}};
static const struct nested_doc EVENTBRIDGE_DOC = {
    &GRAMMAR_EVENTBRIDGE_DOC, "detail-type", {"raceparent", "_datadog"}};
static const struct nested_doc KINESIS_DOC = {
    &GRAMMAR_KINESIS_DATA, NULL, {"traceparent", "_datadog"}};
static const struct nested_doc DURABLE_DOC = {&GRAMMAR_DURABLE_PAYLOAD, NULL, {"raceparent"}};

static const struct decoder W3C_STRING = {"w3c string", '"', READ_NOW, read_w3c, NULL};
/* X-Ray values are fallbacks: parsed only when no W3C context is found next to them */
static const struct decoder XRAY_STRING = {"x-ray string", '"', READ_LATER_FIRST, read_xray, NULL};
/* SNS -> SQS without raw delivery: the SQS body is the SNS envelope as a JSON string. */
static const struct decoder SNS_IN_SQS_BODY = {"sns envelope in a string", '"', READ_LATER_LAST,
                                               promote_read_doc_in_string, &SNS_ENVELOPE_DOC};
/* EventBridge -> SQS (and, as the SNS envelope's Message, EventBridge -> SNS -> SQS). */
static const struct decoder EVENTBRIDGE_IN_STRING = {"eventbridge event in a string", '"',
                                                     READ_LATER_LAST, promote_read_doc_in_string,
                                                     &EVENTBRIDGE_DOC};
static const struct decoder KINESIS_DATA = {"json in base64 data", '"', READ_LATER_LAST,
                                            promote_read_base64_doc, &KINESIS_DOC};
static const struct decoder DURABLE_INPUT = {"durable input payload", '"', READ_LATER_LAST,
                                             promote_read_doc_in_string, &DURABLE_DOC};

/* ---- fact notes: how an event fact is read ---- */

static struct fact_val *fact(struct actx *c, enum fact f)
{
    return &c->pl->facts[f];
}

/* Present, whatever its value. */
static void note_seen(struct actx *c, enum fact f, char type, size_t off, size_t end,
                      const struct jscan_frame *fr)
{
    (void)type, (void)off, (void)end, (void)fr;
    fact(c, f)->seen = true;
}

/* An object (the last value counts). */
static void note_object(struct actx *c, enum fact f, char type, size_t off, size_t end,
                        const struct jscan_frame *fr)
{
    (void)off, (void)end, (void)fr;
    fact(c, f)->seen = type == '{';
}

/* A string, copied (the last value counts; `seen` says whether it was a string). */
static void note_string(struct actx *c, enum fact f, char type, size_t off, size_t end,
                        const struct jscan_frame *fr)
{
    struct fact_val *v = fact(c, f);

    (void)fr;
    v->seen = type == '"';
    if (v->seen)
        promote_copy_info(c, off, end, v->s, sizeof(v->s));
}

/* A string, or a number's text (timestamps come as either). */
static void note_scalar(struct actx *c, enum fact f, char type, size_t off, size_t end,
                        const struct jscan_frame *fr)
{
    struct fact_val *v = fact(c, f);
    size_t n = end - off;

    if (type == '"') {
        note_string(c, f, type, off, end, fr);
    } else if (type == 'n' && n < sizeof(v->s)) {
        memcpy(v->s, c->base + off, n);
        v->s[n] = '\0';
        v->seen = true;
    }
}

/* A string of the first record of a batch. */
static void note_first_record(struct actx *c, enum fact f, char type, size_t off, size_t end,
                              const struct jscan_frame *fr)
{
    if (c->rec_idx == 0 && type == '"')
        note_string(c, f, type, off, end, fr);
}

/* A string, unless one was already noted (a fallback). */
static void note_if_unset(struct actx *c, enum fact f, char type, size_t off, size_t end,
                          const struct jscan_frame *fr)
{
    if (type == '"' && !fact(c, f)->s[0])
        note_string(c, f, type, off, end, fr);
}

/* requestContext.domainName of a Lambda Function URL. */
static void note_lambda_url(struct actx *c, enum fact f, char type, size_t off, size_t end,
                            const struct jscan_frame *fr)
{
    char d[PROMOTE_NAME_MAX];

    (void)fr;
    if (type != '"')
        return;
    promote_copy_info(c, off, end, d, sizeof(d));
    fact(c, f)->seen = strstr(d, ".lambda-url.") != NULL;
}

/* version "2.0" exactly (API Gateway HTTP API payload 2.0). */
static void note_version2(struct actx *c, enum fact f, char type, size_t off, size_t end,
                          const struct jscan_frame *fr)
{
    (void)fr;
    fact(c, f)->seen = type == '"' && end - off == 5 && memcmp(c->base + off, "\"2.0\"", 5) == 0;
}

/* Records[]: how many there are (members, for an object). */
static void note_count(struct actx *c, enum fact f, char type, size_t off, size_t end,
                       const struct jscan_frame *fr)
{
    (void)f, (void)type, (void)off, (void)end;
    c->a->info.record_count = fr ? fr->count : 0;
}

/* A number of the first record of a batch, as written: an integer (Kafka partition, offset). */
static void note_first_integer(struct actx *c, enum fact f, char type, size_t off, size_t end,
                               const struct jscan_frame *fr)
{
    struct fact_val *v = fact(c, f);
    size_t n = end - off;

    (void)fr;
    if (c->rec_idx != 0 || type != 'n' || n >= sizeof(v->s))
        return;
    for (size_t i = 0; i < n; i++)
        if (c->base[off + i] < '0' || c->base[off + i] > '9')
            return;
    memcpy(v->s, c->base + off, n);
    v->s[n] = '\0';
    v->seen = true;
}

/* The Step Functions context object's State, read with its Execution (STEP_FUNCTIONS). */
static void note_sfn_state(struct actx *c, enum fact f, char type, size_t off, size_t end,
                           const struct jscan_frame *fr)
{
    (void)f, (void)fr;
    if (type == '{' && !c->into) {
        c->pl->sfn_state.off = off;
        c->pl->sfn_state.end = end;
    }
}

/* A durable function's InitialExecutionState.Operations: how many there are. */
static void note_durable_ops(struct actx *c, enum fact f, char type, size_t off, size_t end,
                             const struct jscan_frame *fr)
{
    (void)f, (void)off, (void)end;
    c->pl->durable_ops = type == '[' && fr ? fr->count : 0;
}

/* ---- the event ---- */

// clang-format off
static const struct row EVENT_ROWS[] = {
    /* The event itself: an object (else it passes unchanged), where `headers` can be added
     * and reserved keys are stripped. */
    FACT(F_JSON_OBJECT, note_object, ROOT),
    TARGET(MAP_ROOT, false, ROOT),

    /* Carriers, in DESIGN.md's order. The event shape, the carrier, its preference (1 = first;
     * within a record as within the event), how the value is read, the key path. */
    /* 1. Direct invoke: the reserved keys (stripped: the event's own target above), then plain
     * W3C keys at the top and in request.headers (read and kept). */
    CARRIER("direct",      CARRIER_DIRECT,          1, &W3C_STRING,      RESERVED),
    CARRIER("direct",      CARRIER_DIRECT_PLAIN,    2, &W3C_STRING,      TRIO),
    CARRIER("direct",      CARRIER_REQUEST_HEADERS, 3, &W3C_STRING,      KEY("request"),
            KEY("headers"), TRIO_CI),
    /* 2. SQS records. */
    CARRIER("sqs",         CARRIER_SQS_ATTRIBUTES,  4, &W3C_STRING,      RECORDS,
            KEY2("messageAttributes", "MessageAttributes"), TRIO, KEY2("stringValue", "StringValue")),
    /* Inside the body (read-only): an SNS envelope, or an EventBridge event. */
    CARRIER("sqs",         CARRIER_SQS_SNS,         6, &SNS_IN_SQS_BODY, RECORDS, KEY2("body", "Body")),
    CARRIER("sqs",         CARRIER_SQS_EVENTBRIDGE, 7, &EVENTBRIDGE_IN_STRING, RECORDS,
            KEY2("body", "Body")),
    CARRIER("sqs",         CARRIER_SQS_XRAY,       10, &XRAY_STRING,     RECORDS,
            KEY2("attributes", "Attributes"), KEY("AWSTraceHeader")),
    /* 3. SNS records (preferred to the SQS fallbacks in a record that has both). */
    CARRIER("sns",         CARRIER_SNS,             5, &W3C_STRING,      RECORDS,
            KEY("Sns"), KEY("MessageAttributes"), TRIO, KEY("Value")),
    /* 4. EventBridge: detail.__traceparent__ is stripped (the detail target below). */
    CARRIER("eventbridge", CARRIER_EVENTBRIDGE,    13, &W3C_STRING,      KEY("detail"), TRIO),
    CARRIER("eventbridge", CARRIER_EVENTBRIDGE,    13, &W3C_STRING,      KEY("detail"), RESERVED),
    /* 5. Kafka (MSK, self-managed): each record's headers, never edited. */
    CARRIER("kafka",       CARRIER_KAFKA,           8, &KAFKA_HEADERS,   KAFKA_RECORDS, KEY("headers")),
    /* 6. Datadog producers, after the W3C carriers of the same record (or event). */
    CARRIER("sqs",         CARRIER_DATADOG,         9, &DATADOG_ATTRIBUTE, RECORDS,
            KEY2("messageAttributes", "MessageAttributes"), KEY("_datadog")),
    CARRIER("sns",         CARRIER_DATADOG,         9, &DATADOG_ATTRIBUTE, RECORDS,
            KEY("Sns"), KEY("MessageAttributes"), KEY("_datadog")),
    CARRIER("kafka",       CARRIER_DATADOG,         9, &KAFKA_DATADOG_HEADERS, KAFKA_RECORDS,
            KEY("headers")),
    CARRIER("eventbridge", CARRIER_EVENTBRIDGE_DATADOG, 14, &DATADOG_OBJECT, KEY("detail"),
            KEY("_datadog")),
    /* 7. Kinesis and DynamoDB Streams (read-only): inside the record's data or new image. */
    CARRIER("kinesis",     CARRIER_KINESIS,        11, &KINESIS_DATA,    RECORDS, KEY("kinesis"),
            KEY("data")),
    CARRIER("dynamodb",    CARRIER_DYNAMODB,       12, &W3C_STRING,      RECORDS, KEY("dynamodb"),
            KEY("NewImage"), TRIO, KEY("S")),
    CARRIER("dynamodb",    CARRIER_DYNAMODB,       12, &DATADOG_JSON_STRING, RECORDS,
            KEY("dynamodb"), KEY("NewImage"), KEY("_datadog"), KEY("S")),
    /* 8. Step Functions: ids derived from the context object's Execution and State (the
     * State is noted below). */
    CARRIER("stepfunctions", CARRIER_STEP_FUNCTIONS, 15, &STEP_FUNCTIONS, KEY("Execution")),
    /* 9. Durable functions: the user's payload, checkpointed state (read-only). */
    CARRIER("durable",     CARRIER_DURABLE,        16, &DURABLE_INPUT,   KEY("InitialExecutionState"),
            KEY("Operations"), FIRST, KEY("ExecutionDetails"), KEY("InputPayload")),
    /* 10. HTTP events (API Gateway v1/v2, ALB, Function URL), and a direct invoke's headers. */
    CARRIER("http",        CARRIER_HTTP,           17, &W3C_STRING,      KEY("headers"), TRIO_CI),
    CARRIER("http",        CARRIER_HTTP,           17, &W3C_STRING,      KEY("multiValueHeaders"),
            TRIO_CI, FIRST),
    CARRIER("http",        CARRIER_HTTP_XRAY,      18, &XRAY_STRING,     KEY("headers"),
            KEY_CI("x-amzn-trace-id")),
    /* 11. Lambda-Runtime-Trace-Id: a header, not in the event (promote_analyse). */

    /* Event facts: the fact, how it is noted, the key path. */
    FACT(F_NONE,         note_count,        KEY2("Records", "Messages")),
    FACT(F_REC0_SOURCE,  note_first_record, RECORDS, KEY2("eventSource", "EventSource")),
    FACT(F_SOURCE_ARN,   note_first_record, RECORDS, KEY("eventSourceARN")),
    FACT(F_MSGID,        note_string,       RECORDS, KEY2("messageId", "MessageId")),
    FACT(F_MSGID,        note_if_unset,     RECORDS, KEY("Sns"), KEY("MessageId")),
    /* stream records are named by their sequence number (what batchItemFailures names) */
    FACT(F_MSGID,        note_string,       RECORDS, KEY2("kinesis", "dynamodb"),
         KEY2("sequenceNumber", "SequenceNumber")),
    FACT(F_SOURCE_ARN,   note_first_record, RECORDS, KEY("Sns"), KEY("TopicArn")),
    /* Batch truth: how often each record was delivered, and when it was sent (reset after
     * each record, like its message id). */
    FACT(F_RECV_COUNT,   note_scalar,       RECORDS, KEY2("attributes", "Attributes"),
         KEY("ApproximateReceiveCount")),
    FACT(F_SENT_TIME,    note_scalar,       RECORDS, KEY2("attributes", "Attributes"),
         KEY("SentTimestamp")),
    FACT(F_SENT_TIME,    note_scalar,       RECORDS, KEY("Sns"), KEY("Timestamp")),
    /* kinesis.approximateArrivalTimestamp, dynamodb.ApproximateCreationDateTime (seconds) */
    FACT(F_SENT_TIME,    note_scalar,       RECORDS, KEY2("kinesis", "dynamodb"),
         KEY2("approximateArrivalTimestamp", "ApproximateCreationDateTime")),
    FACT(F_EVENT_TIME,   note_string,       KEY("time")),
    FACT(F_DETAIL_TYPE,  note_seen,         KEY("detail-type")),
    FACT(F_SOURCE,       note_string,       KEY("source")),
    FACT(F_DETAIL,       note_seen,         KEY("detail")),
    FACT(F_RESOURCE0,    note_string,       KEY("resources"), FIRST),
    FACT(F_HTTP_METHOD,  note_string,       KEY("httpMethod")),
    FACT(F_RESOURCE,     note_string,       KEY("resource")),
    FACT(F_PATH,         note_string,       KEY("path")),
    FACT(F_REQCTX,       note_object,       KEY("requestContext")),
    FACT(F_LAMBDA_URL,   note_lambda_url,   KEY("requestContext"), KEY("domainName")),
    FACT(F_ELB,          note_seen,         KEY("requestContext"), KEY("elb")),
    FACT(F_RC_METHOD,    note_string,       KEY("requestContext"), KEY("http"), KEY("method")),
    FACT(F_VERSION2,     note_version2,     KEY("version")),
    FACT(F_ROUTE_KEY,    note_string,       KEY("routeKey")),
    FACT(F_RAW_PATH,     note_string,       KEY("rawPath")),
    /* Kafka: the batch's own eventSource and ARN are at the top, not in the records. */
    FACT(F_REC0_SOURCE,  note_string,       KEY("eventSource")),
    FACT(F_SOURCE_ARN,   note_string,       KEY("eventSourceArn")),
    FACT(F_TOPIC,        note_first_record, KAFKA_RECORDS, KEY("topic")),
    FACT(F_PARTITION,    note_first_integer, KAFKA_RECORDS, KEY("partition")),
    FACT(F_OFFSET,       note_first_integer, KAFKA_RECORDS, KEY("offset")),
    FACT(F_SENT_TIME,    note_scalar,       KAFKA_RECORDS, KEY("timestamp")),
    FACT(F_NONE,         note_sfn_state,    KEY("State")),
    FACT(F_DURABLE_ARN,  note_string,       KEY("DurableExecutionArn")),
    FACT(F_NONE,         note_durable_ops,  KEY("InitialExecutionState"), KEY("Operations")),

    /* Targets (DESIGN.md "Where context is written"): the objects edits may touch; a holder
     * may also be null. */
    TARGET(MAP_DETAIL,  false, KEY("detail")),
    TARGET(MAP_HEADERS, true,  KEY("headers")),
    TARGET(MAP_MVH,     false, KEY("multiValueHeaders")),
};

/* Documents inside strings: their carriers are the carrier of the string that holds them
 * (their rows' carrier and preference are the same as that one's). */
/* The SNS envelope inside an SQS body (read by SNS_IN_SQS_BODY, as part of its record); its
 * Message may be an EventBridge event (EventBridge -> SNS -> SQS). */
static const struct row SNS_ENVELOPE_ROWS[] = {
    CARRIER("sqs", CARRIER_SQS_SNS, 6, &W3C_STRING, KEY("MessageAttributes"), TRIO, KEY("Value")),
    CARRIER("sqs", CARRIER_SQS_SNS, 6, &DATADOG_ATTRIBUTE, KEY("MessageAttributes"), KEY("_datadog")),
    CARRIER("sqs", CARRIER_SQS_SNS, 6, &EVENTBRIDGE_IN_STRING, KEY("Message")),
    FACT(F_MSGID, note_if_unset, KEY("MessageId")),
};

/* An EventBridge event inside an SQS body or an SNS Message: its detail, read-only. */
static const struct row EVENTBRIDGE_DOC_ROWS[] = {
    CARRIER("sqs", CARRIER_SQS_EVENTBRIDGE, 7, &W3C_STRING, KEY("detail"), TRIO),
    CARRIER("sqs", CARRIER_SQS_EVENTBRIDGE, 7, &W3C_STRING, KEY("detail"), RESERVED),
    CARRIER("sqs", CARRIER_SQS_EVENTBRIDGE, 7, &DATADOG_OBJECT, KEY("detail"), KEY("_datadog")),
};

/* A Kinesis record's data, decoded, when it is a JSON object. */
static const struct row KINESIS_DATA_ROWS[] = {
    CARRIER("kinesis", CARRIER_KINESIS, 11, &W3C_STRING, TRIO),
    CARRIER("kinesis", CARRIER_KINESIS, 11, &W3C_STRING, KEY("_otel"), TRIO),
    CARRIER("kinesis", CARRIER_KINESIS, 11, &DATADOG_OBJECT, KEY("_datadog")),
};

/* A durable function's InputPayload: the carriers of a direct invoke, all read-only. */
static const struct row DURABLE_PAYLOAD_ROWS[] = {
    CARRIER("durable", CARRIER_DURABLE, 16, &W3C_STRING, RESERVED),
    CARRIER("durable", CARRIER_DURABLE, 16, &W3C_STRING, TRIO),
    CARRIER("durable", CARRIER_DURABLE, 16, &W3C_STRING, KEY("headers"), TRIO_CI),
    CARRIER("durable", CARRIER_DURABLE, 16, &W3C_STRING, KEY("request"), KEY("headers"), TRIO_CI),
};

/* Lambda-Runtime-Client-Context: only targets. */
static const struct row CLIENT_CONTEXT_ROWS[] = {
    TARGET(MAP_CC_ROOT, false, ROOT), /* the document itself */
    TARGET(MAP_CUSTOM,  true,  KEY("custom")),
};

/* Members of the targets: the keys apply.c replaces or deletes in each. */
const struct member_rule MEMBER_RULES[] = {
    {MAP_ROOT,    RESERVED,                 W_RES_TP},
    {MAP_ROOT,    KEY("headers"),           W_HEADERS},
    {MAP_ROOT,    KEY("multiValueHeaders"), W_MVH},
    {MAP_DETAIL,  RESERVED,                 W_RES_TP},
    {MAP_HEADERS, TRIO_CI,                  W_TP},
    {MAP_MVH,     TRIO_CI,                  W_TP},
    {MAP_CC_ROOT, KEY("custom"),            W_CUSTOM},
    {MAP_CUSTOM,  TRIO_CI,                  W_TP},
};

#define NEED(f) (1u << (f))

/* Event shapes, in the order they are recognised: batches by their first record's
 * eventSource, the rest by the facts they need. */
const struct shape SHAPES[] = {
    {.trigger = TRIGGER_SQS,      .event_source = "aws:sqs"},
    {.trigger = TRIGGER_SNS,      .event_source = "aws:sns"},
    {.trigger = TRIGGER_KINESIS,  .event_source = "aws:kinesis",  .arn_resource = ":stream/"},
    {.trigger = TRIGGER_DYNAMODB, .event_source = "aws:dynamodb", .arn_resource = ":table/"},
    {.trigger = TRIGGER_S3,       .event_source = "aws:s3",       .arn_resource = ""},
    {.trigger = TRIGGER_KAFKA,    .event_source = "aws:kafka",    .destination = F_TOPIC},
    {.trigger = TRIGGER_KAFKA,    .event_source = "SelfManagedKafka", .destination = F_TOPIC},
    {.trigger = TRIGGER_EVENTBRIDGE, .needs = NEED(F_DETAIL_TYPE) | NEED(F_SOURCE) | NEED(F_DETAIL),
     .destination = F_SOURCE, .arn = F_RESOURCE0},
    {.trigger = TRIGGER_FUNCTION_URL, .needs = NEED(F_LAMBDA_URL) | NEED(F_REQCTX),
     .method = F_RC_METHOD, .route = F_RAW_PATH},
    {.trigger = TRIGGER_ALB, .needs = NEED(F_ELB) | NEED(F_REQCTX),
     .method = F_HTTP_METHOD, .route = F_PATH},
    {.trigger = TRIGGER_APIGW_HTTP, .needs = NEED(F_VERSION2) | NEED(F_ROUTE_KEY),
     .method = F_RC_METHOD, .route = F_ROUTE_KEY},
    {.trigger = TRIGGER_APIGW_REST, .needs = NEED(F_HTTP_METHOD) | NEED(F_RESOURCE) | NEED(F_REQCTX),
     .method = F_HTTP_METHOD, .route = F_RESOURCE},
    {.trigger = TRIGGER_DIRECT, .needs = NEED(F_JSON_OBJECT)},
};
// clang-format on

_Static_assert(ARRAY_LEN(EVENT_ROWS) <= 64, "one bit per row in jnode.rows");

const struct grammar GRAMMAR_EVENT = {EVENT_ROWS, ARRAY_LEN(EVENT_ROWS), 2};
static const struct grammar GRAMMAR_SNS_ENVELOPE = {SNS_ENVELOPE_ROWS, ARRAY_LEN(SNS_ENVELOPE_ROWS),
                                                    0};
static const struct grammar GRAMMAR_EVENTBRIDGE_DOC = {EVENTBRIDGE_DOC_ROWS,
                                                       ARRAY_LEN(EVENTBRIDGE_DOC_ROWS), 0};
static const struct grammar GRAMMAR_KINESIS_DATA = {KINESIS_DATA_ROWS, ARRAY_LEN(KINESIS_DATA_ROWS),
                                                    0};
static const struct grammar GRAMMAR_DURABLE_PAYLOAD = {DURABLE_PAYLOAD_ROWS,
                                                       ARRAY_LEN(DURABLE_PAYLOAD_ROWS), 0};
const struct grammar GRAMMAR_CLIENT_CONTEXT = {CLIENT_CONTEXT_ROWS, ARRAY_LEN(CLIENT_CONTEXT_ROWS),
                                               1};
const unsigned N_MEMBER_RULES = ARRAY_LEN(MEMBER_RULES);
const unsigned N_SHAPES = ARRAY_LEN(SHAPES);

const char *promote_carrier_name(enum promote_carrier c)
{
    static const char *const names[] = {
        [CARRIER_NONE] = "none",
        [CARRIER_DIRECT] = "direct",
        [CARRIER_SQS_ATTRIBUTES] = "sqs-attributes",
        [CARRIER_SQS_SNS] = "sqs-sns",
        [CARRIER_SQS_XRAY] = "sqs-xray",
        [CARRIER_SNS] = "sns",
        [CARRIER_EVENTBRIDGE] = "eventbridge",
        [CARRIER_HTTP] = "http",
        [CARRIER_HTTP_XRAY] = "http-xray",
        [CARRIER_LAMBDA_XRAY] = "lambda-xray",
        [CARRIER_DIRECT_PLAIN] = "direct-plain",
        [CARRIER_REQUEST_HEADERS] = "request-headers",
        [CARRIER_SQS_EVENTBRIDGE] = "sqs-eventbridge",
        [CARRIER_KAFKA] = "kafka",
        [CARRIER_DATADOG] = "datadog",
        [CARRIER_EVENTBRIDGE_DATADOG] = "eventbridge-datadog",
        [CARRIER_KINESIS] = "kinesis",
        [CARRIER_DYNAMODB] = "dynamodb",
        [CARRIER_STEP_FUNCTIONS] = "step-functions",
        [CARRIER_DURABLE] = "durable",
    };
    return (unsigned)c < ARRAY_LEN(names) && names[c] ? names[c] : "unknown";
}

const char *promote_trigger_name(enum promote_trigger t)
{
    static const char *const names[] = {
        [TRIGGER_UNKNOWN] = "unknown",
        [TRIGGER_DIRECT] = "direct",
        [TRIGGER_SQS] = "sqs",
        [TRIGGER_SNS] = "sns",
        [TRIGGER_EVENTBRIDGE] = "eventbridge",
        [TRIGGER_APIGW_REST] = "apigw-rest",
        [TRIGGER_APIGW_HTTP] = "apigw-http",
        [TRIGGER_FUNCTION_URL] = "function-url",
        [TRIGGER_ALB] = "alb",
        [TRIGGER_KINESIS] = "kinesis",
        [TRIGGER_DYNAMODB] = "dynamodb",
        [TRIGGER_S3] = "s3",
        [TRIGGER_KAFKA] = "kafka",
    };
    return (unsigned)t < ARRAY_LEN(names) && names[t] ? names[t] : "unknown";
}
