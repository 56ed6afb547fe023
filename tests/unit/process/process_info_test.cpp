#include "process/process_info.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "process/socket_owner.h"

namespace em {

namespace fs = std::filesystem;

TEST(ContainerId, FromCgroupPathsOfTheCommonRuntimes) {
    const std::string id(64, 'a'), id2 = std::string(63, 'b') + "c";
    EXPECT_EQ(container_id_from_cgroup("/docker/" + id), id);
    EXPECT_EQ(container_id_from_cgroup("/system.slice/docker-" + id + ".scope"), id);
    EXPECT_EQ(
        container_id_from_cgroup(
            "/system.slice/containerd.service/kubepods-burstable-pod1234.slice:cri-containerd:" +
            id),
        id);
    EXPECT_EQ(container_id_from_cgroup("/kubepods.slice/kubepods-besteffort.slice/"
                                       "kubepods-besteffort-pod0f1e.slice/cri-containerd-" +
                                       id + ".scope"),
              id);
    EXPECT_EQ(container_id_from_cgroup("/kubepods/burstable/pod3c8f-11/" + id2), id2);
    EXPECT_EQ(container_id_from_cgroup("/machine.slice/libpod-" + id + ".scope/container"), id);
    EXPECT_EQ(container_id_from_cgroup("/machine.slice/libpod-conmon-" + id + ".scope"), "");
    EXPECT_EQ(container_id_from_cgroup("/system.slice/crio-" + id + ".scope"), id);
    EXPECT_EQ(container_id_from_cgroup("/user.slice/user-1000.slice/session-2.scope"), "");
    EXPECT_EQ(container_id_from_cgroup("/docker/" + std::string(64, 'G')), "");  // not hex
    EXPECT_EQ(container_id_from_cgroup(""), "");
}

TEST(ProcessInfo, ReadsARealChildAndNoticesPidReuse) {
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        prctl(PR_SET_NAME, "em-proc-test");
        char c = 1;
        (void)!write(ready[1], &c, 1);
        pause();
        _exit(0);
    }
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    auto p = read_process(child);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->pid, child);
    EXPECT_EQ(p->comm, "em-proc-test");
    EXPECT_EQ(p->exe, fs::read_symlink("/proc/self/exe").string());
    EXPECT_EQ(p->ppid, getpid());
    EXPECT_EQ(p->uid, getuid());
    EXPECT_FALSE(p->user.empty());
    EXPECT_FALSE(p->parent_comm.empty());
    EXPECT_NE(p->start_time, 0u);
    EXPECT_FALSE(p->cmdline.empty());

    ProcessCache cache(2);
    ASSERT_TRUE(cache.lookup(child).ok());
    ASSERT_TRUE(cache.lookup(child).ok());
    EXPECT_EQ(cache.hits(), 1u);
    // Gone: still answered from the cache (a short-lived process stays attributed).
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    EXPECT_FALSE(read_process(child).ok());
    auto gone = cache.lookup(child);
    ASSERT_TRUE(gone.ok());
    EXPECT_EQ(gone->comm, "em-proc-test");
    close(ready[0]);
    close(ready[1]);
}

// A fake /proc: the same pid with another start time is another process.
TEST(ProcessInfo, CacheRereadsWhenThePidIsReused) {
    char tmpl[] = "/tmp/em-proc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string root = tmpl;
    auto write_proc = [&](const char* comm, int start) {
        fs::create_directories(root + "/4711");
        fs::create_directories(root + "/1");
        std::ofstream(root + "/4711/stat")
            << "4711 (" << comm << ") S 1 4711 4711 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " << start
            << " 0 0\n";
        std::ofstream(root + "/4711/comm") << comm << "\n";
        std::ofstream(root + "/4711/cmdline") << comm << '\0' << "--flag" << '\0';
        std::ofstream(root + "/4711/status") << "Name:\t" << comm << "\nUid:\t0\t0\t0\t0\n";
        std::ofstream(root + "/4711/cgroup")
            << "4:memory:/x\n0::/system.slice/docker-" << std::string(64, 'e') << ".scope\n";
        std::ofstream(root + "/1/comm") << "init\n";
    };
    write_proc("first (a) b", 100);
    ProcessCache cache(8, root);
    auto a = cache.lookup(4711);
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->comm, "first (a) b");  // parentheses and spaces in comm
    EXPECT_EQ(a->cmdline, "first (a) b --flag");
    EXPECT_EQ(a->parent_comm, "init");
    EXPECT_EQ(a->container_id, std::string(64, 'e'));
    EXPECT_EQ(a->cgroup, "/system.slice/docker-" + std::string(64, 'e') + ".scope");
    write_proc("second", 200);
    auto b = cache.lookup(4711);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->comm, "second");
    EXPECT_EQ(cache.misses(), 2u);
    fs::remove_all(root);
}

// The content parsers on hostile contents (a local user picks comm, argv and the exe path).
TEST(ProcessInfo, ParsesProcFileContents) {
    auto st = parse_proc_stat("42 (a) b) c) S 7 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0\n");
    ASSERT_TRUE(st);
    EXPECT_EQ(st->ppid, 7);
    EXPECT_EQ(st->start_time, 12345u);
    EXPECT_FALSE(parse_proc_stat("42 (a) S 7"));
    EXPECT_FALSE(parse_proc_stat("no parenthesis 1 2 3"));
    EXPECT_EQ(parse_proc_comm("x\ny\n"), "x\ny");
    EXPECT_EQ(parse_proc_cmdline(std::string_view("a\0b c\0\0", 7)), "a b c");
    EXPECT_EQ(parse_proc_status_uid("Name:\tx\nUmask:\t0022\nUid:\t1000\t1000\t1000\t1000\n"),
              1000u);
    // A Uid line without a number names nobody: the next line's digits are not its uid.
    EXPECT_FALSE(parse_proc_status_uid("Name:\tx\nUid:\t\nGid:\t5\n"));
    EXPECT_FALSE(parse_proc_status_uid("Name:\tx\nUid:\t99999999999\n"));
    EXPECT_FALSE(parse_proc_status_uid("Name:\tUid:\t7\n"));
    EXPECT_EQ(parse_proc_exe("/usr/bin/x (deleted)"), "/usr/bin/x");
    EXPECT_EQ(parse_proc_cgroup("12:pids:/a\n1:name=systemd:/s\n0::/user.slice/u.scope\n"),
              "/user.slice/u.scope");
    EXPECT_EQ(parse_proc_cgroup("12:pids:/a\n1:name=systemd:/s\n0::/\n"), "/s");
    EXPECT_EQ(parse_proc_cgroup("garbage\n3:cpu:/c\n"), "/c");
    EXPECT_EQ(parse_proc_cgroup(""), "");
}

}  // namespace em
