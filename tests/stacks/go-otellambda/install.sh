#!/usr/bin/env bash
# go-otellambda: builds the go-otellambda test function from go.mod/go.sum
# (Go module proxy; the module cache is Go's default) into build/stacks/go-otellambda/bootstrap, with the
# machine's Go (GOTOOLCHAIN=local). Idempotent: a stamp holds the hash of the sources. Without a
# Go as new as go.mod asks for, it writes build/stacks/go-otellambda/unavailable and the suites skip it.
set -eu
cd "$(dirname "$0")/../../.."
src=tests/stacks/go-otellambda
out=build/stacks/go-otellambda
want=$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -d' ' -f1)
if [ "$(cat "$out/.installed" 2>/dev/null)" = "$want" ] && [ -x "$out/bootstrap" ]; then
    exit 0
fi
mkdir -p "$out"
rm -f "$out/unavailable"
need=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$src/go.mod")
have=$(go env GOVERSION 2>/dev/null | sed 's/^go//') || have=
if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
    echo "deps: go-otellambda needs Go >= $need (found: ${have:-none}); skipped" | tee "$out/unavailable" >&2
    exit 0
fi
echo "deps: building the go-otellambda test function"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
(cd "$src" && go build -tags lambda.norpc -trimpath -o "../../../$out/bootstrap" .)
echo "$want" >"$out/.installed"
