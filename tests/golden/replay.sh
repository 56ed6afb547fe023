#!/bin/sh
# Golden test (no root): `egress-monitor replay` on a capture recorded by
# tests/integration/agent_sources.sh (tcpdump on the client's veth while the agents ran)
# must give exactly the checked-in files and events. Regenerate after an intended change
# of output with: tests/golden/replay.sh --update
set -eu
bin=${EGRESS_MONITOR:-build/egress-monitor}
data=$(dirname "$0")/../data/pcap
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$work/config.toml"
"$bin" replay "$data/client.pcap" --state-dir "$work/state" --output-dir "$work/out" \
    --events "$work/events.jsonl" --config "$work/config.toml"
if [ "${1:-}" = "--update" ]; then
    cp "$work/out/unique-domains.log" "$data/client.unique-domains.log"
    cp "$work/out/unique-ips.log" "$data/client.unique-ips.log"
    cp "$work/events.jsonl" "$data/client.events.jsonl"
    exit 0
fi
diff -u "$data/client.unique-domains.log" "$work/out/unique-domains.log"
diff -u "$data/client.unique-ips.log" "$work/out/unique-ips.log"
diff -u "$data/client.events.jsonl" "$work/events.jsonl"
# The events alone (no state): the same lines.
"$bin" replay "$data/client.pcap" --no-state --events "$work/events2.jsonl" --config "$work/config.toml"
diff -u "$data/client.events.jsonl" "$work/events2.jsonl"
echo "golden replay: files and events as checked in"
