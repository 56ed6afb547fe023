// Fuzzes the capture decoders: link-layer frame -> IP -> TCP/UDP -> DNS message -> answers,
// and TCP DNS reassembly. The first byte picks the link type; the same bytes also drive a
// small set of TCP streams as a sequence of segments.
#include <cstdint>
#include <string>
#include <vector>

#include "dns/dns_message.h"
#include "dns/tcp_stream.h"
#include "packet/packet.h"

namespace {

constexpr int kLinks[] = {1, 101, 113, 276, 0, 108, 228, 229};

void check_name(const std::string& name) {
    for (char c : name) {
        if (c <= 0x20 || c >= 0x7f) __builtin_trap();  // names must be one printable field
    }
}

void decode_and_check(const uint8_t* p, size_t n) {
    auto m = em::decode_dns(p, n);
    if (!m) {
        if (m.error().message.empty()) __builtin_trap();
        return;
    }
    check_name(m->qname);
    for (const auto& r : m->answers) {
        check_name(r.name);
        check_name(r.target);
        if (r.address && !r.address->is_set()) __builtin_trap();
        (void)em::dns_type_name(r.type);
    }
    (void)em::dns_rcode_name(m->rcode);
    std::vector<std::string> chain;
    auto addrs = em::resolve_answers(*m, &chain);
    if (chain.size() > 17) __builtin_trap();
    if (!m->qname.empty() && (chain.empty() || chain[0] != m->qname)) __builtin_trap();
    for (const auto& a : addrs) {
        if (!a.ip.is_set()) __builtin_trap();
    }
}

// Segments described by the input: [ctl][seq delta][len] then len payload bytes. ctl: bits
// 0-1 the stream, bit 2 SYN, bit 3 FIN/RST.
void drive_streams(const uint8_t* data, size_t size) {
    em::TcpDnsStreams streams(3);
    auto on_message = [](const uint8_t* p, size_t n) { decode_and_check(p, n); };
    uint32_t next[4] = {0xfffffff0u, 0, 0x7ffffff0u, 12345};
    size_t i = 0;
    while (i + 3 <= size) {
        uint8_t ctl = data[i];
        auto delta = static_cast<int8_t>(data[i + 1]);
        size_t len = data[i + 2];
        i += 3;
        if (len > size - i) len = size - i;
        unsigned idx = ctl & 3;
        em::TcpStreamKey key{em::IpAddress::v4(0xc0000201), em::IpAddress::v4(0xc0000235),
                             static_cast<uint16_t>(40000 + idx), 53};
        uint32_t seq = next[idx] + static_cast<uint32_t>(static_cast<int32_t>(delta));
        bool syn = (ctl & 4) != 0;
        streams.feed(key, seq, syn, (ctl & 8) != 0, data + i, len, on_message);
        next[idx] = seq + (syn ? 1 : 0) + static_cast<uint32_t>(len);
        i += len;
        if (streams.tracked() > 3) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    decode_and_check(data, size);
    if (size == 0) return 0;
    const uint8_t* frame = data + 1;
    size_t len = size - 1;
    em::PacketInfo info;
    std::string why;
    if (em::decode_frame(kLinks[data[0] % 8], frame, len, info, why)) {
        if (!info.src.is_set() || !info.dst.is_set()) __builtin_trap();
        if (info.payload_len > info.payload_wire_len) __builtin_trap();
        if (info.payload_len > 0 &&
            (info.payload < frame || info.payload + info.payload_len > frame + len)) {
            __builtin_trap();
        }
        if (info.fragment && (info.sport != 0 || info.dport != 0)) __builtin_trap();
        bool transport =
            !info.fragment && (info.proto == em::kProtoUdp || info.proto == em::kProtoTcp);
        if (transport && info.payload_len > 0) decode_and_check(info.payload, info.payload_len);
        if (transport && info.proto == em::kProtoTcp) {
            em::TcpDnsStreams streams(2);
            em::TcpStreamKey key{info.src, info.dst, info.sport, info.dport};
            auto on_message = [](const uint8_t* p, size_t n) { decode_and_check(p, n); };
            size_t half = info.payload_len / 2;
            bool syn = (info.tcp_flags & em::tcp_flag::kSyn) != 0;
            uint32_t start = info.tcp_seq + (syn ? 1 : 0);
            streams.feed(key, info.tcp_seq, syn, false, info.payload, half, on_message);
            streams.feed(key, start + static_cast<uint32_t>(half), false,
                         (info.tcp_flags & (em::tcp_flag::kFin | em::tcp_flag::kRst)) != 0,
                         info.payload + half, info.payload_len - half, on_message);
        }
    } else if (why.empty()) {
        __builtin_trap();
    }
    drive_streams(frame, len);
    return 0;
}
