#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Handler-side cost of one OTLP export (forceFlush of 10 spans with the real OTel JS SDK):
# to tracebridge's local receiver vs to a backend 50 ms away (the OTLP sink with a 50 ms delay,
# standing in for a remote collector), side by side in one run (issue 9).
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${TB_BUILD:-build}
N=${TB_BENCH_FLUSHES:-40}
T=$(mktemp -d)
cleanup() {
    [ -n "${rpid:-}" ] && kill "$rpid" 2>/dev/null
    [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

"$B/tools/receiverd" --out "$T/recv.bin" --port 0 --buffer-spans 1000000 >"$T/recv.out" &
rpid=$!
node tests/tools/otlp-sink.mjs --port 0 --out "$T/sink.jsonl" --fault slow:50 >"$T/sink.out" &
spid=$!
for _ in $(seq 100); do
    grep -q READY "$T/recv.out" && grep -q READY "$T/sink.out" && break
    sleep 0.1
done
rport=$(awk '/READY/ { print $2 }' "$T/recv.out")
sport=$(awk '/READY/ { print $2 }' "$T/sink.out")
[ -n "$rport" ] && [ -n "$sport" ] || {
    echo "sdk-flush: receiver or sink did not start" >&2
    exit 1
}
read -r r50 r99 < <(node tests/bench/sdk_flush.cjs "http://127.0.0.1:$rport/v1/traces" "$N")
read -r s50 s99 < <(node tests/bench/sdk_flush.cjs "http://127.0.0.1:$sport/v1/traces" "$N")
printf '  %-44s %10s %10s\n' "forceFlush of 10 spans (OTel JS, proto)" "p50 µs" "p99 µs"
printf '  %-44s %10s %10s\n' "to tracebridge's receiver (127.0.0.1)" "$r50" "$r99"
printf '  %-44s %10s %10s\n' "to a backend 50 ms away" "$s50" "$s99"
awk -v a="$r50" -v b="$s50" 'BEGIN { printf "  the handler saves %.1f ms per invocation (%.0fx)\n", (b - a) / 1000, b / a }'
