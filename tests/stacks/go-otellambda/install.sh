#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# go-otellambda: the Go test function (aws-lambda-go + otellambda), built by the shared Go builder.
exec "$(dirname "$0")/../lib/go-build.sh" go-otellambda bootstrap "the go-otellambda test function" -tags lambda.norpc
