#!/bin/bash
# `egress-monitor agent --source nflog` in a client namespace against a real upstream dnsmasq
# and a local caching dnsmasq on 127.0.0.1: dig over UDP and TCP, IPv4 and IPv6, a CNAME
# chain, NXDOMAIN, connections by the project's own connector (one as another user) and a
# direct-IP connection. The two files and the JSON events must say exactly what the test
# sent; the flows the local resolver opened upstream are checked against a tcpdump capture
# in the upstream namespace (an independent count). Then: SIGTERM removes the agent's table;
# SIGKILL leaves it, and the next start replaces it.
. "$(dirname "$0")/lib.sh"
need_root
EM_CONNECT=${EM_CONNECT:-$PWD/build/tests/em-connect}
EM_LOKI_SINK=${EM_LOKI_SINK:-$PWD/build/tests/em-loki-sink}
for p in dig tcpdump; do command -v $p >/dev/null || { echo "skipped: no $p" >&2; exit 77; }; done

make_topology
in_up ip addr add 203.0.113.7/32 dev lo  # a host no DNS answer names
start_upstream_dnsmasq </dev/null
cat >"$WORK/local.conf" <<CONF
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
server=198.51.100.1
CONF
start_dnsmasq "$NS_CL" "$WORK/local.conf" "$WORK/local.pid"

# Independent count of what left the client towards the upstream resolver.
ip netns exec "$NS_UP" tcpdump -i "vu$$" -n -w "$WORK/up.pcap" -U 'dst port 53 and (udp or tcp[tcpflags] & tcp-syn != 0)' \
    2>"$WORK/tcpdump.log" &
TCPDUMP=$!
PIDS+=("$TCPDUMP")

# A stand-in Loki on the client's loopback (loopback traffic is never egress).
ip netns exec "$NS_CL" "$EM_LOKI_SINK" 127.0.0.1 3100 "$WORK/loki.txt" &
PIDS+=("$!")

STATE=$WORK/state OUT=$WORK/out EVENTS=$WORK/events.jsonl
: >"$WORK/config.toml"
start_agent() {
    ip netns exec "$NS_CL" "$EM_BIN" agent --source nflog --state-dir "$STATE" --output-dir "$OUT" \
        --flush-interval 200ms --events "$EVENTS" --config "$WORK/config.toml" -v \
        --loki-url http://127.0.0.1:3100 --loki-label host=client --loki-label test=nflog \
        2>>"$WORK/agent.log" &
    AGENT=$!
    PIDS+=("$AGENT")
    local i
    # Ready when this agent says it captures (its signals are handled from then on): a table
    # and files left by a killed predecessor prove nothing about the new one.
    for i in $(seq 100); do
        [ "$(grep -c 'agent: capturing with' "$WORK/agent.log" 2>/dev/null)" -gt "$started" ] &&
            in_cl nft list table inet egress_monitor >/dev/null 2>&1 && [ -e "$OUT/unique-ips.log" ] &&
            { started=$((started + 1)); return 0; }
        kill -0 "$AGENT" 2>/dev/null || { cat "$WORK/agent.log"; fail "agent exited at start"; }
        sleep 0.1
    done
    fail "agent did not install its table"
}
started=0
start_agent
sleep 0.5

q() { in_cl dig +time=2 +tries=1 "$@" >/dev/null || fail "dig $*"; }
q @127.0.0.1 fixed.test A
q @127.0.0.1 fixed.test A            # answered from the local cache: no second forward
q +tcp @127.0.0.1 host6.test AAAA
q @127.0.0.1 deep.example.test A
q @127.0.0.1 nope.nx.test A
q @198.51.100.1 direct-query.fixed.test A   # straight to the upstream resolver
c() { in_cl "$EM_CONNECT" --timeout-ms 500 "$@" >/dev/null || true; }
c 192.0.2.10 80
c --udp 203.0.113.5 9999
c 2001:db8::20 443
c 203.0.113.7 22                      # direct: no answer names it
in_cl setpriv --reuid=65534 --regid=65534 --clear-groups "$EM_CONNECT" --timeout-ms 500 --udp 192.0.2.10 53000 >/dev/null
c 127.0.0.1 9                          # loopback: never egress
sleep 1

kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exited with $? on SIGTERM"
in_cl nft list table inet egress_monitor >/dev/null 2>&1 && fail "SIGTERM left the table behind"
kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true

cat >"$WORK/domains.want" <<EOF2
deep.example.test 1 T 203.0.113.5,203.0.113.6
direct-query.fixed.test 1 T 192.0.2.10
fixed.test 2 T 192.0.2.10
host6.test 1 T 2001:db8::20
nope.nx.test 1 T -
EOF2
sed -E 's/ [0-9]{4}-[0-9-]+T[0-9:]+Z / T /' "$OUT/unique-domains.log" >"$WORK/domains.got"
diff -u "$WORK/domains.want" "$WORK/domains.got" || fail "unique-domains.log differs"

# Upstream flows: one per distinct (protocol, source port) the capture saw.
up_flows=$(tcpdump -r "$WORK/up.pcap" -n 2>/dev/null | awk '{print ($0 ~ /Flags/ ? "tcp" : "udp"), $3}' | sort -u | wc -l)
[ "$up_flows" -ge 4 ] || fail "expected at least 4 upstream flows, the capture has $up_flows"
cat >"$WORK/ips.want" <<EOF2
192.0.2.10 2
198.51.100.1 $up_flows
203.0.113.5 1
203.0.113.7 1
2001:db8::20 1
EOF2
awk '{print $1, $2}' "$OUT/unique-ips.log" >"$WORK/ips.got"
diff -u "$WORK/ips.want" "$WORK/ips.got" || fail "unique-ips.log differs"

# Events: labels, direct, uid, and the DNS messages.
ev() { grep -c "$1" "$EVENTS" || true; }
[ "$(grep '"type":"flow"' "$EVENTS" | grep '"dst":"192.0.2.10","dport":80,' | grep -c '"names":\["direct-query.fixed.test","fixed.test"\],"direct":false')" -eq 1 ] || fail "flow to fixed.test not labelled (most recent answer first)"
[ "$(grep '"type":"flow"' "$EVENTS" | grep '"dst":"203.0.113.5"' | grep -c '"names":\["deep.example.test"\],"direct":false')" -eq 1 ] || fail "CNAME chain label missing"
[ "$(grep '"type":"flow"' "$EVENTS" | grep '"dst":"2001:db8::20"' | grep -c '"names":\["host6.test"\],"direct":false')" -eq 1 ] || fail "IPv6 flow not labelled"
[ "$(grep '"type":"flow"' "$EVENTS" | grep '"dst":"203.0.113.7"' | grep -c '"names":\[\],"direct":true')" -eq 1 ] || fail "direct flow not marked"
[ "$(grep '"type":"flow"' "$EVENTS" | grep '"dport":53000' | grep -c '"uid":65534')" -eq 1 ] || fail "socket owner uid missing"
[ "$(ev '"dst":"127.0.0.1","dport":9,')" -eq 0 ] || fail "loopback flow reported"
[ "$(grep '"type":"dns"' "$EVENTS" | grep '"qname":"nope.nx.test"' | grep -c '"rcode":"NXDOMAIN"')" -ge 1 ] || fail "NXDOMAIN response missing"
[ "$(grep '"type":"dns"' "$EVENTS" | grep '"qname":"host6.test"' | grep '"proto":"tcp"' | grep -c '"response":true')" -ge 1 ] || fail "DNS over TCP response missing"
grep -q '"time":"20[0-9-]*T[0-9:]*\.[0-9][0-9][0-9]Z"' "$EVENTS" || fail "event time not RFC 3339 with ms"

# Loki got the same events, with the labels.
grep -q '"stream":{.*"host":"client"' "$WORK/loki.txt" || fail "Loki push without the labels"
grep -q 'direct-query.fixed.test' "$WORK/loki.txt" || fail "Loki push without the DNS events"
[ "$(grep -o '\\"type\\":\\"flow\\"' "$WORK/loki.txt" | wc -l)" -eq "$(grep -c '"type":"flow"' "$EVENTS")" ] ||
    fail "Loki got a different number of flow events than the events file"

# SIGKILL leaves the table; the next start replaces it and SIGTERM removes it.
start_agent
kill -KILL "$AGENT"; wait "$AGENT" 2>/dev/null || true
in_cl nft list table inet egress_monitor >/dev/null 2>&1 || fail "table gone after SIGKILL?"
start_agent
[ "$(in_cl nft list table inet egress_monitor | grep -c 'log prefix "em-flow"')" -eq 1 ] || fail "stale table not replaced"
kill -TERM "$AGENT"; wait "$AGENT" || fail "agent exit status $?"
in_cl nft list table inet egress_monitor >/dev/null 2>&1 && fail "table left after restart + SIGTERM"
grep -i "error" "$WORK/agent.log" && fail "agent logged errors"
echo "ok: files, events and table lifecycle as expected ($up_flows upstream flows)"
