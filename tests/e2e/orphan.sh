#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runtime /next connections closing while they wait, through the real extension (TAP).
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/orphan.test.mjs
