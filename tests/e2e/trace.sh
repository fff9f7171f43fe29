#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Trace join with the real tracebridge extension, end to end (TAP).
# TB_VALGRIND=1: the extension runs under valgrind (tests/e2e/lib/harness.mjs).
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/trace.test.mjs
