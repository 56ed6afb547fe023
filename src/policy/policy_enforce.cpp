// `rules --format enforce`: the names a host was seen reaching, as an `egress-monitor enforce`
// config (docs/policy.md, "Name-based policy").
#include "policy/policy_enforce.h"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/domain_name.h"
#include "common/time.h"
#include "core/domain_folder.h"
#include "policy/policy_uses.h"

namespace em {

namespace {

// Where a name to allow came from: DNS queries, flows' first packets, or both.
struct NameSource {
    int64_t queries = 0;
    std::set<std::string> protocols;  // of first packets: "tls", "quic", "http"
    int64_t flows = 0;                // first packets that named it
};

// What may stand in the config: a host name as enforce reads one (Go's rules, no trailing
// dot; written between double quotes, which none of its characters can end), and not a
// public suffix: enforce allows a name's subdomains too, so "com" or "github.io" (one HTTP
// request with "Host: com" would put it here) would allow a whole zone.
bool allowable(std::string_view name, const DomainFolder* psl) {
    if (name.empty() || name.back() == '.' || !go_is_domain_name(name)) return false;
    if (name.find('.') == std::string_view::npos) return false;
    if (!psl) return true;
    // A public suffix is its own base, and so is any name one label below it.
    const std::string below = "x." + std::string(name);
    return psl->base(name) != name || psl->base(below) != below;
}

}  // namespace

Result<std::string> render_enforce(const PolicyInput& in, const PolicyOptions& opt) {
    const UseIndex uses(in, opt);
    auto folder = DomainFolder::create(0);  // the public suffix list only
    const DomainFolder* psl = folder ? &*folder : nullptr;
    std::map<std::string, NameSource> names;  // sorted: deterministic output
    size_t skipped = 0, folded = 0;
    for (const PolicyDomain& d : in.domains) {
        if (d.count < opt.min_count || d.last_seen < opt.since) continue;
        if (uses.filtering() && std::none_of(d.ips.begin(), d.ips.end(), [&](const IpAddress& ip) {
                return uses.selected(ip);
            }))
            continue;
        std::string_view name = d.name;
        // A line folded per registrable domain ("*.example.com": more names under it than the
        // folding limit) is allowed as its base, which enforce matches as a suffix. Coarser
        // lines ("*.*.com", at capacity) would allow a whole zone: left out.
        if (name.starts_with("*.")) {
            name.remove_prefix(2);
            if (name.starts_with("*.")) {
                ++folded;
                continue;
            }
        }
        if (!allowable(name, psl)) {
            ++skipped;
            continue;
        }
        names[std::string(name)].queries += d.count;
    }
    size_t first_only = 0;
    for (const PolicyFirstPacketName& n : in.first_packet_names) {
        if (n.count < opt.min_count || n.last_seen < opt.since || !uses.selected(n.ip)) continue;
        if (!allowable(n.name, psl)) {
            ++skipped;
            continue;
        }
        NameSource& s = names[n.name];
        s.protocols.insert(n.protocol);
        s.flows += n.count;
    }
    for (const auto& [name, s] : names) first_only += s.queries == 0;
    if (names.empty())
        return Error{fmt::format(
            "no host name to allow in {} (min count {}): enforce needs at least one; the "
            "names come from DNS queries and from the first packets of flows (the agent)",
            in.source, opt.min_count)};

    std::string out = fmt::format(
        "# egress-monitor rules from {}\n"
        "# {} host names ({} queried through DNS, {} named only by the first packets of flows); "
        "min count {}{}\n",
        safe_comment(in.source), names.size(), names.size() - first_only, first_only, opt.min_count,
        opt.since ? ", since " + format_rfc3339(opt.since) : std::string());
    if (folded || skipped)
        out += fmt::format(
            "# left out: {} folded lines coarser than a registrable domain, {} names enforce "
            "cannot take or that are public suffixes\n",
            folded, skipped);
    out +=
        "# An egress-monitor enforce config (egress-eddie's format). Check it with\n"
        "#   egress-monitor enforce --config FILE --check\n"
        "# The queue numbers are docs/enforce.md's example: make them match the firewall rules\n"
        "# that feed enforce's queues (docs/enforce.md, \"The firewall rules\").\n"
        "inboundDNSQueue = { ipv4 = 1, ipv6 = 10 }\n\n"
        "[[filters]]\n";
    out += fmt::format("name = \"{}\"\n", opt.table);
    out +=
        "dnsQueue = { ipv4 = 1000, ipv6 = 1001 }\n"
        "trafficQueue = { ipv4 = 1002, ipv6 = 1003 }\n"
        "allowAnswersFor = \"10s\"\n";
    if (first_only)
        out +=
            "# Some names were seen only in first packets (resolved where this host's resolver\n"
            "# did not see it): their connections are judged by the name they send. Trade-off:\n"
            "# docs/enforce.md.\n"
            "allowByServerName = true\n";
    out += "allowedHostnames = [\n";
    for (const auto& [name, s] : names) {
        std::string how;
        if (s.queries) how = fmt::format("{} DNS queries", s.queries);
        if (s.flows) {
            std::string protocols;
            for (const std::string& p : s.protocols)
                protocols += (protocols.empty() ? "" : "/") + p;
            how += fmt::format("{}{} first packets ({})", how.empty() ? "" : ", ", s.flows,
                               safe_comment(protocols));
        }
        out += fmt::format("    \"{}\",  # {}\n", name, how);
    }
    out += "]\n";
    return out;
}

}  // namespace em
