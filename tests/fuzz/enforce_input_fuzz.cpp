// Fuzzes what `enforce` reads: its TOML config (first byte even), or (odd) the payload of a
// DNS-over-TCP segment split into messages, each decoded and judged by an engine as a query
// (as it is, and with its QR bit cleared, from one of a few client ports) and then as a
// response, then traffic to every answered address. Nothing may crash; a verdict must come
// with a reason; an address may be allowed only after an accepted response, and a response is
// accepted only when it consumed an outstanding query; the outstanding-query table never
// holds more than its capacity.
#include <cstdint>
#include <string_view>

#include "dns/dns_message.h"
#include "enforce/engine.h"

namespace {

const em::EnforceConfig& config() {
    static const em::EnforceConfig c = [] {
        auto r = em::parse_enforce_config(R"(
inboundDNSQueue = { ipv4 = 1 }
[[filters]]
name = "f"
dnsQueue = { ipv4 = 2 }
trafficQueue = { ipv4 = 3 }
allowedHostnames = ["example.test", "a"]
allowAnswersFor = "10s"
recordTTL = "longer"
queryTimeout = "1s"
outstandingQueries = 4
)",
                                          "fuzz");
        if (!r) __builtin_trap();
        return *r;
    }();
    return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    if (data[0] % 2 == 0) {
        auto r = em::parse_enforce_config(
            std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), "fuzz.toml");
        if (!r && r.error().message.empty()) __builtin_trap();
        if (r && r->filters.empty()) __builtin_trap();  // a config always has a filter
        return 0;
    }
    em::Engine engine(config());
    int64_t now = 0;
    uint16_t port = 0;
    em::for_each_tcp_dns_message(data + 1, size - 1, [&](const uint8_t* m, size_t n) {
        auto msg = em::decode_dns(m, n);
        if (!msg) return true;
        now += 300;
        const em::DnsFlow flow{6, *em::IpAddress::parse("198.51.100.2"),
                               *em::IpAddress::parse("198.51.100.1"),
                               static_cast<uint16_t>(40000 + port++ % 3), 53};
        em::Verdict q = engine.query(0, flow, *msg, now);
        if (!q.reason || !*q.reason) __builtin_trap();
        em::DnsMessage asked = *msg;
        asked.response = false;
        (void)engine.query(0, flow, asked, now);
        if (engine.outstanding_queries(0) > 4) __builtin_trap();
        const bool before = !engine.allowed_addresses(0);
        const size_t outstanding = engine.outstanding_queries(0);
        const uint64_t expired = engine.unanswered_queries();
        em::Verdict r = engine.response(flow, *msg, now);
        if (!r.reason || !*r.reason) __builtin_trap();
        if (!r.accept && before && engine.allowed_addresses(0)) __builtin_trap();
        // Judging a response first forgets the queries whose time is over (counted as
        // unanswered); beyond those, an accepted response consumed exactly one.
        const size_t gone = outstanding - engine.outstanding_queries(0) -
                            static_cast<size_t>(engine.unanswered_queries() - expired);
        if (r.accept != (gone == 1)) __builtin_trap();
        for (const auto& a : em::resolve_answers(*msg)) (void)engine.traffic(0, a.ip, now);
        return true;
    });
    return 0;
}
