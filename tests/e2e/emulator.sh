#!/usr/bin/env bash
# The local Lambda emulator with the real Node runtime client and no tracebridge (TAP).
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/emulator.test.mjs
