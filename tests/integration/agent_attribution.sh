#!/bin/bash
# Fallback process attribution on the nflog source (`[agent] attribute_processes = true`):
# sock_diag finds each flow's socket, the /proc fd index its process. In the client
# namespace: a uniquely named process that holds its TCP and UDP sockets open (IPv4 and
# IPv6) must be attributed with its pid, comm, exe, uid, user, parent and cgroup; connectors
# that exit right after connecting show what this path cannot do (their sockets are gone
# when the agent looks). The success rate is printed from the agent's counters.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_root
EM_CONNECT=${EM_CONNECT:-$PWD/build/tests/em-connect}
[ -x /usr/bin/python3 ] || { echo "skipped: no /usr/bin/python3" >&2; exit 77; }

make_topology
ip netns exec "$NS_UP" "$EM_CONNECT" --listen 192.0.2.10 80 >/dev/null 2>&1 &
PIDS+=("$!")
ip netns exec "$NS_UP" "$EM_CONNECT" --listen 2001:db8::20 443 >/dev/null 2>&1 &
PIDS+=("$!")
cat >"$WORK/agent.toml" <<CONF
[agent]
attribute_processes = true
CONF
ip netns exec "$NS_CL" "$EM_BIN" agent --source nflog --state-dir "$WORK/state" --output-dir "$WORK/out" \
    --events "$WORK/events.jsonl" --flush-interval 200ms --config "$WORK/agent.toml" 2>"$WORK/agent.log" &
agent=$!
PIDS+=("$agent")
for _ in $(seq 100); do [ -e "$WORK/out/unique-ips.log" ] && break; sleep 0.1; done
sleep 0.3

# The holder: a copy of python3 under a unique name, its own sockets kept open for 1.5 s.
cp "$(readlink -f /usr/bin/python3)" "$WORK/emh-$$"
cat >"$WORK/hold.py" <<'PY'
import socket, sys, time
t4 = socket.create_connection(("192.0.2.10", 80))
t6 = socket.create_connection(("2001:db8::20", 443))
u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u4.connect(("203.0.113.5", 9999)); u4.send(b"x")
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.sendto(b"x", ("2001:db8::20", 9999))
print(socket.gethostname(), flush=True)
time.sleep(1.5)
PY
ip netns exec "$NS_CL" "$WORK/emh-$$" "$WORK/hold.py" >/dev/null &
holder=$!
for _ in 1 2 3 4 5; do in_cl "$EM_CONNECT" --timeout-ms 300 192.0.2.10 80 >/dev/null || true; done
wait "$holder"
sleep 0.5
kill -TERM "$agent"
wait "$agent" || { cat "$WORK/agent.log"; fail "agent exit status $?"; }

# The holder's pid as the kernel saw it: the child of `ip netns exec` is the exec'd binary.
flows=$(grep '"type":"flow"' "$WORK/events.jsonl" | grep "\"comm\":\"emh-$$\"" || true)
for dst in '"dst":"192.0.2.10","dport":80' '"dst":"2001:db8::20","dport":443' \
    '"dst":"203.0.113.5","dport":9999' '"dst":"2001:db8::20","dport":9999'; do
    line=$(echo "$flows" | grep -F "$dst" | head -1 || true)
    [ -n "$line" ] || { grep '"type":"flow"' "$WORK/events.jsonl"; fail "no attributed flow $dst"; }
    for key in "\"exe\":\"$WORK/emh-$$\"" '"uid":0' '"user":"root"' '"ppid":' \
        '"parent_comm":' '"cgroup":' "\"cmdline\":\"$WORK/emh-$$ $WORK/hold.py\""; do
        grep -qF "$key" <<<"$line" || fail "flow $dst: no $key in $line"
    done
done
pid=$(echo "$flows" | head -1 | sed -E 's/.*"process":\{"pid":([0-9]+).*/\1/')
[ "$(echo "$flows" | sed -E 's/.*"process":\{"pid":([0-9]+).*/\1/' | sort -u)" = "$pid" ] ||
    fail "the holder's flows name different pids"
counter() { sqlite3 "$WORK/state/ledger.sqlite" "SELECT coalesce(sum(value),0) FROM counters WHERE name = 'attribution.$1'"; }
found=$(counter found) total=$(sqlite3 "$WORK/state/ledger.sqlite" "SELECT coalesce(sum(value),0) FROM counters WHERE name LIKE 'attribution.%'")
[ "$found" -ge 4 ] || fail "attribution.found = $found"
# process-uses.log: the holder's four destinations under its exe and user, as the collector
# reads them (format/aggregate.h); `rules --files --process` reads the same file strictly and
# keeps only the holder's addresses.
uses=$WORK/out/process-uses.log
[ -s "$uses" ] || fail "the agent wrote no process-uses.log"
for dest in 192.0.2.10 2001:db8::20 203.0.113.5; do
    grep -qE "^i $dest $WORK/emh-$$ root - [1-9][0-9]* [0-9T:Z-]+ [0-9T:Z-]+\$" "$uses" ||
        { cat "$uses"; fail "process-uses.log has no line for the holder's flow to $dest"; }
done
"$EM_BIN" rules --files "$WORK/out" --process "emh-$$" >"$WORK/rules.nft" 2>"$WORK/rules.log" ||
    { cat "$WORK/rules.log"; fail "rules --files did not read the agent's process-uses.log"; }
grep -q '203.0.113.5' "$WORK/rules.nft" || { cat "$WORK/rules.nft"; fail "rules --process lacks the holder's address"; }
echo "ok: process-uses.log names the holder for its destinations; rules --files --process reads it"
echo "ok: fallback attribution: $found of $total flows attributed ($(counter no_socket) without a socket, $(counter no_process) without a process — the connectors that had exited)"
