#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tracebridge → the real OpenTelemetry Collector (core components, tests/stacks/otelcol) → the
# test sink, OTLP/HTTP protobuf and JSON: the spans arrive intact (TAP).
cd "$(dirname "$0")/../.." || exit 1
exec node tests/e2e/collector.test.mjs
