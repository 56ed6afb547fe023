#include "common/mnl/mnl_socket.h"

#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <string>

namespace em {

Result<MnlSocket> open_netlink(int bus, int flags, unsigned groups, std::string_view who,
                               size_t rcvbuf) {
    // errno is read before the message is built: building it allocates.
    auto fail = [who](const char* step, int err) {
        return errno_error(std::string(who) + ": " + step, err);
    };
    MnlSocket sock(mnl_socket_open2(bus, flags));
    if (!sock) return fail("cannot open netlink socket", errno);
    if (rcvbuf > 0) {
        const int fd = mnl_socket_get_fd(sock.get());
        int size = rcvbuf > INT_MAX ? INT_MAX : static_cast<int>(rcvbuf);
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0 &&
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0)
            return fail("cannot set the receive buffer", errno);
    }
    if (mnl_socket_bind(sock.get(), groups, MNL_SOCKET_AUTOPID) < 0) {
        const int err = errno;
        if (groups == 0) return fail("cannot bind netlink socket", err);
        char step[64];
        std::snprintf(step, sizeof step, "cannot subscribe to netlink groups %#x", groups);
        return fail(step, err);
    }
    return sock;
}

}  // namespace em
