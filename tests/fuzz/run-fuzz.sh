#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.c with clang + libFuzzer (ASan+UBSan) against the promote
# library sources compiled with clang into build/fuzz/, runs each for SECONDS on a copy of its
# seed corpus (tests/fuzz/corpus/<name>/, never modified), and prints one TAP line per target
# with the number of executions. Also builds each target's replay main() with gcc and replays
# the seed corpus through it.   usage: tests/fuzz/run-fuzz.sh [SECONDS]
set -u
cd "$(dirname "$0")/../.." || exit 1
SECS=${1:-10}
OUT=build/fuzz
CLANG=${CLANG:-clang}
mkdir -p "$OUT/obj" "$OUT/work"
CFLAGS=(-std=c11 -g -O1 -D_GNU_SOURCE -I. -Wall -Wextra -Werror -Wshadow -Wvla)
SAN=("-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=undefined)
# Only what the targets need: the promote engine, the bounded buffer and the OTLP codec with
# its protoc-c generated messages (no libuv/curl).
mkdir -p "$OUT/gen"
mapfile -t PROTOS < <(find extension/otlp/proto -name '*.proto' | sort)
protoc-c -Iextension/otlp/proto --c_out="$OUT/gen" "${PROTOS[@]}" || exit 1
CFLAGS+=(-I"$OUT/gen")
LIBS=(-lprotobuf-c -lcjson -lm)
SRCS=()
for s in promote/*.c extension/base/buf.c extension/otlp.c extension/otlp/*.c \
    $(find "$OUT/gen" -name '*.pb-c.c' | sort); do
    [ "$s" = promote/cli.c ] || SRCS+=("$s")
done
n=0
fail=0
tap() { n=$((n + 1)); echo "$1 $n - $2"; [ "$1" = ok ] || fail=$((fail + 1)); }

objs=()
for s in "${SRCS[@]}"; do
    o="$OUT/obj/$(echo "$s" | tr / _).o"
    if ! $CLANG "${CFLAGS[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$s" -o "$o" 2>"$OUT/build.log"; then
        cat "$OUT/build.log" >&2
        tap "not ok" "build $s with clang"
        echo "1..$n"
        exit 1
    fi
    objs+=("$o")
done

for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    bin="$OUT/$name"
    if ! $CLANG "${CFLAGS[@]}" -DTB_LIBFUZZER "${SAN[@]}" "$src" "${objs[@]}" "${LIBS[@]}" -o "$bin" 2>"$OUT/$name.build.log"; then
        cat "$OUT/$name.build.log" >&2
        tap "not ok" "$name: clang libFuzzer build"
        continue
    fi
    work="$OUT/work/$name"
    rm -rf "$work" && mkdir -p "$work"
    [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
    log="$OUT/$name.log"
    "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$OUT/$name-" "$work" >"$log" 2>&1
    rc=$?
    execs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1)
    if [ $rc -eq 0 ] && [ -n "$execs" ]; then
        tap ok "$name: $execs executions in ${SECS}s, no crash"
    else
        tap "not ok" "$name: crashed or failed (rc=$rc, log $log)"
        grep -E 'ERROR|invariant|SUMMARY|runtime error' "$log" | head -5 | sed 's/^/# /'
    fi
done

# gcc builds of the same targets with the replay main(), over the seed corpora
gobjs=()
for s in "${SRCS[@]}"; do
    o="$OUT/obj/gcc_$(echo "$s" | tr / _).o"
    gcc "${CFLAGS[@]}" -c "$s" -o "$o" || { tap "not ok" "gcc build $s"; continue; }
    gobjs+=("$o")
done
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    bin="$OUT/replay_$name"
    if gcc "${CFLAGS[@]}" "$src" "${gobjs[@]}" "${LIBS[@]}" -o "$bin" && "$bin" "tests/fuzz/corpus/$name" >/dev/null; then
        tap ok "$name: gcc replay build runs the seed corpus"
    else
        tap "not ok" "$name: gcc replay"
    fi
done
echo "1..$n"
[ "$fail" -eq 0 ]
