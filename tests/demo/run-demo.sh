#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make demo: see tests/demo/demo.mjs. Needs `make all` (the Makefile builds first) and the npm
# test peers (tests/deps.sh). Exit status 0 only if the trace is joined.
cd "$(dirname "$0")/../.." || exit 1
exec node tests/demo/demo.mjs "$@"
