/* SPDX-License-Identifier: Apache-2.0 */
/* promote: finds the W3C context carried inside a Lambda event (carriers) and writes it where
 * unmodified handlers read it (targets), by splicing bytes; nothing outside the edits changes.
 *
 * Two steps, so the caller can create its invocation span in between:
 *   promote_analyse()  one pass over the event: carriers, event facts, the edit plan;
 *   promote_apply()    writes the targets with the context the caller chose (normally the
 *                      tracebridge span: caller's trace-id, parent-id = tracebridge span id).
 * Fail open: on anything in doubt the output is the input, byte for byte, and `warning` says
 * why (the caller logs it). Reserved "__traceparent__"-style keys are stripped whenever the
 * event is a well-formed JSON object, even when their values are invalid. */
#ifndef TB_PROXY_PROMOTE_PROMOTE_H
#define TB_PROXY_PROMOTE_PROMOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "extension/base/base.h"

#define PROMOTE_MAX_LINKS 128
#define PROMOTE_ID_MAX    128
#define PROMOTE_NAME_MAX  256
#define PROMOTE_MAX_DEPTH 512

enum promote_target {
    PROMOTE_TARGET_HEADERS = 1u << 0,        /* event headers.traceparent (+multiValueHeaders) */
    PROMOTE_TARGET_CLIENT_CONTEXT = 1u << 1, /* Lambda-Runtime-Client-Context custom.traceparent */
    PROMOTE_TARGET_XRAY = 1u << 2,           /* Lambda-Runtime-Trace-Id, per promote_xray_header */
};

/* When the Lambda-Runtime-Trace-Id target rewrites the header (TRACEBRIDGE_XRAY_HEADER). */
enum promote_xray_header {
    PROMOTE_XRAY_AUTO = 0, /* when a context was promoted and Lambda's X-Ray tracing is not
                            * active (no header, or Sampled other than 1: PassThrough) */
    PROMOTE_XRAY_KEEP,     /* never */
    PROMOTE_XRAY_REWRITE,  /* whenever a context was promoted */
};
extern const char *const promote_xray_header_names[]; /* "auto", "keep", "rewrite", NULL */

/* Parses a TRACEBRIDGE_TARGETS list ("headers,client-context,xray", "none", any case, spaces
 * around names allowed) into enum promote_target bits. 0 or -EINVAL (out unchanged). */
int promote_targets_parse(const char *s, unsigned *out);

enum promote_batch_parent { PROMOTE_BATCH_FIRST = 0, PROMOTE_BATCH_NONE };

struct promote_conf {
    unsigned targets;                       /* enum promote_target bits */
    enum promote_xray_header xray_header;   /* TRACEBRIDGE_XRAY_HEADER */
    bool xray_parent;                       /* TRACEBRIDGE_XRAY_PARENT=on */
    enum promote_batch_parent batch_parent; /* TRACEBRIDGE_BATCH_PARENT */
    size_t max_event_bytes;                 /* larger events pass through unchanged */
};

/* Where the parent context came from. */
enum promote_carrier {
    CARRIER_NONE = 0,
    CARRIER_DIRECT,              /* top-level __traceparent__ */
    CARRIER_SQS_ATTRIBUTES,      /* Records[].messageAttributes.traceparent */
    CARRIER_SQS_SNS,             /* SNS envelope inside an SQS body */
    CARRIER_SQS_XRAY,            /* Records[].attributes.AWSTraceHeader */
    CARRIER_SNS,                 /* Records[].Sns.MessageAttributes.traceparent */
    CARRIER_EVENTBRIDGE,         /* detail.traceparent / detail.__traceparent__ */
    CARRIER_HTTP,                /* headers / multiValueHeaders traceparent */
    CARRIER_HTTP_XRAY,           /* headers X-Amzn-Trace-Id with Root+Parent */
    CARRIER_LAMBDA_XRAY,         /* Lambda-Runtime-Trace-Id (only with xray_parent) */
    CARRIER_DIRECT_PLAIN,        /* top-level traceparent of a direct invoke (kept) */
    CARRIER_REQUEST_HEADERS,     /* request.headers traceparent (kept) */
    CARRIER_SQS_EVENTBRIDGE,     /* EventBridge event inside an SQS body */
    CARRIER_KAFKA,               /* Kafka record headers traceparent */
    CARRIER_DATADOG,             /* _datadog / x-datadog-* of an SQS, SNS or Kafka record */
    CARRIER_EVENTBRIDGE_DATADOG, /* EventBridge detail._datadog */
    CARRIER_KINESIS,             /* inside a Kinesis record's data */
    CARRIER_DYNAMODB,            /* a DynamoDB stream record's NewImage */
    CARRIER_STEP_FUNCTIONS,      /* derived from the Step Functions context object */
    CARRIER_DURABLE,             /* inside a durable function's InputPayload */
};

/* What kind of event this is (drives span name, kind and attributes). */
enum promote_trigger {
    TRIGGER_UNKNOWN = 0, /* not a JSON object, or an unrecognised shape */
    TRIGGER_DIRECT,      /* direct invoke with a JSON object payload */
    TRIGGER_SQS,
    TRIGGER_SNS,
    TRIGGER_EVENTBRIDGE,
    TRIGGER_APIGW_REST, /* API Gateway v1 proxy */
    TRIGGER_APIGW_HTTP, /* API Gateway HTTP API payload 2.0 */
    TRIGGER_FUNCTION_URL,
    TRIGGER_ALB,
    TRIGGER_KINESIS,
    TRIGGER_DYNAMODB,
    TRIGGER_S3,
    TRIGGER_KAFKA, /* MSK or self-managed Kafka */
};

struct promote_link {
    struct trace_ctx ctx;
    char message_id[PROMOTE_ID_MAX]; /* SQS messageId / SNS MessageId; "" if none */
    unsigned receive_count;          /* SQS ApproximateReceiveCount; 0 if not said */
    int64_t sent_ms;                 /* when it was sent (Unix ms); 0 if not said */
    char tracestate[TRACESTATE_MAX + 1];
};

/* Facts about the event, for the invocation span. Strings are NUL-terminated, truncated to
 * fit, and contain only what the event said (already JSON-unescaped, control bytes dropped). */
struct promote_event_info {
    enum promote_trigger trigger;
    unsigned record_count;              /* Records[] length, 0 when not a batch */
    char source_arn[PROMOTE_NAME_MAX];  /* eventSourceARN / TopicArn / EventBridge resource */
    char destination[PROMOTE_NAME_MAX]; /* queue or topic name, EventBridge source */
    char message_id[PROMOTE_ID_MAX];    /* single-record message id */
    char http_method[16];               /* HTTP events */
    char http_route[PROMOTE_NAME_MAX];  /* resource / routeKey / rawPath */
    /* Batch truth, over every record (not only those with a context). */
    unsigned redelivered;       /* records delivered before (ApproximateReceiveCount > 1) */
    unsigned max_receive_count; /* the highest ApproximateReceiveCount */
    int64_t oldest_sent_ms;     /* the earliest record (or event) time, Unix ms; 0 if none */
    char partition[24];         /* Kafka: the first record's partition */
    char offset[24];            /* Kafka: the first record's offset */
    char durable_execution_arn[PROMOTE_NAME_MAX]; /* durable functions, else "" */
    bool durable_first_invocation; /* InitialExecutionState holds one operation (the start) */
};

/* Filled by promote_analyse(), which resets every field but writes only what is meaningful:
 * links[0, n_links) and strings up to their terminator (copy fields, not the whole struct,
 * when comparing). */
struct promote_analysis {
    bool json_object; /* the event is a well-formed JSON object */
    bool found;       /* a valid parent context was found */
    enum promote_carrier carrier;
    struct trace_ctx_full parent; /* valid when found */
    bool lambda_xray_valid;       /* Lambda-Runtime-Trace-Id parsed (always a link) */
    struct trace_ctx lambda_xray;
    bool records_disagree;  /* batch records carry different trace ids */
    unsigned n_links;       /* one per record context found (batch), <= MAX_LINKS */
    unsigned links_dropped; /* record contexts beyond MAX_LINKS */
    struct promote_link links[PROMOTE_MAX_LINKS]; /* only [0, n_links) are set */
    struct promote_event_info info;
    const char *warning; /* static string: why the event is left unchanged, or NULL */
    /* A reserved "__traceparent__" (top level or in detail) that is stripped but was not a
     * valid traceparent: why (static text), and its safe prefix (traceparent_safe_prefix). */
    const char *reserved_invalid;
    char reserved_prefix[TRACEPARENT_PREFIX_MAX + 1];
    void *plan; /* private edit plan, freed by promote_analysis_free */
};

struct promote_input {
    const char *body;
    size_t body_len;
    const char *trace_id_header; /* Lambda-Runtime-Trace-Id or NULL */
    size_t trace_id_header_len;
    const char *client_context; /* Lambda-Runtime-Client-Context or NULL */
    size_t client_context_len;
    /* The caller can write the body as the original bytes with splices applied (a writev of
     * pieces): promote_apply may then describe the new body by out->splices instead of copying
     * it into out->body. */
    bool want_splices;
};

/* One splice of the body: `del` input bytes at `off` are replaced by `ins_len` bytes of
 * promote_output.ins from `ins_off`. */
#define PROMOTE_MAX_SPLICES 8
struct promote_splice {
    size_t off;
    size_t del;
    size_t ins_off;
    size_t ins_len;
};

struct promote_output {
    bool body_changed; /* false: send the original bytes */
    struct buf body;   /* the new body when body_changed and nsplices == 0 */
    /* With want_splices, a changed body may come as splices instead (nsplices > 0, body then
     * empty): sorted by off, not overlapping, within the input; the new body is the input with
     * each applied. ins holds the inserted bytes. */
    unsigned nsplices;
    struct promote_splice splices[PROMOTE_MAX_SPLICES];
    struct buf ins;
    bool client_context_changed;
    struct buf client_context; /* new Lambda-Runtime-Client-Context value */
    bool trace_id_changed;
    struct buf trace_id;      /* new Lambda-Runtime-Trace-Id value */
    unsigned targets_written; /* enum promote_target bits actually written */
    bool reserved_stripped;   /* __traceparent__/__tracestate__/__baggage__ removed */
};

/* Scans the event once. Never fails: problems leave a fail-open analysis with `warning` set.
 * `a` must be released with promote_analysis_free(). */
void promote_analyse(const struct promote_conf *conf, const struct promote_input *in,
                     struct promote_analysis *a);

/* Writes the targets. `write` is the context handlers should see as their parent, with
 * tracestate/baggage to carry along (normally a.parent's); NULL writes nothing but still strips
 * reserved keys. out is initialised here and released with promote_output_free(). Returns 0, or
 * -errno on internal failure, in which case `out` says nothing changed (fail open). */
int promote_apply(const struct promote_conf *conf, const struct promote_input *in,
                  const struct promote_analysis *a, const struct trace_ctx_full *write,
                  struct promote_output *out);

void promote_analysis_free(struct promote_analysis *a);
void promote_output_free(struct promote_output *out);

/* The length of the body `out` describes for an input of in_len bytes (in_len when unchanged). */
size_t promote_output_body_len(const struct promote_output *out, size_t in_len);

const char *promote_carrier_name(enum promote_carrier c);
const char *promote_trigger_name(enum promote_trigger t);

/* `tracebridge rewrite` command line (promote/cli.c). Returns the process exit code. */
int promote_cli_main(int argc, char **argv);

#endif
