// The dga rule: registrable domains whose label looks generated (dga_model.h), one finding per
// host so that a burst of 40 such names is one incident, not 40. A burst of never-answered
// new registrable domains is flagged whatever their letters (dga::in_burst).
#include <fmt/core.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "collector/dga_model.h"
#include "collector/rules.h"
#include "core/domain_folder.h"

namespace em {

bool DgaRule::allowed(std::string_view name, std::string_view base) const {
    for (const auto& a : c_.allow) {
        if (a.starts_with("*.")) {
            std::string_view suffix = std::string_view(a).substr(2);
            if (at_or_under(name, suffix) || at_or_under(base, suffix)) return true;
        } else if (a == name || a == base) {
            return true;
        }
    }
    return false;
}

void DgaRule::evaluate(const HostContext& ctx, std::vector<Finding>& out) const {
    struct Base {
        dga::Verdict verdict;  // kNone unless its letters give it away
        int64_t names = 0, queries = 0;
        int64_t first_seen = INT64_MAX;
        bool answered = false;
        bool burst = false;  // one of a burst of never-answered new domains
        bool flagged() const { return burst || verdict.kind != dga::Kind::kNone; }
    };
    const dga::Params params{c_.min_length, c_.threshold};
    std::map<std::string_view, Base> bases;  // every registrable domain not allowed
    for (const auto& d : ctx.state.domains) {
        // Folded lines stand for many names the agent no longer tells apart: the capacity and
        // tunnel rules speak for them.
        if (!d.stats.present || DomainFolder::is_folded(d.name)) continue;
        std::string_view base = d.base_len && d.base_len <= d.name.size()
                                    ? std::string_view(d.name).substr(d.name.size() - d.base_len)
                                    : ctx.store.base(d.name);
        if (allowed(d.name, base)) continue;
        auto [it, fresh] = bases.try_emplace(base);
        Base& b = it->second;
        if (fresh)
            // The label an ICANN registry sold: a private suffix's customers (the hash in
            // d1a2b3c4d5e6f7.cloudfront.net, a load balancer under elb.amazonaws.com) name
            // their own sub-domains, so the provider's label is judged.
            b.verdict = dga::judge(dga::registrable_label(ctx.store.icann_base(base)), params);
        ++b.names;
        b.queries += d.stats.count;
        b.first_seen = std::min(b.first_seen, d.stats.first_seen);
        b.answered = b.answered || !d.ips.empty();
    }
    // The burst: never-answered domains new since the host's first snapshot (whose contents
    // came from an unknown span of time), by when they were first seen.
    if (c_.burst_min > 0 && ctx.host.first_fetch > 0) {
        std::vector<Base*> unanswered;
        for (auto& [base, b] : bases)
            if (!b.answered && b.first_seen > ctx.host.first_fetch) unanswered.push_back(&b);
        std::stable_sort(unanswered.begin(), unanswered.end(), [](const Base* a, const Base* b) {
            return a->first_seen < b->first_seen;
        });
        std::vector<int64_t> times;
        for (const Base* b : unanswered) times.push_back(b->first_seen);
        const auto marked = dga::in_burst(times, c_.burst_min, c_.burst_minutes * 60);
        for (size_t i = 0; i < unanswered.size(); ++i) unanswered[i]->burst = marked[i];
    }
    std::vector<std::pair<std::string_view, const Base*>> listed;
    for (const auto& [base, b] : bases)
        if (b.flagged()) listed.emplace_back(base, &b);
    if (listed.empty()) return;
    auto why = [&](std::string_view base, const Base& b) {
        if (b.verdict.kind == dga::Kind::kHex)
            return fmt::format("{} is a string of hex digits, like a hash", base);
        if (b.verdict.kind == dga::Kind::kRandom)
            return fmt::format(
                "{} has {:.1f} bits of evidence of random letters (threshold {:.1f})", base,
                b.verdict.bits, c_.threshold);
        return fmt::format("{} was never answered", base);
    };
    Finding finding;
    int64_t unanswered = 0, queries = 0, in_burst = 0;
    for (const auto& [base, b] : listed) {
        finding.covers.emplace_back(base);
        unanswered += !b->answered;
        queries += b->queries;
        in_burst += b->burst;
    }
    const std::string burst =
        in_burst ? fmt::format(
                       "; {} of them came in a burst: at least {} registrable domains "
                       "first seen within {} minutes that nobody answered, as a "
                       "domain-generation algorithm tries its list",
                       in_burst, c_.burst_min, c_.burst_minutes)
                 : "";
    finding.weight = static_cast<int64_t>(listed.size());
    if (listed.size() == 1) {
        const auto& [base, b] = listed[0];
        finding.key = std::string(base);
        finding.message = fmt::format(
            "domain {} looks generated ({}), {} queries to {} name(s) under it, {}{}: malware's "
            "domain-generation algorithms query names like this to find their server; to "
            "silence, add \"*.{}\" to [rules.dga] allow",
            base, why(base, *b), b->queries, b->names, b->answered ? "answered" : "never answered",
            burst, base);
    } else {
        // The most random-looking first, then by name.
        std::stable_sort(listed.begin(), listed.end(), [](const auto& a, const auto& b) {
            return a.second->verdict.bits > b.second->verdict.bits;
        });
        std::string examples;
        const size_t shown = std::min<size_t>(listed.size(), 5);
        for (size_t i = 0; i < shown; ++i)
            examples += fmt::format("{}{}", i ? ", " : "", listed[i].first);
        if (listed.size() > shown) examples += fmt::format(" and {} more", listed.size() - shown);
        finding.key = "burst";
        finding.message = fmt::format(
            "{} registrable domains that look generated ({}), {} of them never answered, {} "
            "queries; the first: {}{}: malware's domain-generation algorithms query names like "
            "these to find their server; to silence a domain, add \"*.<domain>\" to [rules.dga] "
            "allow{}",
            listed.size(), examples, unanswered, queries, why(listed[0].first, *listed[0].second),
            burst,
            in_burst ? " (a host that legitimately queries many unanswered domains, "
                       "such as a mail server looking up senders, sets burst_min = 0)"
                     : "");
    }
    out.push_back(std::move(finding));
}

}  // namespace em
