#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Lambda layer zips (make layer):
#   build/tracebridge-layer-x86_64.zip and build/tracebridge-layer-arm64.zip, each holding
#   extensions/tracebridge (one fully static musl binary), tracebridge-wrapper, and under
#   tracebridge/: LICENSE, THIRD-PARTY-NOTICES and sbom.spdx.json (SPDX 2.3), the last two
#   generated from the linker's map of the binary (layer/bom.sh).
#
# Every third-party library is built for musl from its Debian source package, fetched at build
# time with apt-get through a private sources list (the system's apt configuration is not
# touched), into build/layer/src; each architecture builds into build/layer/<arch>. Finished
# steps leave stamps, so a second run only relinks tracebridge. Why musl and not static glibc,
# and the pitfalls worked around here: ../shared/reference/static-build.md.
#
#   layer/build-layer.sh [x86_64] [arm64]     (default: both; or TB_LAYER_ARCHES="x86_64")
#   layer/build-layer.sh fetch PKG...         only fetch and extract those source packages
#   layer/build-layer.sh licence DIR <paths   the SPDX licences of those files of a source tree
#                                             (from its debian/copyright), or status 1
#   TB_LAYER_JOBS=N                           parallel make jobs (default: nproc)
#   TB_LAYER_MALLOC=musl                      link musl's own malloc instead of mimalloc
#   TB_LAYER_DIR=DIR                          state: apt lists, sources, builds (build/layer)
#   TB_LAYER_OUT=DIR                          where the zips go (build)
#   TB_LAYER_SOURCES_LIST=FILE                deb-src lines to use instead of Debian's
#   TB_LAYER_RELEASE=SUITE                    the release suite (bookworm)
#
# Note on `set -e`: it is ignored inside functions called from `||`/`&&`/`if`, so dependency
# builds run as plain statements in subshells (see run_step) and each status is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
L=${TB_LAYER_DIR:-$ROOT/build/layer}
OUT=${TB_LAYER_OUT:-$ROOT/build}
SRC=$L/src
JOBS=${TB_LAYER_JOBS:-$(nproc)}
RELEASE=${TB_LAYER_RELEASE:-bookworm}
MODE=build
case ${1:-} in
fetch | licence)
    MODE=$1
    shift
    ;;
esac
if [ "$MODE" = build ]; then
    read -r -a ARCHES <<<"${*:-${TB_LAYER_ARCHES:-x86_64 arm64}}"
else
    ARGS=("$@")
fi
# Fixed zip timestamps (2020-01-01 00:00 UTC) so the zip depends only on its contents.
ZIP_TIME=202001010000
SIZE_BUDGET=$((2 * 1024 * 1024))

# Debian source packages, each extracted to build/layer/src/<name>. musl is not compiled here
# (libc.a comes from the installed musl-dev) but its source package gives its licence files.
SRC_PKGS="libuv1 curl mbedtls zlib cjson protobuf-c http-parser mimalloc musl"
MALLOC=${TB_LAYER_MALLOC:-mimalloc}

say() { printf 'layer: %s\n' "$*"; }
die() {
    printf 'layer: error: %s\n' "$*" >&2
    exit 1
}

# shellcheck source=layer/bom.sh
. "$ROOT/layer/bom.sh"

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
    local pkgs="musl-tools musl-dev dpkg-dev cmake make protobuf-c-compiler zip unzip file binutils"
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

write_sources_list() {
    if [ -n "${TB_LAYER_SOURCES_LIST:-}" ]; then
        cp "$TB_LAYER_SOURCES_LIST" "$APT_DIR/sources.list"
        return
    fi
    printf 'deb-src http://deb.debian.org/debian %s main\n' "$RELEASE" "$RELEASE-updates" \
        >"$APT_DIR/sources.list"
    printf 'deb-src http://deb.debian.org/debian-security %s-security main\n' "$RELEASE" \
        >>"$APT_DIR/sources.list"
}

# Sorts "version suite" lines, newest version first (Debian version order).
newest_first() {
    local -a v=()
    local line t i j
    while read -r line; do v+=("$line"); done
    for ((i = 1; i < ${#v[@]}; i++)); do
        t=${v[i]}
        j=$((i - 1))
        while [ $j -ge 0 ] && dpkg --compare-versions "${t%% *}" gt "${v[j]%% *}"; do
            v[j + 1]=${v[j]}
            j=$((j - 1))
        done
        v[j + 1]=$t
    done
    [ ${#v[@]} -eq 0 ] || printf '%s\n' "${v[@]}"
}

# Every index entry of source package $1 as "version suite archive", the release suite's
# first; suite and archive from the index file's name (<archive>_dists_<suite>_<comp>_source_Sources,
# the archive's URL with / as _).
index_entries() {
    local f suite
    for f in "$APT_DIR"/lists/*_source_Sources*; do
        [ -f "$f" ] || continue
        suite=${f##*_dists_}
        suite=${suite%_*_source_Sources*}
        /usr/lib/apt/apt-helper cat-file "$f" | awk -v p="$1" -v s="$suite" -v a="$(basename "${f%%_dists_*}")" \
            '/^Package: / { in_p = ($2 == p) } in_p && /^Version: / { print $2, s, a }'
    done | awk -v r="$RELEASE" '{ print ($2 == r ? 0 : 1), $0 }' | LC_ALL=C sort -s -k1,1 | cut -d' ' -f2-
}

# Every version of source package $1 that the index lists, newest first ("version suite ...").
known_versions() { index_entries "$1" | awk '!seen[$1]++' | newest_first; }

# The suite a download came from: of the entries for that version, the one whose archive is
# the URL's (a version can be in the release, -updates and -security alike), else the first.
suite_of() { # pkg version url
    local root=${3#*://}
    root=${root%%/pool/*}
    index_entries "$1" | awk -v v="$2" -v a="${root//\//_}" '
        $1 == v && !first { first = $2 } $1 == v && $3 == a && !hit { hit = $2 }
        END { print hit ? hit : first }'
}

# A source package that must match an installed binary package: that version, else nothing.
pinned_version() {
    case $1 in
    musl) dpkg-query -W -f='${source:Version}' "musl-dev:$(dpkg --print-architecture)" 2>/dev/null || true ;;
    esac
}

# The versions to try, in order: the newest, the release suite's, then every other one newest
# first (a security or point-release upload can be in the index while the mirror has no files).
try_order() { # pkg known-versions
    local pin
    pin=$(pinned_version "$1")
    if [ -n "$pin" ]; then
        awk -v v="$pin" '$1 == v { print $1; exit }' <<<"$2"
        return
    fi
    {
        head -1 <<<"$2"
        awk -v r="$RELEASE" '$2 == r { print; exit }' <<<"$2"
        cat <<<"$2"
    } | awk 'NF && !seen[$1]++ { print $1 }'
}

# Downloads one source package (one `apt-get source` per version: a single failed download
# aborts a whole batch), falling back version by version; extracts the first that downloads.
fetch_one() { # pkg
    local p=$1 all v dir url dsc tried="" why
    all=$(known_versions "$p")
    for v in $(try_order "$p" "$all"); do
        dir=$SRC/dl/$p
        rm -rf "$dir" && mkdir -p "$dir"
        url=$(cd "$dir" && apt_private -qq source --print-uris "$p=$v" 2>/dev/null |
            awk -F"'" '$2 ~ /\.dsc$/ { print $2; exit }')
        if (cd "$dir" && apt_private -qq source --download-only "$p=$v") >"$dir.log" 2>&1; then
            dsc=$(find "$dir" -maxdepth 1 -name '*.dsc' | head -1)
            [ -n "$dsc" ] || die "apt-get source $p=$v downloaded no .dsc"
            rm -rf "${SRC:?}/$p"
            # apt has already checked the files against the signed index, so dpkg-source need
            # not look for the uploader's key; it applies Debian's patches (security fixes too).
            dpkg-source --no-check -x "$dsc" "$SRC/$p" >/dev/null
            {
                echo "version=$v"
                echo "suite=$(suite_of "$p" "$v" "$url")"
                echo "url=${url:-NOASSERTION}"
                echo "sha256=$(sha256sum "$dsc" | cut -d' ' -f1)"
            } >"$SRC/$p/.source"
            return 0
        fi
        why=$(grep -m1 -E 'Failed to fetch|Not Found|No such|^E:' "$dir.log" | cut -c1-200)
        say "$p $v: download failed (${why:-see ${dir#"$ROOT"/}.log}); trying the next version"
        tried="$tried $v"
    done
    [ -n "$tried" ] || die "no version of source package $p in the index$(
        pin=$(pinned_version "$p") && [ -n "$pin" ] && echo " matches the installed $pin")"
    die "no version of $p could be downloaded (tried:$tried)"
}

fetch_sources() { # packages...
    local missing="" p
    for p in "$@"; do [ -f "$SRC/$p/.source" ] || missing="$missing $p"; done
    if [ -n "$missing" ]; then
        say "fetching Debian source packages:$missing"
        mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$SRC/dl"
        write_sources_list
        apt_private -qq update
        for p in $missing; do fetch_one "$p"; done
    fi
    for p in "$@"; do
        say "source: $p $(src_version "$p") ($(src_field "$p" suite))"
    done
}

src_version() { src_field "$1" version; }

# ---- per-architecture toolchain -------------------------------------------------------------

setup_arch() { # arch: sets the variables every later step uses
    ARCH=$1
    case $ARCH in
    x86_64)
        CC=musl-gcc
        HOST=x86_64-linux-musl
        MUSL_ARCH=x86_64
        CROSS=""
        KSRC=(/usr/include/linux /usr/include/x86_64-linux-gnu/asm /usr/include/asm-generic)
        ;;
    arm64)
        CC=aarch64-linux-musl-gcc
        HOST=aarch64-linux-musl
        MUSL_ARCH=aarch64
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
    # -ffile-prefix-map: assert() strings name sources relative to the checkout (and the
    # dependencies' to their own tree), so the binary (and the zip's sha256) does not depend
    # on where the repository or the build directory lives.
    # (gcc tries the last -ffile-prefix-map first: the most specific goes last.)
    DEP_CFLAGS="-Os -ffunction-sections -fdata-sections -ffile-prefix-map=$ROOT/="
    DEP_CFLAGS="$DEP_CFLAGS -ffile-prefix-map=$SRC/= -ffile-prefix-map=$W/= -isystem $KH"
    export CC AR
}

# A dependency is rebuilt when its source version or this script's recipe for it changes.
stamp_ok() { [ -f "$A/stamps/$1" ] && [ "$(cat "$A/stamps/$1")" = "$(stamp_key "$1")" ]; }
stamp_key() {
    local deps=""
    # curl compiles against zlib's and mbedtls's headers: their changes rebuild it too.
    [ "$1" = curl ] && deps="$(stamp_key zlib) $(stamp_key mbedtls)"
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

# mbedTLS as a TLS 1.2 client only: no TLS 1.0/1.1 (with mbedTLS 2.x, curl's default minimum
# would be TLS 1.0), no DTLS, no server side. Its TLS 1.3 is experimental in 2.28: left out.
# The settings go in a user config file that config.h includes, so curl compiles against
# exactly the configuration the library was built with.
build_mbedtls() {
    fresh_copy mbedtls
    cd "$W/mbedtls"
    printf '%s\n' '/* tracebridge layer (layer/build-layer.sh): a TLS 1.2 client. */' \
        '#undef MBEDTLS_SSL_PROTO_TLS1' '#undef MBEDTLS_SSL_PROTO_TLS1_1' \
        '#undef MBEDTLS_SSL_CBC_RECORD_SPLITTING' '#undef MBEDTLS_SSL_PROTO_DTLS' \
        '#undef MBEDTLS_SSL_DTLS_ANTI_REPLAY' '#undef MBEDTLS_SSL_DTLS_HELLO_VERIFY' \
        '#undef MBEDTLS_SSL_DTLS_CLIENT_PORT_REUSE' '#undef MBEDTLS_SSL_DTLS_BADMAC_LIMIT' \
        '#undef MBEDTLS_SSL_SRV_C' '#undef MBEDTLS_SSL_CACHE_C' '#undef MBEDTLS_SSL_COOKIE_C' \
        '#undef MBEDTLS_SSL_TICKET_C' >include/mbedtls/tracebridge_config.h
    sed -i '1i #define MBEDTLS_USER_CONFIG_FILE "mbedtls/tracebridge_config.h"' include/mbedtls/config.h
    make -C library -j"$JOBS" CC="$CC" AR="$AR" CFLAGS="$DEP_CFLAGS" \
        libmbedcrypto.a libmbedx509.a libmbedtls.a
    cp library/libmbedcrypto.a library/libmbedx509.a library/libmbedtls.a "$P/lib/"
    rm -rf "$P/include/mbedtls" "$P/include/psa"
    cp -r include/mbedtls include/psa "$P/include/"
}

build_curl() {
    fresh_copy curl
    cd "$W/curl"
    # HTTP and HTTPS only (plus proxy support, which HTTPS_PROXY users need); the CA bundle is
    # chosen at run time (extension/cabundle.c), so no compiled-in path or fallback.
    ./configure --host="$HOST" --prefix="$P" --disable-shared --enable-static \
        --with-mbedtls="$P" --with-zlib="$P" --enable-threaded-resolver \
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
    grep -q '^#define USE_MBEDTLS 1' lib/curl_config.h
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
    # Order matters: curl links against zlib and mbedtls.
    for p in zlib mbedtls curl libuv1 cjson protobuf-c http-parser mimalloc; do
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
# The link writes a map (tracebridge.map): the notices and the SBOM are made from it.
build_tracebridge() {
    local tb=$A/tb
    # The Makefile calls plain `ar`; cross archives need the target's ar for a usable index.
    local bin=$A/bin
    mkdir -p "$bin"
    local malloc_obj=""
    [ "$MALLOC" = mimalloc ] && malloc_obj=$P/lib/mimalloc.o
    # Relink every time (it is cheap): the Makefile does not know the static libraries changed.
    rm -f "$tb/tracebridge" "$A/tracebridge.map"
    ln -sfn "$(command -v "$AR")" "$bin/ar"
    # OPT reaches every compile, generated protobuf-c code included (EXTRA_CFLAGS does not).
    local opt="-Os -ffunction-sections -fdata-sections -ffile-prefix-map=$ROOT/= -ffile-prefix-map=$A/="
    opt="$opt -isystem $P/include -isystem $KH"
    local libs="$malloc_obj -luv -lcurl -lmbedtls -lmbedx509 -lmbedcrypto -lcjson -lprotobuf-c -lz"
    libs="$libs -lhttp_parser -lm -lpthread"
    # memtrim.c hands memory back after large events with mi_collect() when mimalloc is linked.
    if [ "$MALLOC" = mimalloc ]; then opt="$opt -DTB_MIMALLOC -isystem $SRC/mimalloc/include"; fi
    # make does not notice changed flags: start the objects afresh when they change.
    if [ "$(cat "$A/tb.flags" 2>/dev/null)" != "$CC $opt $libs" ]; then
        rm -rf "$tb"
        printf '%s' "$CC $opt $libs" >"$A/tb.flags"
    fi
    PATH="$bin:$PATH" make --no-print-directory -C "$ROOT" BUILD="$tb" CC="$CC" OPT="$opt" \
        EXTRA_LDFLAGS="-static -L$P/lib -Wl,--gc-sections -Wl,-Map=$A/tracebridge.map" \
        LDLIBS="$libs" "$tb/tracebridge"
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
    local stage=$A/stage zip=$OUT/tracebridge-layer-$ARCH.zip
    local wrapper=$ROOT/wrapper/tracebridge-wrapper
    rm -rf "$stage"
    mkdir -p "$stage/extensions" "$stage/tracebridge" "$OUT"
    install -m 0755 "$A/tracebridge" "$stage/extensions/tracebridge"
    if [ -f "$wrapper" ]; then
        install -m 0755 "$wrapper" "$stage/tracebridge-wrapper"
    else
        say "WARNING: $wrapper does not exist yet: the zip has no wrapper"
    fi
    install -m 0644 "$ROOT/LICENSE" "$stage/tracebridge/LICENSE"
    write_notices "$stage/tracebridge/THIRD-PARTY-NOTICES"
    chmod 0644 "$stage/tracebridge/THIRD-PARTY-NOTICES"
    write_sbom "$A/sbom.spdx.json" "$stage"
    install -m 0644 "$A/sbom.spdx.json" "$stage/tracebridge/sbom.spdx.json"
    find "$stage" -type d -exec chmod 0755 {} +
    find "$stage" -exec env TZ=UTC touch -h -t "$ZIP_TIME" {} +
    rm -f "$zip"
    (cd "$stage" && find . -type f | sed 's|^\./||' | LC_ALL=C sort |
        TZ=UTC zip -q -X -D -9 "$zip" -@)
    say "$ARCH: ${zip#"$ROOT"/} ($(stat -c %s "$zip") bytes, sha256 $(sha256sum "$zip" | cut -c1-16))"
}

# Every bundled package, its version and licence; fails the build on a licence not allowed.
check_licences() {
    MAP=$A/tracebridge.map
    [ -s "$MAP" ] || die "no link map $MAP"
    bom_collect "$MAP"
    local pkg
    for pkg in "${BOM_PKGS[@]}"; do
        [ "$pkg" = tracebridge ] && continue
        say "$ARCH: bundles $(bom_name "$pkg") ${BOM_DEBVER[$pkg]}: ${BOM_USE[$pkg]}"
    done
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
    case $MODE in
    fetch)
        # shellcheck disable=SC2086
        if [ ${#ARGS[@]} -gt 0 ]; then fetch_sources "${ARGS[@]}"; else fetch_sources $SRC_PKGS; fi
        return
        ;;
    licence)
        tree_licence "${ARGS[0]}" | tr '\t' '\n'
        return
        ;;
    esac
    ensure_tools
    # shellcheck disable=SC2086
    fetch_sources $SRC_PKGS
    for arch in "${ARCHES[@]}"; do
        setup_arch "$arch"
        build_deps
        run_step "$A/logs/tracebridge.log" build_tracebridge
        check_static "$A/tracebridge"
        report_size
        check_licences
        package
    done
    say "done in $((SECONDS - t0)) s"
}

main
