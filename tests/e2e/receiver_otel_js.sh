#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The real OpenTelemetry JS SDK (sdk-trace-node, exporter-trace-otlp-proto and -http, plain and
# gzip) exports to tracebridge's OTLP receiver (tests/tools/receiverd); the bytes the receiver
# buffered are decoded with the real OTLP decoder and compared span by span with what the SDK
# made (tests/e2e/receiver_otel_js.cjs). TB_VALGRIND=1 runs receiverd under valgrind.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${TB_BUILD:-build}
bin="$B/tools/receiverd"
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
n=0
fail=0
tap() { n=$((n + 1)); echo "$1 $n - $2"; [ "$1" = ok ] || fail=$((fail + 1)); }

if ! command -v node >/dev/null || [ ! -d tests/node/node_modules/@opentelemetry/sdk-trace-node ]; then
    tap "not ok" "node and tests/node/node_modules are needed (run tests/deps.sh)"
    echo "1..$n"
    exit 1
fi
run=("$bin")
if [ "${TB_VALGRIND:-0}" = 1 ]; then
    run=(valgrind -q --leak-check=full --errors-for-leak-kinds=all --error-exitcode=9 "$bin")
fi
mkfifo "$tmp/out"
"${run[@]}" --out "$tmp/buffered.bin" >"$tmp/out" 2>"$tmp/err" &
pid=$!
exec 3<"$tmp/out"
port=
if read -r -t 30 word port <&3 && [ "$word" = READY ]; then
    tap ok "receiverd listening on 127.0.0.1:$port"
else
    tap "not ok" "receiverd did not start: $(head -3 "$tmp/err")"
    echo "1..$n"
    exit 1
fi

if OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$port" timeout 60 \
    node tests/e2e/receiver_otel_js.cjs export "$tmp/expect.json" >"$tmp/node.log" 2>&1; then
    tap ok "OTel JS SDK: every export succeeded ($(tail -1 "$tmp/node.log"))"
else
    tap "not ok" "OTel JS SDK saw an export error"
    sed 's/^/# /' "$tmp/node.log" | head -20
fi

kill -TERM "$pid"
wrote=
read -r -t 30 wrote <&3
wait "$pid"
rc=$?
pid=
if [ "$rc" -eq 0 ] && [ "${wrote%% *}" = WROTE ]; then
    tap ok "receiverd wrote its buffer and exited cleanly ($wrote)"
else
    tap "not ok" "receiverd exit status $rc ($wrote): $(head -5 "$tmp/err")"
fi
reqs=$(echo "$wrote" | awk '{print $4}')
if [ "${reqs:-0}" -ge 4 ] && [ "$(echo "$wrote" | awk '{print $5}')" = 0 ]; then
    tap ok "$reqs export requests received, no span dropped"
else
    tap "not ok" "requests/rejected unexpected: $wrote"
fi

if [ -f "$tmp/expect.json" ] && [ -f "$tmp/buffered.bin" ]; then
    node tests/e2e/receiver_otel_js.cjs check "$tmp/expect.json" "$tmp/buffered.bin" $((n + 1)) \
        >"$tmp/check.log" 2>&1
    cat "$tmp/check.log"
    n=$((n + $(grep -cE '^(ok|not ok) ' "$tmp/check.log")))
    fail=$((fail + $(grep -c '^not ok ' "$tmp/check.log")))
    if ! grep -qE '^(ok|not ok) ' "$tmp/check.log"; then
        tap "not ok" "decoder check produced no result"
    fi
else
    tap "not ok" "no expectations or no buffered bytes to check"
fi
echo "1..$n"
[ "$fail" -eq 0 ]
