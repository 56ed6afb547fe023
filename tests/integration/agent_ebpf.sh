#!/bin/bash
# `egress-monitor agent --source ebpf`: the eBPF programs, attached to a fresh cgroup v2
# directory made for this test, alone feed both files and the events. Uniquely named
# connectors (copies of em-connect) started in that cgroup connect over TCP and UDP, IPv4 and
# IPv6, from the client namespace and exit at once; every flow must carry the connector's
# pid (the one the shell started), comm, exe, cmdline, uid/user and cgroup — one as uid
# 65534 — and one started in a docker-style child cgroup its container id. dig and a local
# dnsmasq, also in the cgroup, give the DNS half: queries and answers from the kernel's
# packets, the resolver's forward not counted twice, each DNS event with its process. No
# ring-buffer record may be lost. Last, an unusable attach point falls back to nflog with
# the reason in one line.
. "$(dirname "$0")/lib.sh"
need_root
EM_CONNECT=${EM_CONNECT:-$PWD/build/tests/em-connect}
command -v dig >/dev/null || { echo "skipped: no dig" >&2; exit 77; }
CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CG2" ] || { echo "skipped: no cgroup v2 mounted" >&2; exit 77; }
CG=$CG2/em-ebpf-$$
HEX=$(printf '3f2a%060d' $$)
CTR=$CG/docker-$HEX.scope
cleanup_cgroup() {
    # Processes left in the cgroups (dnsmasq, listeners) are killed by pid in cleanup();
    # the directories can go once they are empty.
    local i
    for i in $(seq 50); do
        rmdir "$CTR" 2>/dev/null; rmdir "$CG" 2>/dev/null
        [ -d "$CG" ] || return 0
        sleep 0.1
    done
}
trap 'cleanup; cleanup_cgroup' EXIT
mkdir -p "$CTR"

# Runs "$@" with its process in cgroup $1 (written from outside the namespace: `ip netns
# exec` hides the cgroup mount).
in_cgroup() { local cg=$1; shift; sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }

make_topology
start_upstream_dnsmasq </dev/null
ip netns exec "$NS_UP" "$EM_CONNECT" --listen 192.0.2.10 80 >/dev/null 2>&1 &
PIDS+=("$!")
ip netns exec "$NS_UP" "$EM_CONNECT" --listen 2001:db8::20 443 >/dev/null 2>&1 &
PIDS+=("$!")

"$EM_BIN" agent --source ebpf --ebpf-cgroup "$CG" --state-dir "$WORK/state" --output-dir "$WORK/out" \
    --events "$WORK/events.jsonl" --flush-interval 200ms --config /dev/null -v 2>"$WORK/agent.log" &
agent=$!
PIDS+=("$agent")
for _ in $(seq 100); do
    grep -q 'agent: capturing with' "$WORK/agent.log" 2>/dev/null && [ -e "$WORK/out/unique-ips.log" ] && break
    kill -0 "$agent" 2>/dev/null || { cat "$WORK/agent.log"; fail "agent exited at start"; }
    sleep 0.1
done
grep -q 'ebpf: programs attached to cgroup' "$WORK/agent.log" || { cat "$WORK/agent.log"; fail "ebpf did not attach"; }

cat >"$WORK/local.conf" <<CONF
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
server=198.51.100.1
CONF
in_cgroup "$CG" ip netns exec "$NS_CL" dnsmasq --conf-file="$WORK/local.conf" \
    --pid-file="$WORK/local.pid" --user=root --group=root
for _ in $(seq 50); do [ -s "$WORK/local.pid" ] && break; sleep 0.1; done
PIDS+=("$(cat "$WORK/local.pid")")

NAME=emc-$$
cp "$EM_CONNECT" "$WORK/$NAME"
chmod 755 "$WORK" "$WORK/$NAME"
# Each connector runs in the background so that $! is its pid: sh, `ip netns exec` and
# setpriv exec, they do not fork (a function run with & would be a forked subshell).
declare -A PID_OF
connect() {  # label cgroup [setpriv args --] connector args
    local label=$1 cg=$2; shift 2
    sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" ip netns exec "$NS_CL" "$@" >/dev/null 2>&1 &
    PID_OF[$label]=$!
    wait "${PID_OF[$label]}" || true
}
connect tcp4 "$CG" "$WORK/$NAME" --timeout-ms 500 192.0.2.10 80
connect udp4 "$CG" "$WORK/$NAME" --udp 203.0.113.5 9999
connect tcp6 "$CG" "$WORK/$NAME" --timeout-ms 500 2001:db8::20 443
connect udp6 "$CG" "$WORK/$NAME" --udp 2001:db8::20 9999
connect nobody "$CG" setpriv --reuid=65534 --regid=65534 --clear-groups "$WORK/$NAME" --udp 192.0.2.20 7000
connect container "$CTR" "$WORK/$NAME" --timeout-ms 500 192.0.2.10 80
q() { in_cgroup "$CG" ip netns exec "$NS_CL" dig +time=2 +tries=1 "$@" >/dev/null || fail "dig $*"; }
q @127.0.0.1 fixed.test A
q @127.0.0.1 host6.test AAAA
q +tcp @127.0.0.1 deep.example.test A
q @198.51.100.1 direct-query.fixed.test A
connect named "$CG" "$WORK/$NAME" --timeout-ms 500 2001:db8::20 443   # host6.test's address
sleep 1
kill -TERM "$agent"
rc=0
wait "$agent" || rc=$?
[ "$rc" = 0 ] || { cat "$WORK/agent.log"; fail "agent exit status $rc"; }
grep -q 'falling back' "$WORK/agent.log" && fail "the ebpf source fell back"

ev=$WORK/events.jsonl
flow_of() { grep '"type":"flow"' "$ev" | grep -F "\"pid\":$1," | grep -F "$2" | head -1 || true; }
check() {  # label dst+port fragment, expected fragments...
    local label=$1 dst=$2 line key; shift 2
    line=$(flow_of "${PID_OF[$label]}" "$dst")
    [ -n "$line" ] || { grep '"type":"flow"' "$ev" >&2 || true; fail "$label: no flow to $dst from pid ${PID_OF[$label]}"; }
    for key in "\"comm\":\"$NAME\"" "\"exe\":\"$WORK/$NAME\"" "\"cmdline\":\"$WORK/$NAME " '"ppid":' "$@"; do
        grep -qF "$key" <<<"$line" || fail "$label: no $key in $line"
    done
}
check tcp4 '"proto":"tcp","src":null,"sport":0,"dst":"192.0.2.10","dport":80' '"uid":0,"user":"root"' "\"cgroup\":\"/em-ebpf-$$\"" '"container_id":null'
check udp4 '"proto":"udp","src":null,"sport":0,"dst":"203.0.113.5","dport":9999' '"uid":0,"user":"root"' "\"cgroup\":\"/em-ebpf-$$\""
check tcp6 '"dst":"2001:db8::20","dport":443' '"uid":0,"user":"root"' "\"cgroup\":\"/em-ebpf-$$\""
check udp6 '"proto":"udp","src":null,"sport":0,"dst":"2001:db8::20","dport":9999' "\"cgroup\":\"/em-ebpf-$$\""
check nobody '"dst":"192.0.2.20","dport":7000' '"uid":65534,"user":"nobody"' '"comm":"'"$NAME"'"'
check container '"dst":"192.0.2.10","dport":80' "\"cgroup\":\"/em-ebpf-$$/docker-$HEX.scope\"" "\"container_id\":\"$HEX\""

# DNS from the kernel's packets: the client's queries to the local resolver and the direct
# one; the resolver's forwards are recognised as such.
dom=$WORK/out/unique-domains.log
for d in fixed.test host6.test deep.example.test direct-query.fixed.test; do
    grep -q "^$d 1 " "$dom" || { cat "$dom" || true; fail "$d not counted once"; }
done
grep -q '^192.0.2.10 ' "$WORK/out/unique-ips.log" || fail "192.0.2.10 missing from unique-ips.log"
dns_line=$(grep '"type":"dns"' "$ev" | grep '"qname":"fixed.test"' | grep '"response":false' | grep -F '"dst":"127.0.0.1"' | head -1)
grep -qF '"comm":"dig"' <<<"$dns_line" || fail "the client query does not name dig: $dns_line"
resp=$(grep '"type":"dns"' "$ev" | grep '"qname":"fixed.test"' | grep '"response":true' | grep -F '"src":"198.51.100.1"' | head -1)
grep -qF '"comm":"dnsmasq"' <<<"$resp" || fail "the upstream answer does not name dnsmasq: $resp"
check named '"dst":"2001:db8::20","dport":443,"names":["host6.test"],"direct":false'


counter() { sqlite3 "$WORK/state/ledger.sqlite" "SELECT coalesce(sum(value),0) FROM counters WHERE name = '$1'"; }
[ "$(counter dns.forwarded_queries)" -ge 3 ] || fail "dns.forwarded_queries = $(counter dns.forwarded_queries)"
for c in ebpf.lost_flow ebpf.lost_dns ebpf.lost_exec ebpf.malformed; do
    [ "$(counter $c)" = 0 ] || fail "$c = $(counter $c)"
done
[ "$(counter ebpf.flows)" -ge 6 ] || fail "ebpf.flows = $(counter ebpf.flows)"

# Who talks to what, from the ledger's per-process counts.
"$EM_BIN" show --by process --state-dir "$WORK/state" >"$WORK/show.txt" 2>&1 || { cat "$WORK/show.txt"; fail "show"; }
grep -qF "$WORK/$NAME" "$WORK/show.txt" || { cat "$WORK/show.txt"; fail "show --by process does not name the connector"; }
grep -qF "container ${HEX:0:12}" "$WORK/show.txt" || { cat "$WORK/show.txt"; fail "show --by process does not name the container"; }
grep -A3 '^fixed.test' <<<"$("$EM_BIN" show --by domain --state-dir "$WORK/state")" | grep -F /usr/bin/dig >/dev/null ||
    { "$EM_BIN" show --by domain --state-dir "$WORK/state"; fail "show --by domain: fixed.test not by dig"; }
# The same in the file the collector fetches: dig's query, and the container's connector.
grep -qE "^d fixed.test /usr/bin/dig root - " "$WORK/out/process-uses.log" ||
    { cat "$WORK/out/process-uses.log"; fail "process-uses.log: fixed.test not by dig"; }
grep -qE "^i [^ ]+ $WORK/[^ ]+ [^ ]+ $HEX " "$WORK/out/process-uses.log" ||
    { cat "$WORK/out/process-uses.log"; fail "process-uses.log: no flow from the container"; }

# An attach point the kernel refuses: one line with the reason, then nflog (in the client
# namespace, where its table is the test's own).
ip netns exec "$NS_CL" "$EM_BIN" agent --source ebpf --ebpf-cgroup "$WORK/not-a-cgroup" --state-dir "$WORK/state2" \
    --output-dir "$WORK/out2" --flush-interval 200ms --config /dev/null -v 2>"$WORK/agent2.log" &
agent2=$!
PIDS+=("$agent2")
for _ in $(seq 100); do grep -q 'agent: capturing with' "$WORK/agent2.log" && break; sleep 0.1; done
kill -TERM "$agent2"
rc=0
wait "$agent2" || rc=$?
[ "$rc" = 0 ] || { cat "$WORK/agent2.log"; fail "fallback agent exit status $rc"; }
grep -q "ebpf source unavailable (open cgroup $WORK/not-a-cgroup: No such file or directory); falling back to nflog" \
    "$WORK/agent2.log" || { cat "$WORK/agent2.log"; fail "no fallback reason"; }
echo "ok: ebpf: $(counter ebpf.flows) flows, $(counter ebpf.dns_packets) DNS packets, $(counter ebpf.execs) execs, none lost; 7 connectors attributed"
