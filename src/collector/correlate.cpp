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
        for (Finding& f : resolver->findings) by_key.emplace(f.key, &f);
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
        for (Finding& f : o->findings) by_base.emplace(std::string(base(f.key)), &f);
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

}  // namespace em
