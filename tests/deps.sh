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
stamp=tests/node/node_modules/.tracebridge-lock
if ! cmp -s tests/node/package-lock.json "$stamp" 2>/dev/null; then
    echo "deps: installing npm test peers (npm ci; the runtime client builds natively, ~1 min)"
    # node-gyp must use the local headers: the machine cannot download them.
    [ -f /usr/include/node/node.h ] && export npm_config_nodedir=/usr
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp tests/node/package-lock.json "$stamp"
fi

# Real handler stacks (tests/stacks/<stack>/install.sh), each only when missing.
for s in tests/stacks/*/install.sh; do "$s"; done
