#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# OTLP codec: ns per encoded invocation span, otlp_count_spans MB/s on a 1 MB request, and the
# JSON converters, next to protobuf-c on the same data. Pinned to one CPU so runs compare.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${TB_BUILD:-build}
PIN="taskset -c 0"
command -v taskset >/dev/null || PIN=""
$PIN "$B/bench/bench_otlp" "${TB_BENCH_OTLP_ROUNDS:-21}"
