#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Real Python and Node handler stacks (tests/stacks/*) through tracebridge, under the project's
# emulator and the AWS Lambda RIE (TAP). Rows also go to tests/out/stack-results/<stack>.jsonl.
# It runs in a network namespace of its own with only loopback when the machine allows one, so
# nothing in the stacks (the ADOT distros' UDP exporter, resource detectors) can reach anything
# but this machine's loopback.
cd "$(dirname "$0")/../.." || exit 1
if unshare -n true 2>/dev/null && command -v ip >/dev/null 2>&1; then
    exec unshare -n sh -c 'ip link set lo up && exec node tests/e2e/stacks_pynode.test.mjs'
fi
echo "# no private network namespace here: running on the host's network (loopback addresses only)"
exec node tests/e2e/stacks_pynode.test.mjs
