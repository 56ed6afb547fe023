#pragma once
// NFQUEUE reader (libmnl + libnetfilter_queue's netlink helpers): one netlink socket bound to
// every queue number given, whole packets copied, verdicts sent in batches (one sendto per
// drained read). Packets wait in the kernel until their verdict: the handler decides each
// at once.
//
// Overflow is never silent: ENOBUFS on the socket is counted (the kernel dropped packets
// it could not deliver — or, with fail_open, let them through), and so are the kernel's
// own per-queue drop counts when read. `fail_open` sets NFQA_CFG_F_FAIL_OPEN: when a queue
// is full its packets are accepted instead of dropped.
//
// A queue bound with `conntrack` (NFQA_CFG_F_CONNTRACK) gets each packet's conntrack state
// with it (NFQA_CT_INFO), handed to the handler; the kernel then also builds the NFQA_CT
// nest of the entry (tuples, status, ...) per packet, so only queues whose verdicts need the
// state ask for it. A kernel built without CONFIG_NETFILTER_NETLINK_GLUE_CT refuses the flag
// (EOPNOTSUPP): the queue is then bound without it (conntrack(q) says so).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/mnl/mnl_socket.h"
#include "common/result.h"

struct nlmsghdr;

namespace em {

struct NfqueueCounters {
    uint64_t packets = 0;
    uint64_t overruns = 0;          // ENOBUFS
    uint64_t malformed = 0;         // messages without id or payload
    uint64_t verdict_messages = 0;  // verdicts sent (a batch verdict covers several packets)
    uint64_t unseen = 0;            // packets whose message was lost, judged unseen
};

class NfqueueSource {
  public:
    /// What the kernel said of a packet besides its bytes.
    struct Meta {
        /// Whether the kernel reports conntrack state on this queue (bound with `conntrack`
        /// and granted): only then does an absent ct_info mean untracked.
        bool conntrack = false;
        /// Its conntrack state (the kernel's enum ip_conntrack_info: 0 ESTABLISHED,
        /// 1 RELATED, 2 NEW, 3 ESTABLISHED_REPLY, 4 RELATED_REPLY, 7 UNTRACKED), from
        /// NFQA_CT_INFO. Absent when the message carried none: the queue was not bound with
        /// `conntrack`, or the kernel has no conntrack entry for the packet (untracked: a
        /// `-j CT --notrack` rule, or conntrack not active in the namespace).
        std::optional<uint32_t> ct_info;
        /// The packet's mark as queued (NFQA_MARK; 0 when the kernel sent none).
        uint32_t mark = 0;
        /// Set by the handler to have an accepted packet leave with this mark (its verdict
        /// then carries NFQA_MARK and is sent on its own, not in a batch). Unset: unchanged.
        mutable std::optional<uint32_t> set_mark;
    };
    /// Returns true to accept the packet, false to drop it. `queue`: its queue number.
    using Handler =
        std::function<bool(uint16_t queue, const uint8_t* packet, size_t len, const Meta& meta)>;

    /// A queue to bind, how many bytes of each packet to copy (headers only: 128), and
    /// whether to ask for each packet's conntrack state (Meta::ct_info).
    struct Queue {
        uint16_t num;
        uint32_t copy = 0xffff;
        bool conntrack = false;
    };
    /// Binds `queues` (an error names the queue another process has).
    static Result<std::unique_ptr<NfqueueSource>> open(const std::vector<Queue>& queues,
                                                       bool fail_open, size_t rcvbuf = 8 << 20);
    ~NfqueueSource();
    int fd() const;
    /// Whether queue `q` reports each packet's conntrack state (Meta::conntrack).
    bool conntrack(uint16_t q) const { return ct_queues_[q] != 0; }
    /// Reads everything queued without blocking and sends the verdicts. `on_read` (optional)
    /// is called after each read, before the handler sees the packets it brought (one clock
    /// reading can serve them all).
    Result<void> drain(const Handler& handler, const std::function<void()>& on_read = {});
    const NfqueueCounters& counters() const { return counters_; }

    /// A source without a socket, for tests and the fuzzer: only judge() may be called.
    /// `conntrack`: every queue counts as reporting conntrack state.
    static std::unique_ptr<NfqueueSource> detached(bool fail_open, bool conntrack = false);
    /// The decode half of drain(): the datagrams of one read (any bytes; each aligned for
    /// nlmsghdr) in, each packet judged by `handler`, and the verdict messages not yet sent
    /// out (drain() sends them; a view valid until the next call). Messages without a packet
    /// id are counted as malformed; a packet without payload is dropped.
    std::string_view judge(std::span<const std::string_view> datagrams, const Handler& handler);

  private:
    NfqueueSource(MnlSocket s, bool fail_open);
    Result<void> config(uint16_t queue, const std::function<void(::nlmsghdr*)>& attrs);
    Result<void> flush_verdicts();
    void put_verdicts();

    MnlSocket sock_;
    uint32_t portid_ = 0;
    bool fail_open_;
    std::vector<uint16_t> queues_;
    std::unique_ptr<char[]> buf_, out_;
    size_t out_len_ = 0;
    struct Pending {
        uint16_t queue;
        uint32_t id;
        bool accept;
        std::optional<uint32_t> mark;  // NFQA_MARK of an accepted packet's verdict
    };
    std::vector<Pending> pending_;    // the verdicts of one read, sent by put_verdicts()
    std::vector<uint32_t> next_id_;   // per queue number: the id expected next (0: none yet)
    std::vector<uint8_t> ct_queues_;  // per queue number: reports conntrack state
    NfqueueCounters counters_;
};

}  // namespace em
