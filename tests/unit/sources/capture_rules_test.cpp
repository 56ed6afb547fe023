#include "sources/nflog/capture_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace em {
namespace {

size_t count(const std::string& s, const std::string& what) {
    size_t n = 0;
    for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
}

TEST(CaptureRules, FirstPayloadRulesAreBoundedByTheirOwnMarkBit) {
    CaptureRules r;
    const std::string nft = nft_capture_script(r);
    // The flow rule is unchanged; three first-payload rules (UDP 443, TCP over IPv4 and IPv6),
    // each with its own "looked" bit and 2048 bytes, after the loopback return.
    EXPECT_EQ(count(nft, "log prefix \"em-flow\" group 5353 snaplen 128"), 1u);
    EXPECT_EQ(count(nft, "log prefix \"em-first\" group 5353 snaplen 2048"), 3u);
    EXPECT_EQ(
        count(nft, "ct mark and 0x40 == 0 ct mark set ct mark or 0x40 log prefix \"em-first\""),
        3u);
    EXPECT_NE(nft.find("udp dport 443 ct state new ct mark and 0x40"), std::string::npos);
    EXPECT_NE(nft.find("meta nfproto ipv4 meta l4proto tcp ct direction original ct state "
                       "established meta length > 80 "),
              std::string::npos);
    EXPECT_NE(nft.find("meta nfproto ipv6 meta l4proto tcp ct direction original ct state "
                       "established meta length > 100 "),
              std::string::npos);
    EXPECT_LT(nft.find("oif \"lo\" return"), nft.find("em-first"));
    EXPECT_NE(r.first_mark_bit, r.ct_mark_bit);
}

}  // namespace
}  // namespace em
