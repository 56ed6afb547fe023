#include "process/task_resolver.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

namespace em {

namespace {
constexpr int64_t kRecheckMs = 1000;
}

TaskResolver::TaskResolver(const std::string& cgroup_mount, std::string proc_root, size_t capacity)
    : cgroups_(cgroup_mount), proc_root_(std::move(proc_root)), capacity_(capacity) {}

const std::string& TaskResolver::user(uint32_t uid) {
    auto it = users_.find(uid);
    if (it != users_.end()) return it->second;
    if (users_.size() >= 4096) users_.clear();
    return users_[uid] = user_name(uid);
}

void TaskResolver::apply_event(const TaskFacts& t, Entry& e) {
    ProcessInfo& p = e.info;
    p.pid = static_cast<pid_t>(t.pid);
    if (!t.comm.empty()) p.comm.assign(t.comm);
    if (p.user.empty() || p.uid != t.uid) {
        p.uid = t.uid;
        p.user = user(t.uid);
    }
    if (t.ppid) {
        p.ppid = static_cast<pid_t>(t.ppid);
        if (!t.parent_comm.empty()) p.parent_comm.assign(t.parent_comm);
    }
    if (t.cgroup_id && t.cgroup_id != e.cgroup_id) {
        e.cgroup_id = t.cgroup_id;
        const std::string& cg = cgroups_.path(t.cgroup_id);
        if (!cg.empty() && cg != p.cgroup) {
            p.cgroup = cg;
            p.container_id = container_id_from_cgroup(cg);
        }
    }
}

// Drops the quarter of the entries least recently checked: processes that exited long ago
// (entries are kept after exit, for the flows still in the ring), never the newest.
void TaskResolver::make_room() {
    if (pids_.size() < capacity_) return;
    std::vector<std::pair<int64_t, uint32_t>> age;
    age.reserve(pids_.size());
    for (const auto& [pid, e] : pids_) age.emplace_back(e.checked_ms, pid);
    auto cut = age.begin() + static_cast<std::ptrdiff_t>(age.size() / 4 + 1);
    std::nth_element(age.begin(), cut, age.end());
    for (auto it = age.begin(); it != cut; ++it) pids_.erase(it->second);
}

TaskResolver::Entry& TaskResolver::fresh(uint32_t pid) {
    if (!pids_.count(pid)) make_room();
    Entry& e = pids_[pid];
    ++proc_reads_;
    auto info = read_process(static_cast<pid_t>(pid), proc_root_);
    e.info = info ? std::move(info.value()) : ProcessInfo{};
    e.cgroup_id = 0;
    return e;
}

void TaskResolver::on_exec(const TaskFacts& t, std::string_view filename, std::string_view args,
                           int64_t now_ms) {
    if (!pids_.count(t.pid)) make_room();
    Entry& e = pids_[t.pid];
    e.info = ProcessInfo{};
    e.cgroup_id = 0;
    e.checked_ms = now_ms;
    const std::string dir = proc_root_ + "/" + std::to_string(t.pid);
    if (filename.starts_with('/')) {
        e.info.exe.assign(filename);
    } else {  // a relative path as exec'd: the kernel's link says where it was
        char exe[4096];
        ssize_t n = ::readlink((dir + "/exe").c_str(), exe, sizeof exe - 1);
        e.info.exe = n > 0 ? parse_proc_exe(std::string_view(exe, static_cast<size_t>(n)))
                           : std::string(filename);
    }
    e.info.cmdline = parse_proc_cmdline(args);  // the same form as a /proc read gives
    e.info.start_time = process_start_time(static_cast<pid_t>(t.pid), proc_root_).value_or(0);
    apply_event(t, e);
    ++exec_hits_;
}

const ProcessInfo* TaskResolver::on_task(const TaskFacts& t, uint64_t start_ticks, int64_t now_ms) {
    auto it = pids_.find(t.pid);
    if (it != pids_.end() && it->second.info.start_time != 0 && start_ticks != 0 &&
        it->second.info.start_time != start_ticks) {
        Entry& e = fresh(t.pid);  // the pid's previous process: read the new one
        e.checked_ms = now_ms;
        if (e.info.start_time != start_ticks) {  // gone already, or /proc not readable
            e.info = ProcessInfo{};
            e.cgroup_id = 0;
            e.info.start_time = start_ticks;
            inherit(t, e.info);
        }
        apply_event(t, e);
        return &e.info;
    }
    const ProcessInfo* p = resolve(t, now_ms);
    if (p->start_time == 0) pids_[t.pid].info.start_time = start_ticks;
    return p;
}

const ProcessInfo* TaskResolver::resolve(const TaskFacts& t, int64_t now_ms) {
    auto it = pids_.find(t.pid);
    Entry* e;
    if (it == pids_.end()) {
        e = &fresh(t.pid);
        e->checked_ms = now_ms;
        if (e->info.exe.empty()) inherit(t, e->info);
    } else {
        e = &it->second;
        if (now_ms - e->checked_ms >= kRecheckMs) {
            e->checked_ms = now_ms;
            auto start = process_start_time(static_cast<pid_t>(t.pid), proc_root_);
            // Gone: the entry still says who it was. Another start time: the pid was reused
            // (or the image replaced while exec events were lost): read anew.
            if (start && *start != e->info.start_time) {
                e = &fresh(t.pid);
                e->checked_ms = now_ms;
            }
        }
    }
    apply_event(t, *e);
    return &e->info;
}

// A child gone before /proc could be read (dnsmasq's per-connection TCP children): forked
// without an exec of its own — its exec event would have made an entry — it runs its
// parent's image.
void TaskResolver::inherit(const TaskFacts& t, ProcessInfo& p) {
    auto parent = pids_.find(t.ppid);
    if (parent == pids_.end() || parent->second.info.comm != t.comm) return;
    p.exe = parent->second.info.exe;
    p.cmdline = parent->second.info.cmdline;
    ++inherited_;
}

void TaskResolver::bind_socket(uint64_t cookie, uint32_t pid) {
    if (!cookie) return;
    if (sockets_.size() >= 4 * capacity_ && !sockets_.count(cookie)) sockets_.clear();
    sockets_[cookie] = pid;
}

const ProcessInfo* TaskResolver::socket_owner(uint64_t cookie) const {
    auto s = sockets_.find(cookie);
    if (s == sockets_.end()) return nullptr;
    auto p = pids_.find(s->second);
    return p == pids_.end() ? nullptr : &p->second.info;
}

}  // namespace em
