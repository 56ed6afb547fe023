#include "core/batch.h"

#include <algorithm>
#include <atomic>

namespace em {

DomainDelta& Batch::domain(std::string_view name, bool& folded) {
    folded = false;
    if (!folder_ || folder_->limit() == 0 || DomainFolder::is_folded(name)) return domains_[name];
    if (DomainDelta* known = domains_.find_mutable(name)) return *known;
    // A name folded a moment ago (its query, now its answer): skip the public suffix lookup.
    FoldMemo& memo = fold_memo_[std::hash<std::string_view>()(name) % fold_memo_.size()];
    if (memo.target && memo.name == name) {
        folded = true;
        return *memo.target;
    }
    // A new name: counted under its registrable domain until that has the limit of names.
    std::string_view base = folder_->base(name);
    auto it = names_per_base_.find(base);
    if (it == names_per_base_.end()) it = names_per_base_.emplace(std::string(base), 0).first;
    uint32_t& names = it->second;
    if (names >= folder_->limit()) {
        folded = true;
        DomainDelta& target = domains_[DomainFolder::folded_name(base)];
        memo.name.assign(name);
        memo.target = &target;
        return target;
    }
    ++names;
    return domains_[name];
}

DomainDelta& Batch::add_query(std::string_view name, int64_t t) {
    bool folded = false;
    DomainDelta& d = domain(name, folded);
    if (folded) counters_["dnsmasq.folded_queries"] += 1;
    d.queries += 1;
    d.last_seen = std::max(d.last_seen, t);
    return d;
}

void Batch::add_answer_to(DomainDelta& d, const IpAddress& ip, int64_t t) {
    for (auto& a : d.answers) {
        if (a.ip == ip) {
            a.last_seen = std::max(a.last_seen, t);
            return;
        }
    }
    if (d.answers.size() < max_ips_per_domain_) {
        d.answers.push_back({ip, t});
        return;
    }
    // Full: replace the least recent (ties: the numerically largest), if this one is newer.
    auto oldest = std::min_element(d.answers.begin(), d.answers.end(), [](auto& x, auto& y) {
        return x.last_seen != y.last_seen ? x.last_seen < y.last_seen : x.ip > y.ip;
    });
    if (oldest->last_seen < t || (oldest->last_seen == t && ip < oldest->ip)) *oldest = {ip, t};
}

bool Batch::add_answer(std::string_view name, const IpAddress& ip, int64_t t) {
    if (ip.is_loopback() || ip.is_unspecified()) return false;
    bool folded = false;
    add_answer_to(domain(name, folded), ip, t);
    return true;
}

bool Batch::add_answer(DomainDelta& d, const IpAddress& ip, int64_t t) {
    if (ip.is_loopback() || ip.is_unspecified()) return false;
    add_answer_to(d, ip, t);
    return true;
}

size_t ProcessUseHash::operator()(const ProcessUseView& k) const {
    std::hash<std::string_view> h;
    size_t x = static_cast<unsigned char>(k.kind);
    for (std::string_view part : {k.dest, k.exe, k.user, k.container})
        x = (x ^ h(part)) * 0x9E3779B97F4A7C15ull;
    return x;
}

ProcessUseDelta* Batch::add_use(const ProcessUseView& key, const ProcessUseDelta& delta) {
    ProcessUseView k = key;
    // A domain this batch would fold (its registrable domain has the limit of names and the
    // name is not one of them) goes where its queries went, so a flood of random subdomains
    // from one process stays one key.
    if (k.kind == 'd' && folder_ && folder_->limit() > 0 && !DomainFolder::is_folded(k.dest) &&
        !domains_.find(k.dest)) {
        std::string_view base = folder_->base(k.dest);
        auto it = names_per_base_.find(base);
        if (it != names_per_base_.end() && it->second >= folder_->limit()) {
            folded_scratch_ = DomainFolder::folded_name(base);
            k.dest = folded_scratch_;
        }
    }
    auto it = uses_.find(k);
    if (it == uses_.end()) {
        return &uses_
                    .emplace(ProcessUseKey{k.kind, std::string(k.dest), std::string(k.exe),
                                           std::string(k.user), std::string(k.container)},
                             delta)
                    .first->second;
    }
    it->second.merge(delta);
    return &it->second;
}

ProcessUseDelta* Batch::add_process_use(char kind, std::string_view dest, std::string_view exe,
                                        std::string_view user, std::string_view container,
                                        int64_t t) {
    if ((kind != 'd' && kind != 'i') || dest.empty()) {
        counters_["process_use.invalid"] += 1;
        return nullptr;
    }
    return add_use(ProcessUseView{kind, dest, exe, user, container}, ProcessUseDelta{1, t, t});
}

uint64_t Batch::next_id() {
    static std::atomic<uint64_t> counter{0};  // identity only; no state hangs off it
    return ++counter;
}

void Batch::merge(Batch&& other) {
    other.ips();  // fold its pending flows
    other.id_ = next_id();
    if (empty() && counters_.empty()) {
        domains_ = std::move(other.domains_);
        ips_ = std::move(other.ips_);
        counters_ = std::move(other.counters_);
        names_per_base_ = std::move(other.names_per_base_);
        fold_memo_ = std::move(other.fold_memo_);
        for (auto& m : other.fold_memo_) m.target = nullptr;
        ports_ = std::move(other.ports_);
        uses_ = std::move(other.uses_);
        names_ = std::move(other.names_);
        return;
    }
    for (const auto& [k, v] : other.names_) names_[k].merge(v);
    for (const auto& [k, v] : other.ports_) {
        FlowPortDelta& d = ports_[k];
        d.flows += v.flows;
        d.direct += v.direct;
    }
    for (const auto& [name, od] : other.domains_) {
        bool folded = false;
        DomainDelta& d = domain(name, folded);
        if (folded) counters_["dnsmasq.folded_queries"] += od.queries;
        d.queries += od.queries;
        d.last_seen = std::max(d.last_seen, od.last_seen);
        for (auto& a : od.answers) add_answer_to(d, a.ip, a.last_seen);
    }
    ips();
    if (ips_.empty()) {
        std::swap(ips_, other.ips_);  // nothing to add to (a dnsmasq batch merged first)
    } else {
        other.ips_.for_each_unordered([&](const IpAddress& ip, const IpDelta& od) {
            IpDelta& d = ips_[ip];
            d.flows += od.flows;
            d.last_seen = std::max(d.last_seen, od.last_seen);
        });
    }
    for (auto& [k, v] : other.counters_) counters_[k] += v;
    // After the domains: a name merged above is known here and so not folded.
    for (const auto& [k, v] : other.uses_)
        add_use(ProcessUseView{k.kind, k.dest, k.exe, k.user, k.container}, v);
}

bool normalize_domain(std::string_view name, std::string& out) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > 253) return false;
    out.resize(name.size());
    for (size_t i = 0; i < name.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(name[i]);
        if (c <= 0x20 || c >= 0x7f) return false;
        out[i] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    return true;
}

}  // namespace em
