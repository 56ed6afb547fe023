#pragma once
// The agent's own firewall table, `inet egress_monitor`, which sends to NFLOG group `group`:
//   - outgoing DNS queries (UDP and TCP port 53, loopback included, full payload), prefix
//     "em-dnsq";
//   - incoming DNS responses (source port 53, full payload), prefix "em-dnsr";
//   - the first packet of each new outbound non-loopback flow, headers only (128 bytes),
//     prefix "em-flow"; conntrack mark bit `ct_mark_bit` remembers "logged", so retransmitted
//     SYNs and further packets of an unanswered UDP flow are not logged again (FIELD-NOTES);
//   - the first payload of each new outbound non-loopback flow (Pipeline::on_first_payload),
//     `first_snaplen` bytes, prefix "em-first": the UDP datagram to port 443 that opens a flow
//     (a QUIC Initial, logged whole), and the first TCP segment of a connection this host
//     opened that is longer than any bare ACK (IPv4 over 80 bytes, IPv6 over 100: 20/40 bytes
//     of IP header and at most 60 of TCP, so the data is at least 29 bytes with timestamps).
//     Conntrack mark bit `first_mark_bit` remembers "looked": one packet per connection.
// Installing replaces a stale table left by a crashed run in one transaction. With the nft
// program missing (or backend "iptables"), the same rules go into chains EGRESS_MONITOR_OUT
// and EGRESS_MONITOR_IN of iptables/ip6tables (iptables-nft), hooked first in OUTPUT/INPUT.
#include <cstdint>
#include <string>

#include "common/result.h"

namespace em {

inline constexpr const char* kNflogPrefixFlow = "em-flow";
inline constexpr const char* kNflogPrefixQuery = "em-dnsq";
inline constexpr const char* kNflogPrefixResponse = "em-dnsr";
inline constexpr const char* kNflogPrefixFirst = "em-first";

struct CaptureRules {
    uint16_t group = 5353;
    uint32_t ct_mark_bit = 0x20;
    uint32_t first_mark_bit = 0x40;
    uint32_t first_snaplen = 2048;
    std::string backend = "auto";  // auto | nft | iptables
    std::string table = "egress_monitor";
};

/// The nft script (for tests and `--print-rules`).
std::string nft_capture_script(const CaptureRules& r);
/// Installs the rules; returns the backend used ("nft" or "iptables").
Result<std::string> install_capture_rules(const CaptureRules& r);
/// Removes them (a missing table is fine).
Result<void> remove_capture_rules(const CaptureRules& r, const std::string& backend);

/// The conntrack source needs connection tracking active in the network namespace, which the
/// kernel turns on only for a rule or NAT that uses it. Where nothing else does, this table
/// (`inet egress_monitor_ct`: one output rule `ct state new counter`, which drops, logs and
/// changes nothing) turns it on; removed like the capture table.
Result<void> install_conntrack_enabler();
Result<void> remove_conntrack_enabler();

}  // namespace em
