#!/bin/bash
# Benchmark of the eBPF source (issue: ≤ 5 % connect() overhead with the programs attached;
# events through the ring buffer with zero loss). In a client namespace the project's
# connector (em-connect) opens TCP connections as fast as it can to hosts of a server
# namespace: refused ones (SYN out, RST back: the cheapest new flow this machine makes, so
# the hooks' share of its cost is the largest it can be) and accepted ones (a listener).
#
# One agent (`egress-monitor agent --source ebpf`) runs throughout, its programs attached to
# a cgroup of the benchmark's ("on"); each run puts its connectors either in that cgroup or
# in a sibling one ("off") that no program is attached to. A second agent with the
# first-packet capture off (ebpf_first_packets = false) is attached to a third ("nocap"):
# nocap vs on is what the capture itself costs. A process under a child cgroup
# runs the same programs as under the root (the kernel computes each cgroup's effective
# programs from its ancestors'), so this is the cost of the agent's default root attach,
# measured without restarting anything between runs. Runs alternate off/on in ABBA order,
# in pairs of short runs: this VM's speed drifts by 10-30 % over tens of seconds, far more
# than a pair's two runs differ.
#   latency     one connector on CPU 1, the agent on CPU 0: the mean time per connect()
#               (socket, connect, close), refused and accepted, and accepted with an HTTP
#               request sent (a first data segment the capture copies); off vs on, then
#               nocap vs on
#   throughput  two connectors at once (one per core) and the agent on either core:
#               connects per second; what the agent spends reading the ring buffer is taken
#               from the connectors; refused connects, then accepted ones sending a request
# Then the kernel's own timing of each program (kernel.bpf_stats_enabled), and the check:
# every connect of an "on" run delivered through the ring buffer (counted in
# unique-ips.log), none of an "off" run, and the kernel's lost-record counters 0.
#   bench/ebpf_bench.sh [--quick]   (root; PAIRS=40 pairs of SECS=0.3 s runs per measurement;
#                                    --quick: 6 pairs)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECS:-0.5} pairs=${PAIRS:-60} lpairs=${LPAIRS:-400}
[ "${1:-}" = "--quick" ] && pairs=6 lpairs=60
[ "$(id -u)" -eq 0 ] || { echo "ebpf_bench: needs root (namespaces, cgroups, BPF)" >&2; exit 77; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target egress-monitor em-connect >/dev/null
bin=$PWD/build/egress-monitor conn=$PWD/build/tests/em-connect

NS_S="embs$$" NS_C="embc$$" work=$(mktemp -d) agent="" agent2="" listener="" cg="" own_mount=""
stats_saved=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
    set +e  # every step, whatever the one before returned
    sysctl -qw kernel.bpf_stats_enabled="$stats_saved"
    [ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
    [ -n "$agent2" ] && kill "$agent2" 2>/dev/null && wait "$agent2" 2>/dev/null
    [ -n "$listener" ] && kill "$listener" 2>/dev/null && wait "$listener" 2>/dev/null
    [ -n "$cg" ] && rmdir "$cg/on" "$cg/off" "$cg/nocap" "$cg" 2>/dev/null
    [ -n "$own_mount" ] && umount "$own_mount"
    ip netns del "$NS_C" 2>/dev/null || true
    ip netns del "$NS_S" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
. bench/netns.sh
make_bench_netns

mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -z "$mnt" ]; then
    mkdir "$work/cgroup2" && mount -t cgroup2 none "$work/cgroup2"
    mnt=$work/cgroup2 own_mount=$work/cgroup2
fi
cg=$mnt/em-bench-$$
mkdir "$cg" "$cg/on" "$cg/off" "$cg/nocap"

# A listener for the accepted connections, outside both cgroups, on the latency connector's
# CPU: on the agent's, it would be slowed by the agent's work, which a remote server is not.
taskset -c 1 ip netns exec "$NS_S" "$conn" --listen 203.0.113.200 80 >/dev/null &
listener=$!

printf '[agent]\nebpf_ring_mb = %d\n' "${RING_MB:-16}" >"$work/config.toml"
"$bin" agent --source ebpf --ebpf-cgroup "$cg/on" --state-dir "$work/state" \
    --output-dir "$work/out" --flush-interval 1s --config "$work/config.toml" -v 2>"$work/agent.log" &
agent=$!
for _ in $(seq 100); do grep -q 'agent: capturing with ebpf' "$work/agent.log" && break; sleep 0.05; done
grep -q 'agent: capturing with ebpf' "$work/agent.log" || { cat "$work/agent.log"; exit 1; }
printf '[agent]\nebpf_ring_mb = %d\nebpf_first_packets = false\n' "${RING_MB:-16}" >"$work/config2.toml"
"$bin" agent --source ebpf --ebpf-cgroup "$cg/nocap" --state-dir "$work/state2" \
    --output-dir "$work/out2" --flush-interval 1s --config "$work/config2.toml" -v 2>"$work/agent2.log" &
agent2=$!
for _ in $(seq 100); do grep -q 'agent: capturing with ebpf' "$work/agent2.log" && break; sleep 0.05; done
grep -q 'agent: capturing with ebpf' "$work/agent2.log" || { cat "$work/agent2.log"; exit 1; }
pin_agent() { taskset -a -p -c "$1" "$agent" >/dev/null; taskset -a -p -c "$1" "$agent2" >/dev/null; }

# run on|off PROCS ADDR PORT → total attempts of PROCS connectors, in that cgroup. One
# connector runs on CPU 1 (the agent is on CPU 0 then): where the scheduler happens to put
# the two moves a run by 30 %.
run() {
    local i pin=()
    [ "$2" = 1 ] && pin=(taskset -c 1)
    for i in $(seq "$2"); do
        sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' - "$cg/$1" \
            "${pin[@]}" ip netns exec "$NS_C" "$conn" "${conn_args[@]}" --seconds "$secs" "$3" "$4" >"$work/gen.$i" &
    done
    wait  # (in a command substitution: its own children only)
    local n
    n=$(cat "$work"/gen.* | sed -E 's/attempts=([0-9]+).*/\1/' | awk '{s += $1} END {print s}')
    # Every connector's line, each without errors.
    if [ "$(cat "$work"/gen.* | grep -c ' errors=0$')" -ne "$2" ]; then
        echo "ebpf_bench: connector errors: $(cat "$work"/gen.*)" >&2
        exit 1
    fi
    rm -f "$work"/gen.*
    [ "$1" = on ] && echo "$n" >>"$work/on"
    echo "$n"
}
conn_args=()  # more em-connect options for run (--http)
on_total() { awk '{ s += $1 } END { print s + 0 }' "$work/on" 2>/dev/null || echo 0; }
# pairs LABEL PROCS ADDR PORT: PAIRS pairs of off/on runs (ABBA); one line per pair into
# $work/LABEL: attempts-off attempts-on
pairs() {
    local k a b
    : >"$work/$1"
    for k in $(seq "$pairs"); do
        if [ $((k % 2)) = 1 ]; then a=$(run off "$2" "$3" "$4"); b=$(run on "$2" "$3" "$4")
        else b=$(run on "$2" "$3" "$4"); a=$(run off "$2" "$3" "$4"); fi
        echo "$a $b" >>"$work/$1"
    done
}
# summary LABEL latency|rate: the median pair's overhead, the middle half of the pairs, and
# all pairs pooled. Overhead = on/off - 1 for latency, 1 - on/off for rate (positive: slower).
summary() {
    awk -v kind="$2" -v s="$secs" '{
        r = kind == "latency" ? $1 / $2 - 1 : 1 - $2 / $1
        print r * 100, $1, $2 }' "$work/$1" | sort -g | awk -v label="$1" -v kind="$2" -v s="$secs" '
        { o[NR] = $1; a += $2; b += $3 }
        END {
            n = NR; m = n % 2 ? o[(n + 1) / 2] : (o[n / 2] + o[n / 2 + 1]) / 2
            q1 = o[int((n + 3) / 4)]; q3 = o[n + 1 - int((n + 3) / 4)]
            pooled = kind == "latency" ? (a / b - 1) * 100 : (1 - b / a) * 100
            if (kind == "latency")
                printf "%-20s off %6.2f us  on %6.2f us per connect\n", label, s * 1e6 * n / a, s * 1e6 * n / b
            else
                printf "%-20s off %6.0f/s  on %6.0f/s connects\n", label, a / (s * n), b / (s * n)
            printf "%-20s overhead: median pair %+.1f %%, middle half of %d pairs %+.1f..%+.1f %%, pooled %+.1f %%\n",
                "", m, n, q1, q3, pooled }'
}

# alternated LABEL BLOCK ADDR PORT [BASE [OPTION...]]: one connector on CPU 1 moving itself
# between the "on" cgroup and BASE ("off", or "nocap") every BLOCK connects (em-connect
# --alternate: about 20 ms a block), LPAIRS pairs; the overhead of each pair, then their
# median, middle half and pooled mean. OPTIONs go to em-connect (--http).
alternated() {
    local base=${5:-off} extra=("${@:6}")
    taskset -c 1 ip netns exec "$NS_C" "$conn" --alternate 7 8 --block "$2" --pairs "$lpairs" \
        "${extra[@]}" "$3" "$4" 7>"$cg/on/cgroup.procs" 8>"$cg/$base/cgroup.procs" >"$work/alt" || true
    grep -q ' errors=0$' "$work/alt" || { echo "ebpf_bench: connector errors: $(tail -1 "$work/alt")" >&2; exit 1; }
    sed -nE 's/.*on_attempts=([0-9]+).*/\1/p' "$work/alt" >>"$work/on"
    awk '$1 == "pair" { print ($3 / $2 - 1) * 100, $2, $3 }' "$work/alt" | sort -g | awk -v label="$1" -v base="$base" '
        { o[NR] = $1; a += $2; b += $3 }
        END {
            n = NR; m = n % 2 ? o[(n + 1) / 2] : (o[n / 2] + o[n / 2 + 1]) / 2
            q1 = o[int((n + 3) / 4)]; q3 = o[n + 1 - int((n + 3) / 4)]
            printf "%-20s %s %6.2f us  on %6.2f us per connect\n", label, base, a / n / 1000, b / n / 1000
            printf "%-20s overhead: median pair %+.1f %%, middle half of %d pairs %+.1f..%+.1f %%, pooled %+.1f %%\n",
                "", m, n, q1, q3, (b / a - 1) * 100 }'
}

echo "ebpf_bench: programs attached to $cg/on; latency in $lpairs pairs of about 20 ms blocks, throughput in $pairs pairs of $secs s runs"
pin_agent 0
alternated latency-refused 800 203.0.113.1 9
alternated latency-accepted 400 203.0.113.200 80
alternated latency-http 400 203.0.113.200 80 off --http
echo "the first-packet capture's own share (nocap: the same programs without it)"
alternated capture-refused 800 203.0.113.1 9 nocap
alternated capture-accepted 400 203.0.113.200 80 nocap
alternated capture-http 400 203.0.113.200 80 nocap --http
pin_agent 0-1
# throughput LABEL ADDR PORT: pairs of two-connector runs, and the agent's CPU per record
throughput() {
    local c0 c1 on0
    c0=$(awk '{print $14 + $15}' "/proc/$agent/stat") on0=$(on_total)
    pairs "$1" 2 "$2" "$3"
    c1=$(awk '{print $14 + $15}' "/proc/$agent/stat")
    summary "$1" rate
    # An HTTP connection is two records (its flow and its first data segment).
    awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n=$(($(on_total) - on0)) -v s="$secs" \
        -v p="$pairs" -v per="$4" 'BEGIN {
        printf "%-20s ring buffer %.0f connects/s in the on runs; agent %.2f us CPU per connect, %.2f us per record\n",
            "", n / (s * p), t / hz * 1e6 / n, t / hz * 1e6 / (n * per) }'
}
throughput throughput 203.0.113.1 9 1
conn_args=(--http)
throughput throughput-http 203.0.113.200 80 2
conn_args=()

# The kernel's account of each program's run time per connect() (the timing itself costs
# time, about 100 ns a run here: an empty program measures that much).
pin_agent 0
prog_stats() {
    # "ID: TYPE  name NAME  tag … gpl [run_time_ns N run_cnt N]" (no counts before a first
    # run); this agent's programs only (the ids its fds hold), not another agent's.
    local ids
    ids=$(cat /proc/"$agent"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { printf "%s:,", $2 }')
    bpftool prog show 2>/dev/null | awk -v ids=",$ids" '/ name em_/ && index(ids, "," $1 ",") {
        t = 0; c = 0
        for (i = 1; i <= NF; i++) { if ($i == "run_time_ns") t = $(i + 1); if ($i == "run_cnt") c = $(i + 1) }
        print $4, t, c }' | sort
}
sysctl -qw kernel.bpf_stats_enabled=1
prog_stats >"$work/st0"
n=0
for _ in 1 2 3; do n=$((n + $(run on 1 203.0.113.1 9))); done
prog_stats >"$work/st1"
sysctl -qw kernel.bpf_stats_enabled=0
join "$work/st0" "$work/st1" | awk -v n="$n" -v s="$secs" '
    { t = $4 - $2; c = $5 - $3; if (!c) next; tot += t
      printf "bpf_stats %-16s %.2f runs/connect, %4.0f ns a run, %4.0f ns/connect\n", $1, c / n, t / c, t / n }
    END { printf "bpf_stats %-16s %4.0f ns per refused connect() (%.1f %% of its %.2f us, timing included)\n",
          "all programs", tot / n, tot / n / (s * 3e9 / n) * 100, s * 3e6 / n }'

sleep 1.5  # let the agent drain and commit
kill -TERM "$agent" "$agent2"
wait "$agent" || { cat "$work/agent.log"; exit 1; }
wait "$agent2" || { cat "$work/agent2.log"; exit 1; }
agent="" agent2=""
lost=$(sqlite3 "$work/state/ledger.sqlite" "SELECT coalesce(sum(value),0) FROM counters
    WHERE name IN ('ebpf.lost_flow','ebpf.lost_dns','ebpf.lost_exec','ebpf.lost_first')")
counter() { sqlite3 "$work/state/ledger.sqlite" "SELECT coalesce(sum(value),0) FROM counters WHERE name = '$1'"; }
echo "first packets: $(counter ebpf.first_packets) records, $(counter first_packets.named) named; none from the capture-off agent: $(sqlite3 "$work/state2/ledger.sqlite" "SELECT coalesce(sum(value),0) FROM counters WHERE name = 'ebpf.first_packets'")"
got=$(awk '$1 ~ /^203\.0\.113\./ {s += $2} END {print s + 0}' "$work/out/unique-ips.log")
ON=$(on_total)
echo "delivered: $got of the $ON connects of the on runs through the ring buffer (none of the off runs); lost records: $lost"
[ "$got" -eq "$ON" ] && [ "$lost" -eq 0 ] || { echo "ebpf_bench: LOSS" >&2; exit 1; }
