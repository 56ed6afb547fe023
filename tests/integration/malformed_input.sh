#!/bin/bash
# Damaged input — random bytes with NULs, truncated lines, a 1 MB line, a 6 MB line, invalid
# UTF-8 — mixed among valid lines: consolidate exits 0, counts the valid lines exactly (the
# awk baseline over the valid lines alone), and reports the damage on stderr and in the
# ledger's counters.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${EGRESS_MONITOR:-build/egress-monitor}
gen=${GEN_LOGS:-build/bench/gen_logs}
export TZ=UTC
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$gen" --dnsmasq 20000 --kernel 20000 --out "$work" --seed 3 --domains 500 --ips 800
junk() {  # one damaged line of each kind, each ending in a newline
    head -c 300 /dev/urandom | tr '\n' 'x'; echo
    printf 'Nov 22 00:00:01 dnsmasq[4525]: 77 127.0.0.1/1 query[A] \n'
    printf 'Nov 22 00:00:01 dnsmasq[4525]: 78 127.0.0.1/1 query[A] caf\xc3\xa9.test from 127.0.0.1\n'
    printf 'Nov 22 00:00:01 dnsmasq[4525]: 79 127.0.0.1/1 query[A] a\x00b.test from 127.0.0.1\n'
    printf 'Nov 22 00:00:01 web1 kernel: [1.0] EGRESS: IN= OUT=eth0 SRC=10.0.0.5 DST=\n'
    printf 'Nov 22 00:00:01 web1 kernel: [1.0] EGRESS: IN= OUT=eth0 SRC=10.0.0.5 DST=300.1.2.3 LEN=60 PROTO=TCP SPT=1 DPT=2 \n'
    printf '\xff\xfe\xfd garbage EGRESS: \n'
}
mix() {  # valid file → damaged file: junk after every 1000th line, plus two huge lines
    awk -v j="$work/junk" 'BEGIN { while ((getline l < j) > 0) junk = junk l "\n" }
        { print } NR % 1000 == 0 { printf "%s", junk }' "$1" >"$2"
    head -c 1048576 /dev/zero | tr '\0' 'A' >>"$2"; echo >>"$2"
    head -c 6291456 /dev/zero | tr '\0' 'B' >>"$2"; echo >>"$2"
    printf 'Nov 22 00:00:02 dnsmasq[4525]: 80 127.0.0.1/1 query[A] truncated-at-eof.te' >>"$2"
}
junk >"$work/junk"
mix "$work/dnsmasq.log" "$work/bad-dnsmasq.log"
mix "$work/kern.log" "$work/bad-kern.log"

"$bin" consolidate --dnsmasq-log "$work/bad-dnsmasq.log" --kernel-log "$work/bad-kern.log" \
    --state-dir "$work/state" --output-dir "$work/out" 2>"$work/stderr" ||
    fail "consolidate exited non-zero on damaged input: $(cat "$work/stderr")"
bench/baseline.sh "$work/dnsmasq.log" "$work/kern.log" "$work/expected"
for f in unique-domains.log unique-ips.log; do
    cmp -s "$work/out/$f" "$work/expected/$f" || { diff "$work/expected/$f" "$work/out/$f" | head >&2; fail "$f differs"; }
done
grep -q "skipped a malformed dnsmasq line" "$work/stderr" || fail "no malformed dnsmasq line reported"
grep -q "skipped a malformed kernel LOG line" "$work/stderr" || fail "no malformed kernel line reported"
grep -q "bad-dnsmasq.log: skipped [0-9]* malformed line" "$work/stderr" || fail "no dnsmasq total on stderr"
[ "$(wc -l <"$work/stderr")" -lt 20 ] || fail "stderr floods: $(wc -l <"$work/stderr") lines"
dm=$(sqlite3 "$work/state/ledger.sqlite" "select value from counters where name='dnsmasq.malformed'")
km=$(sqlite3 "$work/state/ledger.sqlite" "select value from counters where name='kernel.malformed'")
# 20 junk blocks: per block >= 4 damaged dnsmasq-looking lines (random bytes add more).
[ "${dm:-0}" -ge 80 ] || fail "dnsmasq.malformed = ${dm:-0}"
[ "${km:-0}" -ge 40 ] || fail "kernel.malformed = ${km:-0}"
echo "malformed_input: valid lines counted exactly; skipped $dm damaged dnsmasq and $km kernel lines"
