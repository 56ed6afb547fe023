#pragma once
// Least privilege for `enforce` once its queues are bound: every capability but
// CAP_NET_ADMIN dropped (nfnetlink checks it on each verdict message, so it must stay), the
// bounding set emptied of the rest, no_new_privs set, and a seccomp allowlist (libseccomp)
// on every thread: what the verdict loop and the resolver lookups need (netlink and DNS
// sockets, reads, writes to open files, memory, time, futexes, signals). A call outside it
// fails with EPERM instead of running — no exec, no open for writing, no ptrace, no mount,
// no new capabilities.
#include "common/result.h"

namespace em {

Result<void> drop_capabilities();
Result<void> install_seccomp_allowlist();

}  // namespace em
