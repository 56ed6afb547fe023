#include "dns/tcp_stream.h"

#include <algorithm>
#include <optional>

namespace em {

namespace {

// Offset just past the message whose 2-byte length prefix is at `p`.
size_t message_end(const uint8_t* p) { return 2 + ((size_t{p[0]} << 8) | p[1]); }

}  // namespace

size_t TcpDnsStreams::Hash::operator()(const TcpStreamKey& k) const {
    size_t h = k.src.hash();
    h ^= k.dst.hash() + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= (size_t{k.sport} << 16 | k.dport) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

void TcpDnsStreams::skip_hole(Stream& s, uint32_t data_seq) {
    // The bytes in the hole are gone, and the message they belong to with them. Where the
    // next message starts is known when the length prefix of the message in progress was
    // seen (or none was in progress); otherwise assume this segment starts one, as when
    // joining mid-connection.
    ++skipped_;
    std::optional<uint32_t> boundary;
    if (s.buf.empty()) {
        boundary = s.next_seq + s.skip;
    } else if (s.buf.size() >= 2) {
        auto* buf = reinterpret_cast<const uint8_t*>(s.buf.data());
        boundary = s.next_seq - static_cast<uint32_t>(s.buf.size()) +
                   static_cast<uint32_t>(message_end(buf));
    }
    s.buf.clear();
    s.next_seq = data_seq;
    s.skip = 0;
    if (boundary && static_cast<int32_t>(*boundary - data_seq) > 0) s.skip = *boundary - data_seq;
}

void TcpDnsStreams::feed(const TcpStreamKey& key, uint32_t seq, bool syn, bool fin_or_rst,
                         const uint8_t* payload, size_t len,
                         const std::function<void(const uint8_t*, size_t)>& on_message) {
    if (payload == nullptr) len = 0;
    auto it = map_.find(key);
    if (it == map_.end()) {
        // Nothing to learn from a bare ACK/FIN of a connection we do not follow.
        if (!syn && len == 0) return;
        if (max_streams_ == 0) {
            ++skipped_;
            return;
        }
        if (map_.size() >= max_streams_) {
            map_.erase(lru_.front());
            lru_.pop_front();
            ++skipped_;
        }
        lru_.push_back(key);
        it = map_.emplace(key, Stream{}).first;
        it->second.age = std::prev(lru_.end());
    } else {
        lru_.splice(lru_.end(), lru_, it->second.age);
    }
    Stream& s = it->second;

    uint32_t data_seq = seq;
    if (syn) {
        // A (new) connection: its data starts after the SYN's sequence number.
        data_seq = seq + 1;
        s.next_seq = data_seq;
        s.synced = true;
        s.skip = 0;
        s.buf.clear();
    } else if (!s.synced && len > 0) {
        // Joined mid-connection: assume the first data starts a message (they are small and
        // usually written in one go), and let the DNS decoder reject it if not.
        s.next_seq = data_seq;
        s.synced = true;
    }

    if (len > 0) {
        auto ahead = static_cast<int32_t>(data_seq - s.next_seq);  // wraps like TCP does
        if (ahead > 0) {
            skip_hole(s, data_seq);
        } else if (ahead < 0) {
            size_t old = static_cast<uint32_t>(s.next_seq - data_seq);
            if (old >= len) {
                len = 0;  // a retransmit of consumed bytes
            } else {
                payload += old;
                len -= old;
            }
        }
    }

    s.next_seq += static_cast<uint32_t>(len);
    size_t dropped = std::min<size_t>(s.skip, len);
    s.skip -= static_cast<uint32_t>(dropped);
    payload += dropped;
    len -= dropped;
    auto deliver = [&](const uint8_t* msg, size_t n) {
        if (on_message) on_message(msg, n);
    };
    // Take only the bytes the current message needs, so the buffer never holds more than
    // one message and its prefix; whole messages in the segment are delivered in place.
    while (len > 0) {
        if (s.buf.empty() && len >= 2 && len >= message_end(payload)) {
            size_t end = message_end(payload);
            deliver(payload + 2, end - 2);
            payload += end;
            len -= end;
            continue;
        }
        auto* buf = reinterpret_cast<const uint8_t*>(s.buf.data());
        size_t want = s.buf.size() < 2 ? 2 : message_end(buf);
        size_t take = std::min(len, want - s.buf.size());
        s.buf.append(reinterpret_cast<const char*>(payload), take);
        payload += take;
        len -= take;
        buf = reinterpret_cast<const uint8_t*>(s.buf.data());
        if (s.buf.size() >= 2 && s.buf.size() == message_end(buf)) {
            deliver(buf + 2, s.buf.size() - 2);
            s.buf.clear();
        }
    }

    if (fin_or_rst) {
        lru_.erase(s.age);
        map_.erase(it);
    }
}

}  // namespace em
