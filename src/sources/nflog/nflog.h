#pragma once
// NFLOG reader (libmnl + libnetfilter_log's netlink helpers): binds one nfnetlink_log group,
// asks for whole packets with per-instance sequence numbers, and hands each logged packet
// over decoded down to the transport header, tagged by the rule prefix (capture_rules.h).
//
// Loss is never silent: a gap in the NFULA_SEQ numbers (the kernel could not queue the
// message) and ENOBUFS on the socket (the receive buffer overflowed) are both counted and
// reported. Does not call the legacy bind_pf (FIELD-NOTES: it would steal plain `log` rules
// from the kernel log).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/mnl/mnl_socket.h"
#include "common/result.h"
#include "core/observation.h"
#include "packet/packet.h"

struct nlmsghdr;

namespace em {

enum class NflogKind { flow, dns_query, dns_response, first_payload, other };

struct NflogCounters {
    uint64_t messages = 0;
    uint64_t lost_seq = 0;   // messages missing from the sequence
    uint64_t overruns = 0;   // ENOBUFS: the socket buffer overflowed
    uint64_t malformed = 0;  // undecodable packets
};

class NflogSource {
  public:
    using Handler = std::function<void(NflogKind, const PacketMeta&, const PacketInfo&)>;

    /// Binds `group` (EBUSY: another process has it). `rcvbuf`: socket receive buffer
    /// (SO_RCVBUFFORCE). The kernel batches up to `qthresh` messages or 10 ms.
    static Result<std::unique_ptr<NflogSource>> open(uint16_t group, size_t rcvbuf = 8 << 20,
                                                     uint32_t qthresh = 64);
    ~NflogSource();
    int fd() const;
    /// A source without a socket, for tests and the fuzzer: only decode() may be called.
    static std::unique_ptr<NflogSource> detached();
    /// Reads everything queued without blocking.
    Result<void> drain(const Handler& handler);
    /// The decode half of drain(): one received netlink buffer (any bytes; `buf` aligned for
    /// nlmsghdr), each logged packet handed to `handler` stamped `now_ms`. What cannot be
    /// decoded is counted as malformed; packet views point into `buf`.
    void decode(const void* buf, size_t len, int64_t now_ms, const Handler& handler);
    const NflogCounters& counters() const { return counters_; }

  private:
    NflogSource(MnlSocket s, uint16_t group);
    Result<void> config(uint8_t cmd_or_zero, const std::function<void(::nlmsghdr*)>& attrs);
    int on_message(const ::nlmsghdr* nlh, const Handler& handler);

    MnlSocket sock_;
    uint16_t group_;
    uint32_t portid_ = 0;
    std::unique_ptr<char[]> buf_;
    NflogCounters counters_;
    bool seq_known_ = false;
    uint32_t next_seq_ = 0;
    int64_t now_ms_ = 0;
    std::string why_;
    int64_t last_report_ms_ = 0;
    uint64_t reported_loss_ = 0;
};

}  // namespace em
