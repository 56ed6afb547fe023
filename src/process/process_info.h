#pragma once
// Who a process is, read from /proc: the attribution that flows and DNS events carry
// (issue 4's `process` object). Reads never throw; a process that exited between two reads
// gives an error (ESRCH/ENOENT), a field that cannot be read stays empty.
//
// Container ids come from the cgroup path (v2 "0::" line, else the v1 name=systemd or first
// line): docker (/docker/<64 hex> or docker-<64 hex>.scope), containerd/CRI
// (cri-containerd-<64 hex>.scope, or "...slice:cri-containerd:<64 hex>"), podman (libpod-<64
// hex>.scope, libpod-conmon excluded), CRI-O (crio-<64 hex>.scope), and kubernetes pods
// (kubepods.../pod<uid>/<64 hex>): the last 64-hex-digit component.
#include <sys/types.h>

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

namespace em {

struct ProcessInfo {
    pid_t pid = 0;
    std::string comm;     // /proc/PID/comm
    std::string exe;      // readlink /proc/PID/exe ("" for kernel threads or when denied)
    std::string cmdline;  // arguments joined by spaces, at most 4096 bytes
    uint32_t uid = 0;     // real uid
    std::string user;     // from the passwd database; the number when unknown
    pid_t ppid = 0;
    std::string parent_comm;
    std::string cgroup;        // the process's cgroup path
    std::string container_id;  // "" when the cgroup names none
    uint64_t start_time = 0;   // clock ticks after boot (/proc/PID/stat field 22): with the
                               // pid, the identity of the process (pids are reused)
};

/// Reads `pid` from `proc_root` ("/proc", or a test's fake tree).
Result<ProcessInfo> read_process(pid_t pid, const std::string& proc_root = "/proc");

/// The start time alone (cheap: one read of /proc/PID/stat); nullopt when gone.
std::optional<uint64_t> process_start_time(pid_t pid, const std::string& proc_root = "/proc");

/// The user name of `uid` from the passwd database; the number as text when unknown.
std::string user_name(uint32_t uid);

/// The container id a cgroup path names, or "".
std::string container_id_from_cgroup(std::string_view cgroup);

// Parsers of the /proc files' contents, pure: read_process() reads each file and calls one;
// the fuzzer (tests/fuzz/proc_files_fuzz.cpp) drives them directly. They accept any bytes
// (a local user controls comm, cmdline, the executable's path and, with a delegated cgroup
// subtree, cgroup names) and never read outside their input.

struct ProcStat {
    pid_t ppid = 0;
    uint64_t start_time = 0;  // clock ticks after boot (field 22)
};
/// /proc/PID/stat (the comm may hold spaces and parentheses: fields follow the last ')');
/// nullopt unless the ppid and start time fields are numbers.
std::optional<ProcStat> parse_proc_stat(std::string_view stat);
/// /proc/PID/comm without its trailing newline (and NULs).
std::string parse_proc_comm(std::string_view comm);
/// /proc/PID/cmdline: the NUL-separated arguments joined by spaces, trailing NULs and
/// newlines dropped.
std::string parse_proc_cmdline(std::string_view cmdline);
/// The real uid, the first number of /proc/PID/status's "Uid:" line; nullopt when that line
/// is missing or does not start with a number.
std::optional<uint32_t> parse_proc_status_uid(std::string_view status);
/// The cgroup path to report from /proc/PID/cgroup: the v2 line's ("0::/path"), else
/// name=systemd's, else the first line's.
std::string parse_proc_cgroup(std::string_view cgroup);
/// The executable's path from readlink(/proc/PID/exe), without the " (deleted)" the kernel
/// appends when the file was replaced or removed.
std::string parse_proc_exe(std::string_view link);

/// A bounded cache of ProcessInfo by pid that notices pid reuse: an entry counts only while
/// the process's start time is the one read with it. Not thread-safe.
class ProcessCache {
  public:
    explicit ProcessCache(size_t capacity = 4096, std::string proc_root = "/proc")
        : capacity_(capacity), proc_root_(std::move(proc_root)) {}
    /// The cached entry if the same process still runs, else a fresh read. A process that
    /// exited after a read stays answerable from the cache (short-lived processes: the
    /// attribution was made while it ran) until evicted by newer entries.
    Result<ProcessInfo> lookup(pid_t pid);
    size_t hits() const { return hits_; }
    size_t misses() const { return misses_; }
    size_t size() const { return map_.size(); }

  private:
    struct Entry {
        ProcessInfo info;
        std::list<pid_t>::iterator lru;
    };
    size_t capacity_;
    std::string proc_root_;
    std::list<pid_t> lru_;  // front: most recently used
    std::unordered_map<pid_t, Entry> map_;
    size_t hits_ = 0, misses_ = 0;
};

}  // namespace em
