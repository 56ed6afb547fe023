#!/bin/bash
# One consolidate at a time: while another holds the state directory's lock, a second run
# waits lock_timeout_ms, then exits non-zero saying who holds it; once the lock is free it
# runs normally.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${EGRESS_MONITOR:-build/egress-monitor}
work=$(mktemp -d)
holder=""
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$work/state"
printf 'Nov 22 11:35:35 dnsmasq[1]: 1 127.0.0.1/1 query[A] a.test from 127.0.0.1\n' >"$work/dnsmasq.log"
printf 'lock_timeout_ms = 700\n' >"$work/config.toml"
run() {
    "$bin" consolidate --config "$work/config.toml" --dnsmasq-log "$work/dnsmasq.log" \
        --kernel-log none --state-dir "$work/state" --output-dir "$work/out"
}
# Another run in progress: a process holding the same lock (the sleep inherits the locked fd).
(exec 9>"$work/state/consolidate.lock" && flock 9 && echo 4242 >&9 && exec sleep 30) &
holder=$!
sleep 0.2
start=$(date +%s%N)
if run 2>"$work/err"; then fail "ran while the lock was held"; fi
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$elapsed_ms" -ge 600 ] && [ "$elapsed_ms" -lt 5000 ] || fail "waited ${elapsed_ms} ms, expected about 700"
grep -q "another run (pid 4242) holds $work/state/consolidate.lock; gave up after 700 ms" "$work/err" || fail "unclear: $(cat "$work/err")"
[ "$(wc -l <"$work/err")" -eq 1 ] || fail "not one line: $(cat "$work/err")"
[ ! -e "$work/out/unique-domains.log" ] || fail "files written without the lock"
kill "$holder"; wait "$holder" 2>/dev/null || true; holder=""
run || fail "run after the lock was released failed"
grep -q '^a.test 1 ' "$work/out/unique-domains.log" || fail "nothing counted after the lock was released"
echo "lock_contention: a second run waited ${elapsed_ms} ms and gave up with: $(cat "$work/err")"
