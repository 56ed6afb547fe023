#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/batch.h"
#include "core/domain_table.h"
#include "core/ip_table.h"

namespace em {

namespace {
IpAddress ip(const char* text) { return *IpAddress::parse(text); }
}  // namespace

TEST(IpTable, ForEachVisitsInAddressOrderAcrossGrowth) {
    IpTable<int> t;
    std::vector<IpAddress> added;
    // Enough keys to grow the table several times; inserted in a scrambled order.
    for (uint32_t i = 0; i < 5000; ++i) {
        uint32_t k = i * 7919 % 5000;  // 7919 is prime: a permutation
        uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
        v6[14] = static_cast<uint8_t>(k >> 8);
        v6[15] = static_cast<uint8_t>(k);
        IpAddress a = k % 3 == 0 ? IpAddress::v6(v6) : IpAddress::v4(0xC0000200u + k);
        t[a] += 1;
        added.push_back(a);
    }
    std::vector<IpAddress> seen;
    t.for_each([&](const IpAddress& a, int n) {
        EXPECT_EQ(n, 1);
        seen.push_back(a);
    });
    std::sort(added.begin(), added.end());
    EXPECT_EQ(seen, added);
    EXPECT_TRUE(seen.front().is_v4());
    EXPECT_TRUE(seen.back().is_v6());

    size_t unordered = 0;
    t.for_each_unordered([&](const IpAddress&, int) { ++unordered; });
    EXPECT_EQ(unordered, added.size());
}

TEST(IpTable, AMovedFromTableIsEmpty) {
    IpTable<int> a;
    a[ip("192.0.2.1")] = 7;
    IpTable<int> b(std::move(a));
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract under test
    EXPECT_EQ(a.find(ip("192.0.2.1")), nullptr);
    a[ip("192.0.2.2")] = 1;  // still usable
    EXPECT_EQ(a.size(), 1u);
    IpTable<int> c;
    c = std::move(b);
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(c.at(ip("192.0.2.1")), 7);
}

// consolidate merges a dnsmasq batch (no addresses) first, then one batch per kernel-log
// worker: the first of those hands over its table, the next ones are added to it.
TEST(Batch, MergeIntoABatchWithoutAddressesTakesTheTableWhole) {
    Batch total, dns, k1, k2;
    dns.add_query("x.test", 10);
    k1.add_flow(ip("192.0.2.1"), 10);
    k1.add_flow(ip("192.0.2.1"), 12);
    k1.add_flow(ip("2001:db8::1"), 11);
    k2.add_flow(ip("192.0.2.1"), 11);
    k2.add_flow(ip("198.51.100.7"), 20);
    total.merge(std::move(dns));
    total.merge(std::move(k1));
    EXPECT_TRUE(k1.ips().empty());  // NOLINT(bugprone-use-after-move): merged away
    total.merge(std::move(k2));
    ASSERT_EQ(total.ips().size(), 3u);
    EXPECT_EQ(total.ips().at(ip("192.0.2.1")).flows, 3u);
    EXPECT_EQ(total.ips().at(ip("192.0.2.1")).last_seen, 12);
    EXPECT_EQ(total.ips().at(ip("198.51.100.7")).flows, 1u);
    EXPECT_EQ(total.ips().at(ip("2001:db8::1")).last_seen, 11);
    EXPECT_EQ(total.domains().at("x.test").queries, 1u);
}

TEST(DomainTable, FindsNamesAcrossGrowthIncludingOverlongOnes) {
    DomainTable<int> t;
    for (int i = 0; i < 3000; ++i) t["n" + std::to_string(i) + ".test"] = i;
    const std::string long_name(70000, 'a');  // no DNS name, but the table takes any key
    t[long_name] = -1;
    t[long_name.substr(0, 65535)] = -2;
    for (int i = 0; i < 3000; ++i) {
        const int* v = t.find("n" + std::to_string(i) + ".test");
        ASSERT_NE(v, nullptr);
        EXPECT_EQ(*v, i);
    }
    EXPECT_EQ(t.at(long_name), -1);
    EXPECT_EQ(t.at(long_name.substr(0, 65535)), -2);
    EXPECT_EQ(t.find(long_name.substr(0, 65536)), nullptr);
    EXPECT_EQ(t.find("n3000.test"), nullptr);
    EXPECT_EQ(t.find("n1.tes"), nullptr);
    EXPECT_EQ(t.size(), 3002u);
    size_t i = 0;  // insertion order
    for (const auto& [name, v] : t) {
        if (i < 3000) {
            EXPECT_EQ(name, "n" + std::to_string(i) + ".test");
        }
        ++i;
    }
}

}  // namespace em
