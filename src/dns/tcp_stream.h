#pragma once
// DNS over TCP: messages are length-prefixed (RFC 1035 4.2.2) and may be split across
// segments or several may share one. TcpDnsStreams reassembles them per connection and
// direction from the segments' sequence numbers. Bounded: at most `max_streams` connections
// are tracked (the oldest are dropped) and at most 64 KiB + 2 bytes buffered per stream.
// A segment that leaves a hole (lost or out of order) discards that stream's buffered bytes
// and is counted as skipped; reassembly resumes at the next message start when the length
// prefix of the lost message was seen, else at that segment. Retransmitted bytes already
// consumed are ignored.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>

#include "common/ip_address.h"

namespace em {

struct TcpStreamKey {
    IpAddress src, dst;
    uint16_t sport = 0, dport = 0;
    friend bool operator==(const TcpStreamKey&, const TcpStreamKey&) = default;
};

class TcpDnsStreams {
  public:
    explicit TcpDnsStreams(size_t max_streams = 4096) : max_streams_(max_streams) {}

    /// Feeds one segment. `syn`: the segment carries SYN (its sequence number starts the
    /// stream; payload starts at seq + 1). `fin_or_rst` ends the stream after this segment.
    /// Calls `on_message(data, len)` for every complete DNS message (without the prefix).
    void feed(const TcpStreamKey& key, uint32_t seq, bool syn, bool fin_or_rst,
              const uint8_t* payload, size_t len,
              const std::function<void(const uint8_t*, size_t)>& on_message);

    uint64_t skipped_segments() const { return skipped_; }  // holes, overflow, evictions
    size_t tracked() const { return map_.size(); }

  private:
    struct Hash {
        size_t operator()(const TcpStreamKey& k) const;
    };
    struct Stream {
        uint32_t next_seq = 0;
        bool synced = false;
        uint32_t skip = 0;  // after a hole: bytes still to drop up to the next message start
        std::string buf;
        std::list<TcpStreamKey>::iterator age;
    };
    void skip_hole(Stream& s, uint32_t data_seq);

    size_t max_streams_;
    uint64_t skipped_ = 0;
    std::list<TcpStreamKey> lru_;  // front = oldest
    std::unordered_map<TcpStreamKey, Stream, Hash> map_;
};

}  // namespace em
