#include "core/answer_cache.h"

#include <algorithm>

namespace em {

bool AnswerCache::insert(const IpAddress& ip, std::string_view name, uint32_t ttl_s,
                         int64_t now_ms) {
    if (ip.is_loopback() || ip.is_unspecified() || max_entries_ == 0) return false;
    const uint32_t ttl = std::clamp(ttl_s, min_ttl_s_, std::max(min_ttl_s_, max_ttl_s_));
    const int64_t expires = now_ms + int64_t{ttl} * 1000;
    auto [it, fresh] = map_.try_emplace(ip);
    Entry& e = it->second;
    if (fresh) {
        e.age = lru_.insert(lru_.end(), ip);
    } else {
        lru_.splice(lru_.end(), lru_, e.age);
    }
    auto same =
        std::find_if(e.names.begin(), e.names.end(), [&](const Name& n) { return n.name == name; });
    if (same != e.names.end()) {
        Name n = std::move(*same);
        n.expires_ms = std::max(n.expires_ms, expires);
        e.names.erase(same);
        e.names.insert(e.names.begin(), std::move(n));
        return true;
    }
    if (e.names.size() >= kMaxNamesPerIp) {
        e.names.pop_back();
        --entries_;
        ++evicted_;
    }
    e.names.insert(e.names.begin(), Name{std::string(name), expires});
    ++entries_;
    if (entries_ > max_entries_) evict_to(max_entries_);
    return true;
}

void AnswerCache::lookup(const IpAddress& ip, int64_t now_ms, std::vector<std::string>& names) {
    names.clear();
    auto it = map_.find(ip);
    if (it == map_.end()) return;
    auto& v = it->second.names;
    size_t before = v.size();
    std::erase_if(v, [&](const Name& n) { return n.expires_ms <= now_ms; });
    entries_ -= before - v.size();
    if (v.empty()) {
        erase(it);
        return;
    }
    for (const Name& n : v) names.push_back(n.name);
}

void AnswerCache::expire(int64_t now_ms) {
    for (auto it = map_.begin(); it != map_.end();) {
        auto& v = it->second.names;
        size_t before = v.size();
        std::erase_if(v, [&](const Name& n) { return n.expires_ms <= now_ms; });
        entries_ -= before - v.size();
        if (v.empty()) {
            lru_.erase(it->second.age);
            it = map_.erase(it);
        } else {
            ++it;
        }
    }
}

void AnswerCache::reconfigure(size_t max_entries, uint32_t min_ttl_s, uint32_t max_ttl_s) {
    max_entries_ = max_entries;
    min_ttl_s_ = min_ttl_s;
    max_ttl_s_ = max_ttl_s;
    evict_to(max_entries_);
}

void AnswerCache::evict_to(size_t limit) {
    while (entries_ > limit && !lru_.empty()) {
        auto it = map_.find(lru_.front());
        evicted_ += it->second.names.size();
        erase(it);
    }
}

void AnswerCache::erase(std::unordered_map<IpAddress, Entry, IpAddressHash>::iterator it) {
    entries_ -= it->second.names.size();
    lru_.erase(it->second.age);
    map_.erase(it);
}

}  // namespace em
