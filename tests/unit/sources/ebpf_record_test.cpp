// The eBPF source's first-packet records (EM_FIRST, bpf/egress_event.h) as the agent decodes
// them: the packet and who sent it, and every length a hostile or broken record could lie
// about rejected with a reason.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "packet/packet.h"
#include "sources/ebpf/ebpf_record.h"

extern "C" {
#include "egress_event.h"
}

namespace em {
namespace {

// IPv4 192.0.2.10:40000 → 203.0.113.7:443, TCP with `payload`.
std::vector<uint8_t> tcp_packet(const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> p = {0x45, 0,  0,   0, 0,    1,    0x40, 0,    64,   6,    0, 0, 192, 0,
                              2,    10, 203, 0, 113,  7,    0x9c, 0x40, 0x01, 0xbb, 0, 0, 0,   1,
                              0,    0,  0,   1, 0x50, 0x18, 0xfa, 0xf0, 0,    0,    0, 0};
    const size_t total = p.size() + payload.size();
    p[2] = static_cast<uint8_t>(total >> 8);
    p[3] = static_cast<uint8_t>(total);
    p.insert(p.end(), payload.begin(), payload.end());
    return p;
}

// A record as the kernel writes it: the header, then `packet` (at most the capture size).
std::vector<uint8_t> first_record(const std::vector<uint8_t>& packet, uint32_t wire_len) {
    em_first f{};
    f.hdr.kind = EM_FIRST;
    f.hdr.time_ns = 5000000000;
    f.hdr.task.cookie = 77;
    f.hdr.task.pid = 4242;
    f.hdr.task.uid = 1000;
    f.hdr.task.cgroup_id = 99;
    f.wire_len = wire_len;
    const size_t n = std::min(packet.size(), sizeof f.data);
    if (n != 0)  // an empty vector's data() may be null, which memcpy must not get
        std::memcpy(f.data, packet.data(), n);
    const auto* b = reinterpret_cast<const uint8_t*>(&f);
    return {b, b + offsetof(em_first, data) + n};
}

const std::vector<uint8_t> kHttp = {'G', 'E', 'T', ' ',  '/',  ' ', 'H',  'T',  'T',  'P', '/',
                                    '1', '.', '1', '\r', '\n', 'H', 'o',  's',  't',  ':', ' ',
                                    'a', '.', 't', 'e',  's',  't', '\r', '\n', '\r', '\n'};

// Decodes `rec` from an aligned copy, as the ring buffer hands records over; the views in
// `r` stay valid until the next call.
bool decode(const std::vector<uint8_t>& rec, EbpfRecord& r, std::string& why) {
    static std::vector<uint64_t> aligned;
    aligned.assign(rec.size() / 8 + 1, 0);
    std::memcpy(aligned.data(), rec.data(), rec.size());
    return decode_ebpf_record(aligned.data(), rec.size(), r, why);
}

TEST(EbpfFirstRecord, CarriesThePacketAndTheConnectingProcess) {
    auto packet = tcp_packet(kHttp);
    EbpfRecord r;
    std::string why;
    ASSERT_TRUE(decode(first_record(packet, static_cast<uint32_t>(packet.size())), r, why)) << why;
    EXPECT_EQ(r.kind, EbpfRecord::Kind::first);
    EXPECT_EQ(r.time_ns, 5000000000u);
    EXPECT_EQ(r.task.pid, 4242u);
    EXPECT_EQ(r.task.uid, 1000u);
    EXPECT_EQ(r.task.cookie, 77u);
    EXPECT_EQ(r.task.cgroup_id, 99u);
    ASSERT_EQ(r.packet_len, packet.size());
    EXPECT_EQ(r.wire_len, packet.size());
    EXPECT_EQ(std::memcmp(r.packet, packet.data(), packet.size()), 0);
    PacketInfo p;
    ASSERT_TRUE(decode_ip_packet(r.packet, r.packet_len, p, why)) << why;
    EXPECT_EQ(p.proto, kProtoTcp);
    EXPECT_EQ(p.dport, 443);
    EXPECT_EQ(p.dst.to_string(), "203.0.113.7");
    ASSERT_EQ(p.payload_len, kHttp.size());
    EXPECT_EQ(std::memcmp(p.payload, kHttp.data(), kHttp.size()), 0);
}

TEST(EbpfFirstRecord, CutAtTheCaptureSize) {
    auto packet = tcp_packet(std::vector<uint8_t>(3000, 'x'));
    EbpfRecord r;
    std::string why;
    ASSERT_TRUE(decode(first_record(packet, static_cast<uint32_t>(packet.size())), r, why)) << why;
    EXPECT_EQ(r.packet_len, size_t{EM_FIRST_CAP});
    EXPECT_EQ(r.wire_len, packet.size());
    PacketInfo p;
    ASSERT_TRUE(decode_ip_packet(r.packet, r.packet_len, p, why)) << why;
    EXPECT_EQ(p.payload_len, EM_FIRST_CAP - 40u);
    EXPECT_EQ(p.payload_wire_len, 3000u);
}

TEST(EbpfFirstRecord, LyingLengthsAreRejected) {
    auto packet = tcp_packet(kHttp);
    const auto n = static_cast<uint32_t>(packet.size());
    EbpfRecord r;
    std::string why;
    // No packet at all.
    auto empty = first_record({}, 0);
    EXPECT_FALSE(decode(empty, r, why));
    EXPECT_NE(why.find("first-packet record of 96 bytes"), std::string::npos) << why;
    // Shorter than its header.
    auto rec = first_record(packet, n);
    EXPECT_FALSE(decode({rec.begin(), rec.begin() + 60}, r, why));
    // More bytes than the packet had.
    why.clear();
    EXPECT_FALSE(decode(first_record(packet, n - 1), r, why));
    EXPECT_NE(why.find("more bytes than the packet had"), std::string::npos) << why;
    // Cut short though it was under the capture size.
    why.clear();
    EXPECT_FALSE(decode(first_record(packet, n + 100), r, why));
    EXPECT_NE(why.find("cut short"), std::string::npos) << why;
    // Longer than any record the kernel writes.
    auto big = first_record(tcp_packet(std::vector<uint8_t>(3000, 'x')), 3040);
    big.resize(big.size() + 1, 0);
    why.clear();
    EXPECT_FALSE(decode(big, r, why));
    EXPECT_NE(why.find("first-packet record of"), std::string::npos) << why;
}

}  // namespace
}  // namespace em
