#include "enforce/harden.h"

#include <fcntl.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>

namespace em {

Result<void> drop_capabilities() {
    // Other capabilities out of the bounding set first (needs CAP_SETPCAP, still held).
    for (int c = 0; c <= CAP_LAST_CAP; ++c)
        if (c != CAP_NET_ADMIN && CAP_IS_SUPPORTED(c) && cap_drop_bound(c) != 0 && errno != EINVAL)
            return errno_error("dropping capability " + std::to_string(c) +
                               " from the bounding set");
    std::unique_ptr<_cap_struct, int (*)(void*)> caps(cap_init(), cap_free);
    if (!caps) return errno_error("cap_init");
    cap_value_t keep[] = {CAP_NET_ADMIN};
    if (cap_set_flag(caps.get(), CAP_PERMITTED, 1, keep, CAP_SET) != 0 ||
        cap_set_flag(caps.get(), CAP_EFFECTIVE, 1, keep, CAP_SET) != 0)
        return errno_error("cap_set_flag");
    if (cap_set_proc(caps.get()) != 0) return errno_error("cap_set_proc");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno_error("PR_SET_NO_NEW_PRIVS");
    return {};
}

namespace {

// One argument condition, every field set (libseccomp's SCMP_A* macros leave datum_b out,
// which clang's -Wmissing-field-initializers rejects). Static storage: one at a time.
const scmp_arg_cmp* arg(unsigned index, scmp_compare op, scmp_datum_t a, scmp_datum_t b = 0) {
    static scmp_arg_cmp c;
    c = scmp_arg_cmp{index, op, a, b};
    return &c;
}

}  // namespace

Result<void> install_seccomp_allowlist() {
    std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)),
                                                         seccomp_release);
    if (!ctx) return Error{"seccomp_init failed"};
    if (seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1) != 0)
        return Error{"seccomp: cannot synchronise the filter to every thread"};
    static const int kAllowed[] = {
        // I/O on descriptors already open, and the resolver's sockets.
        SCMP_SYS(read),
        SCMP_SYS(write),
        SCMP_SYS(readv),
        SCMP_SYS(writev),
        SCMP_SYS(pread64),
        SCMP_SYS(close),
        SCMP_SYS(fstat),
        SCMP_SYS(newfstatat),
        SCMP_SYS(statx),
        SCMP_SYS(lseek),
        SCMP_SYS(fcntl),
        SCMP_SYS(ioctl),
        SCMP_SYS(poll),
        SCMP_SYS(ppoll),
        SCMP_SYS(epoll_wait),
        SCMP_SYS(epoll_pwait),
        SCMP_SYS(recvfrom),
        SCMP_SYS(recvmsg),
        SCMP_SYS(recvmmsg),
        SCMP_SYS(sendto),
        SCMP_SYS(sendmsg),
        SCMP_SYS(sendmmsg),
        SCMP_SYS(connect),
        SCMP_SYS(bind),
        SCMP_SYS(getsockname),
        SCMP_SYS(getpeername),
        SCMP_SYS(setsockopt),
        SCMP_SYS(getsockopt),
        SCMP_SYS(shutdown),
        // Memory, threads, time, signals.
        SCMP_SYS(brk),
        SCMP_SYS(mmap),
        SCMP_SYS(munmap),
        SCMP_SYS(mremap),
        SCMP_SYS(mprotect),
        SCMP_SYS(madvise),
        SCMP_SYS(futex),
        SCMP_SYS(set_robust_list),
        SCMP_SYS(rseq),
        SCMP_SYS(sched_yield),
        SCMP_SYS(clock_gettime),
        SCMP_SYS(clock_nanosleep),
        SCMP_SYS(nanosleep),
        SCMP_SYS(gettimeofday),
        SCMP_SYS(getrandom),
        SCMP_SYS(rt_sigprocmask),
        SCMP_SYS(rt_sigreturn),
        SCMP_SYS(rt_sigaction),
        SCMP_SYS(sigaltstack),
        SCMP_SYS(restart_syscall),
        SCMP_SYS(getpid),
        SCMP_SYS(gettid),
        SCMP_SYS(tgkill),
        SCMP_SYS(uname),
        SCMP_SYS(exit),
        SCMP_SYS(exit_group),
        SCMP_SYS(getuid),
        SCMP_SYS(geteuid),
        SCMP_SYS(getgid),
        SCMP_SYS(getegid),
    };
    for (int sc : kAllowed)
        if (seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, sc, 0) != 0)
            return Error{"seccomp: cannot allow syscall " + std::to_string(sc)};
    // Files only for reading (the resolver's /etc/hosts, /etc/resolv.conf, ...).
    if (seccomp_rule_add_array(
            ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
            arg(2, SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY)) != 0)
        return Error{"seccomp: cannot allow openat for reading"};
    // Sockets of the families the verdict loop and the resolver use.
    for (int family : {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK})
        if (seccomp_rule_add_array(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                                   arg(0, SCMP_CMP_EQ, static_cast<scmp_datum_t>(family))) != 0)
            return Error{"seccomp: cannot allow socket"};
    if (int rc = seccomp_load(ctx.get()); rc != 0)
        return Error{"seccomp: loading the filter failed: " + std::string(strerror(-rc))};
    return {};
}

}  // namespace em
