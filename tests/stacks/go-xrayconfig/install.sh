#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# go-xrayconfig: the Go test function (aws-lambda-go + otellambda), built by the shared Go builder.
exec "$(dirname "$0")/../lib/go-build.sh" go-xrayconfig bootstrap "the go-xrayconfig test function" -tags lambda.norpc
