#pragma once
// AnswerCache: which names an address was given for, by DNS answers still within their TTL —
// the enrichment that labels a flow to 192.0.2.10 with "www.example.test", or marks it
// direct when no answer explains it (DESIGN.md, "Enrichment").
//
// TTLs are clamped to [min_ttl, max_ttl] seconds: a client may connect a little after a
// TTL-0 answer, and a week-long TTL should not pin an entry. Many names per address (up to
// kMaxNamesPerIp, the most recently answered kept). Bounded: at most `max_entries`
// (address, name) pairs; beyond that the least recently answered addresses are evicted and
// counted. Loopback and unspecified answers are ignored. Single-threaded.
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ip_address.h"

namespace em {

class AnswerCache {
  public:
    static constexpr size_t kMaxNamesPerIp = 8;

    AnswerCache(size_t max_entries, uint32_t min_ttl_s, uint32_t max_ttl_s)
        : max_entries_(max_entries), min_ttl_s_(min_ttl_s), max_ttl_s_(max_ttl_s) {}

    /// Records that `name` resolved to `ip` at `now_ms` with `ttl_s`. Returns false when the
    /// address is ignored (loopback, unspecified).
    bool insert(const IpAddress& ip, std::string_view name, uint32_t ttl_s, int64_t now_ms);
    /// The names whose answers for `ip` are still valid at `now_ms`, most recent first.
    void lookup(const IpAddress& ip, int64_t now_ms, std::vector<std::string>& names);
    /// Drops every expired entry (call now and then; lookups drop them lazily too).
    void expire(int64_t now_ms);
    /// New bounds (SIGHUP); shrinking evicts at once.
    void reconfigure(size_t max_entries, uint32_t min_ttl_s, uint32_t max_ttl_s);

    size_t entries() const { return entries_; }
    size_t addresses() const { return map_.size(); }
    uint64_t evicted() const { return evicted_; }

  private:
    struct Name {
        std::string name;
        int64_t expires_ms;
    };
    struct Entry {
        std::vector<Name> names;  // most recent first
        std::list<IpAddress>::iterator age;
    };
    void evict_to(size_t limit);
    void erase(std::unordered_map<IpAddress, Entry, IpAddressHash>::iterator it);

    size_t max_entries_;
    uint32_t min_ttl_s_, max_ttl_s_;
    size_t entries_ = 0;
    uint64_t evicted_ = 0;
    std::list<IpAddress> lru_;  // front = least recently answered
    std::unordered_map<IpAddress, Entry, IpAddressHash> map_;
};

}  // namespace em
