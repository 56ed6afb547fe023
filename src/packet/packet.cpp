#include "packet/packet.h"

#include <algorithm>

#include <fmt/format.h>

namespace em {

namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

uint32_t be32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

uint32_t le32(const uint8_t* p) {
    return (uint32_t{p[3]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[1]} << 8) | p[0];
}

bool truncated(std::string& why, const char* what, size_t have, size_t need) {
    why = fmt::format("{} truncated ({} of {} bytes)", what, have, need);
    return false;
}

// Decodes the transport header at `p`: `avail` bytes are in the buffer, `wire` bytes are what
// the IP header announces for the transport (header + payload).
bool decode_transport(const uint8_t* p, size_t avail, size_t wire, PacketInfo& out,
                      std::string& why) {
    size_t hdr = 0;
    if (out.proto == kProtoTcp) {
        if (avail < 20) return truncated(why, "TCP header", avail, 20);
        hdr = size_t{static_cast<uint8_t>(p[12] >> 4)} * 4;
        if (hdr < 20) {
            why = fmt::format("TCP data offset {} < 20 bytes", hdr);
            return false;
        }
        if (avail < hdr) return truncated(why, "TCP header", avail, hdr);
        out.sport = be16(p);
        out.dport = be16(p + 2);
        out.tcp_seq = be32(p + 4);
        out.tcp_flags = p[13];
    } else if (out.proto == kProtoUdp) {
        if (avail < 8) return truncated(why, "UDP header", avail, 8);
        hdr = 8;
        out.sport = be16(p);
        out.dport = be16(p + 2);
    }
    // Other protocols (ICMP, ICMPv6, ...): no ports; the payload is the whole message.
    out.payload = p + hdr;
    out.payload_len = avail - hdr;
    out.payload_wire_len = wire - hdr;
    return true;
}

bool decode_ipv4(const uint8_t* data, size_t len, PacketInfo& out, std::string& why) {
    if (len < 20) return truncated(why, "IPv4 header", len, 20);
    size_t ihl = size_t{static_cast<uint8_t>(data[0] & 0x0f)} * 4;
    if (ihl < 20) {
        why = fmt::format("IPv4 header length {} < 20 bytes", ihl);
        return false;
    }
    if (len < ihl) return truncated(why, "IPv4 header", len, ihl);
    size_t total = be16(data + 2);
    // 0: a segmentation-offloaded packet captured before the split; take what is there.
    if (total == 0) total = len;
    if (total < ihl) {
        why = fmt::format("IPv4 total length {} < header length {}", total, ihl);
        return false;
    }
    out.src = IpAddress::v4(be32(data + 12));
    out.dst = IpAddress::v4(be32(data + 16));
    out.proto = data[9];
    // Bytes past the total length are link-layer padding, not payload.
    size_t end = std::min(len, total);
    uint16_t frag_offset = be16(data + 6) & 0x1fff;
    if (frag_offset != 0) {
        out.fragment = true;
        out.payload = data + ihl;
        out.payload_len = end - ihl;
        out.payload_wire_len = total - ihl;
        return true;
    }
    return decode_transport(data + ihl, end - ihl, total - ihl, out, why);
}

bool decode_ipv6(const uint8_t* data, size_t len, PacketInfo& out, std::string& why) {
    if (len < 40) return truncated(why, "IPv6 header", len, 40);
    size_t total = 40 + size_t{be16(data + 4)};
    // 0: a jumbogram or a segmentation-offloaded packet; take what is there.
    if (total == 40) total = len;
    out.src = IpAddress::v6(data + 8);
    out.dst = IpAddress::v6(data + 24);
    size_t end = std::min(len, total);
    uint8_t next = data[6];
    size_t off = 40;
    // Extension headers; a legitimate packet has a handful, so bound the walk.
    for (int i = 0;; ++i) {
        if (next != 0 && next != 43 && next != 44 && next != 60 && next != 51) break;
        if (i == 8) {
            why = "IPv6: too many extension headers";
            return false;
        }
        if (end - off < 8) return truncated(why, "IPv6 extension header", end - off, 8);
        const uint8_t* h = data + off;
        size_t hlen = 0;
        if (next == 44) {  // fragment: fixed 8 bytes
            hlen = 8;
            if ((be16(h + 2) >> 3) != 0) {
                off += hlen;
                out.proto = h[0];
                out.fragment = true;
                out.payload = data + off;
                out.payload_len = end - off;
                out.payload_wire_len = total - off;
                return true;
            }
        } else if (next == 51) {  // AH: length in 4-byte units, minus 2
            hlen = (size_t{h[1]} + 2) * 4;
        } else {
            hlen = (size_t{h[1]} + 1) * 8;
        }
        if (end - off < hlen) return truncated(why, "IPv6 extension header", end - off, hlen);
        next = h[0];
        off += hlen;
    }
    out.proto = next;
    return decode_transport(data + off, end - off, total - off, out, why);
}

// version: 0 = take it from the packet, 4 or 6 = what the link layer announced.
bool decode_ip(const uint8_t* data, size_t len, PacketInfo& out, std::string& why, int version) {
    out = PacketInfo{};
    if (len == 0 || data == nullptr) {
        why = "empty packet";
        return false;
    }
    int v = data[0] >> 4;
    if (version != 0 && v != version) {
        why = fmt::format("IP version {} where the link layer announced IPv{}", v, version);
        return false;
    }
    if (v == 4) return decode_ipv4(data, len, out, why);
    if (v == 6) return decode_ipv6(data, len, out, why);
    why = fmt::format("not IP (version {})", v);
    return false;
}

constexpr uint16_t kEtherIpv4 = 0x0800, kEtherIpv6 = 0x86dd;

bool is_vlan(uint16_t type) { return type == 0x8100 || type == 0x88a8 || type == 0x9100; }

// `off` points just after an ethertype field whose value is `type`: skips up to two VLAN
// tags and decodes the IP packet.
bool decode_ethertype(uint16_t type, const uint8_t* data, size_t len, size_t off, PacketInfo& out,
                      std::string& why) {
    for (int tags = 0; is_vlan(type) && tags < 2; ++tags) {
        if (len - off < 4) return truncated(why, "VLAN tag", len - off, 4);
        type = be16(data + off + 2);
        off += 4;
    }
    int version = type == kEtherIpv4 ? 4 : type == kEtherIpv6 ? 6 : 0;
    if (version == 0) {
        out = PacketInfo{};
        why = fmt::format("not IP (ethertype 0x{:04x})", type);
        return false;
    }
    return decode_ip(data + off, len - off, out, why, version);
}

}  // namespace

bool decode_ip_packet(const uint8_t* data, size_t len, PacketInfo& out, std::string& why) {
    return decode_ip(data, len, out, why, 0);
}

bool decode_frame(int link, const uint8_t* data, size_t len, PacketInfo& out, std::string& why) {
    out = PacketInfo{};
    if (data == nullptr) len = 0;
    switch (link) {
        case static_cast<int>(LinkType::ethernet):
            if (len < 14) return truncated(why, "Ethernet header", len, 14);
            return decode_ethertype(be16(data + 12), data, len, 14, out, why);
        case static_cast<int>(LinkType::linux_sll):
            if (len < 16) return truncated(why, "Linux cooked header", len, 16);
            return decode_ethertype(be16(data + 14), data, len, 16, out, why);
        case static_cast<int>(LinkType::linux_sll2):
            if (len < 20) return truncated(why, "Linux cooked v2 header", len, 20);
            return decode_ethertype(be16(data), data, len, 20, out, why);
        case static_cast<int>(LinkType::null):
        case static_cast<int>(LinkType::loop): {
            // The family is in the capturing host's byte order for null, network order for
            // loop; files move between hosts, so take either. IPv6 differs between BSDs.
            if (len < 4) return truncated(why, "loopback header", len, 4);
            int version = 0;
            for (uint32_t family : {be32(data), le32(data)}) {
                if (family == 2) version = 4;
                if (family == 24 || family == 28 || family == 30) version = 6;
            }
            if (version == 0) {
                why = fmt::format("not IP (address family 0x{:08x})", be32(data));
                return false;
            }
            return decode_ip(data + 4, len - 4, out, why, version);
        }
        case static_cast<int>(LinkType::raw):
        case 12:  // DLT_RAW as pcap_datalink() reports it on Linux (101 is LINKTYPE_RAW)
        case 14:  // DLT_RAW on OpenBSD
            return decode_ip(data, len, out, why, 0);
        case static_cast<int>(LinkType::ipv4):
            return decode_ip(data, len, out, why, 4);
        case static_cast<int>(LinkType::ipv6):
            return decode_ip(data, len, out, why, 6);
        default:
            why = fmt::format("unsupported link type {}", link);
            return false;
    }
}

}  // namespace em
