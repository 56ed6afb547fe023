#!/bin/bash
# Kills consolidate with SIGKILL at random moments over 250 rounds while the dnsmasq log and
# kern.log grow (appended while consolidate runs) and rotate both ways — rename-and-create
# with delayed gzip of older generations, and copytruncate — then lets it finish and
# requires files identical to the awk baseline over everything that was written: nothing
# lost, nothing counted twice.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${EGRESS_MONITOR:-build/egress-monitor}
gen=${GEN_LOGS:-build/bench/gen_logs}
[ -x "$bin" ] && [ -x "$gen" ] || { echo "FAIL: need $bin and $gen" >&2; exit 1; }
export TZ=UTC
work=$(mktemp -d)
cpid=""
trap '[ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

rounds=${CRASH_ROUNDS:-250}
chunk=1500
mkdir -p "$work/pool" "$work/live" "$work/fed"
"$gen" --dnsmasq $((rounds * chunk + 10)) --kernel $((rounds * chunk + 10)) --out "$work/pool" \
    --seed 7 --domains 3000 --ips 5000 --lines-per-second 50
split -l "$chunk" -d -a 4 "$work/pool/dnsmasq.log" "$work/pool/d."
split -l "$chunk" -d -a 4 "$work/pool/kern.log" "$work/pool/k."

dlog=$work/live/dnsmasq.log klog=$work/live/kern.log
rotate_rename() {  # logrotate with compress + delaycompress
    local f=$1 k
    for k in 8 7 6 5 4 3 2; do [ -e "$f.$k.gz" ] && mv "$f.$k.gz" "$f.$((k + 1)).gz"; done
    if [ -e "$f.1" ]; then gzip -c "$f.1" >"$f.2.gz"; rm "$f.1"; fi
    [ -e "$f" ] && mv "$f" "$f.1"
    : >"$f"
}
rotate_copytruncate() {
    local f=$1 k
    for k in 8 7 6 5 4 3 2; do [ -e "$f.$k.gz" ] && mv "$f.$k.gz" "$f.$((k + 1)).gz"; done
    if [ -e "$f.1" ]; then gzip -c "$f.1" >"$f.2.gz"; rm "$f.1"; fi
    cp "$f" "$f.1"
    truncate -s 0 "$f"
}
args=(consolidate --dnsmasq-log "$dlog" --kernel-log "$klog" --state-dir "$work/state"
    --output-dir "$work/out")
run_consolidate() { "$bin" "${args[@]}" 2>>"$work/stderr"; }

# Installed on a quiet host: the first run finds both logs empty and stores where it stands
# (a first run does not read generations rotated before it). Every later run may be killed,
# even all of those before the first rotation.
: >"$dlog"
: >"$klog"
run_consolidate || fail "first consolidate failed: $(tail -3 "$work/stderr")"
killed=0 finished=0 failed=0 rotations=0
for ((i = 0; i < rounds; i++)); do
    n=$(printf '%04d' "$i")
    # A simple command, not a function: $! is consolidate itself, not a subshell whose
    # SIGKILL would leave consolidate running on as an orphan.
    "$bin" "${args[@]}" 2>>"$work/stderr" &
    cpid=$!
    # Grow the logs while it runs; rotate now and then, alternating the two ways.
    cat "$work/pool/d.$n" >>"$dlog"
    cat "$work/pool/k.$n" >>"$klog"
    cat "$work/pool/d.$n" >>"$work/fed/dnsmasq.log"
    cat "$work/pool/k.$n" >>"$work/fed/kern.log"
    if ((i % 13 == 12)); then
        if ((rotations % 2 == 0)); then rotate_rename "$dlog"; rotate_copytruncate "$klog"
        else rotate_copytruncate "$dlog"; rotate_rename "$klog"; fi
        rotations=$((rotations + 1))
    fi
    sleep "$(printf '0.%03d' $((RANDOM % 60)))"  # 0-59 ms
    if kill -9 "$cpid" 2>/dev/null; then :; fi
    if wait "$cpid" 2>/dev/null; then finished=$((finished + 1))
    else
        rc=$?
        if [ "$rc" -eq 137 ]; then killed=$((killed + 1)); else failed=$((failed + 1)); fi
    fi
    cpid=""
done
# Let it finish: the second run must find nothing new.
run_consolidate || fail "final consolidate failed: $(tail -3 "$work/stderr")"
run_consolidate || fail "second final consolidate failed"

bench/baseline.sh "$work/fed/dnsmasq.log" "$work/fed/kern.log" "$work/expected"
for f in unique-domains.log unique-ips.log; do
    cmp -s "$work/out/$f" "$work/expected/$f" || {
        diff "$work/expected/$f" "$work/out/$f" | head -20 >&2
        fail "$f differs from the baseline after $killed kills"
    }
done
[ "$killed" -ge 60 ] || fail "only $killed runs were killed mid-way; the test proves little"
grep -v "was truncated while being read" "$work/stderr" | grep -i "error" >&2 && fail "unexpected errors"
echo "crash_rotate: $rounds rounds, $killed killed by SIGKILL, $finished finished, $failed" \
    "stopped by a truncation under the reader, $rotations rotations: files exact" \
    "($(wc -l <"$work/out/unique-domains.log") domains, $(wc -l <"$work/out/unique-ips.log") addresses)"
