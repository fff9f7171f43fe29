#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The async carriers beyond SQS/SNS/EventBridge (Kafka, EventBridge → SQS, Datadog producers,
# Kinesis, DynamoDB Streams, Step Functions) through the real extension and the real Node stack.
# TB_VALGRIND=1: the extension runs under valgrind (tests/e2e/lib/harness.mjs).
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/carriers.test.mjs
