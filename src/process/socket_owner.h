#pragma once
// Which local socket a flow belongs to, and which process holds it — the fallback
// attribution for the sources that see packets, not processes (nflog, conntrack):
//   1. NETLINK_SOCK_DIAG (inet_diag) finds the socket of a TCP/UDP 5-tuple: its inode and
//      owner uid (an exact lookup, then a filtered dump for UDP sockets the exact lookup
//      does not find, such as unconnected ones);
//   2. a scan of /proc/*/fd maps the inode to a pid; the scan's index is kept and redone
//      only when an inode is not in it, within a CPU budget: scans may take `share` of the
//      time (5 %), in bursts of up to `burst_ms` of scanning. A fixed interval instead
//      (one scan per 200 ms) missed a process's second socket opened right after its first
//      had been looked up; the budget allows that rescan, and still bounds what a flood of
//      connections from processes that exit at once costs.
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
    explicit InodeIndex(std::string proc_root = "/proc", double share = 0.05, int64_t burst_ms = 50)
        : proc_root_(std::move(proc_root)),
          share_(share),
          burst_ns_(burst_ms * 1000000),
          budget_ns_(burst_ns_) {}
    /// The pid holding socket `inode`, rescanning when it is unknown and the budget allows;
    /// nullopt when none does (or the budget is spent: counted in budget_misses()).
    std::optional<pid_t> pid_of(uint64_t inode);
    size_t scans() const { return scans_; }
    size_t budget_misses() const { return budget_misses_; }

  private:
    void scan();
    std::string proc_root_;
    double share_;
    int64_t burst_ns_;
    int64_t budget_ns_;        // scanning time still allowed; refilled at share_ of the clock
    int64_t refilled_ns_ = 0;  // when budget_ns_ was last refilled
    size_t budget_misses_ = 0;
    std::unordered_map<uint64_t, pid_t> index_;
    size_t scans_ = 0;
};

}  // namespace em
