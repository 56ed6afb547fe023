#pragma once
// Decoding of captured packets down to the transport header: what NFLOG hands over (an IP
// packet), and what pcap hands over (a link-layer frame). Views only: nothing is copied, the
// result points into the caller's buffer and is valid as long as it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/ip_address.h"

namespace em {

enum : uint8_t { kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17, kProtoIcmp6 = 58 };

namespace tcp_flag {
inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
}

struct PacketInfo {
    IpAddress src, dst;
    uint8_t proto = 0;   // kProto*: the transport after any IPv6 extension headers
    uint16_t sport = 0;  // TCP/UDP ports; 0 for other protocols
    uint16_t dport = 0;
    uint8_t tcp_flags = 0;             // tcp_flag::* (TCP only)
    uint32_t tcp_seq = 0;              // TCP only
    bool fragment = false;             // a non-first fragment: no transport header (ports stay 0)
    const uint8_t* payload = nullptr;  // transport payload as captured (may be cut short)
    size_t payload_len = 0;            // bytes of payload present in the buffer
    size_t payload_wire_len = 0;       // payload length the IP header announces
};

/// Decodes an IPv4 or IPv6 packet (version from the first nibble). Returns false, with the
/// reason in `why`, for anything too short or malformed to yield addresses; a packet cut
/// short after the transport header (snaplen) is fine: payload_len < payload_wire_len.
bool decode_ip_packet(const uint8_t* data, size_t len, PacketInfo& out, std::string& why);

/// pcap link types handled by decode_frame (values of DLT_*).
enum class LinkType : int {
    ethernet = 1,
    raw = 101,
    linux_sll = 113,
    linux_sll2 = 276,
    null = 0,
    loop = 108,
    ipv4 = 228,
    ipv6 = 229
};

/// Strips the link-layer header of `link` (Ethernet with up to two VLAN tags, Linux cooked
/// v1/v2, BSD null/loop, raw) and decodes the IP packet inside. Non-IP frames (ARP, ...)
/// return false with `why` starting with "not IP".
bool decode_frame(int link, const uint8_t* data, size_t len, PacketInfo& out, std::string& why);

}  // namespace em
