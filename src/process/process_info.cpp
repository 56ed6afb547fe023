#include "process/process_info.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include "common/files.h"
#include "common/unique_fd.h"

namespace em {

namespace {

// The whole of a small /proc file (at most `limit` bytes).
Result<std::string> slurp(const std::string& path, size_t limit = 65536) {
    return read_file_head(path, limit, path);
}

std::string_view trim_newline(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.remove_suffix(1);
    return s;
}

// Fields of /proc/PID/stat after the comm, which may itself hold spaces and parentheses:
// the fields start after the last ')'. Index 0 is field 3 (state).
std::vector<std::string_view> stat_fields(std::string_view stat) {
    std::vector<std::string_view> out;
    size_t close = stat.rfind(')');
    if (close == std::string_view::npos) return out;
    std::string_view rest = stat.substr(close + 1);
    while (!rest.empty()) {
        size_t b = rest.find_first_not_of(' ');
        if (b == std::string_view::npos) break;
        rest.remove_prefix(b);
        size_t e = rest.find(' ');
        out.push_back(rest.substr(0, e));
        if (e == std::string_view::npos) break;
        rest.remove_prefix(e);
    }
    return out;
}

template <class T>
bool to_number(std::string_view s, T& out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool hex64(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace

std::string parse_proc_cgroup(std::string_view text) {
    std::string first, systemd;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        size_t a = line.find(':');
        size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
        if (b == std::string_view::npos) continue;
        std::string_view controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
        if (line.substr(0, a) == "0" && controllers.empty() && path != "/")
            return std::string(path);
        if (controllers == "name=systemd") systemd = path;
        if (first.empty()) first = path;
    }
    return !systemd.empty() && systemd != "/" ? systemd : first;
}

std::optional<ProcStat> parse_proc_stat(std::string_view stat) {
    auto f = stat_fields(stat);
    ProcStat out;
    if (f.size() < 20 || !to_number(f[1], out.ppid) || !to_number(f[19], out.start_time))
        return std::nullopt;
    return out;
}

std::string parse_proc_comm(std::string_view comm) { return std::string(trim_newline(comm)); }

std::string parse_proc_cmdline(std::string_view cmdline) {
    std::string out(trim_newline(cmdline));
    for (char& c : out)
        if (c == '\0') c = ' ';
    return out;
}

std::optional<uint32_t> parse_proc_status_uid(std::string_view status) {
    size_t at = status.find("\nUid:");
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view line = status.substr(at + 5);
    line = line.substr(0, line.find('\n'));
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string_view::npos) return std::nullopt;
    line.remove_prefix(b);
    line = line.substr(0, line.find_first_not_of("0123456789"));
    uint32_t uid = 0;
    if (!to_number(line, uid)) return std::nullopt;
    return uid;
}

std::string parse_proc_exe(std::string_view link) {
    if (link.ends_with(" (deleted)")) link.remove_suffix(10);
    return std::string(link);
}

std::string user_name(uint32_t uid) {
    passwd pw{}, *res = nullptr;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res) return pw.pw_name;
    return std::to_string(uid);
}

std::string container_id_from_cgroup(std::string_view cgroup) {
    std::string found;
    while (!cgroup.empty()) {
        size_t slash = cgroup.find('/');
        std::string_view part = cgroup.substr(0, slash);
        cgroup = slash == std::string_view::npos ? std::string_view() : cgroup.substr(slash + 1);
        if (part.ends_with(".scope")) part.remove_suffix(6);
        // containerd with the systemd cgroup driver: "<slice>:cri-containerd:<id>".
        if (size_t colon = part.rfind(':'); colon != std::string_view::npos)
            part.remove_prefix(colon + 1);
        if (part.starts_with("libpod-conmon-")) continue;  // podman's monitor, not the container
        for (std::string_view prefix : {"docker-", "cri-containerd-", "libpod-", "crio-"})
            if (part.starts_with(prefix)) part.remove_prefix(prefix.size());
        if (hex64(part)) found = std::string(part);
    }
    return found;
}

std::optional<uint64_t> process_start_time(pid_t pid, const std::string& proc_root) {
    auto stat = slurp(proc_root + "/" + std::to_string(pid) + "/stat", 4096);
    if (!stat) return std::nullopt;
    auto parsed = parse_proc_stat(*stat);
    if (!parsed) return std::nullopt;
    return parsed->start_time;
}

Result<ProcessInfo> read_process(pid_t pid, const std::string& proc_root) {
    const std::string dir = proc_root + "/" + std::to_string(pid);
    auto stat = slurp(dir + "/stat", 4096);
    if (!stat) return stat.error();
    auto parsed = parse_proc_stat(*stat);
    if (!parsed) return Error{dir + "/stat: unexpected format"};
    ProcessInfo p;
    p.pid = pid;
    p.ppid = parsed->ppid;
    p.start_time = parsed->start_time;
    if (auto comm = slurp(dir + "/comm", 256)) p.comm = parse_proc_comm(*comm);
    char exe[4096];
    ssize_t n = ::readlink((dir + "/exe").c_str(), exe, sizeof exe - 1);
    if (n > 0) p.exe = parse_proc_exe(std::string_view(exe, static_cast<size_t>(n)));
    if (auto cmd = slurp(dir + "/cmdline", 4096)) p.cmdline = parse_proc_cmdline(*cmd);
    if (auto status = slurp(dir + "/status", 16384))
        p.uid = parse_proc_status_uid(*status).value_or(0);
    p.user = user_name(p.uid);
    if (p.ppid > 0)
        if (auto pc = slurp(proc_root + "/" + std::to_string(p.ppid) + "/comm", 256))
            p.parent_comm = parse_proc_comm(*pc);
    if (auto cg = slurp(dir + "/cgroup", 16384)) p.cgroup = parse_proc_cgroup(*cg);
    p.container_id = container_id_from_cgroup(p.cgroup);
    // The process must still be the one whose fields were read.
    auto again = process_start_time(pid, proc_root);
    if (!again || *again != p.start_time) return Error{dir + ": the process exited while read"};
    return p;
}

Result<ProcessInfo> ProcessCache::lookup(pid_t pid) {
    auto it = map_.find(pid);
    if (it != map_.end()) {
        auto start = process_start_time(pid, proc_root_);
        // Gone: the entry still says who it was. Another process with the pid: read anew.
        if (!start || *start == it->second.info.start_time) {
            ++hits_;
            lru_.splice(lru_.begin(), lru_, it->second.lru);
            return it->second.info;
        }
        lru_.erase(it->second.lru);
        map_.erase(it);
    }
    ++misses_;
    auto info = read_process(pid, proc_root_);
    if (!info) return info.error();
    if (map_.size() >= capacity_ && !lru_.empty()) {
        map_.erase(lru_.back());
        lru_.pop_back();
    }
    lru_.push_front(pid);
    map_.emplace(pid, Entry{*info, lru_.begin()});
    return info;
}

}  // namespace em
