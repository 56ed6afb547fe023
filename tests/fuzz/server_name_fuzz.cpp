// Fuzzes allowByServerName's engine (enforce/server_names.h): the input is a connection's
// first data, sent as a held TCP connection's first segment (after a SYN and an ACK) and as
// a UDP datagram to port 443, then once more on each. Nothing may crash; a verdict comes
// with a reason; the data is accepted exactly when a decoder found a name the filter allows;
// a judged connection keeps its verdict; the table never holds more than kMaxFlows.
#include <cstdint>
#include <string_view>

#include "enforce/engine.h"
#include "flowname/first_packet.h"

namespace {

const em::EnforceConfig& config() {
    static const em::EnforceConfig c = [] {
        auto r = em::parse_enforce_config(R"(
inboundDNSQueue = { ipv4 = 1 }
[[filters]]
name = "f"
dnsQueue = { ipv4 = 2 }
trafficQueue = { ipv4 = 3 }
allowedHostnames = ["example.test", "example.com", "a"]
allowAnswersFor = "10s"
allowByServerName = true
)",
                                          "fuzz");
        if (!r) __builtin_trap();
        return *r;
    }();
    return c;
}

em::PacketInfo packet(uint8_t proto, uint8_t flags, const uint8_t* data, size_t size) {
    em::PacketInfo p;
    p.src = em::IpAddress::v4(0xc6336402);  // 198.51.100.2
    p.dst = em::IpAddress::v4(0xc000023c);  // 192.0.2.60
    p.proto = proto;
    p.sport = 40000;
    p.dport = 443;
    p.tcp_flags = flags;
    p.payload = data;
    p.payload_len = p.payload_wire_len = data ? size : 0;
    return p;
}

bool named_and_allowed(const em::FirstPacketDecode& d, em::Engine& e) {
    return d.status == em::FirstPacketDecode::Status::found && e.name_allowed(0, d.name.name, 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    em::Engine engine(config());
    constexpr uint8_t kSyn = em::tcp_flag::kSyn, kAck = em::tcp_flag::kAck;
    auto judge = [&](uint8_t proto, uint8_t flags, const uint8_t* d, size_t n) {
        auto v = engine.server_name(0, packet(proto, flags, d, n), 1000);
        if (!v.reason || !*v.reason) __builtin_trap();
        if (engine.server_names(0).size() > em::ServerNameFlows::kMaxFlows) __builtin_trap();
        return v;
    };
    if (!judge(6, kSyn, nullptr, 0).held) __builtin_trap();
    if (!judge(6, kAck, nullptr, 0).held) __builtin_trap();
    auto tls = em::decode_tls_first_segment(data, size);
    if (tls.status == em::FirstPacketDecode::Status::not_protocol)
        tls = em::decode_http_request(data, size);
    const bool tcp_ok = named_and_allowed(tls, engine);
    const auto first = judge(6, kAck, data, size);
    if (first.accept != tcp_ok || first.held) __builtin_trap();
    if (judge(6, kAck, data, size).accept != tcp_ok) __builtin_trap();  // kept

    const bool quic_ok = named_and_allowed(em::decode_quic_initial(data, size), engine);
    if (judge(17, 0, data, size).accept != quic_ok) __builtin_trap();
    const uint8_t later[] = {0x40, 1, 2, 3};
    if (judge(17, 0, later, sizeof later).accept != quic_ok) __builtin_trap();
    return 0;
}
