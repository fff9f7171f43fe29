#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fail open on settings that would break the function, with the real extension, wrapper and
# runtime client in the emulator (TAP).
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/settings.test.mjs
