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

// libmnl reads a message's attributes up to its aligned end: a last message whose padding
// is not in the buffer is left out (nflog_fuzz found one whose attribute ran a byte past).
TEST(NlmsgWholePrefix, ALastMessageWithoutItsPaddingIsLeftOut) {
    auto b = messages({32, 38}, 70);
    EXPECT_EQ(nlmsg_whole_prefix(b.data(), 70), 32u);
    EXPECT_EQ(nlmsg_whole_prefix(b.data(), 72), 72u);  // padding there: whole
}

}  // namespace
}  // namespace em
