#!/bin/bash
# Real DNS tunnels are seen (alerts issue, part 3): iodine (IP over DNS) and dns2tcp (TCP
# over DNS), the Debian packages, run in test namespaces — their servers in "upstream" as
# the authoritative servers of t.iodine.test and t.dns2tcp.test, their clients in "client"
# through the client's own dnsmasq (the host's resolver, logging its queries). Data flows
# through both tunnels. The agent (cron mode) consolidates that dnsmasq's log, serves its
# files, and one collector cycle after the tunnels ran opens a `tunnel` alert for each
# registrable domain (iodine.test, dns2tcp.test) — one alert each, their new-domain fact
# inside it — and nothing for the host's ordinary names.
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
need_root
for t in iodine iodined dns2tcpc dns2tcpd python3 curl; do
    command -v "$t" >/dev/null || { echo "skipped: no $t (scripts/deps.sh test installs it)" >&2; exit 77; }
done
[ -c /dev/net/tun ] || { echo "skipped: no /dev/net/tun" >&2; exit 77; }
export TZ=UTC

make_topology
# The tunnel servers' addresses on the fake internet.
in_up ip addr add 192.0.2.53/32 dev lo
in_up ip addr add 192.0.2.54/32 dev lo
start_upstream_dnsmasq </dev/null

# The client host's resolver: forwards the tunnel domains to their servers (as delegation
# would), everything else to the upstream resolver; logs every query for the agent.
cat >"$WORK/client.conf" <<CONF
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
server=198.51.100.1
server=/t.iodine.test/192.0.2.53
server=/t.dns2tcp.test/192.0.2.54
log-queries=extra
log-facility=$WORK/dnsmasq.log
cache-size=0
CONF
start_dnsmasq "$NS_CL" "$WORK/client.conf" "$WORK/client.pid"

consolidate() {
    "$EM_BIN" consolidate --dnsmasq-log "$WORK/dnsmasq.log" --kernel-log none --config /dev/null \
        --state-dir "$WORK/state" --output-dir "$WORK/out" 2>>"$WORK/consolidate.log" ||
        fail "consolidate: $(cat "$WORK/consolidate.log")"
}

# Ordinary use before the tunnels: the collector's baseline.
for n in fixed.test host6.test www.example.test; do
    in_cl dig +short +tries=1 +time=2 @127.0.0.1 "$n" >/dev/null || fail "dig $n"
done
for _ in $(seq 50); do grep -q 'reply fixed.test' "$WORK/dnsmasq.log" 2>/dev/null && break; sleep 0.1; done
consolidate

head -c 24 /dev/urandom | base64 >"$WORK/token"
chmod 600 "$WORK/token"
port=$((20000 + $$ % 10000))
"$EM_BIN" serve --listen "127.0.0.1:$port" --plain-http --token-file "$WORK/token" \
    --output-dir "$WORK/out" --state-dir "$WORK/state" --config /dev/null 2>"$WORK/serve.log" &
PIDS+=("$!")
for _ in $(seq 100); do
    curl -sf -H "Authorization: Bearer $(cat "$WORK/token")" "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
cat >"$WORK/inventory.toml" <<CONF
[[host]]
name = "tunnelled"
url = "http://127.0.0.1:$port"
token_file = "$WORK/token"
insecure_http = true
CONF
cat >"$WORK/collector.toml" <<CONF
[history]
path = "$WORK/history.sqlite"
[rules.new_domain]
learning_days = 0
[rules.stale]
enabled = false
[alerts]
stdout = false
jsonl = "$WORK/alerts.jsonl"
CONF
collect() {
    "$EM_BIN" collect --inventory "$WORK/inventory.toml" --config "$WORK/collector.toml" --once \
        --timeout 5s 2>>"$WORK/collect.log" || fail "collect: $(cat "$WORK/collect.log")"
}
collect
[ ! -s "$WORK/alerts.jsonl" ] || fail "alerts before any tunnel: $(cat "$WORK/alerts.jsonl")"

# Background programs are started with `ip netns exec` itself, not through in_up/in_cl: ip
# execs the program, so $! is its pid and cleanup's kill reaches it (through a shell function
# $! is a subshell, and a tunnel server left behind spins on its dead namespace's socket).
# A TCP echo service on the fake internet, behind both tunnels; echoed SIZE prints how many
# bytes of SIZE sent from the client to ADDR PORT came back intact (-1: corrupted).
ip netns exec "$NS_UP" python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7007)); s.listen(8)
def serve(c):
    while (d := c.recv(65536)):
        c.sendall(d)
    c.close()
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()' >"$WORK/echo.log" 2>&1 &
PIDS+=("$!")
echoed() {  # addr port size
    in_cl python3 -c '
import socket, sys
addr, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = bytes(range(256)) * (size // 256)
c = socket.create_connection((addr, port), timeout=60)
c.sendall(data)
got = b""
while len(got) < len(data):
    d = c.recv(65536)
    if not d: break
    got += d
print(len(got) if got == data[:len(got)] else -1)' "$@" 2>&1 || true
}

# iodine: the server's tunnel network is 203.0.113.192/27; -r keeps the client from trying
# raw UDP to the server's address, so everything goes through the resolver.
ip netns exec "$NS_UP" iodined -f -P egress-test -l 192.0.2.53 -p 53 -d "dns$$" 203.0.113.193/27 t.iodine.test \
    >"$WORK/iodined.log" 2>&1 &
PIDS+=("$!")
wait_for() {  # what command...: polls the command for 30 s
    local what=$1 i
    shift
    for i in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "$what (logs: KEEP_WORK=1)"
}
wait_for "iodined did not start" grep -q 'Listening to dns' "$WORK/iodined.log"
ip netns exec "$NS_CL" iodine -f -r -P egress-test -d "dnc$$" 127.0.0.1 t.iodine.test >"$WORK/iodine.log" 2>&1 &
PIDS+=("$!")
wait_for "iodine did not connect" grep -q 'Connection setup complete' "$WORK/iodine.log"
# TCP through the tunnel to the server's end of it: 16 KB there and back.
got=$(echoed 203.0.113.193 7007 16384)
[ "$got" = 16384 ] || fail "echo through iodine: '$got' ($(tail -3 "$WORK/iodine.log"))"

# dns2tcp: the same echo service as its resource.
cat >"$WORK/dns2tcpd.conf" <<CONF
listen = 192.0.2.54
port = 53
user = nobody
chroot = $WORK/chroot
domain = t.dns2tcp.test
key = egress-test
resources = echo:127.0.0.1:7007
CONF
mkdir -m 755 "$WORK/chroot"
ip netns exec "$NS_UP" dns2tcpd -F -f "$WORK/dns2tcpd.conf" >"$WORK/dns2tcpd.log" 2>&1 &
PIDS+=("$!")
server_up() { grep -q '192.0.2.54:53 ' <<<"$(in_up ss -lun)"; }
wait_for "dns2tcpd did not start" server_up
lport=$((30000 + $$ % 10000))
ip netns exec "$NS_CL" dns2tcpc -z t.dns2tcp.test -k egress-test -r echo -l "$lport" 127.0.0.1 >"$WORK/dns2tcpc.log" 2>&1 &
PIDS+=("$!")
client_up() { grep -q "127.0.0.1:$lport " <<<"$(in_cl ss -ltn)"; }
wait_for "dns2tcpc did not listen" client_up
got=$(echoed 127.0.0.1 "$lport" 16384)
[ "$got" = 16384 ] || fail "echo through dns2tcp: '$got' ($(tail -3 "$WORK/dns2tcpc.log"))"

# One agent run and one collector cycle after the tunnels.
consolidate
sleep 1.1  # a second after the first fetch: what it finds now is new
collect
alerts=$(cat "$WORK/alerts.jsonl" 2>/dev/null || true)
opened=$(grep '"state":"open"' <<<"$alerts" || true)
for d in iodine.test dns2tcp.test unprintable.invalid; do
    a=$(grep "\"rule\":\"tunnel\",\"key\":\"$d\"" <<<"$opened" || true)
    [ "$(grep -c . <<<"$a")" -eq 1 ] || fail "no single tunnel alert for $d: $(head -c 3000 <<<"$alerts")"
    grep -q 'also new on this host' <<<"$a" || fail "the $d alert lacks its new-domain fact: $a"
done
others=$(grep -v '"rule":"tunnel"' <<<"$opened" || true)
[ -z "$others" ] || fail "alerts other than the two tunnels: $others"
names_i=$(grep -c 'iodine\.test ' "$WORK/out/unique-domains.log" || true)
names_d=$(grep -c 'dns2tcp\.test ' "$WORK/out/unique-domains.log" || true)
echo "tunnel_tools: iodine (16 KB echoed, $names_i lines) and dns2tcp (16 KB echoed, $names_d lines) through the host's dnsmasq -> one tunnel alert each in one cycle, nothing else"
