/* SPDX-License-Identifier: Apache-2.0 */
/* telemetry: what the platform knows, from the Lambda Telemetry API (2022-07-01, event schema
 * 2025-01-29), put on tracebridge's spans without ever making an invocation wait.
 *
 *   listener   an HTTP/1.1 listener on the daemon's loop (http1 parsing, as the receiver does),
 *              bound to the address Lambda delivers to: sandbox.localdomain's IPv4 address in
 *              /etc/hosts when it is loopback or link-local (169.254.0.0/16: the sandbox's own
 *              point-to-point link, telemetry1_sb), else 127.0.0.1; never anything routable.
 *              The port is any free one; the destination is http://sandbox.localdomain:<port>/.
 *   subscribe  PUT /2022-07-01/telemetry right after register (it needs the extension id),
 *              before the first /event/next (subscriptions close with init): `platform` events,
 *              buffering timeoutMs 25, maxItems 1000, maxBytes 256 KiB, so that a batch comes
 *              within milliseconds of its events. A refused subscription (older platforms,
 *              emulators) or one that never delivers (RIE accepts and sends nothing) leaves
 *              everything as it was, said once in the log.
 *   parse      batches (a JSON array of events) with a reader that never allocates; malformed
 *              and unexpected events are counted, logged once per minute, and ignored.
 *   facts      the correlation by request id (concurrent invocations of Managed Instances come
 *              in any order) and the spans: an invocation span that ended is held until its
 *              platform.report (the last fact of an invocation) or a bound (below), then gets
 *              the facts and goes on; the init span (initStart..initRuntimeDone) and the
 *              SnapStart restore span (restoreStart..restoreRuntimeDone) are made as children
 *              of the first invocation span after them.
 *
 * Holding bounds (a held span is released at the first of): its report; SHUTDOWN after at most a
 * short wait for the reports still due (telemetry_drain); the point the daemon settles the next
 * invocation (its report was due during that thaw) when that one ran at least 100 ms (the
 * platform's 25 ms buffering could not have delayed the report past it), else the settle after;
 * with flush at the end of each invocation, its own settle (the report cannot exist before our
 * /event/next); three INVOKEs with no settle (a bypassed proxy); Managed Instances: TM_MI_HOLD_MS
 * after it ended; TM_MAX_INV entries (the oldest goes first). Nothing is held while no platform
 * event has ever arrived.
 *
 * Attributes (README, "What the platform says"): aws.lambda.status, error.type, aws.lambda.
 * {duration_ms, billed_duration_ms, max_memory_used_mb, init_duration_ms, restore_duration_ms,
 * produced_bytes, tenant_id, out_of_memory}, faas.max_memory (bytes), faas.coldstart, and
 * tracebridge.invocation.outcome corrected from the platform's status (timeout, failure,
 * out_of_memory). Includes base/, net/, spans/. */
#ifndef TB_TELEMETRY_TELEMETRY_H
#define TB_TELEMETRY_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "extension/base/base.h"
#include "extension/net/net.h"
#include "extension/spans/spans.h"

#define TM_SCHEMA_VERSION "2025-01-29"
#define TM_ID_MAX         128 /* requestId (a UUID) */
#define TM_TENANT_MAX     257 /* tenantId: 1 to 256 characters */
#define TM_ERR_MAX        128 /* errorType, e.g. Runtime.OutOfMemory */
#define TM_TEXT_MAX       128 /* runtimeVersion, initializationType, version... */
#define TM_ARN_MAX        512 /* runtimeVersionArn */

/* ---- events ------------------------------------------------------------------------ */
enum tm_type {
    TM_UNKNOWN = 0,
    TM_INIT_START,
    TM_INIT_RUNTIME_DONE,
    TM_INIT_REPORT,
    TM_START,
    TM_RUNTIME_DONE,
    TM_REPORT,
    TM_RESTORE_START,
    TM_RESTORE_RUNTIME_DONE,
    TM_RESTORE_REPORT,
    TM_EXTENSION,    /* platform.extension: known, not used */
    TM_SUBSCRIPTION, /* platform.telemetrySubscription: known, not used */
    TM_LOGS_DROPPED, /* platform.logsDropped: Lambda dropped events for us (we were slow) */
};

enum tm_status { TM_ST_NONE = 0, TM_ST_SUCCESS, TM_ST_ERROR, TM_ST_TIMEOUT, TM_ST_FAILURE };

/* Metrics present in an event (tm_event.have). */
#define TM_HAVE_DURATION      0x01u /* metrics.durationMs */
#define TM_HAVE_BILLED        0x02u /* metrics.billedDurationMs */
#define TM_HAVE_MAX_MEMORY    0x04u /* metrics.maxMemoryUsedMB */
#define TM_HAVE_MEMORY_SIZE   0x08u /* metrics.memorySizeMB */
#define TM_HAVE_INIT_DURATION 0x10u /* metrics.initDurationMs */
#define TM_HAVE_RESTORE       0x20u /* metrics.restoreDurationMs */
#define TM_HAVE_PRODUCED      0x40u /* metrics.producedBytes (runtimeDone) */

/* One platform event, as far as tracebridge uses it. Strings are NUL-terminated, "" when
 * absent; numbers are meaningful only where `have` says so. */
struct tm_event {
    enum tm_type type;
    uint64_t time_ns; /* `time`, epoch ns */
    enum tm_status status;
    unsigned have;
    char request_id[TM_ID_MAX];
    char tenant_id[TM_TENANT_MAX];
    char error_type[TM_ERR_MAX];
    char phase[16];              /* init | invoke */
    char init_type[TM_TEXT_MAX]; /* initializationType */
    char runtime_version[TM_TEXT_MAX];
    char runtime_version_arn[TM_ARN_MAX];
    char version[TM_TEXT_MAX]; /* platform.start: the function version */
    double duration_ms;
    double billed_ms;
    double init_ms;
    double restore_ms;
    int64_t max_memory_mb;
    int64_t memory_mb;
    int64_t produced_bytes;
    int64_t dropped_records; /* platform.logsDropped */
};

/* What one batch held. `problem` describes the first malformed event ("" when none). */
struct tm_parse_stats {
    unsigned events;    /* array elements */
    unsigned used;      /* well-formed platform events of a type we use (handed to fn) */
    unsigned ignored;   /* well-formed, of a known type we do not use */
    unsigned unknown;   /* types we do not know (function/extension logs, new types) */
    unsigned malformed; /* not an object, or a field of the wrong type or size */
    char problem[96];
};

typedef void (*tm_event_fn)(void *arg, const struct tm_event *ev);

/* Parses one batch: a JSON array of {"time","type","record"} objects. Calls fn for each
 * well-formed event of a type tracebridge uses, with `scratch` (the caller's storage, reused
 * between events). 0 when the body is a JSON array (whatever its elements), -EBADMSG when it
 * is not one (then fn may already have been called for the events before the fault). Never
 * allocates; nesting deeper than 32 is malformed. */
int tm_parse_batch(const char *json, size_t len, struct tm_event *scratch, tm_event_fn fn,
                   void *arg, struct tm_parse_stats *st);

/* RFC 3339 date-time as the Telemetry API writes it ("2022-10-12T00:00:15.064Z"; fraction of
 * 0 to 9 digits; Z or +hh:mm / -hh:mm) to epoch ns. 0 or -EINVAL. */
int tm_parse_time(const char *s, size_t n, uint64_t *ns);

const char *tm_status_name(enum tm_status s);

/* ---- facts: correlation and spans, without sockets ------------------------------------ */
#define TM_MAX_INV    256  /* invocations whose facts or held spans are kept */
#define TM_MI_HOLD_MS 2000 /* Managed Instances: most time a span waits for its report */

enum tm_point {
    TM_POINT_INVOKE,  /* an INVOKE event: a new invocation (the sandbox thawed) */
    TM_POINT_SETTLED, /* the daemon settled the current invocation (flush, /event/next) */
    TM_POINT_TICK,    /* Managed Instances: the periodic flush */
    TM_POINT_ALL,     /* release everything now (SHUTDOWN, after the drain) */
};

struct tm_facts_hooks {
    void *arg;
    /* A span to export; the callee may take its contents (span_free is called after). */
    void (*span_ready)(void *arg, struct span *s);
};

struct tm_stats {
    unsigned long batches;
    unsigned long events;    /* platform events used */
    unsigned long malformed; /* events (or batches) ignored as malformed */
    unsigned long unknown;
    unsigned long held;      /* invocation spans held for their facts */
    unsigned long completed; /* held spans released with their report */
    unsigned long timed_out; /* held spans released at a bound, without their report */
    unsigned long late;      /* reports that came after their span had gone */
    unsigned long init_spans;
    unsigned long restore_spans;
};

struct tm_facts;

/* ids (for the init and restore spans' ids) and lg must outlive the facts. */
struct tm_facts *tm_facts_new(struct ids *ids, const struct tm_facts_hooks *hooks,
                              const struct log *lg);
/* Frees held spans without handing them on (release them first with TM_POINT_ALL). */
void tm_facts_free(struct tm_facts *f);

/* A platform event. now_ms: a monotonic clock (the loop's). */
void tm_facts_event(struct tm_facts *f, const struct tm_event *ev, uint64_t now_ms);

/* An ended invocation span (its contents are taken: the caller's span is left empty). It is
 * handed on at once, with what is known, when nothing is worth waiting for. */
void tm_facts_span(struct tm_facts *f, struct span *s, uint64_t now_ms);

/* keep_current (TM_POINT_SETTLED only): the spans of the current invocation stay held (flush
 * at INVOKE: they leave with the next flush anyway); false releases them too. */
void tm_facts_point(struct tm_facts *f, enum tm_point p, bool keep_current, uint64_t now_ms);

/* Held spans still waiting for their report. */
size_t tm_facts_waiting(const struct tm_facts *f);

/* Whether platform events arrive (spans are only held when they do). */
bool tm_facts_live(const struct tm_facts *f);

void tm_facts_get_stats(const struct tm_facts *f, struct tm_stats *out);

/* ---- telemetry: listener + subscription + facts, on the loop -------------------------- */
struct telemetry_conf {
    bool enabled;            /* TRACEBRIDGE_TELEMETRY */
    bool managed_instances;  /* AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances */
    const char *runtime_api; /* host:port of the real API */
    const char *hosts_file;  /* where sandbox.localdomain is looked up; NULL: /etc/hosts */
};

struct telemetry;

/* Binds the listener (before registration, like the proxy; reading the hosts file is the only
 * file access, at start-up). Never fails: a telemetry that cannot listen passes spans through.
 * ids, lg, c->runtime_api must outlive it. */
struct telemetry *telemetry_new(uv_loop_t *loop, struct httpc *h, struct ids *ids,
                                const struct telemetry_conf *c, const struct tm_facts_hooks *hooks,
                                const struct log *lg);

/* Subscribes (PUT /2022-07-01/telemetry with the extension id). 0: done(arg) runs once, from the
 * loop, when the subscription was answered or gave up (at most TM_SUBSCRIBE_TIMEOUT_MS);
 * -ENOTCONN: nothing to subscribe (disabled, not listening): the caller goes on at once. */
#define TM_SUBSCRIBE_TIMEOUT_MS 1000
int telemetry_subscribe(struct telemetry *t, const char *extension_id, void (*done)(void *arg),
                        void *arg);

/* An ended invocation span (contents taken), see tm_facts_span. */
void telemetry_span(struct telemetry *t, struct span *s);

/* A lifecycle point, see tm_facts_point. */
void telemetry_point(struct telemetry *t, enum tm_point p, bool keep_current);

/* SHUTDOWN: waits up to max_wait_ms for the reports of held spans, then releases everything.
 * 0: done(arg) runs from the loop when that is over; -EALREADY: nothing to wait for, every span
 * was released already (done is not called). */
int telemetry_drain(struct telemetry *t, uint64_t max_wait_ms, void (*done)(void *arg), void *arg);

/* The port listened on (0 when not listening); whether the subscription was accepted. */
int telemetry_port(const struct telemetry *t);
bool telemetry_subscribed(const struct telemetry *t);
const struct tm_facts *telemetry_facts(const struct telemetry *t);

/* Stops listening, cancels the subscription request; memory is released once the loop has run
 * the close callbacks. Held spans are dropped: release them first (telemetry_point ALL). */
void telemetry_free(struct telemetry *t);

#endif
