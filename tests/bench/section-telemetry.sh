#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench section: the Telemetry API path. bench_telemetry: ns per invocation (parse the
# invocation's batch, correlate, hold and release the span with its attributes), the parser next
# to cJSON, a full 1000-event batch. bench_footprint with and without batches delivered after
# each /response (runs interleaved): the extension's CPU per invocation and the round trip.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${TB_BUILD:-build}
PIN="taskset -c 0"
command -v taskset >/dev/null || PIN=""
$PIN "$B/bench/bench_telemetry" "${TB_BENCH_TELEMETRY_ROUNDS:-31}" || exit 1
for round in 1 2 3; do
    for tm in 1 0; do
        printf 'footprint round %d, telemetry %d: ' "$round" "$tm"
        TRACEBRIDGE_LOG_LEVEL=warn "$B/bench/bench_footprint" "$B/tracebridge" --runs 1 \
            --invokes "${TB_BENCH_TELEMETRY_INVOKES:-3000}" --event-kb 2 --telemetry "$tm" |
            grep -E '^(invocation_ms_mean|ext_cpu_us_per_invocation|peak_rss_kb|telemetry_batches) ' |
            tr '\n' ' '
        echo
    done
done
