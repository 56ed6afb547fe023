#pragma once
// Batch: the exact deltas observed since the last commit, in memory. Sources add to it;
// the ledger folds it into the committed totals in one transaction together with the
// cursors that produced it. Not thread-safe: each reader thread fills its own and the
// batches are merged before the commit.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ip_address.h"
#include "core/domain_folder.h"
#include "core/domain_table.h"
#include "core/ip_table.h"

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

/// Per destination, protocol and port: flows and how many of them no DNS answer explained
/// (the agent's `direct`). Only the agent fills these; consolidate has no ports.
struct FlowPortKey {
    IpAddress ip;
    uint8_t proto = 0;
    uint16_t port = 0;
    friend bool operator==(const FlowPortKey&, const FlowPortKey&) = default;
};
struct FlowPortKeyHash {
    size_t operator()(const FlowPortKey& k) const {
        return k.ip.hash() ^ (size_t{k.proto} << 16 | k.port) * 0x9E3779B97F4A7C15ull;
    }
};
struct FlowPortDelta {
    uint64_t flows = 0;
    uint64_t direct = 0;
};

/// A name a flow's first packet gave for its destination (src/flowname): the server name of
/// a TLS or QUIC ClientHello, or an HTTP Host. `protocol` is a FirstPacketProtocol's value.
struct FlowNameKey {
    IpAddress ip;
    std::string name;
    uint8_t protocol = 0;
    friend bool operator==(const FlowNameKey&, const FlowNameKey&) = default;
};
struct FlowNameKeyHash {
    size_t operator()(const FlowNameKey& k) const {
        return k.ip.hash() ^
               (std::hash<std::string>()(k.name) + k.protocol) * 0x9E3779B97F4A7C15ull;
    }
};
struct FlowNameDelta {
    uint64_t count = 0;
    int64_t first_seen = 0;  // within the batch
    int64_t last_seen = 0;
    bool ech = false;  // a flow offered Encrypted Client Hello: the name may be the outer one
    void merge(const FlowNameDelta& o) {
        if (count == 0 || o.first_seen < first_seen) first_seen = o.first_seen;
        if (o.last_seen > last_seen) last_seen = o.last_seen;
        count += o.count;
        ech = ech || o.ech;
    }
};
using FlowNameMap = std::unordered_map<FlowNameKey, FlowNameDelta, FlowNameKeyHash>;

struct IpDelta {
    uint64_t flows = 0;
    int64_t last_seen = 0;
};

/// Who used a destination (see Batch::add_process_use). `kind` is 'd' (a domain queried) or
/// 'i' (an address a flow was opened to); `dest` the domain or the address text.
struct ProcessUseKey {
    char kind = 0;
    std::string dest, exe, user, container;
    friend bool operator==(const ProcessUseKey&, const ProcessUseKey&) = default;
};
/// The same key without copies, to look one up.
struct ProcessUseView {
    char kind = 0;
    std::string_view dest, exe, user, container;
};
struct ProcessUseHash {
    using is_transparent = void;
    size_t operator()(const ProcessUseView& k) const;
    size_t operator()(const ProcessUseKey& k) const {
        return (*this)(ProcessUseView{k.kind, k.dest, k.exe, k.user, k.container});
    }
};
struct ProcessUseEq {
    using is_transparent = void;
    static ProcessUseView view(const ProcessUseKey& k) {
        return {k.kind, k.dest, k.exe, k.user, k.container};
    }
    static const ProcessUseView& view(const ProcessUseView& k) { return k; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
        const ProcessUseView &x = view(a), &y = view(b);
        return x.kind == y.kind && x.dest == y.dest && x.exe == y.exe && x.user == y.user &&
               x.container == y.container;
    }
};
struct ProcessUseDelta {
    uint64_t count = 0;
    int64_t first_seen = 0;  // within the batch
    int64_t last_seen = 0;
    void merge(const ProcessUseDelta& o) {
        count += o.count;
        if (o.first_seen < first_seen) first_seen = o.first_seen;
        if (o.last_seen > last_seen) last_seen = o.last_seen;
    }
};
using ProcessUseMap =
    std::unordered_map<ProcessUseKey, ProcessUseDelta, ProcessUseHash, ProcessUseEq>;

class Batch {
  public:
    /// With a `folder`, new names beyond its limit per registrable domain within this batch
    /// are counted under "*.<registrable domain>" (the ledger applies the same limit to the
    /// names it already holds). The folder must outlive the batch.
    explicit Batch(size_t max_ips_per_domain = 32, const DomainFolder* folder = nullptr)
        : max_ips_per_domain_(max_ips_per_domain), folder_(folder), id_(next_id()) {}

    /// Unique per batch and changed by merge() on the batch merged away: a DomainDelta&
    /// obtained from a batch with the same id() is still valid.
    uint64_t id() const { return id_; }

    /// Domain names must already be normalised (see normalize_domain). The returned delta
    /// stays valid for this batch's lifetime (until merge or destruction) and can be passed
    /// to add_answer to skip a second lookup.
    DomainDelta& add_query(std::string_view domain, int64_t t);
    /// Loopback and unspecified addresses are ignored (returns false).
    bool add_answer(std::string_view domain, const IpAddress& ip, int64_t t);
    bool add_answer(DomainDelta& domain, const IpAddress& ip, int64_t t);
    /// Loopback destinations are never egress (returns false). Folding is pipelined a few
    /// flows deep to hide table cache misses: ips() and merge() see every flow added.
    bool add_flow(const IpAddress& dst, int64_t t) {
        if (dst.is_loopback()) return false;
        if (pending_n_ == kPipeline) fold_pending();
        ips_.prefetch(dst);
        pending_[(pending_head_ + pending_n_++) % kPipeline] = {dst, t};
        return true;
    }
    void count(std::string_view name, uint64_t n = 1) { counter(name) += n; }
    /// The counter's value, created at 0: the reference stays valid for this batch's lifetime
    /// (a caller counting on every flow keeps it, with id(), instead of finding it each time).
    uint64_t& counter(std::string_view name) {
        // Found without building a std::string.
        if (auto it = counters_.find(name); it != counters_.end()) return it->second;
        return counters_.emplace(std::string(name), 0).first->second;
    }
    /// Records the protocol and port of a flow to `dst` (added with add_flow) and whether it
    /// was direct. Loopback destinations are ignored, as by add_flow.
    void add_flow_port(const IpAddress& dst, uint8_t proto, uint16_t port, bool direct) {
        if (dst.is_loopback()) return;
        FlowPortDelta& d = ports_[FlowPortKey{dst, proto, port}];
        d.flows += 1;
        d.direct += direct;
    }
    const std::unordered_map<FlowPortKey, FlowPortDelta, FlowPortKeyHash>& flow_ports() const {
        return ports_;
    }

    /// A name the first packet of a flow to `dst` gave (see FlowNameKey). Loopback
    /// destinations and empty names are ignored.
    void add_flow_name(const IpAddress& dst, uint8_t protocol, std::string_view name, bool ech,
                       int64_t t) {
        if (dst.is_loopback() || name.empty()) return;
        names_[FlowNameKey{dst, std::string(name), protocol}].merge(FlowNameDelta{1, t, t, ech});
    }
    const FlowNameMap& flow_names() const { return names_; }

    /// Who used a destination: kind 'd' (a domain the process queried) or 'i' (an address it
    /// opened a flow to); exe is the executable path (or "[comm]" when unknown), user the user
    /// name, container the container id ("" for the host).
    /// Counts and first/last seen per (kind, dest, exe, user, container). Other kinds and an
    /// empty dest are ignored (counted under "process_use.invalid"). With a folder, a domain
    /// new to this batch whose registrable domain already has the folder's limit of names is
    /// recorded under "*.<registrable domain>", as add_query does. The ledger canonicalises
    /// addresses and leaves out loopback ones; the batch stores the text as given.
    /// Returns the key's delta (valid for this batch's lifetime: count another use of the
    /// same key through it with ProcessUseDelta::merge), or null when ignored.
    ProcessUseDelta* add_process_use(char kind, std::string_view dest, std::string_view exe,
                                     std::string_view user, std::string_view container, int64_t t);
    const ProcessUseMap& process_uses() const { return uses_; }

    /// Keys held (domains + addresses + ports + process uses + flow names): what bounds a
    /// batch's memory; a caller commits early once this passes its limit.
    size_t keys() const {
        return domains_.size() + ips().size() + ports_.size() + uses_.size() + names_.size();
    }

    void merge(Batch&& other);
    bool empty() const {
        return domains_.empty() && ips().empty() && uses_.empty() && names_.empty();
    }
    size_t max_ips_per_domain() const { return max_ips_per_domain_; }

    const DomainTable<DomainDelta>& domains() const { return domains_; }
    const IpTable<IpDelta>& ips() const {
        while (pending_n_) fold_pending();
        return ips_;
    }
    using Counters = std::map<std::string, uint64_t, std::less<>>;
    const Counters& counters() const { return counters_; }

  private:
    /// The delta a name's counts go to; `folded` tells whether that is its "*.<base>" line.
    DomainDelta& domain(std::string_view name, bool& folded);
    struct FoldMemo {
        std::string name;
        DomainDelta* target = nullptr;
    };
    void fold_pending() const {
        auto& [ip, t] = pending_[pending_head_];
        IpDelta& d = ips_[ip];
        d.flows += 1;
        if (t > d.last_seen) d.last_seen = t;
        pending_head_ = (pending_head_ + 1) % kPipeline;
        --pending_n_;
    }
    static constexpr size_t kPipeline = 8;
    void add_answer_to(DomainDelta& d, const IpAddress& ip, int64_t t);
    ProcessUseDelta* add_use(const ProcessUseView& k, const ProcessUseDelta& d);

    static uint64_t next_id();

    size_t max_ips_per_domain_;
    const DomainFolder* folder_;
    struct NameHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
    };
    // Names per registrable domain (only with a folder); looked up without a copy.
    std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>> names_per_base_;
    std::array<FoldMemo, 256> fold_memo_;  // recently folded names (direct-mapped)
    uint64_t id_;
    DomainTable<DomainDelta> domains_;
    // Folded lazily (see add_flow), hence mutable: the logical content is ips_ + pending_.
    mutable IpTable<IpDelta> ips_;
    mutable std::pair<IpAddress, int64_t> pending_[kPipeline];
    mutable size_t pending_head_ = 0;
    mutable size_t pending_n_ = 0;
    Counters counters_;
    std::unordered_map<FlowPortKey, FlowPortDelta, FlowPortKeyHash> ports_;
    ProcessUseMap uses_;
    FlowNameMap names_;
    std::string folded_scratch_;  // "*.<base>" of the last folded process use
};

/// Lower-cases `name` and drops one trailing dot, writing into `out` (reused buffer).
/// Returns false when the name is empty, longer than 253 bytes, or holds bytes outside
/// printable ASCII (spaces, control bytes, invalid or non-ASCII UTF-8: dnsmasq escapes
/// such bytes, so a raw one means the line is damaged).
bool normalize_domain(std::string_view name, std::string& out);

}  // namespace em
