#!/bin/bash
# `serve` under slow and greedy clients (tests/tools/serve_attack.py), in a namespace of its
# own, running as an unprivileged user made for the test:
#   - it has left root: uid/gid of that user, no capability, no_new_privs;
#   - 64 slow TLS clients from 127.0.0.2 (half trickling a ClientHello, half a request, a byte
#     a second, reconnecting whenever closed) for 20 s, while an honest client on 127.0.0.1
#     fetches /healthz and the domains file with the token in turn: every honest request is
#     answered, each in under 2 s; no slow connection lives much past the request deadline;
#   - four clients each sending a 64 MiB request line at once: the server's RSS grows by
#     less than 32 MiB;
#   - /metrics counts the connections cut at the deadline, and the server still answers;
#   - the agent's endpoint: a child process as that user (ids, no capability, no_new_privs),
#     holding the listening socket but no netlink socket, BPF object or ledger descriptor.
# The same tool against the old cpp-httplib server: bench/serve_attack.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_root
for p in python3 openssl curl useradd userdel; do
    command -v $p >/dev/null || { echo "skipped: no $p" >&2; exit 77; }
done
ATTACK=$PWD/tests/tools/serve_attack.py
USER_NAME="emsrv$$"
MADE_USER=""
hostile_cleanup() {
    cleanup
    if [ -n "$MADE_USER" ]; then userdel "$USER_NAME" 2>/dev/null || true; fi
}
trap hostile_cleanup EXIT

ip netns add "$NS_UP"
in_up ip link set lo up
useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$USER_NAME"
MADE_USER=1

# --- the files, readable by the user's group only; the token and key stay root's
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1 -days 1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    2>/dev/null
head -c 24 /dev/urandom | base64 >"$WORK/token"
chmod 600 "$WORK/token" "$WORK/key.pem"
mkdir -p "$WORK/out" "$WORK/state"
printf 'a.example 3 2026-12-01T10:00:00Z -\nb.example 4 2026-12-01T10:00:01Z -\n' \
    >"$WORK/out/unique-domains.log"
printf '192.0.2.10 2 2026-12-01T10:00:00Z\n' >"$WORK/out/unique-ips.log"
chmod 711 "$WORK"
chgrp -R "$USER_NAME" "$WORK/out" "$WORK/state"
chmod 750 "$WORK/out" "$WORK/state"
chmod 640 "$WORK/out/"*

PORT=18443
ip netns exec "$NS_UP" "$EM_BIN" serve --listen 0.0.0.0:$PORT --token-file "$WORK/token" --tls-cert "$WORK/cert.pem" \
    --tls-key "$WORK/key.pem" --output-dir "$WORK/out" --state-dir "$WORK/state" \
    --user "$USER_NAME" 2>"$WORK/serve.log" &
SERVE=$!
PIDS+=("$SERVE")
fetch() {  # path [curl args...]
    local path=$1
    shift
    in_up curl -sS --max-time 5 --cacert "$WORK/cert.pem" "$@" "https://127.0.0.1:$PORT$path"
}
for _ in $(seq 50); do fetch /healthz >/dev/null 2>&1 && break; sleep 0.1; done
[ "$(fetch /healthz)" = ok ] || { cat "$WORK/serve.log"; fail "serve did not start"; }

# --- least privilege
uid=$(id -u "$USER_NAME")
gid=$(id -g "$USER_NAME")
status=/proc/$SERVE/status
grep -q "^Uid:[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid$" $status ||
    fail "serve still has another uid: $(grep ^Uid: $status)"
grep -q "^Gid:[[:space:]]*$gid[[:space:]]*$gid[[:space:]]*$gid[[:space:]]*$gid$" $status ||
    fail "serve still has another gid: $(grep ^Gid: $status)"
grep -q '^CapEff:[[:space:]]*0000000000000000$' $status || fail "serve kept capabilities"
grep -q '^CapPrm:[[:space:]]*0000000000000000$' $status || fail "serve kept capabilities"
grep -q '^NoNewPrivs:[[:space:]]*1$' $status || fail "serve without no_new_privs"
got=$(fetch /v1/unique-domains.log -H "Authorization: Bearer $(cat "$WORK/token")")
[ "$got" = "$(cat "$WORK/out/unique-domains.log")" ] || fail "the file as the user: $got"
echo "ok: serve runs as $USER_NAME ($uid:$gid), no capabilities, and reads the files"

# --- 64 slow clients from one address; the honest client from another
slow=$(in_up python3 "$ATTACK" slow --port $PORT --ca "$WORK/cert.pem" --token "$(cat "$WORK/token")" \
    --attacker 127.0.0.2 --clients 64 --seconds 20)
echo "slow: $slow"
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
[ "$(field "$slow" honest_failure_count)" -eq 0 ] || fail "honest requests failed: $slow"
[ "$(field "$slow" honest_over_2s)" -eq 0 ] || fail "honest requests took 2 s or more: $slow"
[ "$(field "$slow" honest_requests)" -ge 30 ] || fail "too few honest requests: $slow"
# The request deadline is 10 s; a slow client notices the close at its next byte (1 s).
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 13.5 else 1)" \
    "$(field "$slow" slow_longest_life_seconds)" || fail "a slow connection outlived the deadline: $slow"
echo "ok: 64 slow clients for 20 s; every honest request answered in under 2 s"

# --- greedy request lines
greedy=$(in_up python3 "$ATTACK" greedy --port $PORT --pid "$SERVE" --attacker 127.0.0.2 \
    --clients 4 --mbytes 64)
echo "greedy: $greedy"
python3 -c "import json,sys; sys.exit(0 if json.loads(sys.argv[1])['rss_growth_mib'] < 32 else 1)" \
    "$greedy" || fail "RSS grew by 32 MiB or more: $greedy"
echo "ok: four 64 MiB request lines"

metrics=$(fetch /metrics -H "Authorization: Bearer $(cat "$WORK/token")")
cut=$(echo "$metrics" | awk '/^egress_monitor_serve_total\{what="request_deadline"\}/ {print $2}')
[ -n "$cut" ] && [ "$cut" -gt 0 ] || fail "no request_deadline count in /metrics"
kill -0 "$SERVE" || fail "serve died"
echo "ok: /metrics counts $cut connections cut at the request deadline; serve still answers"

# --- the agent's endpoint: a process of its own, as the user, with the agent's live counters
kill "$SERVE"
wait "$SERVE" 2>/dev/null || true
mkdir -p "$WORK/a/out" "$WORK/a/state"
# The dedicated group owns the agent's directories (setgid: what the agent writes there is
# the group's too), as install.sh sets them up.
chgrp "$USER_NAME" "$WORK/a" "$WORK/a/out" "$WORK/a/state"
chmod 2750 "$WORK/a" "$WORK/a/out" "$WORK/a/state"
cat >"$WORK/agent.toml" <<CONF
[serve]
in_agent = true
listen = "127.0.0.1:$PORT"
token_file = "$WORK/token"
tls_cert = "$WORK/cert.pem"
tls_key = "$WORK/key.pem"
user = "$USER_NAME"
CONF
ip netns exec "$NS_UP" "$EM_BIN" agent --source nflog --state-dir "$WORK/a/state" \
    --output-dir "$WORK/a/out" --flush-interval 200ms --config "$WORK/agent.toml" -v \
    2>"$WORK/agent.log" &
AGENT=$!
PIDS+=("$AGENT")
for _ in $(seq 100); do fetch /healthz >/dev/null 2>&1 && break; sleep 0.1; done
[ "$(fetch /healthz)" = ok ] || { cat "$WORK/agent.log"; fail "the agent's endpoint did not start"; }
child=$(sed -n 's/.*serving the files on .* (process \([0-9]*\)).*/\1/p' "$WORK/agent.log")
[ -n "$child" ] || fail "no endpoint process in the agent's log"
[ "$(awk '/^PPid:/ {print $2}' /proc/"$child"/status)" = "$AGENT" ] || fail "endpoint is not the agent's child"
cstatus=/proc/$child/status
grep -q "^Uid:[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid$" $cstatus ||
    fail "the agent's endpoint has another uid: $(grep ^Uid: $cstatus)"
grep -q "^Gid:[[:space:]]*$gid[[:space:]]*$gid[[:space:]]*$gid[[:space:]]*$gid$" $cstatus ||
    fail "the agent's endpoint has another gid: $(grep ^Gid: $cstatus)"
grep -q '^CapEff:[[:space:]]*0000000000000000$' $cstatus || fail "endpoint kept capabilities"
grep -q '^CapPrm:[[:space:]]*0000000000000000$' $cstatus || fail "endpoint kept capabilities"
grep -q '^NoNewPrivs:[[:space:]]*1$' $cstatus || fail "endpoint without no_new_privs"
grep -q '^Uid:[[:space:]]*0[[:space:]]' /proc/"$AGENT"/status || fail "the agent itself is not root?"
# Nothing of the agent's descriptors but stdio and the feed (no netlink socket, no ledger, no
# BPF object). A socket's link names only its inode: netlink ones are looked up in the
# namespace's /proc/net/netlink, checked first to find the agent's own NFLOG socket.
netlink_fds() {  # PID: the fds of PID that are netlink sockets
    local pid=$1 fd t
    local inodes
    inodes=" $(awk 'NR > 1 {print $NF}' /proc/"$pid"/net/netlink | tr '\n' ' ') "
    for fd in $(ls /proc/"$pid"/fd); do
        t=$(readlink /proc/"$pid"/fd/"$fd" || true)
        case "$t" in socket:\[*\]) t=${t#socket:\[}; t=${t%\]} ;; *) continue ;; esac
        case "$inodes" in *" $t "*) echo "$fd" ;; esac
    done
}
[ -n "$(netlink_fds "$AGENT")" ] || fail "no netlink socket found in the agent itself: the check below would see none either"
[ -z "$(netlink_fds "$child")" ] || fail "endpoint inherited netlink sockets (fds $(netlink_fds "$child" | tr '\n' ' '))"
# The listening socket is the endpoint's alone: the root agent accepts no connection.
listeners=$(in_up ss -Hltnp "sport = :$PORT")
grep -q "pid=$child," <<<"$listeners" || fail "the endpoint does not hold the listening socket: $listeners"
! grep -q "pid=$AGENT," <<<"$listeners" || fail "the agent itself holds the listening socket: $listeners"
fds=$(ls /proc/"$child"/fd | sort -n | tr '\n' ' ')
for fd in $(ls /proc/"$child"/fd); do
    t=$(readlink /proc/"$child"/fd/"$fd" || true)
    case "$t" in *ledger* | anon_inode:bpf*) fail "endpoint inherited $t (fd $fd)" ;; esac
done
sleep 1.5
metrics=$(fetch /metrics -H "Authorization: Bearer $(cat "$WORK/token")")
grep -q '^egress_monitor_counter{name="agent.cache_entries"}' <<<"$metrics" ||
    fail "no live counters from the agent: $metrics"
grep -q '^egress_monitor_ledger_readable 1$' <<<"$metrics" || fail "the ledger is not readable as the user"
got=$(fetch /v1/unique-ips.log -H "Authorization: Bearer $(cat "$WORK/token")" -o /dev/null -w '%{http_code}')
[ "$got" = 200 ] || fail "the agent's files as the user: HTTP $got"
# The agent stops: its endpoint stops with it.
kill "$AGENT"
wait "$AGENT" 2>/dev/null || true
for _ in $(seq 30); do [ -e /proc/"$child" ] || break; sleep 0.1; done
[ ! -e /proc/"$child" ] || fail "the endpoint outlived the agent"
echo "ok: the agent's endpoint runs as $USER_NAME in process $child (fds: $fds), with live counters; it stops with the agent"
