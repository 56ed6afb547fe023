#pragma once
// DomainTable: domain name → DomainDelta for the per-line hot path of dnsmasq-log folding.
// Open addressing over 16-byte slots that carry each name's full hash, with the names
// themselves in one contiguous arena: a lookup touches the slot array and the arena, both
// small enough to stay in cache for tens of thousands of names, where std::unordered_map
// chased a bucket, a node and a separately allocated string (a third of the parse time in
// profiles). Deltas live in a deque, so references stay valid as the table grows. No erase.
#include <cstdint>
#include <deque>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace em {

template <class V>
class DomainTable {
  public:
    /// The value for `name`, inserted (value-initialised) when missing.
    V& operator[](std::string_view name) {
        if ((values_.size() + 1) * 2 > slots_.size()) grow();
        uint64_t h = hash(name);
        size_t mask = slots_.size() - 1;
        for (size_t i = h & mask;; i = (i + 1) & mask) {
            Slot& s = slots_[i];
            if (s.index == 0) {
                s = Slot{h, static_cast<uint32_t>(values_.size() + 1),
                         static_cast<uint32_t>(name.size())};
                spans_.push_back(arena_.size());
                arena_.append(name);
                return values_.emplace_back();
            }
            if (s.hash == h && s.len == name.size() && name_of(s.index - 1) == name)
                return values_[s.index - 1];
        }
    }
    const V* find(std::string_view name) const {
        if (slots_.empty()) return nullptr;
        uint64_t h = hash(name);
        size_t mask = slots_.size() - 1;
        for (size_t i = h & mask;; i = (i + 1) & mask) {
            const Slot& s = slots_[i];
            if (s.index == 0) return nullptr;
            if (s.hash == h && s.len == name.size() && name_of(s.index - 1) == name)
                return &values_[s.index - 1];
        }
    }
    V* find_mutable(std::string_view name) {
        return const_cast<V*>(std::as_const(*this).find(name));
    }
    const V& at(std::string_view name) const {
        const V* v = find(name);
        if (!v) throw std::out_of_range("no domain " + std::string(name));
        return *v;
    }
    size_t count(std::string_view name) const { return find(name) ? 1 : 0; }
    size_t size() const { return values_.size(); }
    bool empty() const { return values_.empty(); }

    /// Iterates (name, value) pairs in insertion order.
    class const_iterator {
      public:
        std::pair<std::string_view, const V&> operator*() const {
            return {t_->name_of(i_), t_->values_[i_]};
        }
        const_iterator& operator++() {
            ++i_;
            return *this;
        }
        bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

      private:
        friend class DomainTable;
        const_iterator(const DomainTable* t, size_t i) : t_(t), i_(i) {}
        const DomainTable* t_;
        size_t i_;
    };
    const_iterator begin() const { return {this, 0}; }
    const_iterator end() const { return {this, values_.size()}; }

  private:
    struct Slot {
        uint64_t hash = 0;
        uint32_t index = 0;  // value index + 1; 0 = empty
        uint32_t len = 0;
    };
    static uint64_t hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
    std::string_view name_of(size_t i) const {
        size_t begin = spans_[i];
        size_t end = i + 1 < spans_.size() ? spans_[i + 1] : arena_.size();
        return std::string_view(arena_).substr(begin, end - begin);
    }
    void grow() {
        std::vector<Slot> old = std::move(slots_);
        slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
        size_t mask = slots_.size() - 1;
        for (const Slot& s : old) {
            if (s.index == 0) continue;
            size_t i = s.hash & mask;
            while (slots_[i].index != 0) i = (i + 1) & mask;
            slots_[i] = s;
        }
    }

    std::vector<Slot> slots_;
    std::string arena_;          // every name, back to back
    std::vector<size_t> spans_;  // where each name starts in arena_
    std::deque<V> values_;
};

}  // namespace em
