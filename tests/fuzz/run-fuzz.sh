#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.c with clang + libFuzzer (ASan+UBSan) against the promote
# library sources compiled with clang into build/fuzz/, runs each for SECONDS on a copy of its
# seed corpus (tests/fuzz/corpus/<name>/, never modified), and prints one TAP line per target
# with the number of executions. Also builds each target's replay main() with gcc and replays
# the seed corpus through it.   usage: tests/fuzz/run-fuzz.sh [SECONDS]
# A target that needs more than the promote library names it in its own comments:
# "fuzz-deps: <sources, globs allowed>" and "fuzz-libs: <linker flags>" lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
SECS=${1:-10}
OUT=build/fuzz
CLANG=${CLANG:-clang}
mkdir -p "$OUT/obj" "$OUT/work"
CFLAGS=(-std=c11 -g -O1 -D_GNU_SOURCE -I. -Wall -Wextra -Werror -Wshadow -Wvla)
SAN=("-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=undefined)
# Only what the targets need: the promote engine, extension/base (buf, log, hex, ...), and the proxy's
# relay without its socket layer (fuzz_http1 stubs proxy/conn.c). Linked from an archive, so
# each target pulls in only the objects it uses.
SRCS=()
for s in promote/*.c extension/base/*.c proxy/http1.c proxy/nextbuf.c \
    proxy/relay.c proxy/orphan.c; do
    [ "$s" = promote/cli.c ] || SRCS+=("$s")
done
LIBS=(-lhttp_parser -luv)
n=0
fail=0
tap() { n=$((n + 1)); echo "$1 $n - $2"; [ "$1" = ok ] || fail=$((fail + 1)); }

# Extra objects of one target (its fuzz-deps lines), compiled once per compiler into $OUT/obj.
# Generated protobuf-c code is built without -Werror (its warnings are protoc-c's).
deps_objs() { # compiler-tag target.c
    local tag=$1 s o f flags
    [ -f build/gen/.stamp ] || make -s build/gen/.stamp >&2 || return 1
    # shellcheck disable=SC2013 # words (sources and globs), not lines
    for s in $(sed -n 's#.*fuzz-deps:\(.*\)#\1#p' "$2" | sed 's#[[:space:]]*\*/[[:space:]]*$##'); do
        o="$OUT/obj/${tag}_$(echo "$s" | tr / _).o"
        flags=(-Ibuild/gen)
        for f in "${CFLAGS[@]}"; do
            case $s:$f in build/gen/*:-Werror) ;; *) flags+=("$f") ;; esac
        done
        if [ ! -f "$o" ] || [ "$s" -nt "$o" ]; then
            if [ "$tag" = clang ]; then
                $CLANG "${flags[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$s" -o "$o" >&2 || return 1
            else
                gcc "${flags[@]}" -c "$s" -o "$o" >&2 || return 1
            fi
        fi
        echo "$o"
    done
}
deps_libs() { sed -n 's#.*fuzz-libs:\(.*\)#\1#p' "$1" | sed 's#[[:space:]]*\*/[[:space:]]*$##'; }

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
rm -f "$OUT/libfuzz.a" && ar rcs "$OUT/libfuzz.a" "${objs[@]}"

for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    bin="$OUT/$name"
    # shellcheck disable=SC2046,SC2086 # word splitting of the object and library lists is intended
    if ! extra=$(deps_objs clang "$src" 2>"$OUT/$name.build.log") ||
        ! $CLANG "${CFLAGS[@]}" -Ibuild/gen -DTB_LIBFUZZER "${SAN[@]}" "$src" $extra "$OUT/libfuzz.a" $(deps_libs "$src") "${LIBS[@]}" -o "$bin" 2>>"$OUT/$name.build.log"; then
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
rm -f "$OUT/libfuzz_gcc.a" && ar rcs "$OUT/libfuzz_gcc.a" "${gobjs[@]}"
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    bin="$OUT/replay_$name"
    # shellcheck disable=SC2046,SC2086 # word splitting of the object and library lists is intended
    if extra=$(deps_objs gcc "$src") &&
        gcc "${CFLAGS[@]}" -Ibuild/gen "$src" $extra "$OUT/libfuzz_gcc.a" $(deps_libs "$src") "${LIBS[@]}" -o "$bin" &&
        "$bin" "tests/fuzz/corpus/$name" >/dev/null; then
        tap ok "$name: gcc replay build runs the seed corpus"
    else
        tap "not ok" "$name: gcc replay"
    fi
done
echo "1..$n"
[ "$fail" -eq 0 ]
