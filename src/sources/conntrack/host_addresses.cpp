#include "sources/conntrack/host_addresses.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "common/netlink.h"

namespace em {

namespace {

// A dump reply is cut into skbs sized after the reader's buffer, at most 32 KB.
constexpr size_t kDumpBuffer = 32768;

}  // namespace

bool HostAddressSet::apply(const nlmsghdr* nlh) {
    const bool add = nlh->nlmsg_type == RTM_NEWADDR;
    if (!add && nlh->nlmsg_type != RTM_DELADDR) return true;
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifaddrmsg))) return false;
    const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
    if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return true;

    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on point-to-point
    // links and the only one IPv6 usually sends.
    const nlattr* local = nullptr;
    const nlattr* address = nullptr;
    const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
    for (auto* attr =
             static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(ifaddrmsg)));
         mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr)));
         attr = mnl_attr_next(attr)) {
        if (mnl_attr_get_type(attr) == IFA_LOCAL) local = attr;
        if (mnl_attr_get_type(attr) == IFA_ADDRESS) address = attr;
    }
    const nlattr* a = local ? local : address;
    if (!a) return false;
    const uint16_t len = mnl_attr_get_payload_len(a);
    IpAddress ip;
    if (ifa->ifa_family == AF_INET && len == 4) {
        uint32_t v;
        std::memcpy(&v, mnl_attr_get_payload(a), 4);
        ip = IpAddress::v4(ntohl(v));
    } else if (ifa->ifa_family == AF_INET6 && len == 16) {
        ip = IpAddress::v6(static_cast<const uint8_t*>(mnl_attr_get_payload(a)));
    } else {
        return false;
    }

    const Entry e{ip, ifa->ifa_index};
    auto it = std::lower_bound(entries_.begin(), entries_.end(), e);
    const bool present = it != entries_.end() && *it == e;
    if (add && !present) entries_.insert(it, e);
    if (!add && present) entries_.erase(it);
    return true;
}

bool HostAddressSet::apply_datagram(const void* buf, size_t len) {
    int left = static_cast<int>(std::min<size_t>(len, INT32_MAX));
    bool ok = true;
    for (auto* nlh = static_cast<const nlmsghdr*>(buf); nlmsg_fits(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left))
        ok = apply(nlh) && ok;
    return ok && left <= 0;
}

bool HostAddressSet::contains(const IpAddress& ip) const {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), Entry{ip, 0});
    return it != entries_.end() && it->addr == ip;
}

Result<HostAddresses> HostAddresses::open() {
    auto events =
        open_netlink(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC,
                     RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, "rtnetlink (address notifications)");
    if (!events) return events.error();
    HostAddresses out(std::move(*events));
    if (auto r = out.dump(); !r) return r.error();
    return out;
}

Result<void> HostAddresses::dump() {
    // A dump interrupted by a concurrent change (NLM_F_DUMP_INTR, seen as EINTR) is retried.
    for (int attempt = 0;; ++attempt) {
        auto opened = open_netlink(NETLINK_ROUTE, SOCK_CLOEXEC, 0, "rtnetlink (address list)");
        if (!opened) return opened.error();
        MnlSocket sock = std::move(*opened);
        timeval timeout{5, 0};
        setsockopt(mnl_socket_get_fd(sock.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                   sizeof timeout);

        std::vector<char> buf(kDumpBuffer);
        nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
        nlh->nlmsg_type = RTM_GETADDR;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = ++seq_;
        auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
        ifa->ifa_family = AF_UNSPEC;
        if (mnl_socket_sendto(sock.get(), nlh, nlh->nlmsg_len) < 0)
            return errno_error("rtnetlink: cannot request the address list");

        HostAddressSet fresh;
        const unsigned portid = mnl_socket_get_portid(sock.get());
        auto cb = [](const nlmsghdr* m, void* data) -> int {
            static_cast<HostAddressSet*>(data)->apply(m);
            return MNL_CB_OK;
        };
        int ret = MNL_CB_OK;
        while (ret > MNL_CB_STOP) {
            ssize_t n = mnl_socket_recvfrom(sock.get(), buf.data(), buf.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                return errno_error("rtnetlink: cannot read the address list");
            }
            ret = mnl_cb_run(buf.data(), nlmsg_whole_prefix(buf.data(), static_cast<size_t>(n)),
                             nlh->nlmsg_seq, portid, cb, &fresh);
        }
        if (ret == MNL_CB_ERROR) {
            if (errno == EINTR && attempt < 3) continue;
            return errno_error("rtnetlink: address list");
        }
        set_ = std::move(fresh);
        return {};
    }
}

Result<void> HostAddresses::sync() {
    alignas(nlmsghdr) char buf[8192];
    const int fd = mnl_socket_get_fd(events_.get());
    bool lost = false;
    for (;;) {
        sockaddr_nl from{};
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from),
                             &from_len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == ENOBUFS) {
                lost = true;
                continue;
            }
            return errno_error("rtnetlink: cannot read address notifications");
        }
        if (from.nl_pid != 0) continue;  // only the kernel speaks for the kernel
        (void)set_.apply_datagram(buf, static_cast<size_t>(n));
    }
    if (lost) {
        ++resyncs_;
        log_warn("rtnetlink: address notifications were lost; reloading the address list");
        return dump();
    }
    return {};
}

}  // namespace em
