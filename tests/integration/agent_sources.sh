#!/bin/bash
# The same traffic seen by every capture path at once, which must all agree with what the
# test sent: three agents run side by side in the client namespace (--source nflog,
# conntrack and pcap:<veth>, each with its own state and output directories) while tcpdump
# records the veth; then `egress-monitor replay` runs that capture. Clients query the
# upstream resolver directly (no local resolver: every path sees the same DNS), over UDP and
# TCP, IPv4 and IPv6, with a CNAME chain and an NXDOMAIN, and connect with the project's
# connector, including a direct-IP connection. The four pairs of files must be identical to
# the expected ones; replaying the capture again counts nothing twice. Also: SIGHUP reloads
# (a bad config is refused and the agent keeps running), and the iptables backend.
. "$(dirname "$0")/lib.sh"
need_root
EM_CONNECT=${EM_CONNECT:-$PWD/build/tests/em-connect}
for p in dig tcpdump iptables; do command -v $p >/dev/null || { echo "skipped: no $p" >&2; exit 77; }; done

make_topology
in_up ip addr add 203.0.113.7/32 dev lo
start_upstream_dnsmasq <<<"listen-address=2001:db8:1::1"
: >"$WORK/config.toml"

AGENTS=()
start_agent() {  # name source [extra flags]
    local name=$1 source=$2
    shift 2
    mkdir -p "$WORK/$name"
    ip netns exec "$NS_CL" "$EM_BIN" agent --source "$source" --state-dir "$WORK/$name/state" \
        --output-dir "$WORK/$name/out" --flush-interval 200ms --events "$WORK/$name/events.jsonl" \
        --config "$WORK/config.toml" -v "$@" 2>>"$WORK/$name/agent.log" &
    local pid=$!
    PIDS+=("$pid")
    AGENTS+=("$name:$pid")
    local i
    for i in $(seq 100); do
        [ -e "$WORK/$name/out/unique-ips.log" ] && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name/agent.log"; fail "$name agent exited at start"; }
        sleep 0.1
    done
    fail "$name agent did not start"
}
pid_of() { local a; for a in "${AGENTS[@]}"; do [ "${a%%:*}" = "$1" ] && echo "${a#*:}"; done; }

ip netns exec "$NS_CL" tcpdump -i "vc$$" -n -s 0 -w "$WORK/client.pcap" -U 2>"$WORK/tcpdump.log" &
TCPDUMP=$!
PIDS+=("$TCPDUMP")
start_agent nflog nflog
start_agent conntrack conntrack
start_agent pcap "pcap:vc$$"
sleep 1

q() { in_cl dig +time=2 +tries=1 "$@" >/dev/null || fail "dig $*"; }
q @198.51.100.1 fixed.test A
q @198.51.100.1 fixed.test A
q +tcp @198.51.100.1 host6.test AAAA
q @2001:db8:1::1 deep.example.test A
q @198.51.100.1 nope.nx.test A
c() { in_cl "$EM_CONNECT" --timeout-ms 500 "$@" >/dev/null || true; }
c 192.0.2.10 80
c --udp 203.0.113.5 9999
c 2001:db8::20 443
c 203.0.113.7 22
c 127.0.0.1 9
sleep 1.5

# SIGHUP: a broken config is refused and the running settings kept; a good one is taken.
echo 'max_ips_per_domain = "many"' >"$WORK/config.toml"
kill -HUP "$(pid_of nflog)"
sleep 0.5
kill -0 "$(pid_of nflog)" || fail "agent died on SIGHUP with a bad config"
grep -q "reload: .*max_ips_per_domain" "$WORK/nflog/agent.log" || fail "bad config on reload not reported"
printf '[agent]\nmin_ttl = 120\n' >"$WORK/config.toml"
kill -HUP "$(pid_of nflog)"
sleep 0.5
grep -q "reload: settings re-read" "$WORK/nflog/agent.log" || fail "reload not done"

for a in "${AGENTS[@]}"; do kill -TERM "${a#*:}"; done
for a in "${AGENTS[@]}"; do wait "${a#*:}" || fail "${a%%:*} agent exit status $?"; done
kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
grep -q egress_monitor <<<"$(in_cl nft list tables)" && fail "a table was left behind: $(in_cl nft list tables)"

cat >"$WORK/domains.want" <<EOF2
deep.example.test 1 T 203.0.113.5,203.0.113.6
fixed.test 2 T 192.0.2.10
host6.test 1 T 2001:db8::20
nope.nx.test 1 T -
EOF2
# Flows: the connector's four, plus one per DNS exchange (5 over IPv4/IPv6 UDP and TCP).
cat >"$WORK/ips.want" <<EOF2
192.0.2.10 1
198.51.100.1 4
203.0.113.5 1
203.0.113.7 1
2001:db8::20 1
2001:db8:1::1 1
EOF2
check_files() {  # name dir
    sed -E 's/ [0-9]{4}-[0-9-]+T[0-9:]+Z / T /' "$2/unique-domains.log" >"$WORK/$1.domains"
    diff -u "$WORK/domains.want" "$WORK/$1.domains" || fail "$1: unique-domains.log differs"
    awk '{print $1, $2}' "$2/unique-ips.log" >"$WORK/$1.ips"
    diff -u "$WORK/ips.want" "$WORK/$1.ips" || fail "$1: unique-ips.log differs"
}
for name in nflog conntrack pcap; do
    check_files "$name" "$WORK/$name/out"
    grep -q '"dst":"203.0.113.7","dport":22,.*"names":\[\],"direct":true' "$WORK/$name/events.jsonl" ||
        fail "$name: direct flow not in the events"
    grep -q '"dst":"203.0.113.5".*"names":\["deep.example.test"\],"direct":false' "$WORK/$name/events.jsonl" ||
        fail "$name: CNAME label missing from the events"
done

# The capture, replayed offline, gives the same files; a second replay counts nothing.
"$EM_BIN" replay "$WORK/client.pcap" --state-dir "$WORK/replay/state" --output-dir "$WORK/replay/out" \
    --events "$WORK/replay/events.jsonl" --config "$WORK/config.toml" 2>"$WORK/replay.log" || fail "replay"
check_files replay "$WORK/replay/out"
cp "$WORK/replay/out/unique-ips.log" "$WORK/ips.first"
"$EM_BIN" replay "$WORK/client.pcap" --state-dir "$WORK/replay/state" --output-dir "$WORK/replay/out" \
    --config "$WORK/config.toml" 2>"$WORK/replay2.log" || fail "second replay"
grep -q "already counted" "$WORK/replay2.log" || fail "second replay not refused"
cmp "$WORK/ips.first" "$WORK/replay/out/unique-ips.log" || fail "second replay changed the files"
[ "$(grep -c '"type":"flow"' "$WORK/replay/events.jsonl")" -eq 9 ] || fail "replay: expected 9 flow events"

# iptables backend: the same rules in chains of iptables-nft, removed on exit.
start_agent ipt nflog
kill -TERM "$(pid_of ipt)"; wait "$(pid_of ipt)" || true
AGENTS=()
ip netns exec "$NS_CL" "$EM_BIN" agent --source nflog --state-dir "$WORK/ipt2/state" \
    --output-dir "$WORK/ipt2/out" --config <(printf '[agent]\nfirewall_backend = "iptables"\nnflog_group = 77\n') \
    -v 2>"$WORK/ipt2.log" &
IPT=$!
PIDS+=("$IPT")
for i in $(seq 100); do grep -q EGRESS_MONITOR_IN <<<"$(in_cl ip6tables -S INPUT 2>/dev/null)" && break; sleep 0.1; done
grep -q -- '--nflog-group 77' <<<"$(in_cl iptables -S EGRESS_MONITOR_OUT)" || fail "iptables rules missing"
grep -q -- '--nflog-prefix em-dnsr' <<<"$(in_cl ip6tables -S EGRESS_MONITOR_IN)" || fail "ip6tables rules missing"
c 192.0.2.10 81
sleep 0.5
kill -TERM "$IPT"; wait "$IPT" || fail "iptables agent exit status $?"
grep -q EGRESS_MONITOR <<<"$(in_cl iptables -S)" && fail "iptables chains left behind"
grep -q '^192.0.2.10 1 ' "$WORK/ipt2/out/unique-ips.log" || fail "iptables backend did not capture the flow"
echo "ok: nflog, conntrack, pcap and replay agree; reload; iptables backend"
