/* SPDX-License-Identifier: Apache-2.0 */
/* sampler: OTEL_TRACES_SAMPLER semantics. */
#include "extension/spans/spans.h"

#include <string.h>

#include "tests/lib/tap.h"

static void tid_low(uint8_t tid[16], uint64_t low)
{
    memset(tid, 0xab, 8);
    for (int i = 15; i >= 8; i--) {
        tid[i] = (uint8_t)(low & 0xff);
        low >>= 8;
    }
}

/* The names the OTel spec gives OTEL_TRACES_SAMPLER, against the enum they index. */
static void test_names(struct tap *t)
{
    is_str(t, sampler_name(SAMPLER_PARENT_ALWAYS_ON), "parentbased_always_on", "default's name");
    is_str(t, sampler_name(SAMPLER_TRACEIDRATIO), "traceidratio", "traceidratio's name");
    is_str(t, sampler_name(SAMPLER_PARENT_TRACEIDRATIO), "parentbased_traceidratio",
           "the last kind's name");
    ok(t, sampler_names[SAMPLER_PARENT_TRACEIDRATIO + 1] == NULL, "the table ends after it");
    is_str(t, sampler_name((enum sampler_kind)99), "?", "outside the enum: ?");
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct sampler s;
    uint8_t tid[16];
    int hits = 0;

    test_names(&t);
    tid_low(tid, 0);
    sampler_init(&s, SAMPLER_ALWAYS_ON, 1.0, false);
    ok(&t, sampler_should_sample(&s, tid, true, false), "always_on ignores a non-sampled parent");
    sampler_init(&s, SAMPLER_ALWAYS_OFF, 1.0, false);
    ok(&t, !sampler_should_sample(&s, tid, true, true), "always_off ignores a sampled parent");
    sampler_init(&s, SAMPLER_PARENT_ALWAYS_ON, 1.0, false);
    ok(&t, sampler_should_sample(&s, tid, false, false), "parentbased_always_on: root sampled");
    ok(&t, !sampler_should_sample(&s, tid, true, false), "parentbased: non-sampled parent wins");
    ok(&t, sampler_should_sample(&s, tid, true, true), "parentbased: sampled parent wins");
    sampler_init(&s, SAMPLER_PARENT_ALWAYS_OFF, 1.0, false);
    ok(&t, !sampler_should_sample(&s, tid, false, false), "parentbased_always_off: root dropped");
    ok(&t, sampler_should_sample(&s, tid, true, true), "parentbased_always_off: parent decides");
    sampler_init(&s, SAMPLER_PARENT_ALWAYS_ON, 1.0, true);
    ok(&t, !sampler_should_sample(&s, tid, true, true), "OTEL_SDK_DISABLED samples nothing");

    /* traceidratio boundary: lower 8 bytes >> 1 compared with ratio * 2^63. */
    tid_low(tid, 0x7fffffffffffffffULL); /* >>1 = 2^62 - 1 */
    ok(&t, sampler_ratio_sample(0.5, tid), "just below the 0.5 bound is sampled");
    tid_low(tid, 0x8000000000000000ULL); /* >>1 = 2^62 */
    ok(&t, !sampler_ratio_sample(0.5, tid), "exactly at the 0.5 bound is not");
    ok(&t, !sampler_ratio_sample(0.0, tid), "ratio 0 samples nothing");
    ok(&t, sampler_ratio_sample(1.0, tid), "ratio 1 samples everything");
    tid_low(tid, 0);
    memset(tid, 0xff, 8); /* the upper half must not matter */
    ok(&t, sampler_ratio_sample(0.0001, tid), "upper 8 bytes are ignored");

    for (uint64_t i = 0; i < 10000; i++) {
        tid_low(tid, i * 0x9e3779b97f4a7c15ULL);
        hits += sampler_ratio_sample(0.25, tid);
    }
    ok(&t, hits > 2300 && hits < 2700, "ratio 0.25 samples ~25%% (%d/10000)", hits);
    sampler_init(&s, SAMPLER_PARENT_TRACEIDRATIO, 0.0, false);
    ok(&t, sampler_should_sample(&s, tid, true, true), "parentbased_traceidratio: parent decides");
    ok(&t, !sampler_should_sample(&s, tid, false, false),
       "parentbased_traceidratio: root by ratio");
    return tap_done(&t);
}
