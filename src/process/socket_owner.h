#pragma once
// Which local socket a flow belongs to, and which process holds it — the fallback
// attribution for the sources that see packets, not processes (nflog, conntrack):
//   1. NETLINK_SOCK_DIAG (inet_diag) finds the socket of a TCP/UDP 5-tuple: its inode and
//      owner uid (an exact lookup, then a filtered dump for UDP sockets the exact lookup
//      does not find, such as unconnected ones);
//   2. a scan of /proc/*/fd maps the inode to a pid; the scan's index is kept and redone
//      only when an inode is not in it (at most every `rescan_ms`).
// A socket closed before the lookup, or a process gone before the scan, is a miss: counted
// by the caller, never guessed.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/ip_address.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace em {

struct SocketEntry {
    uint64_t inode = 0;
    uint32_t uid = 0;
};

class SocketLookup {
  public:
    static Result<SocketLookup> open();
    /// The socket whose local end is (src, sport) and remote end (dst, dport); nullopt when
    /// none is found. `proto`: 6 or 17.
    Result<std::optional<SocketEntry>> find(uint8_t proto, const IpAddress& src, uint16_t sport,
                                            const IpAddress& dst, uint16_t dport);

  private:
    explicit SocketLookup(UniqueFd fd) : fd_(std::move(fd)) {}
    Result<std::optional<SocketEntry>> query(uint8_t proto, const IpAddress& src, uint16_t sport,
                                             const IpAddress& dst, uint16_t dport, bool dump);
    UniqueFd fd_;
    uint32_t seq_ = 0;
};

class InodeIndex {
  public:
    explicit InodeIndex(std::string proc_root = "/proc", int64_t rescan_ms = 200)
        : proc_root_(std::move(proc_root)), rescan_ms_(rescan_ms) {}
    /// The pid holding socket `inode`, rescanning when it is unknown; nullopt when none does.
    std::optional<pid_t> pid_of(uint64_t inode);
    size_t scans() const { return scans_; }

  private:
    void scan();
    std::string proc_root_;
    int64_t rescan_ms_;
    int64_t last_scan_ms_ = -1000000;
    std::unordered_map<uint64_t, pid_t> index_;
    size_t scans_ = 0;
};

}  // namespace em
