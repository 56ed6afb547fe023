#include "common/ip_address.h"

#include <gtest/gtest.h>

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

}  // namespace em
