#include "policy/policy_uses.h"

#include <fmt/core.h>

#include <algorithm>

namespace em {

namespace {

constexpr size_t kMaxComment = 100;  // as safe_comment

bool process_matches(std::string_view exe, const std::string& want) {
    if (exe == want) return true;
    if (exe.size() > 2 && exe.front() == '[' && exe.back() == ']')
        return exe.substr(1, exe.size() - 2) == want;
    size_t slash = exe.rfind('/');
    return slash != std::string_view::npos && exe.substr(slash + 1) == want;
}

bool container_matches(std::string_view id, const std::string& want) {
    if (want == "host") return id.empty();
    return !want.empty() && id.substr(0, want.size()) == want;
}

template <class Fn>
bool any_of(const std::vector<std::string>& wants, Fn&& fn) {
    return wants.empty() || std::any_of(wants.begin(), wants.end(), fn);
}

}  // namespace

bool has_process_filters(const PolicyOptions& opt) {
    return !opt.processes.empty() || !opt.users.empty() || !opt.containers.empty();
}

bool use_matches(const PolicyUse& u, const PolicyOptions& opt) {
    return any_of(opt.processes, [&](const std::string& w) { return process_matches(u.exe, w); }) &&
           any_of(opt.users, [&](const std::string& w) { return u.user == w; }) &&
           any_of(opt.containers,
                  [&](const std::string& w) { return container_matches(u.container, w); });
}

UseIndex::UseIndex(const PolicyInput& in, const PolicyOptions& opt)
    : filtering_(has_process_filters(opt)) {
    for (const PolicyUse& u : in.uses) {
        if (!use_matches(u, opt)) continue;
        Who who{u.exe, u.user, u.container};
        if (u.kind == 'd') {
            by_domain_[u.dest][who] += u.count;
        } else if (auto ip = IpAddress::parse(u.dest)) {
            by_ip_[*ip][who] += u.count;
            selected_.insert(*ip);
        }
    }
    if (!filtering_) return;
    for (const PolicyDomain& d : in.domains)
        if (by_domain_.count(d.name)) selected_.insert(d.ips.begin(), d.ips.end());
}

bool UseIndex::selected(const IpAddress& ip) const {
    return !filtering_ || selected_.count(ip) > 0;
}

std::string UseIndex::label(const std::string& base, const std::string* domain,
                            const std::vector<IpAddress>& ips) const {
    Counts counts;
    if (domain)
        if (auto it = by_domain_.find(*domain); it != by_domain_.end()) counts = it->second;
    if (counts.empty())
        for (const IpAddress& ip : ips)
            if (auto it = by_ip_.find(ip); it != by_ip_.end())
                for (const auto& [who, n] : it->second) counts[who] += n;
    if (counts.empty()) return base;
    std::vector<std::pair<Who, int64_t>> order(counts.begin(), counts.end());
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string out = base + " by";
    size_t shown = 0;
    for (const auto& [who, n] : order) {
        const auto& [exe, user, container] = who;
        // "[comm]" shown as comm: a path always starts with '/', so the two stay apart.
        std::string e = exe.size() > 2 && exe.front() == '[' && exe.back() == ']'
                            ? exe.substr(1, exe.size() - 2)
                            : exe;
        std::string item = " " + e + "@" + user;
        if (!container.empty()) item += ":" + container.substr(0, 12);
        // Room for " +N" after it, unless it is the last one.
        size_t rest = order.size() - shown - 1;
        size_t room = rest ? fmt::format(" +{}", rest).size() : 0;
        if (out.size() + item.size() + room > kMaxComment) break;
        out += item;
        ++shown;
    }
    if (shown == 0) {
        std::string bare = fmt::format("{} by +{}", base, order.size());
        return bare.size() <= kMaxComment ? bare : base;
    }
    if (shown < order.size()) out += fmt::format(" +{}", order.size() - shown);
    return out;
}

}  // namespace em
