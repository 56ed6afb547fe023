// nlmsg_whole_prefix: what of a receive buffer may be handed to libmnl's walk.
#include "common/netlink.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace em {
namespace {

// Messages of the given nlmsg_len values, each at its aligned offset, in a buffer of `len`
// bytes (at least what they take).
std::vector<uint32_t> messages(std::initializer_list<uint32_t> lens, size_t len) {
    std::vector<uint32_t> words(len / 4 + 1, 0);
    size_t off = 0;
    for (uint32_t l : lens) {
        nlmsghdr h{};
        h.nlmsg_len = l;
        std::memcpy(reinterpret_cast<char*>(words.data()) + off, &h, sizeof h);
        off += NLMSG_ALIGN(l);
    }
    return words;
}

TEST(NlmsgWholePrefix, WholeAlignedMessagesAreAll) {
    auto b = messages({32, 40}, 72);
    EXPECT_EQ(nlmsg_whole_prefix(b.data(), 72), 72u);
}

TEST(NlmsgWholePrefix, AClaimBeyondTheBufferIsLeftOut) {
    auto b = messages({32, 400}, 72);
    EXPECT_EQ(nlmsg_whole_prefix(b.data(), 72), 32u);
    auto c = messages({16}, 16);
    reinterpret_cast<nlmsghdr*>(c.data())->nlmsg_len = 8;  // shorter than its header
    EXPECT_EQ(nlmsg_whole_prefix(c.data(), 16), 0u);
}

// NFQUEUE's messages end with the packet, unpadded: the last message of a buffer may lack
// its padding and is whole all the same.
TEST(NlmsgWholePrefix, AnUnpaddedLastMessageIsWhole) {
    auto b = messages({32, 38}, 70);
    EXPECT_EQ(nlmsg_whole_prefix(b.data(), 70), 70u);
}

// An attribute is the message's only when it ends within nlmsg_len, not in the padding.
TEST(NlattrWithin, AnAttributeIntoThePaddingIsNot) {
    auto b = messages({38}, 40);
    auto* nlh = reinterpret_cast<nlmsghdr*>(b.data());
    auto* a = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(b.data()) + 20);
    a->nla_len = 18;  // 20 + 18 = 38: the message's last byte
    EXPECT_TRUE(nlattr_within(nlh, a));
    a->nla_len = 19;  // one byte into the padding
    EXPECT_FALSE(nlattr_within(nlh, a));
}

}  // namespace
}  // namespace em
