# Shared by the namespace-based integration tests (sourced). Everything it makes is named
# after the test's pid and removed by cleanup, by name or pid — never by pattern.
#
#   two namespaces joined by a veth: "upstream" (198.51.100.1, 2001:db8:1::1, and the fake
#   internet hosts 192.0.2.0/24, 203.0.113.0/24, 2001:db8::/64 on its loopback) and "client"
#   (198.51.100.2, 2001:db8:1::2, default routes via upstream). Only documentation ranges.
set -euo pipefail

EM_BIN=${EGRESS_MONITOR:-$PWD/build/egress-monitor}
NS_UP="emu$$"
NS_CL="emc$$"
WORK=$(mktemp -d)
PIDS=()
SYSCTL_SAVED=""

fail() { echo "FAIL: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || { echo "skipped: needs root" >&2; exit 77; }; }

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$NS_CL" 2>/dev/null || true
    ip netns del "$NS_UP" 2>/dev/null || true
    [ -n "$SYSCTL_SAVED" ] && sysctl -qw net.netfilter.nf_log_all_netns="$SYSCTL_SAVED"
    [ -n "$PG_DIR" ] && sh tests/tools/pg-cluster.sh stop "$PG_DIR"
    # KEEP_WORK=1: a copy of the work directory stays in /tmp/kept-work for a post-mortem.
    if [ -n "${KEEP_WORK:-}" ]; then rm -rf /tmp/kept-work; cp -r "$WORK" /tmp/kept-work || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The collector's history for a test's TOML, in $HISTORY_TOML (a line of [history]): the
# SQLite file SQLITE_PATH, or with EM_HISTORY=postgres a private PostgreSQL cluster
# (tests/tools/pg-cluster.sh) in a directory of its own, $PG_URL, stopped by cleanup. The
# directory is traversable so that a dashboard running as nobody reaches the socket.
PG_DIR=""
history_store() {  # SQLITE_PATH
    if [ "${EM_HISTORY:-sqlite}" = postgres ]; then
        PG_DIR=$(mktemp -d /tmp/em-pg.XXXXXX)
        PG_URL=$(sh tests/tools/pg-cluster.sh start "$PG_DIR") || fail "cannot start PostgreSQL"
        chmod 711 "$PG_DIR"
        HISTORY_TOML="url = \"$PG_URL\""
    else
        HISTORY_TOML="path = \"$1\""
    fi
}

in_up() { ip netns exec "$NS_UP" "$@"; }
# From the client namespace, with the project's connector ($EM_CONNECT, set by the test):
# 0 when the SYN of a connection to ADDR PORT left (connected or refused), 1 when it did not.
reach() {  # ADDR PORT
    local out
    out=$(in_cl "$EM_CONNECT" --timeout-ms 700 "$1" "$2" 2>&1 || true)
    case "$out" in *connected=1* | *refused=1*) return 0 ;; esac
    return 1
}
in_cl() { ip netns exec "$NS_CL" "$@"; }

make_topology() {
    ip netns add "$NS_UP"
    ip netns add "$NS_CL"
    ip link add "vu$$" type veth peer name "vc$$"
    ip link set "vu$$" netns "$NS_UP"
    ip link set "vc$$" netns "$NS_CL"
    in_up ip link set lo up
    in_cl ip link set lo up
    in_up ip addr add 198.51.100.1/24 dev "vu$$"
    in_up ip addr add 2001:db8:1::1/64 dev "vu$$" nodad
    in_cl ip addr add 198.51.100.2/24 dev "vc$$"
    in_cl ip addr add 2001:db8:1::2/64 dev "vc$$" nodad
    in_up ip link set "vu$$" up
    in_cl ip link set "vc$$" up
    for a in 192.0.2.10/32 192.0.2.20/32 203.0.113.5/32 203.0.113.6/32; do in_up ip addr add "$a" dev lo; done
    in_up ip addr add 2001:db8::20/128 dev lo nodad
    in_cl ip route add default via 198.51.100.1
    in_cl ip -6 route add default via 2001:db8:1::1
    in_up sysctl -qw net.ipv4.conf.all.forwarding=0
}

# Starts dnsmasq in a namespace with a config file; remembers its pid.
start_dnsmasq() {  # ns conf pidfile
    ip netns exec "$1" dnsmasq --conf-file="$2" --pid-file="$3" --user=root --group=root
    local i
    for i in $(seq 50); do [ -s "$3" ] && break; sleep 0.1; done
    [ -s "$3" ] || fail "dnsmasq did not start ($2)"
    PIDS+=("$(cat "$3")")
}

# The fake internet's resolver in the upstream namespace: the records every test relies on
# (a fixed address, A+AAAA, a CNAME chain two deep, NXDOMAIN under nx.test); extra config
# lines may be given on stdin.
start_upstream_dnsmasq() {
    {
        cat <<CONF
listen-address=198.51.100.1
bind-interfaces
no-resolv
no-hosts
address=/fixed.test/192.0.2.10
host-record=host6.test,192.0.2.20,2001:db8::20
host-record=cdn.example.test,203.0.113.5
host-record=cdn.example.test,203.0.113.6
cname=www.example.test,cdn.example.test
cname=deep.example.test,www.example.test
local=/nx.test/
CONF
        cat
    } >"$WORK/upstream.conf"
    start_dnsmasq "$NS_UP" "$WORK/upstream.conf" "$WORK/upstream.pid"
}

# The kernel logs from non-initial namespaces only with this on; restored at exit.
enable_netns_logging() {
    SYSCTL_SAVED=$(sysctl -n net.netfilter.nf_log_all_netns)
    sysctl -qw net.netfilter.nf_log_all_netns=1
}

# Loads the shipped flow-logging table into the client namespace with prefix $1.
load_log_rule() {
    sed "s/log prefix \"EGRESS: \"/log prefix \"$1\"/" packaging/egress-log.nft >"$WORK/rule.nft"
    grep -q "$1" "$WORK/rule.nft" || fail "prefix not substituted"
    in_cl nft -f "$WORK/rule.nft"
}

# `enforce` in the client namespace with $WORK/enforce.toml, its verdicts in
# $WORK/verdicts.jsonl and its log in $WORK/enforce.log; returns once its queues are bound
# (fails if it exits first or is not bound within 30 s). Its pid is $enf.
start_enforce() {
    ip netns exec "$NS_CL" "$EM_BIN" enforce --config "$WORK/enforce.toml" --log "$WORK/verdicts.jsonl" \
        -v 2>"$WORK/enforce.log" &
    enf=$!
    PIDS+=("$enf")
    local i
    for i in $(seq 300); do
        if grep -q 'queues bound' "$WORK/enforce.log" 2>/dev/null; then return 0; fi
        kill -0 "$enf" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/enforce.log"
    fail "enforce did not start"
}

# A standalone systemd-journald in a private mount namespace, ingesting /dev/kmsg into a
# volatile journal; prints the journal directory as seen from outside (via /proc/PID/root).
start_journald() {
    unshare -m --propagation private bash -c '
        mount -t tmpfs tmpfs /run/systemd/journal 2>/dev/null || { mkdir -p /run/systemd/journal; mount -t tmpfs tmpfs /run/systemd/journal; }
        mkdir -p /run/log && mount -t tmpfs tmpfs /run/log
        [ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal
        exec /lib/systemd/systemd-journald' >"$WORK/journald.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    local i
    for i in $(seq 100); do
        [ -d "/proc/$pid/root/run/log/journal" ] && [ -n "$(ls "/proc/$pid/root/run/log/journal" 2>/dev/null)" ] && break
        sleep 0.1
    done
    JOURNAL_PID=$pid
    JOURNAL_DIR="/proc/$pid/root/run/log/journal"
}
