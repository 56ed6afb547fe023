#include "sources/kernel_log/kmsg.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <ctime>
#include <fstream>

#include <fmt/core.h>

#include "common/unique_fd.h"

namespace em {

namespace {

std::string boot_id() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    return id.empty() ? "unknown" : id;
}

int64_t realtime_minus_monotonic_us() {
    timespec rt{}, mono{};
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    return (static_cast<int64_t>(rt.tv_sec) - mono.tv_sec) * 1000000 +
           (rt.tv_nsec - mono.tv_nsec) / 1000;
}

}  // namespace

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
        // "PRI,SEQ,TS_USEC,FLAGS[,...];MESSAGE\n[ KEY=VALUE\n...]"
        size_t semi = rec.find(';');
        if (semi == std::string_view::npos) {
            folder.reject(rec, device, "no ';' in record");
            continue;
        }
        std::string_view head = rec.substr(0, semi);
        uint64_t fields[3] = {};
        size_t pos = 0;
        bool ok = true;
        for (auto& f : fields) {
            auto [p, ec] = std::from_chars(head.data() + pos, head.data() + head.size(), f);
            if (ec != std::errc()) {
                ok = false;
                break;
            }
            pos = static_cast<size_t>(p - head.data()) + 1;
        }
        if (!ok) {
            folder.reject(rec, device, "bad record header");
            continue;
        }
        uint64_t seq = fields[1];
        if (have_after && seq <= after) continue;
        if (first && have_after && seq > after + 1) out.lost += seq - after - 1;
        first = false;
        last = seq;
        std::string_view msg = rec.substr(semi + 1);
        msg = msg.substr(0, msg.find('\n'));
        if ((fields[0] >> 3) != 0) {  // not the kernel facility: written from user space
            folder.other();
            continue;
        }
        int64_t t = (offset_us + static_cast<int64_t>(fields[2])) / 1000000;
        folder.message(msg, t, batch, device);
    }
    if (!first || have_after) out.cursor = fmt::format("{} {}", boot, last);
    return out;
}

}  // namespace em
