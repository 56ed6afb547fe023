// Fuzzes the conntrack source's netlink walks (sources/conntrack/): the input is one
// datagram as recvmmsg() returns it, walked as ctnetlink NEW events (libnetfilter_conntrack
// parses the attributes) and as rtnetlink address notifications applied to the host
// address set. Events carry both addresses, ports only for protocols that have them; the
// address set is a set (applying the same datagram again changes nothing).
#include <netinet/in.h>

#include <cstdint>
#include <optional>

#include "netlink_common.h"
#include "sources/conntrack/conntrack.h"
#include "sources/conntrack/host_addresses.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    em_fuzz::AlignedInput in(data, size);
    uint64_t events = 0, flows = 0;
    bool whole = em::walk_conntrack_datagram(
        in.data(), in.size(), [&](const std::optional<em::PacketMeta>& m) {
            ++events;
            if (!m) return;
            ++flows;
            if (!m->src.is_set() || !m->dst.is_set()) __builtin_trap();
            if (m->src.is_v4() != m->dst.is_v4()) __builtin_trap();
            bool ports = m->proto == IPPROTO_TCP || m->proto == IPPROTO_UDP ||
                         m->proto == IPPROTO_UDPLITE || m->proto == IPPROTO_SCTP ||
                         m->proto == IPPROTO_DCCP;
            if (!ports && (m->sport != 0 || m->dport != 0)) __builtin_trap();
        });
    if (events > size / 16 || flows > events) __builtin_trap();
    // The first message alone, as the unit tests decode it.
    if (auto m = em::decode_conntrack_message(in.data(), in.size())) {
        if (!m->src.is_set() || events == 0) __builtin_trap();
    }
    (void)whole;

    em::HostAddressSet set;
    (void)set.apply_datagram(in.data(), in.size());
    if (set.size() > size / 16) __builtin_trap();
    size_t once = set.size();
    (void)set.apply_datagram(in.data(), in.size());
    if (set.size() != once) __builtin_trap();
    return 0;
}
