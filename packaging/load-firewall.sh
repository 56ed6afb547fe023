#!/bin/sh
# egress-monitor: (re)load the rule that logs each new outbound flow once.
set -eu
if command -v nft >/dev/null 2>&1; then
    exec nft -f /etc/egress-monitor/egress-log.nft
fi
# iptables fallback: the same logic with CONNMARK.
for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null 2>&1 || continue
    "$ipt" -N EGRESS_MONITOR 2>/dev/null || "$ipt" -F EGRESS_MONITOR
    "$ipt" -C OUTPUT -j EGRESS_MONITOR 2>/dev/null || "$ipt" -A OUTPUT -j EGRESS_MONITOR
    "$ipt" -A EGRESS_MONITOR -o lo -j RETURN
    "$ipt" -A EGRESS_MONITOR -m conntrack --ctstate NEW -m connmark --mark 0x0/0x10 \
        -j LOG --log-prefix "EGRESS: "
    "$ipt" -A EGRESS_MONITOR -m conntrack --ctstate NEW -j CONNMARK --or-mark 0x10
done
