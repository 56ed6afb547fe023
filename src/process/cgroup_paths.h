#pragma once
// cgroup v2 ids (what bpf_get_current_cgroup_id returns: the kernfs id, which is also the
// directory's inode number) → paths relative to the hierarchy's root, as /proc/PID/cgroup's
// "0::" line writes them. Resolved with open_by_handle_at on the mount (a kernfs file
// handle is the id itself: exact, no directory walk; needs CAP_DAC_READ_SEARCH) and cached.
// A cgroup removed before its id is resolved stays unknown ("").
#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/unique_fd.h"

namespace em {

class CgroupPaths {
  public:
    /// `mount`: where cgroup v2 is mounted ("" disables resolution).
    explicit CgroupPaths(const std::string& mount, size_t capacity = 16384);
    /// The path of cgroup `id` ("/" for the root), or "" when it cannot be resolved.
    const std::string& path(uint64_t id);
    uint64_t failures() const { return failures_; }

  private:
    std::string mount_;
    UniqueFd mount_fd_;
    size_t capacity_;
    std::unordered_map<uint64_t, std::string> cache_;
    uint64_t failures_ = 0;
};

}  // namespace em
