#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Telemetry API with the real tracebridge extension, end to end (TAP).
# TB_VALGRIND=1: the extension runs under valgrind (tests/e2e/lib/harness.mjs), quick set.
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/telemetry.test.mjs
