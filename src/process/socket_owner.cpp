#include "process/socket_owner.h"

#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace em {

namespace {

int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void put_addr(const IpAddress& ip, __be32 out[4]) {
    std::memset(out, 0, 16);
    std::memcpy(out, ip.bytes(), ip.is_v4() ? 4 : 16);
}

bool same_addr(const IpAddress& ip, const __be32 a[4]) {
    return std::memcmp(a, ip.bytes(), ip.is_v4() ? 4 : 16) == 0;
}

}  // namespace

Result<SocketLookup> SocketLookup::open() {
    int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return errno_error("sock_diag socket");
    return SocketLookup(UniqueFd(fd));
}

Result<std::optional<SocketEntry>> SocketLookup::query(uint8_t proto, const IpAddress& src,
                                                       uint16_t sport, const IpAddress& dst,
                                                       uint16_t dport, bool dump) {
    struct {
        nlmsghdr nlh;
        inet_diag_req_v2 req;
    } msg{};
    msg.nlh.nlmsg_len = sizeof msg;
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0);
    msg.nlh.nlmsg_seq = ++seq_;
    msg.req.sdiag_family = src.is_v4() ? AF_INET : AF_INET6;
    msg.req.sdiag_protocol = proto;
    msg.req.idiag_states = ~0u;
    // An exact UDP lookup finds the socket that would receive a packet from idiag_src to
    // idiag_dst (the reverse of TCP's, which is by the socket's own ends): ask for the reply
    // direction. Whatever comes back is checked against the socket's own view below.
    const bool swap = proto == 17 && !dump;
    msg.req.id.idiag_sport = htons(swap ? dport : sport);
    msg.req.id.idiag_dport = htons(swap ? sport : dport);
    put_addr(swap ? dst : src, msg.req.id.idiag_src);
    put_addr(swap ? src : dst, msg.req.id.idiag_dst);
    msg.req.id.idiag_cookie[0] = msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    sockaddr_nl nl{};
    nl.nl_family = AF_NETLINK;
    if (::sendto(fd_.get(), &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&nl), sizeof nl) < 0)
        return errno_error("sock_diag request");
    alignas(nlmsghdr) char buf[32768];
    std::optional<SocketEntry> found;
    for (;;) {
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error("sock_diag reply");
        }
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(n));
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != seq_) continue;
            if (h->nlmsg_type == NLMSG_DONE) return found;
            if (h->nlmsg_type == NLMSG_ERROR) {
                auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
                if (e->error == 0 || e->error == -ENOENT) return found;
                errno = -e->error;
                return errno_error("sock_diag");
            }
            if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
            auto* d = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
            // The socket's own view: local end (src, sport), bound to the address or to any;
            // the remote end as the flow's, or unset for an unconnected UDP socket.
            const __be32 any[4] = {0, 0, 0, 0};
            const bool local = ntohs(d->id.idiag_sport) == sport &&
                               (same_addr(src, d->id.idiag_src) ||
                                std::memcmp(d->id.idiag_src, any, src.is_v4() ? 4 : 16) == 0);
            const bool remote =
                ntohs(d->id.idiag_dport) == dport && same_addr(dst, d->id.idiag_dst);
            const bool unconnected = proto == 17 && d->id.idiag_dport == 0;
            if (local && (remote || unconnected) && (!found || remote))
                found = SocketEntry{d->idiag_inode, d->idiag_uid};
            if (!dump) return found;
        }
    }
}

Result<std::optional<SocketEntry>> SocketLookup::find(uint8_t proto, const IpAddress& src,
                                                      uint16_t sport, const IpAddress& dst,
                                                      uint16_t dport) {
    auto r = query(proto, src, sport, dst, dport, false);
    if (!r || *r || proto != 17) return r;
    // UDP: an unconnected socket (bound to the port, sending with sendto) is not found by the
    // exact lookup; a dump of the family's UDP sockets finds it by its local port.
    return query(proto, src, sport, dst, dport, true);
}

std::optional<pid_t> InodeIndex::pid_of(uint64_t inode) {
    auto it = index_.find(inode);
    if (it != index_.end()) return it->second;
    const int64_t now = steady_ns();
    if (refilled_ns_)
        budget_ns_ = std::min(
            burst_ns_, budget_ns_ + static_cast<int64_t>(double(now - refilled_ns_) * share_));
    refilled_ns_ = now;
    if (budget_ns_ <= 0) {
        ++budget_misses_;
        return std::nullopt;
    }
    scan();
    const int64_t done = steady_ns();
    budget_ns_ -= done - now;
    it = index_.find(inode);
    if (it == index_.end()) return std::nullopt;
    return it->second;
}

void InodeIndex::scan() {
    ++scans_;
    index_.clear();
    DIR* proc = ::opendir(proc_root_.c_str());
    if (!proc) return;
    while (dirent* e = ::readdir(proc)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        const std::string fds = proc_root_ + "/" + e->d_name + "/fd";
        DIR* d = ::opendir(fds.c_str());
        if (!d) continue;
        while (dirent* f = ::readdir(d)) {
            if (f->d_name[0] == '.') continue;
            char link[64];
            ssize_t n = ::readlinkat(dirfd(d), f->d_name, link, sizeof link - 1);
            if (n <= 0) continue;
            link[n] = '\0';
            // "socket:[12345]"
            if (std::strncmp(link, "socket:[", 8) != 0) continue;
            uint64_t ino = std::strtoull(link + 8, nullptr, 10);
            index_.emplace(ino, static_cast<pid_t>(pid));
        }
        ::closedir(d);
    }
    ::closedir(proc);
}

}  // namespace em
