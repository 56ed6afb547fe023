#include "agent/first_payload_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "agent/flow_tracker.h"

namespace em {
namespace {

const uint8_t kHello[] = {0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5};

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

PacketInfo tcp(const char* src, uint16_t sport, uint8_t flags, size_t payload = 0) {
    PacketInfo p;
    p.proto = kProtoTcp;
    p.src = ip(src);
    p.dst = ip("192.0.2.1");
    p.sport = sport;
    p.dport = 443;
    p.tcp_flags = flags;
    if (payload > 0) {
        p.payload = kHello;
        p.payload_len = std::min(payload, sizeof kHello);
        p.payload_wire_len = payload;
    }
    return p;
}

constexpr uint8_t kSyn = tcp_flag::kSyn, kAck = tcp_flag::kAck;

TEST(FirstPayloadTracker, FirstDataSegmentAfterSynOnce) {
    FirstPayloadTracker t;
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 40000, kSyn), true, 0));
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 40000, kSyn), false, 100));  // again
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 40000, kAck), false, 110));  // no data
    EXPECT_TRUE(t.is_first_payload(tcp("198.51.100.2", 40000, kAck, 10), false, 120));
    // Its retransmission, and the segments after it, are not a second look.
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 40000, kAck, 10), false, 300));
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 40000, kAck, 500), false, 310));
}

TEST(FirstPayloadTracker, DataWithoutItsSynIsNotLookedAt) {
    FirstPayloadTracker t;
    // A capture that starts mid-connection; the server's data (the reverse 5-tuple) neither.
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 40001, kAck, 10), false, 0));
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 40002, kSyn), true, 0));
    PacketInfo reply = tcp("198.51.100.2", 40002, kAck, 10);
    std::swap(reply.src, reply.dst);
    std::swap(reply.sport, reply.dport);
    EXPECT_FALSE(t.is_first_payload(reply, false, 10));
    // A reset with data is no request.
    EXPECT_FALSE(
        t.is_first_payload(tcp("198.51.100.2", 40002, kAck | tcp_flag::kRst, 10), false, 20));
    EXPECT_TRUE(t.is_first_payload(tcp("198.51.100.2", 40002, kAck, 10), false, 30));
}

TEST(FirstPayloadTracker, SnapCutPayloadStillCountsAsTheLook) {
    FirstPayloadTracker t;
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 40003, kSyn), true, 0));
    PacketInfo cut = tcp("198.51.100.2", 40003, kAck, 10);
    cut.payload_len = 0;  // the capture kept only the headers
    EXPECT_TRUE(t.is_first_payload(cut, false, 10));
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 40003, kAck, 10), false, 20));
}

TEST(FirstPayloadTracker, UdpTo443WhenItOpensTheFlow) {
    FirstPayloadTracker t;
    FlowTracker flows;
    PacketInfo quic;
    quic.proto = kProtoUdp;
    quic.src = ip("198.51.100.2");
    quic.dst = ip("192.0.2.1");
    quic.sport = 50000;
    quic.dport = 443;
    quic.payload = kHello;
    quic.payload_len = quic.payload_wire_len = sizeof kHello;
    bool opens = flows.is_new_flow(quic, 0);
    EXPECT_TRUE(opens);
    EXPECT_TRUE(t.is_first_payload(quic, opens, 0));
    opens = flows.is_new_flow(quic, 10);  // the client's next datagram
    EXPECT_FALSE(opens);
    EXPECT_FALSE(t.is_first_payload(quic, opens, 10));
    PacketInfo other = quic;
    other.dport = 4433;
    EXPECT_FALSE(t.is_first_payload(other, flows.is_new_flow(other, 20), 20));
    PacketInfo empty = quic;
    empty.sport = 50001;
    empty.payload_len = empty.payload_wire_len = 0;
    EXPECT_FALSE(t.is_first_payload(empty, flows.is_new_flow(empty, 30), 30));
    EXPECT_EQ(t.tracked(), 0u);  // UDP needs no state of its own
}

TEST(FirstPayloadTracker, BoundedLeastRecentForgottenFirst) {
    FirstPayloadTracker t(2, 60000);
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 1, kSyn), true, 0));
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 2, kSyn), true, 1));
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 3, kSyn), true, 2));  // forgets port 1
    EXPECT_EQ(t.tracked(), 2u);
    EXPECT_EQ(t.forgotten(), 1u);
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 1, kAck, 10), false, 3));
    EXPECT_TRUE(t.is_first_payload(tcp("198.51.100.2", 2, kAck, 10), false, 4));
    EXPECT_TRUE(t.is_first_payload(tcp("198.51.100.2", 3, kAck, 10), false, 5));
}

TEST(FirstPayloadTracker, WaitingExpires) {
    FirstPayloadTracker t(16, 1000);
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 4, kSyn), true, 0));
    EXPECT_FALSE(t.is_first_payload(tcp("198.51.100.2", 4, kAck, 10), false, 5000));
}

TEST(FirstPayloadTracker, FirstLookOncePerTuple) {
    FirstPayloadTracker t(16, 1000);
    PacketInfo p = tcp("198.51.100.2", 5, kAck, 10);
    EXPECT_TRUE(t.first_look(p, 0));
    EXPECT_FALSE(t.first_look(p, 10));  // logged twice: one look
    PacketInfo q = tcp("2001:db8::2", 5, kAck, 10);
    EXPECT_TRUE(t.first_look(q, 20));
    EXPECT_TRUE(t.first_look(p, 5000));  // after the timeout: a new connection on the tuple
}

}  // namespace
}  // namespace em
