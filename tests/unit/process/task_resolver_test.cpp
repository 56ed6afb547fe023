// TaskResolver: who an eBPF event's task is, with a fake /proc (processes that exited are
// simply absent from it). The real cgroup v2 mount: tests/kernel/process/cgroup_paths_test.cpp.
#include "process/task_resolver.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "sources/ebpf/ebpf_source.h"

namespace fs = std::filesystem;

namespace em {
namespace {

class FakeProc : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/em-tasks-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        root_ = tmpl;
    }
    void TearDown() override { fs::remove_all(root_); }
    void write_proc(int pid, const std::string& comm, int start, const std::string& exe) {
        const std::string d = root_ + "/" + std::to_string(pid);
        fs::create_directories(d);
        std::ofstream(d + "/stat")
            << pid << " (" << comm << ") S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " << start
            << " 0 0\n";
        std::ofstream(d + "/comm") << comm << "\n";
        std::ofstream(d + "/cmdline") << exe << '\0' << "--serve" << '\0';
        std::ofstream(d + "/status") << "Name:\t" << comm << "\nUid:\t33\t33\t33\t33\n";
        std::ofstream(d + "/cgroup") << "0::/system.slice/web.service\n";
        fs::remove(d + "/exe");
        fs::create_symlink(exe, d + "/exe");
    }
    std::string root_;
};

TEST_F(FakeProc, AnExitedProcessIsKnownFromItsExecEvent) {
    TaskResolver r("", root_);
    TaskFacts t{4711, 1000, 0, 0, "emc-short", "bash"};
    // The exec event arrives; the process is gone before its flow is read.
    r.on_exec(t, "/opt/bin/emc-short", std::string_view("/opt/bin/emc-short\0-x\0", 22), 1000);
    const ProcessInfo* p = r.resolve(t, 1001);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->pid, 4711);
    EXPECT_EQ(p->exe, "/opt/bin/emc-short");
    EXPECT_EQ(p->cmdline, "/opt/bin/emc-short -x");
    EXPECT_EQ(p->comm, "emc-short");
    EXPECT_EQ(p->ppid, 1000);
    EXPECT_EQ(p->parent_comm, "bash");
    EXPECT_EQ(p->user, "root");
    EXPECT_EQ(r.proc_reads(), 0u);
}

TEST_F(FakeProc, OlderProcessesComeFromProcAndAReusedPidIsReadAgain) {
    write_proc(200, "nginx", 500, "/usr/sbin/nginx");
    TaskResolver r("", root_);
    TaskFacts t{200, 1, 33, 0, "nginx", "systemd"};
    const ProcessInfo* p = r.resolve(t, 10000);
    EXPECT_EQ(p->exe, "/usr/sbin/nginx");
    EXPECT_EQ(p->cmdline, "/usr/sbin/nginx --serve");
    EXPECT_EQ(p->cgroup, "/system.slice/web.service");
    EXPECT_EQ(r.proc_reads(), 1u);
    r.resolve(t, 10100);  // within the recheck interval: no read
    EXPECT_EQ(r.proc_reads(), 1u);
    // The pid now belongs to another program (another start time): read again.
    write_proc(200, "python3", 900, "/usr/bin/python3");
    TaskFacts t2{200, 1, 33, 0, "python3", "systemd"};
    p = r.resolve(t2, 11200);
    EXPECT_EQ(p->exe, "/usr/bin/python3");
    EXPECT_EQ(r.proc_reads(), 2u);
    // Gone: the entry still says who it was.
    fs::remove_all(root_ + "/200");
    p = r.resolve(t2, 13000);
    EXPECT_EQ(p->exe, "/usr/bin/python3");
}

TEST_F(FakeProc, AForkedChildGoneBeforeItsReadRunsItsParentsImage) {
    TaskResolver r("", root_);
    TaskFacts parent{300, 1, 0, 0, "dnsmasq", "init"};
    r.on_exec(parent, "/usr/sbin/dnsmasq", std::string_view("dnsmasq\0-k\0", 11), 0);
    TaskFacts child{301, 300, 0, 0, "dnsmasq", "dnsmasq"};
    const ProcessInfo* p = r.resolve(child, 5);
    EXPECT_EQ(p->exe, "/usr/sbin/dnsmasq");
    EXPECT_EQ(p->cmdline, "dnsmasq -k");
    EXPECT_EQ(p->ppid, 300);
    EXPECT_EQ(r.inherited(), 1u);
}

// The kernel's task record carries the start time: a pid whose entry has another start time
// belongs to a new process, even one already gone from /proc (a fork without an exec).
TEST_F(FakeProc, ATaskRecordWithAnotherStartTimeReplacesTheEntry) {
    TaskResolver r("", root_);
    write_proc(500, "nginx", 700, "/usr/sbin/nginx");
    TaskFacts t{500, 1, 33, 0, "nginx", "systemd"};
    const ProcessInfo* p = r.on_task(t, 700, 0);
    EXPECT_EQ(p->exe, "/usr/sbin/nginx");
    EXPECT_EQ(r.on_task(t, 700, 10)->exe, "/usr/sbin/nginx");  // the same process
    EXPECT_EQ(r.proc_reads(), 1u);
    // pid 500 again, a short-lived child of the shell 600 (which exec'd /bin/sh).
    fs::remove_all(root_ + "/500");
    TaskFacts sh{600, 1, 0, 0, "sh", "init"};
    r.on_exec(sh, "/bin/sh", std::string_view("sh\0-c\0", 6), 20);
    TaskFacts child{500, 600, 0, 0, "sh", "sh"};
    p = r.on_task(child, 900, 30);
    EXPECT_EQ(p->exe, "/bin/sh") << "not nginx's image";
    EXPECT_EQ(p->comm, "sh");
    EXPECT_EQ(p->ppid, 600);
    EXPECT_EQ(p->start_time, 900u);
}

TEST_F(FakeProc, SocketsRememberTheirProcess) {
    TaskResolver r("", root_);
    TaskFacts t{400, 1, 0, 0, "curl", "sh"};
    r.on_exec(t, "/usr/bin/curl", "", 0);
    r.resolve(t, 1);
    r.bind_socket(77, 400);
    ASSERT_NE(r.socket_owner(77), nullptr);
    EXPECT_EQ(r.socket_owner(77)->exe, "/usr/bin/curl");
    EXPECT_EQ(r.socket_owner(78), nullptr);
}

}  // namespace
}  // namespace em
