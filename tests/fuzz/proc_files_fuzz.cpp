// Fuzzes the parsers of /proc/PID files a local user controls (process/process_info.h):
// stat, comm, cmdline, status, cgroup and the exe link, each on the whole input, then the
// JSON event line that carries what they produced. Results stay inside the input, the
// container id is 64 hex digits or nothing, and the event is one line without raw control
// bytes whatever the process named itself.
#include <cstdint>
#include <string>
#include <string_view>

#include "exporters/jsonl/events.h"
#include "process/process_info.h"

namespace {

bool within(std::string_view part, std::string_view whole) {
    return part.empty() || whole.find(part) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    em::ProcessInfo p;
    p.pid = 4711;
    if (auto st = em::parse_proc_stat(in)) {
        if (in.find(')') == std::string_view::npos) __builtin_trap();
        p.ppid = st->ppid;
        p.start_time = st->start_time;
    }
    p.comm = em::parse_proc_comm(in);
    if (!in.starts_with(p.comm)) __builtin_trap();
    if (!p.comm.empty() && (p.comm.back() == '\n' || p.comm.back() == '\0')) __builtin_trap();
    p.cmdline = em::parse_proc_cmdline(in);
    if (p.cmdline.size() > in.size() || p.cmdline.find('\0') != std::string::npos) __builtin_trap();
    if (auto uid = em::parse_proc_status_uid(in)) {
        if (in.find("\nUid:") == std::string_view::npos) __builtin_trap();
        p.uid = *uid;
    }
    p.cgroup = em::parse_proc_cgroup(in);
    if (!within(p.cgroup, in) || p.cgroup.find('\n') != std::string::npos) __builtin_trap();
    p.container_id = em::container_id_from_cgroup(p.cgroup);
    if (!p.container_id.empty() &&
        (p.container_id.size() != 64 || !within(p.container_id, p.cgroup) ||
         p.container_id.find_first_not_of("0123456789abcdef") != std::string::npos))
        __builtin_trap();
    p.exe = em::parse_proc_exe(in);
    if (!in.starts_with(p.exe)) __builtin_trap();
    p.parent_comm = p.comm;
    p.user = p.comm;

    em::PacketMeta meta;
    meta.proto = 6;
    meta.src = em::IpAddress::v4(0xc0000201);
    meta.dst = em::IpAddress::v4(0xcb007101);
    std::string line;
    em::format_flow_event(meta, {}, true, &p, line);
    for (char c : line)
        if (static_cast<unsigned char>(c) < 0x20) __builtin_trap();  // one line, valid JSON
    return 0;
}
