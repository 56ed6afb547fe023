#include "process/process_info.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include "common/unique_fd.h"

namespace em {

namespace {

// The whole of a small /proc file (at most `limit` bytes).
Result<std::string> slurp(const std::string& path, size_t limit = 65536) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return errno_error(path);
    std::string out;
    char buf[4096];
    while (out.size() < limit) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error(path);
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    if (out.size() > limit) out.resize(limit);
    return out;
}

std::string trim_newline(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
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

// The cgroup path to report: the v2 line ("0::/path"), else name=systemd's, else the first.
std::string pick_cgroup(std::string_view text) {
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

}  // namespace

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
    auto f = stat_fields(*stat);
    uint64_t start = 0;
    if (f.size() < 20 || !to_number(f[19], start)) return std::nullopt;
    return start;
}

Result<ProcessInfo> read_process(pid_t pid, const std::string& proc_root) {
    const std::string dir = proc_root + "/" + std::to_string(pid);
    auto stat = slurp(dir + "/stat", 4096);
    if (!stat) return stat.error();
    auto f = stat_fields(*stat);
    ProcessInfo p;
    p.pid = pid;
    if (f.size() < 20 || !to_number(f[1], p.ppid) || !to_number(f[19], p.start_time))
        return Error{dir + "/stat: unexpected format"};
    if (auto comm = slurp(dir + "/comm", 256)) p.comm = trim_newline(*comm);
    char exe[4096];
    ssize_t n = ::readlink((dir + "/exe").c_str(), exe, sizeof exe - 1);
    if (n > 0) {
        p.exe.assign(exe, static_cast<size_t>(n));
        // The running binary was replaced or deleted since it started.
        if (p.exe.ends_with(" (deleted)")) p.exe.resize(p.exe.size() - 10);
    }
    if (auto cmd = slurp(dir + "/cmdline", 4096)) {
        p.cmdline = trim_newline(*cmd);
        for (char& c : p.cmdline)
            if (c == '\0') c = ' ';
    }
    if (auto status = slurp(dir + "/status", 16384)) {
        size_t at = status->find("\nUid:");
        if (at != std::string::npos) {
            size_t b = status->find_first_of("0123456789", at);
            size_t e = status->find_first_not_of("0123456789", b);
            if (b != std::string::npos)
                to_number(std::string_view(*status).substr(b, e - b), p.uid);
        }
    }
    p.user = user_name(p.uid);
    if (p.ppid > 0)
        if (auto pc = slurp(proc_root + "/" + std::to_string(p.ppid) + "/comm", 256))
            p.parent_comm = trim_newline(*pc);
    if (auto cg = slurp(dir + "/cgroup", 16384)) p.cgroup = pick_cgroup(*cg);
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
