#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# wrapper/tracebridge-wrapper: fail-open paths, the proxy path, chaining, exact argument passing.
set -u
cd "$(dirname "$0")/../.." || exit 1
W=$PWD/wrapper/tracebridge-wrapper
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
ok() { # condition-result description
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
check() { # description, command...
    local d=$1
    shift
    "$@"
    ok $? "$d"
}

# A fake runtime: prints its env of interest and each argument on its own NUL-separated record.
cat >"$T/runtime" <<'RT'
#!/bin/sh
printf 'API=%s\n' "${AWS_LAMBDA_RUNTIME_API-<unset>}"
printf 'ORIG=%s\n' "${TRACEBRIDGE_ORIGINAL_RUNTIME_API-<unset>}"
printf 'ARGC=%s\n' "$#"
printf 'OTLP=%s\n' "${OTEL_EXPORTER_OTLP_TRACES_ENDPOINT-<unset>}"
printf 'OTLP_ORIG=%s\n' "${TRACEBRIDGE_ORIGINAL_OTLP_TRACES_ENDPOINT-<unset>}"
for a in "$@"; do printf 'ARG=[%s]\n' "$a"; done
RT
chmod +x "$T/runtime"

run() { # ready-file-content-or-ABSENT, extra env..., -- args...
    local content=$1
    shift
    rm -f "$T/ready"
    [ "$content" = ABSENT ] || printf '%s' "$content" >"$T/ready"
    env TRACEBRIDGE_READY_FILE="$T/ready" AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001 "$@" \
        >"$T/out" 2>"$T/err"
}

# 1. Fail open: no ready file.
run ABSENT "$W" "$T/runtime" a
check "no ready file: AWS_LAMBDA_RUNTIME_API untouched" grep -qx 'API=127.0.0.1:9001' "$T/out"
check "no ready file: original not recorded" grep -qx 'ORIG=<unset>' "$T/out"
ok "$([ "$(wc -l <"$T/err")" -eq 1 ] && grep -q 'tracebridge-wrapper:.*missing' "$T/err"; echo $?)" \
    "no ready file: exactly one stderr line"
check "no ready file: runtime still runs with its argument" grep -qx 'ARG=\[a\]' "$T/out"

# 2. Fail open: invalid contents (never copied into the environment).
for bad in '0.0.0.0:9011' '127.0.0.1:' '127.0.0.1:90x1' '127.0.0.1:99999' '127.0.0.1:0' \
    '127.0.0.1:09011' 'localhost:9011' '127.0.0.1:9011;rm -rf /' ' 127.0.0.1:9011' \
    '127.0.0.1:9011 ' "$(printf '127.0.0.1:9011\r')" '[::1]:9011' '127.0.0.1:123456789012'; do
    run "$bad" "$W" "$T/runtime"
    ok "$(grep -qx 'API=127.0.0.1:9001' "$T/out" && [ "$(wc -l <"$T/err")" -eq 1 ] &&
        grep -q 'ignoring' "$T/err"
        echo $?)" "invalid ready file '$(printf '%q' "$bad")': untouched, one line on stderr"
done
run "" "$W" "$T/runtime"
check "empty ready file: untouched" grep -qx 'API=127.0.0.1:9001' "$T/out"

# 3. Valid file (with and without trailing newline).
run '127.0.0.1:9011' "$W" "$T/runtime"
check "valid: AWS_LAMBDA_RUNTIME_API points at the proxy" grep -qx 'API=127.0.0.1:9011' "$T/out"
check "valid: original kept in TRACEBRIDGE_ORIGINAL_RUNTIME_API" grep -qx 'ORIG=127.0.0.1:9001' "$T/out"
ok "$([ -s "$T/err" ]; echo $((1 - $?)))" "valid: nothing on stderr"
run "$(printf '127.0.0.1:65535\nextra line')" "$W" "$T/runtime"
check "valid with newline: first line used" grep -qx 'API=127.0.0.1:65535' "$T/out"
printf '127.0.0.1:4242' >"$T/ready"
TRACEBRIDGE_READY_FILE="$T/ready" "$W" "$T/runtime" >"$T/out" 2>"$T/err"
check "AWS_LAMBDA_RUNTIME_API unset before: set to the proxy" grep -qx 'API=127.0.0.1:4242' "$T/out"

# 4. Arguments: spaces, quotes, globs, empty, newlines, dashes — preserved exactly.
# shellcheck disable=SC2016 # the literal '$HOME' is the point
args=('a b' "it's" '"dq"' '*' '$HOME' '' '-e' '--' $'two\nlines' '\\back' '[x]?')
run '127.0.0.1:9011' "$W" "$T/runtime" "${args[@]}"
{
    echo "API=127.0.0.1:9011"
    echo "ORIG=127.0.0.1:9001"
    echo "ARGC=${#args[@]}"
    echo "OTLP=<unset>"
    echo "OTLP_ORIG=<unset>"
    for a in "${args[@]}"; do printf 'ARG=[%s]\n' "$a"; done
} >"$T/want"
check "arguments preserved exactly (spaces, quotes, globs, empty, newline)" cmp -s "$T/want" "$T/out"

# 5. Chaining: the next wrapper gets the runtime command line unchanged, with the proxy env.
cat >"$T/next-wrapper" <<'NW'
#!/bin/sh
echo "NEXT-WRAPPER"
exec "$@"
NW
chmod +x "$T/next-wrapper"
run '127.0.0.1:9011' TRACEBRIDGE_NEXT_WRAPPER="$T/next-wrapper" "$W" "$T/runtime" "${args[@]}"
{ echo NEXT-WRAPPER; cat "$T/want"; } >"$T/want2"
check "chaining: next wrapper runs first, then the runtime with exact arguments" cmp -s "$T/want2" "$T/out"
run ABSENT TRACEBRIDGE_NEXT_WRAPPER="$T/next-wrapper" "$W" "$T/runtime" x
check "chaining also on the fail-open path" grep -qx NEXT-WRAPPER "$T/out"
# A next wrapper that cannot run must not keep the runtime from starting.
for nw in "$T/no-such-wrapper" "$T" "$T/runtime-not-exec"; do
    : >"$T/runtime-not-exec"
    run '127.0.0.1:9011' TRACEBRIDGE_NEXT_WRAPPER="$nw" "$W" "$T/runtime" y
    ok "$(grep -qx 'ARG=\[y\]' "$T/out" && grep -qx 'API=127.0.0.1:9011' "$T/out" &&
        [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q 'not an executable file' "$T/err"
        echo $?)" "next wrapper $(basename "$nw") unusable: the runtime starts anyway, one line"
done

# 5b. A relative TRACEBRIDGE_READY_FILE is not used (the extension falls back to the default
# too): the wrapper looks at the default path, never at a file relative to its directory.
(cd "$T" && printf '127.0.0.1:4999' >rel.ready &&
    env TRACEBRIDGE_READY_FILE=rel.ready AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001 "$W" "$T/runtime" \
        >"$T/out" 2>"$T/err")
ok "$(! grep -qx 'API=127.0.0.1:4999' "$T/out" && grep -q 'ARGC=0' "$T/out"
    echo $?)" "relative ready file: not read (the default path is)"

# 6. exec: the runtime replaces the wrapper (same pid, no leftover shell).
cat >"$T/pid" <<'PR'
#!/bin/sh
echo "$$"
PR
chmod +x "$T/pid"
printf '127.0.0.1:9011' >"$T/ready"
out=$(TRACEBRIDGE_READY_FILE="$T/ready" sh -c 'echo $$; exec "$0" "$1"' "$W" "$T/pid")
ok "$([ "$(echo "$out" | sed -n 1p)" = "$(echo "$out" | sed -n 2p)" ]; echo $?)" \
    "wrapper execs the runtime (same pid)"

# 7. Exit status of the runtime is the wrapper's.
TRACEBRIDGE_READY_FILE="$T/ready" "$W" sh -c 'exit 7' 2>/dev/null
ok "$([ $? -eq 7 ]; echo $?)" "runtime exit status passes through"

# 8. Fail open is quick: a missing file costs at most a few tens of ms.
start=$(date +%s%N)
run ABSENT "$W" true
ms=$((($(date +%s%N) - start) / 1000000))
ok "$([ "$ms" -lt 500 ]; echo $?)" "missing ready file delays the runtime only briefly (${ms} ms)"

# 9. shellcheck (POSIX sh).
check "shellcheck --shell=sh is clean" shellcheck --shell=sh "$W"
for shell in dash bash; do
    command -v "$shell" >/dev/null || continue
    run '127.0.0.1:9011' "$shell" "$W" "$T/runtime" "${args[@]}"
    check "same result under $shell" cmp -s "$T/want" "$T/out"
done
# 10. The handler's OTel SDK is pointed at the local receiver ("otlp=" line), runtime only.
R2=$(printf '127.0.0.1:9011\notlp=127.0.0.1:4318')
run "$R2" "$W" "$T/runtime"
check "otlp line: SDK traces endpoint is the local receiver" \
    grep -qx 'OTLP=http://127.0.0.1:4318/v1/traces' "$T/out"
check "otlp line: proxy still used" grep -qx 'API=127.0.0.1:9011' "$T/out"
run "$R2" OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://backend.example/v1/traces "$W" "$T/runtime"
check "otlp line: a configured endpoint is replaced for the runtime" \
    grep -qx 'OTLP=http://127.0.0.1:4318/v1/traces' "$T/out"
check "otlp line: and kept in TRACEBRIDGE_ORIGINAL_OTLP_TRACES_ENDPOINT" \
    grep -qx 'OTLP_ORIG=https://backend.example/v1/traces' "$T/out"
run "$R2" TRACEBRIDGE_SDK_REDIRECT=off "$W" "$T/runtime"
check "TRACEBRIDGE_SDK_REDIRECT=off: SDK endpoint untouched" grep -qx 'OTLP=<unset>' "$T/out"
for v in false 0 NO Off; do
    run "$R2" TRACEBRIDGE_SDK_REDIRECT=$v "$W" "$T/runtime"
    check "TRACEBRIDGE_SDK_REDIRECT=$v (the extension's boolean spellings): untouched" \
        grep -qx 'OTLP=<unset>' "$T/out"
done
run "$R2" OTEL_EXPORTER_OTLP_PROTOCOL=grpc "$W" "$T/runtime"
check "gRPC SDK: endpoint untouched (the receiver speaks HTTP)" grep -qx 'OTLP=<unset>' "$T/out"
check "gRPC SDK: says so on stderr" grep -q 'not HTTP' "$T/err"
run "$R2" OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json "$W" \
    "$T/runtime"
check "traces protocol http/json wins over a gRPC default" \
    grep -qx 'OTLP=http://127.0.0.1:4318/v1/traces' "$T/out"
for bad in 'otlp=127.0.0.1:0' 'otlp=0.0.0.0:4318' 'otlp=127.0.0.1:4318/x' 'otel=127.0.0.1:4318' \
    'otlp=127.0.0.1:4318;x'; do
    run "$(printf '127.0.0.1:9011\n%s' "$bad")" "$W" "$T/runtime"
    ok "$(grep -qx 'OTLP=<unset>' "$T/out" && grep -qx 'API=127.0.0.1:9011' "$T/out"
        echo $?)" "invalid receiver line '$bad': SDK untouched, proxy still used"
done
run "$(printf '0.0.0.0:9011\notlp=127.0.0.1:4318')" "$W" "$T/runtime"
check "no valid proxy line: SDK not redirected either" grep -qx 'OTLP=<unset>' "$T/out"
echo "1..$n"
