#!/bin/bash
# `egress-monitor enforce` with cachedHostnames started the way a host boots: the firewall
# rules (docs/enforce.md) are loaded first, then enforce. Its own lookups of the cached names
# go out through selfDNSQueue (as in egress-eddie's TestCaching, every DNS query of the
# namespace goes there: the self filter allows the cached names only) and their answers come
# back through its inbound queue, so it
# must bind the queues before it resolves (egress-monitor issue 20, bug 1: resolving first,
# the answer was dropped on the unread queue and the cached addresses stayed blocked until
# the next reCacheEvery, here an hour). Checked: without any DNS query of the client, a
# connection to fixed.test's address (192.0.2.10) is let through within seconds; no
# "cannot resolve" warning; every thread of the process (the resolver's too) has only
# CAP_NET_ADMIN and the seccomp filter; another address stays blocked.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_root
NS_UP="emecu$$" NS_CL="emecc$$"  # unique names; lib.sh's cleanup removes them by name
EM_CONNECT=${EM_CONNECT:-$PWD/build/tests/em-connect}
for p in iptables; do
    command -v $p >/dev/null || { echo "skipped: no $p" >&2; exit 77; }
done
# The client namespace's resolver (ip netns exec bind-mounts /etc/netns/NAME/resolv.conf).
trap 'rm -rf "/etc/netns/$NS_CL"; cleanup' EXIT
mkdir -p "/etc/netns/$NS_CL"
echo "nameserver 198.51.100.1" >"/etc/netns/$NS_CL/resolv.conf"

make_topology
start_upstream_dnsmasq </dev/null

cat >"$WORK/enforce.toml" <<CONF
inboundDNSQueue = { ipv4 = 1 }
selfDNSQueue = { ipv4 = 100 }

[[filters]]
name = "host"
dnsQueue = { ipv4 = 1000 }
trafficQueue = { ipv4 = 1002 }
allowedHostnames = ["example.test"]
cachedHostnames = ["fixed.test"]
reCacheEvery = "1h"
allowAnswersFor = "30s"
CONF
# The rules first, as at boot: until enforce binds, queued packets are dropped.
in_cl iptables -A OUTPUT -o lo -j ACCEPT
in_cl iptables -A INPUT -i lo -j ACCEPT
for proto in udp tcp; do
    in_cl iptables -A INPUT -p $proto --sport 53 -j NFQUEUE --queue-num 1
    in_cl iptables -A OUTPUT -p $proto --dport 53 -j NFQUEUE --queue-num 100
done
in_cl iptables -A OUTPUT -m conntrack --ctstate NEW -j NFQUEUE --queue-num 1002

start_enforce

ok=0
for _ in $(seq 20); do
    if reach 192.0.2.10 80; then ok=1; break; fi
    sleep 0.5
done
[ "$ok" = 1 ] || { cat "$WORK/enforce.log"; fail "the cached hostname's address stayed blocked"; }
! grep -q 'cannot resolve cached hostname' "$WORK/enforce.log" || { cat "$WORK/enforce.log"; fail "the cached hostname did not resolve"; }
grep -q '"queue":100,"filter":"self-filter","kind":"dns-query","verdict":"accept".*"qname":"fixed.test"' "$WORK/verdicts.jsonl" ||
    { cat "$WORK/verdicts.jsonl"; fail "enforce's own lookup did not pass selfDNSQueue"; }
"$EM_BIN" enforce --config "$WORK/enforce.toml" --check | grep -q '^filter self-filter: DNS queue ipv4 100, ipv6 -; traffic queue ipv4 -, ipv6 -; 1 allowed hostnames' ||
    fail "--check does not show the self filter"
! reach 192.0.2.20 80 || fail "an address nothing named was let through"
# Every thread hardened alike (a thread started before the drop would keep full capabilities).
for t in /proc/"$enf"/task/*; do
    caps=$(awk '/^CapEff/ {print $2}' "$t/status")
    sec=$(awk '/^Seccomp:/ {print $2}' "$t/status")
    [ "$caps" = 0000000000001000 ] && [ "$sec" = 2 ] ||
        fail "thread ${t##*/}: CapEff $caps, Seccomp $sec (want CAP_NET_ADMIN only, filter mode 2)"
done
[ "$(ls /proc/"$enf"/task | wc -l)" -ge 2 ] || fail "no resolver thread"
kill -TERM "$enf"
wait "$enf" || fail "enforce exit status $?"
echo "ok: cachedHostnames resolve through selfDNSQueue when the rules came first; every thread hardened"
