/* SPDX-License-Identifier: Apache-2.0 */
/* receiver: the local OTLP/HTTP trace receiver (default 127.0.0.1:4318), so the handler's own
 * OTel SDK exports into tracebridge's span buffer in microseconds instead of to a remote
 * backend on the response path. Runs on the daemon's libuv loop; never blocks.
 *
 * POST /v1/traces with application/x-protobuf or application/json, optionally
 * Content-Encoding: gzip (inflated size capped at max_request_bytes). Protobuf bodies are
 * validated (otlp_count_spans) and pushed into the span buffer as they are; JSON bodies are
 * converted once (otlp_json_to_protobuf). Answers per the OTLP/HTTP spec: 200 with an
 * ExportTraceServiceResponse in the request's encoding (partial_success.rejected_spans when
 * the buffer dropped spans to make room), 400 undecodable, 413 too large, 415 other content
 * types, 404 other paths (metrics/logs paths get a clear message), 405 other methods. */
#ifndef TB_RECEIVER_RECEIVER_H
#define TB_RECEIVER_RECEIVER_H

#include <stddef.h>
#include <uv.h>

#include "extension/base/base.h"
#include "extension/export/export.h"

/* Connections open at once. At the limit a new connection closes the least recently used idle
 * one (no request in progress, nothing left to write) and is served; only when every connection
 * is busy is it accepted and closed at once. SDKs keep one or two per process, but on Managed
 * Instances (up to 64 concurrent invocations in one runtime) a burst of concurrent exports opens
 * about one each, and a refused connection makes the SDK retry with backoff inside the handler's
 * flush (64 here made invocations time out). More than this is a leak or an attack. */
#define RECEIVER_MAX_CONNS 256

struct receiver;

struct receiver_stats {
    unsigned long requests;
    unsigned long spans_accepted;
    unsigned long spans_rejected; /* dropped from the buffer to make room, reported back */
    unsigned long bad_requests;   /* 400/404/405/413/415 answers */
    unsigned long open_conns;
    unsigned long conns_evicted; /* idle ones closed at the limit to serve a new one */
    unsigned long conns_refused; /* new ones closed at the limit, none being idle */
};

/* Binds host:port (a loopback literal) and listens. Returns NULL with *err = -errno when it
 * cannot (-EADDRINUSE: another collector layer holds the port; the caller logs one line and runs
 * without a receiver). `sb` is shared with the daemon and must outlive the receiver. */
struct receiver *receiver_new(uv_loop_t *loop, const char *host, int port, size_t max_request_bytes,
                              struct spanbuf *sb, const struct log *lg, int *err);
/* The port actually bound (port 0 picks one; tests). */
int receiver_port(const struct receiver *r);
void receiver_get_stats(const struct receiver *r, struct receiver_stats *out);
/* The most request body bytes held at once since the last call (memory after large requests). */
size_t receiver_take_peak_body(struct receiver *r);
/* Stops listening, closes connections; memory is released once the loop has run the closes. */
void receiver_free(struct receiver *r);

#endif
