#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the node-adot stack (package-lock.json, npm ci) only when missing or when the lock
# file changed. The runtime client it runs with is tests/node's aws-lambda-ric (tests/deps.sh).
set -eu
cd "$(dirname "$0")"
stamp=node_modules/.tracebridge-lock
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
    echo "deps: installing node-adot stack (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    cp package-lock.json "$stamp"
fi
