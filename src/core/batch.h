#pragma once
// Batch: the exact deltas observed since the last commit, in memory. Sources add to it;
// the ledger folds it into the committed totals in one transaction together with the
// cursors that produced it. Not thread-safe: each reader thread fills its own and the
// batches are merged before the commit.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ip_address.h"

namespace em {

struct AnsweredIp {
    IpAddress ip;
    int64_t last_seen = 0;
};

struct DomainDelta {
    uint64_t queries = 0;
    int64_t last_seen = 0;            // of the latest query; 0 when none in this batch
    std::vector<AnsweredIp> answers;  // at most the per-domain cap, most recent kept
};

struct IpDelta {
    uint64_t flows = 0;
    int64_t last_seen = 0;
};

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Batch {
public:
    explicit Batch(size_t max_ips_per_domain = 32) : max_ips_per_domain_(max_ips_per_domain) {}

    /// Domain names must already be normalised (see normalize_domain).
    void add_query(std::string_view domain, int64_t t);
    /// Loopback and unspecified addresses are ignored (returns false).
    bool add_answer(std::string_view domain, const IpAddress& ip, int64_t t);
    /// Loopback destinations are never egress (returns false).
    bool add_flow(const IpAddress& dst, int64_t t);
    void count(const std::string& counter, uint64_t n = 1) { counters_[counter] += n; }

    void merge(Batch&& other);
    bool empty() const { return domains_.empty() && ips_.empty(); }
    size_t max_ips_per_domain() const { return max_ips_per_domain_; }

    const std::unordered_map<std::string, DomainDelta, StringHash, std::equal_to<>>& domains()
        const {
        return domains_;
    }
    const std::unordered_map<IpAddress, IpDelta, IpAddressHash>& ips() const { return ips_; }
    const std::map<std::string, uint64_t>& counters() const { return counters_; }

private:
    DomainDelta& domain(std::string_view name);
    void add_answer_to(DomainDelta& d, const IpAddress& ip, int64_t t);

    size_t max_ips_per_domain_;
    std::unordered_map<std::string, DomainDelta, StringHash, std::equal_to<>> domains_;
    std::unordered_map<IpAddress, IpDelta, IpAddressHash> ips_;
    std::map<std::string, uint64_t> counters_;
};

/// Lower-cases `name` and drops one trailing dot, writing into `out` (reused buffer).
/// Returns false when the name is empty, longer than 253 bytes, or holds bytes outside
/// printable ASCII (spaces, control bytes, invalid or non-ASCII UTF-8: dnsmasq escapes
/// such bytes, so a raw one means the line is damaged).
bool normalize_domain(std::string_view name, std::string& out);

}  // namespace em
