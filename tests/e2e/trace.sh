#!/usr/bin/env bash
# Trace join with the real tracebridge extension, end to end (TAP).
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/trace.test.mjs
