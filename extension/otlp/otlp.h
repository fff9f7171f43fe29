/* SPDX-License-Identifier: Apache-2.0 */
/* otlp: OTLP/HTTP trace payloads. The unit everywhere is a serialized
 * ExportTraceServiceRequest: its only field is `repeated ResourceSpans resource_spans = 1`, so
 * serialized requests concatenate into one valid request. tracebridge's own spans and spans
 * received from the handler's SDK are kept in that form, and converted to OTLP/JSON only when
 * the exporter is configured for http/json. */
#ifndef TB_OTLP_OTLP_H
#define TB_OTLP_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "extension/base/base.h"
#include "extension/spans/spans.h"

struct otlp_resource; /* resource attributes + instrumentation scope, encoded once */

/* Builds the resource from attributes (service.name, cloud.*, faas.*, OTEL_RESOURCE_ATTRIBUTES
 * merged by the caller). The list is copied. NULL on -ENOMEM. */
struct otlp_resource *otlp_resource_new(const struct attr_list *attrs, const char *scope_name,
                                        const char *scope_version);
void otlp_resource_free(struct otlp_resource *r);

/* Appends one serialized ExportTraceServiceRequest holding `span` under the resource.
 * 0, -ENOMEM or -E2BIG (out's limit). */
int otlp_encode_span(const struct otlp_resource *r, const struct span *s, struct buf *out);

/* The receiver's protobuf answers (OTLP/HTTP). Appends a serialized google.rpc.Status
 * {code, message}, the body of an error answer. 0, -E2BIG or -ENOMEM (out unchanged). */
int otlp_encode_status(struct buf *out, int code, const char *msg);

/* Appends a serialized ExportTraceServiceResponse whose partial_success reports `rejected`
 * spans with msg; nothing at all (the empty message) when rejected is 0. 0, -E2BIG or -ENOMEM
 * (out unchanged). */
int otlp_encode_partial_success(struct buf *out, uint64_t rejected, const char *msg);

/* Counts the spans in a serialized ExportTraceServiceRequest without building the tree.
 * Returns the count, or -EBADMSG when the bytes are not a valid request. */
long otlp_count_spans(const void *data, size_t len);

/* Converts a serialized ExportTraceServiceRequest to OTLP/JSON (hex ids, enum ints, int64 as
 * strings, per the OTLP JSON encoding rules). 0, -EBADMSG, -ENOMEM or -E2BIG. */
int otlp_protobuf_to_json(const void *data, size_t len, struct buf *out);

/* Converts an OTLP/JSON ExportTraceServiceRequest to protobuf bytes (receiver input).
 * 0, -EBADMSG, -ENOMEM or -E2BIG. */
int otlp_json_to_protobuf(const char *json, size_t len, struct buf *out);

#endif
