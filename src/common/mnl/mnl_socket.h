#pragma once
// The one owner of a libmnl netlink socket, and the one way it is opened: every netlink
// reader (NFLOG, NFQUEUE, ctnetlink, rtnetlink) gets its socket from open_netlink().
// A library of its own (em_mnl) so that only the code that speaks netlink links libmnl.
#include <libmnl/libmnl.h>

#include <cstddef>
#include <memory>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace em {

/// Closes the socket (mnl_socket_close) on destruction.
using MnlSocket = std::unique_ptr<mnl_socket, Deleter<mnl_socket_close>>;

/// Opens a netlink socket of `bus` (NETLINK_NETFILTER, NETLINK_ROUTE, ...) with `flags`
/// (SOCK_CLOEXEC, SOCK_NONBLOCK), sets its receive buffer to `rcvbuf` bytes when not 0
/// (SO_RCVBUFFORCE, else SO_RCVBUF within the system's limit; before the bind, so no
/// subscribed message arrives in a smaller buffer), and binds it to the multicast `groups`
/// (a bit mask; 0 for none) with a port id the kernel picks. An error starts with `who` and
/// says which step failed, with the errno text.
Result<MnlSocket> open_netlink(int bus, int flags, unsigned groups, std::string_view who,
                               size_t rcvbuf = 0);

}  // namespace em
