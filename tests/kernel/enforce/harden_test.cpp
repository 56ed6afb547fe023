#include "enforce/harden.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace em {

// In a child (the filter cannot be taken off again): after install_seccomp_allowlist, what
// the verdict loop needs still works and what it must never do fails with EPERM.
TEST(Harden, SeccompRefusesWhatIsNotAllowed) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int code = 0;
        if (!install_seccomp_allowlist().ok()) _exit(10);
        int fds[2] = {-1, -1};
        // pipe2 is not on the list: refused, as exec, opening for writing, packet sockets.
        if (pipe2(fds, O_CLOEXEC) == 0 || errno != EPERM) code |= 1;
        // A program that exits with 99 if it ever runs: a /bin/true that ran would exit 0 for
        // this child and pass the test whatever came before.
        char* argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"),
                        const_cast<char*>("exit 99"), nullptr};
        if (execve("/bin/sh", argv, environ) == 0 || errno != EPERM) code |= 2;
        if (open("/tmp/em-seccomp-test", O_WRONLY | O_CREAT, 0600) >= 0 || errno != EPERM)
            code |= 4;
        if (socket(AF_PACKET, SOCK_RAW, 0) >= 0 || errno != EPERM) code |= 8;
        // ptrace (anyone may ask to be traced by the parent; the filter refuses it).
        if (ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0 || errno != EPERM) code |= 128;
        // Allowed: reading a file, a DNS-style socket, writing to an open descriptor.
        int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
        char c;
        if (fd < 0 || read(fd, &c, 1) != 1) code |= 16;
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0) code |= 32;
        if (write(2, "", 0) != 0) code |= 64;
        _exit(code);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0)
        << "bit mask of failed checks (10: install failed, 99: exec ran a program)";
}

}  // namespace em
