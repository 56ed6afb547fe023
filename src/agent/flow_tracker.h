#pragma once
// FlowTracker: finds new flows in a stream of packets, for sources that see packets rather
// than connections (pcap file or interface). A TCP SYN without ACK opens a flow (a
// retransmitted SYN of the same 5-tuple within the timeout does not); a UDP/ICMP packet opens
// one when neither its 5-tuple nor the reverse was seen within the timeout (conntrack's view
// of an unreplied UDP flow); for ICMP only echo requests do. Bounded: at most `max_flows` tuples,
// the least recently seen forgotten first (counted). Single-threaded.
#include <cstdint>
#include <list>
#include <unordered_map>

#include "common/ip_address.h"
#include "packet/packet.h"

namespace em {

class FlowTracker {
  public:
    explicit FlowTracker(size_t max_flows = 262144, int64_t timeout_ms = 60000)
        : max_flows_(max_flows), timeout_ms_(timeout_ms) {}
    /// True when `p` (seen at `now_ms`) opens a new flow from p.src to p.dst.
    bool is_new_flow(const PacketInfo& p, int64_t now_ms);
    uint64_t forgotten() const { return forgotten_; }
    size_t tracked() const { return map_.size(); }

  private:
    struct Key {
        IpAddress a, b;
        uint16_t pa = 0, pb = 0;
        uint8_t proto = 0;
        friend bool operator==(const Key&, const Key&) = default;
    };
    struct Hash {
        size_t operator()(const Key& k) const {
            return k.a.hash() * 0x9E3779B97F4A7C15ull ^ k.b.hash() ^
                   (size_t{k.pa} << 24 | size_t{k.pb} << 8 | k.proto);
        }
    };
    struct Entry {
        int64_t last_ms;
        std::list<Key>::iterator age;
    };
    bool seen_recently(const Key& k, int64_t now_ms);
    void remember(const Key& k, int64_t now_ms);

    size_t max_flows_;
    int64_t timeout_ms_;
    uint64_t forgotten_ = 0;
    std::list<Key> lru_;  // front = least recently seen
    std::unordered_map<Key, Entry, Hash> map_;
};

}  // namespace em
