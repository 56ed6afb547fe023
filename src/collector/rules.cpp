#include "collector/rules.h"

#include <fmt/core.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <span>

#include "common/time.h"
#include "core/domain_folder.h"

namespace em {

namespace {

constexpr int64_t kDay = 86400;

std::string_view unfolded(std::string_view name) { return DomainFolder::unfolded(name); }

}  // namespace

bool at_or_under(std::string_view name, std::string_view suffix) {
    if (name.size() == suffix.size()) return name == suffix;
    return name.size() > suffix.size() && name.ends_with(suffix) &&
           name[name.size() - suffix.size() - 1] == '.';
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
    size_t slash = text.find('/');
    auto ip = IpAddress::parse(text.substr(0, slash));
    if (!ip) return std::nullopt;
    const int max = ip->is_v4() ? 32 : 128;
    int prefix = max;
    if (slash != std::string_view::npos) {
        std::string_view p = text.substr(slash + 1);
        auto r = std::from_chars(p.data(), p.data() + p.size(), prefix);
        if (p.empty() || r.ec != std::errc() || r.ptr != p.data() + p.size() || prefix < 0 ||
            prefix > max)
            return std::nullopt;
    }
    uint8_t bytes[16] = {};
    std::memcpy(bytes, ip->bytes(), max / 8);
    for (int bit = prefix; bit < max; ++bit)
        bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    Cidr c;
    c.prefix = prefix;
    if (ip->is_v4())
        c.net = IpAddress::v4((uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) |
                              (uint32_t{bytes[2]} << 8) | bytes[3]);
    else
        c.net = IpAddress::v6(bytes);
    return c;
}

bool Cidr::contains(const IpAddress& ip) const {
    if (ip.is_v4() != net.is_v4() || !ip.is_set()) return false;
    const uint8_t* a = ip.bytes();
    const uint8_t* b = net.bytes();
    int full = prefix / 8;
    if (std::memcmp(a, b, static_cast<size_t>(full)) != 0) return false;
    int rest = prefix % 8;
    if (rest == 0) return true;
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

// ---- new_domain ----

bool NewDomainRule::allowed(std::string_view name) const {
    name = unfolded(name);
    for (const auto& a : c_.allow) {
        if (a.starts_with("*.")) {
            if (at_or_under(name, std::string_view(a).substr(2))) return true;
        } else if (a == name) {
            return true;
        }
    }
    return false;
}

void NewDomainRule::evaluate(const HostContext& ctx, std::vector<Finding>& out) const {
    const int64_t first = ctx.host.first_fetch;
    const int64_t learning_end = first + c_.learning_days * kDay;
    if (first == 0 || ctx.now < learning_end) return;
    // A key is in the baseline when it was seen by the end of the learning period (the
    // first snapshot always is).
    auto post_learning = [&](const KeyStats& s) {
        return s.first_seen >= learning_end && s.first_seen > first;
    };
    std::vector<const DomainState*> candidates;
    for (const auto& d : ctx.state.domains)
        if (d.stats.present && post_learning(d.stats) && !allowed(d.name) &&
            d.name != DomainFolder::kCapacityCatchAll)  // names nothing: the capacity rule's
            candidates.push_back(&d);
    if (candidates.empty()) return;
    // A candidate's registrable domain is known when some baseline name is it or lies under
    // it. Few candidates (the usual case): a scan per candidate; many: a set of every
    // baseline name's parent domains.
    std::vector<std::string_view> baseline;
    for (const auto& d : ctx.state.domains)
        if (!post_learning(d.stats)) baseline.push_back(unfolded(d.name));
    std::unordered_set<std::string_view> parents;
    if (candidates.size() > 8)
        for (std::string_view n : baseline)
            for (;;) {
                parents.insert(n);
                size_t dot = n.find('.');
                if (dot == std::string_view::npos) break;
                n.remove_prefix(dot + 1);
            }
    auto known = [&](std::string_view base) {
        if (candidates.size() > 8) return parents.count(base) > 0;
        return std::any_of(baseline.begin(), baseline.end(),
                           [&](std::string_view n) { return at_or_under(n, base); });
    };
    // One finding per registrable domain: a tunnel's 400 names are one incident.
    struct Group {
        std::vector<const DomainState*> names;
        int64_t first_seen = 0, queries = 0;
    };
    std::map<std::string_view, Group> groups;
    for (const DomainState* d : candidates) {
        std::string_view base = ctx.store.base(d->name);
        if (known(base)) continue;
        Group& g = groups[base];
        g.names.push_back(d);
        g.queries += d->stats.count;
        if (!g.first_seen || d->stats.first_seen < g.first_seen) g.first_seen = d->stats.first_seen;
    }
    for (auto& [base, g] : groups) {
        // The examples: the most queried names first, then by name.
        std::sort(g.names.begin(), g.names.end(), [](const DomainState* a, const DomainState* b) {
            if (a->stats.count != b->stats.count) return a->stats.count > b->stats.count;
            return a->name < b->name;
        });
        std::string examples;
        const size_t shown = std::min<size_t>(g.names.size(), 3);
        for (size_t i = 0; i < shown; ++i)
            examples += fmt::format("{}{}", i ? ", " : "", g.names[i]->name);
        if (g.names.size() > shown) examples += fmt::format(" and {} more", g.names.size() - shown);
        std::string what = g.names.size() == 1 ? fmt::format("new domain {}", g.names[0]->name)
                                               : fmt::format("{} new names under {} ({})",
                                                             g.names.size(), base, examples);
        out.push_back(Finding{
            std::string(base),
            fmt::format("{}, first seen {} after the {}-day learning period, {} queries: {} is "
                        "not among the names the host used before; to silence, add \"*.{}\" to "
                        "[rules.new_domain] allow",
                        what, format_rfc3339(g.first_seen), c_.learning_days, g.queries, base,
                        base),
            static_cast<int64_t>(g.names.size())});
    }
}

// ---- capacity ----

void CapacityRule::evaluate(const HostContext& ctx, std::vector<Finding>& out) const {
    int64_t lines = 0, queries = 0, flows = 0;
    std::string_view largest;
    int64_t largest_count = 0;
    for (const auto& d : ctx.state.domains) {
        if (!d.stats.present || !DomainFolder::is_capacity_folded(d.name)) continue;
        ++lines;
        queries += d.stats.count;
        if (d.stats.count > largest_count) {
            largest_count = d.stats.count;
            largest = d.name;
        }
    }
    for (const auto& e : ctx.state.ips)
        if (e.stats.present && e.ip.is_unspecified()) flows += e.stats.count;
    if (!lines && !flows) return;
    std::string message = "the agent is at capacity (its ledger holds max_domains/max_ips lines)";
    if (lines)
        message += fmt::format(
            "; {} queries of names beyond it counted under {} coarser lines (largest: {} with "
            "{})",
            queries, lines, largest, largest_count);
    if (flows)
        message += fmt::format("; {} flows to addresses beyond it counted under 0.0.0.0/::", flows);
    message +=
        "; a flood of distinct names or addresses fills it: look at what the host queried "
        "(egress-monitor show --by process)";
    out.push_back(Finding{"capacity", std::move(message)});
}

// ---- direct_ip ----

namespace {

// The addresses a host's domains resolve to, as a flat open-addressing set: tens of
// thousands per host and cycle, so no node allocations and no memcmp calls.
class IpSet {
  public:
    explicit IpSet(size_t n) : slots_(std::bit_ceil(2 * n + 16)) {}
    void insert(const IpAddress& ip) {
        Slot k = slot(ip);
        for (size_t i = index(ip);; i = (i + 1) & (slots_.size() - 1)) {
            if (slots_[i].family == 0) {
                slots_[i] = k;
                return;
            }
            if (slots_[i] == k) return;
        }
    }
    bool contains(const IpAddress& ip) const {
        Slot k = slot(ip);
        for (size_t i = index(ip);; i = (i + 1) & (slots_.size() - 1)) {
            if (slots_[i].family == 0) return false;
            if (slots_[i] == k) return true;
        }
    }

  private:
    struct Slot {
        uint64_t hi = 0, lo = 0;
        uint8_t family = 0;  // 0: empty
        friend bool operator==(const Slot&, const Slot&) = default;
    };
    static Slot slot(const IpAddress& ip) {
        Slot s;
        std::memcpy(&s.hi, ip.bytes(), 8);
        std::memcpy(&s.lo, ip.bytes() + 8, 8);
        s.family = ip.is_v4() ? 4 : 6;
        return s;
    }
    size_t index(const IpAddress& ip) const { return ip.hash() & (slots_.size() - 1); }
    std::vector<Slot> slots_;
};

}  // namespace

namespace {

// "TLS name a.example, HTTP Host b.example (ECH offered: the outer name only)"; at most
// three, then how many more.
std::string first_packet_names(std::span<const FlowNameFileEntry> names) {
    constexpr size_t kShown = 3;
    std::string s;
    for (size_t i = 0; i < names.size() && i < kShown; ++i) {
        const FlowNameFileEntry& n = names[i];
        if (i) s += ", ";
        s += n.protocol == "http"   ? "HTTP Host "
             : n.protocol == "quic" ? "QUIC name "
                                    : "TLS name ";
        s += n.name;
        if (n.ech) s += " (ECH offered: the outer name only)";
    }
    if (names.size() > kShown) s += fmt::format(", and {} more", names.size() - kShown);
    return s;
}

// The entries of `names` (sorted by address first) for `ip`.
std::span<const FlowNameFileEntry> names_of(const std::vector<FlowNameFileEntry>& names,
                                            const IpAddress& ip) {
    auto b = std::partition_point(names.begin(), names.end(),
                                  [&](const FlowNameFileEntry& n) { return n.ip < ip; });
    auto e = std::partition_point(b, names.end(),
                                  [&](const FlowNameFileEntry& n) { return n.ip == ip; });
    return {b, e};
}

}  // namespace

void DirectIpRule::evaluate(const HostContext& ctx, std::vector<Finding>& out) const {
    size_t n = 0;
    for (const auto& d : ctx.state.domains) n += d.ips.size();
    IpSet listed(n);
    for (const auto& d : ctx.state.domains)
        if (d.stats.present)
            for (const auto& ip : d.ips) listed.insert(ip);
    for (const auto& e : ctx.state.ips) {
        if (!e.stats.present || e.ip.is_loopback() || e.ip.is_unspecified()) continue;
        if (listed.contains(e.ip)) continue;
        if (std::any_of(c_.allow_cidrs.begin(), c_.allow_cidrs.end(),
                        [&](const Cidr& c) { return c.contains(e.ip); }))
            continue;
        // With the agent's first-packet names, a name seen there is what the client claimed:
        // resolved elsewhere (DoH, another resolver), or a name it made up. Said as a claim.
        std::string how;
        if (ctx.flow_names) {
            auto named = names_of(*ctx.flow_names, e.ip);
            how = named.empty() ? ", no name at all (nor a TLS/QUIC server name or HTTP Host)"
                                : "; its first packets claimed " + first_packet_names(named) +
                                      " (resolved elsewhere, e.g. DoH, or a made-up name)";
        }
        out.push_back(Finding{e.ip.to_string(),
                              fmt::format("{} connections to an address no domain of this host "
                                          "resolved to{} (last {}); to silence, add it or its "
                                          "network to [rules.direct_ip] allow_cidrs",
                                          e.stats.count, how, format_rfc3339(e.stats.last_seen))});
    }
}

// ---- tunnel ----

double TunnelRule::entropy(std::string_view s) {
    if (s.empty()) return 0;
    uint32_t freq[256] = {};
    for (unsigned char c : s) ++freq[c];
    double h = 0;
    const double n = static_cast<double>(s.size());
    for (uint32_t f : freq) {
        if (!f) continue;
        double p = f / n;
        h -= p * std::log2(p);
    }
    return h;
}

void TunnelRule::evaluate(const HostContext& ctx, std::vector<Finding>& out) const {
    struct PerBase {
        int64_t names = 0;
        std::string reason;  // the first label problem or folded line seen
    };
    std::unordered_map<std::string_view, PerBase> bases;
    for (const auto& d : ctx.state.domains) {
        if (!d.stats.present || DomainFolder::is_capacity_folded(d.name)) continue;  // capacity
        std::string_view base = d.base_len && d.base_len <= d.name.size()
                                    ? std::string_view(d.name).substr(d.name.size() - d.base_len)
                                    : ctx.store.base(d.name);
        PerBase& pb = bases[base];
        ++pb.names;
        if (!pb.reason.empty()) continue;
        if (d.name == DomainFolder::kUnprintable) {
            pb.reason = fmt::format(
                "{} queries for names with raw binary bytes (the resolver logs them as <name "
                "unprintable>; the agent counts them under {}): no real domain has such a name, "
                "DNS tunnels such as iodine's send them; find the sender with egress-monitor "
                "show --by process",
                d.stats.count, d.name);
            continue;
        }
        if (DomainFolder::is_folded(d.name)) {
            pb.reason = fmt::format(
                "folded line {} ({} queries): the agent saw more names under "
                "{} than its limit",
                d.name, d.stats.count, base);
            continue;
        }
        std::string_view rest = d.name;
        while (!rest.empty() && pb.reason.empty()) {
            size_t dot = rest.find('.');
            std::string_view label = rest.substr(0, dot);
            rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
            if (static_cast<int64_t>(label.size()) > c_.max_label) {
                pb.reason = fmt::format("label of {} characters in {}", label.size(), d.name);
            } else if (label.size() >= 20) {
                double h = entropy(label);
                if (h > c_.min_entropy_bits)
                    pb.reason = fmt::format(
                        "label {} in {} has {:.2f} bits of entropy per "
                        "character",
                        label, d.name, h);
            }
        }
    }
    for (auto& [base, pb] : bases) {
        std::string message;
        if (pb.names > c_.max_names_per_domain)
            message = fmt::format("{} names under {} (more than {})", pb.names, base,
                                  c_.max_names_per_domain);
        if (!pb.reason.empty()) message += (message.empty() ? "" : "; ") + pb.reason;
        if (message.empty()) continue;
        if (base == DomainFolder::kUnprintable)
            message +=
                "; to silence: egress-monitor alerts silence --rule tunnel --key "
                "unprintable.invalid";
        else
            message +=
                "; a tunnel's names look like this; if the domain is expected, raise "
                "[rules.tunnel] limits (max_names_per_domain, max_label, min_entropy_bits)";
        out.push_back(Finding{std::string(base), std::move(message), pb.names});
    }
}

// ---- volume_spike ----

void VolumeSpikeRule::evaluate(const HostContext& ctx, std::vector<Finding>& out) const {
    for (const KeyChange& c : ctx.outcome.changes) {
        if (c.prev_deltas < c_.min_history || c.delta < c_.min_delta) continue;
        const double mean =
            static_cast<double>(c.prev_delta_sum) / static_cast<double>(c.prev_deltas);
        if (static_cast<double>(c.delta) <= c_.factor * mean) continue;
        std::string key =
            c.kind == 'd' ? ctx.state.domains[c.index].name : ctx.state.ips[c.index].ip.to_string();
        out.push_back(Finding{
            std::move(key),
            fmt::format("grew by {} in one fetch, {:.1f} times its mean growth "
                        "of {:.1f} over {} earlier fetches; resolves at the next fetch without a "
                        "spike (or raise [rules.volume_spike] factor)",
                        c.delta, static_cast<double>(c.delta) / mean, mean, c.prev_deltas)});
    }
}

}  // namespace em
