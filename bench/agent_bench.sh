#!/bin/bash
# Benchmark of the live agent (issue: ≥ 50k new flows/s with zero loss, ≤ 2 µs CPU/event).
# In a client namespace, the project's connector (em-connect) opens TCP connections as fast
# as it can to hosts of a server namespace that refuse them (each one a new flow: SYN out,
# RST back) — the fastest kind of new connection this machine makes. Side by side in one
# run, interleaved over `rounds`:
#   baseline   the generator alone: no agent, no capture rules — the machine's ceiling
#   agent      the same with `egress-monitor agent --source nflog` capturing
# For each agent round: the generator's own count of connections vs the sum of counts in
# unique-ips.log (zero loss means equal, and the agent's nflog.lost_seq/overruns counters
# stay 0), and the agent's CPU time (user+sys from /proc) per captured event.
# Then the user-space decoders alone: bench/pipeline_bench (DNS messages decoded per second,
# pipeline CPU per flow and per DNS message).
#   bench/agent_bench.sh [--quick]      (root; 5 s per round, 3 rounds; --quick: 2 s, 1)
#   PROCS=N: generator processes at once (default 2, one per core)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=5 rounds=3 procs=${PROCS:-2}
[ "${1:-}" = "--quick" ] && secs=2 rounds=1
[ "$(id -u)" -eq 0 ] || { echo "agent_bench: needs root (namespaces, nftables)" >&2; exit 77; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target egress-monitor em-connect em-dnsflood pipeline_bench >/dev/null
bin=$PWD/build/egress-monitor conn=$PWD/build/tests/em-connect flood=$PWD/build/tests/em-dnsflood

NS_S="embs$$" NS_C="embc$$" work=$(mktemp -d) agent=""
cleanup() {
    [ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
    [ -s "$work/dnsmasq.pid" ] && kill "$(cat "$work/dnsmasq.pid")" 2>/dev/null
    ip netns del "$NS_C" 2>/dev/null || true
    ip netns del "$NS_S" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
. bench/netns.sh
make_bench_netns

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
gen() {  # → total attempts of $procs generators running at once
    local i
    for i in $(seq "$procs"); do
        ip netns exec "$NS_C" "$conn" --seconds "$secs" "203.0.113.$i" 9 >"$work/gen.$i" &
    done
    wait
    cat "$work"/gen.* | sed -E 's/attempts=([0-9]+).*/\1/' | awk '{s += $1} END {print s}'
    rm -f "$work"/gen.*
}
# A resolver for the DNS round: every name under bench.example answered with one address.
ip netns exec "$NS_S" dnsmasq --listen-address=198.51.100.1 --bind-interfaces --no-resolv \
    --no-hosts --address=/bench.example/192.0.2.1 --cache-size=10000 --pid-file="$work/dnsmasq.pid" \
    --user=root --group=root
hz=$(getconf CLK_TCK)
start_agent() {
    rm -rf "$work/state" "$work/out"
    ip netns exec "$NS_C" "$bin" agent --source nflog --state-dir "$work/state" \
        --output-dir "$work/out" --flush-interval 1s --config /dev/null 2>"$work/agent.log" &
    agent=$!
    for i in $(seq 100); do
        ip netns exec "$NS_C" nft list table inet egress_monitor >/dev/null 2>&1 && break
        sleep 0.05
    done
    sleep 0.3
}
stop_agent() {
    kill -TERM "$agent"
    wait "$agent" || { cat "$work/agent.log"; exit 1; }
    agent=""
}
lost_events() {
    sqlite3 "$work/state/ledger.sqlite" \
        "SELECT coalesce(sum(value),0) FROM counters WHERE name IN ('nflog.lost_seq','nflog.overruns')"
}
printf '%-9s %10s %10s %10s %8s %12s\n' run flows/s generated captured lost cpu_us/event
for r in $(seq "$rounds"); do
    n=$(gen)
    printf '%-9s %10d %10d %10s %8s %12s\n' baseline $((n / secs)) "$n" - - -

    start_agent
    c0=$(cpu_ticks "$agent")
    n=$(gen)
    sleep 1.5  # let the agent drain and commit
    c1=$(cpu_ticks "$agent")
    stop_agent
    got=$(awk '$1 ~ /^203\.0\.113\./ {s += $2} END {print s + 0}' "$work/out/unique-ips.log")
    got=${got:-0}
    lost=$(lost_events)
    us=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v n="$got" 'BEGIN { printf "%.2f", n ? t / hz * 1e6 / n : 0 }')
    printf '%-9s %10d %10d %10d %8d %12s\n' agent $((n / secs)) "$n" "$got" "$lost" "$us"
    [ "$got" -eq "$n" ] || echo "agent_bench: LOSS: generated $n, captured $got" >&2
done

# DNS: random names at a fixed rate through the agent; every query and every response is a
# DNS message the agent decodes (plus the one flow of the flooder's socket).
rate=${DNS_RATE:-30000} nq=$((${DNS_RATE:-30000} * secs))
echo
printf '%-9s %10s %10s %10s %8s %12s\n' run queries/s sent counted lost cpu_us/message
for r in $(seq "$rounds"); do
    start_agent
    c0=$(cpu_ticks "$agent")
    out=$(ip netns exec "$NS_C" "$flood" --count "$nq" --rate "$rate" --domain bench.example 198.51.100.1)
    sleep 1.5
    c1=$(cpu_ticks "$agent")
    stop_agent
    sent=$(echo "$out" | sed -E 's/sent=([0-9]+).*/\1/')
    answers=$(echo "$out" | sed -E 's/.*answers=([0-9]+).*/\1/')
    got=$(awk '$1 ~ /bench\.example$/ {s += $2} END {print s + 0}' "$work/out/unique-domains.log")
    us=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v n=$((sent + answers)) 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    printf '%-9s %10d %10d %10d %8d %12s\n' agent-dns "$rate" "$sent" "$got" "$(lost_events)" "$us"
    [ "$got" -eq "$sent" ] || echo "agent_bench: DNS LOSS: sent $sent, counted $got" >&2
done
echo
build/bench/pipeline_bench
