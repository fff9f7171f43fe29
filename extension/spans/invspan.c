/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/spans/spans.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "extension/base/base.h"

#define MESSAGE_MAX    4096
#define STACKTRACE_MAX (32 * 1024)

static const char *trigger_of(enum promote_trigger t)
{
    switch (t) {
    case TRIGGER_SQS:
    case TRIGGER_SNS:
    case TRIGGER_EVENTBRIDGE:
    case TRIGGER_KAFKA:
        return "pubsub";
    case TRIGGER_APIGW_REST:
    case TRIGGER_APIGW_HTTP:
    case TRIGGER_FUNCTION_URL:
    case TRIGGER_ALB:
        return "http";
    case TRIGGER_KINESIS:
    case TRIGGER_DYNAMODB:
    case TRIGGER_S3:
        return "datasource";
    default:
        return "other";
    }
}

static bool is_http(enum promote_trigger t)
{
    return strcmp(trigger_of(t), "http") == 0;
}

static const char *messaging_system(enum promote_trigger t)
{
    if (t == TRIGGER_SQS)
        return "aws_sqs";
    if (t == TRIGGER_SNS)
        return "aws.sns";
    if (t == TRIGGER_KAFKA)
        return "kafka";
    return NULL;
}

static enum span_kind kind_of(enum promote_trigger t)
{
    if (t == TRIGGER_SQS || t == TRIGGER_SNS || t == TRIGGER_EVENTBRIDGE || t == TRIGGER_KINESIS ||
        t == TRIGGER_KAFKA)
        return SPAN_KIND_CONSUMER;
    return SPAN_KIND_SERVER;
}

/* Whether the event gives a route template (low-cardinality, usable as http.route and in the
 * span name): API Gateway's resource or routeKey. Function URLs and ALB only give the request
 * path, which is url.path (HTTP semantic conventions: never a raw path as the route). */
static bool has_route_template(enum promote_trigger t)
{
    return t == TRIGGER_APIGW_REST || t == TRIGGER_APIGW_HTTP;
}

/* The route template of an HTTP event, or "" when there is none. API Gateway v2 routeKeys are
 * "<METHOD> <path>" (or "$default", which matches anything and is no template). */
static const char *route_of(const struct promote_event_info *info)
{
    const char *r = info->http_route;
    const char *sp;

    if (!has_route_template(info->trigger) || r[0] == '$')
        return "";
    if (info->trigger == TRIGGER_APIGW_HTTP && r[0] != '/' && (sp = strchr(r, ' ')) != NULL)
        return sp + 1;
    return r;
}

static int set_name(struct span *s, const struct promote_event_info *info, const char *fn)
{
    char name[PROMOTE_NAME_MAX + 32];
    enum promote_trigger t = info ? info->trigger : TRIGGER_UNKNOWN;

    if (info &&
        (t == TRIGGER_SQS || t == TRIGGER_SNS || t == TRIGGER_EVENTBRIDGE || t == TRIGGER_KAFKA) &&
        info->destination[0])
        snprintf(name, sizeof(name), "process %s", info->destination);
    else if (info && is_http(t) && info->http_method[0] && route_of(info)[0])
        snprintf(name, sizeof(name), "%s %s", info->http_method, route_of(info));
    else
        snprintf(name, sizeof(name), "%s", fn && fn[0] ? fn : "invoke");
    return span_set_name(s, name);
}

static int add_messaging(struct span *s, const struct promote_event_info *info)
{
    struct attr_list *l = &s->attrs;
    const char *sys = messaging_system(info->trigger);
    int rc = 0;

    if (kind_of(info->trigger) != SPAN_KIND_CONSUMER || info->trigger == TRIGGER_KINESIS)
        return 0;
    if (sys)
        rc |= attr_list_add_str(l, "messaging.system", sys);
    rc |= attr_list_add_str(l, "messaging.operation.type", "process");
    if (info->destination[0])
        rc |= attr_list_add_str(l, "messaging.destination.name", info->destination);
    if (info->record_count > 1)
        rc |= attr_list_add_int(l, "messaging.batch.message_count", info->record_count);
    else if (info->message_id[0])
        rc |= attr_list_add_str(l, "messaging.message.id", info->message_id);
    if (info->partition[0]) /* Kafka, a single record */
        rc |= attr_list_add_str(l, "messaging.destination.partition.id", info->partition);
    if (info->offset[0])
        rc |= attr_list_add_str(l, "messaging.kafka.offset", info->offset);
    return rc;
}

/* A durable function's execution, and whether this invocation started it. */
static int add_durable(struct span *s, const struct promote_event_info *info)
{
    int rc = 0;

    if (!info->durable_execution_arn[0])
        return 0;
    rc |= attr_list_add_str(&s->attrs, "aws.lambda.durable_execution_arn",
                            info->durable_execution_arn);
    rc |= attr_list_add_bool(&s->attrs, "aws.lambda.durable.first_invocation",
                             info->durable_first_invocation);
    return rc;
}

static int add_http(struct span *s, const struct promote_event_info *info)
{
    int rc = 0;

    if (!is_http(info->trigger))
        return 0;
    if (info->http_method[0])
        rc |= attr_list_add_str(&s->attrs, "http.request.method", info->http_method);
    if (route_of(info)[0])
        rc |= attr_list_add_str(&s->attrs, "http.route", route_of(info));
    else if (!has_route_template(info->trigger) && info->http_route[0] == '/')
        rc |= attr_list_add_str(&s->attrs, "url.path", info->http_route);
    return rc;
}

/* ---- batch truth: deliveries and time in the queue ---- */

/* A send time this long before the invocation is not believed (Kinesis keeps records a year). */
#define WAIT_MAX_MS (366LL * 24 * 3600 * 1000)

/* How long a message sent at sent_ms (Unix ms) waited until the span started; -1 if unknown. */
static int64_t wait_ms(const struct span *s, int64_t sent_ms)
{
    int64_t start_ms = (int64_t)(s->start_ns / 1000000u);

    if (sent_ms <= 0 || sent_ms > start_ms || start_ms - sent_ms > WAIT_MAX_MS)
        return -1;
    return start_ms - sent_ms;
}

static int add_delivery(struct span *s, struct attr_list *l, const struct promote_link *pl)
{
    int64_t w = wait_ms(s, pl->sent_ms);
    int rc = 0;

    if (pl->receive_count)
        rc |= attr_list_add_int(l, "tracebridge.message.receive_count", pl->receive_count);
    if (pl->receive_count > 1)
        rc |= attr_list_add_bool(l, "tracebridge.message.redelivered", true);
    if (w >= 0)
        rc |= attr_list_add_int(l, "tracebridge.message.wait_ms", w);
    return rc;
}

/* Over the whole batch (every record, with a context or not). */
static int add_batch_truth(struct span *s, const struct promote_event_info *info)
{
    int64_t w = wait_ms(s, info->oldest_sent_ms);
    int rc = 0;

    if (info->redelivered)
        rc |=
            attr_list_add_int(&s->attrs, "tracebridge.batch.redelivered_count", info->redelivered);
    if (info->max_receive_count > 1)
        rc |= attr_list_add_int(&s->attrs, "tracebridge.batch.max_receive_count",
                                info->max_receive_count);
    if (w >= 0)
        rc |= attr_list_add_int(&s->attrs, "tracebridge.queue.wait_ms", w);
    return rc;
}

int invspan_queue_wait(struct span *q, const struct span *inv, const struct promote_analysis *a,
                       const uint8_t span_id[8])
{
    const struct promote_event_info *info = &a->info;
    int64_t w = wait_ms(inv, info->oldest_sent_ms);
    char name[PROMOTE_NAME_MAX + 8];
    const char *sys = messaging_system(info->trigger);
    int rc = 0;

    if (!a->found || !inv->has_parent || w < 0 || kind_of(info->trigger) != SPAN_KIND_CONSUMER)
        return 0;
    span_init(q);
    q->ctx = inv->ctx;
    memcpy(q->ctx.span_id, span_id, 8);
    q->has_parent = true;
    memcpy(q->parent_span_id, inv->parent_span_id, 8);
    q->kind = SPAN_KIND_INTERNAL;
    q->end_ns = inv->start_ns;
    q->start_ns = (uint64_t)info->oldest_sent_ms * 1000000u;
    snprintf(name, sizeof(name), "wait %s", info->destination[0] ? info->destination : "queue");
    rc |= span_set_name(q, name);
    rc |= attr_list_add_bool(&q->attrs, "tracebridge.inferred", true);
    rc |= attr_list_add_int(&q->attrs, "tracebridge.queue.wait_ms", w);
    if (sys)
        rc |= attr_list_add_str(&q->attrs, "messaging.system", sys);
    if (info->destination[0])
        rc |= attr_list_add_str(&q->attrs, "messaging.destination.name", info->destination);
    if (info->record_count > 1)
        rc |= attr_list_add_int(&q->attrs, "messaging.batch.message_count", info->record_count);
    if (rc) {
        span_free(q);
        return -ENOMEM;
    }
    return 1;
}

static int add_links(struct span *s, const struct promote_analysis *a)
{
    for (unsigned i = 0; i < a->n_links; i++) {
        const struct promote_link *pl = &a->links[i];
        struct span_link *l = span_add_link(s, &pl->ctx, pl->tracestate[0] ? pl->tracestate : NULL);
        if (!l)
            return -ENOMEM;
        if (pl->message_id[0] &&
            attr_list_add_str(&l->attrs, "messaging.message.id", pl->message_id) < 0)
            return -ENOMEM;
        if (add_delivery(s, &l->attrs, pl) < 0)
            return -ENOMEM;
    }
    if (a->links_dropped &&
        attr_list_add_int(&s->attrs, "tracebridge.links_dropped", a->links_dropped) < 0)
        return -ENOMEM;
    if (a->lambda_xray_valid)
        return invspan_add_xray_link(s, &a->lambda_xray);
    return 0;
}

int invspan_add_xray_link(struct span *s, const struct trace_ctx *xray)
{
    struct span_link *l = span_add_link(s, xray, NULL);

    if (!l || attr_list_add_str(&l->attrs, "tracebridge.link.source", "lambda_xray") < 0)
        return -ENOMEM;
    return 0;
}

static int add_common(struct span *s, const struct invspan_facts *f, enum promote_trigger t)
{
    struct attr_list *l = &s->attrs;
    int rc = 0;

    rc |= attr_list_add_str(l, "faas.trigger", trigger_of(t));
    rc |= attr_list_add_str(l, "faas.invocation_id", f->request_id);
    rc |= attr_list_add_bool(l, "faas.coldstart", f->coldstart);
    if (f->function_arn && f->function_arn[0])
        rc |= attr_list_add_str(l, "cloud.resource_id", f->function_arn);
    if (f->account_id && f->account_id[0])
        rc |= attr_list_add_str(l, "cloud.account.id", f->account_id);
    return rc;
}

int invspan_describe(struct span *s, const struct promote_analysis *a,
                     const struct invspan_facts *f)
{
    const struct promote_event_info *info = a ? &a->info : NULL;
    enum promote_trigger t = info ? info->trigger : TRIGGER_UNKNOWN;
    int rc = 0;

    s->kind = kind_of(t);
    rc |= set_name(s, info, f->function_name);
    rc |= add_common(s, f, t);
    if (info) {
        rc |= add_messaging(s, info);
        rc |= add_http(s, info);
        rc |= add_durable(s, info);
        rc |= add_links(s, a);
        rc |= add_batch_truth(s, info);
    }
    return rc ? -ENOMEM : 0;
}

/* ---- partial batch failures ---- */

/* The link of the record whose id (messaging.message.id) is id, or NULL. */
static struct span_link *record_link(struct span *s, const char *id)
{
    for (size_t i = 0; i < s->n_links; i++) {
        const struct attr *a = attr_list_find(&s->links[i].attrs, "messaging.message.id");
        if (a && a->type == ATTR_STRING && strcmp(a->v.s, id) == 0)
            return &s->links[i];
    }
    return NULL;
}

/* Counts the failures of a batchItemFailures array and marks their links; -1 when the array
 * is not one (then nothing is said). */
static long mark_items(struct span *s, const cJSON *items)
{
    const cJSON *it;
    long n = 0;

    if (!cJSON_IsArray(items))
        return -1;
    cJSON_ArrayForEach(it, items)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "itemIdentifier");
        struct span_link *l;
        if (!cJSON_IsString(id) || !id->valuestring[0])
            return -1;
        n++;
        l = record_link(s, id->valuestring);
        if (l && !attr_list_find(&l->attrs, "tracebridge.message.failed") &&
            attr_list_add_bool(&l->attrs, "tracebridge.message.failed", true) < 0)
            return -1;
    }
    return n;
}

int invspan_mark_failures(struct span *s, const char *body, size_t n, unsigned records)
{
    cJSON *doc;
    long failed;
    char msg[96];
    int rc = 0;

    while (body && n && (*body == ' ' || *body == '\t' || *body == '\r' || *body == '\n'))
        body++, n--;
    if (!body || n == 0 || body[0] != '{' || !memmem(body, n, "batchItemFailures", 17))
        return 0;
    doc = cJSON_ParseWithLength(body, n);
    if (!doc)
        return 0; /* not JSON: the handler's answer is its own business */
    failed = mark_items(s, cJSON_GetObjectItemCaseSensitive(doc, "batchItemFailures"));
    cJSON_Delete(doc);
    if (failed <= 0)
        return 0;
    rc |= attr_list_add_int(&s->attrs, "tracebridge.batch.failed_count", failed);
    if (records)
        snprintf(msg, sizeof(msg), "%ld of %u records failed (batchItemFailures)", failed, records);
    else
        snprintf(msg, sizeof(msg), "%ld records failed (batchItemFailures)", failed);
    rc |= span_set_status(s, SPAN_STATUS_ERROR, msg);
    return rc ? -ENOMEM : (int)(failed > INT32_MAX ? INT32_MAX : failed);
}

/* ---- errors ---- */

/* Appends as much as fits, keeping one byte for the terminating NUL: long messages and stacks
 * are cut, never lost. OTLP strings must be UTF-8 (a collector rejects the whole request
 * otherwise), and error text is whatever the handler wrote: ill-formed bytes become U+FFFD and
 * a cut never splits a character. */
static void append_capped(struct buf *b, const char *p, size_t n)
{
    (void)utf8_append_sanitized(b, p, n, b->max - 1);
}

static void append_str_capped(struct buf *b, const char *s)
{
    append_capped(b, s, strlen(s));
}

/* One frame of a Go error: {"path":"…","line":42,"label":"fn"} → "fn (path:42)". */
static bool go_frame(struct buf *st, const cJSON *item)
{
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(item, "path");
    const cJSON *line = cJSON_GetObjectItemCaseSensitive(item, "line");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(item, "label");
    char num[32];

    if (!cJSON_IsString(path) || !cJSON_IsNumber(line) || !cJSON_IsString(label))
        return false;
    snprintf(num, sizeof(num), ":%.0f)", line->valuedouble);
    append_str_capped(st, label->valuestring);
    append_capped(st, " (", 2);
    append_str_capped(st, path->valuestring);
    append_str_capped(st, num);
    return true;
}

/* Frames go one per line; Python's already end in a newline, so none is added after those. */
static void stack_append(struct buf *st, const cJSON *item)
{
    char *txt;

    if (st->len && st->data[st->len - 1] != '\n')
        append_capped(st, "\n", 1);
    if (cJSON_IsString(item)) {
        append_str_capped(st, item->valuestring);
        return;
    }
    if (cJSON_IsObject(item) && go_frame(st, item))
        return;
    txt = cJSON_PrintUnformatted(item);
    if (txt) {
        append_str_capped(st, txt);
        cJSON_free(txt);
    }
}

/* Fills type/message/stack from a Lambda error JSON. false when it is not one. */
static bool parse_error_json(const char *body, size_t len, struct buf *type, struct buf *msg,
                             struct buf *stack)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "errorMessage");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "errorType");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "stackTrace");
    const cJSON *node_trace = cJSON_GetObjectItemCaseSensitive(root, "trace"); /* Node.js */
    const cJSON *it;
    bool good = cJSON_IsObject(root) && (cJSON_IsString(m) || cJSON_IsString(t));

    if (good) {
        if (cJSON_IsString(m))
            append_str_capped(msg, m->valuestring);
        if (cJSON_IsString(t))
            append_str_capped(type, t->valuestring);
        if (cJSON_IsString(st))
            append_str_capped(stack, st->valuestring);
        if (!st && cJSON_IsArray(node_trace))
            st = node_trace;
        if (cJSON_IsArray(st)) {
            cJSON_ArrayForEach(it, st) stack_append(stack, it);
        }
    }
    cJSON_Delete(root);
    return good;
}

static int add_exception(struct span *s, const char *type, const char *msg, const char *stack,
                         uint64_t time_ns)
{
    struct span_event *ev = span_add_event(s, "exception", time_ns);
    int rc = 0;

    if (!ev)
        return -ENOMEM;
    if (type[0])
        rc |= attr_list_add_str(&ev->attrs, "exception.type", type);
    if (msg[0])
        rc |= attr_list_add_str(&ev->attrs, "exception.message", msg);
    if (stack[0])
        rc |= attr_list_add_str(&ev->attrs, "exception.stacktrace", stack);
    return rc ? -ENOMEM : 0;
}

int invspan_record_error(struct span *s, const char *error_type, const char *body, size_t len,
                         bool base64, uint64_t time_ns)
{
    struct buf decoded, type, msg, stack;
    int rc;

    buf_init(&decoded, 256 * 1024);
    buf_init(&type, 512);
    buf_init(&msg, MESSAGE_MAX);
    buf_init(&stack, STACKTRACE_MAX);
    if (body && base64 && base64_decode_append(body, len, 0, &decoded) == 0) {
        body = decoded.data ? decoded.data : "";
        len = decoded.len;
    }
    if (body && len && !parse_error_json(body, len, &type, &msg, &stack))
        append_capped(&msg, body, len);
    if (error_type && error_type[0]) {
        buf_reset(&type);
        append_str_capped(&type, error_type);
    }
    (void)buf_append_byte(&type, '\0');
    (void)buf_append_byte(&msg, '\0');
    (void)buf_append_byte(&stack, '\0');
    rc = span_set_status(s, SPAN_STATUS_ERROR, msg.data[0] ? msg.data : type.data);
    if (rc == 0)
        rc = add_exception(s, type.data, msg.data, stack.data, time_ns);
    buf_free(&decoded);
    buf_free(&type);
    buf_free(&msg);
    buf_free(&stack);
    return rc;
}

/* ---- durable functions ---- */

int invspan_durable_status(struct span *s, const char *body, size_t n)
{
    cJSON *doc = body && n ? cJSON_ParseWithLength(body, n) : NULL;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "Status");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "Error");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "ErrorMessage");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(err, "ErrorType");
    char text[256];
    int rc = 0;

    if (!cJSON_IsString(st) || !st->valuestring[0] || strlen(st->valuestring) > 32 ||
        !utf8_valid(st->valuestring, strlen(st->valuestring))) {
        cJSON_Delete(doc);
        return 0; /* not a durable execution's answer */
    }
    rc |= attr_list_add_str(&s->attrs, "aws.lambda.durable.status", st->valuestring);
    if (strcmp(st->valuestring, "FAILED") == 0) {
        struct buf b;
        buf_init(&b, sizeof(text));
        if (cJSON_IsString(msg))
            append_capped(&b, msg->valuestring, strlen(msg->valuestring));
        snprintf(text, sizeof(text), "%s", b.len ? b.data : "durable execution failed");
        buf_free(&b);
        rc |= span_set_status(s, SPAN_STATUS_ERROR, text);
        if (cJSON_IsString(type) && type->valuestring[0] && strlen(type->valuestring) < 256 &&
            utf8_valid(type->valuestring, strlen(type->valuestring)))
            rc |= attr_list_add_str(&s->attrs, "error.type", type->valuestring);
    }
    cJSON_Delete(doc);
    return rc ? -ENOMEM : 1;
}
