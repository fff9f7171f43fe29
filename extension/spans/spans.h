/* SPDX-License-Identifier: Apache-2.0 */
/* spans: the span model tracebridge builds (attributes, links, events), the random-id source,
 * the sampler, the resource, and the invocation span made from a promotion report. Includes
 * base/ and proxy/promote/ (the report it is built from). */
#ifndef TB_SPANS_SPANS_H
#define TB_SPANS_SPANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "extension/base/base.h"
#include "proxy/promote/promote.h"

/* ---- span -------------------------------------------------------------------------- */
/* span: the invocation span tracebridge makes itself, as plain data. A span owns all of its
 * strings (copied in); span_free releases everything. Encoding lives in otlp.h. */
/* Values are the OTLP enum values. */
enum span_kind {
    SPAN_KIND_INTERNAL = 1,
    SPAN_KIND_SERVER = 2,
    SPAN_KIND_CLIENT = 3,
    SPAN_KIND_PRODUCER = 4,
    SPAN_KIND_CONSUMER = 5,
};

enum span_status { SPAN_STATUS_UNSET = 0, SPAN_STATUS_OK = 1, SPAN_STATUS_ERROR = 2 };

enum attr_type { ATTR_STRING, ATTR_INT, ATTR_DOUBLE, ATTR_BOOL };

/* The lengths are kept next to the strings (set by the adders; strings are never changed in
 * place) so that encoding, which needs each length several times, never measures them. */
struct attr {
    char *key;
    size_t key_len;
    enum attr_type type;
    union {
        char *s;
        int64_t i;
        double d;
        bool b;
    } v;
    size_t s_len; /* strlen(v.s) for ATTR_STRING, else 0 */
};

struct attr_list {
    struct attr *items;
    size_t len;
    size_t cap;
};

struct span_event {
    char *name;
    uint64_t time_ns;
    struct attr_list attrs;
};

struct span_link {
    struct trace_ctx ctx;
    char *tracestate; /* NULL when none */
    struct attr_list attrs;
};

struct span {
    struct trace_ctx ctx; /* trace id, this span's id, flags */
    bool has_parent;
    uint8_t parent_span_id[8];
    char *tracestate; /* NULL when none */
    char *name;
    enum span_kind kind;
    uint64_t start_ns;
    uint64_t end_ns;
    struct attr_list attrs;
    struct span_event *events;
    size_t n_events;
    struct span_link *links;
    size_t n_links;
    enum span_status status;
    char *status_message;
};

/* Every adder copies its strings and returns 0 or -ENOMEM (the span stays valid). */
void span_init(struct span *s);
void span_free(struct span *s);
int span_set_name(struct span *s, const char *name);
int attr_list_add_str(struct attr_list *l, const char *key, const char *val);
int attr_list_add_strn(struct attr_list *l, const char *key, const char *val, size_t n);
int attr_list_add_int(struct attr_list *l, const char *key, int64_t val);
int attr_list_add_double(struct attr_list *l, const char *key, double val);
int attr_list_add_bool(struct attr_list *l, const char *key, bool val);
void attr_list_free(struct attr_list *l);
/* Looks up an attribute by key; NULL when absent. */
const struct attr *attr_list_find(const struct attr_list *l, const char *key);
/* Removes the first attribute with this key (to replace a value: remove, then add); false when
 * there was none. */
bool attr_list_remove(struct attr_list *l, const char *key);
/* Adds an event; returns it (owned by the span) or NULL on -ENOMEM. */
struct span_event *span_add_event(struct span *s, const char *name, uint64_t time_ns);
/* Adds a link; returns it (owned by the span) or NULL on -ENOMEM. */
struct span_link *span_add_link(struct span *s, const struct trace_ctx *ctx,
                                const char *tracestate);
int span_set_status(struct span *s, enum span_status st, const char *message);

/* Wall-clock nanoseconds since the Unix epoch (CLOCK_REALTIME), as OTLP wants. */
uint64_t span_now_ns(void);

/* ---- ids --------------------------------------------------------------------------- */
/* ids: trace and span ids from the kernel's random source (getrandom), read in blocks so that
 * an id costs a memcpy, not a system call. The state is a value owned by the daemon. Ids are
 * never all-zero (W3C: an all-zero id is invalid).
 *
 * SnapStart: a snapshot copies the pool into every restored sandbox, so all of them would hand
 * out the same ids until their pools ran dry. After a restore the daemon calls ids_reseed(),
 * which throws the pool away; the next id comes from getrandom, which Lambda guarantees unique
 * per restored sandbox.
 *
 * Test build only (compiled with -DTB_IDS_TEST_SEED, never in build/tracebridge nor the layer):
 * TRACEBRIDGE_TEST_IDS_SEED=<number> fills the first pool from that seed, so that two processes
 * start with the same pool, as two sandboxes restored from one snapshot do. */
#define IDS_POOL_BYTES 512

struct ids {
    uint8_t pool[IDS_POOL_BYTES];
    size_t used;       /* bytes of pool already handed out; == IDS_POOL_BYTES means empty */
    uint64_t fallback; /* splitmix64 state, only used if getrandom ever fails */
};

/* Starts with an empty pool (filled on first use). */
void ids_init(struct ids *g);

/* Discards every pooled id and the fallback state: the next id draws fresh entropy. */
void ids_reseed(struct ids *g);

/* Fills a fresh non-zero id. */
void ids_trace_id(struct ids *g, uint8_t out[16]);
void ids_span_id(struct ids *g, uint8_t out[8]);

/* ---- sampler ----------------------------------------------------------------------- */
/* sampler: the OTEL_TRACES_SAMPLER decision for tracebridge's own spans (spans received from the
 * handler are never re-sampled). Semantics per the OTel SDK specification:
 *   always_on / always_off;
 *   traceidratio: sampled when the trace id's lower 8 bytes (big-endian, shifted right once)
 *     fall below ratio * 2^63, so every service using the same ratio agrees on a trace;
 *   parentbased_*: a valid parent's sampled flag decides; the named sampler decides roots.
 * OTEL_SDK_DISABLED: nothing is ever sampled (promotion still runs). */
enum sampler_kind {
    SAMPLER_PARENT_ALWAYS_ON = 0, /* parentbased_always_on (default) */
    SAMPLER_ALWAYS_ON,
    SAMPLER_ALWAYS_OFF,
    SAMPLER_TRACEIDRATIO,
    SAMPLER_PARENT_ALWAYS_OFF,
    SAMPLER_PARENT_TRACEIDRATIO,
};

/* The OTEL_TRACES_SAMPLER value of each sampler_kind, indexed by it; NULL after the last. */
extern const char *const sampler_names[];

/* sampler_names[k], or "?" for a value outside the enum. */
const char *sampler_name(enum sampler_kind k);

struct sampler {
    enum sampler_kind kind;
    double ratio;
    bool disabled;
};

void sampler_init(struct sampler *s, enum sampler_kind kind, double ratio, bool sdk_disabled);

/* The decision for a span in trace `trace_id`; has_parent/parent_sampled describe the remote
 * parent context (parent_sampled ignored when has_parent is false). */
bool sampler_should_sample(const struct sampler *s, const uint8_t trace_id[16], bool has_parent,
                           bool parent_sampled);

/* The traceidratio rule alone. */
bool sampler_ratio_sample(double ratio, const uint8_t trace_id[16]);

/* ---- resource ---------------------------------------------------------------------- */
/* resource: the OTel resource of tracebridge's own spans.
 *   service.name        OTEL_SERVICE_NAME, else service.name from OTEL_RESOURCE_ATTRIBUTES,
 *                       else the function name (conf already defaults it to the function name,
 *                       so an explicit OTEL_SERVICE_NAME equal to the function name is treated
 *                       as the default);
 *   OTEL_RESOURCE_ATTRIBUTES  k=v pairs, comma-separated, keys and values trimmed and
 *                       percent-decoded; per the OTel spec any error discards the whole value;
 *   cloud.provider=aws, cloud.platform=aws_lambda, cloud.region, cloud.account.id (from the
 *   register response), faas.name, faas.version, faas.max_memory (bytes), faas.instance (the
 *   log stream name, when the environment has it), telemetry.sdk.{name,version} (no
 *   .language: the semantic conventions define no value for C).
 * User attributes win over detected ones; telemetry.sdk.* are always tracebridge's (user
 * values for them are ignored). */
#define TRACEBRIDGE_VERSION "0.1.0"
#define TRACEBRIDGE_SCOPE   "tracebridge"

/* What the resource is made of: the OTEL_* settings and the function's own facts. */
struct resource_conf {
    char service_name[1024];
    char resource_attributes[4096];
    char function_name[1024];
    char function_version[1024];
    char region[64];
    int memory_mb;
};

struct resource_facts {
    const char *account_id; /* from register (accountId feature), or NULL */
    const char *log_stream; /* AWS_LAMBDA_LOG_STREAM_NAME if visible, or NULL */
};

/* Appends the resource attributes to out (which the caller owns). 0 or -ENOMEM. An invalid
 * OTEL_RESOURCE_ATTRIBUTES is logged once and ignored. */
int resource_build(const struct resource_conf *c, const struct resource_facts *f,
                   struct attr_list *out, const struct log *lg);

/* Parses OTEL_RESOURCE_ATTRIBUTES into out (appended). 0, -EINVAL (out unchanged) or -ENOMEM. */
int resource_parse_env(const char *s, struct attr_list *out);

/* ---- invspan ----------------------------------------------------------------------- */
/* invspan: what the invocation span says, per the OTel FaaS and messaging semantic conventions.
 *   SQS          CONSUMER "process <queue>", messaging.system=aws_sqs, faas.trigger=pubsub
 *   SNS          CONSUMER "process <topic>", messaging.system=aws.sns, faas.trigger=pubsub
 *   EventBridge  CONSUMER "process <source>", faas.trigger=pubsub
 *   HTTP events  SERVER "<METHOD> <route>" with http.route for API Gateway (resource, or the
 *                routeKey's path; "$default" is no route); Function URL and ALB have no route
 *                template, so: SERVER <function>, url.path; faas.trigger=http
 *   Kinesis      CONSUMER <function>, faas.trigger=datasource; DynamoDB/S3 SERVER, datasource
 *   direct/other SERVER <function>, faas.trigger=other
 * Batches: messaging.batch.message_count (> 1 records) or messaging.message.id (one record), and
 * one link per record context with messaging.message.id on the link; the Lambda X-Ray context
 * is a link too. Errors become status ERROR plus an `exception` event. */
struct invspan_facts {
    const char *request_id;
    const char *function_name;
    const char *function_arn; /* invokedFunctionArn, or NULL */
    const char *account_id;   /* or NULL */
    bool coldstart;
};

/* Sets name, kind, attributes and links from the event analysis (a may be NULL: a span made
 * from an INVOKE event alone). 0 or -ENOMEM. */
int invspan_describe(struct span *s, const struct promote_analysis *a,
                     const struct invspan_facts *f);

/* Batch truth (set by invspan_describe, s->start_ns must be set first): on each record's link
 * tracebridge.message.receive_count, .redelivered (delivered before) and .wait_ms (sent until
 * the invocation started); on the span tracebridge.batch.redelivered_count, .max_receive_count
 * and tracebridge.queue.wait_ms (the oldest record's). */

/* The inferred "wait <queue>" span: how long the oldest message of a messaging event waited,
 * from its send time to inv's start, a child of the producer (inv's parent) next to inv, with
 * its own span_id. 1 when made (q is then the caller's to free), 0 when there is nothing to
 * show (no parent, no believable send time, not a messaging event), -ENOMEM. */
int invspan_queue_wait(struct span *q, const struct span *inv, const struct promote_analysis *a,
                       const uint8_t span_id[8]);

/* Adds the link to the Lambda X-Ray context (Lambda-Runtime-Trace-Id / INVOKE tracing value). */
int invspan_add_xray_link(struct span *s, const struct trace_ctx *xray);

/* A batch handler's partial failures: the /response body {"batchItemFailures":[{"itemIdentifier":
 * id}, ...]} (SQS message ids, Kinesis/DynamoDB sequence numbers, Kafka offsets). Each failed
 * record's link (matched by messaging.message.id) gets tracebridge.message.failed=true, the span
 * tracebridge.batch.failed_count and status ERROR "k of <records> records failed". A body that is
 * not that JSON changes nothing. Returns how many failed (0: none said), or -ENOMEM. */
int invspan_mark_failures(struct span *s, const char *body, size_t n, unsigned records);

/* A durable function's answer ({"Status":"SUCCEEDED"|"FAILED"|"PENDING", "Error":{"ErrorMessage",
 * "ErrorType"}}): aws.lambda.durable.status, and for FAILED status ERROR with the error message
 * (capped, UTF-8) and error.type. 1 when it was such an answer, 0 when not, -ENOMEM. */
int invspan_durable_status(struct span *s, const char *body, size_t n);

/* Marks the span failed: status ERROR and an `exception` event (exception.type, .message,
 * .stacktrace) from a Lambda error body {"errorMessage","errorType","stackTrace":[..]} (Node
 * says "trace"; Go frames are {"path","line","label"} objects) or, when the body is not that
 * JSON, its text (message and stack capped, never dropped). base64: the body is the Error-Body
 * trailer value. error_type (the header/trailer) wins over the body's errorType. 0 or -ENOMEM. */
int invspan_record_error(struct span *s, const char *error_type, const char *body, size_t len,
                         bool base64, uint64_t time_ns);

#endif
