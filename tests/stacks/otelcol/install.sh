#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# otelcol: the test OpenTelemetry Collector (core components, pinned in go.mod), built by the
# shared Go builder.
exec "$(dirname "$0")/../lib/go-build.sh" otelcol tb-otelcol "the test OpenTelemetry Collector (core components, pinned in go.mod)"
