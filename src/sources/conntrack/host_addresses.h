#pragma once
// This host's own addresses (IPv4 and IPv6, every interface) in the calling thread's network
// namespace, as rtnetlink reports them: a RTM_GETADDR dump at open(), kept current from
// RTM_NEWADDR/RTM_DELADDR notifications that sync() applies without blocking.
#include <libmnl/libmnl.h>

#include <cstdint>
#include <vector>

#include "common/ip_address.h"
#include "common/mnl/mnl_socket.h"
#include "common/result.h"

namespace em {

/// The address set itself, fed rtnetlink messages; no sockets, so tests can feed it.
/// An address is keyed by (address, interface index): the same address on two interfaces
/// stays local until both are gone.
class HostAddressSet {
  public:
    /// Applies one RTM_NEWADDR or RTM_DELADDR message; any other type is ignored (true).
    /// False when the message is malformed (too short, no address attribute).
    bool apply(const nlmsghdr* nlh);
    /// Applies every message of one received datagram (any bytes; `buf` aligned for
    /// nlmsghdr); false when a message was malformed or bytes are left over.
    bool apply_datagram(const void* buf, size_t len);
    bool contains(const IpAddress& ip) const;
    size_t size() const { return entries_.size(); }
    void clear() { entries_.clear(); }

  private:
    struct Entry {
        IpAddress addr;
        uint32_t ifindex = 0;
        friend auto operator<=>(const Entry&, const Entry&) = default;
    };
    std::vector<Entry> entries_;  // sorted
};

/// Owns the rtnetlink subscription. Not thread-safe; one per reader. Movable.
class HostAddresses {
  public:
    /// Subscribes to address notifications, then dumps the current addresses (in that
    /// order, so a change during the dump is not missed).
    static Result<HostAddresses> open();

    /// Applies every pending notification; never blocks. When the kernel dropped
    /// notifications (ENOBUFS), the set is rebuilt from a fresh dump.
    Result<void> sync();
    bool contains(const IpAddress& ip) const { return set_.contains(ip); }
    size_t size() const { return set_.size(); }
    /// Times the set was rebuilt after lost notifications.
    uint64_t resyncs() const { return resyncs_; }

  private:
    explicit HostAddresses(MnlSocket events) : events_(std::move(events)) {}
    Result<void> dump();

    MnlSocket events_;  // bound to the IPv4/IPv6 address groups, non-blocking
    HostAddressSet set_;
    uint32_t seq_ = 0;
    uint64_t resyncs_ = 0;
};

}  // namespace em
