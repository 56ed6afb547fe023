#pragma once
// The PTR lookups of `lookupUnknownIPs`, off the verdict loop. The lookup's own query and
// answer pass through enforce's queues (selfDNSQueue, as in egress-eddie): made on the loop,
// it would wait for a verdict only the loop can give, until the resolver's timeout. Here a
// thread resolves one address at a time through the system resolver; the loop hands it
// addresses with request() and picks the names up with take(). A packet to an address whose
// name is not known yet is dropped: the client's retry (a TCP SYN is sent again after 1 s)
// is judged by the answer.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/ip_address.h"

namespace em {

/// Whether `ip` is private (10/8, 172.16/12, 192.168/16, fc00::/7): not looked up, as in
/// egress-eddie (Go's netip.Addr.IsPrivate) — its name is the local network's business.
bool is_private_address(const IpAddress& ip);

/// The name a PTR lookup gives for `ip`, lower case without a trailing dot; empty if none.
std::string reverse_name(const IpAddress& ip);

class ReverseLookups {
  public:
    /// At most `max_pending` addresses wait or are being resolved; more are refused.
    explicit ReverseLookups(size_t max_pending = 256) : max_pending_(max_pending) {}
    ~ReverseLookups();
    /// Starts the thread; with `harden` it drops its capabilities first (before the caller
    /// installs the seccomp filter, which forbids capset). False when that failed.
    bool start(bool harden);
    /// Asks for the name of `ip`. False when the queue is full or the thread is not running;
    /// true when it is queued or already waiting.
    bool request(const IpAddress& ip);
    /// Moves the lookups finished since the last call into `out` (address, name or "").
    void take(std::vector<std::pair<IpAddress, std::string>>& out);

  private:
    void loop();

    const size_t max_pending_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<IpAddress> queue_;
    std::unordered_set<IpAddress, IpAddressHash> pending_;  // queued or being resolved
    std::vector<std::pair<IpAddress, std::string>> done_;
    bool stop_ = false, running_ = false;
    std::thread thread_;
};

}  // namespace em
