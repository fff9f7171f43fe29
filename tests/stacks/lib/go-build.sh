#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds one Go test program of tests/stacks/<name>/ from its go.mod/go.sum (Go module proxy; the
# module cache is Go's default) into build/stacks/<name>/<binary>, with the machine's Go
# (GOTOOLCHAIN=local). Idempotent: a stamp holds the hash of the sources. Without a Go as new as
# go.mod asks for, it writes build/stacks/<name>/unavailable and the suites skip that stack.
#   tests/stacks/lib/go-build.sh NAME BINARY "WHAT (for the log)" [go build flags...]
set -eu
cd "$(dirname "$0")/../../.."
name=$1 bin=$2 what=$3
shift 3
src=tests/stacks/$name
out=build/stacks/$name
want=$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -d' ' -f1)
if [ "$(cat "$out/.installed" 2>/dev/null)" = "$want" ] && [ -x "$out/$bin" ]; then
    exit 0
fi
mkdir -p "$out"
rm -f "$out/unavailable"
need=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$src/go.mod")
have=$(go env GOVERSION 2>/dev/null | sed 's/^go//') || have=
if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
    echo "deps: $name needs Go >= $need (found: ${have:-none}); skipped" | tee "$out/unavailable" >&2
    exit 0
fi
echo "deps: building $what"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
(cd "$src" && go build "$@" -trimpath -o "../../../$out/$bin" .)
echo "$want" >"$out/.installed"
