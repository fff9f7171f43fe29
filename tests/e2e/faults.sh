#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Faults, load and hostile input with the real tracebridge extension, end to end (TAP).
# TB_VALGRIND=1: the extension runs under valgrind (tests/e2e/lib/harness.mjs), with the
# suite's quick set (TB_QUICK=1 alone gives the quick set without valgrind).
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/faults.test.mjs
