#include "agent/first_payload_tracker.h"

namespace em {

FirstPayloadTracker::Entry* FirstPayloadTracker::find(const Key& k, int64_t now_ms) {
    auto it = map_.find(k);
    if (it == map_.end() || now_ms - it->second.last_ms > timeout_ms_) return nullptr;
    return &it->second;
}

void FirstPayloadTracker::remember(const Key& k, State s, int64_t now_ms) {
    auto [it, fresh] = map_.try_emplace(k);
    it->second.last_ms = now_ms;
    it->second.state = s;
    if (fresh) {
        it->second.age = lru_.insert(lru_.end(), k);
    } else {
        lru_.splice(lru_.end(), lru_, it->second.age);
    }
    while (map_.size() > max_flows_) {
        map_.erase(lru_.front());
        lru_.pop_front();
        ++forgotten_;
    }
}

bool FirstPayloadTracker::is_first_payload(const PacketInfo& p, bool opens_flow, int64_t now_ms) {
    if (p.fragment) return false;
    if (p.proto == kProtoUdp) return opens_flow && p.dport == 443 && p.payload_wire_len > 0;
    if (p.proto != kProtoTcp) return false;
    const Key k{p.src, p.dst, p.sport, p.dport, p.proto};
    if ((p.tcp_flags & (tcp_flag::kSyn | tcp_flag::kAck)) == tcp_flag::kSyn) {
        // A retransmitted SYN keeps waiting; a SYN after a look is a new connection.
        remember(k, State::waiting, now_ms);
        return false;
    }
    if (p.payload_wire_len == 0 || (p.tcp_flags & (tcp_flag::kSyn | tcp_flag::kRst)) != 0)
        return false;
    Entry* e = find(k, now_ms);
    if (e == nullptr || e->state != State::waiting) return false;
    // Kept as "looked" (not erased), so that a retransmission is recognised as one.
    remember(k, State::looked, now_ms);
    return true;
}

bool FirstPayloadTracker::first_look(const PacketInfo& p, int64_t now_ms) {
    const Key k{p.src, p.dst, p.sport, p.dport, p.proto};
    Entry* e = find(k, now_ms);
    if (e != nullptr && e->state == State::looked) return false;
    remember(k, State::looked, now_ms);
    return true;
}

}  // namespace em
