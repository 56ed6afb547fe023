#pragma once
// FirstPayloadTracker: picks, once per flow, the packet whose payload names the flow
// (Pipeline::on_first_payload): a TCP connection's first data segment from the client, or the
// UDP datagram to port 443 that opens a flow (a QUIC Initial).
//
// Two uses:
//   - a stream of packets (pcap file or interface): is_first_payload() sees every packet. A TCP
//     SYN without ACK makes its 5-tuple wait; the first segment of that 5-tuple carrying data
//     (and no RST) is the first payload, once: a retransmission of it, later segments, and data
//     on connections whose SYN was not seen are not. A UDP datagram to port 443 is the first
//     payload when the caller's FlowTracker found it opens a flow.
//   - a source whose kernel rule already picked the packet (NFLOG "em-first"): first_look()
//     is true once per 5-tuple within the timeout, so a packet logged twice (another ruleset
//     clearing the conntrack mark that bounds the rule) is not a second look.
// Bounded: at most `max_flows` 5-tuples, the least recently touched forgotten first (counted);
// an entry older than `timeout_ms` counts as absent. Single-threaded.
#include <cstdint>
#include <list>
#include <unordered_map>

#include "common/ip_address.h"
#include "packet/packet.h"

namespace em {

class FirstPayloadTracker {
  public:
    explicit FirstPayloadTracker(size_t max_flows = 65536, int64_t timeout_ms = 60000)
        : max_flows_(max_flows), timeout_ms_(timeout_ms) {}
    /// A packet of a stream seen at `now_ms`; `opens_flow`: FlowTracker::is_new_flow's answer
    /// for it. True when its payload is the flow's first.
    bool is_first_payload(const PacketInfo& p, bool opens_flow, int64_t now_ms);
    /// A packet a kernel rule picked as a first payload: true the first time its 5-tuple is
    /// seen (within the timeout).
    bool first_look(const PacketInfo& p, int64_t now_ms);
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
    enum class State : uint8_t { waiting, looked };
    struct Entry {
        int64_t last_ms = 0;
        State state = State::waiting;
        std::list<Key>::iterator age;
    };
    /// The live entry of `k`, or null (absent or expired).
    Entry* find(const Key& k, int64_t now_ms);
    void remember(const Key& k, State s, int64_t now_ms);

    size_t max_flows_;
    int64_t timeout_ms_;
    uint64_t forgotten_ = 0;
    std::list<Key> lru_;  // front = least recently touched
    std::unordered_map<Key, Entry, Hash> map_;
};

}  // namespace em
