#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# proxyd between the real Node runtime client and the emulator: byte-identical results (TAP).
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/proxy.test.mjs
