#!/bin/bash
# From audit to policy: the agent (NFLOG) in the client namespace observes known traffic —
# dig over UDP to the upstream resolver, TCP to fixed.test (192.0.2.10:80), to host6.test
# ([2001:db8::20]:443) and straight to 203.0.113.7:22 — then `egress-monitor rules` turns its
# ledger into a policy that is loaded into the same namespace, as nftables, then as
# iptables + ip6tables (iptables-restore). Each time exactly the observed traffic passes
# (a refused TCP connection = the SYN reached the host) and the rest is refused at once
# (EPERM from the OUTPUT drop): another port of an observed address, an address never
# seen, DNS over TCP when only UDP was seen. Also: --min-count leaves out what was seen
# once; a domain crafted to inject nft syntax loads as a harmless comment.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_root
EM_CONNECT=${EM_CONNECT:-$PWD/build/tests/em-connect}
for p in dig nft iptables-restore ip6tables-restore; do
    command -v $p >/dev/null || { echo "skipped: no $p" >&2; exit 77; }
done

make_topology
in_up ip addr add 203.0.113.7/32 dev lo
start_upstream_dnsmasq </dev/null

# --- observe
ip netns exec "$NS_CL" "$EM_BIN" agent --state-dir "$WORK/state" --output-dir "$WORK/out" \
    --flush-interval 200ms --config /dev/null 2>"$WORK/agent.log" &
agent=$!
PIDS+=("$agent")
for _ in $(seq 100); do [ -e "$WORK/out/unique-ips.log" ] && break; sleep 0.1; done
[ -e "$WORK/out/unique-ips.log" ] || { cat "$WORK/agent.log"; fail "agent did not start"; }
in_cl dig +time=2 +tries=1 @198.51.100.1 fixed.test A >/dev/null
in_cl dig +time=2 +tries=1 @198.51.100.1 host6.test AAAA >/dev/null
in_cl "$EM_CONNECT" --timeout-ms 500 192.0.2.10 80 >/dev/null || true
in_cl "$EM_CONNECT" --timeout-ms 500 2001:db8::20 443 >/dev/null || true
in_cl "$EM_CONNECT" --timeout-ms 500 203.0.113.7 22 >/dev/null || true
sleep 0.5
kill -TERM "$agent"
wait "$agent" || fail "agent exit status $?"
grep -q '^192.0.2.10 1 ' "$WORK/out/unique-ips.log" || { cat "$WORK/out/unique-ips.log"; fail "flow to fixed.test not observed"; }

# --- reach ADDR PORT: 0 when the SYN got out (connected or refused), 1 when the firewall
# refused it (EPERM) or it timed out.
reach() {
    local out
    out=$(in_cl "$EM_CONNECT" --timeout-ms 500 "$1" "$2" 2>&1 || true)
    case "$out" in *connected=1*|*refused=1*) return 0 ;; esac
    return 1
}
dns_udp() { in_cl dig +time=1 +tries=1 @198.51.100.1 fixed.test A >/dev/null 2>&1; }
dns_tcp() { in_cl dig +tcp +time=1 +tries=1 @198.51.100.1 fixed.test A >/dev/null 2>&1; }
check_policy() {  # label
    reach 192.0.2.10 80 || fail "$1: observed 192.0.2.10:80 refused"
    reach 203.0.113.7 22 || fail "$1: observed direct 203.0.113.7:22 refused"
    reach 2001:db8::20 443 || fail "$1: observed [2001:db8::20]:443 refused"
    dns_udp || fail "$1: observed DNS over UDP refused"
    ! reach 192.0.2.10 81 || fail "$1: unobserved port 192.0.2.10:81 passed"
    ! reach 203.0.113.6 22 || fail "$1: unobserved address 203.0.113.6 passed"
    ! reach 2001:db8::20 80 || fail "$1: unobserved port [2001:db8::20]:80 passed"
    ! dns_tcp || fail "$1: DNS over TCP (never observed) passed"
}
# Before any policy everything passes (the checks below would prove nothing otherwise).
reach 192.0.2.10 81 || fail "no policy: 192.0.2.10:81 did not pass"
reach 203.0.113.6 22 || fail "no policy: 203.0.113.6:22 did not pass"

# --- nftables
"$EM_BIN" rules --state-dir "$WORK/state" >"$WORK/policy.nft"
grep -q 'comment "fixed.test"' "$WORK/policy.nft" || { cat "$WORK/policy.nft"; fail "no fixed.test set"; }
in_cl nft -f "$WORK/policy.nft"
check_policy nft
drops=$(in_cl nft list chain inet egress_monitor_allow output | awk '/not observed/ {for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1)}')
[ "${drops:-0}" -ge 4 ] || fail "nft: drop counter $drops, expected at least 4"
in_cl nft -f "$WORK/policy.nft"  # loading again replaces the table: no duplicate rules
[ "$(in_cl nft list table inet egress_monitor_allow | grep -c 'not observed')" = 1 ] ||
    fail "nft: loading twice duplicated the chain"
in_cl nft delete table inet egress_monitor_allow
reach 192.0.2.10 81 || fail "policy removed: 192.0.2.10:81 still refused"

# --- iptables and ip6tables
"$EM_BIN" rules --state-dir "$WORK/state" --format iptables --table EGRESS_ALLOW >"$WORK/policy.v4"
"$EM_BIN" rules --state-dir "$WORK/state" --format ip6tables --table EGRESS_ALLOW >"$WORK/policy.v6"
in_cl iptables-restore --noflush "$WORK/policy.v4"
in_cl ip6tables-restore --noflush "$WORK/policy.v6"
in_cl iptables -I OUTPUT -j EGRESS_ALLOW
in_cl ip6tables -I OUTPUT -j EGRESS_ALLOW
check_policy iptables
in_cl iptables -D OUTPUT -j EGRESS_ALLOW
in_cl ip6tables -D OUTPUT -j EGRESS_ALLOW
reach 192.0.2.10 81 || fail "iptables removed: 192.0.2.10:81 still refused"

# --- --min-count: the flows seen once are left out, the two DNS queries stay
"$EM_BIN" rules --state-dir "$WORK/state" --min-count 2 >"$WORK/policy2.nft"
in_cl nft -f "$WORK/policy2.nft"
dns_udp || fail "min-count 2: DNS over UDP (2 flows) refused"
! reach 192.0.2.10 80 || fail "min-count 2: 192.0.2.10:80 (1 flow) passed"
in_cl nft delete table inet egress_monitor_allow

# --- a domain crafted to break out of its comment
mkdir -p "$WORK/evil"
printf 'evil";flush-ruleset;table-ip-x{}.test 1 2026-12-01T00:00:00Z 192.0.2.10\n' >"$WORK/evil/unique-domains.log"
printf '192.0.2.10 1 2026-12-01T00:00:00Z\n' >"$WORK/evil/unique-ips.log"
"$EM_BIN" rules --files "$WORK/evil" >"$WORK/evil.nft"
tables_before=$(in_cl nft list tables)
in_cl nft -f "$WORK/evil.nft"
grep -q 'comment "evil__flush-ruleset_table-ip-x__.test"' <<<"$(in_cl nft list table inet egress_monitor_allow)" ||
    { cat "$WORK/evil.nft"; fail "crafted domain not neutralised"; }
[ "$(in_cl nft list tables | grep -v egress_monitor_allow)" = "$tables_before" ] ||
    fail "crafted domain created or removed tables"
in_cl nft delete table inet egress_monitor_allow
echo "ok: nft, iptables and ip6tables policies accept exactly the observed traffic; min-count; crafted names"
