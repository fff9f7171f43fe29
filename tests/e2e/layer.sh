#!/usr/bin/env bash
# The Lambda layer zips (make layer): unzipped into a temporary /opt layout, the binaries are
# fully static, the packaging is deterministic, the commands work from there (arm64 under
# qemu-user), and the daemon runs from the layer inside the local Lambda emulator.
#
# Building the layer's dependencies from source takes minutes, so this suite never does it
# unasked: it rebuilds the zips only when the dependencies are already cached in build/layer
# (relinking is seconds) or when TB_LAYER_TEST=1, else it tests zips already there, else skips.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${TB_BUILD:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
ok() { # status description
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
check() { # description command...
    local d=$1
    shift
    "$@"
    ok $? "$d"
}
skip() { # description
    n=$((n + 1))
    echo "ok $n - # SKIP $1"
}
finish() {
    echo "1..$n"
    exit 0
}

# The static binary does not change with the sanitizer build: test it once per `make test`.
case $B in
*asan*)
    skip "layer is tested in the plain build's e2e run"
    finish
    ;;
esac

deps_cached() { # arch: every dependency of that architecture already built
    [ -f "build/layer/$1/deps.ok" ]
}

# ---- get the zips ----
arches=()
for a in x86_64 arm64; do
    if [ "${TB_LAYER_TEST:-0}" = 1 ] || deps_cached "$a"; then arches+=("$a"); fi
done
if [ ${#arches[@]} -gt 0 ]; then
    layer/build-layer.sh "${arches[@]}" >"$T/build.log" 2>&1
    rc=$?
    ok $rc "make layer (${arches[*]}) builds"
    [ $rc = 0 ] || sed 's/^/# /' "$T/build.log" | tail -20
    grep -E 'bytes stripped|\.zip|done in' "$T/build.log" | sed 's/^/# /'
fi
zips=()
for a in x86_64 arm64; do
    [ -f "build/tracebridge-layer-$a.zip" ] && zips+=("$a")
done
if [ ${#zips[@]} -eq 0 ]; then
    skip "no layer zip (run make layer, or TB_LAYER_TEST=1 to build it here)"
    finish
fi

# ---- per architecture: contents, packaging, static linking, commands ----
run_bin() { # arch command...: runs a layer binary natively or under qemu-user
    local arch=$1
    shift
    if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
        qemu-aarch64-static "$@"
    else
        "$@"
    fi
}

check_packaging() { # arch zip opt
    local arch=$1 zip=$2 opt=$3 want names
    want=$'extensions/tracebridge'
    [ -f wrapper/tracebridge-wrapper ] && want=$'extensions/tracebridge\ntracebridge-wrapper'
    names=$(unzip -Z1 "$zip")
    ok "$([ "$names" = "$want" ] && echo 0 || echo 1)" \
        "$arch: zip holds exactly: $(echo "$want" | tr '\n' ' ')(sorted)"
    ok "$(unzip -Z -T "$zip" | awk '/^[-d]r/ && $7 != "20200101.000000" { bad = 1 } END { print bad + 0 }')" \
        "$arch: every entry has the fixed timestamp"
    rm -rf "$opt" && mkdir -p "$opt" && unzip -q "$zip" -d "$opt"
    ok "$([ "$(stat -c %a "$opt/extensions/tracebridge")" = 755 ] && echo 0 || echo 1)" \
        "$arch: extensions/tracebridge is mode 755 after unzip"
    if [ -f wrapper/tracebridge-wrapper ]; then
        ok "$([ "$(stat -c %a "$opt/tracebridge-wrapper")" = 755 ] &&
            cmp -s "$opt/tracebridge-wrapper" wrapper/tracebridge-wrapper && echo 0 || echo 1)" \
            "$arch: tracebridge-wrapper is the repo's, mode 755"
    fi
}

check_static() { # arch binary
    local arch=$1 bin=$2 machine size
    case $arch in
    x86_64) machine='x86-64' ;;
    arm64) machine='aarch64' ;;
    esac
    ok "$(readelf -d "$bin" 2>&1 | grep -q 'There is no dynamic section' && echo 0 || echo 1)" \
        "$arch: readelf -d: no dynamic section"
    ok "$(readelf -l "$bin" | grep -q INTERP && echo 1 || echo 0)" "$arch: no ELF interpreter"
    ok "$(file -b "$bin" | grep -q "$machine.*statically linked" && echo 0 || echo 1)" \
        "$arch: file(1): $(file -b "$bin" | cut -d, -f1-2,4-6)"
    size=$(stat -c %s "$bin")
    if [ "$arch" = x86_64 ]; then
        ok "$([ "$size" -lt $((2 * 1024 * 1024)) ] && echo 0 || echo 1)" \
            "$arch: $size bytes, under the 2 MB budget"
    fi
}

check_commands() { # arch binary
    local arch=$1 bin=$2 fx=tests/fixtures/sqs_esm_single.json
    local span=1111111111111111 trace=0af7651916cd43dd8448eb211c80319c
    if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ] && ! command -v qemu-aarch64-static >/dev/null; then
        skip "$arch: qemu-aarch64-static not installed: commands not run"
        return
    fi
    run_bin "$arch" "$bin" env-doc >"$T/envdoc" 2>&1
    ok $? "$arch: env-doc runs"
    if [ -x "$B/tracebridge" ]; then
        check "$arch: env-doc equals the dynamic build's" cmp -s "$T/envdoc" <("$B/tracebridge" env-doc)
    fi
    ok "$([ "$(grep -c '^| `' "$T/envdoc")" -ge 20 ] && echo 0 || echo 1)" "$arch: env-doc lists the variables"
    run_bin "$arch" "$bin" rewrite --span-id "$span" <"$fx" >"$T/out" 2>"$T/err"
    ok $? "$arch: rewrite of an SQS event exits 0"
    check "$arch: promoted traceparent in headers, our span id as parent" \
        grep -q "\"traceparent\":\"00-$trace-$span-01\"" "$T/out"
    check "$arch: stderr report names the sqs carrier" grep -q '"carrier":"sqs' "$T/err"
    if [ -x "$B/tracebridge" ]; then
        "$B/tracebridge" rewrite --span-id "$span" <"$fx" >"$T/want" 2>/dev/null
        check "$arch: rewrite output byte-identical to the dynamic build's" cmp -s "$T/out" "$T/want"
    fi
    printf '{"a":1' | run_bin "$arch" "$bin" rewrite >"$T/out" 2>/dev/null
    ok "$([ "$(cat "$T/out")" = '{"a":1' ] && echo 0 || echo 1)" "$arch: malformed JSON passes unchanged"
}

emulator_checks() { # opt
    local opt=$1
    if ! command -v node >/dev/null || [ ! -d tests/node/node_modules/aws-lambda-ric ]; then
        skip "emulator run of the layer: node or the npm test peers missing (tests/deps.sh)"
        return
    fi
    # Its TAP lines continue this suite's numbering.
    node tests/e2e/layer_emulator.test.mjs "$opt" >"$T/emu.tap" 2>&1
    local rc=$? line
    while IFS= read -r line; do
        case $line in
        'ok '* | 'not ok '*)
            n=$((n + 1))
            echo "$line" | sed -E "s/^(not )?ok [0-9]+/\1ok $n/"
            ;;
        '#'*) echo "$line" ;;
        esac
    done <"$T/emu.tap"
    ok $rc "layer emulator test exits 0"
}

# The daemon's whole cycle against bench_footprint's fake Lambda (Extensions + Runtime API, OTLP
# sink, a runtime client going through the proxy): register, invocations, exports, SHUTDOWN, exit 0.
check_lifecycle() { # arch binary
    local arch=$1 bin=$2 run=$2
    if [ ! -x "$B/bench/bench_footprint" ]; then
        skip "$arch: lifecycle: $B/bench/bench_footprint not built"
        return
    fi
    if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
        command -v qemu-aarch64-static >/dev/null || {
            skip "$arch: lifecycle: no qemu-aarch64-static"
            return
        }
        run=$T/qemu-$arch
        printf '#!/bin/sh\nexec qemu-aarch64-static "%s" "$@"\n' "$bin" >"$run"
        chmod +x "$run"
    fi
    "$B/bench/bench_footprint" "$run" --runs 3 --invokes 20 --event-kb 64 >"$T/fp" 2>&1
    ok $? "$arch: daemon registers, relays 20 invocations through its proxy, exits 0 on SHUTDOWN"
    ok "$(awk '$1 == "otlp_exports" && $2 >= 20 { f = 1 } END { print f ? 0 : 1 }' "$T/fp")" \
        "$arch: one OTLP export per invocation reached the sink"
    grep -E 'register_ms_median|idle_rss|exports' "$T/fp" | sed "s/^/# $arch: /"
}

for a in "${zips[@]}"; do
    opt=$T/$a/opt
    check_packaging "$a" "build/tracebridge-layer-$a.zip" "$opt"
    check_static "$a" "$opt/extensions/tracebridge"
    check_commands "$a" "$opt/extensions/tracebridge"
    check_lifecycle "$a" "$opt/extensions/tracebridge"
done

# ---- the daemon from the layer, inside the local Lambda emulator ----
if [ -f tests/emulator/emulator.mjs ] && [ -f "$T/x86_64/opt/extensions/tracebridge" ]; then
    emulator_checks "$T/x86_64/opt"
else
    skip "emulator run of the layer: needs the x86_64 zip and tests/emulator"
fi
finish
