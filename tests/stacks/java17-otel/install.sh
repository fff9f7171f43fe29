#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# java17-otel: installs what the stack needs when missing (JDK 17 and Maven from Debian) and
# builds the test function from pom.xml (exact versions; Maven's own cache is its default
# ~/.m2) into build/stacks/java17-otel/: target/classes, classpath.txt (the runtime classpath),
# opentelemetry-javaagent.jar, java_home. Idempotent: a stamp holds the hash of the sources.
set -eu
cd "$(dirname "$0")/../../.."
src=tests/stacks/java17-otel
out=build/stacks/java17-otel
want=$(cat "$src/pom.xml" "$src"/src/main/java/orders/*.java | sha256sum | cut -d' ' -f1)
if [ "$(cat "$out/.installed" 2>/dev/null)" = "$want" ] && [ -f "$out/opentelemetry-javaagent.jar" ]; then
    exit 0
fi
home=/usr/lib/jvm/java-17-openjdk-$(dpkg --print-architecture)
missing=""
[ -x "$home/bin/javac" ] || missing="$missing openjdk-17-jdk-headless"
command -v mvn >/dev/null 2>&1 || missing="$missing maven"
if [ -n "$missing" ]; then
    echo "deps: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
echo "deps: building the java17-otel test function (Maven; the first run resolves from Maven Central)"
mkdir -p "$out"
export JAVA_HOME=$home
# Offline first (everything already in ~/.m2), then with Maven Central.
(cd "$src" && { mvn -q -B -o package >/dev/null 2>&1 || mvn -q -B package; })
echo "$home" >"$out/java_home"
echo 17 >"$out/java_major"
echo "$want" >"$out/.installed"
