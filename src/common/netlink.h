#pragma once
// Netlink buffer checks that libmnl (1.0.4) gets wrong: mnl_nlmsg_ok compares
// (int)nlmsg_len with the bytes left, so a length of 2^31 or more passes, and
// mnl_nlmsg_next (and mnl_cb_run's walk) then jumps outside the buffer (found by
// tests/fuzz/nflog_fuzz). Header-only: <linux/netlink.h> is all it needs.
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>

namespace em {

/// True when a whole message of a sane length starts at `nlh`, within `len` bytes.
inline bool nlmsg_fits(const nlmsghdr* nlh, int64_t len) {
    return len >= static_cast<int64_t>(sizeof(nlmsghdr)) && nlh->nlmsg_len >= sizeof(nlmsghdr) &&
           nlh->nlmsg_len <= static_cast<uint64_t>(len);
}

/// How many leading bytes of `buf` (aligned for nlmsghdr) are whole messages: what may be
/// handed to mnl_cb_run. Less than `len` when a message claims more than is there. The last
/// message may lack its padding to 4 bytes: NFQUEUE's end with the packet, unpadded. libmnl
/// then walks its attributes up to the aligned end, up to 3 bytes past `len` — inside any
/// receive buffer whose size is a multiple of 4 (every one here) — so an attribute is used
/// only when nlattr_within its message.
inline size_t nlmsg_whole_prefix(const void* buf, size_t len) {
    const auto* p = static_cast<const char*>(buf);
    size_t off = 0;
    while (
        nlmsg_fits(reinterpret_cast<const nlmsghdr*>(p + off), static_cast<int64_t>(len - off))) {
        const size_t step = NLMSG_ALIGN(reinterpret_cast<const nlmsghdr*>(p + off)->nlmsg_len);
        if (step >= len - off) return len;
        off += step;
    }
    return off;
}

/// True when attribute `a` (of the message `nlh`) ends within the message's nlmsg_len, not in
/// the padding after it (nflog_fuzz: a 126-byte message whose payload ran to byte 127).
inline bool nlattr_within(const nlmsghdr* nlh, const nlattr* a) {
    return reinterpret_cast<const char*>(a) + a->nla_len <=
           reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
}

}  // namespace em
