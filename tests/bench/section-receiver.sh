#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# OTLP receiver: a handler's export round trip to tracebridge (p50/p99) and spans/s. Pinned to
# one CPU like the proxy section, so runs compare.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${TB_BUILD:-build}
PIN="taskset -c 0"
command -v taskset >/dev/null || PIN=""
$PIN "$B/bench/bench_receiver" "${TB_BENCH_RECEIVER_ROUNDS:-5000}"
