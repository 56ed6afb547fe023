#!/bin/bash
# `egress-monitor enforce` judges DNS by conntrack state too, as egress-eddie (issue 20):
# its DNS queues ask the kernel for each packet's conntrack state (NFQA_CT_INFO). With
# docs/enforce.md's rules in the client namespace and one filter allowing fixed.test:
#   - a query for fixed.test passes (NEW) and its answer (ESTABLISHED_REPLY) is learnt;
#   - with `-t raw -A OUTPUT -p udp --dport 53 -j CT --notrack` the same query is untracked
#     and dropped ("query on a connection conntrack does not track",
#     dns-query.drop.untracked); without the rule again it passes;
#   - with `-t raw -A PREROUTING -p udp --sport 53 -j CT --notrack` the answer to a query
#     that went out is untracked and dropped (dns-response.drop.untracked);
#   - an answer matching an outstanding query in every field, on a connection conntrack has
#     not seen (its entry deleted while the query waited: the answer is NEW), is dropped
#     (dns-response.drop.not_established) and leaves the query outstanding; the same answer
#     on a fresh conntrack entry is learnt.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_root
NS_UP="emutu$$" NS_CL="emutc$$"  # unique names; lib.sh's cleanup removes them by name
FORGE=$PWD/tests/tools/dns_forge.py
for p in dig iptables python3 conntrack; do
    command -v $p >/dev/null || { echo "skipped: no $p" >&2; exit 77; }
done

make_topology
in_up ip addr add 198.51.100.53/32 dev lo  # a resolver address nothing answers on
start_upstream_dnsmasq </dev/null

cat >"$WORK/enforce.toml" <<CONF
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "host"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1002
allowedHostnames = ["fixed.test"]
allowAnswersFor = "10s"
CONF

in_cl iptables -A OUTPUT -o lo -j ACCEPT
in_cl iptables -A INPUT -i lo -j ACCEPT
for proto in udp tcp; do
    in_cl iptables -A INPUT -p $proto --sport 53 -j NFQUEUE --queue-num 1
    in_cl iptables -A OUTPUT -p $proto --dport 53 -j NFQUEUE --queue-num 1000
done
in_cl iptables -A OUTPUT -m conntrack --ctstate NEW -j NFQUEUE --queue-num 1002

start_enforce
if grep -q 'does not report conntrack state' "$WORK/enforce.log"; then
    echo "skipped: this kernel does not report conntrack state to NFQUEUE (CONFIG_NETFILTER_NETLINK_GLUE_CT)" >&2
    exit 77
fi

resolve() {  # NAME TYPE: the answer through the real resolver, empty when none came
    in_cl dig +short +time=1 +tries=1 "$@" @198.51.100.1 2>/dev/null | grep -v '^;' || true
}
v() { grep -c "$1" "$WORK/verdicts.jsonl" || true; }

[ "$(resolve fixed.test A)" = 192.0.2.10 ] || fail "allowed name fixed.test did not resolve (tracked)"

# An untracked query for an allowed name.
in_cl iptables -t raw -A OUTPUT -p udp --dport 53 -j CT --notrack
[ -z "$(resolve fixed.test A)" ] || fail "an untracked query for fixed.test was let out"
in_cl iptables -t raw -D OUTPUT -p udp --dport 53 -j CT --notrack
[ "$(resolve fixed.test A)" = 192.0.2.10 ] || fail "fixed.test did not resolve once tracked again"

# An untracked answer to a query that went out.
in_cl iptables -t raw -A PREROUTING -p udp --sport 53 -j CT --notrack
[ -z "$(resolve fixed.test A)" ] || fail "an untracked answer reached the client"
in_cl iptables -t raw -D PREROUTING -p udp --sport 53 -j CT --notrack

# A matching answer on a connection conntrack has not seen: the query to 198.51.100.53 (which
# nobody answers) stays outstanding, its conntrack entry is deleted, and the answer forged
# from there is then NEW.
ip netns exec "$NS_CL" python3 "$FORGE" query --bind 198.51.100.2:20053 --to 198.51.100.53:53 --id 0x4242 \
    --name fixed.test --wait 20 >"$WORK/client.out" &
client=$!
PIDS+=("$client")
for _ in $(seq 50); do grep -q '^sent' "$WORK/client.out" 2>/dev/null && break; sleep 0.05; done
grep -q '^sent' "$WORK/client.out" || fail "the client did not send its query"
sleep 0.2
in_cl conntrack -D -p udp --orig-src 198.51.100.2 --sport 20053 >/dev/null 2>&1 ||
    fail "no conntrack entry for the query to delete"
answer() {  # ADDR
    in_up python3 "$FORGE" response --src 198.51.100.53:53 --to 198.51.100.2:20053 --id 0x4242 \
        --qname fixed.test --a "fixed.test=$1"
}
answer 192.0.2.20
sleep 0.3
! grep -q '^got' "$WORK/client.out" || { cat "$WORK/client.out"; fail "an answer conntrack saw as NEW reached the client"; }
# The query is still outstanding: once conntrack has an entry for it again, the same answer
# is a reply (ESTABLISHED_REPLY) and is learnt.
in_cl conntrack -I -p udp -s 198.51.100.2 -d 198.51.100.53 --sport 20053 --dport 53 --timeout 30 \
    >/dev/null 2>&1 || fail "conntrack -I"
answer 192.0.2.20
wait "$client" || true
grep -q '^got id=16962 qname=fixed.test answers=192.0.2.20$' "$WORK/client.out" ||
    { cat "$WORK/client.out"; fail "the answer on the fresh conntrack entry did not reach the client"; }

kill -TERM "$enf"
wait "$enf" || fail "enforce exit status $?"

[ "$(v '"kind":"dns-query","verdict":"drop","reason":"query on a connection conntrack does not track"')" -ge 1 ] ||
    { tail -20 "$WORK/verdicts.jsonl"; fail "no drop line for the untracked query"; }
[ "$(v '"kind":"dns-response","verdict":"drop","reason":"response on a connection conntrack does not track"')" -ge 1 ] ||
    { tail -20 "$WORK/verdicts.jsonl"; fail "no drop line for the untracked answer"; }
[ "$(v '"kind":"dns-response","verdict":"drop","reason":"answer on a connection conntrack has not seen established".*"sport":53,"dport":20053')" -eq 1 ] ||
    { tail -20 "$WORK/verdicts.jsonl"; fail "no drop line for the NEW answer"; }
[ "$(v '"kind":"dns-query","verdict":"accept".*"qname":"fixed.test"')" -ge 4 ] ||
    fail "the tracked queries for fixed.test were not accepted"
[ "$(v '"kind":"dns-response","verdict":"accept".*"src":"198.51.100.53","dst":"198.51.100.2","sport":53,"dport":20053')" -eq 1 ] ||
    fail "not exactly one accepted answer from 198.51.100.53"
for c in dns-query.drop.untracked dns-response.drop.untracked dns-response.drop.not_established; do
    grep -Eq "$c=[1-9]" "$WORK/enforce.log" || { cat "$WORK/enforce.log"; fail "no count $c at exit"; }
done
echo "ok: enforce drops DNS queries and answers on connections conntrack does not track, and answers it has not seen established"
