#include "agent/flow_tracker.h"

namespace em {

bool FlowTracker::seen_recently(const Key& k, int64_t now_ms) {
    auto it = map_.find(k);
    if (it == map_.end()) return false;
    if (now_ms - it->second.last_ms > timeout_ms_) return false;
    it->second.last_ms = now_ms;
    lru_.splice(lru_.end(), lru_, it->second.age);
    return true;
}

void FlowTracker::remember(const Key& k, int64_t now_ms) {
    auto [it, fresh] = map_.try_emplace(k);
    it->second.last_ms = now_ms;
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

bool FlowTracker::is_new_flow(const PacketInfo& p, int64_t now_ms) {
    if (p.fragment) return false;
    Key k{p.src, p.dst, p.sport, p.dport, p.proto};
    if (p.proto == kProtoTcp) {
        bool syn_only = (p.tcp_flags & (tcp_flag::kSyn | tcp_flag::kAck)) == tcp_flag::kSyn;
        if (!syn_only) return false;
        if (seen_recently(k, now_ms)) return false;
        remember(k, now_ms);
        return true;
    }
    if (p.proto == kProtoIcmp || p.proto == kProtoIcmp6) {
        // Only echo requests open a flow, as for conntrack: errors are related to another
        // flow, and neighbour discovery / MLD are not tracked at all.
        const uint8_t echo_request = p.proto == kProtoIcmp ? 8 : 128;
        if (p.payload_len < 1 || p.payload[0] != echo_request) return false;
    } else if (p.proto != kProtoUdp) {
        return false;
    }
    Key reverse{p.dst, p.src, p.dport, p.sport, p.proto};
    if (seen_recently(k, now_ms)) return false;
    if (seen_recently(reverse, now_ms)) return false;
    remember(k, now_ms);
    return true;
}

}  // namespace em
