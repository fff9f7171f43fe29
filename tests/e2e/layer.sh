#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Lambda layer zips (make layer): unzipped into a temporary /opt layout, the binaries are
# fully static, the packaging is deterministic, the bill of materials and notices are complete
# and every bundled licence is allowed, the commands work from there (arm64 under qemu-user),
# the daemon exports over HTTPS (mbedTLS) to a server signed by the CA it is given and refuses
# others, and it runs from the layer inside the local Lambda emulator.
#
# Building the layer's dependencies from source takes minutes, so this suite never does it
# unasked: it rebuilds the zips only when the dependencies are already cached in build/layer
# (relinking is seconds) or when TB_LAYER_TEST=1, else it tests zips already there, else skips.
# Reproducibility: every rebuilt zip is rebuilt once more from clean tracebridge objects and
# compared byte for byte; with TB_LAYER_TEST=1 (CI) or TB_LAYER_REPRO=full, the x86_64 zip is
# also built a second time from scratch (fresh apt state, sources and dependency builds) in a
# copy of the tree at another path, and the two zips must be identical.
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
    grep -E 'source:|download failed|bytes stripped|\.zip|bundles|done in' "$T/build.log" | sed 's/^/# /'
    check "the build checked every bundled licence (a 'bundles' line per package)" \
        grep -q 'bundles mbedtls' "$T/build.log"
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
    want=$want$'\ntracebridge/LICENSE\ntracebridge/THIRD-PARTY-NOTICES\ntracebridge/sbom.spdx.json'
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
    local rc=$?
    relay_tap "$T/emu.tap"
    ok $rc "layer emulator test exits 0"
}

relay_tap() { # file: its TAP lines continue this suite's numbering
    local line
    while IFS= read -r line; do
        case $line in
        'ok '* | 'not ok '*)
            n=$((n + 1))
            echo "$line" | sed -E "s/^(not )?ok( [0-9]+)?/\1ok $n/"
            ;;
        '#'*) echo "$line" ;;
        esac
    done <"$1"
}

# The SBOM and notices in the zip (tests/e2e/lib/sbom_check.mjs: SPDX fields, checksums, every
# licence on its own allow-list, every licence text in the notices).
check_bom() { # arch opt
    if ! command -v node >/dev/null; then
        skip "$1: SBOM check needs node"
        return
    fi
    node tests/e2e/lib/sbom_check.mjs "$2" "$1" >"$T/sbom.tap" 2>&1
    local rc=$? v=${TB_SPDX_VALIDATOR:-$(command -v pyspdxtools)}
    relay_tap "$T/sbom.tap"
    ok $rc "$1: SBOM and notices check exits 0"
    # The SPDX project's own validator, when installed (PyPI: spdx-tools==0.8.3).
    if [ -n "$v" ]; then
        "$v" -i "$2/tracebridge/sbom.spdx.json" >"$T/spdx.out" 2>&1
        rc=$?
        ok $rc "$1: pyspdxtools validates tracebridge/sbom.spdx.json"
        [ $rc = 0 ] || sed 's/^/# /' "$T/spdx.out" | head -10
    else
        skip "$1: SPDX validator: pyspdxtools not installed (pip install spdx-tools==0.8.3)"
    fi
}

# A command line that runs a layer binary of that architecture (qemu-user for arm64 on x86_64).
runner() { # arch binary: prints the path to exec, or fails
    if [ "$1" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
        command -v qemu-aarch64-static >/dev/null || return 1
        printf '#!/bin/sh\nexec qemu-aarch64-static "%s" "$@"\n' "$2" >"$T/qemu-$1"
        chmod +x "$T/qemu-$1"
        echo "$T/qemu-$1"
    else
        echo "$2"
    fi
}

# HTTPS export from the static binary (curl + mbedTLS) to a local OTLP sink: with a server
# certificate signed by the CA given in OTEL_EXPORTER_OTLP_CERTIFICATE the spans arrive; a
# server signed by another CA, or one whose certificate names another host, gets nothing
# (the extension connects, refuses, and its invocations go on).
https_case() { # arch run server-cert-name invokes: sets HS_OUT (sink facts) and HS_RC
    local sink_pid port=""
    rm -f "$T/port"
    node tests/e2e/lib/https_sink.mjs "$T/pki/$3.key" "$T/pki/$3.pem" "$T/port" >"$T/sink.out" 2>&1 &
    sink_pid=$!
    for _ in $(seq 50); do
        port=$(cat "$T/port" 2>/dev/null) && [ -n "$port" ] && break
        sleep 0.1
    done
    OTEL_EXPORTER_OTLP_CERTIFICATE=$T/pki/ca.pem "$B/bench/bench_footprint" "$2" --runs 1 \
        --invokes "$4" --event-kb 4 --otlp-endpoint "https://localhost:$port" >"$T/hs.fp" 2>&1
    HS_RC=$?
    kill -TERM "$sink_pid" 2>/dev/null
    wait "$sink_pid" 2>/dev/null
    HS_OUT=$(cat "$T/sink.out")
}
sink_val() { awk -v k="$1" '$1 == k { print $2 }' <<<"$HS_OUT"; }

check_https() { # arch binary
    local arch=$1 run
    if ! command -v node >/dev/null || ! command -v openssl >/dev/null || [ ! -x "$B/bench/bench_footprint" ]; then
        skip "$arch: HTTPS export: needs node, openssl and $B/bench/bench_footprint"
        return
    fi
    run=$(runner "$arch" "$2") || {
        skip "$arch: HTTPS export: no qemu-aarch64-static"
        return
    }
    [ -f "$T/pki/ca.pem" ] || tests/e2e/lib/make_certs.sh "$T/pki" || {
        ok 1 "openssl makes the test CA and certificates"
        return
    }
    https_case "$arch" "$run" server 20
    ok $HS_RC "$arch: HTTPS: 20 invocations, exit 0 on SHUTDOWN (OTEL_EXPORTER_OTLP_CERTIFICATE = test CA)"
    ok "$([ "$(sink_val posts)" -ge 20 ] 2>/dev/null && echo 0 || echo 1)" \
        "$arch: HTTPS: spans exported to the server signed by that CA ($(sink_val posts) posts, $(grep '^tls ' <<<"$HS_OUT" | cut -d' ' -f2-))"
    ok "$(grep -q '^tls TLSv1\.[23] ' <<<"$HS_OUT" && echo 0 || echo 1)" "$arch: HTTPS: TLS 1.2 or newer"
    grep -E 'idle_rss|rss_after|invocation_ms_mean' "$T/hs.fp" | sed "s/^/# $arch: https: /"
    local bad
    for bad in foreign wrongname; do
        https_case "$arch" "$run" "$bad" 5
        ok "$([ "$HS_RC" = 0 ] && [ "$(sink_val posts)" = 0 ] &&
            [ $(($(sink_val tls_sessions) + $(sink_val tls_errors))) -ge 1 ] && echo 0 || echo 1)" \
            "$arch: HTTPS: a server with the $bad certificate is refused: nothing sent, invocations unaffected ($(sink_val tls_sessions) sessions, $(sink_val tls_errors) handshake errors, bench status $HS_RC)"
    done
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
    check_bom "$a" "$opt"
    check_commands "$a" "$opt/extensions/tracebridge"
    check_lifecycle "$a" "$opt/extensions/tracebridge"
    check_https "$a" "$opt/extensions/tracebridge"
done

# ---- reproducibility ----
# (a) every zip built above, rebuilt from clean tracebridge objects (same dependency builds);
# (b) with TB_LAYER_TEST=1 or TB_LAYER_REPRO=full: the x86_64 zip built from nothing (fresh
#     apt state, source downloads, dependency builds) in a copy of the tree at another path.
full_repro() {
    local copy=$T/repro/tracebridge-copy
    mkdir -p "$copy"
    git ls-files -co --exclude-standard -z | grep -zv '^tests/node/node_modules/' |
        xargs -0 cp --parents -t "$copy" 2>/dev/null
    [ -f "$copy/layer/build-layer.sh" ] || return 1
    (cd "$copy" && env -u TB_LAYER_DIR -u TB_LAYER_OUT layer/build-layer.sh x86_64) >"$T/repro.log" 2>&1
}
# Once per `make test`: not again in the valgrind pass (the binary does not run under it here).
[ "${TB_VALGRIND:-0}" = 1 ] && arches=()
for a in "${arches[@]}"; do
    [ -f "build/tracebridge-layer-$a.zip" ] || continue
    cp "build/tracebridge-layer-$a.zip" "$T/first-$a.zip"
    rm -rf "build/layer/$a/tb"
    layer/build-layer.sh "$a" >"$T/rebuild.log" 2>&1
    ok "$(cmp -s "$T/first-$a.zip" "build/tracebridge-layer-$a.zip" && echo 0 || echo 1)" \
        "$a: zip rebuilt from clean tracebridge objects is byte-identical ($(sha256sum "$T/first-$a.zip" | cut -c1-16))"
done
if [[ " ${arches[*]} " == *" x86_64 "* ]] && { [ "${TB_LAYER_TEST:-0}" = 1 ] || [ "${TB_LAYER_REPRO:-}" = full ]; }; then
    t0=$SECONDS
    full_repro
    rc=$?
    ok $rc "x86_64: a second build from scratch, in a copy of the tree at another path, succeeds ($((SECONDS - t0)) s)"
    [ $rc = 0 ] || sed 's/^/# /' "$T/repro.log" | tail -20
    ok "$(cmp -s "$T/first-x86_64.zip" "$T/repro/tracebridge-copy/build/tracebridge-layer-x86_64.zip" && echo 0 || echo 1)" \
        "x86_64: the zip built from scratch elsewhere is byte-identical to build/'s"
    rm -rf "$T/repro"
fi

# ---- the daemon from the layer, inside the local Lambda emulator ----
if [ -f tests/emulator/emulator.mjs ] && [ -f "$T/x86_64/opt/extensions/tracebridge" ]; then
    emulator_checks "$T/x86_64/opt"
else
    skip "emulator run of the layer: needs the x86_64 zip and tests/emulator"
fi
finish
