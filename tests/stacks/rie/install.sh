#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the AWS Lambda Runtime Interface Emulator (cmd/aws-lambda-rie of the Go module pinned in
# go.mod/go.sum, from the Go module proxy) into .installed/aws-lambda-rie, only when missing or
# when go.sum changed. It needs the local Go toolchain at the module's go version (go.mod) or
# newer (GOTOOLCHAIN=local: no toolchain download); without one it says so and builds nothing,
# and the suites that use RIE skip those rows and say why.
set -eu
cd "$(dirname "$0")"
out=.installed/aws-lambda-rie
stamp=.installed/go.sum
if [ -x "$out" ] && cmp -s go.sum "$stamp" 2>/dev/null; then
    exit 0
fi
want=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
have=$(go env GOVERSION 2>/dev/null | sed 's/^go//') || have=
if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" != "$want" ]; then
    echo "deps: not building the AWS Lambda RIE: it needs Go >= $want, this machine has ${have:-no Go}" >&2
    exit 0
fi
echo "deps: building the AWS Lambda Runtime Interface Emulator (go build, Go module proxy)"
mkdir -p .installed
GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -o "$out.tmp" \
    github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
mv "$out.tmp" "$out"
cp go.sum "$stamp"
