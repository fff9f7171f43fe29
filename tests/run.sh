#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the test suites and ends with one "N passed, N failed" line.
#   tests/run.sh              every suite (unit + e2e, plain and ASan+UBSan builds, fuzz smoke,
#                             the e2e suites that honour TB_VALGRIND under valgrind)
#   tests/run.sh unit e2e     only those suites
# Every test program prints TAP ("ok N - ..." / "not ok N - ..."); a program that exits non-zero
# without a failing line counts as one failure. Logs go to tests/out/.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=tests/out
mkdir -p "$OUT"
pass=0
fail=0
failed_names=()

run_tap() { # name, command...
    local name=$1 log rc p f t0=$SECONDS
    shift
    log="$OUT/${name//\//_}.log"
    timeout "${TB_TEST_TIMEOUT:-600}" "$@" >"$log" 2>&1
    rc=$?
    t0=$((SECONDS - t0))
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name exited with status $rc" >>"$log"
    fi
    pass=$((pass + p))
    fail=$((fail + f))
    if [ "$f" -gt 0 ]; then
        failed_names+=("$name")
        printf '  %-40s %4d passed, %d FAILED in %d s (log: %s)\n' "$name" "$p" "$f" "$t0" "$log"
        grep -E -A3 '^not ok ' "$log" | head -40 | sed 's/^/      /'
        tail -15 "$log" | sed 's/^/      | /'
    else
        printf '  %-40s %4d passed %4d s\n' "$name" "$p" "$t0"
    fi
}

suite_unit() { # build dir
    local b=$1 t
    for t in $(find "$b/tests/unit" "$b/tests/integ" -name 'test_*' -type f -perm -u+x 2>/dev/null | sort); do
        run_tap "unit:${b#build}:${t#"$b"/tests/}" "$t"
    done
}

suite_e2e() { # build dir
    local b=$1 t
    for t in tests/e2e/*.sh; do
        [ -x "$t" ] || continue
        # Under valgrind, only the suites that run something under it (they mention TB_VALGRIND).
        if [ "${TB_VALGRIND:-0}" = 1 ] && ! grep -q TB_VALGRIND "$t"; then continue; fi
        TB_BUILD=$b run_tap "e2e:${b#build}:$(basename "$t" .sh)" "$t"
    done
}

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit unit-asan e2e e2e-asan fuzz valgrind)
for s in "${suites[@]}"; do
    echo "== $s (at $SECONDS s)"
    case $s in
    unit) suite_unit build ;;
    unit-asan) suite_unit build/asan ;;
    e2e) suite_e2e build ;;
    e2e-asan) suite_e2e build/asan ;;
    fuzz) run_tap "fuzz-smoke" tests/fuzz/run-fuzz.sh "${TB_FUZZ_SECONDS:-8}" ;;
    valgrind) TB_VALGRIND=1 suite_e2e build ;;
    *) echo "unknown suite $s" >&2; fail=$((fail + 1)) ;;
    esac
done
if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "(all suites: $SECONDS s)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
