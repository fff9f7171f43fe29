#!/usr/bin/env bash
# Real stacks (java17-otel, go-otellambda with the bootstrap recipe): handler-observed
# invocation time with and without tracebridge (interleaved, same run) and the cold start added.
# Needs the stacks built (tests/stacks/*/install.sh, run by tests/deps.sh); skips those missing.
set -u
cd "$(dirname "$0")/../.." || exit 1
exec node tests/bench/stacks_bench.mjs
