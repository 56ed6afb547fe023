// Fuzzes the dnsmasq query-log decoder: any bytes must be parsed or counted as malformed,
// and the attribution state must survive a save/load round trip.
#include <cstdint>
#include <string>

#include "common/log.h"
#include "sources/dnsmasq_log/dnsmasq_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    em::set_log_level(em::LogLevel::error);
    std::string_view in(reinterpret_cast<const char*>(data), size);
    em::Batch batch(4);
    em::DnsmasqParser p(1795347335);
    p.feed(in, batch, "fuzz");
    em::DnsmasqParser q(1795347335);
    q.load_state(p.save_state());
    if (q.save_state() != p.save_state()) __builtin_trap();
    q.load_state(in);
    const auto& c = p.counters();
    if (c.queries + c.ignored + c.other + c.malformed > c.lines) __builtin_trap();
    return 0;
}
