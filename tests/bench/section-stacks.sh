#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Real handler stacks (tests/stacks/*) with and without tracebridge: warm invocation time and
# cold start, side by side in one run (tests/bench/bench_stacks.mjs). In a network namespace with
# only loopback when the machine allows one (the ADOT distros send UDP to the X-Ray daemon port).
set -u
cd "$(dirname "$0")/../.." || exit 1
if unshare -n true 2>/dev/null && command -v ip >/dev/null 2>&1; then
    exec unshare -n sh -c 'ip link set lo up && exec node tests/bench/bench_stacks.mjs "$@"' sh "$@"
fi
exec node tests/bench/bench_stacks.mjs "$@"
