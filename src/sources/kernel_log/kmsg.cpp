#include "sources/kernel_log/kmsg.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <ctime>
#include <fstream>

#include <fmt/core.h>

#include "common/files.h"
#include "common/unique_fd.h"

namespace em {

namespace {

std::string boot_id() {
    auto head = read_file_head("/proc/sys/kernel/random/boot_id", 4096, "boot_id");
    std::string id = head ? head->substr(0, head->find('\n')) : "";
    return id.empty() ? "unknown" : id;
}

int64_t realtime_minus_monotonic_us() {
    timespec rt{}, mono{};
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    return (static_cast<int64_t>(rt.tv_sec) - mono.tv_sec) * 1000000 +
           (rt.tv_nsec - mono.tv_nsec) / 1000;
}

// An unsigned decimal field ending at `end` or at `sep`; advances `s` past the separator.
bool header_field(std::string_view& s, uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc()) return false;
    size_t used = static_cast<size_t>(p - s.data());
    if (used < s.size() && s[used] != ',') return false;
    s.remove_prefix(used < s.size() ? used + 1 : used);
    return true;
}

}  // namespace

Result<KmsgRecord> parse_kmsg_record(std::string_view rec, int64_t realtime_offset_us) {
    size_t semi = rec.find(';');
    if (semi == std::string_view::npos) return Error{"no ';' in record"};
    std::string_view head = rec.substr(0, semi);
    KmsgRecord out;
    uint64_t ts_usec = 0;
    if (!header_field(head, out.priority) || !header_field(head, out.seq) ||
        !header_field(head, ts_usec))
        return Error{"bad record header"};
    int64_t us = 0;
    if (ts_usec > static_cast<uint64_t>(INT64_MAX) ||
        __builtin_add_overflow(static_cast<int64_t>(ts_usec), realtime_offset_us, &us))
        return Error{"time stamp out of range"};
    out.time = us / 1000000;
    out.message = rec.substr(semi + 1);
    out.message = out.message.substr(0, out.message.find('\n'));
    return out;
}

Result<KmsgRead> read_kmsg(const std::string& device, const std::optional<std::string>& cursor,
                           KernelLineFolder& folder, Batch& batch) {
    std::string boot = boot_id();
    uint64_t after = 0;
    bool have_after = false;
    if (cursor) {
        size_t sp = cursor->find(' ');
        if (sp == std::string::npos) return Error{"corrupt kmsg cursor \"" + *cursor + "\""};
        if (cursor->substr(0, sp) == boot) {
            auto [p, ec] =
                std::from_chars(cursor->data() + sp + 1, cursor->data() + cursor->size(), after);
            if (ec != std::errc()) return Error{"corrupt kmsg cursor \"" + *cursor + "\""};
            have_after = true;
        }
    }
    UniqueFd fd(::open(device.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) return errno_error("cannot open " + device);
    const int64_t offset_us = realtime_minus_monotonic_us();
    KmsgRead out;
    uint64_t last = have_after ? after : 0;
    bool first = true;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EPIPE) {  // overwritten while we read: the next read resyncs
                ++out.lost;
                continue;
            }
            if (errno == EAGAIN) break;
            return errno_error("cannot read " + device);
        }
        if (n == 0) break;
        std::string_view rec(buf, static_cast<size_t>(n));
        auto r = parse_kmsg_record(rec, offset_us);
        if (!r) {
            folder.reject(rec, device, r.error().message.c_str());
            continue;
        }
        if (have_after && r->seq <= after) continue;
        if (first && have_after && r->seq > after + 1) out.lost += r->seq - after - 1;
        first = false;
        last = r->seq;
        if ((r->priority >> 3) != 0) {  // not the kernel facility: written from user space
            folder.other();
            continue;
        }
        folder.message(r->message, r->time, batch, device);
    }
    if (!first || have_after) out.cursor = fmt::format("{} {}", boot, last);
    return out;
}

}  // namespace em
