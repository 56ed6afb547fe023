#pragma once
// ctnetlink NEW events (libnetfilter_conntrack over libmnl): every new connection the kernel
// tracks, with no firewall rule needed. Only outbound flows are reported: the original
// direction's source is one of the host's own addresses (kept current from rtnetlink
// address events) and the destination is not loopback. The socket gets an 8 MB receive
// buffer (SO_RCVBUFFORCE); ENOBUFS means the kernel dropped events: counted and reported,
// the reader carries on.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "core/observation.h"

namespace em {

struct ConntrackCounters {
    uint64_t events = 0;    // NEW events received
    uint64_t outbound = 0;  // reported as flows
    uint64_t not_outbound = 0;
    uint64_t overruns = 0;  // ENOBUFS: events lost in the kernel
    uint64_t malformed = 0;
};

/// Decodes one ctnetlink message (a conntrack NEW event: nlmsghdr, nfgenmsg, attributes)
/// into its original-direction tuple; ports are 0 for protocols without them (ICMP).
/// time_ms is left 0. nullopt for another message type or a malformed message. drain()
/// uses the same code; exposed for tests.
std::optional<PacketMeta> decode_conntrack_message(const void* data, size_t len);

/// Walks one received ctnetlink datagram (any bytes; `buf` aligned for nlmsghdr) as drain()
/// does: `on_event` gets each NEW event's tuple, or nullopt for a malformed one; other
/// message types are skipped. False when bytes are left over that form no message.
bool walk_conntrack_datagram(const void* buf, size_t len,
                             const std::function<void(const std::optional<PacketMeta>&)>& on_event);

/// Not thread-safe: one reader. Sockets belong to the network namespace of the thread that
/// called open(), whichever thread drains them later.
class ConntrackSource {
  public:
    /// Subscribes to NEW events with a `rcvbuf`-byte receive buffer (SO_RCVBUFFORCE, or
    /// SO_RCVBUF capped by net.core.rmem_max without CAP_NET_ADMIN) and loads the address set.
    static Result<std::unique_ptr<ConntrackSource>> open(size_t rcvbuf = 8 << 20);
    ~ConntrackSource();
    /// Readable when events wait; for epoll. Address notifications have no fd of their
    /// own: drain() applies them first, so they are current for the events it reads.
    int fd() const;
    /// Reads what is available without blocking and calls `on_flow` for each outbound flow.
    /// An error means the socket failed (not an overrun, which is counted and logged).
    Result<void> drain(const std::function<void(const FlowObservation&)>& on_flow);
    const ConntrackCounters& counters() const { return counters_; }
    /// True when `ip` is one of this host's addresses (the rtnetlink-maintained set).
    bool is_local(const IpAddress& ip) const;

  private:
    struct Impl;
    explicit ConntrackSource(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    ConntrackCounters counters_;
};

}  // namespace em
