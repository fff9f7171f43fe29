#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The local Lambda emulator with the real Node runtime client and no tracebridge (TAP).
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/emulator.test.mjs
