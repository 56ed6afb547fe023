#include "common/privileges.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace em {

namespace {

// Whether any capability is left in the effective or permitted set (capget directly: the
// check needs nothing of libcap's text forms).
bool has_capabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0) return true;
    for (const auto& d : data)
        if (d.effective || d.permitted) return true;
    return false;
}

}  // namespace

Result<void> become_user(const std::string& name) {
    auto fail = [&](const char* step) {
        return errno_error("cannot run as user " + name + ": " + step);
    };
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0) {
        errno = rc;
        return fail("getpwnam");
    }
    if (!found) return Error{"cannot run as user " + name + ": no such user"};
    if (pw.pw_uid == 0) return Error{"cannot run as user " + name + ": it is root"};
    if (::geteuid() == pw.pw_uid && ::getuid() == pw.pw_uid) return {};
    if (::initgroups(name.c_str(), pw.pw_gid) != 0) return fail("initgroups");
    if (::setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) != 0) return fail("setresgid");
    if (::setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) != 0) return fail("setresuid");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("no_new_privs");
    if (::setuid(0) == 0 || ::seteuid(0) == 0)
        return Error{"cannot run as user " + name + ": root could be regained"};
    if (has_capabilities()) return Error{"cannot run as user " + name + ": capabilities are left"};
    return {};
}

}  // namespace em
