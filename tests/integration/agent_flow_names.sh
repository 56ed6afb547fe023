#!/bin/bash
# Issue 18: names from first packets, with real clients. In a client namespace, against fake
# internet hosts on documentation ranges (no DNS is asked: curl --resolve), `egress-monitor
# agent --source nflog` must emit a flow_name event for each of
#   curl --http1.1 http://www.example.test/         HTTP Host, to 192.0.2.10:80
#   curl -k https://secure.example.test/            TLS SNI, to 192.0.2.20:443
#   curl -k https://v6.example.test/ (over IPv6)    TLS SNI, to [2001:db8::20]:443
#   openssl s_client -servername sclient.example.test   TLS SNI, to 203.0.113.6:443
#   one QUIC Initial datagram (RFC 9001 A.2, SNI example.com)  to 203.0.113.5 UDP 443
# and count them as first_packets.named; each connection is looked at once (the retransmission
# bounds in capture_rules.h), and a connection with no data gives no event. Then the iptables
# backend, and the pcap:IFACE source on the client's veth.
# CAPTURE_PCAP=FILE: also records the client's veth with tcpdump into FILE (how
# tests/data/flowname/clients.pcap was made: tests/data/flowname/capture_clients.sh).
. "$(dirname "$0")/lib.sh"
need_root
EM_CONNECT=${EM_CONNECT:-$PWD/build/tests/em-connect}
for p in curl openssl python3 sqlite3; do command -v $p >/dev/null || { echo "skipped: no $p" >&2; exit 77; }; done
PY=$(command -v python3)
QUIC_HEX=$PWD/tests/data/quic/rfc9001_a2_client_initial.hex

make_topology
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=secure.example.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
for fam in 4 6; do  # one server per family: OpenSSL binds IPv6 sockets v6-only
    ip netns exec "$NS_UP" openssl s_server -quiet -www -$fam -accept 443 \
        -cert "$WORK/cert.pem" -key "$WORK/key.pem" </dev/null >"$WORK/s_server$fam.log" 2>&1 &
    PIDS+=("$!")
done
ip netns exec "$NS_UP" "$PY" -m http.server --bind 192.0.2.10 80 --directory "$WORK" \
    >"$WORK/http.log" 2>&1 &
PIDS+=("$!")
for i in $(seq 100); do
    [ "$(in_up ss -ltn | grep -c ':443 ')" -eq 2 ] && grep -q '192.0.2.10:80 ' <<<"$(in_up ss -ltn)" && break
    sleep 0.1
done
[ "$(in_up ss -ltn | grep -c ':443 ')" -eq 2 ] || fail "no TLS servers"
echo hello >"$WORK/index.html"

if [ -n "${CAPTURE_PCAP:-}" ]; then
    ip netns exec "$NS_CL" tcpdump -Z root -i "vc$$" -n -U -w "$CAPTURE_PCAP" 'tcp or udp or icmp' \
        2>"$WORK/tcpdump.log" &
    TCPDUMP=$!
    PIDS+=("$TCPDUMP")
    for i in $(seq 50); do grep -q listening "$WORK/tcpdump.log" && break; sleep 0.1; done
fi

STATE=$WORK/state OUT=$WORK/out EVENTS=$WORK/events.jsonl
: >"$WORK/config.toml"
ip netns exec "$NS_CL" "$EM_BIN" agent --source nflog --state-dir "$STATE" --output-dir "$OUT" \
    --flush-interval 200ms --events "$EVENTS" --config "$WORK/config.toml" -v \
    2>>"$WORK/agent.log" &
AGENT=$!
PIDS+=("$AGENT")
for i in $(seq 300); do
    grep -q 'agent: capturing with' "$WORK/agent.log" 2>/dev/null &&
        in_cl nft list table inet egress_monitor >/dev/null 2>&1 && break
    kill -0 "$AGENT" 2>/dev/null || { cat "$WORK/agent.log"; fail "agent exited at start"; }
    sleep 0.1
done
# (grep -q on a pipe would close it early: pipefail then fails on the writer's SIGPIPE.)
grep -q 'log prefix "em-first"' <<<"$(in_cl nft list table inet egress_monitor)" ||
    { cat "$WORK/agent.log"; fail "no em-first rule"; }

cu() { in_cl curl -sS --max-time 5 -o /dev/null "$@" || fail "curl $*"; }
cu --http1.1 --resolve www.example.test:80:192.0.2.10 http://www.example.test/index.html
cu --http1.1 --resolve www.example.test:80:192.0.2.10 http://www.example.test/index.html  # a 2nd connection
cu -k --resolve secure.example.test:443:192.0.2.20 https://secure.example.test/
cu -k -6 --resolve 'v6.example.test:443:[2001:db8::20]' https://v6.example.test/
in_cl openssl s_client -connect 203.0.113.6:443 -servername sclient.example.test </dev/null \
    >"$WORK/s_client.log" 2>&1 || fail "openssl s_client"
in_cl "$PY" - "$QUIC_HEX" <<'PYEOF'
import socket, sys
data = bytes.fromhex("".join(open(sys.argv[1]).read().split()))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(data, ("203.0.113.5", 443))
s.sendto(data, ("203.0.113.5", 443))  # the client's retransmission: not a second look
PYEOF
in_cl "$EM_CONNECT" --timeout-ms 500 192.0.2.20 443 >/dev/null || true  # no data: no name
# Until the agent has written what it saw (each flush), not a fixed sleep: SIGTERM then.
wait_events() {  # FILE PATTERN COUNT: up to 20 s for COUNT lines matching PATTERN
    for _ in $(seq 200); do
        [ "$(grep -c -- "$2" "$1" 2>/dev/null || true)" -ge "$3" ] && return 0
        sleep 0.1
    done
}
wait_events "$EVENTS" '"type":"flow_name"' 6
wait_events "$EVENTS" '"type":"flow"' 7

kill -TERM "$AGENT"
wait "$AGENT" || fail "agent exited with $? on SIGTERM"
in_cl nft list table inet egress_monitor >/dev/null 2>&1 && fail "SIGTERM left the table behind"
if [ -n "${CAPTURE_PCAP:-}" ]; then kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true; fi

names() { grep '"type":"flow_name"' "$EVENTS" || true; }
one() {  # DESCRIPTION PATTERN...: exactly one flow_name event matches all patterns
    local what=$1 got
    shift
    got=$(names)
    for pat in "$@"; do got=$(grep -F -- "$pat" <<<"$got" || true); done
    [ "$(grep -c . <<<"$got" || true)" -eq 1 ] || { names; fail "$what: want one event"; }
}
[ "$(names | grep -F '"dst":"192.0.2.10","dport":80,' | grep -c '"protocol":"http","host":"www.example.test"')" -eq 2 ] ||
    fail "two HTTP connections, two names"
one "TLS SNI" '"dst":"192.0.2.20","dport":443,' '"protocol":"tls","sni":"secure.example.test"' '"alpn":["h2","http/1.1"]'
one "TLS SNI over IPv6" '"dst":"2001:db8::20","dport":443,' '"sni":"v6.example.test"'
one "openssl s_client" '"dst":"203.0.113.6","dport":443,' '"sni":"sclient.example.test"' '"ech":false'
one "QUIC Initial" '"dst":"203.0.113.5","dport":443,' '"protocol":"quic","sni":"example.com"'
[ "$(names | grep -c '"direct":false')" -eq 0 ] || fail "no DNS was seen: names are direct"
[ "$(names | wc -l)" -eq 6 ] || { names; fail "want 6 flow_name events"; }
# Flows still come from the flow rule alone: the looked-at packets are no new flows.
[ "$(grep -c '"type":"flow"' "$EVENTS")" -eq 7 ] || { grep '"type":"flow"' "$EVENTS"; fail "want 7 flows"; }

counter() {
    sqlite3 "$STATE/ledger.sqlite" "SELECT coalesce(sum(value),0) FROM counters WHERE name = '$1'"
}
[ "$(counter first_packets.named)" -eq 6 ] || fail "first_packets.named = $(counter first_packets.named)"
[ "$(counter first_packets.malformed)" -eq 0 ] || fail "malformed first packets"
[ "$(counter nflog.lost_seq)" -eq 0 ] || fail "NFLOG lost messages"
grep -i "error" "$WORK/agent.log" && fail "agent logged errors"

# iptables backend: the same rules in iptables-nft chains, removed on exit.
: >"$WORK/ipt.log"
ip netns exec "$NS_CL" "$EM_BIN" agent --source nflog --state-dir "$WORK/ipt/state" \
    --output-dir "$WORK/ipt/out" --events "$WORK/ipt/events.jsonl" --flush-interval 200ms \
    --config <(printf '[agent]\nfirewall_backend = "iptables"\n') -v 2>"$WORK/ipt.log" &
IPT=$!
PIDS+=("$IPT")
for i in $(seq 100); do grep -q 'agent: capturing with' "$WORK/ipt.log" && break; sleep 0.1; done
grep -q -- '--nflog-prefix em-first' <<<"$(in_cl ip6tables -S EGRESS_MONITOR_OUT)" || fail "ip6tables em-first rule missing"
cu -k --resolve secure.example.test:443:192.0.2.20 https://secure.example.test/
cu -k -6 --resolve 'v6.example.test:443:[2001:db8::20]' https://v6.example.test/
cu --http1.1 --resolve www.example.test:80:192.0.2.10 http://www.example.test/index.html
wait_events "$WORK/ipt/events.jsonl" '"type":"flow_name"' 3
kill -TERM "$IPT"; wait "$IPT" || fail "iptables agent exit status $?"
grep -q EGRESS_MONITOR <<<"$(in_cl iptables -S)" && fail "iptables chains left behind"
ipt=$(grep '"type":"flow_name"' "$WORK/ipt/events.jsonl" || true)
[ "$(grep -c . <<<"$ipt")" -eq 3 ] || { echo "$ipt"; fail "iptables backend: want 3 flow_name events"; }
grep -q '"dst":"192.0.2.20",.*"sni":"secure.example.test"' <<<"$ipt" || fail "iptables: IPv4 SNI"
grep -q '"dst":"2001:db8::20",.*"sni":"v6.example.test"' <<<"$ipt" || fail "iptables: IPv6 SNI"
grep -q '"dst":"192.0.2.10",.*"host":"www.example.test"' <<<"$ipt" || fail "iptables: HTTP Host"

# pcap:IFACE: the same names from the packets on the client's veth (FirstPayloadTracker).
: >"$WORK/pcap.log"
ip netns exec "$NS_CL" "$EM_BIN" agent --source "pcap:vc$$" --state-dir "$WORK/pcap/state" \
    --output-dir "$WORK/pcap/out" --events "$WORK/pcap/events.jsonl" --flush-interval 200ms \
    --config "$WORK/config.toml" -v 2>"$WORK/pcap.log" &
PCAP_AGENT=$!
PIDS+=("$PCAP_AGENT")
for i in $(seq 100); do grep -q 'agent: capturing with' "$WORK/pcap.log" && break; sleep 0.1; done
# The capture is open and the host's addresses dumped (HostAddresses::open) before that line.
cu -k --resolve secure.example.test:443:192.0.2.20 https://secure.example.test/
cu -k --resolve secure.example.test:443:192.0.2.20 https://secure.example.test/
in_cl "$PY" - "$QUIC_HEX" <<'PYEOF'
import socket, sys
data = bytes.fromhex("".join(open(sys.argv[1]).read().split()))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(data, ("203.0.113.5", 443))
s.sendto(data, ("203.0.113.5", 443))
PYEOF
wait_events "$WORK/pcap/events.jsonl" '"type":"flow_name"' 3
kill -TERM "$PCAP_AGENT"; wait "$PCAP_AGENT" || fail "pcap agent exit status $?"
pc=$(grep '"type":"flow_name"' "$WORK/pcap/events.jsonl" || true)
[ "$(grep -c '"sni":"secure.example.test"' <<<"$pc")" -eq 2 ] || { echo "$pc"; fail "pcap: want 2 TLS names"; }
[ "$(grep -c '"protocol":"quic","sni":"example.com"' <<<"$pc")" -eq 1 ] || { echo "$pc"; fail "pcap: want 1 QUIC name"; }
[ "$(grep -c . <<<"$pc")" -eq 3 ] || { echo "$pc"; fail "pcap: want 3 flow_name events"; }
echo "ok: $(names | wc -l) flow_name events from curl, openssl s_client and a QUIC Initial; iptables backend; pcap:IFACE"
