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
#ifndef TB_INVSPAN_H
#define TB_INVSPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "extension/base/buf.h"
#include "extension/span.h"
#include "promote/promote.h"

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

/* Adds the link to the Lambda X-Ray context (Lambda-Runtime-Trace-Id / INVOKE tracing value). */
int invspan_add_xray_link(struct span *s, const struct trace_ctx *xray);

/* Marks the span failed: status ERROR and an `exception` event (exception.type, .message,
 * .stacktrace) from a Lambda error body {"errorMessage","errorType","stackTrace":[..]} (Node
 * says "trace"; Go frames are {"path","line","label"} objects) or, when the body is not that
 * JSON, its text (message and stack capped, never dropped). base64: the body is the Error-Body
 * trailer value. error_type (the header/trailer) wins over the body's errorType. 0 or -ENOMEM. */
int invspan_record_error(struct span *s, const char *error_type, const char *body, size_t len,
                         bool base64, uint64_t time_ns);

/* Standard base64 (padding optional, whitespace rejected). 0, -EINVAL, -E2BIG or -ENOMEM. */
int invspan_base64_decode(const char *in, size_t n, struct buf *out);

#endif
