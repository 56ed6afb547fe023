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
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/result.h"

struct mnl_socket;
struct nlmsghdr;

namespace em {

struct NfqueueCounters {
    uint64_t packets = 0;
    uint64_t overruns = 0;   // ENOBUFS
    uint64_t malformed = 0;  // messages without id or payload
};

class NfqueueSource {
  public:
    /// Returns true to accept the packet, false to drop it. `queue`: its queue number.
    using Handler = std::function<bool(uint16_t queue, const uint8_t* packet, size_t len)>;

    /// Binds `queues` (EBUSY-like errors when another process has one).
    static Result<std::unique_ptr<NfqueueSource>> open(const std::vector<uint16_t>& queues,
                                                       bool fail_open, size_t rcvbuf = 8 << 20,
                                                       uint32_t maxlen = 4096);
    ~NfqueueSource();
    int fd() const;
    /// Reads everything queued without blocking and sends the verdicts.
    Result<void> drain(const Handler& handler);
    const NfqueueCounters& counters() const { return counters_; }

  private:
    explicit NfqueueSource(mnl_socket* s);
    Result<void> config(uint16_t queue, const std::function<void(::nlmsghdr*)>& attrs);
    Result<void> flush_verdicts();

    std::unique_ptr<mnl_socket, void (*)(mnl_socket*)> sock_;
    uint32_t portid_ = 0;
    std::vector<uint16_t> queues_;
    std::unique_ptr<char[]> buf_, out_;
    size_t out_len_ = 0;
    NfqueueCounters counters_;
};

}  // namespace em
