#include "common/ip_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>

namespace em {

TEST(IpAddress, ParsesAndPrintsIpv4) {
    auto a = IpAddress::parse("140.82.112.5");
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->is_v4());
    EXPECT_EQ(a->to_string(), "140.82.112.5");
}

TEST(IpAddress, RejectsBadIpv4) {
    for (const char* s : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", "01234.1.1.1",
                          "a.b.c.d", "1..2.3", "1.2.3.4/24"})
        EXPECT_FALSE(IpAddress::parse(s)) << s;
}

TEST(IpAddress, KernelExpandedIpv6BecomesRfc5952) {
    auto a = IpAddress::parse("2001:0db8:0000:0000:0000:0000:0000:0001");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->to_string(), "2001:db8::1");
    // A single zero group is not compressed; the longest run is, the first on a tie.
    EXPECT_EQ(IpAddress::parse("2001:0db8:0000:0001:0001:0001:0001:0001")->to_string(),
              "2001:db8:0:1:1:1:1:1");
    EXPECT_EQ(IpAddress::parse("2001:0db8:0000:0000:0001:0000:0000:0001")->to_string(),
              "2001:db8::1:0:0:1");
    EXPECT_EQ(IpAddress::parse("2001:DB8::ABCD")->to_string(), "2001:db8::abcd");
}

TEST(IpAddress, LoopbackAndUnspecified) {
    EXPECT_TRUE(IpAddress::parse("127.0.0.53")->is_loopback());
    EXPECT_TRUE(IpAddress::parse("::1")->is_loopback());
    EXPECT_TRUE(IpAddress::parse("::ffff:127.0.0.1")->is_loopback());
    EXPECT_FALSE(IpAddress::parse("128.0.0.1")->is_loopback());
    EXPECT_TRUE(IpAddress::parse("0.0.0.0")->is_unspecified());
    EXPECT_TRUE(IpAddress::parse("::")->is_unspecified());
    EXPECT_FALSE(IpAddress::parse("::1")->is_unspecified());
}

TEST(IpAddress, OrdersNumericallyIpv4First) {
    auto a = *IpAddress::parse("9.0.0.1");
    auto b = *IpAddress::parse("10.0.0.1");
    auto c = *IpAddress::parse("::1");
    EXPECT_LT(a, b);
    EXPECT_LT(b, c);
    EXPECT_LT(a.key(), b.key());
    EXPECT_LT(b.key(), c.key());
    EXPECT_EQ(*IpAddress::from_key(c.key()), c);
    EXPECT_FALSE(IpAddress::from_key("xyz"));
}

// to_string is written by hand; it must be byte for byte inet_ntop's text (the files'
// contract, and what older collectors and ledgers hold): every pattern of zero and non-zero
// groups (zero runs of every length and place, ties), the dotted-quad forms, random values.
TEST(IpAddress, TextIsExactlyInetNtops) {
    auto check = [](const uint8_t b[16]) {
        char want[INET6_ADDRSTRLEN];
        ASSERT_NE(inet_ntop(AF_INET6, b, want, sizeof want), nullptr);
        EXPECT_EQ(IpAddress::v6(b).to_string(), want);
        char v4[INET_ADDRSTRLEN];
        ASSERT_NE(inet_ntop(AF_INET, b + 12, v4, sizeof v4), nullptr);
        uint32_t host =
            uint32_t{b[12]} << 24 | uint32_t{b[13]} << 16 | uint32_t{b[14]} << 8 | b[15];
        EXPECT_EQ(IpAddress::v4(host).to_string(), v4);
    };
    std::mt19937 rng(7);
    for (unsigned mask = 0; mask < 256; ++mask) {
        for (int round = 0; round < 8; ++round) {
            uint8_t b[16] = {};
            for (int g = 0; g < 8; ++g) {
                if (!(mask >> g & 1)) continue;
                unsigned w = round == 0 ? 1 : round == 1 ? 0xffff : 1 + rng() % 0xffff;
                b[2 * g] = static_cast<uint8_t>(w >> 8);
                b[2 * g + 1] = static_cast<uint8_t>(w);
            }
            check(b);
        }
    }
    uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
    check(mapped);
    uint8_t compat[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 9};
    check(compat);
    for (int i = 0; i < 20000; ++i) {
        uint8_t b[16];
        for (auto& x : b) x = static_cast<uint8_t>(rng() % 4 == 0 ? 0 : rng());
        check(b);
    }
    EXPECT_EQ(IpAddress().to_string(), "::");
}

}  // namespace em
