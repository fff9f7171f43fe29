#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# java25-otel: the java17-otel test function (compiled for release 17, as one jar serves every
# Java runtime) on the newest LTS JDK installed under /usr/lib/jvm (25, else 21: Debian bookworm
# ships only 17, so it is whatever else the machine has, e.g. Temurin). Writes
# build/stacks/java25-otel/java_home and java_major, or java_home = "none" when there is none.
set -eu
cd "$(dirname "$0")/../../.."
tests/stacks/java17-otel/install.sh
out=build/stacks/java25-otel
mkdir -p "$out"
best=none
major=
for want in 25 21; do
    for d in /usr/lib/jvm/*; do
        if [ ! -x "$d/bin/java" ] || [ ! -f "$d/release" ]; then continue; fi
        v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$d/release")
        if [ "$v" = "$want" ]; then
            best=$d
            major=$v
            break 2
        fi
    done
done
echo "$best" >"$out/java_home"
if [ -n "$major" ]; then echo "$major" >"$out/java_major"; else rm -f "$out/java_major"; fi
