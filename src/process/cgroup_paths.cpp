#include "process/cgroup_paths.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace em {

namespace {
// FILEID_KERNFS from the kernel's <linux/exportfs.h> (not exported to user space headers).
constexpr int kFileidKernfs = 0xfe;
}  // namespace

CgroupPaths::CgroupPaths(const std::string& mount, size_t capacity)
    : mount_(mount), capacity_(capacity) {
    if (!mount_.empty())
        mount_fd_ = UniqueFd(::open(mount_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    while (mount_.size() > 1 && mount_.back() == '/') mount_.pop_back();
}

const std::string& CgroupPaths::path(uint64_t id) {
    static const std::string kUnknown;
    if (auto it = cache_.find(id); it != cache_.end()) return it->second;
    if (!mount_fd_.valid() || id == 0) return kUnknown;
    union {
        file_handle fh;
        char buf[sizeof(file_handle) + sizeof(uint64_t)];
    } h{};
    h.fh.handle_bytes = sizeof(uint64_t);
    h.fh.handle_type = kFileidKernfs;
    std::memcpy(h.fh.f_handle, &id, sizeof id);
    UniqueFd fd(open_by_handle_at(mount_fd_.get(), &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) {  // ids are never reused: a failure is remembered, not retried
        ++failures_;
        if (cache_.size() >= capacity_) cache_.clear();
        return cache_[id] = std::string();
    }
    char link[4096];
    std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
    ssize_t n = readlink(proc.c_str(), link, sizeof link - 1);
    if (n <= 0) {
        ++failures_;
        if (cache_.size() >= capacity_) cache_.clear();
        return cache_[id] = std::string();
    }
    std::string full(link, static_cast<size_t>(n));
    std::string rel;
    if (full == mount_)
        rel = "/";
    else if (full.compare(0, mount_.size(), mount_) == 0 && full[mount_.size()] == '/')
        rel = full.substr(mount_.size());
    else
        rel = full;  // another view of the hierarchy (a bind mount): its path as the kernel says
    if (cache_.size() >= capacity_) cache_.clear();
    return cache_[id] = std::move(rel);
}

}  // namespace em
