// Fuzzes the NFQUEUE source's netlink walk and verdicts (sources/nfqueue/nfqueue.h): the
// input is one datagram as recvmmsg() returns it; each packet goes to the handler, and the
// verdict messages judge() builds must be well-formed netlink that says what was decided:
// failing closed with a handler that accepts nothing, no packet is ever accepted; failing
// open with one that accepts everything, only packets without payload are dropped. Each
// packet's conntrack state (NFQA_CT_INFO) goes through the verdicts' reading of it.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "enforce/engine.h"
#include "netlink_common.h"
#include "packet/packet.h"
#include "sources/nfqueue/nfqueue.h"

namespace {

// Walks the verdicts; returns how many there were, counting the ACCEPTs and DROPs.
uint64_t walk_verdicts(std::string_view out, uint64_t& accepts, uint64_t& drops) {
    // The view points into the source's own buffer, which is aligned.
    int left = static_cast<int>(out.size());
    uint64_t n = 0;
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(out.data()); mnl_nlmsg_ok(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left)) {
        ++n;
        const uint16_t type = nlh->nlmsg_type;
        if (type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT) &&
            type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT_BATCH))
            __builtin_trap();
        const nlattr* v = nullptr;
        const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
        for (auto* attr =
                 static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
             mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr)));
             attr = mnl_attr_next(attr))
            if (mnl_attr_get_type(attr) == NFQA_VERDICT_HDR) v = attr;
        if (!v || mnl_attr_get_payload_len(v) != sizeof(nfqnl_msg_verdict_hdr)) __builtin_trap();
        const auto* hdr = static_cast<const nfqnl_msg_verdict_hdr*>(mnl_attr_get_payload(v));
        const uint32_t verdict = ntohl(hdr->verdict);
        if (verdict == NF_ACCEPT)
            ++accepts;
        else if (verdict == NF_DROP)
            ++drops;
        else
            __builtin_trap();
    }
    if (left != 0) __builtin_trap();
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    em_fuzz::AlignedInput in(data, size);
    const std::string_view datagram(reinterpret_cast<const char*>(in.data()), in.size());
    std::string why;
    for (bool fail_open : {false, true}) {
        auto src = em::NfqueueSource::detached(fail_open);
        uint64_t seen = 0;
        auto handler = [&](uint16_t, const uint8_t* p, size_t len,
                           const em::NfqueueSource::Meta& meta) {
            ++seen;
            if (!in.holds(p, len)) __builtin_trap();
            // Only NEW, ESTABLISHED, RELATED and their replies are tracked states.
            if (em::ct_state(meta.ct_info) != em::CtState::untracked &&
                (!meta.ct_info || *meta.ct_info > 4))
                __builtin_trap();
            em::PacketInfo info;
            (void)em::decode_ip_packet(p, len, info, why);
            return fail_open;  // open: accept everything; closed: nothing
        };
        std::string_view out = src->judge(std::span(&datagram, 1), handler);
        uint64_t accepts = 0, drops = 0;
        const auto& c = src->counters();
        if (walk_verdicts(out, accepts, drops) != c.verdict_messages) __builtin_trap();
        if (seen > c.packets) __builtin_trap();
        if (!fail_open && accepts != 0) __builtin_trap();
        if (fail_open && drops > c.packets - seen) __builtin_trap();
        if (c.packets > 0 && c.verdict_messages == 0) __builtin_trap();  // nothing left waiting
    }
    return 0;
}
