// CgroupPaths on the real cgroup v2 hierarchy: ids (inodes) back to paths. Needs root
// (open_by_handle_at) and a cgroup v2 mount (kernel_tests).
#include "process/cgroup_paths.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "sources/ebpf/ebpf_source.h"

namespace em {
namespace {

// The cgroup id of a real directory (its inode on cgroup v2) back to its path.
TEST(CgroupPaths, ResolvesIdsOfTheRealHierarchy) {
    if (geteuid() != 0) GTEST_SKIP() << "open_by_handle_at needs CAP_DAC_READ_SEARCH";
    std::string mount = find_cgroup2_mount();
    if (mount.empty()) GTEST_SKIP() << "no cgroup v2 mounted";
    std::string dir = mount + "/em-unit-paths-" + std::to_string(getpid());
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    struct stat st {};
    ASSERT_EQ(stat(dir.c_str(), &st), 0);
    CgroupPaths paths(mount);
    EXPECT_EQ(paths.path(st.st_ino), "/em-unit-paths-" + std::to_string(getpid()));
    ASSERT_EQ(stat(mount.c_str(), &st), 0);
    EXPECT_EQ(paths.path(st.st_ino), "/");
    EXPECT_EQ(paths.path(0xffffffffffull), "");
    EXPECT_EQ(paths.path(0xffffffffffull), "");  // remembered: no second lookup
    EXPECT_EQ(paths.failures(), 1u);
    rmdir(dir.c_str());
}

}  // namespace
}  // namespace em
