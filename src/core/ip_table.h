#pragma once
// IpTable<V>: a map from IpAddress to V for the per-line hot path of log folding. Open
// addressing with linear probing over the entries themselves (at most half full), so a
// lookup costs one cache miss, and prefetch() lets a caller hide even that one by asking
// for the slot a few lines ahead. Compared with std::unordered_map (a bucket array and a
// node per key) this removed the largest cost in profiles of kernel-LOG folding. No erase:
// a batch only grows. Iteration order is the table's, not sorted.
#include <cstdint>
#include <utility>
#include <vector>

#include "common/ip_address.h"

namespace em {

template <class V>
class IpTable {
  public:
    using Entry = std::pair<IpAddress, V>;

    IpTable() = default;
    IpTable(const IpTable&) = default;
    IpTable& operator=(const IpTable&) = default;
    /// A moved-from table is empty.
    IpTable(IpTable&& o) noexcept : slots_(std::move(o.slots_)), size_(std::exchange(o.size_, 0)) {
        o.slots_.clear();
    }
    IpTable& operator=(IpTable&& o) noexcept {
        slots_ = std::move(o.slots_);
        o.slots_.clear();
        size_ = std::exchange(o.size_, 0);
        return *this;
    }

    V& operator[](const IpAddress& ip) {
        if ((size_ + 1) * 2 > slots_.size()) grow();
        size_t mask = slots_.size() - 1;
        for (size_t i = ip.hash() & mask;; i = (i + 1) & mask) {
            Entry& e = slots_[i];
            if (e.first == ip) return e.second;
            if (!e.first.is_set()) {
                e.first = ip;
                ++size_;
                return e.second;
            }
        }
    }
    void prefetch(const IpAddress& ip) const {
        if (!slots_.empty()) __builtin_prefetch(&slots_[ip.hash() & (slots_.size() - 1)]);
    }
    const V* find(const IpAddress& ip) const {
        if (slots_.empty()) return nullptr;
        size_t mask = slots_.size() - 1;
        for (size_t i = ip.hash() & mask;; i = (i + 1) & mask) {
            const Entry& e = slots_[i];
            if (e.first == ip) return &e.second;
            if (!e.first.is_set()) return nullptr;
        }
    }
    const V& at(const IpAddress& ip) const { return *find(ip); }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

    template <class Fn>
    void for_each(Fn&& fn) const {
        for (const Entry& e : slots_)
            if (e.first.is_set()) fn(e.first, e.second);
    }

  private:
    void grow() {
        std::vector<Entry> old = std::move(slots_);
        slots_.assign(old.empty() ? 1024 : old.size() * 2, Entry{});
        size_t mask = slots_.size() - 1;
        for (Entry& e : old) {
            if (!e.first.is_set()) continue;
            size_t i = e.first.hash() & mask;
            while (slots_[i].first.is_set()) i = (i + 1) & mask;
            slots_[i] = std::move(e);
        }
    }

    std::vector<Entry> slots_;
    size_t size_ = 0;
};

}  // namespace em
