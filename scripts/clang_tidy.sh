#!/bin/sh
# clang-tidy over src/**/*.cpp with the checks of .clang-tidy (all errors), one process per
# core, against a configured build's compile_commands.json (CMAKE_EXPORT_COMPILE_COMMANDS;
# the build must have generated the BPF skeleton). Fails on any finding.
#   scripts/clang_tidy.sh [BUILD_DIR]     default: build
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build/compile_commands.json" ] || {
    echo "clang-tidy: no $build/compile_commands.json: configure and build first" >&2
    exit 2
}
command -v clang-tidy >/dev/null || {
    echo "clang-tidy: not installed (scripts/deps.sh test)" >&2
    exit 2
}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
# -Wno-unknown-warning-option: the build's GCC-only -Wno-* flags mean nothing to clang.
# The exit status of xargs says whether any file had a finding (or failed to parse).
status=0
find src -name '*.cpp' | sort | xargs -P"$(nproc)" -n4 clang-tidy -p "$build" --quiet \
    --extra-arg=-Wno-unknown-warning-option >"$log" 2>&1 || status=$?
findings=$(grep -c ': error: ' "$log" || true)
echo "clang-tidy: $(find src -name '*.cpp' | wc -l) files, $findings findings," \
    "$(($(date +%s) - start)) s"
if [ "$status" -ne 0 ]; then
    grep -v ' warnings\? generated\.$' "$log" >&2 || true
    exit 1
fi
