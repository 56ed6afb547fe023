#include "packet/packet.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace em {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, size_t at, uint16_t v) {
    b[at] = static_cast<uint8_t>(v >> 8);
    b[at + 1] = static_cast<uint8_t>(v);
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

Bytes payload_of(size_t n) {
    Bytes p(n);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i + 1);
    return p;
}

Bytes udp(uint16_t sport, uint16_t dport, size_t payload_len) {
    Bytes h(8, 0);
    put16(h, 0, sport);
    put16(h, 2, dport);
    put16(h, 4, static_cast<uint16_t>(8 + payload_len));
    return h;
}

Bytes tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags, size_t options = 0) {
    Bytes h(20 + options, 0);
    put16(h, 0, sport);
    put16(h, 2, dport);
    h[4] = static_cast<uint8_t>(seq >> 24);
    h[5] = static_cast<uint8_t>(seq >> 16);
    h[6] = static_cast<uint8_t>(seq >> 8);
    h[7] = static_cast<uint8_t>(seq);
    h[12] = static_cast<uint8_t>(((20 + options) / 4) << 4);
    h[13] = flags;
    for (size_t i = 20; i < h.size(); ++i) h[i] = 1;  // NOP options
    return h;
}

// An IPv4 header for 192.0.2.1 -> 198.51.100.7 in front of `rest` (`options` bytes of
// options, a multiple of 4). `total` overrides the announced length when not 0.
Bytes ipv4(uint8_t proto, const Bytes& rest, size_t options = 0, uint16_t frag = 0,
           size_t total = 0) {
    Bytes h(20 + options, 0);
    h[0] = static_cast<uint8_t>(0x40 | ((20 + options) / 4));
    put16(h, 2, static_cast<uint16_t>(total ? total : h.size() + rest.size()));
    put16(h, 6, frag);
    h[8] = 64;
    h[9] = proto;
    h[12] = 192, h[13] = 0, h[14] = 2, h[15] = 1;
    h[16] = 198, h[17] = 51, h[18] = 100, h[19] = 7;
    return cat({h, rest});
}

// An IPv6 header 2001:db8::1 -> 2001:db8::53; `rest` holds any extension headers.
Bytes ipv6(uint8_t next, const Bytes& rest, size_t payload_len = 0) {
    Bytes h(40, 0);
    h[0] = 0x60;
    put16(h, 4, static_cast<uint16_t>(payload_len ? payload_len : rest.size()));
    h[6] = next;
    h[7] = 64;
    h[8] = 0x20, h[9] = 0x01, h[10] = 0x0d, h[11] = 0xb8, h[23] = 1;
    h[24] = 0x20, h[25] = 0x01, h[26] = 0x0d, h[27] = 0xb8, h[39] = 0x53;
    return cat({h, rest});
}

Bytes ethernet(uint16_t type, const Bytes& rest) {
    Bytes h(14, 0xaa);
    put16(h, 12, type);
    return cat({h, rest});
}

// A VLAN tag after a VLAN TPID: the tag control field, then the inner ethertype.
Bytes vlan(uint16_t tci, uint16_t inner) {
    Bytes t(4);
    put16(t, 0, tci);
    put16(t, 2, inner);
    return t;
}

bool decode(const Bytes& b, PacketInfo& out, std::string& why) {
    return decode_ip_packet(b.data(), b.size(), out, why);
}

TEST(Packet, Ipv4Udp) {
    Bytes p = ipv4(kProtoUdp, cat({udp(40000, 53, 30), payload_of(30)}));
    PacketInfo info;
    std::string why;
    ASSERT_TRUE(decode(p, info, why)) << why;
    EXPECT_EQ(info.src.to_string(), "192.0.2.1");
    EXPECT_EQ(info.dst.to_string(), "198.51.100.7");
    EXPECT_EQ(info.proto, kProtoUdp);
    EXPECT_EQ(info.sport, 40000);
    EXPECT_EQ(info.dport, 53);
    EXPECT_FALSE(info.fragment);
    EXPECT_EQ(info.payload, p.data() + 28);
    EXPECT_EQ(info.payload_len, 30u);
    EXPECT_EQ(info.payload_wire_len, 30u);
    EXPECT_EQ(info.payload[0], 1);
}

TEST(Packet, Ipv4OptionsAndTcp) {
    Bytes t = tcp(51000, 443, 0xfffffff0u, tcp_flag::kSyn | tcp_flag::kAck, 12);
    Bytes p = ipv4(kProtoTcp, cat({t, payload_of(5)}), 8);
    PacketInfo info;
    std::string why;
    ASSERT_TRUE(decode(p, info, why)) << why;
    EXPECT_EQ(info.proto, kProtoTcp);
    EXPECT_EQ(info.sport, 51000);
    EXPECT_EQ(info.dport, 443);
    EXPECT_EQ(info.tcp_seq, 0xfffffff0u);
    EXPECT_EQ(info.tcp_flags, tcp_flag::kSyn | tcp_flag::kAck);
    EXPECT_EQ(info.payload, p.data() + 28 + 32);
    EXPECT_EQ(info.payload_len, 5u);
    EXPECT_EQ(info.payload_wire_len, 5u);
}

TEST(Packet, Ipv4SnaplenAndPadding) {
    Bytes p = ipv4(kProtoUdp, cat({udp(1, 2, 100), payload_of(100)}));
    PacketInfo info;
    std::string why;
    // Cut after 10 payload bytes: fine, the announced length is kept.
    ASSERT_TRUE(decode_ip_packet(p.data(), 38, info, why)) << why;
    EXPECT_EQ(info.payload_len, 10u);
    EXPECT_EQ(info.payload_wire_len, 100u);
    // Ethernet padding after the packet is not payload.
    Bytes padded = ipv4(kProtoUdp, cat({udp(1, 2, 2), payload_of(2)}));
    padded.resize(padded.size() + 16, 0);
    ASSERT_TRUE(decode(padded, info, why)) << why;
    EXPECT_EQ(info.payload_len, 2u);
    EXPECT_EQ(info.payload_wire_len, 2u);
}

TEST(Packet, Ipv4Truncations) {
    Bytes p = ipv4(kProtoTcp, cat({tcp(1, 2, 3, 0), payload_of(4)}), 4);
    PacketInfo info;
    std::string why;
    EXPECT_FALSE(decode_ip_packet(p.data(), 12, info, why));
    EXPECT_EQ(why, "IPv4 header truncated (12 of 20 bytes)");
    EXPECT_FALSE(decode_ip_packet(p.data(), 22, info, why));
    EXPECT_EQ(why, "IPv4 header truncated (22 of 24 bytes)");
    EXPECT_FALSE(decode_ip_packet(p.data(), 30, info, why));
    EXPECT_EQ(why, "TCP header truncated (6 of 20 bytes)");
    EXPECT_FALSE(decode_ip_packet(p.data(), 0, info, why));
    EXPECT_EQ(why, "empty packet");
    // Every prefix either decodes or says why; never reads past the end (ASan).
    for (size_t n = 0; n <= p.size(); ++n) {
        Bytes cut(p.begin(), p.begin() + static_cast<long>(n));
        why.clear();
        if (!decode(cut, info, why)) {
            EXPECT_FALSE(why.empty()) << n;
        }
    }
    Bytes bad_ihl = p;
    bad_ihl[0] = 0x44;
    EXPECT_FALSE(decode(bad_ihl, info, why));
    EXPECT_EQ(why, "IPv4 header length 16 < 20 bytes");
    Bytes bad_offset = p;
    bad_offset[24 + 12] = 0x30;
    EXPECT_FALSE(decode(bad_offset, info, why));
    EXPECT_EQ(why, "TCP data offset 12 < 20 bytes");
    Bytes udp_short = ipv4(kProtoUdp, Bytes(5, 0));
    EXPECT_FALSE(decode(udp_short, info, why));
    EXPECT_EQ(why, "UDP header truncated (5 of 8 bytes)");
    Bytes v5 = p;
    v5[0] = 0x55;
    EXPECT_FALSE(decode(v5, info, why));
    EXPECT_EQ(why, "not IP (version 5)");
}

TEST(Packet, Ipv4Fragments) {
    Bytes body = cat({udp(5353, 53, 40), payload_of(40)});
    PacketInfo info;
    std::string why;
    // First fragment (MF set, offset 0): ports are there.
    Bytes first = ipv4(kProtoUdp, body, 0, 0x2000);
    ASSERT_TRUE(decode(first, info, why)) << why;
    EXPECT_FALSE(info.fragment);
    EXPECT_EQ(info.sport, 5353);
    // A later fragment: no transport header, whatever its bytes look like.
    Bytes later = ipv4(kProtoUdp, payload_of(24), 0, 0x0003);
    ASSERT_TRUE(decode(later, info, why)) << why;
    EXPECT_TRUE(info.fragment);
    EXPECT_EQ(info.proto, kProtoUdp);
    EXPECT_EQ(info.sport, 0);
    EXPECT_EQ(info.dport, 0);
    EXPECT_EQ(info.payload_len, 24u);
    EXPECT_EQ(info.dst.to_string(), "198.51.100.7");
    // Even a later fragment too short for a UDP header decodes.
    Bytes tiny = ipv4(kProtoUdp, payload_of(3), 0, 0x2001);
    ASSERT_TRUE(decode(tiny, info, why)) << why;
    EXPECT_TRUE(info.fragment);
}

TEST(Packet, Icmp) {
    Bytes p = ipv4(kProtoIcmp, {8, 0, 0, 0, 0, 1, 0, 1});
    PacketInfo info;
    std::string why;
    ASSERT_TRUE(decode(p, info, why)) << why;
    EXPECT_EQ(info.proto, kProtoIcmp);
    EXPECT_EQ(info.sport, 0);
    EXPECT_EQ(info.dport, 0);
    EXPECT_EQ(info.payload_len, 8u);
    Bytes p6 = ipv6(kProtoIcmp6, {128, 0, 0, 0, 0, 1, 0, 1});
    ASSERT_TRUE(decode(p6, info, why)) << why;
    EXPECT_EQ(info.proto, kProtoIcmp6);
    EXPECT_EQ(info.dport, 0);
}

TEST(Packet, Ipv6Udp) {
    Bytes p = ipv6(kProtoUdp, cat({udp(33000, 53, 12), payload_of(12)}));
    PacketInfo info;
    std::string why;
    ASSERT_TRUE(decode(p, info, why)) << why;
    EXPECT_EQ(info.src.to_string(), "2001:db8::1");
    EXPECT_EQ(info.dst.to_string(), "2001:db8::53");
    EXPECT_EQ(info.proto, kProtoUdp);
    EXPECT_EQ(info.sport, 33000);
    EXPECT_EQ(info.payload, p.data() + 48);
    EXPECT_EQ(info.payload_len, 12u);
    EXPECT_EQ(info.payload_wire_len, 12u);
    EXPECT_FALSE(decode_ip_packet(p.data(), 39, info, why));
    EXPECT_EQ(why, "IPv6 header truncated (39 of 40 bytes)");
}

TEST(Packet, Ipv6ExtensionHeaders) {
    // hop-by-hop (8) -> routing (24) -> destination options (16) -> fragment(first) -> TCP
    Bytes hop = {43, 0, 1, 4, 0, 0, 0, 0};
    Bytes routing(24, 0);
    routing[0] = 60, routing[1] = 2;
    Bytes dest(16, 0);
    dest[0] = 44, dest[1] = 1;
    Bytes frag = {kProtoTcp, 0, 0x00, 0x01, 0, 0, 0, 7};  // offset 0, M set
    Bytes t = tcp(40001, 53, 1000, tcp_flag::kAck);
    Bytes p = ipv6(0, cat({hop, routing, dest, frag, t, payload_of(9)}));
    PacketInfo info;
    std::string why;
    ASSERT_TRUE(decode(p, info, why)) << why;
    EXPECT_EQ(info.proto, kProtoTcp);
    EXPECT_FALSE(info.fragment);
    EXPECT_EQ(info.sport, 40001);
    EXPECT_EQ(info.tcp_seq, 1000u);
    EXPECT_EQ(info.payload_len, 9u);
    EXPECT_EQ(info.payload_wire_len, 9u);
    // A later fragment.
    Bytes later_frag = {kProtoUdp, 0, 0x05, 0x00, 0, 0, 0, 7};
    Bytes q = ipv6(44, cat({later_frag, payload_of(16)}));
    ASSERT_TRUE(decode(q, info, why)) << why;
    EXPECT_TRUE(info.fragment);
    EXPECT_EQ(info.proto, kProtoUdp);
    EXPECT_EQ(info.sport, 0);
    EXPECT_EQ(info.payload_len, 16u);
    // An extension header cut short.
    Bytes cut = ipv6(0, {kProtoUdp, 1, 0, 0, 0, 0, 0, 0, 0, 0});
    EXPECT_FALSE(decode(cut, info, why));
    EXPECT_EQ(why, "IPv6 extension header truncated (10 of 16 bytes)");
    // A chain of hop-by-hop headers is bounded.
    Bytes many;
    for (int i = 0; i < 20; ++i) many.insert(many.end(), {0, 0, 0, 0, 0, 0, 0, 0});
    EXPECT_FALSE(decode(ipv6(0, many), info, why));
    EXPECT_EQ(why, "IPv6: too many extension headers");
}

TEST(Packet, EthernetAndVlan) {
    Bytes ip = ipv4(kProtoUdp, cat({udp(1000, 53, 4), payload_of(4)}));
    PacketInfo info;
    std::string why;
    Bytes plain = ethernet(0x0800, ip);
    ASSERT_TRUE(decode_frame(1, plain.data(), plain.size(), info, why)) << why;
    EXPECT_EQ(info.dport, 53);
    EXPECT_EQ(info.payload, plain.data() + 14 + 28);

    Bytes one = ethernet(0x8100, cat({vlan(10, 0x86dd), ipv6(kProtoUdp, cat({udp(7, 53, 0)}))}));
    ASSERT_TRUE(decode_frame(1, one.data(), one.size(), info, why)) << why;
    EXPECT_TRUE(info.src.is_v6());
    EXPECT_EQ(info.sport, 7);

    Bytes qinq = ethernet(0x88a8, cat({vlan(100, 0x8100), vlan(10, 0x0800), ip}));
    ASSERT_TRUE(decode_frame(1, qinq.data(), qinq.size(), info, why)) << why;
    EXPECT_EQ(info.dst.to_string(), "198.51.100.7");
    EXPECT_EQ(info.payload, qinq.data() + 22 + 28);

    Bytes arp = ethernet(0x0806, Bytes(28, 0));
    EXPECT_FALSE(decode_frame(1, arp.data(), arp.size(), info, why));
    EXPECT_EQ(why.rfind("not IP", 0), 0u) << why;
    EXPECT_FALSE(decode_frame(1, plain.data(), 10, info, why));
    EXPECT_EQ(why, "Ethernet header truncated (10 of 14 bytes)");
    EXPECT_FALSE(decode_frame(1, one.data(), 16, info, why));
    EXPECT_EQ(why, "VLAN tag truncated (2 of 4 bytes)");
    // The ethertype and the version nibble must agree.
    Bytes liar = ethernet(0x86dd, ip);
    EXPECT_FALSE(decode_frame(1, liar.data(), liar.size(), info, why));
}

TEST(Packet, LinuxCooked) {
    Bytes ip = ipv4(kProtoTcp, cat({tcp(5000, 53, 77, tcp_flag::kAck), payload_of(3)}));
    Bytes sll(16, 0);
    sll[1] = 4;  // outgoing
    put16(sll, 14, 0x0800);
    Bytes f1 = cat({sll, ip});
    PacketInfo info;
    std::string why;
    ASSERT_TRUE(decode_frame(113, f1.data(), f1.size(), info, why)) << why;
    EXPECT_EQ(info.sport, 5000);
    EXPECT_EQ(info.tcp_seq, 77u);
    EXPECT_EQ(info.payload_len, 3u);
    EXPECT_FALSE(decode_frame(113, f1.data(), 15, info, why));
    EXPECT_EQ(why, "Linux cooked header truncated (15 of 16 bytes)");

    Bytes sll2(20, 0);
    put16(sll2, 0, 0x86dd);
    Bytes f2 = cat({sll2, ipv6(kProtoUdp, udp(53, 4444, 0))});
    ASSERT_TRUE(decode_frame(276, f2.data(), f2.size(), info, why)) << why;
    EXPECT_EQ(info.sport, 53);
    EXPECT_EQ(info.dport, 4444);
    EXPECT_EQ(info.payload_len, 0u);
    put16(f2, 0, 0x0806);
    EXPECT_FALSE(decode_frame(276, f2.data(), f2.size(), info, why));
    EXPECT_EQ(why, "not IP (ethertype 0x0806)");
}

TEST(Packet, NullLoopAndRaw) {
    Bytes ip4 = ipv4(kProtoUdp, udp(9, 53, 0));
    Bytes ip6 = ipv6(kProtoUdp, udp(9, 53, 0));
    PacketInfo info;
    std::string why;
    Bytes host_order = cat({{2, 0, 0, 0}, ip4});  // little-endian AF_INET
    ASSERT_TRUE(decode_frame(0, host_order.data(), host_order.size(), info, why)) << why;
    EXPECT_TRUE(info.src.is_v4());
    Bytes net_order = cat({{0, 0, 0, 30}, ip6});  // AF_INET6 on macOS, network order
    ASSERT_TRUE(decode_frame(108, net_order.data(), net_order.size(), info, why)) << why;
    EXPECT_TRUE(info.src.is_v6());
    for (uint8_t fam : {24, 28, 30}) {
        Bytes f = cat({{fam, 0, 0, 0}, ip6});
        EXPECT_TRUE(decode_frame(0, f.data(), f.size(), info, why)) << int{fam} << why;
    }
    Bytes other = cat({{7, 0, 0, 0}, ip4});
    EXPECT_FALSE(decode_frame(0, other.data(), other.size(), info, why));
    EXPECT_EQ(why.rfind("not IP", 0), 0u) << why;

    EXPECT_TRUE(decode_frame(101, ip4.data(), ip4.size(), info, why)) << why;
    EXPECT_TRUE(decode_frame(101, ip6.data(), ip6.size(), info, why)) << why;
    EXPECT_TRUE(decode_frame(12, ip6.data(), ip6.size(), info, why)) << why;  // Linux DLT_RAW
    EXPECT_TRUE(decode_frame(228, ip4.data(), ip4.size(), info, why)) << why;
    EXPECT_FALSE(decode_frame(228, ip6.data(), ip6.size(), info, why));
    EXPECT_TRUE(decode_frame(229, ip6.data(), ip6.size(), info, why)) << why;
    EXPECT_FALSE(decode_frame(229, ip4.data(), ip4.size(), info, why));
    EXPECT_FALSE(decode_frame(147, ip4.data(), ip4.size(), info, why));
    EXPECT_EQ(why, "unsupported link type 147");
}

TEST(Packet, ZeroLengthFieldsTakeWhatIsCaptured) {
    // Segmentation offload: the IPv4 total length / IPv6 payload length is 0.
    Bytes p4 = ipv4(kProtoUdp, cat({udp(1, 53, 6), payload_of(6)}), 0, 0, 0);
    put16(p4, 2, 0);
    PacketInfo info;
    std::string why;
    ASSERT_TRUE(decode(p4, info, why)) << why;
    EXPECT_EQ(info.payload_len, 6u);
    EXPECT_EQ(info.payload_wire_len, 6u);
    Bytes p6 = ipv6(kProtoUdp, cat({udp(1, 53, 6), payload_of(6)}));
    put16(p6, 4, 0);
    ASSERT_TRUE(decode(p6, info, why)) << why;
    EXPECT_EQ(info.payload_len, 6u);
    // A total length shorter than the header is malformed.
    Bytes bad = ipv4(kProtoUdp, udp(1, 53, 0), 0, 0, 12);
    EXPECT_FALSE(decode(bad, info, why));
    EXPECT_EQ(why, "IPv4 total length 12 < header length 20");
}

}  // namespace
}  // namespace em
