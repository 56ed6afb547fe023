#!/bin/bash
# `egress-monitor enforce` learns only from DNS responses that answer a query it let out
# (issue 13). One filter allows fixed.test and example.test; docs/enforce.md's rules feed every
# inbound packet from port 53 to the inbound queue. Forged responses are sent from the
# upstream namespace with a raw socket (any source address), each carrying an address that
# nothing else names; none of them may open anything:
#   unsolicited    fixed.test CNAME evil.attacker.test + evil.attacker.test A 203.0.113.66,
#                  from the real resolver to a client port that asked nothing: neither
#                  203.0.113.66 becomes reachable nor evil.attacker.test resolvable (the
#                  upstream would answer it)
#   wrong id       right resolver, ports and question as an outstanding query, another id
#   wrong question right 5-tuple and id, question example.test (an allowed name)
#   wrong server   right ports, id and question, from an address the query did not go to
#   replay         the legitimate answer a second time (one answer per query)
#   flood          300 unsolicited responses at once: all counted, few lines logged
# and, first, a "query" for an allowed name that carries an answer record (a data channel to
# any server on port 53) is dropped while the same query without it goes out.
# while the legitimate answer to that query still reaches the client and opens its address,
# and dig through the real resolver still works. Each drop is a verdict line with its reason
# and is counted at exit. Twice: with docs/enforce.md's rules, then with docs/enforce.md's second
# layer (conntrack ESTABLISHED on the response rules), where the unsolicited, other-server
# and flood packets never reach enforce and the rest still must not open anything.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_root
NS_UP="emenfu$$" NS_CL="emenfc$$"  # unique names; lib.sh's cleanup removes them by name
EM_CONNECT=${EM_CONNECT:-$PWD/build/tests/em-connect}
FORGE=$PWD/tests/tools/dns_forge.py
for p in dig iptables python3; do
    command -v $p >/dev/null || { echo "skipped: no $p" >&2; exit 77; }
done

make_topology
# Every forged response goes to ports below the ephemeral range (32768-60999 here): a flood
# spraying ports inside it could hit the port of a real query (dig's) that conntrack
# rightly lets through, and be counted as one more unsolicited response.
# 198.51.100.53: a resolver address nothing answers on (the outstanding query stays open).
for a in 198.51.100.53/32 203.0.113.66/32 203.0.113.67/32 203.0.113.68/32 203.0.113.69/32 \
    203.0.113.70/32 203.0.113.71/32; do
    in_up ip addr add "$a" dev lo
done
start_upstream_dnsmasq <<CONF
address=/evil.attacker.test/203.0.113.66
CONF

cat >"$WORK/enforce.toml" <<CONF
inboundDNSQueue = { ipv4 = 1 }

[[filters]]
name = "host"
dnsQueue = { ipv4 = 1000 }
trafficQueue = { ipv4 = 1002 }
allowedHostnames = ["fixed.test", "example.test"]
allowAnswersFor = "30s"
# The scenario keeps one query outstanding while it forges, which takes seconds on a loaded
# machine: the default 5 s would expire it (expiry has its own unit tests).
queryTimeout = "60s"
CONF
rules() {  # LAYER: 1 for conntrack ESTABLISHED on the response rules
    local t
    for t in INPUT OUTPUT; do in_cl iptables -F $t; done
    in_cl iptables -A OUTPUT -o lo -j ACCEPT
    in_cl iptables -A INPUT -i lo -j ACCEPT
    for proto in udp tcp; do
        if [ "$1" = 1 ]; then
            in_cl iptables -A INPUT -p $proto --sport 53 -m conntrack --ctstate ESTABLISHED -j NFQUEUE --queue-num 1
            in_cl iptables -A INPUT -p $proto --sport 53 -j DROP
        else
            in_cl iptables -A INPUT -p $proto --sport 53 -j NFQUEUE --queue-num 1
        fi
        in_cl iptables -A OUTPUT -p $proto --dport 53 -j NFQUEUE --queue-num 1000
    done
    in_cl iptables -A OUTPUT -m conntrack --ctstate NEW -j NFQUEUE --queue-num 1002
}
resolve() {  # NAME TYPE: the answer through the real resolver, empty when none came
    in_cl dig +short +time=1 +tries=1 "$@" @198.51.100.1 2>/dev/null | grep -v '^;' || true
}
forge() {  # forged response from the upstream namespace
    in_up python3 "$FORGE" response "$@"
}
run_pass() {  # LAYER
    local layer=$1 client lines unsolicited c dropped
    rm -f "$WORK/verdicts.jsonl" "$WORK/enforce.log" "$WORK/client.out"
    rules "$layer"
    start_enforce
    # The legitimate path works through the real resolver.
    [ "$(resolve fixed.test A)" = 192.0.2.10 ] || fail "allowed name fixed.test did not resolve"
    reach 192.0.2.10 80 || fail "192.0.2.10 (answered for fixed.test) refused"

    # 0. A data channel (egress-monitor issue 20): a "query" under an allowed name that
    # carries an answer record reaches no server; the same query without it, sent after it on
    # the same queue (verdicts in order), does — the listener stops when that one arrives.
    ip netns exec "$NS_UP" python3 "$FORGE" listen --bind 198.51.100.53:53 --seconds 60 --until-id 0x5252 >"$WORK/sink.out" &
    sink=$!
    PIDS+=("$sink")
    for _ in $(seq 200); do grep -q '^ready' "$WORK/sink.out" 2>/dev/null && break; sleep 0.05; done
    in_cl python3 "$FORGE" query --bind 198.51.100.2:20060 --to 198.51.100.53:53 --id 0x5151 \
        --name fixed.test --answer fixed.test=203.0.113.99
    in_cl python3 "$FORGE" query --bind 198.51.100.2:20061 --to 198.51.100.53:53 --id 0x5252 \
        --name fixed.test
    wait "$sink" || true
    grep -q '^got id=0x5252 ancount=0$' "$WORK/sink.out" || { cat "$WORK/sink.out"; fail "the plain query did not arrive"; }
    ! grep -q 'id=0x5151' "$WORK/sink.out" || fail "a query carrying an answer record was let out"

    # 1. Unsolicited: a response no query asked for.
    forge --src 198.51.100.1:53 --to 198.51.100.2:20001 --id 0x1111 --qname fixed.test \
        --cname fixed.test=evil.attacker.test --a evil.attacker.test=203.0.113.66
    sleep 0.3
    ! reach 203.0.113.66 443 || fail "unsolicited response opened 203.0.113.66"
    [ -z "$(resolve evil.attacker.test A)" ] || fail "unsolicited response made evil.attacker.test resolvable"

    # 2-5. One outstanding query: fixed.test A, id 0x4242, from port 20053 to 198.51.100.53:53.
    ip netns exec "$NS_CL" python3 "$FORGE" query --bind 198.51.100.2:20053 --to 198.51.100.53:53 --id 0x4242 \
        --name fixed.test --wait 30 >"$WORK/client.out" &
    client=$!
    PIDS+=("$client")
    for _ in $(seq 50); do grep -q '^sent' "$WORK/client.out" 2>/dev/null && break; sleep 0.05; done
    grep -q '^sent' "$WORK/client.out" || fail "the client did not send its query"
    forge --src 198.51.100.53:53 --to 198.51.100.2:20053 --id 0x4243 --qname fixed.test \
        --a fixed.test=203.0.113.67
    forge --src 198.51.100.53:53 --to 198.51.100.2:20053 --id 0x4242 --qname example.test \
        --a example.test=203.0.113.68
    forge --src 198.51.100.99:53 --to 198.51.100.2:20053 --id 0x4242 --qname fixed.test \
        --a fixed.test=203.0.113.69
    sleep 0.3
    ! reach 203.0.113.67 443 || fail "a response with the wrong transaction id opened 203.0.113.67"
    ! reach 203.0.113.68 443 || fail "a response with another question opened 203.0.113.68"
    ! reach 203.0.113.69 443 || fail "a response from an address not queried opened 203.0.113.69"
    # The legitimate answer still works, once.
    forge --src 198.51.100.53:53 --to 198.51.100.2:20053 --id 0x4242 --qname fixed.test \
        --a fixed.test=203.0.113.70
    wait "$client" || true
    grep -q '^got id=16962 qname=fixed.test answers=203.0.113.70$' "$WORK/client.out" ||
        { cat "$WORK/client.out"; fail "the client did not get the legitimate answer"; }
    [ "$(grep -c '^got' "$WORK/client.out")" -eq 1 ] || { cat "$WORK/client.out"; fail "a forged answer reached the client"; }
    reach 203.0.113.70 443 || fail "the legitimate answer did not open 203.0.113.70"
    forge --src 198.51.100.53:53 --to 198.51.100.2:20053 --id 0x4242 --qname fixed.test \
        --a fixed.test=203.0.113.71
    sleep 0.3
    ! reach 203.0.113.71 443 || fail "a second answer to one query opened 203.0.113.71"
    [ "$(resolve fixed.test A)" = 192.0.2.10 ] || fail "fixed.test no longer resolves"
    # Flood: the drop lines (verdict log and warnings) are rate-limited, the counts exact.
    # The limits are token buckets (enforce.cpp: 20 lines then 10/s; 3 warnings then one per
    # 5 s): the flood's lines are bounded by the bucket plus its refill over the time from
    # the flood's start to enforce's exit (by then every flood packet was judged: the later
    # packet on port 22000 carries the count of the suppressed lines), however slow the
    # machine.
    local t0 t1 window_ms
    t0=$(date +%s%N)
    forge --src 198.51.100.1:53 --to 198.51.100.2:21000 --id 0x2222 --qname fixed.test \
        --a fixed.test=203.0.113.66 --count 300
    sleep 1.2
    forge --src 198.51.100.1:53 --to 198.51.100.2:22000 --id 0x2223 --qname fixed.test \
        --a fixed.test=203.0.113.66
    sleep 0.3
    ! reach 203.0.113.66 443 || fail "the flood opened 203.0.113.66"

    t1=$(date +%s%N)
    kill -TERM "$enf"
    wait "$enf" || fail "enforce exit status $?"
    window_ms=$(((t1 - t0) / 1000000))
    v() { grep '"kind":"dns-response","verdict":"drop"' "$WORK/verdicts.jsonl" | grep -c "$1" || true; }
    [ "$(v '"reason":"transaction id.*"src":"198.51.100.53"')" -ge 1 ] || fail "no drop line for the wrong id"
    [ "$(v '"reason":"question differs.*"qname":"example.test"')" -ge 1 ] || fail "no drop line for the other question"
    [ "$(v '"reason":"no outstanding query.*"src":"198.51.100.53".*"dport":20053')" -ge 1 ] ||
        fail "no drop line for the second answer"
    [ "$(grep -c '"filter":"host","kind":"dns-response","verdict":"accept".*"src":"198.51.100.53","dst":"198.51.100.2","sport":53,"dport":20053' "$WORK/verdicts.jsonl")" -eq 1 ] ||
        fail "not exactly one accepted answer from 198.51.100.53"
    grep -Eq "dns-query\.drop\.records=1( |$)" "$WORK/enforce.log" || { cat "$WORK/enforce.log"; fail "the query with records not counted"; }
    for c in wrong_id wrong_question unsolicited; do
        grep -Eq "dns-response\.drop\.$c=[1-9]" "$WORK/enforce.log" || { cat "$WORK/enforce.log"; fail "no count $c at exit"; }
    done
    unsolicited=$(sed -nE 's/.*dns-response\.drop\.unsolicited=([0-9]+).*/\1/p' "$WORK/enforce.log")
    if [ "$layer" = 1 ]; then
        # The kernel dropped what no query's conntrack entry explains: enforce never saw
        # the unsolicited, other-server and flood packets, only the replayed answer.
        [ "$unsolicited" = 1 ] || {
            cat "$WORK/enforce.log"
            grep '"kind":"dns-response"' "$WORK/verdicts.jsonl"
            fail "conntrack layer: $unsolicited unsolicited reached enforce, want 1"
        }
        ! grep -q 'dns-response\.drop\.wrong_server' "$WORK/enforce.log" || fail "conntrack layer: a wrong server reached enforce"
        dropped=$(in_cl iptables -vnxL INPUT | awk '$3 == "DROP" && /spt:53/ {s += $1} END {print s + 0}')
        [ "$dropped" -ge 303 ] || { in_cl iptables -vnxL INPUT; fail "conntrack layer: the kernel dropped $dropped, want >= 303"; }
        return
    fi
    [ "$(v '"reason":"no outstanding query.*"src":"198.51.100.1".*"dport":20001')" -ge 1 ] ||
        { cat "$WORK/verdicts.jsonl"; fail "no drop line for the unsolicited response"; }
    [ "$(v '"reason":"from an address.*"src":"198.51.100.99"')" -ge 1 ] || fail "no drop line for the wrong server"
    grep -Eq "dns-response\.drop\.wrong_server=[1-9]" "$WORK/enforce.log" || fail "no count wrong_server at exit"
    [ "${unsolicited:-0}" -ge 302 ] || { cat "$WORK/enforce.log"; fail "unsolicited responses counted: ${unsolicited:-0}, want >= 302"; }
    lines=$(grep '"kind":"dns-response","verdict":"drop"' "$WORK/verdicts.jsonl" | grep -c '"dport":21000' || true)
    [ "$lines" -le $((20 + (window_ms * 10 + 999) / 1000)) ] ||
        fail "$lines drop lines for the flood of 300 in ${window_ms} ms: not rate-limited"
    grep -q '"dport":22000,"qname":"fixed.test","suppressed":[1-9]' "$WORK/verdicts.jsonl" ||
        { tail -3 "$WORK/verdicts.jsonl"; fail "no count of the drop lines left out"; }
    c=$(grep -c 'DNS response from .*:21000 dropped' "$WORK/enforce.log" || true)
    [ "$c" -le $((3 + window_ms / 5000 + 1)) ] || fail "$c warnings for the flood in ${window_ms} ms: not rate-limited"
}

run_pass 0
run_pass 1
echo "ok: enforce learns only from answers to queries it let out (alone and behind conntrack ESTABLISHED); forged, mismatched and replayed answers open nothing"
