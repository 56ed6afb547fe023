#include "sources/conntrack/conntrack.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>

#include <tuple>
#include <vector>

#include "sources/conntrack/host_addresses.h"

namespace em {

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// ---------------------------------------------------------------------------------------
// Decoding, without a kernel: messages built by libnetfilter_conntrack itself.

using Conntrack = std::unique_ptr<nf_conntrack, Deleter<nfct_destroy>>;

std::vector<char> build_ct(const nf_conntrack* ct, uint8_t family,
                           uint8_t msg = IPCTNL_MSG_CT_NEW) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
    nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    auto* nfh = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfh->nfgen_family = family;
    nfh->version = NFNETLINK_V0;
    EXPECT_EQ(nfct_nlmsg_build(nlh, ct), 0);
    buf.resize(nlh->nlmsg_len);
    return buf;
}

Conntrack v4_tcp() {
    Conntrack ct(nfct_new());
    nfct_set_attr_u8(ct.get(), ATTR_L3PROTO, AF_INET);
    nfct_set_attr_u32(ct.get(), ATTR_IPV4_SRC, inet_addr("192.0.2.1"));
    nfct_set_attr_u32(ct.get(), ATTR_IPV4_DST, inet_addr("198.51.100.7"));
    nfct_set_attr_u8(ct.get(), ATTR_L4PROTO, IPPROTO_TCP);
    nfct_set_attr_u16(ct.get(), ATTR_PORT_SRC, htons(40000));
    nfct_set_attr_u16(ct.get(), ATTR_PORT_DST, htons(443));
    nfct_set_attr_u32(ct.get(), ATTR_TIMEOUT, 120);
    nfct_set_attr_u32(ct.get(), ATTR_MARK, 7);
    return ct;
}

TEST(ConntrackDecode, Ipv4Tcp) {
    auto ct = v4_tcp();
    auto msg = build_ct(ct.get(), AF_INET);
    auto m = decode_conntrack_message(msg.data(), msg.size());
    ASSERT_TRUE(m);
    EXPECT_EQ(m->proto, IPPROTO_TCP);
    EXPECT_EQ(m->src, ip("192.0.2.1"));
    EXPECT_EQ(m->dst, ip("198.51.100.7"));
    EXPECT_EQ(m->sport, 40000);
    EXPECT_EQ(m->dport, 443);
    EXPECT_EQ(m->time_ms, 0);
    EXPECT_FALSE(m->owner.uid);
}

TEST(ConntrackDecode, Ipv6Udp) {
    Conntrack ct(nfct_new());
    in6_addr s{}, d{};
    inet_pton(AF_INET6, "2001:db8::1", &s);
    inet_pton(AF_INET6, "2001:db8:ffff::53", &d);
    nfct_set_attr_u8(ct.get(), ATTR_L3PROTO, AF_INET6);
    nfct_set_attr(ct.get(), ATTR_IPV6_SRC, &s);
    nfct_set_attr(ct.get(), ATTR_IPV6_DST, &d);
    nfct_set_attr_u8(ct.get(), ATTR_L4PROTO, IPPROTO_UDP);
    nfct_set_attr_u16(ct.get(), ATTR_PORT_SRC, htons(5353));
    nfct_set_attr_u16(ct.get(), ATTR_PORT_DST, htons(53));
    auto msg = build_ct(ct.get(), AF_INET6);
    auto m = decode_conntrack_message(msg.data(), msg.size());
    ASSERT_TRUE(m);
    EXPECT_EQ(m->proto, IPPROTO_UDP);
    EXPECT_EQ(m->src, ip("2001:db8::1"));
    EXPECT_EQ(m->dst, ip("2001:db8:ffff::53"));
    EXPECT_EQ(m->sport, 5353);
    EXPECT_EQ(m->dport, 53);
}

TEST(ConntrackDecode, IcmpHasNoPorts) {
    Conntrack ct(nfct_new());
    nfct_set_attr_u8(ct.get(), ATTR_L3PROTO, AF_INET);
    nfct_set_attr_u32(ct.get(), ATTR_IPV4_SRC, inet_addr("192.0.2.1"));
    nfct_set_attr_u32(ct.get(), ATTR_IPV4_DST, inet_addr("192.0.2.2"));
    nfct_set_attr_u8(ct.get(), ATTR_L4PROTO, IPPROTO_ICMP);
    nfct_set_attr_u8(ct.get(), ATTR_ICMP_TYPE, ICMP_ECHO);
    nfct_set_attr_u8(ct.get(), ATTR_ICMP_CODE, 0);
    nfct_set_attr_u16(ct.get(), ATTR_ICMP_ID, htons(4242));
    auto msg = build_ct(ct.get(), AF_INET);
    auto m = decode_conntrack_message(msg.data(), msg.size());
    ASSERT_TRUE(m);
    EXPECT_EQ(m->proto, IPPROTO_ICMP);
    EXPECT_EQ(m->sport, 0);
    EXPECT_EQ(m->dport, 0);
}

TEST(ConntrackDecode, RejectsOtherTypesAndMissingTuple) {
    auto ct = v4_tcp();
    auto del = build_ct(ct.get(), AF_INET, IPCTNL_MSG_CT_DELETE);
    EXPECT_FALSE(decode_conntrack_message(del.data(), del.size()));
    // A NEW message with attributes but no original tuple (nfct_nlmsg_build refuses one).
    std::vector<char> msg(256);
    nlmsghdr* nlh = mnl_nlmsg_put_header(msg.data());
    nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
    auto* nfh = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfh->nfgen_family = AF_INET;
    mnl_attr_put_u32(nlh, CTA_MARK, htonl(1));
    msg.resize(nlh->nlmsg_len);
    EXPECT_FALSE(decode_conntrack_message(msg.data(), msg.size()));
    EXPECT_FALSE(decode_conntrack_message(msg.data(), 3));
}

TEST(ConntrackDecode, TruncatedMessagesAreRejectedOrExact) {
    auto ct = v4_tcp();
    const auto whole = build_ct(ct.get(), AF_INET);
    const auto full = decode_conntrack_message(whole.data(), whole.size());
    ASSERT_TRUE(full);
    for (size_t len = 0; len < whole.size(); ++len) {
        // Exact-size copies, so the sanitizer build sees any read past the end.
        std::vector<char> cut(whole.begin(), whole.begin() + static_cast<ptrdiff_t>(len));
        EXPECT_FALSE(decode_conntrack_message(cut.data(), cut.size())) << len;
        if (len < sizeof(nlmsghdr)) continue;
        reinterpret_cast<nlmsghdr*>(cut.data())->nlmsg_len = static_cast<uint32_t>(len);
        auto m = decode_conntrack_message(cut.data(), cut.size());
        if (m) {  // the tuple came before the cut
            EXPECT_EQ(m->src, full->src) << len;
            EXPECT_EQ(m->dst, full->dst) << len;
            EXPECT_EQ(m->dport, full->dport) << len;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The address set, fed hand-built rtnetlink messages.

std::vector<char> addr_msg(uint16_t type, uint8_t family, uint32_t ifindex, const char* local,
                           const char* address) {
    std::vector<char> buf(512);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = type;
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = family;
    ifa->ifa_index = ifindex;
    uint8_t bytes[16];
    const size_t len = family == AF_INET ? 4 : 16;
    if (address) {
        inet_pton(family, address, bytes);
        mnl_attr_put(nlh, IFA_ADDRESS, len, bytes);
    }
    if (local) {
        inet_pton(family, local, bytes);
        mnl_attr_put(nlh, IFA_LOCAL, len, bytes);
    }
    buf.resize(nlh->nlmsg_len);
    return buf;
}

bool apply_msg(HostAddressSet& set, const std::vector<char>& m) {
    return set.apply(reinterpret_cast<const nlmsghdr*>(m.data()));
}

TEST(HostAddressSet, LocalAttributeWinsOverPeer) {
    HostAddressSet set;
    // Point-to-point: IFA_LOCAL is ours, IFA_ADDRESS the peer's.
    EXPECT_TRUE(apply_msg(set, addr_msg(RTM_NEWADDR, AF_INET, 3, "10.0.0.1", "10.0.0.2")));
    EXPECT_TRUE(set.contains(ip("10.0.0.1")));
    EXPECT_FALSE(set.contains(ip("10.0.0.2")));
    // IPv6 usually sends only IFA_ADDRESS.
    EXPECT_TRUE(apply_msg(set, addr_msg(RTM_NEWADDR, AF_INET6, 3, nullptr, "2001:db8::5")));
    EXPECT_TRUE(set.contains(ip("2001:db8::5")));
    EXPECT_EQ(set.size(), 2u);
    // A repeated RTM_NEWADDR (IPv6 flag changes) does not duplicate.
    EXPECT_TRUE(apply_msg(set, addr_msg(RTM_NEWADDR, AF_INET6, 3, nullptr, "2001:db8::5")));
    EXPECT_EQ(set.size(), 2u);
}

TEST(HostAddressSet, SameAddressOnTwoInterfaces) {
    HostAddressSet set;
    EXPECT_TRUE(apply_msg(set, addr_msg(RTM_NEWADDR, AF_INET, 2, "192.0.2.9", "192.0.2.9")));
    EXPECT_TRUE(apply_msg(set, addr_msg(RTM_NEWADDR, AF_INET, 5, "192.0.2.9", "192.0.2.9")));
    EXPECT_TRUE(apply_msg(set, addr_msg(RTM_DELADDR, AF_INET, 2, "192.0.2.9", "192.0.2.9")));
    EXPECT_TRUE(set.contains(ip("192.0.2.9")));
    EXPECT_TRUE(apply_msg(set, addr_msg(RTM_DELADDR, AF_INET, 5, "192.0.2.9", "192.0.2.9")));
    EXPECT_FALSE(set.contains(ip("192.0.2.9")));
    EXPECT_EQ(set.size(), 0u);
}

TEST(HostAddressSet, MalformedAndForeign) {
    HostAddressSet set;
    EXPECT_FALSE(apply_msg(set, addr_msg(RTM_NEWADDR, AF_INET, 1, nullptr, nullptr)));
    {
        std::vector<char> buf(512);
        nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
        nlh->nlmsg_type = RTM_NEWADDR;
        auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
        ifa->ifa_family = AF_INET6;
        mnl_attr_put_u32(nlh, IFA_ADDRESS, 1);  // 4 bytes for an IPv6 address
        EXPECT_FALSE(set.apply(nlh));
    }
    // Link messages are not address messages: ignored, not malformed.
    auto link = addr_msg(RTM_NEWLINK, AF_INET, 1, "192.0.2.1", nullptr);
    EXPECT_TRUE(apply_msg(set, link));
    EXPECT_EQ(set.size(), 0u);
}

}  // namespace

}  // namespace em
