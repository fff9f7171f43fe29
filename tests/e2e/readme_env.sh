#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's configuration table is exactly what the code's table prints (`env-doc`).
set -u
cd "$(dirname "$0")/../.." || exit 1
bin="${TB_BUILD:-build}/tracebridge"
want=$("$bin" env-doc)
got=$(awk '/<!-- env-doc:end -->/ { p = 0 } p { print } /<!-- env-doc:start -->/ { p = 1 }' README.md)
if [ "$want" = "$got" ]; then
    echo "ok 1 - README configuration table matches tracebridge env-doc"
else
    echo "not ok 1 - README configuration table is stale: run tests/tools/update-readme-env.sh"
    diff <(echo "$want") <(echo "$got") | head -20 | sed 's/^/# /'
fi
n=$(echo "$want" | grep -c '^| `')
if [ "$n" -ge 30 ]; then
    echo "ok 2 - env-doc lists $n variables"
else
    echo "not ok 2 - env-doc lists only $n variables"
fi
echo "1..2"
