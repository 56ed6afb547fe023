#!/bin/bash
# Benchmark of `egress-monitor enforce` (issue: >= 100k verdicts/s; added connect latency).
# In a client namespace every new outbound packet to the server namespace is sent to the
# traffic queue of one filter whose only allowed name, bench.test, comes from
# cachedHostnames (an /etc/netns hosts file: no DNS round trip in the measurement). Side by
# side in one run, interleaved over `rounds`:
#   connect   one em-connect process, TCP connects one after another to a host that refuses
#             them (SYN out, RST back): the mean connect latency without and with the queue
#   udp       two em-connect --udp processes (one per core), a datagram from a fresh socket
#             each (every one a new flow, so every one a verdict): packets/s without and with
#             the queue, and the verdicts enforce counted (sent - verdicts = dropped by the
#             kernel because the queue was full; enforce fails closed)
#   denied    the same to addresses no name allows: every verdict a drop, nothing reinjected
# enforce runs with --log '' (the JSON verdict lines cost ~1 us each; see --with-log) and at
# its default nice -10.
#   bench/enforce_bench.sh [--quick] [--with-log]     (root)
# EGRESS_MONITOR=PATH measures that binary instead of building this tree's (to compare
# builds side by side with the same method).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=4 rounds=3 log=""
for a in "$@"; do
    case "$a" in
    --quick) secs=2 rounds=1 ;;
    --with-log) log=with ;;
    *) echo "usage: $0 [--quick] [--with-log]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "enforce_bench: needs root (namespaces, iptables)" >&2; exit 77; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ -n "${EGRESS_MONITOR:-}" ]; then
    cmake --build build -j"$(nproc)" --target em-connect >/dev/null
    bin=$(realpath "$EGRESS_MONITOR")
else
    cmake --build build -j"$(nproc)" --target egress-monitor em-connect >/dev/null
    bin=$PWD/build/egress-monitor
fi
conn=$PWD/build/tests/em-connect

NS_S="embs$$" NS_C="embc$$" work=$(mktemp -d) enf=""
cleanup() {
    [ -n "$enf" ] && kill "$enf" 2>/dev/null && wait "$enf" 2>/dev/null
    ip netns del "$NS_C" 2>/dev/null || true
    ip netns del "$NS_S" 2>/dev/null || true
    rm -rf "/etc/netns/$NS_C" "$work"
}
trap cleanup EXIT
. bench/netns.sh
make_bench_netns
# The datagrams end in a silent drop at the server (no ICMP replies): the same for both runs.
ip netns exec "$NS_S" iptables -A INPUT -p udp --dport 9 -j DROP
mkdir -p "/etc/netns/$NS_C"
printf '203.0.113.1 bench.test\n203.0.113.2 bench.test\n' >"/etc/netns/$NS_C/hosts"
# egress-eddie's rules want inboundDNSQueue and, for cachedHostnames, selfDNSQueue: bound,
# but no rule sends them anything (the name resolves from the hosts file).
cat >"$work/enforce.toml" <<CONF
inboundDNSQueue = { ipv4 = 5 }
selfDNSQueue = { ipv4 = 6 }
[[filters]]
name = "bench"
trafficQueue = { ipv4 = 7 }
cachedHostnames = ["bench.test"]
reCacheEvery = "1h"
CONF

attempts() { sed -E 's/attempts=([0-9]+).*/\1/' "$@" | awk '{s += $1} END {print s + 0}'; }
run_gen() {  # procs udp? [first host] → total attempts
    local i
    for i in $(seq "$1"); do
        ip netns exec "$NS_C" "$conn" $2 --seconds "$secs" "203.0.113.$((i + ${3:-0}))" 9 >"$work/gen.$i" &
    done
    wait
    attempts "$work"/gen.*
    rm -f "$work"/gen.*
}
start_enforce() {
    ip netns exec "$NS_C" iptables -A OUTPUT -o "vbc$$" -m conntrack --ctstate NEW -j NFQUEUE --queue-num 7
    local l=""
    [ -n "$log" ] && l="$work/verdicts.jsonl"
    ip netns exec "$NS_C" "$bin" enforce --config "$work/enforce.toml" --log "$l" -v 2>"$work/enforce.log" &
    enf=$!
    for _ in $(seq 100); do grep -q 'queues bound' "$work/enforce.log" && break; sleep 0.05; done
    t0=$(cpu_ticks "$enf")
    if [ -n "${PERF_OUT:-}" ]; then perf record -q -g -o "$PERF_OUT" -p "$enf" 2>/dev/null & fi
}
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
stop_enforce() {  # sets $verdicts and $cpu_us (per verdict); not in a subshell: enforce is this shell's child
    local t1
    t1=$(cpu_ticks "$enf")
    # Kernel side, per queue: queue_dropped (the queue was full), user_dropped (netlink).
    qstat=$(ip netns exec "$NS_C" awk '$1 == 7 {print "queue_dropped=" $6 " user_dropped=" $7}' \
        /proc/net/netfilter/nfnetlink_queue)
    kill -TERM "$enf"
    wait "$enf" || { cat "$work/enforce.log"; exit 1; }
    enf=""
    ip netns exec "$NS_C" iptables -D OUTPUT -o "vbc$$" -m conntrack --ctstate NEW -j NFQUEUE --queue-num 7
    local a d
    a=$(sed -nE 's/.*traffic\.accept=([0-9]+).*/\1/p' "$work/enforce.log" | tail -1)
    d=$(sed -nE 's/.*traffic\.drop=([0-9]+).*/\1/p' "$work/enforce.log" | tail -1)
    verdicts=$((${a:-0} + ${d:-0}))
    cpu_us=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$verdicts" 'BEGIN { printf "%.2f", n ? t / hz * 1e6 / n : 0 }')
}

printf '%-16s %12s %12s %12s %10s\n' run per_second sent verdicts latency_us
# cpu/verdict: enforce's user+system time per verdict, reinjection of accepted packets (the
# rest of their way out, charged to the verdict's sender) included; 1e6 / it = what one core
# of enforce could judge.
for r in $(seq "$rounds"); do
    n0=$(run_gen 1 "")
    printf '%-16s %12d %12d %12s %10.1f\n' connect-direct $((n0 / secs)) "$n0" - \
        "$(awk -v s="$secs" -v n="$n0" 'BEGIN {print s * 1e6 / n}')"
    start_enforce
    n1=$(run_gen 1 "")
    stop_enforce
    v=$verdicts
    printf '%-16s %12d %12d %12d %10.1f   latency x%.2f\n' connect-queued $((n1 / secs)) "$n1" "$v" \
        "$(awk -v s="$secs" -v n="$n1" 'BEGIN {print s * 1e6 / n}')" \
        "$(awk -v a="$n0" -v b="$n1" 'BEGIN {print a / b}')"

    u0=$(run_gen 2 --udp)
    printf '%-16s %12d %12d %12s %10s\n' udp-direct $((u0 / secs)) "$u0" - -
    start_enforce
    u1=$(run_gen 2 --udp)
    stop_enforce
    v=$verdicts
    printf '%-16s %12d %12d %12d %10s   verdicts/s %d, rate x%.2f, not judged %d, cpu/verdict %s us\n' \
        udp-queued $((u1 / secs)) "$u1" "$v" - $((v / secs)) \
        "$(awk -v a="$u1" -v b="$u0" 'BEGIN {print a / b}')" $((u1 - v)) "$cpu_us"
    echo "                 kernel: $qstat; enforce: $(grep -o 'unseen=[0-9]*' "$work/enforce.log")"
    # Denied: the same datagrams to hosts no name allows — every verdict a drop, so no
    # reinjection: the verdict loop's own ceiling.
    start_enforce
    u2=$(run_gen 2 --udp 2)
    stop_enforce
    v=$verdicts
    printf '%-16s %12d %12d %12d %10s   verdicts/s %d, not judged %d, cpu/verdict %s us\n' \
        udp-denied $((u2 / secs)) "$u2" "$v" - $((v / secs)) $((u2 - v)) "$cpu_us"
done
