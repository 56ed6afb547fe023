#include "collector/correlate.h"

#include <fmt/core.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace em {

namespace {

RuleFindings* find(std::vector<RuleFindings>& rules, std::string_view name) {
    for (auto& r : rules)
        if (r.rule == name) return &r;
    return nullptr;
}

// Removes the findings of `from` whose key `owner_of` maps to another finding; that finding's
// message gains `fact(dropped)`.
void fold_into(RuleFindings& from, const std::function<Finding*(const Finding&)>& owner_of,
               const std::function<std::string(const Finding&)>& fact, std::string_view owner) {
    std::vector<Finding> kept;
    for (Finding& f : from.findings) {
        Finding* o = owner_of(f);
        if (!o) {
            kept.push_back(std::move(f));
            continue;
        }
        if (std::string more = fact(f); !more.empty()) o->message += "; " + more;
        from.why[f.key] = fmt::format("reported as {}", owner);
    }
    from.findings = std::move(kept);
}

}  // namespace

void correlate(std::vector<RuleFindings>& rules,
               const std::function<std::string_view(std::string_view)>& base) {
    RuleFindings* resolver = find(rules, "public_resolver");
    if (RuleFindings* direct = find(rules, "direct_ip"); direct && resolver) {
        std::unordered_map<std::string_view, Finding*> by_key;
        for (Finding& f : resolver->findings) {
            by_key.emplace(f.key, &f);
            // A DoH name's finding lists the addresses its first packets went to.
            for (const std::string& c : f.covers) by_key.emplace(c, &f);
        }
        fold_into(
            *direct,
            [&](const Finding& f) {
                auto it = by_key.find(f.key);
                return it == by_key.end() ? nullptr : it->second;
            },
            [](const Finding&) { return std::string(); }, "public_resolver");
    }
    RuleFindings* fresh = find(rules, "new_domain");
    if (!fresh) return;
    // new_domain keys are registrable domains; an owner is a finding about the same one.
    for (std::string_view owner : {"tunnel", "dga", "public_resolver"}) {
        RuleFindings* o = find(rules, owner);
        if (!o) continue;
        std::unordered_map<std::string, Finding*> by_base;
        for (Finding& f : o->findings) {
            by_base.emplace(std::string(base(f.key)), &f);
            for (const std::string& c : f.covers) by_base.emplace(c, &f);
        }
        fold_into(
            *fresh,
            [&](const Finding& f) {
                auto it = by_base.find(f.key);
                return it == by_base.end() ? nullptr : it->second;
            },
            [](const Finding& f) {
                // "3 new names under x.example (...), first seen ...": the part before the
                // reason the rule gives.
                std::string_view m = f.message;
                size_t cut = m.find(": ");
                return fmt::format("also new on this host: {}", m.substr(0, cut));
            },
            owner);
    }
}

void cap_findings(std::vector<RuleFindings>& rules, size_t max) {
    for (RuleFindings& r : rules) {
        if (max == 0 || r.findings.size() <= max) continue;
        std::vector<Finding>& f = r.findings;
        std::stable_sort(f.begin(), f.end(), [](const Finding& a, const Finding& b) {
            return a.weight != b.weight ? a.weight > b.weight : a.key < b.key;
        });
        Finding all;
        all.key = "*";
        all.weight = static_cast<int64_t>(f.size());
        std::string examples;
        for (size_t i = 0; i < f.size(); ++i) {
            if (i < 3) examples += (i ? ", " : "") + f[i].key;
            r.why[f[i].key] = "now counted in the host's summary alert (key *)";
            all.covers.push_back(f[i].key);
            for (auto& c : f[i].covers) all.covers.push_back(std::move(c));
        }
        all.message = fmt::format(
            "{} {} findings on this host at once, more than [rules] max_alerts_per_host = {}: {} "
            "and {} more; the largest: {}",
            f.size(), r.rule, max, examples, f.size() - 3, f[0].message);
        f.clear();
        f.push_back(std::move(all));
    }
}

}  // namespace em
