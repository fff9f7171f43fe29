#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates the configuration table in README.md from the code (`tracebridge env-doc`).
#   tests/tools/update-readme-env.sh [path/to/tracebridge]
set -eu
cd "$(dirname "$0")/../.."
bin=${1:-build/tracebridge}
table=$("$bin" env-doc)
awk -v table="$table" '
    /<!-- env-doc:start -->/ { print; print table; skip = 1; next }
    /<!-- env-doc:end -->/ { skip = 0 }
    !skip { print }
' README.md >README.md.tmp
mv README.md.tmp README.md
