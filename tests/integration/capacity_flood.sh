#!/bin/bash
# Never blind (hardening issue, part 1): a local user floods the resolver with names that do
# not fold per registrable domain — 3,000 names under a private suffix entry (x<i>.github.io,
# each its own registrable domain) and 2,000 random .com domains — against a scaled-down
# max_domains of 1,000. The real new domain queried after the flood is still in the files
# (under its registrable domain), every query is counted exactly once, the line count stays
# bounded, the capacity state is in /metrics and summary.json, and the collector opens a
# `capacity` alert for the host (and a new_domain alert that names the real domain).
# Before the fix the ledger refused every new name at the bound: the real one was lost.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${EGRESS_MONITOR:-$PWD/build/egress-monitor}
export TZ=UTC
work=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
[ -n "${KEEP_WORK:-}" ] && trap 'cp -r "$work" /tmp/kept-capacity; cleanup' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v curl >/dev/null || { echo "skipped: no curl" >&2; exit 77; }

query() {  # id name answer → a query and its reply, the way dnsmasq logs them
    printf 'Dec  2 10:00:00 dnsmasq[77]: %d 127.0.0.1/1 query[A] %s from 127.0.0.1\n' "$1" "$2"
    printf 'Dec  2 10:00:00 dnsmasq[77]: %d 127.0.0.1/1 reply %s is %s\n' "$1" "$2" "$3"
}
cat >"$work/config.toml" <<CONF
max_domains = 1000
CONF
consolidate() {
    "$bin" consolidate --dnsmasq-log "$work/dnsmasq.log" --kernel-log none --config "$work/config.toml" \
        --state-dir "$work/state" --output-dir "$work/out" 2>>"$work/err" ||
        fail "consolidate failed: $(cat "$work/err")"
}

# Before the flood: what the host normally uses (the collector's baseline).
for i in 1 2 3; do query "$i" "api$i.normal.example" 192.0.2.1; done >"$work/dnsmasq.log"
consolidate
# The endpoint and a first fetch: the collector learns the normal names.
head -c 24 /dev/urandom | base64 >"$work/token"
chmod 600 "$work/token"
port=$((20000 + $$ % 10000))
"$bin" serve --listen "127.0.0.1:$port" --plain-http --token-file "$work/token" \
    --output-dir "$work/out" --state-dir "$work/state" --config /dev/null 2>"$work/serve.log" &
pids+=("$!")
get() { curl -sf -H "Authorization: Bearer $(cat "$work/token")" "http://127.0.0.1:$port$1"; }
for _ in $(seq 100); do get /healthz >/dev/null 2>&1 && break; sleep 0.1; done
cat >"$work/inventory.toml" <<CONF
[[host]]
name = "flooded"
url = "http://127.0.0.1:$port"
token_file = "$work/token"
insecure_http = true
CONF
cat >"$work/collector.toml" <<CONF
[history]
path = "$work/history.sqlite"
[rules]
# One alert per registrable domain, unbounded: this test looks for the real domain's own
# alert; by default (20) the flood's findings are one summary alert (CorrelateTest).
max_alerts_per_host = 0
[rules.new_domain]
learning_days = 0
[rules.tunnel]
enabled = false
[rules.stale]
enabled = false
[alerts]
stdout = false
jsonl = "$work/alerts.jsonl"
CONF
collect() {
    "$bin" collect --inventory "$work/inventory.toml" --config "$work/collector.toml" --once \
        --timeout 5s 2>>"$work/collect.log" || fail "collect: $(cat "$work/collect.log")"
}
collect

# The flood: 3,000 private-suffix names, then 2,000 random .com domains.
mawk 'BEGIN { srand(7)
    for (i = 0; i < 3000; i++) {
        printf "Dec  2 10:01:00 dnsmasq[77]: %d 127.0.0.1/1 query[A] x%d.github.io from 127.0.0.1\n", 1000 + i, i
    }
    for (i = 0; i < 2000; i++) {
        name = sprintf("%08x%04x.com", int(rand() * 4294967295), i)
        printf "Dec  2 10:02:00 dnsmasq[77]: %d 127.0.0.1/1 query[A] %s from 127.0.0.1\n", 5000 + i, name
    } }' >>"$work/dnsmasq.log"
consolidate
grep -q "at capacity" "$work/err" || fail "capacity not reported: $(cat "$work/err")"
# Then the one that matters.
query 9999 exfil.example.org 203.0.113.9 >>"$work/dnsmasq.log"
consolidate

domains=$work/out/unique-domains.log
line=$(grep -E '^(\*\.\*\.)?(exfil\.)?example\.org ' "$domains" || true)
[ -n "$line" ] || fail "the real new domain is not in the files: $(grep -c . "$domains") lines"
grep -q '203.0.113.9' <<<"$line" || fail "its answer is not kept: $line"
total=$(awk '{ s += $2 } END { print s }' "$domains")
[ "$total" -eq $((3 + 3000 + 2000 + 1)) ] || fail "total queries $total, expected 5004 (exact)"
lines=$(grep -c . "$domains")
# max_domains + reserves (1000/32 = 31 and 1000/64 = 15) + the catch-all
[ "$lines" -le $((1000 + 31 + 15 + 1)) ] || fail "$lines lines: beyond the bound"
grep -q '^\*\.\*\.github\.io ' "$domains" || fail "the private-suffix flood is not folded under github.io"
grep -q '^\*\.\*\.com ' "$domains" || fail "the .com flood is not folded under com"

# The capacity state on the endpoint.
summary=$(get /v1/summary.json) || fail "summary.json: $(cat "$work/serve.log")"
grep -q '"domains":{"lines":[0-9]*,"limit":1000,"at_capacity":true}' <<<"$summary" ||
    fail "summary.json has no capacity state: $summary"
metrics=$(get /metrics)
grep -q '^egress_monitor_at_capacity{table="domains"} 1$' <<<"$metrics" || fail "/metrics: no at_capacity"
grep -q '^egress_monitor_counter{name="domains.capacity_folded_names"} [1-9]' <<<"$metrics" ||
    fail "/metrics: no capacity_folded_names counter"

sleep 1.1  # a second later than the first fetch: what it finds is new (learning_days = 0)
collect
alerts=$(cat "$work/alerts.jsonl" 2>/dev/null || true)
# Filtered into variables first: "grep | grep -q" under pipefail fails when -q exits early.
cap=$(grep '"rule":"capacity"' <<<"$alerts" || true)
new=$(grep '"rule":"new_domain"' <<<"$alerts" || true)
grep -q '"state":"open"' <<<"$cap" || fail "no capacity alert: $(head -c 2000 <<<"$alerts")"
grep -q 'github.io' <<<"$cap" || fail "the capacity alert does not say what filled it: $cap"
grep -q '"key":"example\.org".*new domain \*\.\*\.example\.org' <<<"$new" || fail "no new_domain alert for the real domain"
echo "capacity_flood: 5,000 flood names + 1 real: $lines lines, total $total exact; real: ${line%% *}; collector alerted"
