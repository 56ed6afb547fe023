#include "agent/pipeline.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>

#include "agent/dns_wire.h"
#include "agent/flow_tracker.h"
#include "core/answer_cache.h"
#include "flowname/first_packet.h"

namespace em {

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

using test::put16;
using test::put_name;
struct Rr {
    std::string name;
    uint16_t type;
    uint32_t ttl;
    std::string data;  // address text for A/AAAA, a name for CNAME
};
// A DNS message: one question, the given answers, no compression.
std::string message(const std::string& qname, uint16_t qtype, bool response, uint8_t rcode = 0,
                    const std::vector<Rr>& answers = {}) {
    std::string s;
    put16(s, 0x4242);
    put16(s, static_cast<uint16_t>((response ? 0x8180 : 0x0100) | rcode));
    put16(s, 1);
    put16(s, static_cast<uint16_t>(answers.size()));
    put16(s, 0);
    put16(s, 0);
    put_name(s, qname);
    put16(s, qtype);
    put16(s, 1);
    for (const auto& rr : answers) {
        put_name(s, rr.name);
        put16(s, rr.type);
        put16(s, 1);
        put16(s, static_cast<uint16_t>(rr.ttl >> 16));
        put16(s, static_cast<uint16_t>(rr.ttl));
        std::string rdata;
        if (rr.type == 5) {
            put_name(rdata, rr.data);
        } else {
            IpAddress a = ip(rr.data.c_str());
            rdata.assign(reinterpret_cast<const char*>(a.bytes()), a.is_v4() ? 4 : 16);
        }
        put16(s, static_cast<uint16_t>(rdata.size()));
        s += rdata;
    }
    return s;
}

PacketMeta meta(const char* src, uint16_t sport, const char* dst, uint16_t dport, int64_t ms,
                uint8_t proto = kProtoUdp) {
    PacketMeta m;
    m.time_ms = ms;
    m.proto = proto;
    m.src = ip(src);
    m.dst = ip(dst);
    m.sport = sport;
    m.dport = dport;
    return m;
}

struct Fixture {
    std::vector<std::string> events;
    Pipeline p{PipelineConfig{}, nullptr,
               [this](int64_t, const std::string& line) { events.push_back(line); }};

    void udp(const PacketMeta& m, const std::string& wire) {
        PacketInfo pk;
        pk.proto = kProtoUdp;
        pk.src = m.src;
        pk.dst = m.dst;
        pk.sport = m.sport;
        pk.dport = m.dport;
        pk.payload = reinterpret_cast<const uint8_t*>(wire.data());
        pk.payload_len = pk.payload_wire_len = wire.size();
        p.on_dns_packet(m, pk);
    }
    void first(const PacketMeta& m, const std::string& payload) {
        PacketInfo pk;
        pk.proto = m.proto;
        pk.src = m.src;
        pk.dst = m.dst;
        pk.sport = m.sport;
        pk.dport = m.dport;
        pk.payload = reinterpret_cast<const uint8_t*>(payload.data());
        pk.payload_len = pk.payload_wire_len = payload.size();
        p.on_first_payload(m, pk);
    }
    uint64_t counter(const char* name) {
        auto it = p.batch().counters().find(name);
        return it == p.batch().counters().end() ? 0 : it->second;
    }
};

}  // namespace

TEST(Pipeline, LocalResolverForwardIsNotASecondClientQuery) {
    Fixture f;
    const int64_t t = 1'800'000'000'000;
    // app → 127.0.0.1, then the resolver → upstream, answer back both ways.
    f.udp(meta("127.0.0.1", 40000, "127.0.0.1", 53, t), message("WWW.Example.Test.", 1, false));
    f.udp(meta("198.51.100.2", 50000, "198.51.100.1", 53, t + 1),
          message("www.example.test", 1, false));
    std::vector<Rr> ans{{"www.example.test", 5, 30, "edge.example.test"},
                        {"edge.example.test", 1, 20, "203.0.113.5"},
                        {"edge.example.test", 1, 300, "203.0.113.6"}};
    f.udp(meta("198.51.100.1", 53, "198.51.100.2", 50000, t + 2),
          message("www.example.test", 1, true, 0, ans));
    f.udp(meta("127.0.0.1", 53, "127.0.0.1", 40000, t + 3),
          message("www.example.test", 1, true, 0, ans));
    // A query straight to a public resolver is a client query; so is one after the window.
    f.udp(meta("198.51.100.2", 50001, "198.51.100.1", 53, t + 20'000),
          message("www.example.test", 1, false));

    const DomainDelta* d = f.p.batch().domains().find("www.example.test");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->queries, 2u);
    ASSERT_EQ(d->answers.size(), 2u);
    EXPECT_EQ(f.counter("dns.forwarded_queries"), 1u);
    EXPECT_EQ(f.counter("dns.queries"), 2u);
    EXPECT_EQ(f.counter("dns.responses"), 2u);
    EXPECT_EQ(f.events.size(), 5u);

    // Flows: labelled with the queried name (kept across the CNAME chain), TTLs clamped to
    // the 60 s minimum, direct when nothing explains the address.
    f.p.on_flow(meta("198.51.100.2", 41000, "203.0.113.5", 443, t + 50'000, kProtoTcp));
    f.p.on_flow(meta("198.51.100.2", 41001, "203.0.113.9", 443, t + 50'000, kProtoTcp));
    f.p.on_flow(meta("198.51.100.2", 41002, "203.0.113.5", 443, t + 70'000, kProtoTcp));
    f.p.on_flow(meta("198.51.100.2", 41003, "127.0.0.1", 80, t, kProtoTcp));
    ASSERT_EQ(f.events.size(), 8u);
    EXPECT_NE(f.events[5].find(R"("names":["www.example.test"],"direct":false)"), std::string::npos)
        << f.events[5];
    EXPECT_NE(f.events[6].find(R"("names":[],"direct":true)"), std::string::npos) << f.events[6];
    EXPECT_NE(f.events[7].find(R"("direct":true)"), std::string::npos) << "expired after 60 s";
    EXPECT_EQ(f.counter("flows"), 3u);
    EXPECT_EQ(f.counter("flows.direct"), 2u);
    EXPECT_EQ(f.counter("flows.loopback"), 1u);
    Batch b = f.p.take_batch();
    EXPECT_EQ(b.ips().size(), 2u);
    const auto& ports = b.flow_ports();
    auto port = ports.find(FlowPortKey{ip("203.0.113.5"), kProtoTcp, 443});
    ASSERT_NE(port, ports.end());
    EXPECT_EQ(port->second.flows, 2u);
    EXPECT_EQ(port->second.direct, 1u);  // the second one, after the answer expired
    EXPECT_TRUE(f.p.batch().empty());
}

TEST(Pipeline, NxdomainCountsTheQueryWithoutAddresses) {
    Fixture f;
    f.udp(meta("198.51.100.2", 1, "198.51.100.1", 53, 1000), message("nope.nx.test", 1, false));
    f.udp(meta("198.51.100.1", 53, "198.51.100.2", 1, 1001), message("nope.nx.test", 1, true, 3));
    const DomainDelta* d = f.p.batch().domains().find("nope.nx.test");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->queries, 1u);
    EXPECT_TRUE(d->answers.empty());
    EXPECT_NE(f.events[1].find(R"("rcode":"NXDOMAIN")"), std::string::npos) << f.events[1];
}

TEST(Pipeline, DnsOverTcpSplitAcrossSegments) {
    Fixture f;
    std::string wire = message("tcp.example.test", 28, false);
    std::string framed;
    put16(framed, static_cast<uint16_t>(wire.size()));
    framed += wire;
    PacketMeta m = meta("198.51.100.2", 45000, "198.51.100.1", 53, 5000, kProtoTcp);
    auto seg = [&](uint32_t seq, uint8_t flags, size_t off, size_t len) {
        PacketInfo pk;
        pk.proto = kProtoTcp;
        pk.src = m.src;
        pk.dst = m.dst;
        pk.sport = m.sport;
        pk.dport = m.dport;
        pk.tcp_seq = seq;
        pk.tcp_flags = flags;
        pk.payload = reinterpret_cast<const uint8_t*>(framed.data()) + off;
        pk.payload_len = pk.payload_wire_len = len;
        f.p.on_dns_packet(m, pk);
    };
    seg(1000, tcp_flag::kSyn, 0, 0);
    seg(1001, tcp_flag::kAck, 0, 1);  // just one byte of the length prefix
    seg(1002, tcp_flag::kAck, 1, 10);
    seg(1002, tcp_flag::kAck, 1, 10);  // retransmitted
    seg(1012, tcp_flag::kAck, 11, framed.size() - 11);
    const DomainDelta* d = f.p.batch().domains().find("tcp.example.test");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->queries, 1u);
}

std::string flowname_data(const char* name) {
    std::ifstream in(std::string(EM_TEST_DATA) + "/flowname/" + name, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A ClientHello (openssl s_client -servername) and an HTTP request (curl) to addresses no
// DNS answer explains: each names its destination in the batch and in a flow_name event.
TEST(Pipeline, FirstPayloadsNameTheirDestination) {
    Fixture f;
    const std::string hello = flowname_data("openssl_client_hello.bin");
    const std::string request = flowname_data("curl_http_request.bin");
    ASSERT_FALSE(hello.empty());
    ASSERT_FALSE(request.empty());
    f.first(meta("198.51.100.2", 40000, "192.0.2.10", 443, 5000, kProtoTcp), hello);
    f.first(meta("198.51.100.2", 40001, "192.0.2.20", 80, 6000, kProtoTcp), request);
    f.first(meta("198.51.100.2", 40002, "192.0.2.20", 80, 7000, kProtoTcp), request);

    EXPECT_EQ(f.counter("first_packets.named"), 3u);
    const FlowNameMap& names = f.p.batch().flow_names();
    ASSERT_EQ(names.size(), 2u);
    for (const auto& [k, d] : names) {
        if (k.ip == ip("192.0.2.10")) {
            EXPECT_EQ(k.protocol, static_cast<uint8_t>(FirstPacketProtocol::tls));
            EXPECT_EQ(d.count, 1u);
            EXPECT_EQ(d.first_seen, 5);
        } else {
            EXPECT_EQ(k.ip, ip("192.0.2.20"));
            EXPECT_EQ(k.protocol, static_cast<uint8_t>(FirstPacketProtocol::http));
            EXPECT_EQ(d.count, 2u);
            EXPECT_EQ(d.first_seen, 6);
            EXPECT_EQ(d.last_seen, 7);
        }
    }
    ASSERT_EQ(f.events.size(), 3u);
    EXPECT_NE(f.events[0].find(R"("type":"flow_name")"), std::string::npos) << f.events[0];
    EXPECT_NE(f.events[0].find(R"("protocol":"tls","sni":")"), std::string::npos) << f.events[0];
    EXPECT_NE(f.events[0].find(R"("ech":false,"names":[],"direct":true)"), std::string::npos)
        << f.events[0];
    EXPECT_NE(f.events[1].find(R"("protocol":"http","host":")"), std::string::npos) << f.events[1];
    EXPECT_EQ(f.events[1].find("alpn"), std::string::npos) << f.events[1];
}

// What is not a named first packet is counted and leaves nothing in the batch; loopback is
// not egress.
TEST(Pipeline, FirstPayloadsWithoutANameAreOnlyCounted) {
    Fixture f;
    f.first(meta("198.51.100.2", 40000, "192.0.2.10", 22, 1000, kProtoTcp), "SSH-2.0-OpenSSH\r\n");
    // A TLS record header announcing a ClientHello whose lengths run past the record.
    f.first(meta("198.51.100.2", 40001, "192.0.2.10", 443, 1000, kProtoTcp),
            std::string("\x16\x03\x01\x00\x06\x01\xff\xff\xff\x03\x03", 11));
    f.first(meta("198.51.100.2", 40002, "127.0.0.1", 80, 1000, kProtoTcp),
            "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n");
    f.first(meta("198.51.100.2", 40003, "192.0.2.10", 443, 1000, kProtoUdp), "not quic");
    EXPECT_EQ(f.counter("first_packets.other"), 2u);
    EXPECT_EQ(f.counter("first_packets.named"), 0u);
    EXPECT_EQ(f.counter("first_packets.malformed") + f.counter("first_packets.incomplete"), 1u);
    EXPECT_TRUE(f.p.batch().flow_names().empty());
    EXPECT_TRUE(f.events.empty());
}

TEST(Pipeline, MalformedDnsIsCountedNotFatal) {
    Fixture f;
    f.udp(meta("198.51.100.2", 1, "198.51.100.1", 53, 1), std::string("\x01\x02\x03", 3));
    EXPECT_EQ(f.counter("dns.malformed"), 1u);
    EXPECT_TRUE(f.p.batch().domains().empty());
}

// Flows from processes to destinations in runs and alternations, across a batch boundary:
// the per-flow shortcut (the last flow's counters) counts exactly what a lookup would.
TEST(Pipeline, ProcessUsesOfRepeatedAndAlternatingFlows) {
    Fixture f;
    ProcessInfo a, b, c;
    a.comm = "curl", a.exe = "/usr/bin/curl", a.user = "www-data";
    b = a, b.container_id = "3f2a";     // the same program in a container
    c.comm = "short", c.user = "root";  // no executable known: "[short]"
    const PacketMeta to1 = meta("198.51.100.2", 0, "192.0.2.1", 443, 6);
    const PacketMeta to2 = meta("198.51.100.2", 0, "192.0.2.2", 443, 6);
    for (int i = 0; i < 3; ++i) f.p.on_flow(to1, &a);
    f.p.on_flow(to1, &b);
    f.p.on_flow(to1, &a);
    f.p.on_flow(to2, &a);
    f.p.on_flow(to2, &c);
    f.p.on_flow(to2, &c);
    ProcessInfo c2 = c;
    c2.comm = "shorter";  // "[shorter]", the length differs
    f.p.on_flow(to2, &c2);
    f.p.on_flow(to1, nullptr);  // unattributed: an address count, no process use
    EXPECT_EQ(f.counter("flows"), 10u);
    EXPECT_EQ(f.counter("flows.direct"), 10u);
    auto uses = [](const Batch& batch) {
        std::map<std::string, uint64_t> out;
        for (const auto& [k, d] : batch.process_uses())
            out[k.dest + " " + k.exe + " " + k.user + " " + k.container] += d.count;
        return out;
    };
    const std::map<std::string, uint64_t> want{{"192.0.2.1 /usr/bin/curl www-data ", 4},
                                               {"192.0.2.1 /usr/bin/curl www-data 3f2a", 1},
                                               {"192.0.2.2 /usr/bin/curl www-data ", 1},
                                               {"192.0.2.2 [short] root ", 2},
                                               {"192.0.2.2 [shorter] root ", 1}};
    EXPECT_EQ(uses(f.p.batch()), want);
    Batch first = f.p.take_batch();
    EXPECT_EQ(uses(first), want);
    f.p.on_flow(to2, &c);  // the same as the last flow, but in a new batch
    f.p.on_flow(to2, &c);
    EXPECT_EQ(f.counter("flows"), 2u);
    EXPECT_EQ(uses(f.p.batch()), (std::map<std::string, uint64_t>{{"192.0.2.2 [short] root ", 2}}));
    EXPECT_EQ(uses(first), want) << "the batch taken is not counted into";
    EXPECT_EQ(first.counters().at("flows"), 10u);
    // A batch without a direct flow has no "flows.direct" counter, not a zero one.
    (void)f.p.take_batch();
    f.p.cache().insert(ip("192.0.2.1"), "a.example", 300, 6);
    f.p.on_flow(to1, &a);
    EXPECT_EQ(f.counter("flows"), 1u);
    EXPECT_EQ(f.p.batch().counters().count("flows.direct"), 0u);
}

TEST(AnswerCache, BoundedWithMostRecentNamesFirst) {
    AnswerCache c(3, 0, 100);
    std::vector<std::string> names;
    c.insert(ip("192.0.2.1"), "a.test", 10, 0);
    c.insert(ip("192.0.2.1"), "b.test", 50, 0);
    c.lookup(ip("192.0.2.1"), 1000, names);
    EXPECT_EQ(names, (std::vector<std::string>{"b.test", "a.test"}));
    c.lookup(ip("192.0.2.1"), 20'000, names);  // a.test expired
    EXPECT_EQ(names, (std::vector<std::string>{"b.test"}));
    c.insert(ip("192.0.2.2"), "c.test", 10, 0);
    c.insert(ip("192.0.2.3"), "d.test", 10, 0);
    c.insert(ip("192.0.2.4"), "e.test", 10, 0);  // evicts the least recently answered
    EXPECT_LE(c.entries(), 3u);
    EXPECT_GE(c.evicted(), 1u);
    c.lookup(ip("192.0.2.1"), 1000, names);
    EXPECT_TRUE(names.empty());
    EXPECT_FALSE(c.insert(ip("127.0.0.1"), "localhost", 10, 0));
    EXPECT_FALSE(c.insert(ip("::"), "zero.test", 10, 0));
}

TEST(FlowTracker, SynAndNewUdpTuplesOnly) {
    FlowTracker t(2, 1000);
    PacketInfo syn;
    syn.proto = kProtoTcp;
    syn.src = ip("198.51.100.2");
    syn.dst = ip("192.0.2.1");
    syn.sport = 40000;
    syn.dport = 443;
    syn.tcp_flags = tcp_flag::kSyn;
    EXPECT_TRUE(t.is_new_flow(syn, 0));
    EXPECT_FALSE(t.is_new_flow(syn, 500));  // retransmitted SYN
    PacketInfo synack = syn;
    synack.tcp_flags = tcp_flag::kSyn | tcp_flag::kAck;
    EXPECT_FALSE(t.is_new_flow(synack, 600));
    PacketInfo q;
    q.proto = kProtoUdp;
    q.src = ip("198.51.100.2");
    q.dst = ip("198.51.100.1");
    q.sport = 5000;
    q.dport = 53;
    EXPECT_TRUE(t.is_new_flow(q, 0));
    PacketInfo reply = q;
    std::swap(reply.src, reply.dst);
    std::swap(reply.sport, reply.dport);
    EXPECT_FALSE(t.is_new_flow(reply, 10));
    EXPECT_FALSE(t.is_new_flow(q, 20));
    EXPECT_TRUE(t.is_new_flow(q, 5000));  // after the timeout: a new flow
    EXPECT_LE(t.tracked(), 2u);
    // Bounded: a third tuple makes it forget the least recently seen one (the SYN's).
    PacketInfo other = q;
    other.sport = 5001;
    EXPECT_TRUE(t.is_new_flow(other, 5001));
    EXPECT_EQ(t.tracked(), 2u);
    EXPECT_EQ(t.forgotten(), 1u);
    EXPECT_TRUE(t.is_new_flow(syn, 5002));  // forgotten: its retransmission counts again
}

}  // namespace em
