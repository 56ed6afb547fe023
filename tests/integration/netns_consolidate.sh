#!/bin/bash
# End to end in network namespaces with the real programs: an upstream dnsmasq serving
# address=/host-record=/cname= records, a client namespace with a local dnsmasq (log-queries=
# extra) and the shipped nft flow-logging rule, real dig queries (UDP and TCP) and real TCP/UDP
# connections over IPv4 and IPv6. consolidate reads the kernel lines three ways — /dev/kmsg,
# a journald started in a private mount namespace, a syslog-format file — and each time
# unique-domains.log and unique-ips.log must equal what the test sent (a kernel-like line an
# unprivileged user sends to the journal is not counted). A second round must add exactly the
# new traffic; a third run with nothing new must change nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_root
command -v dnsmasq >/dev/null && command -v dig >/dev/null && command -v nft >/dev/null ||
    fail "dnsmasq, dig and nft are needed (scripts/deps.sh test)"

PREFIX="EMT$$: "
make_topology
enable_netns_logging
start_journald
[ -n "$(ls "$JOURNAL_DIR" 2>/dev/null)" ] || fail "journald did not start: $(cat "$WORK/journald.log")"

start_upstream_dnsmasq <<CONF
log-queries
log-facility=$WORK/upstream.log
CONF

cat >"$WORK/client.conf" <<CONF
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
server=198.51.100.1
log-queries=extra
log-facility=$WORK/dnsmasq.log
CONF
start_dnsmasq "$NS_CL" "$WORK/client.conf" "$WORK/client.pid"
load_log_rule "$PREFIX"

q() { in_cl dig @127.0.0.1 +time=2 +tries=1 "$@" >/dev/null || true; }
tcp() { in_cl timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null || true; }
udp() { in_cl timeout 3 bash -c "exec 3>/dev/udp/$1/$2; echo a >&3; echo b >&3; echo c >&3" 2>/dev/null || true; }

# Round 1: what the test sends, and what it expects.
q fixed.test A
q fixed.test A          # the second answer is "cached"
q www.example.test A    # CNAME chain: addresses credited to the asked name
q deep.example.test A   # two CNAMEs deep
q host6.test A
q host6.test AAAA
q gone.nx.test A        # NXDOMAIN
q +tcp tcp.fixed.test A # DNS over TCP: a forked dnsmasq child with its own pid
tcp 192.0.2.10 80       # refused: still one new flow
tcp 192.0.2.10 443
tcp 2001:db8::20 80     # IPv6
udp 203.0.113.5 9999    # three datagrams, one flow
tcp 127.0.0.1 9         # loopback: never egress
sleep 1

expect_domains() {
    cat <<EXP
deep.example.test 1 203.0.113.5,203.0.113.6
fixed.test 2 192.0.2.10
gone.nx.test 1 -
host6.test 2 192.0.2.20,2001:db8::20
tcp.fixed.test 1 192.0.2.10
www.example.test 1 203.0.113.5,203.0.113.6
EXP
}
kernel_count() {  # independent count of our kernel lines to a destination, from dmesg
    dmesg | grep -F "$PREFIX" | grep -c -- " DST=$1 " || true
}
expect_ips() {  # the resolver's upstream flows are counted from dmesg; the rest from the script
    local r; r=$(kernel_count 198.51.100.1)
    [ "$r" -ge 1 ] || fail "no upstream DNS flow logged"
    printf '192.0.2.10 %s\n198.51.100.1 %s\n203.0.113.5 %s\n2001:db8::20 %s\n' "$1" "$r" "$2" "$3"
}

run() {  # name kernel-log [config]
    local name=$1 klog=$2; shift 2
    "$EM_BIN" consolidate --dnsmasq-log "$WORK/dnsmasq.log" --kernel-log "$klog" \
        --log-prefix "$PREFIX" --state-dir "$WORK/$name/state" --output-dir "$WORK/$name/out" "$@" \
        || fail "consolidate ($name) failed"
}
written=0
syslog_file() {  # appends our new kernel lines to a kern.log (stamped now, local time)
    dmesg --notime | grep -F "$PREFIX" | tail -n +$((written + 1)) | while IFS= read -r l; do
        printf '%s testhost kernel: [ 1.000000] %s\n' "$(date '+%b %e %H:%M:%S')" "$l"
    done >>"$WORK/kern.log"
    written=$(wc -l <"$WORK/kern.log")
}
check() {  # name expected-ips
    local name=$1 out=$WORK/$1/out
    diff <(expect_domains) <(awk '{print $1, $2, $4}' "$out/unique-domains.log") >&2 ||
        fail "$name: unique-domains.log differs from what was sent"
    diff <(echo "$2") <(awk '{print $1, $2}' "$out/unique-ips.log") >&2 ||
        fail "$name: unique-ips.log differs from what was sent"
    local now t
    now=$(date +%s)
    for t in $(awk '{print $3}' "$out/unique-domains.log" "$out/unique-ips.log"); do
        [[ "$t" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] || fail "$name: bad time $t"
        local e; e=$(date -d "$t" +%s)
        [ $((now - e)) -lt 300 ] && [ $((e - now)) -lt 5 ] || fail "$name: time $t is not this test's"
    done
    [ "$(stat -c %a "$out/unique-ips.log")" = 640 ] || fail "$name: file mode"
}

wait_journal() {  # until journald has ingested our latest kernel line
    local want i; want=$(dmesg | grep -cF "$PREFIX")
    for i in $(seq 50); do
        [ "$(journalctl -D "$JOURNAL_DIR" -k -q 2>/dev/null | grep -cF "$PREFIX")" -ge "$want" ] && return 0
        sleep 0.2
    done
    fail "journald did not ingest the kernel lines"
}

printf 'journal_directory = "%s"\n' "$JOURNAL_DIR" >"$WORK/journal.toml"
# A local unprivileged user cannot add a flow through the journal: a message that reads like
# one of our kernel lines, sent to this journald as uid 65534 with the kernel's facility and
# a _TRANSPORT=kernel field of its own, is stored, but journald records how it came
# (_TRANSPORT=journal) and the journald source reads kernel messages only.
FORGED="${PREFIX}IN= OUT=veth0 SRC=198.51.100.2 DST=203.0.113.99 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=40000 DPT=443 WINDOW=64240 RES=0x00 SYN URGP=0"
printf 'MESSAGE=%s\nSYSLOG_FACILITY=0\nPRIORITY=4\nSYSLOG_IDENTIFIER=kernel\n_TRANSPORT=kernel\n' "$FORGED" |
    nsenter -t "$JOURNAL_PID" -m setpriv --reuid=65534 --regid=65534 --clear-groups logger --journald ||
    fail "could not send the forged line to the journal as uid 65534"
stored=""
for _ in $(seq 50); do
    stored=$(journalctl -D "$JOURNAL_DIR" -q -o cat 2>/dev/null || true)
    grep -qF "DST=203.0.113.99" <<<"$stored" && break
    sleep 0.2
done
grep -qF "DST=203.0.113.99" <<<"$stored" ||
    fail "the forged line is not in the journal: the check below would prove nothing"
syslog_file
wait_journal
exp1=$(expect_ips 2 1 1)
run kmsg kmsg
run journal journald --config "$WORK/journal.toml"
run file "$WORK/kern.log"
for n in kmsg journal file; do check "$n" "$exp1"; done
! grep -q '^203\.0\.113\.99 ' "$WORK/journal/out/unique-ips.log" ||
    fail "a line an unprivileged user sent to the journal was counted as a flow"
echo "round 1: kmsg, journald and kern.log give the files the test expects; a forged journal line is not a flow"

# Round 2: more of the same; counts must grow by exactly the new traffic.
q fixed.test A
q www.example.test A
q host6.test AAAA
tcp 192.0.2.10 80
udp 203.0.113.5 9999
tcp 2001:db8::20 443
sleep 1
expect_domains() {
    cat <<EXP
deep.example.test 1 203.0.113.5,203.0.113.6
fixed.test 3 192.0.2.10
gone.nx.test 1 -
host6.test 3 192.0.2.20,2001:db8::20
tcp.fixed.test 1 192.0.2.10
www.example.test 2 203.0.113.5,203.0.113.6
EXP
}
syslog_file
wait_journal
exp2=$(expect_ips 3 2 2)
run kmsg kmsg
run journal journald --config "$WORK/journal.toml"
run file "$WORK/kern.log"
for n in kmsg journal file; do check "$n" "$exp2"; done
echo "round 2: incremental runs counted exactly the new traffic"

# Round 3: nothing new — nothing changes, not even the files' mtime.
for n in kmsg journal file; do stat -c '%Y %i' "$WORK/$n/out/"* >"$WORK/$n.stat"; done
sleep 1.1
run kmsg kmsg
run journal journald --config "$WORK/journal.toml"
run file "$WORK/kern.log"
for n in kmsg journal file; do
    check "$n" "$exp2"
    diff "$WORK/$n.stat" <(stat -c '%Y %i' "$WORK/$n/out/"*) >/dev/null || fail "$n: files rewritten with nothing new"
done
echo "netns_consolidate: passed (3 kernel-log sources x 3 rounds)"
