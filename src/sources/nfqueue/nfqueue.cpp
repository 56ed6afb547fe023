#include "sources/nfqueue/nfqueue.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "common/netlink.h"

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

namespace em {

namespace {

// One slot holds one packet message: a whole 64 KiB packet plus the attributes.
constexpr size_t kSlotSize = 68 * 1024;
constexpr size_t kSlots = 64;
constexpr size_t kBufSize = kSlotSize * kSlots;
// Room for the verdicts of one read: each is a small message (header + verdict attribute).
constexpr size_t kOutSize = 1 << 20;
constexpr size_t kVerdictRoom = 128;

}  // namespace

NfqueueSource::NfqueueSource(MnlSocket s, bool fail_open)
    : sock_(std::move(s)),
      fail_open_(fail_open),
      out_(new char[kOutSize]),
      next_id_(65536, 0),
      ct_queues_(65536, 0) {}

std::unique_ptr<NfqueueSource> NfqueueSource::detached(bool fail_open, bool conntrack) {
    std::unique_ptr<NfqueueSource> src(new NfqueueSource(MnlSocket(), fail_open));
    std::fill(src->ct_queues_.begin(), src->ct_queues_.end(), conntrack ? 1 : 0);
    return src;
}

NfqueueSource::~NfqueueSource() {
    for (uint16_t q : queues_)
        (void)config(
            q, [](nlmsghdr* nlh) { nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND); });
}

int NfqueueSource::fd() const { return mnl_socket_get_fd(sock_.get()); }

Result<void> NfqueueSource::config(uint16_t queue, const std::function<void(nlmsghdr*)>& attrs) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nlh->nlmsg_flags |= NLM_F_ACK;
    attrs(nlh);
    if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0)
        return errno_error("NFQUEUE " + std::to_string(queue) + ": config");
    // The acknowledgement (or the error) comes back before any packet: nothing is bound yet
    // for a new queue, and for a bound one packets are read by drain() only.
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(sock_.get(), buf, sizeof buf);
        if (n < 0) return errno_error("NFQUEUE " + std::to_string(queue) + ": config");
        int rc = mnl_cb_run(buf, static_cast<size_t>(n), 0, portid_, nullptr, nullptr);
        if (rc < 0) return errno_error("NFQUEUE " + std::to_string(queue) + ": config");
        if (rc == MNL_CB_STOP) return {};
    }
}

Result<std::unique_ptr<NfqueueSource>> NfqueueSource::open(
    const std::vector<NfqueueSource::Queue>& queues, bool fail_open, size_t rcvbuf) {
    auto sock = open_netlink(NETLINK_NETFILTER, SOCK_CLOEXEC, 0, "NFQUEUE", rcvbuf);
    if (!sock) return sock.error();
    std::unique_ptr<NfqueueSource> src(new NfqueueSource(std::move(*sock), fail_open));
    src->buf_.reset(new char[kBufSize]);  // the receive slots: a detached source has none
    src->portid_ = mnl_socket_get_portid(src->sock_.get());
    for (const Queue& spec : queues) {
        const uint16_t q = spec.num;
        if (auto r = src->config(
                q, [](nlmsghdr* nlh) { nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND); });
            !r)
            return r.error();
        src->queues_.push_back(q);
        // Without the conntrack glue in the kernel the flag is refused: bound without it.
        auto params = [&](bool conntrack) {
            return src->config(q, [&](nlmsghdr* nlh) {
                nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, static_cast<int>(spec.copy));
                const uint32_t flags = NFQA_CFG_F_GSO | (fail_open ? NFQA_CFG_F_FAIL_OPEN : 0) |
                                       (conntrack ? NFQA_CFG_F_CONNTRACK : 0);
                mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
                mnl_attr_put_u32(
                    nlh, NFQA_CFG_MASK,
                    htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_CONNTRACK));
                mnl_attr_put_u32(nlh, NFQA_CFG_QUEUE_MAXLEN, htonl(8192));
            });
        };
        if (spec.conntrack && params(true)) {
            src->ct_queues_[q] = 1;
            continue;
        }
        if (auto r = params(false); !r) return r.error();
    }
    return src;
}

// Packet ids count up by one per queue. A packet whose message the socket lost (ENOBUFS)
// would wait in the kernel for ever: the gap before the next id seen is judged at once,
// dropped (fail closed) or accepted (fail open), unseen either way, and counted.
// A run of packets of one queue with consecutive ids that follows everything judged before
// and has one verdict gets one NFQNL_MSG_VERDICT_BATCH (the kernel applies it to every
// packet of the queue up to its id, so nothing unseen may precede the run).
void NfqueueSource::put_verdicts() {
    auto put = [&](uint16_t queue, uint32_t id, bool accept, bool batch,
                   std::optional<uint32_t> mark = std::nullopt) {
        if (out_len_ + kVerdictRoom > kOutSize) (void)flush_verdicts();
        nlmsghdr* v = nfq_nlmsg_put(out_.get() + out_len_,
                                    batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, queue);
        nfq_nlmsg_verdict_put(v, static_cast<int>(id), accept ? NF_ACCEPT : NF_DROP);
        if (mark && accept) nfq_nlmsg_verdict_put_mark(v, *mark);
        out_len_ += v->nlmsg_len;
        ++counters_.verdict_messages;
    };
    for (size_t i = 0; i < pending_.size();) {
        const Pending& first = pending_[i];
        uint32_t& next = next_id_[first.queue];
        if (next != 0 && first.id > next) {
            counters_.unseen += first.id - next;
            if (first.id - next > 1)
                put(first.queue, first.id - 1, fail_open_, true);  // all of the gap at once
            else
                put(first.queue, next, fail_open_, false);
        }
        size_t j = i + 1;
        // A verdict with a mark is its own message (a batch would mark every packet).
        while (!first.mark && j < pending_.size() && pending_[j].queue == first.queue &&
               pending_[j].accept == first.accept && !pending_[j].mark &&
               pending_[j].id == pending_[j - 1].id + 1)
            ++j;
        const Pending& last = pending_[j - 1];
        put(last.queue, last.id, last.accept, j - i > 1, last.mark);
        next = last.id + 1;
        i = j;
    }
    pending_.clear();
}

Result<void> NfqueueSource::flush_verdicts() {
    if (out_len_ == 0) return {};
    if (!sock_) {  // detached: nowhere to send
        out_len_ = 0;
        return {};
    }
    ssize_t n = mnl_socket_sendto(sock_.get(), out_.get(), out_len_);
    out_len_ = 0;
    if (n < 0) return errno_error("NFQUEUE: sending verdicts");
    return {};
}

std::string_view NfqueueSource::judge(std::span<const std::string_view> datagrams,
                                      const Handler& handler) {
    struct Ctx {
        NfqueueSource* self;
        const Handler* handler;
    } ctx{this, &handler};
    auto cb = [](const nlmsghdr* nlh, void* arg) -> int {
        auto* c = static_cast<Ctx*>(arg);
        NfqueueSource& self = *c->self;
        nlattr* attr[NFQA_MAX + 1] = {};
        if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) {
            ++self.counters_.malformed;
            return MNL_CB_OK;
        }
        const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
        const uint16_t queue = ntohs(nfg->res_id);
        const auto* ph =
            static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
        const uint32_t id = ntohl(ph->packet_id);
        const uint8_t* data = nullptr;
        size_t len = 0;
        if (attr[NFQA_PAYLOAD] && nlattr_within(nlh, attr[NFQA_PAYLOAD])) {
            data = static_cast<const uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD]));
            len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
        } else {
            ++self.counters_.malformed;
        }
        // A state of another size is no state: the packet counts as untracked.
        Meta meta;
        meta.conntrack = self.ct_queues_[queue] != 0;
        if (attr[NFQA_CT_INFO] && mnl_attr_get_payload_len(attr[NFQA_CT_INFO]) == 4)
            meta.ct_info = ntohl(mnl_attr_get_u32(attr[NFQA_CT_INFO]));
        if (attr[NFQA_MARK] && mnl_attr_get_payload_len(attr[NFQA_MARK]) == 4)
            meta.mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
        ++self.counters_.packets;
        // A packet that cannot be looked at is dropped: the filter fails closed.
        const bool accept = data && (*c->handler)(queue, data, len, meta);
        self.pending_.push_back(Pending{queue, id, accept, accept ? meta.set_mark : std::nullopt});
        return MNL_CB_OK;
    };
    pending_.clear();
    for (std::string_view d : datagrams) {
        // Only whole messages: libmnl's walk trusts a length of 2^31 or more
        // (common/netlink.h).
        const size_t whole = nlmsg_whole_prefix(d.data(), d.size());
        if (whole < d.size()) ++counters_.malformed;
        errno = 0;
        if (mnl_cb_run(d.data(), whole, 0, portid_, cb, &ctx) < 0 && errno != 0)
            ++counters_.malformed;
    }
    put_verdicts();
    return std::string_view(out_.get(), out_len_);
}

Result<void> NfqueueSource::drain(const Handler& handler, const std::function<void()>& on_read) {
    // Each packet is one netlink datagram: recvmmsg takes up to kSlots of them per call, and
    // their verdicts go out together in one sendto.
    mmsghdr msgs[kSlots];
    iovec iov[kSlots];
    for (;;) {
        for (size_t k = 0; k < kSlots; ++k) {
            iov[k] = {buf_.get() + k * kSlotSize, kSlotSize};
            msgs[k] = {};
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
        }
        int got = recvmmsg(fd(), msgs, kSlots, MSG_DONTWAIT, nullptr);
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == ENOBUFS) {
                ++counters_.overruns;
                continue;
            }
            return errno_error("NFQUEUE: recvmmsg");
        }
        if (on_read) on_read();
        std::string_view datagrams[kSlots];
        for (int k = 0; k < got; ++k) {
            if (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) ++counters_.malformed;  // dropped below
            datagrams[k] = std::string_view(buf_.get() + k * kSlotSize, msgs[k].msg_len);
        }
        (void)judge(std::span(datagrams, static_cast<size_t>(got)), handler);
        // Verdicts go out after each read: the packets of this read wait no longer.
        if (auto r = flush_verdicts(); !r) return r;
        if (static_cast<size_t>(got) < kSlots) break;  // drained
    }
    return flush_verdicts();
}

}  // namespace em
