#include "enforce/reverse_lookups.h"

#include <gtest/gtest.h>

namespace em {

namespace {
IpAddress ip(const char* s) { return *IpAddress::parse(s); }
}  // namespace

TEST(ReverseLookups, PrivateAddressesAreNotLookedUpAsInEgressEddie) {
    for (const char* p : {"10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255",
                          "192.168.1.1", "fc00::1", "fdff::1"})
        EXPECT_TRUE(is_private_address(ip(p))) << p;
    for (const char* p : {"9.255.255.255", "11.0.0.0", "172.15.255.255", "172.32.0.0",
                          "192.167.1.1", "192.0.2.1", "fe80::1", "2001:db8::1", "fbff::1"})
        EXPECT_FALSE(is_private_address(ip(p))) << p;
}

TEST(ReverseLookups, RefusedUntilStarted) {
    // Not started: nothing is queued (the loop then drops the packet with its reason).
    ReverseLookups l;
    EXPECT_FALSE(l.request(ip("192.0.2.1")));
    std::vector<std::pair<IpAddress, std::string>> out;
    l.take(out);
    EXPECT_TRUE(out.empty());
}

}  // namespace em
