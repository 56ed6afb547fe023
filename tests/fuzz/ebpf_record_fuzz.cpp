// Fuzzes the eBPF source's record decoder (sources/ebpf/ebpf_record.h) and what the agent
// does next with a record: a DNS record's packet through the IP decoder, a first-packet
// record's through the IP decoder and the first-packet decoders (TLS, HTTP, QUIC), an exec
// record's arguments joined. Decoded views must stay inside the input.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "flowname/first_packet.h"
#include "packet/packet.h"
#include "sources/ebpf/ebpf_record.h"

namespace {

bool inside(const void* p, size_t n, const uint8_t* data, size_t size) {
    auto* b = static_cast<const uint8_t*>(p);
    return n == 0 || (b >= data && b + n <= data + size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // An aligned copy, as the ring buffer hands records over.
    std::vector<uint64_t> buf(size / 8 + 1);
    std::memcpy(buf.data(), data, size);
    const auto* rec_data = reinterpret_cast<const uint8_t*>(buf.data());
    em::EbpfRecord r;
    std::string why;
    if (!em::decode_ebpf_record(rec_data, size, r, why)) {
        if (why.empty()) __builtin_trap();  // a rejection always says why
        return 0;
    }
    if (!inside(r.task.comm.data(), r.task.comm.size(), rec_data, size) ||
        !inside(r.task.parent_comm.data(), r.task.parent_comm.size(), rec_data, size) ||
        !inside(r.filename.data(), r.filename.size(), rec_data, size) ||
        !inside(r.args.data(), r.args.size(), rec_data, size) ||
        !inside(r.packet, r.packet_len, rec_data, size))
        __builtin_trap();
    if (r.task.comm.size() > 16 || r.packet_len > r.wire_len) __builtin_trap();
    if (r.kind == em::EbpfRecord::Kind::dns) {
        em::PacketInfo p;
        (void)em::decode_ip_packet(r.packet, r.packet_len, p, why);
    }
    if (r.kind == em::EbpfRecord::Kind::first) {
        if (r.packet_len > 2048 || (r.wire_len > r.packet_len && r.packet_len != 2048))
            __builtin_trap();  // bounded by the capture size, cut short only there
        em::PacketInfo p;
        if (em::decode_ip_packet(r.packet, r.packet_len, p, why) && p.payload_len > 0) {
            if (!inside(p.payload, p.payload_len, rec_data, size)) __builtin_trap();
            if (p.proto == em::kProtoTcp) {
                (void)em::decode_tls_first_segment(p.payload, p.payload_len);
                (void)em::decode_http_request(p.payload, p.payload_len);
            } else if (p.proto == em::kProtoUdp) {
                (void)em::decode_quic_initial(p.payload, p.payload_len);
            }
        }
    }
    std::string joined;
    em::join_args(r.args, joined);
    if (joined.size() > r.args.size()) __builtin_trap();
    return 0;
}
