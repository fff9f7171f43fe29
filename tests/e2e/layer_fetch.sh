#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The layer build's source fetching and licence check, offline and in seconds:
#  - `layer/build-layer.sh fetch` against a private Debian source repository served over HTTP
#    on loopback whose index lists versions the server does not have (404, as when the mirror
#    lags the security index): the newest version is tried first, then the release suite's,
#    then every other one newest first; one package's failures do not stop the others; the
#    exact versions used are printed; it fails only when no version can be had;
#  - `layer/build-layer.sh licence`: DEP-5 matching (last paragraph wins), SPDX mapping, the
#    allow-list (a GPL file fails, "Apache-2.0 or GPL-2+" is taken under Apache-2.0).
set -u
cd "$(dirname "$0")/../.." || exit 1
T=$(mktemp -d)
srv=""
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$T"' EXIT
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
finish() {
    echo "1..$n"
    exit 0
}
for tool in dpkg-source dpkg-scansources apt-get python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "ok 1 - # SKIP $tool not installed"
        n=1
        finish
    fi
done

# ---- a source repository: pool/ holds only the versions the "mirror" really has ----
R=$T/repo
mkdir -p "$R/pool"
make_source() { # name version: a tiny native-format source package in pool/
    local d=$T/mk/$1-${2%-*}
    mkdir -p "$d/debian/source"
    printf 'Source: %s\nMaintainer: t <t@example.invalid>\n\nPackage: %s\nArchitecture: all\nDescription: t\n t\n' \
        "$1" "$1" >"$d/debian/control"
    printf '%s (%s) unstable; urgency=low\n\n  * t\n\n -- t <t@example.invalid>  Mon, 01 Jan 2024 00:00:00 +0000\n' \
        "$1" "$2" >"$d/debian/changelog"
    echo 1.0 >"$d/debian/source/format"
    echo "$1 $2" >"$d/content.txt"
    (cd "$T/mk" && dpkg-source -b "$1-${2%-*}" >/dev/null 2>&1) && mv "$T/mk/$1_$2".* "$R/pool/"
}
# suite:package:version:present
entries="bookworm:tbfake:1.0-1:yes bookworm-updates:tbfake:2.0-1:yes bookworm-security:tbfake:3.0-1:no
bookworm:tbnorel:1.0-1:no bookworm-updates:tbnorel:2.0-1:yes bookworm-security:tbnorel:3.0-1:no
bookworm:tbnew:1.0-1:yes bookworm-security:tbnew:1.1-1:yes
bookworm:tbmiss:1.0-1:no bookworm-security:tbmiss:2.0-1:no"
for e in $entries; do
    IFS=: read -r suite pkg ver _ <<<"$e"
    make_source "$pkg" "$ver" || ok 1 "make source package $pkg $ver"
    mkdir -p "$R/dists/$suite/main/source"
    (cd "$R" && dpkg-scansources pool /dev/null 2>/dev/null |
        awk -v p="$pkg" -v v="$ver" 'BEGIN { RS = ""; ORS = "\n\n" }
            $0 ~ ("(^|\n)Package: " p "\n") && $0 ~ ("\nVersion: " v "\n")') >>"$R/dists/$suite/main/source/Sources"
done
for e in $entries; do
    IFS=: read -r suite pkg ver present <<<"$e"
    [ "$present" = no ] && rm -f "$R/pool/${pkg}_$ver".*
done
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$R" >"$T/http.log" 2>&1 &
srv=$!
port=""
for _ in $(seq 50); do
    port=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$T/http.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || {
    ok 1 "loopback HTTP server for the fake repository"
    finish
}
for s in bookworm bookworm-updates bookworm-security; do
    echo "deb-src [trusted=yes] http://127.0.0.1:$port $s main"
done >"$T/sources.list"

fetch() { # log pkgs...
    local log=$1
    shift
    TB_LAYER_DIR=$T/state TB_LAYER_SOURCES_LIST=$T/sources.list layer/build-layer.sh fetch "$@" >"$log" 2>&1
}
content() { cat "$T/state/src/$1/content.txt" 2>/dev/null; }

# ---- fallback order ----
fetch "$T/a.log" tbfake tbnorel tbnew
ok $? "fetch of three packages succeeds although the newest version of two 404s"
check "tbfake: newest 3.0-1 tried and reported as a failed download (404)" \
    grep -q 'tbfake 3.0-1: download failed (.*404' "$T/a.log"
check "tbfake: falls back to the release suite's 1.0-1, not the newer 2.0-1 of -updates" \
    test "$(content tbfake)" = "tbfake 1.0-1"
check "tbfake: the version used is printed, with its suite" grep -qx 'layer: source: tbfake 1.0-1 (bookworm)' "$T/a.log"
check "tbnorel: newest and release version both missing: the other one (2.0-1) is used" \
    test "$(content tbnorel)" = "tbnorel 2.0-1"
tried=$(grep -o 'tbnorel [0-9.-]*: download failed' "$T/a.log" | cut -d' ' -f2 | tr -d : | paste -sd' ')
ok "$([ "$tried" = "3.0-1 1.0-1" ] && echo 0 || echo 1)" \
    "tbnorel: the newest (3.0-1), then the release suite's (1.0-1) failed first: $tried"
check "tbnew: the newest version (1.1-1) is used when it downloads" test "$(content tbnew)" = "tbnew 1.1-1"
ok "$(grep -q 'tbnew.*download failed' "$T/a.log" && echo 1 || echo 0)" "tbnew: no failed attempt"
url=$(sed -n 's/^url=//p' "$T/state/src/tbfake/.source")
check "tbfake: .source records the .dsc download URL ($url)" test "$url" = "http://127.0.0.1:$port/pool/tbfake_1.0-1.dsc"
check "tbfake: .source records the .dsc's sha256" test "$(sed -n 's/^sha256=//p' "$T/state/src/tbfake/.source")" = \
    "$(sha256sum "$R/pool/tbfake_1.0-1.dsc" | cut -d' ' -f1)"

# ---- nothing to be had ----
fetch "$T/b.log" tbmiss
rc=$?
ok "$([ $rc -ne 0 ] && echo 0 || echo 1)" "tbmiss: every version 404s: fetch fails (status $rc)"
check "tbmiss: the error names every version tried, newest first" \
    grep -q 'no version of tbmiss could be downloaded (tried: 2.0-1 1.0-1)' "$T/b.log"
ok "$([ -e "$T/state/src/tbmiss/.source" ] && echo 1 || echo 0)" "tbmiss: nothing recorded as fetched"
fetch "$T/c.log" tbnone
rc=$?
ok "$([ $rc -ne 0 ] && grep -q 'no version of source package tbnone in the index' "$T/c.log" && echo 0 || echo 1)" \
    "a package the index does not list fails with a clear error (status $rc)"
fetch "$T/d.log" tbfake
ok $? "a second fetch of an already fetched package succeeds offline-quick"
ok "$(grep -q 'fetching' "$T/d.log" && echo 1 || echo 0)" "the second fetch downloads nothing and still prints the version"

# ---- licences from debian/copyright (DEP-5) ----
S=$T/tree
mkdir -p "$S/debian" "$S/lib/sub"
cat >"$S/debian/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: t

Files: *
Copyright: t
License: Expat

Files: lib/*
Copyright: t
License: BSD-3-clause

Files: lib/gpl.c
 lib/sub/also-gpl.c
Copyright: t
License: GPL-2+

Files: lib/dual.c
Copyright: t
License: Apache-2.0 or GPL-2+

License: Expat
 text
EOF
lic() { layer/build-layer.sh licence "$S" 2>"$T/lic.err"; }
out=$(printf '%s\n' main.c | lic)
rc=$?
ok "$([ $rc = 0 ] && [ "$out" = $'MIT\nMIT' ] && echo 0 || echo 1)" "Files: * Expat -> MIT"
out=$(printf '%s\n' main.c lib/x.c | lic)
ok "$([ "$out" = $'BSD-3-Clause AND MIT\nBSD-3-Clause AND MIT' ] && echo 0 || echo 1)" \
    "a later paragraph wins for its files: $(echo "$out" | head -1)"
out=$(printf '%s\n' lib/dual.c | lic)
rc=$?
ok "$([ $rc = 0 ] && [ "$out" = $'(Apache-2.0 OR GPL-2.0-or-later)\nApache-2.0' ] && echo 0 || echo 1)" \
    "Apache-2.0 or GPL-2+ is allowed and used under Apache-2.0"
printf '%s\n' main.c lib/sub/also-gpl.c | lic >/dev/null
rc=$?
ok "$([ $rc = 1 ] && grep -q "not on the allowed list.*'GPL-2+'" "$T/lic.err" && echo 0 || echo 1)" \
    "a GPL-2+ file (named on a continuation line) fails the check: $(head -c 120 "$T/lic.err")"
printf 'Copyright 2020 someone, all rights reserved\n' >"$S/debian/copyright"
printf '%s\n' main.c | lic >/dev/null
ok "$([ $? = 1 ] && grep -q 'not machine-readable' "$T/lic.err" && echo 0 || echo 1)" \
    "a debian/copyright that is not DEP-5 fails the check"
finish
