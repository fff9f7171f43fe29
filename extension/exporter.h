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
#ifndef TB_EXPORTER_H
#define TB_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "extension/base/log.h"
#include "extension/conf.h"
#include "extension/httpc.h"
#include "extension/spanbuf.h"

#define EXPORTER_BATCH_BYTES   (2 * 1024 * 1024)
#define EXPORTER_REUSE_IDLE_MS 4000

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

/* done runs each time a flush finishes (buffer empty, deadline reached or gave up). The
 * exporter makes its own httpc on loop. */
struct exporter *exporter_new(uv_loop_t *loop, struct spanbuf *sb, const struct conf *c,
                              void (*done)(void *arg), void *arg, const struct log *lg, int *err);
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

/* The sandbox was restored from a snapshot or its clock jumped: no connection made before is
 * reused (a request in flight finishes on its own), and the retry jitter is reseeded so that
 * restored copies do not retry in step. */
void exporter_restored(struct exporter *x);
bool exporter_busy(const struct exporter *x);

/* The largest request (buffered batch plus body as sent) since the last call. */
size_t exporter_take_peak_bytes(struct exporter *x);

/* Spans the backend rejected since the last call (for tracebridge.dropped_spans). */
size_t exporter_take_dropped(struct exporter *x);

void exporter_get_stats(const struct exporter *x, struct exporter_stats *out);

/* Parses "k=v,k2=v2" (values percent-decoded, keys and values trimmed) into "k: v" header lines
 * appended to out (NUL-separated, count returned in *n). -EINVAL for a malformed list or a value
 * with control characters (then nothing is added). */
int exporter_parse_headers(const char *s, struct buf *out, size_t *n);

/* gzip (RFC 1952) of in, appended to out. 0, -E2BIG or -ENOMEM. */
int exporter_gzip(const void *in, size_t n, struct buf *out);

#endif
