#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Real Java (runtime interface client + OpenTelemetry Java agent, JDK 17 and the newest LTS) and
# Go (aws-lambda-go + otellambda, default and xrayconfig) handler stacks through the real
# tracebridge extension, one row per stack x trigger (TAP). Stacks: tests/stacks/*/install.sh
# (run by tests/deps.sh). Results: tests/out/stack-results/<stack>.jsonl.
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/stacks_jvmgo.test.mjs
