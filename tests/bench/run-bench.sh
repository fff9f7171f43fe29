#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the benchmarks (make bench). Latency runs are pinned to one CPU (perf-anchors.md):
# unpinned, loopback round trips are bimodal and the medians swing too much to compare.
# bench_proxy starts the upstream and the proxies as child processes, which inherit the pinning.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${TB_BUILD:-build}
PIN="taskset -c 0"
command -v taskset >/dev/null || PIN=""
# The nginx anchor (Debian's nginx-light, installed by tests/deps.sh) beside tracebridge.
export PATH="$PATH:/usr/sbin"
export TB_BENCH_NGINX_CONF=${TB_BENCH_NGINX_CONF-tests/bench/nginx.conf}
command -v "${TB_BENCH_NGINX:-nginx}" >/dev/null || { echo "run-bench: nginx missing (make deps)" >&2; exit 1; }

# ---- proxy: round trip direct vs through the proxy ----
echo "== proxy, pinned (${PIN:-no taskset})"
$PIN "$B/bench/bench_proxy" "${TB_BENCH_ROUNDS:-20}" || exit 1
echo "== proxy, unpinned (second table; medians swing between runs)"
"$B/bench/bench_proxy" "${TB_BENCH_ROUNDS:-20}" || exit 1

# ---- rewriter: analyse+apply next to memcpy and cJSON parse+print of the same events ----
echo "== rewriter"
"$B/bench/bench_rewrite" || exit 1

# ---- further sections: every tests/bench/section-*.sh, in name order ----
for s in tests/bench/section-*.sh; do
    [ -x "$s" ] || continue
    echo "== $(basename "$s" .sh | sed 's/^section-//')"
    TB_BUILD=$B "$s" || exit 1
done
