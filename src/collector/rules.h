#pragma once
// The analysis rules. A host rule looks at one host right after its snapshot was applied
// and lists every condition it sees there now (a Finding per key); AlertBook::reconcile
// opens what is new and resolves what is no longer listed — so an alert resolves when its
// key leaves the host's files, or when the condition otherwise stops holding (an allowlist
// entry added, a domain now listing the address). Fleet rules (rare, stale) run once per
// cycle over all hosts. Each rule's config section is in collector.h.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "collector/alerts.h"
#include "collector/history.h"
#include "common/ip_address.h"
#include "common/result.h"

namespace em {

/// `name` equals `suffix` or lies under it ("a.b.example" under "example"; "xexample" not).
bool at_or_under(std::string_view name, std::string_view suffix);

/// An IPv4 or IPv6 network, "10.0.0.0/8", "2001:db8::/32"; a bare address is /32 or /128.
struct Cidr {
    IpAddress net;  // host bits cleared
    int prefix = 0;
    static std::optional<Cidr> parse(std::string_view text);
    bool contains(const IpAddress& ip) const;
};

/// [rules.new_domain] After `learning_days` from the host's first accepted snapshot, a domain
/// first seen after that period whose name and registrable domain are not among the names
/// seen during it (the baseline), and which no `allow` entry matches. `allow`: exact names,
/// or "*.suffix" for the suffix and every name under it. Key: the registrable domain: its new
/// names are one alert (how many, the most queried three, first seen), its weight the number
/// of names, so that it is announced again as it grows (see AlertBook), not once per name.
struct NewDomainConfig {
    bool enabled = true;
    int64_t learning_days = 7;
    std::vector<std::string> allow;
};

/// [rules.direct_ip] An address in unique-ips.log that no domain line of the same host lists
/// (a connection no DNS answer explains), outside `allow_cidrs`. Loopback and unspecified
/// addresses never count. Key: the address.
struct DirectIpConfig {
    bool enabled = true;
    std::vector<Cidr> allow_cidrs;
};

/// [rules.public_resolver] An address in unique-ips.log on the list of public DNS/DoT/DoH
/// resolvers, or a domain equal to or under a listed DoH/DoT host name: DNS going around
/// the host's resolver. `list`: path of the list (packaging/public-resolvers.txt format:
/// "ip ADDR  # label" or "host NAME  # label" per line). Key: the address or domain.
struct PublicResolverConfig {
    bool enabled = true;
    std::string list;  // empty: the shipped list (kDefaultResolverList), if installed
};
inline constexpr const char* kDefaultResolverList =
    "/usr/share/egress-monitor/public-resolvers.txt";

/// [rules.tunnel] Per registrable domain, in the host's current files: more than
/// `max_names_per_domain` names under it, a folded "*.<domain>" line (the agent's own flood
/// limit was hit), a label longer than `max_label`, or a label of at least 20 characters
/// whose Shannon entropy exceeds `min_entropy_bits` per character. Key: the registrable
/// domain.
struct TunnelConfig {
    bool enabled = true;
    int64_t max_names_per_domain = 500;
    int64_t max_label = 50;
    double min_entropy_bits = 4.0;
};

/// [rules.volume_spike] A key whose count grew in this fetch by more than `factor` times its
/// mean growth over at least `min_history` earlier recorded growths, and by at least
/// `min_delta`. Resolves at the next good fetch without a spike. Key: the domain or address.
struct VolumeSpikeConfig {
    bool enabled = true;
    double factor = 10.0;
    int64_t min_history = 5;
    int64_t min_delta = 100;
};

/// [rules.rare] A domain listed by at most `max_hosts` hosts, once the fleet (hosts with an
/// accepted snapshot) has at least `min_fleet`. Resolves when the domain leaves the host or
/// becomes common. Key: the domain.
struct RareConfig {
    bool enabled = true;
    int64_t max_hosts = 1;
    int64_t min_fleet = 10;
};

/// [rules.stale] For every host of the inventory: failing fetches and no good one for
/// `max_age_minutes` (0: the first failure)
/// ("unreachable"), or good fetches but files unchanged for `unchanged_minutes` (the
/// monitor may be dead or tampered with). Key: the host.
struct StaleConfig {
    bool enabled = true;
    int64_t max_age_minutes = 30;
    int64_t unchanged_minutes = 1440;
};

/// [rules.capacity] The host's agent is at capacity: its files have lines the agent counts
/// under once its ledger holds max_domains / max_ips lines ("*.*.<domain>", "*.*.<top-level
/// domain>", "*.*"; the unspecified addresses 0.0.0.0 and ::). A flood of distinct names or
/// addresses does that — itself a sign of tunnelling or of someone trying to hide the next
/// name in the crowd. Key: "capacity" (one alert per host), resolved when those lines leave
/// the files (the agent's ledger was reset).
struct CapacityConfig {
    bool enabled = true;
};

struct RulesConfig {
    /// [rules] fleet_hosts: a new_domain or direct_ip finding new on at least this many hosts
    /// in one cycle is one fleet alert (host "*") listing the hosts, not one alert per host;
    /// hosts that report the same key later join it. 0: never group.
    int64_t fleet_hosts = 3;
    /// [rules] max_alerts_per_host: a rule with more findings than this on one host at once
    /// reports them as one alert (key "*"; correlate.h cap_findings). 0: no bound.
    int64_t max_alerts_per_host = 20;
    NewDomainConfig new_domain;
    CapacityConfig capacity;
    DirectIpConfig direct_ip;
    PublicResolverConfig public_resolver;
    TunnelConfig tunnel;
    VolumeSpikeConfig volume_spike;
    RareConfig rare;
    StaleConfig stale;
};

/// A host right after its snapshot was applied.
struct HostContext {
    const HostRecord& host;  // updated by the ingest
    const HostState& state;
    const IngestOutcome& outcome;
    const HistoryStore& store;  // registrable domains, fleet
    int64_t now;
};

class HostRule {
  public:
    virtual ~HostRule() = default;
    virtual std::string_view name() const = 0;
    /// Appends every condition seen on the host now.
    virtual void evaluate(const HostContext& ctx, std::vector<Finding>& out) const = 0;
};

class NewDomainRule : public HostRule {
  public:
    explicit NewDomainRule(NewDomainConfig c) : c_(std::move(c)) {}
    std::string_view name() const override { return "new_domain"; }
    void evaluate(const HostContext& ctx, std::vector<Finding>& out) const override;
    bool allowed(std::string_view name) const;

  private:
    NewDomainConfig c_;
};

class CapacityRule : public HostRule {
  public:
    std::string_view name() const override { return "capacity"; }
    void evaluate(const HostContext& ctx, std::vector<Finding>& out) const override;
};

class DirectIpRule : public HostRule {
  public:
    explicit DirectIpRule(DirectIpConfig c) : c_(std::move(c)) {}
    std::string_view name() const override { return "direct_ip"; }
    void evaluate(const HostContext& ctx, std::vector<Finding>& out) const override;

  private:
    DirectIpConfig c_;
};

/// The public resolver list: data only, never contacted.
class ResolverList {
  public:
    static Result<ResolverList> load(const std::string& path);
    /// Errors name `path` and the line.
    static Result<ResolverList> parse(std::string_view text, const std::string& path);
    /// The entry's label (its comment, else the address or name), or nullptr.
    const std::string* match_ip(const IpAddress& ip) const;
    /// For a name equal to a listed host or under one.
    const std::string* match_host(std::string_view name) const;
    size_t size() const { return ips_.size() + hosts_.size(); }

  private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
    };
    std::unordered_map<IpAddress, std::string, IpAddressHash> ips_;
    std::unordered_map<std::string, std::string, Hash, std::equal_to<>> hosts_;
};

class PublicResolverRule : public HostRule {
  public:
    explicit PublicResolverRule(ResolverList list) : list_(std::move(list)) {}
    std::string_view name() const override { return "public_resolver"; }
    void evaluate(const HostContext& ctx, std::vector<Finding>& out) const override;

  private:
    ResolverList list_;
};

class TunnelRule : public HostRule {
  public:
    explicit TunnelRule(TunnelConfig c) : c_(c) {}
    std::string_view name() const override { return "tunnel"; }
    void evaluate(const HostContext& ctx, std::vector<Finding>& out) const override;
    /// Shannon entropy of `s` in bits per character.
    static double entropy(std::string_view s);

  private:
    TunnelConfig c_;
};

class VolumeSpikeRule : public HostRule {
  public:
    explicit VolumeSpikeRule(VolumeSpikeConfig c) : c_(c) {}
    std::string_view name() const override { return "volume_spike"; }
    void evaluate(const HostContext& ctx, std::vector<Finding>& out) const override;

  private:
    VolumeSpikeConfig c_;
};

/// The rare rule works across the cycle: note() after each changed host's ingest (while its
/// state is in memory), finish() once after all of them. A host's rare alerts can change
/// without the host changing (another host adds or drops the domain); finish() handles
/// those from the fleet counts and the open alerts, and rescans every host's stored domains
/// only when it cannot know the holders otherwise: a domain became rare because another host
/// dropped it, the fleet just reached min_fleet, or the settings changed.
class RareRule {
  public:
    explicit RareRule(RareConfig c) : c_(c) {}
    static constexpr std::string_view kName = "rare";
    void begin_cycle(const HistoryStore& store);
    void note(const HostRecord& h, const HostState& s, const IngestOutcome& oc,
              const HistoryStore& store);
    /// Reconciles the rare alerts; call inside a transaction.
    Result<void> finish(HistoryStore& store, AlertBook& book, int64_t now,
                        std::vector<AlertEvent>& events);
    /// Whether the last finish() rescanned stored snapshots (for tests).
    bool scanned() const { return scanned_; }

  private:
    struct Noted {
        std::vector<std::string> added;           // added now, rare at that moment
        std::unordered_set<std::string> removed;  // left the host now
        bool complete = false;                    // first snapshot: every domain was added
    };
    Finding finding(const std::string& domain, int64_t holders, int64_t fleet) const;
    RareConfig c_;
    int64_t fleet_before_ = 0;
    std::map<std::string, Noted> noted_;  // by host
    std::unordered_set<std::string> dropped_;
    bool scanned_ = false;
};

class StaleRule {
  public:
    explicit StaleRule(StaleConfig c) : c_(c) {}
    static constexpr std::string_view kName = "stale";
    void evaluate(const HostRecord& h, int64_t now, std::vector<Finding>& out) const;

  private:
    StaleConfig c_;
};

}  // namespace em
