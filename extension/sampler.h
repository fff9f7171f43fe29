/* sampler: the OTEL_TRACES_SAMPLER decision for tracebridge's own spans (spans received from the
 * handler are never re-sampled). Semantics per the OTel SDK specification:
 *   always_on / always_off;
 *   traceidratio: sampled when the trace id's lower 8 bytes (big-endian, shifted right once)
 *     fall below ratio * 2^63, so every service using the same ratio agrees on a trace;
 *   parentbased_*: a valid parent's sampled flag decides; the named sampler decides roots.
 * OTEL_SDK_DISABLED: nothing is ever sampled (promotion still runs). */
#ifndef TB_SAMPLER_H
#define TB_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "extension/conf.h"

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

#endif
