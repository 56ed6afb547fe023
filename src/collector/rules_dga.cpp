// The dga rule: registrable domains whose label looks generated (dga_model.h), one finding per
// host so that a burst of 40 such names is one incident, not 40.
#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <unordered_map>

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
    struct Flagged {
        dga::Verdict verdict;
        int64_t names = 0, queries = 0;
        bool answered = false;
    };
    const dga::Params params{c_.min_length, c_.threshold};
    std::map<std::string_view, Flagged> flagged;
    std::unordered_map<std::string_view, dga::Verdict> judged;  // by registrable domain
    for (const auto& d : ctx.state.domains) {
        // Folded lines stand for many names the agent no longer tells apart: the capacity and
        // tunnel rules speak for them.
        if (!d.stats.present || DomainFolder::is_folded(d.name)) continue;
        std::string_view base = d.base_len && d.base_len <= d.name.size()
                                    ? std::string_view(d.name).substr(d.name.size() - d.base_len)
                                    : ctx.store.base(d.name);
        auto it = judged.find(base);
        if (it == judged.end())
            // The label an ICANN registry sold: a private suffix's customers (the hash in
            // d1a2b3c4d5e6f7.cloudfront.net, a load balancer under elb.amazonaws.com) name
            // their own sub-domains, so the provider's label is judged.
            it = judged
                     .emplace(base, dga::judge(dga::registrable_label(ctx.store.icann_base(base)),
                                               params))
                     .first;
        if (it->second.kind == dga::Kind::kNone || allowed(d.name, base)) continue;
        Flagged& f = flagged[base];
        f.verdict = it->second;
        ++f.names;
        f.queries += d.stats.count;
        f.answered = f.answered || !d.ips.empty();
    }
    if (flagged.empty()) return;
    auto why = [&](std::string_view base, const Flagged& f) {
        if (f.verdict.kind == dga::Kind::kHex)
            return fmt::format("{} is a string of hex digits, like a hash", base);
        return fmt::format("{} has {:.1f} bits of evidence of random letters (threshold {:.1f})",
                           base, f.verdict.bits, c_.threshold);
    };
    Finding finding;
    int64_t unanswered = 0, queries = 0;
    std::vector<std::pair<std::string_view, const Flagged*>> listed;
    for (const auto& [base, f] : flagged) {
        finding.covers.emplace_back(base);
        unanswered += !f.answered;
        queries += f.queries;
        listed.emplace_back(base, &f);
    }
    finding.weight = static_cast<int64_t>(flagged.size());
    if (flagged.size() == 1) {
        const auto& [base, f] = *flagged.begin();
        finding.key = std::string(base);
        finding.message = fmt::format(
            "domain {} looks generated ({}), {} queries to {} name(s) under it, {}: malware's "
            "domain-generation algorithms query names like this to find their server; to "
            "silence, add \"*.{}\" to [rules.dga] allow",
            base, why(base, f), f.queries, f.names, f.answered ? "answered" : "never answered",
            base);
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
            "queries; the first: {}: malware's domain-generation algorithms query names like "
            "these to find their server; to silence a domain, add \"*.<domain>\" to [rules.dga] "
            "allow",
            flagged.size(), examples, unanswered, queries, why(listed[0].first, *listed[0].second));
    }
    out.push_back(std::move(finding));
}

}  // namespace em
