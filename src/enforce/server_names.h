#pragma once
// allowByServerName (a filter's extension key): the connections of one filter to addresses no
// allowed DNS answer named, judged by the name their first packet claims. Single-threaded,
// owned by the Engine (one table per filter).
//
//   TCP  A SYN (without ACK) opens a *held* entry for its 5-tuple and passes: the handshake
//        happens. Packets of the held connection without data pass (still held). Its first
//        data segment must be a TLS record with a ClientHello naming a server (SNI), or an
//        HTTP/1.x request with a Host: the name is judged by `allowed` and the connection
//        becomes *allowed* (this segment and every later packet pass) or *denied* (this
//        segment and every later packet are dropped). Not TLS or HTTP, no name, a malformed
//        or incomplete one (a ClientHello beyond the first segment is not reassembled), a
//        segment cut short, or no data within kHeldTimeoutMs of the SYN: denied.
//        A packet (not a SYN) of a connection the table does not know is dropped.
//   UDP  to port 443: a datagram of a 5-tuple the table does not know must be a QUIC client
//        Initial naming an allowed server; the 5-tuple is then allowed (later datagrams
//        pass), otherwise denied.
//
// Bounds: at most kMaxFlows entries per filter; a SYN (or an allowed QUIC Initial) finding
// the table full after expiry is dropped (table_full). Held entries end kHeldTimeoutMs after
// the SYN, allowed ones kAllowedIdleMs after their last packet, denied ones kDeniedKeepMs
// after the verdict (their packets are dropped as unknown afterwards anyway).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/ip_address.h"
#include "packet/packet.h"

namespace em {

/// The packet mark bit an accepted packet of a held connection leaves with: the operator's
/// rules save it in the connection's mark, and queue every packet of a connection carrying it
/// (docs/enforce.md). Other packets leave with the bit cleared, which clears it from the
/// connection: once judged, its packets no longer come to the queue.
inline constexpr uint32_t kServerNameHeldMark = 0x20000000;

/// Outcomes, counted since construction (each connection once, but `unknown` and `later`).
struct ServerNameCounters {
    uint64_t held = 0;        // TCP connections whose handshake passed, held for their data
    uint64_t allowed = 0;     // named an allowed host (TCP or QUIC)
    uint64_t denied = 0;      // named a host not allowed
    uint64_t no_name = 0;     // not TLS/HTTP/QUIC, or it names no host
    uint64_t malformed = 0;   // broken or hostile first data (or cut short)
    uint64_t incomplete = 0;  // the name lies beyond the first segment or datagram
    uint64_t timeout = 0;     // no data within kHeldTimeoutMs
    uint64_t table_full = 0;  // a new connection refused for want of room
    uint64_t unknown = 0;     // a packet of no connection the table knows (not a SYN)
    uint64_t later = 0;       // later packets of judged connections (passed or dropped)
};

struct ServerNameVerdict {
    bool accept = false;
    bool held = false;        // accepted, and the connection is still held: mark it
    const char* reason = "";  // static text
};

class ServerNameFlows {
  public:
    static constexpr size_t kMaxFlows = 16384;
    static constexpr int64_t kHeldTimeoutMs = 10000;
    static constexpr int64_t kAllowedIdleMs = 180000;  // a QUIC 5-tuple, after its last datagram
    // An allowed TCP connection leaves the queue (its connmark bit is cleared): its entry only
    // answers the packets already queued behind the verdict, so it goes soon, leaving room.
    static constexpr int64_t kAllowedTcpKeepMs = 5000;
    static constexpr int64_t kDeniedKeepMs = 30000;

    /// Judges one packet of the filter's traffic whose destination no answer allowed (TCP,
    /// or UDP to port 443; anything else is dropped). `allowed`: whether a name is allowed
    /// (lower case, no trailing dot). The name the packet claimed, if any, is in name().
    ServerNameVerdict judge(const PacketInfo& p, int64_t now_ms,
                            const std::function<bool(std::string_view)>& allowed);
    /// The name the last judged packet claimed (empty when it claimed none).
    const std::string& name() const { return name_; }
    void expire(int64_t now_ms);
    size_t size() const { return flows_.size(); }
    const ServerNameCounters& counters() const { return counters_; }

  private:
    struct Key {
        IpAddress src, dst;
        uint16_t sport = 0, dport = 0;
        uint8_t proto = 0;
        friend bool operator==(const Key&, const Key&) = default;
    };
    struct KeyHash {
        size_t operator()(const Key& k) const;
    };
    enum class State : uint8_t { held, allowed, denied };
    struct Entry {
        State state = State::held;
        int64_t until_ms = 0;
    };
    ServerNameVerdict first_data(Entry& e, const PacketInfo& p, int64_t now_ms,
                                 const std::function<bool(std::string_view)>& allowed);
    bool room(int64_t now_ms);

    std::unordered_map<Key, Entry, KeyHash> flows_;
    ServerNameCounters counters_;
    std::string name_;
};

}  // namespace em
