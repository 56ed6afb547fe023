// Fuzzes the NFLOG source's netlink walk (sources/nflog/nflog.h): the input is one buffer as
// recv() returns it from the nfnetlink_log socket — messages, attributes, the logged packet
// decoded down to the transport — then what the agent does next with a DNS packet or a
// flow's first payload (src/flowname). Packet views must stay inside the buffer, and the
// sequence-gap count must never take a number behind the expected one for billions of lost
// messages.
#include <cstdint>
#include <string>

#include "dns/dns_message.h"
#include "flowname/first_packet.h"
#include "netlink_common.h"
#include "sources/nflog/nflog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    em_fuzz::AlignedInput in(data, size);
    auto src = em::NflogSource::detached();
    constexpr int64_t kNow = 1795347335000;
    uint64_t handled = 0;
    auto handler = [&](em::NflogKind kind, const em::PacketMeta& m, const em::PacketInfo& p) {
        ++handled;
        if (m.time_ms != kNow || !m.src.is_set() || !m.dst.is_set()) __builtin_trap();
        if (m.src != p.src || m.dst != p.dst || m.sport != p.sport || m.dport != p.dport)
            __builtin_trap();
        if (!in.holds(p.payload, p.payload_len) || p.payload_len > p.payload_wire_len)
            __builtin_trap();
        if ((kind == em::NflogKind::dns_query || kind == em::NflogKind::dns_response) &&
            p.payload_len > 0)
            (void)em::decode_dns(p.payload, p.payload_len);
        if (kind == em::NflogKind::first_payload && p.payload_len > 0) {  // as Pipeline does
            if (p.proto == em::kProtoUdp) {
                (void)em::decode_quic_initial(p.payload, p.payload_len);
            } else {
                (void)em::decode_tls_first_segment(p.payload, p.payload_len);
                (void)em::decode_http_request(p.payload, p.payload_len);
            }
        }
    };
    // Twice: the second pass sees the same sequence numbers again (behind the expected one).
    for (int pass = 0; pass < 2; ++pass) src->decode(in.data(), in.size(), kNow, handler);
    const auto& c = src->counters();
    if (handled > c.messages) __builtin_trap();
    // At most one gap per message, each under 2^31.
    if (c.lost_seq >= (c.messages + 1) * (uint64_t{1} << 31)) __builtin_trap();
    return 0;
}
