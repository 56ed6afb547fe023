#include "dns/tcp_stream.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dns/dns_message.h"

namespace em {
namespace {

using Bytes = std::vector<uint8_t>;

// A DNS response for a.test A 192.0.2.<n>, with its TCP length prefix.
Bytes framed_response(uint8_t n) {
    // clang-format off
    Bytes m = {0, n, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
               1, 'a', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
               0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, n};
    // clang-format on
    Bytes out = {static_cast<uint8_t>(m.size() >> 8), static_cast<uint8_t>(m.size())};
    out.insert(out.end(), m.begin(), m.end());
    return out;
}

class Collector {
  public:
    std::function<void(const uint8_t*, size_t)> fn() {
        return [this](const uint8_t* p, size_t n) { messages.emplace_back(p, p + n); };
    }
    // The last octet of the A record of each message delivered, or -1 if it did not decode.
    std::vector<int> hosts() const {
        std::vector<int> out;
        for (const auto& m : messages) {
            auto d = decode_dns(m.data(), m.size());
            out.push_back(d && d->answers.size() == 1 && d->answers[0].address
                              ? d->answers[0].address->bytes()[3]
                              : -1);
        }
        return out;
    }
    std::vector<Bytes> messages;
};

TcpStreamKey key(uint16_t sport = 53) {
    return {*IpAddress::parse("192.0.2.53"), *IpAddress::parse("198.51.100.2"), sport, 41000};
}

void feed(TcpDnsStreams& s, Collector& c, uint32_t seq, const Bytes& data, size_t from, size_t to,
          bool syn = false, bool fin = false, uint16_t sport = 53) {
    s.feed(key(sport), seq, syn, fin, data.data() + from, to - from, c.fn());
}

TEST(TcpDnsStreams, MessageSplitAcrossThreeSegments) {
    TcpDnsStreams s;
    Collector c;
    Bytes m = framed_response(10);
    s.feed(key(), 999, true, false, nullptr, 0, c.fn());  // SYN
    EXPECT_EQ(s.tracked(), 1u);
    feed(s, c, 1000, m, 0, 1);  // half the length prefix
    feed(s, c, 1001, m, 1, 20);
    EXPECT_TRUE(c.messages.empty());
    feed(s, c, 1020, m, 20, m.size());
    EXPECT_EQ(c.hosts(), std::vector<int>{10});
    EXPECT_EQ(s.skipped_segments(), 0u);
    s.feed(key(), 1000 + static_cast<uint32_t>(m.size()), false, true, nullptr, 0, c.fn());
    EXPECT_EQ(s.tracked(), 0u);
}

TEST(TcpDnsStreams, SeveralMessagesInOneSegment) {
    TcpDnsStreams s;
    Collector c;
    Bytes both = framed_response(1);
    Bytes second = framed_response(2);
    Bytes third = framed_response(3);
    both.insert(both.end(), second.begin(), second.end());
    both.insert(both.end(), third.begin(), third.begin() + 5);  // and a piece of a third
    feed(s, c, 5000, both, 0, both.size(), true);
    EXPECT_EQ(c.hosts(), (std::vector<int>{1, 2}));
    uint32_t next = 5001 + static_cast<uint32_t>(both.size());
    feed(s, c, next, third, 5, third.size());
    EXPECT_EQ(c.hosts(), (std::vector<int>{1, 2, 3}));
}

TEST(TcpDnsStreams, HoleDiscardsBufferAndResyncs) {
    TcpDnsStreams s;
    Collector c;
    Bytes m = framed_response(7);
    feed(s, c, 0, m, 0, 0, true);
    feed(s, c, 1, m, 0, 10);
    // Bytes 10..20 are lost; the rest of the message is no use.
    feed(s, c, 21, m, 20, m.size());
    EXPECT_EQ(s.skipped_segments(), 1u);
    EXPECT_EQ(c.hosts(), std::vector<int>{});
    // The next message that starts a segment is delivered again.
    Bytes n = framed_response(8);
    feed(s, c, 1 + static_cast<uint32_t>(m.size()), n, 0, n.size());
    EXPECT_EQ(c.hosts(), std::vector<int>{8});
}

TEST(TcpDnsStreams, HoleInsideAMessageResumesAtTheNextOne) {
    TcpDnsStreams s;
    Collector c;
    Bytes two = framed_response(1);
    Bytes second = framed_response(2);
    two.insert(two.end(), second.begin(), second.end());
    feed(s, c, 0, two, 0, 0, true);
    feed(s, c, 1, two, 0, 10);
    // 10..20 lost; this segment ends the first message and holds all of the second.
    feed(s, c, 21, two, 20, two.size());
    EXPECT_EQ(s.skipped_segments(), 1u);
    EXPECT_EQ(c.hosts(), std::vector<int>{2});
}

TEST(TcpDnsStreams, LostWholeMessage) {
    TcpDnsStreams s;
    Collector c;
    Bytes a = framed_response(1);
    Bytes b = framed_response(2);
    feed(s, c, 0, a, 0, 0, true);
    // `a` never arrives; `b` follows it.
    feed(s, c, 1 + static_cast<uint32_t>(a.size()), b, 0, b.size());
    EXPECT_EQ(s.skipped_segments(), 1u);
    EXPECT_EQ(c.hosts(), std::vector<int>{2});
}

TEST(TcpDnsStreams, RetransmitsAndOverlapsUseOnlyNewBytes) {
    TcpDnsStreams s;
    Collector c;
    Bytes m = framed_response(4);
    feed(s, c, 100, m, 0, 0, true);
    feed(s, c, 101, m, 0, 15);
    feed(s, c, 101, m, 0, 15);  // plain retransmit
    feed(s, c, 106, m, 5, 25);  // overlaps 10 consumed bytes, brings 10 new ones
    feed(s, c, 101, m, 0, 25);  // retransmit of everything so far
    feed(s, c, 126, m, 25, m.size());
    EXPECT_EQ(c.hosts(), std::vector<int>{4});
    feed(s, c, 101, m, 0, m.size());  // the whole message again: ignored
    EXPECT_EQ(c.hosts(), std::vector<int>{4});
    EXPECT_EQ(s.skipped_segments(), 0u);
}

TEST(TcpDnsStreams, SequenceWraparound) {
    TcpDnsStreams s;
    Collector c;
    Bytes m = framed_response(9);
    uint32_t isn = 0xffffffff - 10;
    feed(s, c, isn, m, 0, 0, true);
    feed(s, c, isn + 1, m, 0, 8);
    feed(s, c, isn + 9, m, 8, 30);  // crosses 2^32
    feed(s, c, isn + 9, m, 8, 30);  // a retransmit across it
    feed(s, c, isn + 31, m, 30, m.size());
    EXPECT_EQ(c.hosts(), std::vector<int>{9});
    EXPECT_EQ(s.skipped_segments(), 0u);
}

TEST(TcpDnsStreams, JoinsMidConnectionOnFirstPayload) {
    TcpDnsStreams s;
    Collector c;
    Bytes m = framed_response(5);
    s.feed(key(), 123456, false, false, nullptr, 0, c.fn());  // bare ACK: not tracked
    EXPECT_EQ(s.tracked(), 0u);
    feed(s, c, 123456, m, 0, 12);
    feed(s, c, 123468, m, 12, m.size(), false, true);  // with FIN
    EXPECT_EQ(c.hosts(), std::vector<int>{5});
    EXPECT_EQ(s.tracked(), 0u);
}

TEST(TcpDnsStreams, DirectionsAndConnectionsAreSeparate) {
    TcpDnsStreams s;
    Collector c;
    Bytes a = framed_response(1);
    Bytes b = framed_response(2);
    feed(s, c, 10, a, 0, 0, true, false, 53);
    feed(s, c, 20, b, 0, 0, true, false, 5353);
    feed(s, c, 11, a, 0, 9, false, false, 53);
    feed(s, c, 21, b, 0, 9, false, false, 5353);
    feed(s, c, 20, a, 9, a.size(), false, false, 53);
    feed(s, c, 30, b, 9, b.size(), false, false, 5353);
    EXPECT_EQ(c.hosts(), (std::vector<int>{1, 2}));
    EXPECT_EQ(s.tracked(), 2u);
}

TEST(TcpDnsStreams, OldestStreamIsEvicted) {
    TcpDnsStreams s(2);
    Collector c;
    Bytes m = framed_response(6);
    feed(s, c, 0, m, 0, 5, false, false, 1);
    feed(s, c, 0, m, 0, 5, false, false, 2);
    feed(s, c, 5, m, 5, 6, false, false, 1);  // stream 1 is now the most recent
    feed(s, c, 0, m, 0, 5, false, false, 3);  // evicts stream 2
    EXPECT_EQ(s.tracked(), 2u);
    EXPECT_EQ(s.skipped_segments(), 1u);
    feed(s, c, 6, m, 6, m.size(), false, false, 1);
    EXPECT_EQ(c.hosts(), std::vector<int>{6});
    // Stream 2 starts over on its next segment, which is mid-message: garbage, not a crash.
    feed(s, c, 5, m, 5, m.size(), false, false, 2);
    EXPECT_EQ(s.tracked(), 2u);
    EXPECT_EQ(s.skipped_segments(), 2u);
}

TEST(TcpDnsStreams, LargestMessageAndRst) {
    TcpDnsStreams s;
    Collector c;
    Bytes big(2 + 65535, 0x42);
    big[0] = 0xff, big[1] = 0xff;
    feed(s, c, 0, big, 0, 0, true);
    for (size_t off = 0; off < big.size(); off += 1400) {
        feed(s, c, 1 + static_cast<uint32_t>(off), big, off, std::min(big.size(), off + 1400));
    }
    ASSERT_EQ(c.messages.size(), 1u);
    EXPECT_EQ(c.messages[0].size(), 65535u);
    Bytes m = framed_response(3);
    feed(s, c, 1 + static_cast<uint32_t>(big.size()), m, 0, 10, false, true);  // RST
    EXPECT_EQ(s.tracked(), 0u);
    EXPECT_EQ(c.messages.size(), 1u);
}

}  // namespace
}  // namespace em
