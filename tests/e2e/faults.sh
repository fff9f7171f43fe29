#!/usr/bin/env bash
# Faults, load and hostile input with the real tracebridge extension, end to end (TAP).
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/faults.test.mjs
