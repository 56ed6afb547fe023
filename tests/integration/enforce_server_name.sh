#!/bin/bash
# `egress-monitor enforce` with allowByServerName (issue 18): a connection to an address no
# allowed DNS answer named is held after its handshake and judged by the name its first data
# segment claims. In two namespaces (documentation ranges only), with docs/enforce.md's rules
# for the option (the held mark saved in the connection's mark, and such connections queued)
# and one filter allowing allowed.test, a server on 192.0.2.60 serving HTTPS (a certificate
# for allowed.test and blocked.test) and HTTP:
#   - curl --resolve allowed.test:443:192.0.2.60 over HTTPS gets the page (server name
#     allowed), blocked.test at the same address does not (its ClientHello is dropped);
#   - plain HTTP likewise, by the request's Host; HTTPS over IPv6 (2001:db8::60) likewise;
#   - a QUIC Initial (RFC 9001's, for example.com) to port 443: judged by its server name;
#   - the verdict lines name the server, the exit counts count each outcome;
#   - with allowByServerName off (the same rules), the connection to allowed.test is dropped
#     at its SYN, as before: no answer named the address.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_root
NS_UP="emsnu$$" NS_CL="emsnc$$"  # unique names; lib.sh's cleanup removes them by name
for p in iptables python3 openssl curl; do
    command -v $p >/dev/null || { echo "skipped: no $p" >&2; exit 77; }
done
MARK=0x20000000  # kServerNameHeldMark (src/enforce/server_names.h)

make_topology
in_up ip addr add 192.0.2.60/32 dev lo
in_up ip addr add 2001:db8::60/128 dev lo nodad
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=allowed.test \
    -addext subjectAltName=DNS:allowed.test,DNS:www.allowed.test,DNS:blocked.test -days 1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat >"$WORK/server.py" <<'PY'
import http.server, socket, ssl, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello " + self.headers.get("Host", "").encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class H6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
servers = []
for cls, addr in ((http.server.ThreadingHTTPServer, "192.0.2.60"), (H6, "2001:db8::60")):
    servers.append(cls((addr, 80), H))
    tls = cls((addr, 443), H)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    servers.append(tls)
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
servers[0].serve_forever()
PY
# Not through in_up: a function in the background is a subshell, and $! would be its pid.
ip netns exec "$NS_UP" python3 "$WORK/server.py" "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/server.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q '^ready' "$WORK/server.out" 2>/dev/null && break; sleep 0.05; done
grep -q '^ready' "$WORK/server.out" || { cat "$WORK/server.out"; fail "the server did not start"; }

# docs/enforce.md's rules with allowByServerName (IPv4 and IPv6).
for t in "iptables 1002" "ip6tables 1003"; do
    set -- $t
    in_cl $1 -A OUTPUT -o lo -j ACCEPT
    in_cl $1 -A OUTPUT -m conntrack --ctstate NEW -j NFQUEUE --queue-num $2
    in_cl $1 -A OUTPUT -m connmark --mark $MARK/$MARK -j NFQUEUE --queue-num $2
    in_cl $1 -t mangle -A POSTROUTING -m mark --mark $MARK/$MARK \
        -j CONNMARK --save-mark --nfmask $MARK --ctmask $MARK
    in_cl $1 -t mangle -A POSTROUTING -m connmark --mark $MARK/$MARK \
        -j CONNMARK --save-mark --nfmask $MARK --ctmask $MARK
done

config() {  # allowByServerName value
    cat >"$WORK/enforce.toml" <<CONF
inboundDNSQueue = { ipv4 = 1, ipv6 = 2 }

[[filters]]
name = "web"
dnsQueue = { ipv4 = 1000, ipv6 = 1001 }
trafficQueue = { ipv4 = 1002, ipv6 = 1003 }
allowedHostnames = ["allowed.test", "example.com"]
allowAnswersFor = "10s"
allowByServerName = $1
CONF
    rm -f "$WORK/verdicts.jsonl" "$WORK/enforce.log"
}
stop_enforce() {
    kill -TERM "$enf"
    wait "$enf" || { cat "$WORK/enforce.log"; fail "enforce exit status $?"; }
}
get() {  # URL NAME PORT [ADDR]: the body, or nothing when the request failed
    in_cl curl -sS --max-time 3 --cacert "$WORK/cert.pem" --resolve "$2:$3:${4:-192.0.2.60}" "$1" \
        2>/dev/null || true
}

# ------------------------------------------------------------------- allowByServerName on
config true
start_enforce
[ "$(get https://allowed.test/ allowed.test 443)" = "hello allowed.test" ] ||
    { cat "$WORK/verdicts.jsonl"; fail "HTTPS to allowed.test (server name allowed) failed"; }
[ "$(get https://www.allowed.test/ www.allowed.test 443)" = "hello www.allowed.test" ] ||
    fail "HTTPS to www.allowed.test (under an allowed name) failed"
[ -z "$(get https://blocked.test/ blocked.test 443)" ] ||
    fail "HTTPS to blocked.test at the same address got through"
[ "$(get http://allowed.test/ allowed.test 80)" = "hello allowed.test" ] ||
    { cat "$WORK/verdicts.jsonl"; fail "HTTP to allowed.test (Host allowed) failed"; }
[ -z "$(get http://blocked.test/ blocked.test 80)" ] ||
    fail "HTTP to blocked.test at the same address got through"
[ "$(get https://allowed.test/ allowed.test 443 '[2001:db8::60]')" = "hello allowed.test" ] ||
    { cat "$WORK/verdicts.jsonl"; fail "HTTPS over IPv6 to allowed.test failed"; }
[ -z "$(get https://blocked.test/ blocked.test 443 '[2001:db8::60]')" ] ||
    fail "HTTPS over IPv6 to blocked.test got through"
# A QUIC Initial for example.com (allowed), a later datagram of its 5-tuple (allowed with
# it), and from another socket a long-header datagram that is no Initial (dropped).
in_cl python3 -c '
import socket, sys
pkt = bytes.fromhex("".join(open(sys.argv[1]).read().split()))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(pkt, ("192.0.2.60", 443))
s.sendto(b"\x40" + bytes(40), ("192.0.2.60", 443))  # a short-header packet of the same 5-tuple
t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t.sendto(b"\xc0" + bytes(1199), ("192.0.2.60", 443))  # a long header that is no Initial
' tests/data/quic/rfc9001_a2_client_initial.hex
# The three datagrams judged (enforce writes its verdicts after each read) before it stops.
for _ in $(seq 200); do
    [ "$(grep -c '"proto":17' "$WORK/verdicts.jsonl" 2>/dev/null || true)" -ge 3 ] && break
    sleep 0.05
done
stop_enforce
v=$WORK/verdicts.jsonl
grep -q '"verdict":"accept","reason":"server name allowed".*"dport":443,"server_name":"allowed.test"' "$v" ||
    { cat "$v"; fail "no accept line naming allowed.test over TLS"; }
grep -q '"verdict":"drop","reason":"server name not allowed".*"dport":443,"server_name":"blocked.test"' "$v" ||
    { cat "$v"; fail "no drop line naming blocked.test over TLS"; }
grep -q '"verdict":"accept","reason":"server name allowed".*"dport":80,"server_name":"allowed.test"' "$v" ||
    { cat "$v"; fail "no accept line naming allowed.test over HTTP"; }
grep -q '"verdict":"drop","reason":"server name not allowed".*"dport":80,"server_name":"blocked.test"' "$v" ||
    { cat "$v"; fail "no drop line naming blocked.test over HTTP"; }
grep -q '"verdict":"accept","reason":"server name allowed","proto":17.*"server_name":"example.com"' "$v" ||
    { cat "$v"; fail "the QUIC Initial naming example.com was not allowed"; }
grep -q '"verdict":"accept","reason":"connection allowed by its server name","proto":17' "$v" ||
    { cat "$v"; fail "the allowed QUIC 5-tuple's next datagram was not allowed"; }
grep -q '"verdict":"drop","reason":"[^"]*","proto":17' "$v" ||
    { cat "$v"; fail "the datagram that is no QUIC Initial was not dropped"; }
grep -q 'handshake passes: held until its first data segment' "$v" || fail "no held handshake"
# Once allowed, the connection's mark is cleared: its later packets (the rest of the TLS
# handshake, the request, the FIN) no longer come to the queue. SYN, ACK, ClientHello: 3.
sport=$(grep '"reason":"server name allowed".*"dport":443,"server_name":"allowed.test"' "$v" |
    head -1 | sed 's/.*"sport":\([0-9]*\).*/\1/')
n=$(grep -c "\"sport\":$sport," "$v")
echo "note: packets of the allowed HTTPS connection (port $sport) that came to the queue: $n"
[ "$n" -le 4 ] || { grep "\"sport\":$sport," "$v"; fail "$n packets of the allowed connection were queued"; }
grep -q '"verdict":"accept","reason":"server name allowed".*"dst":"2001:db8::60".*"server_name":"allowed.test"' "$v" ||
    { cat "$v"; fail "no accept line over IPv6"; }
for c in 'server-name.held=7' 'server-name.allowed=5' 'server-name.denied=3'; do
    grep -Eq "$c( |;|\$)" "$WORK/enforce.log" || { cat "$WORK/enforce.log"; fail "want $c at exit"; }
done
echo "ok: allowByServerName = true: allowed server names connect, others at the same address do not"

# ------------------------------------------------------------------ allowByServerName off
config false
start_enforce
[ -z "$(get https://allowed.test/ allowed.test 443)" ] ||
    fail "without allowByServerName, HTTPS to an address no answer named got through"
[ -z "$(get http://allowed.test/ allowed.test 80)" ] ||
    fail "without allowByServerName, HTTP to an address no answer named got through"
stop_enforce
grep -q '"verdict":"drop","reason":"no allowed answer named the address","proto":6' "$WORK/verdicts.jsonl" ||
    { cat "$WORK/verdicts.jsonl"; fail "no SYN drop line"; }
! grep -q 'server_name\|held' "$WORK/verdicts.jsonl" || fail "a server name judged with the option off"
! grep -q 'server-name\.' "$WORK/enforce.log" || fail "server-name counts with the option off"
echo "ok: allowByServerName = false: unchanged, dropped at the SYN"
