#!/bin/sh
# Regenerates clients.pcap, the input of the golden test tests/golden/replay_flow_names.sh:
# the real clients of tests/integration/agent_flow_names.sh (curl over HTTP/1.1 and HTTPS,
# also over IPv6, openssl s_client -servername, a QUIC Initial datagram) recorded by tcpdump
# on the client namespace's veth while that test runs. Fake internet hosts on documentation
# ranges only; needs root and a build (build/egress-monitor, build/tests/em-connect).
# Afterwards update the baseline: tests/golden/replay_flow_names.sh --update
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
CAPTURE_PCAP="$root/tests/data/flowname/clients.pcap" bash tests/integration/agent_flow_names.sh
ls -l tests/data/flowname/clients.pcap
