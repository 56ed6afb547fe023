#!/bin/sh
# Golden test (no root): `egress-monitor replay` on the real clients recorded by
# tests/data/flowname/capture_clients.sh must give exactly the checked-in events, among them
# one flow_name event per connection (HTTP Host, TLS SNI over IPv4 and IPv6, a QUIC Initial),
# and the checked-in unique-ips.log. Regenerate after an intended change of output with:
# tests/golden/replay_flow_names.sh --update
set -eu
bin=${EGRESS_MONITOR:-build/egress-monitor}
data=$(dirname "$0")/../data/flowname
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$work/config.toml"
"$bin" replay "$data/clients.pcap" --state-dir "$work/state" --output-dir "$work/out" \
    --events "$work/events.jsonl" --config "$work/config.toml"
if [ "${1:-}" = "--update" ]; then
    cp "$work/out/unique-ips.log" "$data/clients.unique-ips.log"
    cp "$work/events.jsonl" "$data/clients.events.jsonl"
    exit 0
fi
diff -u "$data/clients.unique-ips.log" "$work/out/unique-ips.log"
diff -u "$data/clients.events.jsonl" "$work/events.jsonl"
[ "$(grep -c '"type":"flow_name"' "$work/events.jsonl")" -eq 6 ]
named=$(sqlite3 "$work/state/ledger.sqlite" "SELECT value FROM counters WHERE name = 'first_packets.named'")
[ "$named" = 6 ] || { echo "first_packets.named = $named, want 6" >&2; exit 1; }
echo "golden replay (flow names): events as checked in"
