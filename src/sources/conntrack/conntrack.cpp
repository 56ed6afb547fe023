#include "sources/conntrack/conntrack.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <ctime>
#include <vector>

#include "common/log.h"
#include "common/mnl/mnl_socket.h"
#include "common/netlink.h"
#include "sources/conntrack/host_addresses.h"

namespace em {

namespace {

constexpr uint16_t kCtNew = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
// recvmmsg batch: one event per datagram, a few hundred bytes each.
constexpr unsigned kBatch = 32;
constexpr size_t kSlot = 8192;
constexpr int64_t kOverrunLogInterval_ms = 10000;

int64_t clock_ms(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

enum class Decoded { flow, other, malformed };

bool has_ports(uint8_t proto) {
    return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
           proto == IPPROTO_SCTP || proto == IPPROTO_DCCP;
}

// The attributes in [start, start + len) by type (the last of a type wins; types past N are
// skipped).
template <size_t N>
void index_attrs(const void* start, size_t len, const nlattr* (&tb)[N]) {
    const char* end = static_cast<const char*>(start) + len;
    for (auto* attr = static_cast<const nlattr*>(start);
         mnl_attr_ok(attr, static_cast<int>(end - reinterpret_cast<const char*>(attr)));
         attr = mnl_attr_next(attr)) {
        if (const uint16_t type = mnl_attr_get_type(attr); type < N) tb[type] = attr;
    }
}

template <size_t N>
void index_nested(const nlattr* nest, const nlattr* (&tb)[N]) {
    index_attrs(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), tb);
}

bool has_size(const nlattr* a, size_t n) { return a && mnl_attr_get_payload_len(a) == n; }

// The original-direction tuple, parsed here with libmnl: CTA_TUPLE_ORIG { CTA_TUPLE_IP
// { CTA_IP_V4_SRC/DST or CTA_IP_V6_SRC/DST }, CTA_TUPLE_PROTO { CTA_PROTO_NUM,
// CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT } }, the address family from the nfgenmsg.
// libnetfilter_conntrack's nfct_nlmsg_parse exit()s the whole process on an attribute of an
// unexpected size ("unsupported ABI"; found by tests/fuzz/conntrack_fuzz).
// `nlh` must have passed nlmsg_fits.
Decoded decode(const nlmsghdr* nlh, PacketMeta& out) {
    if (nlh->nlmsg_type != kCtNew) return Decoded::other;
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg))) return Decoded::malformed;
    const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
    const nlattr* top[CTA_MAX + 1] = {};
    const auto* attrs =
        static_cast<const char*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
    index_attrs(attrs, nlh->nlmsg_len - mnl_nlmsg_size(sizeof(nfgenmsg)), top);
    if (!top[CTA_TUPLE_ORIG]) return Decoded::malformed;
    const nlattr* tuple[CTA_TUPLE_MAX + 1] = {};
    index_nested(top[CTA_TUPLE_ORIG], tuple);
    if (!tuple[CTA_TUPLE_IP] || !tuple[CTA_TUPLE_PROTO]) return Decoded::malformed;
    const nlattr* ip[CTA_IP_MAX + 1] = {};
    index_nested(tuple[CTA_TUPLE_IP], ip);
    const nlattr* proto[CTA_PROTO_MAX + 1] = {};
    index_nested(tuple[CTA_TUPLE_PROTO], proto);
    switch (nfg->nfgen_family) {
        case AF_INET: {
            if (!has_size(ip[CTA_IP_V4_SRC], 4) || !has_size(ip[CTA_IP_V4_DST], 4))
                return Decoded::malformed;
            out.src = IpAddress::v4(ntohl(mnl_attr_get_u32(ip[CTA_IP_V4_SRC])));
            out.dst = IpAddress::v4(ntohl(mnl_attr_get_u32(ip[CTA_IP_V4_DST])));
            break;
        }
        case AF_INET6:
            if (!has_size(ip[CTA_IP_V6_SRC], 16) || !has_size(ip[CTA_IP_V6_DST], 16))
                return Decoded::malformed;
            out.src =
                IpAddress::v6(static_cast<const uint8_t*>(mnl_attr_get_payload(ip[CTA_IP_V6_SRC])));
            out.dst =
                IpAddress::v6(static_cast<const uint8_t*>(mnl_attr_get_payload(ip[CTA_IP_V6_DST])));
            break;
        default:
            return Decoded::malformed;
    }
    if (!has_size(proto[CTA_PROTO_NUM], 1)) return Decoded::malformed;
    out.proto = mnl_attr_get_u8(proto[CTA_PROTO_NUM]);
    out.sport = out.dport = 0;
    if (has_ports(out.proto)) {
        if (has_size(proto[CTA_PROTO_SRC_PORT], 2))
            out.sport = ntohs(mnl_attr_get_u16(proto[CTA_PROTO_SRC_PORT]));
        if (has_size(proto[CTA_PROTO_DST_PORT], 2))
            out.dport = ntohs(mnl_attr_get_u16(proto[CTA_PROTO_DST_PORT]));
    }
    return Decoded::flow;
}

}  // namespace

std::optional<PacketMeta> decode_conntrack_message(const void* data, size_t len) {
    const auto* nlh = static_cast<const nlmsghdr*>(data);
    if (len > static_cast<size_t>(INT32_MAX) || !nlmsg_fits(nlh, static_cast<int64_t>(len)))
        return std::nullopt;
    PacketMeta meta;
    if (decode(nlh, meta) != Decoded::flow) return std::nullopt;
    return meta;
}

bool walk_conntrack_datagram(
    const void* buf, size_t len,
    const std::function<void(const std::optional<PacketMeta>&)>& on_event) {
    int left = static_cast<int>(std::min<size_t>(len, INT32_MAX));
    const auto* nlh = static_cast<const nlmsghdr*>(buf);
    for (; nlmsg_fits(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
        PacketMeta meta;
        const Decoded d = decode(nlh, meta);
        if (d == Decoded::other) continue;
        on_event(d == Decoded::flow ? std::optional<PacketMeta>(meta) : std::nullopt);
    }
    return left <= 0;
}

struct ConntrackSource::Impl {
    Impl(HostAddresses h, MnlSocket s) : hosts(std::move(h)), sock(std::move(s)) {
        buf.resize(kBatch * kSlot);
        for (unsigned i = 0; i < kBatch; ++i) {
            iov[i] = {buf.data() + i * kSlot, kSlot};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &from[i];
        }
    }

    HostAddresses hosts;
    MnlSocket sock;
    std::vector<char> buf;  // kBatch slots of kSlot bytes
    iovec iov[kBatch]{};
    sockaddr_nl from[kBatch]{};
    mmsghdr msgs[kBatch]{};
    int64_t last_overrun_log_ms = 0;
    bool overrun_logged = false;
};

Result<std::unique_ptr<ConntrackSource>> ConntrackSource::open(size_t rcvbuf) {
    auto hosts = HostAddresses::open();
    if (!hosts) return hosts.error();

    auto sock =
        open_netlink(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC,
                     1U << (NFNLGRP_CONNTRACK_NEW - 1), "ctnetlink (conntrack NEW events)", rcvbuf);
    if (!sock) return sock.error();
    return std::unique_ptr<ConntrackSource>(
        new ConntrackSource(std::make_unique<Impl>(std::move(*hosts), std::move(*sock))));
}

ConntrackSource::ConntrackSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConntrackSource::~ConntrackSource() = default;

int ConntrackSource::fd() const { return mnl_socket_get_fd(impl_->sock.get()); }

bool ConntrackSource::is_local(const IpAddress& ip) const { return impl_->hosts.contains(ip); }

Result<void> ConntrackSource::drain(const std::function<void(const FlowObservation&)>& on_flow) {
    Impl& im = *impl_;
    if (auto r = im.hosts.sync(); !r) return r;
    // An address added after the sync above may already have sent a flow: the first miss
    // in a drain syncs again before calling it inbound.
    bool resynced = false;
    const int fd = mnl_socket_get_fd(im.sock.get());
    for (;;) {
        for (auto& m : im.msgs) m.msg_hdr.msg_namelen = sizeof(sockaddr_nl);
        int n = recvmmsg(fd, im.msgs, kBatch, MSG_DONTWAIT, nullptr);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
            if (errno == ENOBUFS) {
                ++counters_.overruns;
                const int64_t now = clock_ms(CLOCK_MONOTONIC);
                if (!im.overrun_logged || now - im.last_overrun_log_ms >= kOverrunLogInterval_ms) {
                    log_warn(
                        "conntrack: the kernel dropped NEW events (receive buffer overrun); {} "
                        "overruns so far",
                        counters_.overruns);
                    im.overrun_logged = true;
                    im.last_overrun_log_ms = now;
                }
                continue;
            }
            return errno_error("ctnetlink: cannot read events");
        }
        const int64_t now_ms = clock_ms(CLOCK_REALTIME);
        for (int i = 0; i < n; ++i) {
            if (im.from[i].nl_pid != 0) continue;  // not from the kernel
            if (im.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                ++counters_.malformed;
                continue;
            }
            Result<void> synced;
            auto on_event = [&](const std::optional<PacketMeta>& m) {
                ++counters_.events;
                if (!m) {
                    ++counters_.malformed;
                    return;
                }
                if (!synced) return;
                bool local = im.hosts.contains(m->src);
                if (!local && !resynced && !m->dst.is_loopback()) {
                    resynced = true;
                    if (synced = im.hosts.sync(); !synced) return;
                    local = im.hosts.contains(m->src);
                }
                if (!local || m->dst.is_loopback()) {
                    ++counters_.not_outbound;
                    return;
                }
                FlowObservation flow;
                flow.meta = *m;
                flow.meta.time_ms = now_ms;
                ++counters_.outbound;
                on_flow(flow);
            };
            if (!walk_conntrack_datagram(im.buf.data() + i * kSlot, im.msgs[i].msg_len, on_event))
                ++counters_.malformed;  // trailing bytes that are no message
            if (!synced) return synced;
        }
    }
}

}  // namespace em
