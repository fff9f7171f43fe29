#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make demo` (tests/demo/run-demo.sh) end to end: it must print a joined trace, exit 0 and write
# the HTML page. Runs against ${TB_BUILD:-build}/tracebridge like the other e2e suites.
set -u
cd "$(dirname "$0")/../.." || exit 1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rm -f build/demo/trace.html
timeout 120 tests/demo/run-demo.sh >"$out" 2>&1
rc=$?
n=0
tap() { # status description
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
tap "$rc" "make demo exits 0 (status $rc)"
grep -q 'JOINED: one trace' "$out"
tap $? "the demo says the trace is joined"
grep -q 'send_to_sqs' "$out" && grep -q 'process orders (consumer, tracebridge)' "$out" &&
    grep -q 'business_logic' "$out"
tap $? "the waterfall shows producer, tracebridge and handler spans"
grep -q 'NOT JOINED' "$out"
tap $((!$?)) "no NOT JOINED verdict"
grep -q 'JOINED' build/demo/trace.html 2>/dev/null
tap $? "build/demo/trace.html written with the verdict"
[ "$rc" = 0 ] || sed 's/^/# /' "$out" | tail -30
echo "1..$n"
