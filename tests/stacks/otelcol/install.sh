#!/usr/bin/env bash
# otelcol: builds the test OpenTelemetry Collector (core components, pinned in go.mod) from go.mod/go.sum
# (Go module proxy; the module cache is Go's default) into build/stacks/otelcol/tb-otelcol, with the
# machine's Go (GOTOOLCHAIN=local). Idempotent: a stamp holds the hash of the sources. Without a
# Go as new as go.mod asks for, it writes build/stacks/otelcol/unavailable and the suites skip it.
set -eu
cd "$(dirname "$0")/../../.."
src=tests/stacks/otelcol
out=build/stacks/otelcol
want=$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -d' ' -f1)
if [ "$(cat "$out/.installed" 2>/dev/null)" = "$want" ] && [ -x "$out/tb-otelcol" ]; then
    exit 0
fi
mkdir -p "$out"
rm -f "$out/unavailable"
need=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$src/go.mod")
have=$(go env GOVERSION 2>/dev/null | sed 's/^go//') || have=
if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
    echo "deps: otelcol needs Go >= $need (found: ${have:-none}); skipped" | tee "$out/unavailable" >&2
    exit 0
fi
echo "deps: building the test OpenTelemetry Collector (core components, pinned in go.mod)"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
(cd "$src" && go build  -trimpath -o "../../../$out/tb-otelcol" .)
echo "$want" >"$out/.installed"
