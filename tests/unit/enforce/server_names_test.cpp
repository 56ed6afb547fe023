// allowByServerName: the engine's decisions on real first packets (tests/data/flowname: an
// OpenSSL ClientHello and a curl request for www.example.test; tests/data/quic: RFC 9001's
// client Initial for example.com).
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "enforce/enforce_config.h"
#include "enforce/engine.h"

namespace em {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes file(const std::string& name) {
    std::ifstream in(std::string(EM_TEST_DATA) + "/" + name, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Bytes rfc_quic_initial() {
    std::ifstream in(std::string(EM_TEST_DATA) + "/quic/rfc9001_a2_client_initial.hex");
    std::string hex((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Bytes out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        if (std::isxdigit(static_cast<unsigned char>(hex[i])))
            out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

EnforceConfig config(const std::string& hosts, bool by_name = true) {
    const std::string text = R"(
inboundDNSQueue = { ipv4 = 1 }
[[filters]]
name = "web"
dnsQueue = { ipv4 = 10 }
trafficQueue = { ipv4 = 11 }
allowAnswersFor = "10s"
allowedHostnames = [)" + hosts +
                             "]\n" + (by_name ? "allowByServerName = true\n" : "");
    auto c = parse_enforce_config(text, "t.toml");
    EXPECT_TRUE(c.ok()) << c.error().message;
    return c.ok() ? *c : EnforceConfig{};
}

// A packet from 192.0.2.1:40000 to 192.0.2.80:443 (or `dport`).
PacketInfo packet(uint8_t proto, uint8_t flags, const Bytes* payload = nullptr,
                  uint16_t dport = 443, uint16_t sport = 40000) {
    PacketInfo p;
    p.src = *IpAddress::parse("192.0.2.1");
    p.dst = *IpAddress::parse("192.0.2.80");
    p.proto = proto;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    if (payload) {
        p.payload = payload->data();
        p.payload_len = p.payload_wire_len = payload->size();
    }
    return p;
}

constexpr uint8_t kSyn = tcp_flag::kSyn, kAck = tcp_flag::kAck, kPsh = 0x08;

struct Conn {
    Engine& e;
    int64_t now = 1000;
    ServerNameVerdict send(uint8_t proto, uint8_t flags, const Bytes* data = nullptr,
                           uint16_t dport = 443) {
        return e.server_name(0, packet(proto, flags, data, dport), now);
    }
};

TEST(ServerNames, AllowedTlsServerNameAllowsTheConnection) {
    const Bytes hello = file("flowname/openssl_client_hello.bin");
    ASSERT_GT(hello.size(), 100u);
    Engine e(config("\"example.test\""));  // www.example.test lies under it
    Conn c{e};
    auto syn = c.send(kProtoTcp, kSyn);
    EXPECT_TRUE(syn.accept);
    EXPECT_TRUE(syn.held);
    auto ack = c.send(kProtoTcp, kAck);
    EXPECT_TRUE(ack.accept);
    EXPECT_TRUE(ack.held);
    auto data = c.send(kProtoTcp, kAck | kPsh, &hello);
    EXPECT_TRUE(data.accept) << data.reason;
    EXPECT_FALSE(data.held);
    EXPECT_EQ(e.server_names(0).name(), "www.example.test");
    auto later = c.send(kProtoTcp, kAck | kPsh, &hello);  // a retransmission: still allowed
    EXPECT_TRUE(later.accept);
    const auto& n = e.server_names(0).counters();
    EXPECT_EQ(n.held, 1u);
    EXPECT_EQ(n.allowed, 1u);
    EXPECT_EQ(n.later, 1u);
}

TEST(ServerNames, DisallowedNameDropsTheSegmentAndTheRest) {
    const Bytes hello = file("flowname/openssl_client_hello.bin");
    Engine e(config("\"other.test\""));
    Conn c{e};
    EXPECT_TRUE(c.send(kProtoTcp, kSyn).accept);
    auto data = c.send(kProtoTcp, kAck | kPsh, &hello);
    EXPECT_FALSE(data.accept);
    EXPECT_STREQ(data.reason, "server name not allowed");
    EXPECT_EQ(e.server_names(0).name(), "www.example.test");
    EXPECT_FALSE(c.send(kProtoTcp, kAck).accept);  // a bare ACK of the denied connection
    EXPECT_EQ(e.server_names(0).counters().denied, 1u);
}

TEST(ServerNames, SuffixMatchIsByLabel) {
    const Bytes hello = file("flowname/openssl_client_hello.bin");
    Engine e(config("\"ample.test\""));  // not a label boundary of www.example.test
    Conn c{e};
    c.send(kProtoTcp, kSyn);
    EXPECT_FALSE(c.send(kProtoTcp, kAck | kPsh, &hello).accept);
    Engine exact(config("\"www.example.test\""));
    Conn d{exact};
    d.send(kProtoTcp, kSyn);
    EXPECT_TRUE(d.send(kProtoTcp, kAck | kPsh, &hello).accept);
}

TEST(ServerNames, HttpHostIsJudgedWithoutItsPort) {
    const Bytes req = file("flowname/curl_http_request.bin");
    Engine e(config("\"www.example.test\""));
    Conn c{e};
    c.send(kProtoTcp, kSyn, nullptr, 48080);
    auto v = c.send(kProtoTcp, kAck | kPsh, &req, 48080);
    EXPECT_TRUE(v.accept) << v.reason;
    EXPECT_EQ(e.server_names(0).name(), "www.example.test");
}

TEST(ServerNames, NoNameMalformedAndCutShortAreDropped) {
    Engine e(config("\"example.test\""));
    const Bytes ssh = {'S', 'S', 'H', '-', '2', '.', '0', '-', 'x', '\r', '\n'};
    Conn c{e};
    c.send(kProtoTcp, kSyn);
    auto v = c.send(kProtoTcp, kAck | kPsh, &ssh);
    EXPECT_FALSE(v.accept);
    EXPECT_STREQ(v.reason, "first data is neither TLS nor HTTP");
    EXPECT_EQ(e.server_names(0).counters().no_name, 1u);

    // A TLS record header announcing a ClientHello, then garbage.
    const Bytes bad = {0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    PacketInfo syn = packet(kProtoTcp, kSyn, nullptr, 443, 40001);
    EXPECT_TRUE(e.server_name(0, syn, 1000).accept);
    PacketInfo p = packet(kProtoTcp, kAck, &bad, 443, 40001);
    auto m = e.server_name(0, p, 1000);
    EXPECT_FALSE(m.accept);
    const auto& n = e.server_names(0).counters();
    EXPECT_EQ(n.malformed + n.incomplete, 1u) << m.reason;

    // The whole ClientHello announced, but the queue copied less of it.
    const Bytes hello = file("flowname/openssl_client_hello.bin");
    EXPECT_TRUE(e.server_name(0, packet(kProtoTcp, kSyn, nullptr, 443, 40002), 1000).accept);
    PacketInfo cut = packet(kProtoTcp, kAck, &hello, 443, 40002);
    cut.payload_len = 60;
    auto s = e.server_name(0, cut, 1000);
    EXPECT_FALSE(s.accept);
    EXPECT_STREQ(s.reason, "first data cut short");
}

TEST(ServerNames, ClientHelloBeyondTheFirstSegmentIsDropped) {
    const Bytes hello = file("flowname/openssl_client_hello.bin");
    const Bytes first(hello.begin(), hello.begin() + 40);  // record header and a bit
    Engine e(config("\"example.test\""));
    Conn c{e};
    c.send(kProtoTcp, kSyn);
    auto v = c.send(kProtoTcp, kAck | kPsh, &first);
    EXPECT_FALSE(v.accept);
    EXPECT_EQ(e.server_names(0).counters().incomplete, 1u) << v.reason;
}

TEST(ServerNames, NotASynOfNoHeldConnectionIsDropped) {
    Engine e(config("\"example.test\""));
    Conn c{e};
    auto v = c.send(kProtoTcp, kAck);
    EXPECT_FALSE(v.accept);
    EXPECT_EQ(e.server_names(0).counters().unknown, 1u);
    EXPECT_FALSE(c.send(kProtoTcp, kSyn | kAck).accept);  // a SYN-ACK is no client's SYN
}

TEST(ServerNames, NoDataInTimeDeniesTheConnection) {
    const Bytes hello = file("flowname/openssl_client_hello.bin");
    Engine e(config("\"example.test\""));
    Conn c{e};
    c.send(kProtoTcp, kSyn);
    c.now += ServerNameFlows::kHeldTimeoutMs;
    auto v = c.send(kProtoTcp, kAck | kPsh, &hello);
    EXPECT_FALSE(v.accept);
    EXPECT_STREQ(v.reason, "held connection sent no data in time");
    EXPECT_EQ(e.server_names(0).counters().timeout, 1u);
    // Expiry forgets held entries and counts them.
    c.now = 1000;
    PacketInfo syn = packet(kProtoTcp, kSyn, nullptr, 443, 40009);
    e.server_name(0, syn, 1000);
    EXPECT_EQ(e.server_names(0).size(), 2u);
    e.expire(1000 + ServerNameFlows::kHeldTimeoutMs + ServerNameFlows::kDeniedKeepMs);
    EXPECT_EQ(e.server_names(0).size(), 0u);
    EXPECT_EQ(e.server_names(0).counters().timeout, 2u);
}

TEST(ServerNames, TableIsBounded) {
    Engine e(config("\"example.test\""));
    for (size_t i = 0; i < ServerNameFlows::kMaxFlows; ++i) {
        PacketInfo p = packet(kProtoTcp, kSyn, nullptr, 443, static_cast<uint16_t>(i % 60000));
        p.src = IpAddress::v4(0xc0000200u + static_cast<uint32_t>(i / 60000));
        ASSERT_TRUE(e.server_name(0, p, 1000).accept);
    }
    PacketInfo more = packet(kProtoTcp, kSyn, nullptr, 443, 60001);
    more.src = IpAddress::v4(0xc0000263u);
    auto v = e.server_name(0, more, 2000);
    EXPECT_FALSE(v.accept);
    EXPECT_EQ(e.server_names(0).counters().table_full, 1u);
    EXPECT_EQ(e.server_names(0).size(), ServerNameFlows::kMaxFlows);
    // Once the held entries time out there is room again.
    EXPECT_TRUE(e.server_name(0, more, 1000 + ServerNameFlows::kHeldTimeoutMs).accept);
}

TEST(ServerNames, QuicInitialIsJudgedByItsServerName) {
    const Bytes initial = rfc_quic_initial();
    ASSERT_GT(initial.size(), 1000u);
    Engine e(config("\"example.com\""));
    Conn c{e};
    auto v = c.send(kProtoUdp, 0, &initial);
    EXPECT_TRUE(v.accept) << v.reason;
    EXPECT_FALSE(v.held);
    const Bytes short_header = {0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    EXPECT_TRUE(c.send(kProtoUdp, 0, &short_header).accept);  // the allowed 5-tuple

    Engine no(config("\"example.test\""));
    Conn d{no};
    auto w = d.send(kProtoUdp, 0, &initial);
    EXPECT_FALSE(w.accept);
    EXPECT_STREQ(w.reason, "server name not allowed");
    EXPECT_FALSE(d.send(kProtoUdp, 0, &short_header).accept);
    // UDP to another port is not judged by name.
    EXPECT_FALSE(d.send(kProtoUdp, 0, &initial, 8443).accept);
}

TEST(ServerNames, ConfigKeyIsOffByDefaultAndNotWithAllowAll) {
    EXPECT_FALSE(config("\"example.test\"", false).filters[0].allow_by_server_name);
    EXPECT_TRUE(config("\"example.test\"").filters[0].allow_by_server_name);
    auto bad = parse_enforce_config(R"(
inboundDNSQueue = { ipv4 = 1 }
[[filters]]
name = "all"
dnsQueue = { ipv4 = 10 }
allowAllHostnames = true
allowByServerName = true
)",
                                    "t.toml");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message,
              "t.toml:7: filter \"all\": \"allowByServerName\" must not be true when "
              "\"allowAllHostnames\" is true");
    auto notbool = parse_enforce_config(R"(
inboundDNSQueue = { ipv4 = 1 }
[[filters]]
name = "web"
dnsQueue = { ipv4 = 10 }
trafficQueue = { ipv4 = 11 }
allowAnswersFor = "10s"
allowedHostnames = ["a.test"]
allowByServerName = "yes"
)",
                                        "t.toml");
    ASSERT_FALSE(notbool.ok());
    EXPECT_NE(notbool.error().message.find("allowByServerName must be true or false"),
              std::string::npos)
        << notbool.error().message;
}

}  // namespace
}  // namespace em
