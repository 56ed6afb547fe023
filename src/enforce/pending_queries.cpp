#include "enforce/pending_queries.h"

#include <algorithm>
#include <cstring>
#include <random>

namespace em {

namespace {

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

}  // namespace

PendingQueries::PendingQueries(size_t capacity, int64_t timeout_ms)
    : slots_(capacity ? capacity : 1), timeout_ms_(timeout_ms) {
    size_t n = 16;
    while (n < 2 * slots_.size()) n <<= 1;
    index_.assign(n, kNone);
    mask_ = n - 1;
    std::random_device rd;
    seed_ = uint64_t{rd()} << 32 | rd();
    for (size_t i = slots_.size(); i-- > 0;) {
        slots_[i].newer = free_;
        free_ = static_cast<uint32_t>(i);
    }
}

uint64_t PendingQueries::hash_socket(const DnsFlow& f) const {
    uint64_t a, b;
    std::memcpy(&a, f.client.bytes(), 8);
    std::memcpy(&b, f.client.bytes() + 8, 8);
    uint64_t h = seed_ ^ (uint64_t{f.proto} << 32 | uint64_t{f.client_port} << 8 |
                          (f.client.is_v6() ? 1u : 0u));
    h = mix(h ^ a);
    return mix(h ^ b);
}

size_t PendingQueries::find_position(const DnsFlow& f) const {
    size_t pos = hash_socket(f) & mask_;
    while (index_[pos] != kNone && !same_socket(slots_[index_[pos]].flow, f))
        pos = (pos + 1) & mask_;
    return pos;
}

// Linear probing without tombstones: the entries after the hole that may move into it do.
void PendingQueries::erase_position(size_t pos) {
    index_[pos] = kNone;
    for (size_t j = (pos + 1) & mask_; index_[j] != kNone; j = (j + 1) & mask_) {
        const size_t home = hash_socket(slots_[index_[j]].flow) & mask_;
        const bool stays = pos <= j ? (home > pos && home <= j) : (home > pos || home <= j);
        if (stays) continue;
        index_[pos] = index_[j];
        index_[j] = kNone;
        pos = j;
    }
}

void PendingQueries::remove(uint32_t s) {
    Slot& e = slots_[s];
    (e.older != kNone ? slots_[e.older].newer : oldest_) = e.newer;
    (e.newer != kNone ? slots_[e.newer].older : newest_) = e.older;
    if (e.prev_s != kNone) {
        slots_[e.prev_s].next_s = e.next_s;
    } else {
        const size_t pos = find_position(e.flow);
        if (e.next_s != kNone)
            index_[pos] = e.next_s;
        else
            erase_position(pos);
    }
    if (e.next_s != kNone) slots_[e.next_s].prev_s = e.prev_s;
    e.older = e.prev_s = e.next_s = kNone;
    e.newer = free_;
    free_ = s;
    --size_;
}

void PendingQueries::expire(int64_t now_ms) {
    while (oldest_ != kNone && slots_[oldest_].until <= now_ms) {
        remove(oldest_);
        ++expired_;
    }
}

PendingQueries::Added PendingQueries::add(const DnsFlow& flow, const DnsQuestion& q,
                                          int64_t now_ms) {
    expire(now_ms);
    const size_t pos = find_position(flow);
    uint32_t s = kNone;
    size_t same = 0;
    for (uint32_t i = index_[pos]; i != kNone; i = slots_[i].next_s, ++same) {
        const Slot& e = slots_[i];
        if (e.id == q.id && e.flow.server_port == flow.server_port && e.flow.server == flow.server)
            s = i;
    }
    const bool replacing = s != kNone;
    if (replacing) {
        // Unlinked from the age list only: it becomes the newest again.
        Slot& e = slots_[s];
        (e.older != kNone ? slots_[e.older].newer : oldest_) = e.newer;
        (e.newer != kNone ? slots_[e.newer].older : newest_) = e.older;
    } else {
        if (same >= kMaxPerSocket) return Added::socket_full;
        if (free_ == kNone) return Added::table_full;
        s = free_;
        free_ = slots_[s].newer;
        Slot& e = slots_[s];
        e.flow = flow;
        e.id = q.id;
        e.prev_s = kNone;
        e.next_s = index_[pos];
        if (e.next_s != kNone) slots_[e.next_s].prev_s = s;
        index_[pos] = s;
        ++size_;
    }
    Slot& e = slots_[s];
    e.qtype = q.qtype;
    e.qname.assign(q.qname);
    e.until = now_ms + timeout_ms_;
    e.older = newest_;
    e.newer = kNone;
    (newest_ != kNone ? slots_[newest_].newer : oldest_) = s;
    newest_ = s;
    return replacing ? Added::replaced : Added::added;
}

PendingQueries::Match PendingQueries::take(const DnsFlow& flow, const DnsQuestion& q,
                                           int64_t now_ms, bool consume) {
    expire(now_ms);
    const size_t pos = find_position(flow);
    Match best = Match::unsolicited;
    for (uint32_t i = index_[pos]; i != kNone; i = slots_[i].next_s) {
        const Slot& e = slots_[i];
        if (e.flow.server_port != flow.server_port || e.flow.server != flow.server) {
            best = std::min(best, Match::wrong_server);
            continue;
        }
        if (e.id != q.id) {
            best = std::min(best, Match::wrong_id);
            continue;
        }
        if (e.qtype != q.qtype || e.qname != q.qname) {
            best = std::min(best, Match::wrong_question);
            continue;
        }
        if (consume) remove(i);
        return Match::matched;
    }
    return best;
}

}  // namespace em
