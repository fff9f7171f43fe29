#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what the build, the tests and the demo need, only when missing: Debian packages with
# apt-get, and the pinned npm test peers (tests/node/package-lock.json) with npm ci.
set -eu
cd "$(dirname "$0")/.."

APT_PKGS="build-essential clang libclang-rt-14-dev pkg-config libuv1-dev libcurl4-openssl-dev
libcjson-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev libhttp-parser-dev
protobuf-compiler cmake python3 nodejs npm zip unzip file valgrind shellcheck clang-format
procps curl ca-certificates iproute2 nginx-light"

# Node.js: any installed node (nodesource or Debian) will do; Debian's needs libnode-dev for the
# headers the runtime client's native build compiles against (no header download is possible).
command -v node >/dev/null 2>&1 || APT_PKGS="$APT_PKGS libnode-dev"
missing=""
for p in $APT_PKGS; do
    case $p in
    nodejs | npm) command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm test peers: reinstall when the lockfile changed since the last install.
npm_peers() {
    local stamp=tests/node/node_modules/.tracebridge-lock
    if cmp -s tests/node/package-lock.json "$stamp" 2>/dev/null; then return 0; fi
    echo "deps: installing npm test peers (npm ci; the runtime client builds natively, ~1 min)"
    # node-gyp must use the local headers: the machine cannot download them.
    if [ -f /usr/include/node/node.h ]; then export npm_config_nodedir=/usr; fi
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp tests/node/package-lock.json "$stamp"
}

# The real handler stacks (tests/stacks/<stack>/install.sh), each only when missing, by the
# tool whose cache they share: one group per tool, the installs of a group in order (Maven's
# local repository takes one writer at a time), the groups side by side (on a fresh machine
# most of this waits on the registries). The Collector, the longest (hundreds of modules), is a
# group of its own: Go's module and build caches take concurrent builds. Each group's output is
# printed when all have ended.
STACK_GROUPS="node:node-adot jvm:java17-otel,java25-otel python:python-adot,python-otel
go:go-otellambda,go-xrayconfig,rie otelcol:otelcol"
for s in tests/stacks/*/install.sh; do
    s=${s#tests/stacks/}
    case ",${STACK_GROUPS//[:[:space:]]/,}," in
    *",${s%/install.sh},"*) ;;
    *) echo "deps: tests/stacks/$s is in no group of tests/deps.sh" >&2 && exit 1 ;;
    esac
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for g in $STACK_GROUPS; do
    name=${g%%:*}
    (
        if [ "$name" = node ]; then npm_peers; fi
        list=${g#*:}
        for s in ${list//,/ }; do tests/stacks/"$s"/install.sh || exit 1; done
    ) >"$T/$name.log" 2>&1 &
    echo "$!" >"$T/$name.pid"
done
rc=0
for g in $STACK_GROUPS; do
    name=${g%%:*}
    wait "$(cat "$T/$name.pid")" || { rc=1 && echo "deps: the $name installs failed:" >&2; }
    cat "$T/$name.log"
done
exit $rc
