// Fuzzes the framing of kernel records before the LOG line decoder sees them: a /dev/kmsg
// record as one read() returns it (sources/kernel_log/kmsg.h) and a journal entry's MESSAGE
// field as sd-journal hands it over (sources/kernel_log/journald.h), both folded the way
// the readers fold them. The whole input is each one; the message must stay a view inside
// it, a rejection must say why, and the folder's counters must add up.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/log.h"
#include "sources/kernel_log/journald.h"
#include "sources/kernel_log/kmsg.h"

namespace {

bool inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() &&
                            part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    em::set_log_level(em::LogLevel::error);
    std::string_view in(reinterpret_cast<const char*>(data), size);
    em::Batch batch;
    em::KernelLineFolder folder("EGRESS: ");
    uint64_t seen = 0;
    // Offsets of a clock far before, at, and far after the monotonic epoch.
    for (int64_t offset_us : {int64_t{1795347335} * 1000000, int64_t{0}, INT64_MIN, INT64_MAX}) {
        auto r = em::parse_kmsg_record(in, offset_us);
        ++seen;
        if (!r) {
            if (r.error().message.empty()) __builtin_trap();
            folder.reject(in, "kmsg", r.error().message.c_str());
            continue;
        }
        if (!inside(r->message, in) || r->message.find('\n') != std::string_view::npos)
            __builtin_trap();
        if ((r->priority >> 3) != 0)
            folder.other();
        else
            folder.message(r->message, r->time, batch, "kmsg");
    }
    auto msg = em::journal_message_value(data, size);
    ++seen;
    if (msg) {
        if (!inside(*msg, in) || msg->size() + 8 != size) __builtin_trap();
        folder.message(*msg, 1795347335, batch, "journal");
    } else {
        if (in.starts_with("MESSAGE=")) __builtin_trap();
        folder.reject(in, "journal", "no MESSAGE= field");
    }
    const auto& c = folder.counters();
    if (c.lines != seen || c.flows + c.loopback + c.other + c.malformed != c.lines)
        __builtin_trap();
    return 0;
}
