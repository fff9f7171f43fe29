#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target (tests/fuzz/fuzz_*.c, built by `make FUZZ=1` with clang, ASan+UBSan,
# into build/libfuzzer/fuzz/) for SECONDS on a copy of its seed corpus (tests/fuzz/corpus/<name>/,
# never modified), printing one TAP line per target with the number of executions; then replays
# each seed corpus through the gcc build of the same target (build/fuzz/<name>, made by `make`).
# Targets run side by side, one per CPU.
#   usage: tests/fuzz/run-fuzz.sh [SECONDS]
set -u
cd "$(dirname "$0")/../.." || exit 1
SECS=${1:-10}
JOBS=${TB_JOBS:-$(nproc 2>/dev/null || echo 2)}
OUT=build/libfuzzer
mkdir -p "$OUT/work"
n=0
fail=0
tap() { n=$((n + 1)); echo "$1 $n - $2"; [ "$1" = ok ] || fail=$((fail + 1)); }

if ! make --no-print-directory -s -j"$JOBS" FUZZ=1 fuzz-targets >"$OUT/build.log" 2>&1; then
    tail -30 "$OUT/build.log" >&2
    tap "not ok" "make FUZZ=1 fuzz-targets"
    echo "1..$n"
    exit 1
fi
if ! make --no-print-directory -s -j"$JOBS" fuzz-targets >"$OUT/build-gcc.log" 2>&1; then
    tail -30 "$OUT/build-gcc.log" >&2
    tap "not ok" "make fuzz-targets (gcc replay programs)"
fi

# One target for SECS on a copy of its seed corpus; its exit status goes to $OUT/<name>.rc.
fuzz_one() { # name
    local name=$1 work="$OUT/work/$1"
    rm -rf "$work" && mkdir -p "$work"
    [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
    "$OUT/fuzz/$name" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$OUT/$name-" "$work" >"$OUT/$name.log" 2>&1
    echo $? >"$OUT/$name.rc"
}

# As many targets at once as there are CPUs (TB_FUZZ_JOBS), each on its own.
jobs_max=${TB_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
running=0
for src in tests/fuzz/fuzz_*.c; do
    fuzz_one "$(basename "$src" .c)" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs_max" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    log="$OUT/$name.log"
    rc=$(cat "$OUT/$name.rc" 2>/dev/null || echo 1)
    execs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1)
    if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
        tap ok "$name: $execs executions in ${SECS}s, no crash"
    else
        tap "not ok" "$name: crashed or failed (rc=$rc, log $log)"
        grep -E 'ERROR|invariant|SUMMARY|runtime error' "$log" | head -5 | sed 's/^/# /'
    fi
done

# the gcc builds of the same targets with the replay main(), over the seed corpora
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    if "build/fuzz/$name" "tests/fuzz/corpus/$name" >/dev/null; then
        tap ok "$name: gcc replay build runs the seed corpus"
    else
        tap "not ok" "$name: gcc replay"
    fi
done
echo "1..$n"
[ "$fail" -eq 0 ]
