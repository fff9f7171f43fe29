/* SPDX-License-Identifier: Apache-2.0 */
/* export: the bounded span buffer (tracebridge's and the handler's spans, encoded) and the
 * OTLP/HTTP exporter that drains it to the backend. Includes base/, net/, spans/, otlp/. */
#ifndef TB_EXPORT_EXPORT_H
#define TB_EXPORT_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "extension/base/base.h"
#include "extension/otlp/otlp.h"
#include "extension/spans/spans.h"
#include "extension/net/net.h"

/* ---- spanbuf ----------------------------------------------------------------------- */
/* spanbuf: the bounded FIFO of encoded span payloads waiting for export. Each entry is one
 * serialized ExportTraceServiceRequest (see otlp.h) with its span count. When a push would pass
 * the span or byte limit, the oldest entries are dropped and counted; a push never blocks and
 * never fails for lack of room (an entry larger than the byte limit is itself dropped). */
struct spanbuf;

/* The caller owns the buffer (NULL on -ENOMEM) and frees it with spanbuf_free, after the
 * exporter and the receiver that use it are freed; the buffer owns its entries. */
struct spanbuf *spanbuf_new(size_t max_spans, size_t max_bytes);
void spanbuf_free(struct spanbuf *sb);

/* Copies the payload in (the caller keeps data). Returns the number of spans dropped to make
 * room (0 normally). */
size_t spanbuf_push(struct spanbuf *sb, const void *data, size_t len, size_t n_spans);

/* Encodes one span of tracebridge's own under res (OTLP protobuf, one request per span) and
 * pushes it (s and res are only read). 0, or -ENOMEM / -E2BIG when it could not be encoded
 * (nothing pushed). */
#define SPANBUF_SPAN_MAX (4 * 1024 * 1024)
int spanbuf_push_span(struct spanbuf *sb, const struct otlp_resource *res, const struct span *s);

/* Concatenates entries from the front into out (copies, appended to the caller's buf), up to
 * max_bytes of payload (at least one entry when any exists), without removing them. Returns the
 * number of entries taken, sets *n_spans and *last_seq (the sequence number of the last entry
 * taken). Once the export succeeded, spanbuf_commit(sb, last_seq) removes every entry up to that
 * sequence number that is still there (entries dropped meanwhile for room are simply gone). */
size_t spanbuf_peek(struct spanbuf *sb, size_t max_bytes, struct buf *out, size_t *n_spans,
                    uint64_t *last_seq);
void spanbuf_commit(struct spanbuf *sb, uint64_t last_seq);

size_t spanbuf_spans(const struct spanbuf *sb);
size_t spanbuf_bytes(const struct spanbuf *sb);

/* Spans dropped since the last call; resets the counter. */
size_t spanbuf_take_dropped(struct spanbuf *sb);

/* ---- exporter ---------------------------------------------------------------------- */
/* exporter: sends the span buffer to the OTLP/HTTP endpoint through httpc, on the loop.
 *   - body: the buffered ExportTraceServiceRequests concatenated (protobuf), or converted to
 *     OTLP/JSON for http/json; gzip when configured; headers from OTEL_EXPORTER_OTLP_*HEADERS
 *     (URL-decoded; values never logged);
 *   - entries are only removed once the backend accepted them (spanbuf peek/commit), so a failed
 *     export leaves them for the next flush;
 *   - at most one request is in flight, across flushes: a flush asked for while one runs joins
 *     it (with the later deadline), and entries pushed meanwhile go in the following request,
 *     so no entry is ever in two requests at once. A request that timed out may still have
 *     reached the backend; its entries are sent again later (at-least-once, as OTLP allows);
 *   - Retry-After as delay-seconds or HTTP-date (httpdate.h), capped at 60 s;
 *   - 429/502/503/504 and transport errors are retried with exponential backoff and jitter,
 *     honouring Retry-After, but never past the flush deadline; other statuses are not
 *     retryable (OTLP spec): that batch is dropped and counted;
 *   - each request's timeout is the smaller of OTEL_EXPORTER_OTLP_TIMEOUT and the time left;
 *   - connections: the exporter has its own connection pool (its own httpc), thrown away
 *     before a request when the kept connection may be dead: idle for more than
 *     EXPORTER_REUSE_IDLE_MS by the monotonic or the wall clock (the sandbox was probably
 *     frozen meanwhile, and peers close idle connections after a few seconds: Node's default is
 *     5 s), or after exporter_restored() (SnapStart restore, clock jump: the peer has never
 *     heard of the connection). A request that fails with a connection reset on a reused
 *     connection is sent again at once on a new one, once, and counts neither as a retry nor as
 *     a failure (the backend is fine; the connection was stale). */
#define EXPORTER_BATCH_BYTES   (2 * 1024 * 1024)
#define EXPORTER_REUSE_IDLE_MS 4000

enum otlp_protocol { OTLP_PROTOBUF = 0, OTLP_JSON };

/* The OTEL_EXPORTER_OTLP_PROTOCOL value of each otlp_protocol ("http/protobuf", "http/json"),
 * indexed by it; NULL after the last. */
extern const char *const otlp_protocol_names[];

/* The OTEL_EXPORTER_OTLP_* settings the exporter uses. Borrowed, not copied: the conf must
 * outlive the exporter and stay unchanged meanwhile. */
struct exporter_conf {
    char traces_endpoint[1024]; /* full URL, /v1/traces already applied */
    char headers[4096];         /* raw "k=v,k2=v2" (URL-encoded); secrets: never log */
    int timeout_ms;
    bool gzip;
    enum otlp_protocol protocol;
    char certificate[1024];
};

struct exporter;

struct exporter_stats {
    unsigned long requests;
    unsigned long successes;
    unsigned long retries;
    unsigned long gave_up; /* flushes that ended with spans still buffered */
    unsigned long spans_sent;
    unsigned long spans_dropped; /* rejected by the backend with a non-retryable status */
    unsigned long bytes_sent;    /* request bodies as sent (after compression) */
    unsigned long new_pools;     /* connection pools thrown away (idle, restore, reset) */
    unsigned long reset_resends; /* requests sent again after a reset on a reused connection */
};

/* done runs each time a flush finishes (buffer empty, deadline reached or gave up), from the
 * loop, with arg. Borrowed, and so required to outlive the exporter: loop, sb, c and lg. The
 * exporter makes its own httpc (its connection pool) on loop. The header lines are built from
 * c->headers here, once. NULL with *err = -ENOMEM. */
struct exporter *exporter_new(uv_loop_t *loop, struct spanbuf *sb, const struct exporter_conf *c,
                              void (*done)(void *arg), void *arg, const struct log *lg, int *err);
/* Cancels the request in flight (its spans stay in sb) and the retry timer; done is not called
 * again. The memory is released once the loop has run the close callback. */
void exporter_free(struct exporter *x);

/* Exports until the buffer is empty or deadline_ms (uv_now clock) would be passed. A flush
 * already running keeps going with the later of the two deadlines. The work starts from the
 * loop: `done` never runs inside this call. */
void exporter_flush(struct exporter *x, uint64_t deadline_ms);

/* The last flush (SHUTDOWN): like exporter_flush, but with exactly this deadline (also for a
 * flush already running), and a backoff or Retry-After wait that would end past it is dropped
 * so that at least one attempt is made. */
void exporter_flush_final(struct exporter *x, uint64_t deadline_ms);

/* Whether the backend answered the last finished request with success within budget_ms (true
 * before any request finished), and no request has been in flight for longer than that. The daemon
 * holds /event/next for an export only while this is true: waiting for a backend that is down,
 * refusing or slow would only add billed time to every invocation, and the spans stay buffered for
 * later flushes anyway. */
bool exporter_responsive(const struct exporter *x, uint64_t budget_ms);
bool exporter_busy(const struct exporter *x);

/* The sandbox was restored from a snapshot or its clock jumped: no connection made before is
 * reused (a request in flight finishes on its own), and the retry jitter is reseeded so that
 * restored copies do not retry in step. */
void exporter_restored(struct exporter *x);

/* The largest request (buffered batch plus body as sent) since the last call. */
size_t exporter_take_peak_bytes(struct exporter *x);

/* Spans the backend rejected since the last call (for tracebridge.dropped_spans). */
size_t exporter_take_dropped(struct exporter *x);

void exporter_get_stats(const struct exporter *x, struct exporter_stats *out);

/* Parses "k=v,k2=v2" (values percent-decoded, keys and values trimmed) into "k: v" header lines
 * appended to the caller's out (NUL-separated, count returned in *n). -EINVAL for a malformed
 * list, a key that is not a token or a value with control characters, -E2BIG for too many or too
 * long (then nothing is added). */
int exporter_parse_headers(const char *s, struct buf *out, size_t *n);

#endif
