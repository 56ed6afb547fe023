#!/bin/bash
# Regenerates tests/data/real/ from the real programs: dnsmasq 2.90 query logs (both layouts)
# and kernel LOG lines from the shipped nft rule, in network namespaces (documentation
# addresses only). The queries and connections below are the script of what was sent; the
# unit tests in tests/unit/sources/real_lines_test.cpp hold the counts that script implies.
#   sudo scripts/capture-test-data.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/integration/lib.sh
need_root
out=tests/data/real
mkdir -p "$out"
PREFIX="EGRESS: "
make_topology
enable_netns_logging

start_upstream_dnsmasq <<CONF
host-record=v4only.test,192.0.2.30
txt-record=txt.test,"v=spf1 -all"
mx-host=mail.test,mx.mail.test,10
local-ttl=60
CONF
printf '192.0.2.40 hosts-file.test\n' >"$WORK/extra-hosts"

capture() {  # layout(extra|plain) output-file
    cat >"$WORK/client-$1.conf" <<CONF
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
bogus-priv
addn-hosts=$WORK/extra-hosts
address=/local.test/192.0.2.99
server=198.51.100.1
server=/refused.test/198.51.100.1
log-queries$([ "$1" = extra ] && echo "=extra")
log-facility=$WORK/$1.log
CONF
    start_dnsmasq "$NS_CL" "$WORK/client-$1.conf" "$WORK/client-$1.pid"
    local q="in_cl dig @127.0.0.1 +time=2 +tries=1"
    $q fixed.test A >/dev/null
    $q fixed.test A >/dev/null                # cached
    $q WWW.Example.Test A >/dev/null          # mixed case, CNAME chain
    $q deep.example.test A >/dev/null         # two CNAMEs
    $q host6.test A >/dev/null
    $q host6.test AAAA >/dev/null
    $q v4only.test AAAA >/dev/null            # NODATA-IPv6
    $q gone.nx.test A >/dev/null              # NXDOMAIN
    $q unknown.refused.test A >/dev/null || true  # REFUSED upstream
    $q txt.test TXT >/dev/null
    $q mail.test MX >/dev/null
    $q local.test A >/dev/null                # config
    $q hosts-file.test A >/dev/null           # addn-hosts file
    $q -x 192.168.1.10 >/dev/null             # reverse, answered locally (bogus-priv)
    $q +tcp tcp.fixed.test A >/dev/null       # TCP: forked child pid
    local pid; pid=$(cat "$WORK/client-$1.pid")
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    cp "$WORK/$1.log" "$2"
}
capture extra "$out/dnsmasq-extra.log"
capture plain "$out/dnsmasq-plain.log"

# Kernel LOG lines from the shipped rule: TCP v4/v6 (refused: still a new flow), a UDP flow
# of three datagrams, a retransmitting connect to an address that drops, and loopback.
in_up nft add table inet drop_t
in_up nft add chain inet drop_t in '{ type filter hook input priority 0; }'
in_up nft add rule inet drop_t in ip daddr 203.0.113.6 drop
load_log_rule "$PREFIX"
# Only records after this point: the ring may hold lines of earlier runs with the same prefix.
last_seq=$(timeout 1 cat /dev/kmsg 2>/dev/null | tail -1 | cut -d, -f2 || true)
in_cl timeout 3 bash -c 'exec 3<>/dev/tcp/192.0.2.10/80' 2>/dev/null || true
in_cl timeout 3 bash -c 'exec 3<>/dev/tcp/2001:db8::20/443' 2>/dev/null || true
in_cl timeout 3 bash -c 'exec 3>/dev/udp/203.0.113.5/9999; echo a >&3; echo b >&3; echo c >&3' || true
in_cl timeout 3 bash -c 'exec 3<>/dev/tcp/203.0.113.6/443' 2>/dev/null || true  # SYN retransmits
in_cl timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>/dev/null || true
sleep 0.5
timeout 1 cat /dev/kmsg 2>/dev/null | awk -F, -v after="${last_seq:-0}" '$2 > after' |
    grep -F ";$PREFIX" >"$out/kmsg.txt" || true
# The same messages as a traditional-format kern.log (time stamps invented, text verbatim).
awk -F';' '{ sub(/^[^;]*;/, ""); printf "Nov 24 17:05:%02d testhost kernel: [ 100.%06d] %s\n", NR, NR, $0 }' \
    "$out/kmsg.txt" >"$out/kern.log"
echo "captured: $(wc -l <"$out/dnsmasq-extra.log") extra, $(wc -l <"$out/dnsmasq-plain.log") plain dnsmasq lines, $(wc -l <"$out/kmsg.txt") kernel lines"
