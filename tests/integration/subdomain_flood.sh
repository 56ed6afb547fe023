#!/bin/bash
# A flood of random subdomains (DNS-tunnelling style, 300,000 names per run under one
# registrable domain) stays bounded: at most max_names_per_domain (1000) names of that
# domain get lines, the rest are counted under "*.flood-tunnel.com" — exactly — the folding
# is reported on stderr and in the ledger, other domains are untouched, memory stays small.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${EGRESS_MONITOR:-build/egress-monitor}
export TZ=UTC
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

flood() {  # seed count → appends query and answer lines for random names, plus a normal domain
    mawk -v seed="$1" -v n="$2" 'BEGIN { srand(seed)
        for (i = 0; i < n; i++) {
            name = sprintf("%08x%08x.t.flood-tunnel.com", int(rand() * 4294967295), i)
            printf "Nov 22 10:00:%02d dnsmasq[77]: %d 127.0.0.1/1 query[TXT] %s from 127.0.0.1\n", i % 60, seed * 10000000 + i, name
            printf "Nov 22 10:00:%02d dnsmasq[77]: %d 127.0.0.1/1 reply %s is 192.0.2.77\n", i % 60, seed * 10000000 + i, name
            if (i % 1000 == 0) printf "Nov 22 10:00:%02d dnsmasq[77]: %d 127.0.0.1/2 query[A] api.normal.example from 127.0.0.1\n", i % 60, 99
        } }' >>"$work/dnsmasq.log"
}
run() {
    /usr/bin/time -f "%M" -o "$work/rss" "$bin" consolidate --dnsmasq-log "$work/dnsmasq.log" \
        --kernel-log none --state-dir "$work/state" --output-dir "$work/out" 2>"$work/err" ||
        fail "consolidate failed: $(cat "$work/err")"
}
flood 1 300000
run
grep -q "more than 1000 names under one registrable domain" "$work/err" || fail "folding not reported: $(cat "$work/err")"
grep -q '\*\.flood-tunnel\.com' "$work/err" || fail "the folded domain is not named: $(cat "$work/err")"
lines=$(grep -c 'flood-tunnel\.com ' "$work/out/unique-domains.log")
[ "$lines" -eq 1001 ] || fail "$lines lines for the flooded domain, expected 1000 names + 1 folded"
folded=$(awk '$1 == "*.flood-tunnel.com" { print $2, $4 }' "$work/out/unique-domains.log")
[ "$folded" = "299000 192.0.2.77" ] || fail "folded entry: '$folded'"
grep -q '^api.normal.example 300 ' "$work/out/unique-domains.log" || fail "other domains disturbed"
rss1=$(cat "$work/rss")

flood 2 300000  # a second run: every new name of that domain folds
run
lines=$(grep -c 'flood-tunnel\.com ' "$work/out/unique-domains.log")
[ "$lines" -eq 1001 ] || fail "second run: $lines lines for the flooded domain"
folded=$(awk '$1 == "*.flood-tunnel.com" { print $2 }' "$work/out/unique-domains.log")
[ "$folded" -eq 599000 ] || fail "second run: folded count $folded, expected 599000"
# Folded while reading (beyond 1000 new names in one run) and at commit (new names of a
# domain the ledger already holds 1000 of): 299000 + 299000 queries, then 1000 names.
q=$(sqlite3 "$work/state/ledger.sqlite" "select value from counters where name='dnsmasq.folded_queries'")
names=$(sqlite3 "$work/state/ledger.sqlite" "select value from counters where name='domains.folded_names'")
[ "${q:-0}" -eq 598000 ] && [ "${names:-0}" -eq 1000 ] || fail "counters: folded_queries=${q:-0} folded_names=${names:-0}"
rss2=$(cat "$work/rss")
[ "$rss1" -lt 150000 ] && [ "$rss2" -lt 150000 ] || fail "peak RSS ${rss1} / ${rss2} KB"
echo "subdomain_flood: 600,000 random names -> 1000 lines + *.flood-tunnel.com (599000); peak RSS ${rss1} KB, ${rss2} KB"
