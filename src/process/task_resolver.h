#pragma once
// Who a task is, for the eBPF source: the kernel reports pid, uid, comm, parent and cgroup
// id with every event, so a process is attributed even when it has exited by the time user
// space reads the event. What the kernel event cannot carry cheaply comes from:
//   - exec events (on_exec): the executable path and arguments, kept per pid — a process
//     started after the agent is fully known even if it lives a millisecond;
//   - /proc for processes that already ran when the agent started (ProcessCache);
//   - CgroupPaths for the cgroup path, and from it the container id.
// A pid's entry is rechecked against /proc's start time at most once a second, so a pid
// reused by another program is noticed without a /proc read per event. Sockets (by cookie)
// remember the task that used them, for DNS packets seen where the sender is not current.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "process/cgroup_paths.h"
#include "process/process_info.h"

namespace em {

struct TaskFacts {
    uint32_t pid = 0, ppid = 0, uid = 0;
    uint64_t cgroup_id = 0;
    std::string_view comm, parent_comm;
};

class TaskResolver {
  public:
    TaskResolver(const std::string& cgroup_mount, std::string proc_root = "/proc",
                 size_t capacity = 65536);
    /// A process replaced its image: `filename` as exec'd, `args` NUL-separated argv.
    void on_exec(const TaskFacts& t, std::string_view filename, std::string_view args,
                 int64_t now_ms);
    /// A process's first flow follows (the kernel's task record): `start_ticks` is its start
    /// time in clock ticks after boot. An entry for the pid with another start time was a
    /// previous process with the same pid: it is replaced.
    const ProcessInfo* on_task(const TaskFacts& t, uint64_t start_ticks, int64_t now_ms);
    /// The process behind an event (never null; fields the kernel and /proc could not give
    /// stay empty).
    const ProcessInfo* resolve(const TaskFacts& t, int64_t now_ms);
    /// Remembers that process `pid` used socket `cookie`; the process that used a socket
    /// last, or null when none is known.
    void bind_socket(uint64_t cookie, uint32_t pid);
    const ProcessInfo* socket_owner(uint64_t cookie) const;

    uint64_t proc_reads() const { return proc_reads_; }
    uint64_t exec_hits() const { return exec_hits_; }
    uint64_t inherited() const { return inherited_; }

  private:
    struct Entry {
        ProcessInfo info;
        int64_t checked_ms = 0;
        uint64_t cgroup_id = 0;  // whose path info.cgroup is: a flow's is looked up on change
    };
    const std::string& user(uint32_t uid);
    void apply_event(const TaskFacts& t, Entry& e);
    Entry& fresh(uint32_t pid);
    void make_room();
    void inherit(const TaskFacts& t, ProcessInfo& p);

    CgroupPaths cgroups_;
    std::string proc_root_;
    size_t capacity_;
    std::unordered_map<uint32_t, Entry> pids_;
    std::unordered_map<uint32_t, std::string> users_;
    std::unordered_map<uint64_t, uint32_t> sockets_;  // cookie → pid
    uint64_t proc_reads_ = 0, exec_hits_ = 0, inherited_ = 0;
};

}  // namespace em
