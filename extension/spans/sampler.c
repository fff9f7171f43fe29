/* SPDX-License-Identifier: Apache-2.0 */
#include "extension/spans/spans.h"

const char *const sampler_names[] = {
    [SAMPLER_PARENT_ALWAYS_ON] = "parentbased_always_on",
    [SAMPLER_ALWAYS_ON] = "always_on",
    [SAMPLER_ALWAYS_OFF] = "always_off",
    [SAMPLER_TRACEIDRATIO] = "traceidratio",
    [SAMPLER_PARENT_ALWAYS_OFF] = "parentbased_always_off",
    [SAMPLER_PARENT_TRACEIDRATIO] = "parentbased_traceidratio",
    [SAMPLER_PARENT_TRACEIDRATIO + 1] = NULL,
};

const char *sampler_name(enum sampler_kind k)
{
    return (unsigned)k <= SAMPLER_PARENT_TRACEIDRATIO ? sampler_names[k] : "?";
}

void sampler_init(struct sampler *s, enum sampler_kind kind, double ratio, bool sdk_disabled)
{
    s->kind = kind;
    s->ratio = ratio;
    s->disabled = sdk_disabled;
}

/* Same rule as the Go and Java SDKs: the lower 64 bits, shifted right by one so the value fits
 * a signed comparison, against ratio * 2^63. */
bool sampler_ratio_sample(double ratio, const uint8_t trace_id[16])
{
    uint64_t x = 0;
    uint64_t bound;

    if (ratio >= 1.0)
        return true;
    if (!(ratio > 0.0))
        return false;
    for (int i = 8; i < 16; i++)
        x = (x << 8) | trace_id[i];
    x >>= 1;
    bound = (uint64_t)(ratio * 9223372036854775808.0); /* 2^63 */
    return x < bound;
}

static bool root_decision(const struct sampler *s, const uint8_t trace_id[16])
{
    switch (s->kind) {
    case SAMPLER_ALWAYS_OFF:
    case SAMPLER_PARENT_ALWAYS_OFF:
        return false;
    case SAMPLER_TRACEIDRATIO:
    case SAMPLER_PARENT_TRACEIDRATIO:
        return sampler_ratio_sample(s->ratio, trace_id);
    case SAMPLER_ALWAYS_ON:
    case SAMPLER_PARENT_ALWAYS_ON:
    default:
        return true;
    }
}

static bool is_parent_based(enum sampler_kind k)
{
    return k == SAMPLER_PARENT_ALWAYS_ON || k == SAMPLER_PARENT_ALWAYS_OFF ||
           k == SAMPLER_PARENT_TRACEIDRATIO;
}

bool sampler_should_sample(const struct sampler *s, const uint8_t trace_id[16], bool has_parent,
                           bool parent_sampled)
{
    if (s->disabled)
        return false;
    if (has_parent && is_parent_based(s->kind))
        return parent_sampled;
    return root_decision(s, trace_id);
}
