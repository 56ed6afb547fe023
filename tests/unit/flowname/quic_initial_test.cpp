#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "flowname/first_packet.h"
#include "flowname/quic_keys.h"

namespace em {
namespace {

using Bytes = std::vector<uint8_t>;
using Status = FirstPacketDecode::Status;

Bytes from_hex(const std::string& hex) {
    Bytes out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

Bytes rfc_packet(const char* file) {
    std::ifstream in(std::string(EM_TEST_DATA) + "/quic/" + file);
    std::string hex((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
    return from_hex(hex);
}

std::string hex_of(const uint8_t* p, size_t n) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i) s += {d[p[i] >> 4], d[p[i] & 15]};
    return s;
}

TEST(QuicKeys, ClientInitialKeysAreRfc9001AppendixA1) {
    const Bytes dcid = from_hex("8394c8f03e515708");
    QuicInitialKeys k;
    ASSERT_TRUE(quic_client_initial_keys(kQuicV1, dcid.data(), dcid.size(), k));
    EXPECT_EQ(hex_of(k.key, 16), "1f369613dd76d5467730efcbe3b1a22d");
    EXPECT_EQ(hex_of(k.iv, 12), "fa044b2f42a3fd3b46fb255c");
    EXPECT_EQ(hex_of(k.hp, 16), "9f50449e04a0e810283a1e9933adedd2");
    const Bytes sample = from_hex("d1b1c98dd7689fb8ec11d242b123dc9b");
    uint8_t mask[16];
    ASSERT_TRUE(quic_header_mask(k.hp, sample.data(), mask));
    EXPECT_EQ(hex_of(mask, 5), "437b9aec36");  // RFC 9001 A.2
}

TEST(QuicKeys, ClientInitialKeysAreRfc9369AppendixA1) {
    const Bytes dcid = from_hex("8394c8f03e515708");
    QuicInitialKeys k;
    ASSERT_TRUE(quic_client_initial_keys(kQuicV2, dcid.data(), dcid.size(), k));
    EXPECT_EQ(hex_of(k.key, 16), "8b1a0bc121284290a29e0971b5cd045d");
    EXPECT_EQ(hex_of(k.iv, 12), "91f73e2351d8fa91660e909f");
    EXPECT_EQ(hex_of(k.hp, 16), "45b95e15235d6f45a6b19cbcb0294ba9");
    EXPECT_FALSE(quic_client_initial_keys(0xff00001d, dcid.data(), dcid.size(), k));
}

TEST(QuicInitial, TheRfc9001ClientInitialNamesExampleCom) {
    const Bytes p = rfc_packet("rfc9001_a2_client_initial.hex");
    ASSERT_EQ(p.size(), 1200u);
    FirstPacketDecode d = decode_quic_initial(p.data(), p.size());
    ASSERT_EQ(d.status, Status::found) << d.reason;
    EXPECT_EQ(d.name.protocol, FirstPacketProtocol::quic);
    EXPECT_EQ(d.name.name, "example.com");
    EXPECT_EQ(d.name.alpn, "alpn");
    EXPECT_FALSE(d.name.ech);
}

TEST(QuicInitial, TheRfc9369Version2ClientInitialNamesExampleCom) {
    const Bytes p = rfc_packet("rfc9369_a2_client_initial.hex");
    FirstPacketDecode d = decode_quic_initial(p.data(), p.size());
    ASSERT_EQ(d.status, Status::found) << d.reason;
    EXPECT_EQ(d.name.name, "example.com");
}

TEST(QuicInitial, AnyChangedByteFailsTheTagOrTheHeader) {
    const Bytes good = rfc_packet("rfc9001_a2_client_initial.hex");
    for (size_t at : {size_t{30}, size_t{600}, good.size() - 1}) {
        Bytes p = good;
        p[at] ^= 0x01;
        FirstPacketDecode d = decode_quic_initial(p.data(), p.size());
        EXPECT_EQ(d.status, Status::malformed) << at;
        EXPECT_STREQ(d.reason, "QUIC Initial does not decrypt with its connection id's keys");
    }
    Bytes p = good;
    p[6] ^= 0x01;  // the destination connection id: other keys
    EXPECT_EQ(decode_quic_initial(p.data(), p.size()).status, Status::malformed);
}

TEST(QuicInitial, HostileLengthsAreRefusedNotFollowed) {
    Bytes p = rfc_packet("rfc9001_a2_client_initial.hex");
    // Cut the datagram: the Length field (1182) now runs past its end.
    FirstPacketDecode d = decode_quic_initial(p.data(), 600);
    EXPECT_EQ(d.status, Status::malformed);
    EXPECT_EQ(d.name.protocol, FirstPacketProtocol::quic);  // counted as QUIC, not TLS
    EXPECT_STREQ(d.reason, "QUIC Initial longer than its datagram");
    Bytes bad = p;
    bad[5] = 21;  // a destination connection id longer than 20 bytes
    EXPECT_EQ(decode_quic_initial(bad.data(), bad.size()).status, Status::malformed);
    bad = p;
    bad[16] = 0x7f;  // token length 0x7f... (a two-byte varint 0x3f00): past the end
    bad[17] = 0x00;
    EXPECT_EQ(decode_quic_initial(bad.data(), bad.size()).status, Status::malformed);
    for (size_t n = 0; n < 64; ++n) decode_quic_initial(p.data(), n);  // no crash, no read past n
}

TEST(QuicInitial, OtherPacketsAndVersionsAreNotQuicInitials) {
    Bytes p = rfc_packet("rfc9001_a2_client_initial.hex");
    Bytes q = p;
    q[0] = 0x40;  // a short header
    EXPECT_EQ(decode_quic_initial(q.data(), q.size()).status, Status::not_protocol);
    q = p;
    q[0] = 0xe0;  // a Handshake packet (type 2)
    EXPECT_EQ(decode_quic_initial(q.data(), q.size()).status, Status::not_protocol);
    q = p;
    q[4] = 0x1d;  // version 0x0000011d: unknown
    EXPECT_EQ(decode_quic_initial(q.data(), q.size()).status, Status::not_protocol);
    const Bytes dns = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(decode_quic_initial(dns.data(), dns.size()).status, Status::not_protocol);
}

}  // namespace
}  // namespace em
