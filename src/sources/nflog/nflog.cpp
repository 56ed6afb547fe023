#include "sources/nflog/nflog.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <sys/socket.h>
#include <time.h>

#include <cstring>

extern "C" {
#include <libnetfilter_log/libnetfilter_log.h>
}

#include "common/log.h"
#include "common/netlink.h"
#include "sources/nflog/capture_rules.h"

namespace em {

namespace {

constexpr size_t kBufSize = 1 << 20;

int64_t wall_ms() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

NflogSource::NflogSource(MnlSocket s, uint16_t group) : sock_(std::move(s)), group_(group) {
    if (!sock_) return;  // detached: no socket, no receive buffer
    buf_.reset(new char[kBufSize]);
    portid_ = mnl_socket_get_portid(sock_.get());
}

std::unique_ptr<NflogSource> NflogSource::detached() {
    return std::unique_ptr<NflogSource>(new NflogSource(MnlSocket(), 0));
}

NflogSource::~NflogSource() {
    if (sock_) (void)config(NFULNL_CFG_CMD_UNBIND, {});
}

int NflogSource::fd() const { return mnl_socket_get_fd(sock_.get()); }

Result<void> NflogSource::config(uint8_t cmd, const std::function<void(struct nlmsghdr*)>& attrs) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh = nflog_nlmsg_put_header(buf, NFULNL_MSG_CONFIG, AF_UNSPEC, group_);
    nlh->nlmsg_flags |= NLM_F_ACK;
    if (cmd) nflog_attr_put_cfg_cmd(nlh, cmd);
    if (attrs) attrs(nlh);
    if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0)
        return errno_error("NFLOG group " + std::to_string(group_) + ": send config");
    // The ACK comes before any packet: nothing is logged to the group before the BIND.
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(sock_.get(), buf_.get(), kBufSize);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error("NFLOG group " + std::to_string(group_) + ": config");
        }
        int rc = mnl_cb_run(buf_.get(), static_cast<size_t>(n), 0, portid_, nullptr, nullptr);
        if (rc < 0) {
            std::string what = "NFLOG group " + std::to_string(group_);
            if (errno == EBUSY) what += " is in use by another process";
            return errno_error(what);
        }
        return {};
    }
}

Result<std::unique_ptr<NflogSource>> NflogSource::open(uint16_t group, size_t rcvbuf,
                                                       uint32_t qthresh) {
    auto sock = open_netlink(NETLINK_NETFILTER, SOCK_CLOEXEC, 0, "NFLOG", rcvbuf);
    if (!sock) return sock.error();
    std::unique_ptr<NflogSource> src(new NflogSource(std::move(*sock), group));
    // Bind and configure in one message: the kernel creates the instance, then applies the
    // settings, so no packet is ever copied with the defaults.
    auto r = src->config(NFULNL_CFG_CMD_BIND, [&](nlmsghdr* nlh) {
        nflog_attr_put_cfg_mode(nlh, NFULNL_COPY_PACKET, 0xffff);
        mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
        mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(256 * 1024));
        mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(qthresh));
        mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(1));  // 1/100 s
    });
    if (!r) return r.error();
    return src;
}

int NflogSource::on_message(const nlmsghdr* nlh, const Handler& handler) {
    nlattr* attr[NFULA_MAX + 1] = {};
    if (nflog_nlmsg_parse(nlh, attr) < 0) {
        ++counters_.malformed;
        return MNL_CB_OK;
    }
    ++counters_.messages;
    if (attr[NFULA_SEQ]) {
        uint32_t seq = ntohl(mnl_attr_get_u32(attr[NFULA_SEQ]));
        // A number behind the expected one (not a gap: the instance was created anew) is
        // no loss; the difference is modulo 2^32, so the numbers may wrap.
        const uint32_t gap = seq - next_seq_;
        if (seq_known_ && gap < (1u << 31)) counters_.lost_seq += gap;
        seq_known_ = true;
        next_seq_ = seq + 1;
    }
    if (!attr[NFULA_PAYLOAD] || !nlattr_within(nlh, attr[NFULA_PAYLOAD])) {
        ++counters_.malformed;
        return MNL_CB_OK;
    }
    NflogKind kind = NflogKind::other;
    if (attr[NFULA_PREFIX]) {
        const char* p = mnl_attr_get_str(attr[NFULA_PREFIX]);
        if (std::strcmp(p, kNflogPrefixFlow) == 0)
            kind = NflogKind::flow;
        else if (std::strcmp(p, kNflogPrefixQuery) == 0)
            kind = NflogKind::dns_query;
        else if (std::strcmp(p, kNflogPrefixResponse) == 0)
            kind = NflogKind::dns_response;
        else if (std::strcmp(p, kNflogPrefixFirst) == 0)
            kind = NflogKind::first_payload;
    }
    const auto* data = static_cast<const uint8_t*>(mnl_attr_get_payload(attr[NFULA_PAYLOAD]));
    size_t len = mnl_attr_get_payload_len(attr[NFULA_PAYLOAD]);
    PacketInfo p;
    if (!decode_ip_packet(data, len, p, why_)) {
        ++counters_.malformed;
        return MNL_CB_OK;
    }
    PacketMeta meta;
    meta.time_ms = now_ms_;
    meta.proto = p.proto;
    meta.src = p.src;
    meta.dst = p.dst;
    meta.sport = p.sport;
    meta.dport = p.dport;
    if (attr[NFULA_UID]) meta.owner.uid = ntohl(mnl_attr_get_u32(attr[NFULA_UID]));
    if (attr[NFULA_GID]) meta.owner.gid = ntohl(mnl_attr_get_u32(attr[NFULA_GID]));
    handler(kind, meta, p);
    return MNL_CB_OK;
}

void NflogSource::decode(const void* buf, size_t len, int64_t now_ms, const Handler& handler) {
    struct Ctx {
        NflogSource* self;
        const Handler* handler;
    } ctx{this, &handler};
    auto cb = [](const nlmsghdr* nlh, void* data) -> int {
        auto* c = static_cast<Ctx*>(data);
        return c->self->on_message(nlh, *c->handler);
    };
    now_ms_ = now_ms;
    // Batched messages end with NLMSG_DONE (MNL_CB_STOP): not an error.
    // Only whole messages: libmnl's walk trusts a length of 2^31 or more (common/netlink.h).
    const size_t whole = nlmsg_whole_prefix(buf, len);
    if (whole < len) ++counters_.malformed;
    errno = 0;
    if (mnl_cb_run(buf, whole, 0, portid_, cb, &ctx) < 0 && errno != 0) ++counters_.malformed;
}

Result<void> NflogSource::drain(const Handler& handler) {
    for (;;) {
        ssize_t n = recv(fd(), buf_.get(), kBufSize, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == ENOBUFS) {
                ++counters_.overruns;
                continue;
            }
            return errno_error("NFLOG group " + std::to_string(group_) + ": recv");
        }
        decode(buf_.get(), static_cast<size_t>(n), wall_ms(), handler);
    }
    uint64_t loss = counters_.lost_seq + counters_.overruns;
    if (loss != reported_loss_ && now_ms_ - last_report_ms_ >= 10000) {
        log_warn(
            "NFLOG group {}: the kernel dropped events: {} missing sequence numbers, {} "
            "socket overruns so far",
            group_, counters_.lost_seq, counters_.overruns);
        reported_loss_ = loss;
        last_report_ms_ = now_ms_;
    }
    return {};
}

}  // namespace em
