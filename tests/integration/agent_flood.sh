#!/bin/bash
# A flood of ≥ 1M random subdomains through the live agent (NFLOG): the project's flooder
# sends N queries for <random>.flood.example.com straight to the upstream dnsmasq (which
# answers each with an address) at a fixed rate. Expected: unique-domains.log holds at most
# max_names_per_domain names under example.com plus "*.example.com", their counts add up to
# exactly N (nothing lost, nothing counted twice: the NFLOG sequence shows no gap), the
# folding is reported, and the agent's peak resident memory stays under its configured
# memory_limit_mb. FLOOD_COUNT overrides N (default 1,000,000).
# Then kernel-side loss is made to happen on purpose — the agent is stopped (SIGSTOP) with a
# small receive buffer while connections are opened — and must be reported, never silent:
# captured + the NFLOG sequence gap = what the connector opened, and a warning is logged.
. "$(dirname "$0")/lib.sh"
need_root
EM_DNSFLOOD=${EM_DNSFLOOD:-$PWD/build/tests/em-dnsflood}
EM_CONNECT=${EM_CONNECT:-$PWD/build/tests/em-connect}
N=${FLOOD_COUNT:-1000000}
RATE=${FLOOD_RATE:-40000}
LIMIT_MB=64

make_topology
start_upstream_dnsmasq < <(printf 'address=/flood.example.com/192.0.2.99\ncache-size=10000\n')
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

# Loss on purpose: a 64 KiB buffer, the reader stopped while 20,000 connections are opened.
printf '[agent]\nrcvbuf_bytes = 65536\n' >"$WORK/small.toml"
ip netns exec "$NS_CL" "$EM_BIN" agent --source nflog --state-dir "$WORK/state2" \
    --output-dir "$WORK/out2" --flush-interval 200ms --config "$WORK/small.toml" 2>"$WORK/agent2.log" &
AGENT=$!
PIDS+=("$AGENT")
for i in $(seq 100); do [ -e "$WORK/out2/unique-ips.log" ] && break; sleep 0.1; done
in_up ip addr add 203.0.113.77/32 dev lo
sleep 0.3
kill -STOP "$AGENT"
made=$(in_cl "$EM_CONNECT" --count 20000 203.0.113.77 9 | sed -E 's/attempts=([0-9]+).*/\1/')
kill -CONT "$AGENT"
sleep 12  # past the 10 s between two loss reports
in_cl "$EM_CONNECT" --count 1 203.0.113.77 9 >/dev/null  # one more, to trigger the report
sleep 1
kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exit status $?"
got=$(awk '$1 == "203.0.113.77" {print $2}' "$WORK/out2/unique-ips.log")
gap=$(sqlite3 "$WORK/state2/ledger.sqlite" "SELECT coalesce(sum(value),0) FROM counters WHERE name = 'nflog.lost_seq'")
echo "loss: opened $((made + 1)), captured ${got:-0}, sequence gap $gap"
[ "$gap" -gt 0 ] || fail "no loss detected although the reader was stopped"
[ $((${got:-0} + gap)) -eq $((made + 1)) ] || fail "captured + gap != opened"
grep -q "the kernel dropped events" "$WORK/agent2.log" || fail "loss not reported in the log"
grep -q "nflog.lost_seq: .* events lost since the last commit" "$WORK/agent2.log" || fail "loss not reported at commit"
echo "ok"
