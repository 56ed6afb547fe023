// Fuzzes the kernel LOG line decoder (syslog-file form and bare messages).
#include <cstdint>
#include <string>

#include "common/log.h"
#include "sources/kernel_log/kernel_line.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    em::set_log_level(em::LogLevel::error);
    std::string_view in(reinterpret_cast<const char*>(data), size);
    em::Batch batch;
    em::SyslogKernelParser p("EGRESS: ", 1795347335);
    p.feed(in, batch, "fuzz");
    em::KernelFlow flow;
    if (em::parse_kernel_message(in, "EGRESS: ", flow) == em::KernelLineKind::flow) {
        if (flow.dst.to_string().empty()) __builtin_trap();
    }
    const auto& c = p.counters();
    if (c.flows + c.loopback + c.other + c.malformed != c.lines) __builtin_trap();
    return 0;
}
