#!/bin/sh
# The one test command (README quick start, .ci/run): installs the build and test
# dependencies if missing, builds, and runs every test — clang-tidy, unit tests, fuzz-corpus
# replays, kernel tests and integration tests against the real programs (root), an
# ASan+UBSan build of the unit and kernel tests, short libFuzzer runs, and the quick
# benchmark as a large-scale cross-check.
#   scripts/test.sh            everything
#   scripts/test.sh --fast     unit and fuzz-corpus tests of the main build only (no root,
#                              no kernel features, no clang-tidy)
set -eu
cd "$(dirname "$0")/.."
fast=0
[ "${1:-}" = "--fast" ] && fast=1

if [ "$(id -u)" -eq 0 ]; then
    scripts/deps.sh test
else
    echo "test: not root: dependencies are not installed and integration tests are skipped" >&2
fi
jobs=$(nproc)
# Every fuzz target, from its source (tests/CMakeLists.txt globs the same files): a new
# target is added by adding tests/fuzz/NAME_fuzz.cpp and its corpus directory.
fuzz_targets=$(for f in tests/fuzz/*_fuzz.cpp; do basename "$f" .cpp; done)

echo "== build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"

if [ "$fast" -eq 1 ]; then
    (cd build && ctest --output-on-failure -j"$jobs" -L 'unit|fuzz')
    exit 0
fi

# clang-tidy runs beside the tests (in its own session, niced: the integration tests mostly
# wait on namespaces and timers), and is waited for before anything else.
echo "== clang-tidy (beside the tests): the checks of .clang-tidy over src/, zero findings"
tidy_log=$(mktemp)
setsid nice -n 10 scripts/clang_tidy.sh build >"$tidy_log" 2>&1 &
tidy_pid=$!
trap 'kill -- -"$tidy_pid" 2>/dev/null || true; rm -f "$tidy_log"' EXIT

echo "== unit, fuzz-corpus, kernel and integration tests"
(cd build && ctest --output-on-failure -j"$jobs")
if ! wait "$tidy_pid"; then
    cat "$tidy_log" >&2
    echo "clang-tidy: findings (above)" >&2
    exit 1
fi
cat "$tidy_log"

echo "== quick benchmark: consolidate and the awk baseline must agree"
bench/run.sh --quick

echo "== sanitizers: unit tests, kernel tests and corpus replays under ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEM_SANITIZE=ON >/dev/null
# shellcheck disable=SC2086 # one word per target
cmake --build build-asan -j"$jobs" --target unit_tests kernel_tests $fuzz_targets
(cd build-asan && ctest --output-on-failure -j"$jobs" -L 'unit|fuzz|kernel')

echo "== libFuzzer: short runs of every target"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEM_FUZZ=ON -DEM_SANITIZE=ON \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
for target in $fuzz_targets; do
    cmake --build build-fuzz -j"$jobs" --target "$target" >/dev/null
    work=$(mktemp -d)
    cp -r "tests/fuzz/corpus/$target/." "$work/"
    ./build-fuzz/tests/"$target" -max_total_time="${FUZZ_SECONDS:-20}" -max_len=4096 \
        -artifact_prefix="$work/" "$work" >"$work.log" 2>&1 || {
        tail -30 "$work.log"
        echo "fuzz: $target failed; the input is kept in $work" >&2
        exit 1
    }
    echo "$target: $(tail -1 "$work.log")"
    rm -rf "$work" "$work.log"
done
echo "all tests passed"
