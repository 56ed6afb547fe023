#!/bin/bash
# A flood of ≥ 1M random subdomains through the live agent (NFLOG): the project's flooder
# sends N queries for <random>.flood.example.com straight to the upstream dnsmasq (which
# answers each with an address) at a fixed rate. Expected: unique-domains.log holds at most
# max_names_per_domain names under example.com plus "*.example.com", their counts add up to
# exactly N (nothing lost, nothing counted twice: the NFLOG sequence shows no gap), the
# folding is reported, and the agent's peak resident memory stays under its configured
# memory_limit_mb. FLOOD_COUNT overrides N (default 1,000,000).
. "$(dirname "$0")/lib.sh"
need_root
EM_DNSFLOOD=${EM_DNSFLOOD:-$PWD/build/tests/em-dnsflood}
N=${FLOOD_COUNT:-1000000}
RATE=${FLOOD_RATE:-40000}
LIMIT_MB=64

make_topology
printf 'address=/flood.example.com/192.0.2.99\ncache-size=10000\n' | start_upstream_dnsmasq
printf 'max_names_per_domain = 1000\n[agent]\nmemory_limit_mb = %d\n' "$LIMIT_MB" >"$WORK/config.toml"
ip netns exec "$NS_CL" "$EM_BIN" agent --source nflog --state-dir "$WORK/state" \
    --output-dir "$WORK/out" --flush-interval 1s --config "$WORK/config.toml" -v 2>"$WORK/agent.log" &
AGENT=$!
PIDS+=("$AGENT")
for i in $(seq 100); do [ -e "$WORK/out/unique-ips.log" ] && break; sleep 0.1; done
[ -e "$WORK/out/unique-ips.log" ] || { cat "$WORK/agent.log"; fail "agent did not start"; }

in_cl "$EM_DNSFLOOD" --count "$N" --rate "$RATE" --domain flood.example.com 198.51.100.1 >"$WORK/flood.out"
cat "$WORK/flood.out"
sent=$(sed -E 's/sent=([0-9]+).*/\1/' "$WORK/flood.out")
sleep 2
peak_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$AGENT/status")
kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exit status $?"

lines=$(grep -c 'example\.com ' "$WORK/out/unique-domains.log")
total=$(awk '$1 ~ /example\.com$/ {s += $2} END {print s + 0}' "$WORK/out/unique-domains.log")
folded=$(awk '$1 == "*.example.com" {print $2}' "$WORK/out/unique-domains.log")
lost=$(sqlite3 "$WORK/state/ledger.sqlite" \
    "SELECT coalesce(sum(value),0) FROM counters WHERE name IN ('nflog.lost_seq','nflog.overruns')")
echo "flood: sent $sent, counted $total in $lines lines ($folded under *.example.com), lost $lost, peak RSS $((peak_kb / 1024)) MB (limit $LIMIT_MB MB)"
[ "$sent" -eq "$N" ] || fail "the flooder sent $sent of $N"
[ "$lost" -eq 0 ] || fail "the kernel dropped $lost NFLOG messages"
[ "$total" -eq "$sent" ] || fail "counted $total queries, sent $sent"
[ "$lines" -le 1001 ] || fail "$lines lines under example.com: folding did not bound them"
[ -n "$folded" ] || fail "no *.example.com line"
grep -q "names under one registrable domain" "$WORK/agent.log" || fail "folding not reported"
[ "$peak_kb" -lt $((LIMIT_MB * 1024)) ] || fail "peak RSS $peak_kb kB over the $LIMIT_MB MB limit"
echo "ok"
