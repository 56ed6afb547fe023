#!/bin/bash
# `egress-monitor enforce` against real iptables/ip6tables NFQUEUE rules in the client
# namespace and the upstream dnsmasq: the filter "host" allows fixed.test, example.test and
# host6.test (answers for 3 s); the filter "nobody" (rules with -m owner --uid-owner 65534)
# allows host6.test only. Checked: an allowed name resolves (UDP and TCP) and its address
# connects, over IPv4 and IPv6 and through a CNAME chain; a disallowed name's query is
# dropped; a direct-IP connection is dropped; once the answer's 3 s are over a new
# connection is dropped; per uid, the same name and address are refused to uid 65534;
# a query it cannot decode is dropped; every verdict is a JSON line; the process runs
# hardened (CAP_NET_ADMIN alone in the effective, permitted and bounding sets, no_new_privs,
# seccomp filter mode 2 on every thread); SIGTERM ends it with the counts.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_root
EM_CONNECT=${EM_CONNECT:-$PWD/build/tests/em-connect}
for p in dig iptables ip6tables setpriv; do
    command -v $p >/dev/null || { echo "skipped: no $p" >&2; exit 77; }
done

make_topology
in_up ip addr add 203.0.113.7/32 dev lo
start_upstream_dnsmasq </dev/null

cat >"$WORK/enforce.toml" <<CONF
inboundDNSQueue = { ipv4 = 1, ipv6 = 10 }

[[filters]]
name = "nobody"
dnsQueue = { ipv4 = 2000, ipv6 = 2001 }
trafficQueue = { ipv4 = 2002, ipv6 = 2003 }
allowedHostnames = ["host6.test"]
allowAnswersFor = "30s"

[[filters]]
name = "host"
dnsQueue = { ipv4 = 1000, ipv6 = 1001 }
trafficQueue = { ipv4 = 1002, ipv6 = 1003 }
allowedHostnames = ["fixed.test", "example.test", "host6.test"]
allowAnswersFor = "3s"
CONF
"$EM_BIN" enforce --config "$WORK/enforce.toml" --check >"$WORK/check.out"
grep -q 'filter host: DNS queue ipv4 1000, ipv6 1001' "$WORK/check.out" || fail "--check summary"
printf 'inboundDNSQueue = { ipv4 = 1 }\n[[filters]]\nname = "x"\ndnsQueue = { ipv4 = 1 }\nallowAllHostnames = true\n' >"$WORK/bad.toml"
if "$EM_BIN" enforce --config "$WORK/bad.toml" --check 2>"$WORK/bad.err"; then fail "--check accepted a reused queue"; fi
grep -q 'bad.toml:4: filter "x": "inboundDNSQueue" and "dnsQueue" must be different' "$WORK/bad.err" || { cat "$WORK/bad.err"; fail "--check error text"; }

# The rules: loopback passes, the uid's rules come first, DNS before other traffic, new
# connections only (the first packet decides; established ones continue).
for ipt in iptables ip6tables; do
    if [ $ipt = iptables ]; then b=0; else b=1; fi
    in_cl $ipt -A OUTPUT -o lo -j ACCEPT
    in_cl $ipt -A INPUT -i lo -j ACCEPT
    for proto in udp tcp; do
        in_cl $ipt -A INPUT -p $proto --sport 53 -j NFQUEUE --queue-num $((1 + 9 * b))
        in_cl $ipt -A OUTPUT -m owner --uid-owner 65534 -p $proto --dport 53 -j NFQUEUE --queue-num $((2000 + b))
        in_cl $ipt -A OUTPUT -p $proto --dport 53 -j NFQUEUE --queue-num $((1000 + b))
    done
    in_cl $ipt -A OUTPUT -m owner --uid-owner 65534 -m conntrack --ctstate NEW -j NFQUEUE --queue-num $((2002 + b))
    in_cl $ipt -A OUTPUT -m conntrack --ctstate NEW -j NFQUEUE --queue-num $((1002 + b))
done

start_enforce
grep -q '^CapEff:	0000000000001000$' "/proc/$enf/status" || { grep Cap "/proc/$enf/status"; fail "capabilities not dropped to CAP_NET_ADMIN"; }
grep -q '^Seccomp:	2$' "/proc/$enf/status" || fail "no seccomp filter"
# Nothing else can be regained: not in the permitted or bounding set, none ambient, no new
# privileges by exec; and every thread is under the filter (TSYNC), not only the main one.
for set in CapPrm CapBnd; do
    grep -q "^$set:	0000000000001000$" "/proc/$enf/status" || { grep Cap "/proc/$enf/status"; fail "$set is not CAP_NET_ADMIN alone"; }
done
grep -q '^CapAmb:	0000000000000000$' "/proc/$enf/status" || fail "ambient capabilities left"
grep -q '^NoNewPrivs:	1$' "/proc/$enf/status" || fail "no_new_privs not set"
threads=0
for t in /proc/"$enf"/task/*/status; do
    grep -q '^Seccomp:	2$' "$t" || fail "thread ${t%/status} runs without the seccomp filter"
    threads=$((threads + 1))
done
echo "ok: enforce keeps CAP_NET_ADMIN alone (effective, permitted, bounding), no_new_privs, seccomp on its $threads thread(s)"

reach() {  # [uid] ADDR PORT: 0 when the SYN left (connected or refused)
    local pre=() out
    if [ "$1" = nobody ]; then pre=(setpriv --reuid=65534 --regid=65534 --clear-groups); shift; fi
    out=$(in_cl "${pre[@]}" "$EM_CONNECT" --timeout-ms 700 "$1" "$2" 2>&1 || true)
    case "$out" in *connected=1*|*refused=1*) return 0 ;; esac
    return 1
}
resolve() {  # [nobody] [+tcp] NAME TYPE: prints the answer, empty when none came
    local pre=()
    if [ "$1" = nobody ]; then pre=(setpriv --reuid=65534 --regid=65534 --clear-groups); shift; fi
    in_cl "${pre[@]}" dig +short +time=1 +tries=1 "$@" @198.51.100.1 2>/dev/null | grep -v '^;' || true
}

[ "$(resolve fixed.test A)" = 192.0.2.10 ] || fail "allowed name fixed.test did not resolve"
reach 192.0.2.10 80 || fail "192.0.2.10 (answered for fixed.test) refused"
[ "$(resolve +tcp fixed.test A)" = 192.0.2.10 ] || fail "allowed name over TCP did not resolve"
[ -z "$(resolve blocked.test A)" ] || fail "disallowed name blocked.test resolved"
! reach 203.0.113.7 22 || fail "direct-IP connection to 203.0.113.7 passed"
resolve deep.example.test A | grep -q '^203.0.113.5$' || fail "CNAME chain under example.test did not resolve"
reach 203.0.113.5 443 || fail "address at the end of the CNAME chain refused"
[ "$(resolve host6.test AAAA)" = 2001:db8::20 ] || fail "AAAA of host6.test did not resolve"
reach 2001:db8::20 443 || fail "[2001:db8::20] (answered for host6.test) refused"
# Per uid: nobody may not resolve fixed.test, nor reach the address the host filter learnt.
[ -z "$(resolve nobody fixed.test A)" ] || fail "uid 65534 resolved fixed.test"
! reach nobody 192.0.2.10 80 || fail "uid 65534 reached 192.0.2.10"
[ "$(resolve nobody host6.test AAAA)" = 2001:db8::20 ] || fail "uid 65534 could not resolve host6.test"
reach nobody 2001:db8::20 443 || fail "uid 65534 refused [2001:db8::20]"
# Expiry: 3 s after the last answer for fixed.test, a new connection is dropped.
sleep 3.5
! reach 192.0.2.10 80 || fail "192.0.2.10 still allowed after its answer expired"
[ "$(resolve fixed.test A)" = 192.0.2.10 ] || fail "fixed.test did not resolve again"
reach 192.0.2.10 80 || fail "192.0.2.10 refused after a fresh answer"

# Fail closed: a query the filter cannot decode does not leave (a decoder that disagreed with
# the resolver's would otherwise be a way out for data).
in_cl bash -c 'printf "\x12\x34\x01" >/dev/udp/198.51.100.1/53' || true
sleep 0.3

kill -TERM "$enf"
wait "$enf" || fail "enforce exit status $?"
grep -q 'verdicts:.*traffic.drop=' "$WORK/enforce.log" || { cat "$WORK/enforce.log"; fail "no verdict counts at exit"; }
v() { grep -c "$1" "$WORK/verdicts.jsonl" || true; }
[ "$(v '"kind":"dns-query","verdict":"drop","reason":"name not allowed".*"qname":"blocked.test"')" -ge 1 ] ||
    { tail -20 "$WORK/verdicts.jsonl"; fail "no drop line for blocked.test"; }
[ "$(v '"filter":"host","kind":"traffic","verdict":"drop".*"dst":"203.0.113.7"')" -ge 1 ] || fail "no drop line for the direct IP"
[ "$(v '"kind":"dns-query","verdict":"drop","reason":"undecodable DNS message"')" -ge 1 ] ||
    { tail -20 "$WORK/verdicts.jsonl"; fail "the undecodable query was not dropped"; }
[ "$(v '"filter":"host","kind":"traffic","verdict":"drop".*"dst":"192.0.2.10"')" -ge 1 ] || fail "no drop line after the expiry"
[ "$(v '"filter":"nobody","kind":"dns-query","verdict":"drop"')" -ge 1 ] || fail "no per-uid drop line"
echo "ok: enforce allows exactly what allowed answers named (UDP/TCP DNS, IPv4/IPv6, CNAME), drops the rest, expires answers, per-uid filters, hardened"
