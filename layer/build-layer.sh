#!/usr/bin/env bash
# Builds the Lambda layer zips (make layer):
#   build/tracebridge-layer-x86_64.zip and build/tracebridge-layer-arm64.zip, each holding
#   extensions/tracebridge (one fully static musl binary) and tracebridge-wrapper.
#
# Every third-party library is built for musl from its Debian source package, fetched at build
# time with apt-get through a private sources list (the system's apt configuration is not
# touched), into build/layer/src; each architecture builds into build/layer/<arch>. Finished
# steps leave stamps, so a second run only relinks tracebridge. Why musl and not static glibc,
# and the pitfalls worked around here: /work/shared/reference/static-build.md.
#
#   layer/build-layer.sh [x86_64] [arm64]     (default: both; or TB_LAYER_ARCHES="x86_64")
#   TB_LAYER_JOBS=N                           parallel make jobs (default: nproc)
#   TB_LAYER_MALLOC=musl                      link musl's own malloc instead of mimalloc
#
# Note on `set -e`: it is ignored inside functions called from `||`/`&&`/`if`, so dependency
# builds run as plain statements in subshells (see run_step) and each status is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
L=$ROOT/build/layer
SRC=$L/src
JOBS=${TB_LAYER_JOBS:-$(nproc)}
read -r -a ARCHES <<<"${*:-${TB_LAYER_ARCHES:-x86_64 arm64}}"
# Fixed zip timestamps (2020-01-01 00:00 UTC) so the zip depends only on its contents.
ZIP_TIME=202001010000
SIZE_BUDGET=$((2 * 1024 * 1024))

# Debian source package -> directory name under build/layer/src.
SRC_PKGS="libuv1 curl wolfssl zlib cjson protobuf-c http-parser mimalloc"
MALLOC=${TB_LAYER_MALLOC:-mimalloc}

say() { printf 'layer: %s\n' "$*"; }
die() {
    printf 'layer: error: %s\n' "$*" >&2
    exit 1
}

# Runs a build function in a subshell with `set -e` in force, output to a log; on failure
# prints the log's tail and stops the whole build.
run_step() { # log-file function args...
    local log=$1 rc
    shift
    mkdir -p "$(dirname "$log")"
    set +e
    (
        set -euo pipefail
        "$@"
    ) >"$log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        tail -40 "$log" | sed 's/^/    | /' >&2
        die "$* failed (status $rc; full log: ${log#"$ROOT"/})"
    fi
}

# ---- tools ----------------------------------------------------------------------------------

need_arch() { # arch: is it requested?
    local a
    for a in "${ARCHES[@]}"; do [ "$a" = "$1" ] && return 0; done
    return 1
}

ensure_tools() {
    local pkgs="musl-tools musl-dev dpkg-dev autoconf automake libtool cmake make protobuf-c-compiler
        zip unzip file binutils"
    local missing="" p
    if need_arch arm64; then
        pkgs="$pkgs musl-dev:arm64 linux-libc-dev-arm64-cross gcc-aarch64-linux-gnu qemu-user-static"
        dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
    fi
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    say "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# ---- sources --------------------------------------------------------------------------------

# A private apt state: deb-src entries for bookworm, bookworm-updates and bookworm-security,
# their own lists and cache, so nothing in /etc/apt changes.
APT_DIR=$L/apt
apt_private() {
    apt-get -o Dir::Etc::SourceList="$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
        -o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache="$APT_DIR/cache" \
        -o APT::Sandbox::User=root "$@"
}

fetch_sources() {
    local missing="" p dsc
    for p in $SRC_PKGS; do [ -f "$SRC/$p/.extracted" ] || missing="$missing $p"; done
    [ -z "$missing" ] && return 0
    say "fetching Debian source packages:$missing"
    mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$SRC/dl"
    cat >"$APT_DIR/sources.list" <<'EOF'
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian bookworm-updates main
deb-src http://deb.debian.org/debian-security bookworm-security main
EOF
    apt_private -qq update
    for p in $missing; do
        # One package per call: a single failed download aborts a whole batch.
        (cd "$SRC/dl" && apt_private -qq source --download-only "$p")
        dsc=$(find "$SRC/dl" -maxdepth 1 -name "${p}_*.dsc" | sort -V | tail -1)
        [ -n "$dsc" ] || die "no .dsc downloaded for $p"
        rm -rf "${SRC:?}/$p"
        # apt has already checked the files against the signed index, so dpkg-source need not
        # look for the uploader's key; it applies Debian's patches (security fixes included).
        dpkg-source --no-check -x "$dsc" "$SRC/$p" >/dev/null
        basename "$dsc" .dsc >"$SRC/$p/.extracted"
    done
    # wolfssl's tarball has no configure script: generate it once for every architecture.
    if [ ! -x "$SRC/wolfssl/configure" ]; then
        (cd "$SRC/wolfssl" && autoreconf -fi >/dev/null 2>&1) || die "autoreconf wolfssl failed"
    fi
}

src_version() { cat "$SRC/$1/.extracted"; }

# ---- per-architecture toolchain -------------------------------------------------------------

setup_arch() { # arch: sets the variables every later step uses
    ARCH=$1
    case $ARCH in
    x86_64)
        CC=musl-gcc
        HOST=x86_64-linux-musl
        CROSS=""
        KSRC=(/usr/include/linux /usr/include/x86_64-linux-gnu/asm /usr/include/asm-generic)
        ;;
    arm64)
        CC=aarch64-linux-musl-gcc
        HOST=aarch64-linux-musl
        CROSS=aarch64-linux-gnu-
        KSRC=(/usr/aarch64-linux-gnu/include/linux /usr/aarch64-linux-gnu/include/asm
            /usr/aarch64-linux-gnu/include/asm-generic)
        ;;
    *) die "unknown architecture $ARCH (x86_64 or arm64)" ;;
    esac
    AR=${CROSS}ar
    STRIP=${CROSS}strip
    A=$L/$ARCH
    P=$A/prefix
    W=$A/work
    KH=$A/kheaders
    # musl-gcc passes -nostdinc: give it the kernel headers libuv needs, and nothing else
    # from /usr/include (glibc headers would silently mix in).
    mkdir -p "$KH" "$P/include" "$P/lib" "$W" "$A/stamps"
    local d
    for d in "${KSRC[@]}"; do ln -sfn "$d" "$KH/$(basename "$d")"; done
    # -ffile-prefix-map: assert() strings name sources relative to the checkout, so the binary
    # (and the zip's sha256) does not depend on where the repository lives.
    DEP_CFLAGS="-Os -ffunction-sections -fdata-sections -ffile-prefix-map=$ROOT/= -isystem $KH"
    export CC AR
}

# A dependency is rebuilt when its source version or this script's recipe for it changes.
stamp_ok() { [ -f "$A/stamps/$1" ] && [ "$(cat "$A/stamps/$1")" = "$(stamp_key "$1")" ]; }
stamp_key() {
    local deps=""
    # curl compiles against zlib's and wolfssl's headers: their changes rebuild it too.
    [ "$1" = curl ] && deps="$(stamp_key zlib) $(stamp_key wolfssl)"
    printf '%s %s %s %s' "$(src_version "$1")" "$(declare -f "build_$(tr - _ <<<"$1")" | cksum)" \
        "$DEP_CFLAGS" "$deps"
}
stamp_set() { stamp_key "$1" >"$A/stamps/$1"; }

fresh_copy() { # pkg: a clean per-arch copy of the source tree
    rm -rf "${W:?}/$1"
    cp -a "$SRC/$1" "$W/$1"
}

# ---- dependency recipes (each runs inside run_step) -----------------------------------------

build_zlib() {
    fresh_copy zlib
    cd "$W/zlib"
    CFLAGS="$DEP_CFLAGS" CHOST=$HOST ./configure --static --prefix="$P"
    make -j"$JOBS" libz.a
    make install
}

build_wolfssl() {
    fresh_copy wolfssl
    cd "$W/wolfssl"
    # TLS 1.2 and 1.3 client, SNI, ALPN, verified peers; no examples, tests or benchmarks.
    # curl 7.88's wolfSSL backend calls the OpenSSL-compatible names: opensslextra.
    ./configure --host="$HOST" --prefix="$P" --disable-shared --enable-static \
        --enable-tls13 --enable-sni --enable-alpn --enable-altcertchains --enable-opensslextra \
        --enable-ip-alt-name --disable-oldtls \
        --disable-examples --disable-crypttests --disable-benchmark --disable-jni \
        CFLAGS="$DEP_CFLAGS"
    make -j"$JOBS"
    make install
}

build_curl() {
    fresh_copy curl
    cd "$W/curl"
    # HTTP and HTTPS only (plus proxy support, which HTTPS_PROXY users need); the CA bundle is
    # chosen at run time (extension/cabundle.c), so no compiled-in path or fallback.
    ./configure --host="$HOST" --prefix="$P" --disable-shared --enable-static \
        --with-wolfssl="$P" --with-zlib="$P" --enable-threaded-resolver \
        --without-ca-bundle --without-ca-path --without-ca-fallback \
        --disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
        --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb \
        --disable-smtp --disable-gopher --disable-mqtt --disable-manual --disable-libcurl-option \
        --disable-ntlm --disable-ntlm-wb --disable-tls-srp --disable-unix-sockets \
        --disable-cookies --disable-doh --disable-mime --disable-netrc --disable-progress-meter \
        --disable-alt-svc --disable-hsts --disable-websockets --disable-crypto-auth \
        --disable-get-easy-options --disable-ech --disable-dependency-tracking \
        --without-brotli --without-zstd --without-libpsl --without-libidn2 --without-nghttp2 \
        --without-ngtcp2 --without-nghttp3 --without-libssh2 --without-libssh --without-librtmp \
        --without-libgsasl --without-hyper --without-zsh-functions-dir \
        --without-fish-functions-dir \
        CFLAGS="$DEP_CFLAGS" CPPFLAGS="-I$P/include" LDFLAGS="-static -L$P/lib" LIBS=-lpthread
    make -j"$JOBS" -C lib
    make -C lib install
    make -C include install
}

build_libuv1() {
    rm -rf "${W:?}/libuv1"
    cmake -S "$SRC/libuv1" -B "$W/libuv1" -DCMAKE_SYSTEM_NAME=Linux \
        -DCMAKE_SYSTEM_PROCESSOR="${HOST%%-*}" -DCMAKE_C_COMPILER="$CC" -DCMAKE_AR="$(command -v "$AR")" \
        -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_C_FLAGS="$DEP_CFLAGS" \
        -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF
    cmake --build "$W/libuv1" --target uv_a -j"$JOBS"
    cp "$W/libuv1/libuv_a.a" "$P/lib/libuv.a"
    cp "$SRC/libuv1/include/uv.h" "$P/include/"
    rm -rf "$P/include/uv" && cp -r "$SRC/libuv1/include/uv" "$P/include/uv"
}

single_file_lib() { # lib-name source-file: compiles one .c into lib<name>.a
    local o
    o="$W/$1.o"
    mkdir -p "$W"
    # shellcheck disable=SC2086
    $CC $DEP_CFLAGS -c "$2" -o "$o"
    rm -f "$P/lib/lib$1.a"
    $AR rcs "$P/lib/lib$1.a" "$o"
}

build_cjson() {
    single_file_lib cjson "$SRC/cjson/cJSON.c"
    mkdir -p "$P/include/cjson"
    cp "$SRC/cjson/cJSON.h" "$P/include/cjson/"
}

build_protobuf_c() {
    single_file_lib protobuf-c "$SRC/protobuf-c/protobuf-c/protobuf-c.c"
    mkdir -p "$P/include/protobuf-c"
    cp "$SRC/protobuf-c/protobuf-c/protobuf-c.h" "$P/include/protobuf-c/"
}

build_http_parser() {
    single_file_lib http_parser "$SRC/http-parser/http_parser.c"
    cp "$SRC/http-parser/http_parser.h" "$P/include/"
}

# musl's allocator unmaps every block over ~128 KiB on free, so each large event (the proxy
# buffers /next bodies, the rewriter writes a copy) costs fresh mmaps and page faults: +0.3 ms
# per 256 KiB invocation and +1 ms per 1 MiB one, measured. mimalloc keeps and reuses them for
# about 1 MiB more idle RSS. musl (1.2.1+) supports replacing malloc at static link time; the
# object defines malloc, free, calloc, realloc and the aligned variants.
build_mimalloc() {
    mkdir -p "$W"
    # shellcheck disable=SC2086
    $CC $DEP_CFLAGS -DMI_MALLOC_OVERRIDE -DNDEBUG -I"$SRC/mimalloc/include" \
        -c "$SRC/mimalloc/src/static.c" -o "$P/lib/mimalloc.o"
}

build_deps() {
    local p t0
    # Order matters: curl links against zlib and wolfssl.
    for p in zlib wolfssl curl libuv1 cjson protobuf-c http-parser mimalloc; do
        stamp_ok "$p" && continue
        say "$ARCH: building $p ($(src_version "$p"))"
        t0=$SECONDS
        run_step "$A/logs/$p.log" "build_$(tr - _ <<<"$p")"
        stamp_set "$p"
        say "$ARCH: $p done in $((SECONDS - t0)) s"
    done
    # Tells tests and benchmarks that relinking is all a rebuild of this architecture costs.
    touch "$A/deps.ok"
}

# ---- tracebridge itself ---------------------------------------------------------------------

# The project's own Makefile compiles and links, with the musl compiler, the static libraries
# above and size flags; its objects go to build/layer/<arch>/tb so nothing mixes with build/.
build_tracebridge() {
    local tb=$A/tb
    # The Makefile calls plain `ar`; cross archives need the target's ar for a usable index.
    local bin=$A/bin
    mkdir -p "$bin"
    local malloc_obj=""
    [ "$MALLOC" = mimalloc ] && malloc_obj=$P/lib/mimalloc.o
    # Relink every time (it is cheap): the Makefile does not know the static libraries changed.
    rm -f "$tb/tracebridge"
    ln -sfn "$(command -v "$AR")" "$bin/ar"
    # OPT reaches every compile, generated protobuf-c code included (EXTRA_CFLAGS does not).
    local opt="-Os -ffunction-sections -fdata-sections -ffile-prefix-map=$ROOT/= -isystem $P/include"
    opt="$opt -isystem $KH"
    # memtrim.c hands memory back after large events with mi_collect() when mimalloc is linked.
    if [ "$MALLOC" = mimalloc ]; then opt="$opt -DTB_MIMALLOC"; fi
    local libs="$malloc_obj -luv -lcurl -lwolfssl -lcjson -lprotobuf-c -lz -lhttp_parser -lm -lpthread"
    # make does not notice changed flags: start the objects afresh when they change.
    if [ "$(cat "$A/tb.flags" 2>/dev/null)" != "$CC $opt $libs" ]; then
        rm -rf "$tb"
        printf '%s' "$CC $opt $libs" >"$A/tb.flags"
    fi
    PATH="$bin:$PATH" make --no-print-directory -C "$ROOT" BUILD="$tb" CC="$CC" OPT="$opt" \
        EXTRA_LDFLAGS="-static -L$P/lib -Wl,--gc-sections" LDLIBS="$libs" "$tb/tracebridge"
    $STRIP -o "$A/tracebridge" "$tb/tracebridge"
}

check_static() { # binary
    local f=$1
    readelf -d "$f" 2>&1 | grep -q 'There is no dynamic section' || die "$f has a dynamic section"
    ! readelf -l "$f" | grep -q INTERP || die "$f asks for an ELF interpreter"
    file -b "$f" | grep -q 'statically linked' || die "file(1) does not call $f statically linked"
}

# Deterministic zip: fixed timestamps, fixed modes, sorted names, no extra fields.
package() {
    local stage=$A/stage zip=$ROOT/build/tracebridge-layer-$ARCH.zip
    local wrapper=$ROOT/wrapper/tracebridge-wrapper
    rm -rf "$stage"
    mkdir -p "$stage/extensions"
    install -m 0755 "$A/tracebridge" "$stage/extensions/tracebridge"
    if [ -f "$wrapper" ]; then
        install -m 0755 "$wrapper" "$stage/tracebridge-wrapper"
    else
        say "WARNING: $wrapper does not exist yet: the zip has no wrapper"
    fi
    find "$stage" -exec env TZ=UTC touch -h -t "$ZIP_TIME" {} +
    rm -f "$zip"
    (cd "$stage" && find . -type f | sed 's|^\./||' | LC_ALL=C sort |
        TZ=UTC zip -q -X -D -9 "$zip" -@)
    say "$ARCH: ${zip#"$ROOT"/} ($(stat -c %s "$zip") bytes, sha256 $(sha256sum "$zip" | cut -c1-16))"
}

report_size() {
    local size
    size=$(stat -c %s "$A/tracebridge")
    say "$ARCH: extensions/tracebridge is $size bytes stripped ($((size / 1024)) KiB; budget $((SIZE_BUDGET / 1024)) KiB) — $(file -b "$A/tracebridge" | cut -d, -f1-2,4-5)"
    if [ "$ARCH" = x86_64 ] && [ "$size" -ge "$SIZE_BUDGET" ]; then
        die "x86_64 binary over the 2 MB size budget"
    fi
}

main() {
    local arch t0=$SECONDS
    ensure_tools
    fetch_sources
    for arch in "${ARCHES[@]}"; do
        setup_arch "$arch"
        build_deps
        run_step "$A/logs/tracebridge.log" build_tracebridge
        check_static "$A/tracebridge"
        report_size
        package
    done
    say "done in $((SECONDS - t0)) s"
}

main
