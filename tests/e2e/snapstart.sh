#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SnapStart restore (id reseed) and freeze/thaw (exporter connections) with the real
# tracebridge extension in the emulator's --snapstart mode (TAP).
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/snapstart.test.mjs
