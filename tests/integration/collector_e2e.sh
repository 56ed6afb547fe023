#!/bin/bash
# The collector end to end. In the "client" namespace (the monitored hosts, 198.51.100.2):
#   agent1  a live agent (NFLOG) serving its files over HTTPS itself ([serve] in_agent)
#   web2    `egress-monitor serve` over HTTPS with files made by `replay` of a capture
#   web3    `egress-monitor serve` over HTTPS with files that go bad between cycles
#   ssh1    the same files as web2 fetched over SSH from a real sshd
# In the "upstream" namespace (the collector host): `egress-monitor collect --once` with an
# inventory that also names a host with a wrong token and an unreachable one. Certificates
# come from a CA made here with openssl. Checked: 401 without or with a wrong token, 200 and
# 304 with ETags; cycle 1: agent1/web2/ssh1 stored, web3's malformed file rejected naming the
# line, the wrong token and the unreachable host fail and raise `stale` alerts, a direct-IP
# alert for the agent's connection to an address no answer named, a public resolver alert
# (and one for a DoH name web2's flow-names.log gives, fetched over HTTPS and SSH);
# cycle 2 after new traffic: a new_domain alert; a truncated, an oversized and a tampered
# (unsorted) file are each rejected; `report` shows the hosts and open alerts as JSON.
# EM_HISTORY=postgres (collector_e2e_postgres.sh): the same with the history in PostgreSQL,
# a private cluster started here ([history] url).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_root
EM_CONNECT=${EM_CONNECT:-$PWD/build/tests/em-connect}
for p in dig openssl curl ssh-keygen; do command -v $p >/dev/null || { echo "skipped: no $p" >&2; exit 77; }; done
[ -x /usr/sbin/sshd ] || { echo "skipped: no sshd" >&2; exit 77; }
MADE_RUN_SSHD=""
e2e_cleanup() {
    cleanup
    if [ -n "$MADE_RUN_SSHD" ]; then rmdir /run/sshd 2>/dev/null || true; fi
}
trap e2e_cleanup EXIT
if [ ! -d /run/sshd ]; then mkdir -p /run/sshd; MADE_RUN_SSHD=1; fi

make_topology
in_up ip addr add 203.0.113.7/32 dev lo
start_upstream_dnsmasq </dev/null

# --- certificates: a CA and a server certificate for 198.51.100.2
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=em-test-ca -days 1 \
    -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=198.51.100.2 \
    -keyout "$WORK/srv.key" -out "$WORK/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:198.51.100.2\n' >"$WORK/san.ext"
openssl x509 -req -in "$WORK/srv.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -CAcreateserial -days 1 -extfile "$WORK/san.ext" -out "$WORK/srv.pem" 2>/dev/null
echo "s3cret-token-$$-0123456789" >"$WORK/token"
echo "wrong-token-0123456789abcdef" >"$WORK/wrong.token"
chmod 600 "$WORK/token" "$WORK/wrong.token" "$WORK/srv.key"

# --- agent1: a live agent that serves its own files
cat >"$WORK/agent.toml" <<CONF
[serve]
in_agent = true
listen = "198.51.100.2:8443"
token_file = "$WORK/token"
tls_cert = "$WORK/srv.pem"
tls_key = "$WORK/srv.key"
CONF
ip netns exec "$NS_CL" "$EM_BIN" agent --state-dir "$WORK/a1/state" --output-dir "$WORK/a1/out" \
    --flush-interval 200ms --config "$WORK/agent.toml" -v 2>"$WORK/agent.log" &
PIDS+=("$!")
for _ in $(seq 100); do [ -e "$WORK/a1/out/unique-ips.log" ] && break; sleep 0.1; done
in_cl dig +time=2 +tries=1 @198.51.100.1 fixed.test A >/dev/null
in_cl "$EM_CONNECT" --timeout-ms 300 192.0.2.10 80 >/dev/null || true
in_cl "$EM_CONNECT" --timeout-ms 300 203.0.113.7 22 >/dev/null || true  # direct IP
sleep 0.6

# --- web2 / web3: serve files made by replay of the recorded capture
mkdir -p "$WORK/w2" "$WORK/w3"
"$EM_BIN" replay tests/data/pcap/client.pcap --state-dir "$WORK/w2/state" --output-dir "$WORK/w2" \
    --config "$WORK/agent.toml" 2>/dev/null
# web2 also asked a public resolver (8.8.8.8 in the resolver list; only a line in a file here).
# 8.8.8.8 is numerically below every address of the capture, so it goes first.
head -1 "$WORK/w2/unique-ips.log" | grep -q '^192\.0\.2\.10 ' || fail "unexpected first address"
{ echo '8.8.8.8 3 2026-11-24T22:47:33Z'; cat "$WORK/w2/unique-ips.log"; } >"$WORK/w2/ips.tmp"
mv "$WORK/w2/ips.tmp" "$WORK/w2/unique-ips.log"
# web2's first packets also named a DoH resolver at an address no DNS answer gave
# (flow-names.log; 8.8.4.4 sorts first): public_resolver by name, over HTTPS and, for ssh1
# (the same directory), over SSH. web3 has no such file: 404, no names, no error.
{ echo '8.8.4.4 dns.google tls 2 2026-11-24T22:47:33Z'; cat "$WORK/w2/flow-names.log" 2>/dev/null || true; } >"$WORK/w2/names.tmp"
mv "$WORK/w2/names.tmp" "$WORK/w2/flow-names.log"
cp "$WORK/w2/unique-domains.log" "$WORK/w2/unique-ips.log" "$WORK/w3/"
sed -i '2s/ 2 / 02 /' "$WORK/w3/unique-domains.log"  # malformed: a leading zero
serve() {  # name port dir
    ip netns exec "$NS_CL" "$EM_BIN" serve --listen "198.51.100.2:$2" --token-file "$WORK/token" \
        --tls-cert "$WORK/srv.pem" --tls-key "$WORK/srv.key" --output-dir "$3" \
        --state-dir "$3/state" --config /dev/null 2>"$WORK/$1.log" &
    PIDS+=("$!")
}
serve web2 8444 "$WORK/w2"
serve web3 8445 "$WORK/w3"

# --- ssh1: sshd in the client namespace, the collector's key authorised
ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/client_key"
cp "$WORK/client_key.pub" "$WORK/authorized_keys"
echo "[198.51.100.2]:2222 $(cut -d' ' -f1,2 "$WORK/host_key.pub")" >"$WORK/known_hosts"
cat >"$WORK/sshd_config" <<CONF
Port 2222
ListenAddress 198.51.100.2
HostKey $WORK/host_key
AuthorizedKeysFile $WORK/authorized_keys
PidFile $WORK/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
# The session's shell is root's login shell, which sshd's bash runs ~/.bashrc for: on this
# machine root's (pyenv and cargo set-up) takes 1-3 s, more than the fetch timeout under load.
# A collector logs in as a dedicated user; here the home is an empty directory instead.
SetEnv HOME=$WORK/sshhome
CONF
ip netns exec "$NS_CL" /usr/sbin/sshd -f "$WORK/sshd_config" -D -e 2>"$WORK/sshd.log" &
PIDS+=("$!")
for _ in $(seq 100); do
    grep -q "Server listening" "$WORK/sshd.log" 2>/dev/null &&
        [ -n "$(in_cl ss -Hltn 'sport = :8445')" ] && [ -n "$(in_cl ss -Hltn 'sport = :8443')" ] && break
    sleep 0.1
done

# --- the endpoint itself: tokens, ETag, 304
url=https://198.51.100.2:8444/v1/unique-ips.log
code() { in_up curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/ca.pem" "$@"; }
[ "$(code "$url")" = 401 ] || fail "no token: expected 401"
[ "$(code -H "Authorization: Bearer wrong-token-0123456789abcdef" "$url")" = 401 ] || fail "wrong token: expected 401"
[ "$(code -H "Authorization: Bearer s3cret-token-$$-0123456789" "$url")" = 200 ] || fail "token: expected 200"
etag=$(in_up curl -s -D - -o /dev/null --cacert "$WORK/ca.pem" -H "Authorization: Bearer s3cret-token-$$-0123456789" "$url" |
    awk -F': ' 'tolower($1) == "etag" {print $2}' | tr -d '\r')
[ -n "$etag" ] || fail "no ETag"
[ "$(code -H "Authorization: Bearer s3cret-token-$$-0123456789" -H "If-None-Match: $etag" "$url")" = 304 ] ||
    fail "If-None-Match: expected 304"
[ "$(code https://198.51.100.2:8444/healthz)" = 200 ] || fail "healthz"
[ "$(code -H "Authorization: Bearer s3cret-token-$$-0123456789" https://198.51.100.2:8444/v1/flow-names.log)" = 200 ] ||
    fail "flow-names.log: expected 200"
[ "$(code -H "Authorization: Bearer s3cret-token-$$-0123456789" https://198.51.100.2:8445/v1/flow-names.log)" = 404 ] ||
    fail "absent flow-names.log: expected 404"
agent_metrics=$(in_up curl -s --cacert "$WORK/ca.pem" -H "Authorization: Bearer s3cret-token-$$-0123456789" \
    https://198.51.100.2:8443/metrics)
grep -q '^egress_monitor_up 1' <<<"$agent_metrics" || fail "agent /metrics"

# --- the collector
cat >"$WORK/inventory.toml" <<CONF
[[host]]
name = "agent1"
url = "https://198.51.100.2:8443"
token_file = "$WORK/token"
ca_file = "$WORK/ca.pem"
tags = ["live"]
[[host]]
name = "web2"
url = "https://198.51.100.2:8444"
token_file = "$WORK/token"
ca_file = "$WORK/ca.pem"
[[host]]
name = "web3"
url = "https://198.51.100.2:8445"
token_file = "$WORK/token"
ca_file = "$WORK/ca.pem"
[[host]]
name = "badtoken"
url = "https://198.51.100.2:8444"
token_file = "$WORK/wrong.token"
ca_file = "$WORK/ca.pem"
[[host]]
name = "ssh1"
ssh = "root@198.51.100.2"
ssh_port = 2222
ssh_key = "$WORK/client_key"
ssh_known_hosts = "$WORK/known_hosts"
remote_dir = "$WORK/w2"
[[host]]
name = "down1"
url = "https://192.0.2.250:8443"
token_file = "$WORK/token"
ca_file = "$WORK/ca.pem"
CONF
history_store "$WORK/history.sqlite"
cat >"$WORK/collector.toml" <<CONF
[history]
$HISTORY_TOML
[rules.new_domain]
learning_days = 0
[rules.public_resolver]
list = "$PWD/packaging/public-resolvers.txt"
[rules.stale]
max_age_minutes = 0
[alerts]
stdout = true
jsonl = "$WORK/alerts.jsonl"
CONF
collect() {
    ip netns exec "$NS_UP" "$EM_BIN" collect --inventory "$WORK/inventory.toml" \
        --config "$WORK/collector.toml" --once --timeout 2s --retries 1 -v >>"$WORK/collect.out" \
        2>>"$WORK/collect.log" || { local rc=$?; cat "$WORK/collect.log"; fail "collect exit status $rc"; }
}
alert() {  # host rule key-substring → the open alert line, or nothing
    grep "\"host\":\"$1\"" "$WORK/alerts.jsonl" | grep "\"rule\":\"$2\"" | grep "\"state\":\"open\"" | grep -- "$3" || true
}
collect
[ -n "$(alert web3 rejected 'unique-domains.log:2')" ] || { cat "$WORK/alerts.jsonl"; fail "web3's malformed line not rejected with its line number"; }
[ -n "$(alert badtoken stale 'unauthorized')" ] || fail "wrong token not reported"
[ -n "$(alert down1 stale 'unreachable')" ] || fail "unreachable host not reported"
# Three hosts connect to 203.0.113.7: one fleet alert (host "*") that lists agent1.
fleet=$(alert '\*' direct_ip '"key":"203.0.113.7"')
grep -q 'on 3 hosts (agent1, ssh1, web2)' <<<"$fleet" || { cat "$WORK/alerts.jsonl"; fail "direct-IP egress of agent1 not reported as one fleet alert"; }
[ -z "$(alert agent1 direct_ip '203.0.113.7')" ] || fail "the fleet's direct address also alerted per host"
[ -z "$(alert agent1 direct_ip '192.0.2.10')" ] || fail "a resolved address reported as direct"
[ -n "$(alert web2 public_resolver '8.8.8.8')" ] || fail "public resolver not reported"
for h in web2 ssh1; do
    [ -n "$(alert $h public_resolver '"key":"dns.google"')" ] || { cat "$WORK/alerts.jsonl"; fail "$h: DoH name from first packets not reported"; }
done
! grep -q 'flow names rejected' "$WORK/collect.log" || fail "flow names rejected: $(grep 'flow names rejected' "$WORK/collect.log")"
[ -z "$(alert ssh1 stale '')" ] || fail "ssh1 fetch failed: $(alert ssh1 stale '')"
for h in agent1 web2 ssh1; do
    [ -z "$(alert "$h" new_domain '')" ] || fail "$h: new_domain in the baseline cycle"
done

# Cycle 2: new traffic on agent1 (a new registrable domain), and web3's file goes bad in
# other ways, one per cycle.
sleep 1.1
in_cl dig +time=2 +tries=1 @198.51.100.1 deep.example.test A >/dev/null
sleep 0.6
cp "$WORK/w2/unique-domains.log" "$WORK/w3/unique-domains.log"
head -c -1 "$WORK/w2/unique-ips.log" >"$WORK/w3/unique-ips.log"  # truncated: no final newline
collect
[ -n "$(alert agent1 new_domain 'deep.example.test')" ] || { cat "$WORK/alerts.jsonl"; fail "new domain on agent1 not reported"; }
# The open `rejected` alert of web3 stays open (deduplicated); each rejection is reported
# on stderr with its reason.
rejected() { grep "web3: snapshot rejected" "$WORK/collect.log" | grep -i "$1" >/dev/null; }
rejected 'unique-ips.log:7: no newline at end of file' || fail "truncated file not rejected"
sleep 1.1
{ tail -1 "$WORK/w2/unique-domains.log"; head -n -1 "$WORK/w2/unique-domains.log"; } >"$WORK/w3/unique-domains.log"
cp "$WORK/w2/unique-ips.log" "$WORK/w3/unique-ips.log"
collect
rejected 'unique-domains.log:2: domains not sorted' || fail "tampered (unsorted) file not rejected"
sleep 1.1
head -c 300000000 /dev/zero | tr '\0' 'a' >"$WORK/w3/unique-domains.log"
collect
grep 'web3' "$WORK/collect.log" | grep -i 'too large\|oversized\|limit' >/dev/null || fail "oversized file not rejected"
[ "$(grep -c '"host":"web3","rule":"rejected"' "$WORK/alerts.jsonl")" = 1 ] || fail "web3's rejected alert not deduplicated"

ip netns exec "$NS_UP" "$EM_BIN" report --config "$WORK/collector.toml" --format json >"$WORK/report.json"
for h in agent1 web2 web3 badtoken ssh1 down1; do grep -q "\"$h\"" "$WORK/report.json" || fail "report lacks $h"; done
grep -q 'direct_ip' "$WORK/report.json" || fail "report lacks the open direct_ip alert"
if [ -n "$PG_DIR" ]; then
    # The tables are the team's to query with their own tools.
    n=$(psql "$PG_URL" -Atc "SELECT count(*) FROM hosts")
    [ "$n" = 6 ] || fail "PostgreSQL's hosts table has $n rows, not 6"
    n=$(psql "$PG_URL" -Atc "SELECT count(*) FROM alerts WHERE rule = 'direct_ip' AND state = 'open'")
    [ "$n" -ge 1 ] || fail "PostgreSQL's alerts table has no open direct_ip alert"
fi
echo "ok: serve (401/200/304), collect over HTTPS and SSH, rejections, stale, direct_ip, public_resolver (also by first-packet name), new_domain, report; history in ${EM_HISTORY:-sqlite}"
