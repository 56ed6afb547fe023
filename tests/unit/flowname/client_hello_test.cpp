#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "flowname/first_packet.h"

namespace em {
namespace {

using Bytes = std::vector<uint8_t>;
using Status = FirstPacketDecode::Status;

Bytes read_data(const char* name) {
    std::ifstream in(std::string(EM_TEST_DATA) + "/flowname/" + name, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Built in std::string: GCC 12 warns falsely (stringop-overflow) on small vector appends.
using Text = std::string;
void put16(Text& b, size_t v) {
    b += static_cast<char>(v >> 8);
    b += static_cast<char>(v);
}
Bytes bytes(const Text& t) { return Bytes(t.begin(), t.end()); }
Text text(const Bytes& b) { return Text(b.begin(), b.end()); }

Bytes extension(uint16_t type, const Bytes& body) {
    Text e;
    put16(e, type);
    put16(e, body.size());
    return bytes(e + text(body));
}
Bytes server_name(const std::string& name) {
    Text b;
    put16(b, name.size() + 3);
    b += '\0';  // host_name
    put16(b, name.size());
    return extension(0, bytes(b + name));
}
Bytes alpn(std::initializer_list<std::string> protocols) {
    Text list;
    for (const auto& p : protocols) list += static_cast<char>(p.size()) + p;
    Text b;
    put16(b, list.size());
    return extension(16, bytes(b + list));
}

// A ClientHello handshake message (no record layer) with these extensions.
Bytes client_hello(std::initializer_list<Bytes> extensions) {
    Text body = "\x03\x03" + Text(32, '\xab');        // version, random
    body += Text("\x00\x00\x02\x13\x01\x01\x00", 7);  // no session id, one suite, null
    Text ext;
    for (const auto& e : extensions) ext += text(e);
    put16(body, ext.size());
    body += ext;
    Text m = "\x01";
    m += static_cast<char>(body.size() >> 16);
    put16(m, body.size());
    return bytes(m + body);
}
Bytes record(const Bytes& handshake) {
    Text r = "\x16\x03\x01";
    put16(r, handshake.size());
    return bytes(r + text(handshake));
}
FirstPacketDecode tls(const Bytes& segment) {
    return decode_tls_first_segment(segment.data(), segment.size());
}

TEST(ClientHello, OpensslSClientNamesItsServerAndAlpn) {
    const Bytes seg = read_data("openssl_client_hello.bin");  // capture.sh
    ASSERT_GT(seg.size(), 100u);
    FirstPacketDecode d = tls(seg);
    ASSERT_EQ(d.status, Status::found) << d.reason;
    EXPECT_EQ(d.name.protocol, FirstPacketProtocol::tls);
    EXPECT_EQ(d.name.name, "www.example.test");
    EXPECT_EQ(d.name.alpn, "h2,http/1.1");
    EXPECT_FALSE(d.name.ech);
}

TEST(ClientHello, NameIsCanonicalAndEchIsSaid) {
    FirstPacketDecode d = tls(record(client_hello(
        {alpn({"h2"}), server_name("WWW.Example.TEST."), extension(0xfe0d, {0, 1, 2, 3})})));
    ASSERT_EQ(d.status, Status::found);
    EXPECT_EQ(d.name.name, "www.example.test");
    EXPECT_EQ(d.name.alpn, "h2");
    EXPECT_TRUE(d.name.ech);
}

TEST(ClientHello, HostileNamesAreMalformedNotPassedOn) {
    for (const std::string& bad :
         {std::string("a b.test"), std::string("evil.test\n"), std::string("x\0y", 3),
          std::string("a..b"), std::string("[2001:db8::1]"), std::string(300, 'a')}) {
        FirstPacketDecode d = tls(record(client_hello({server_name(bad)})));
        EXPECT_EQ(d.status, Status::malformed) << bad;
        EXPECT_STREQ(d.reason, "server_name is not a host name");
    }
    FirstPacketDecode twice =
        tls(record(client_hello({server_name("a.test"), server_name("b.test")})));
    EXPECT_EQ(twice.status, Status::malformed);
    // Two ALPN lists would run together ("h2" + "http/1.1"): refused, as TLS forbids it.
    FirstPacketDecode two_alpn =
        tls(record(client_hello({server_name("a.test"), alpn({"h2"}), alpn({"http/1.1"})})));
    EXPECT_EQ(two_alpn.status, Status::malformed);
    EXPECT_STREQ(two_alpn.reason, "ClientHello with two ALPN extensions");
}

TEST(ClientHello, NoServerNameIsNoName) {
    EXPECT_EQ(tls(record(client_hello({alpn({"h2"})}))).status, Status::no_name);
}

TEST(ClientHello, AlpnKeepsPrintableIdsAndAtMostEight) {
    FirstPacketDecode d = tls(
        record(client_hello({server_name("a.test"), alpn({std::string("\x0a\x0a", 2), "a", "b", "c",
                                                          "d", "e", "f", "g", "h", "i"})})));
    ASSERT_EQ(d.status, Status::found);
    EXPECT_EQ(d.name.alpn, "a,b,c,d,e,f,g,h");
}

TEST(ClientHello, ACutHelloGivesTheNameIfItCameFirst) {
    const Bytes whole =
        record(client_hello({server_name("first.test"), extension(0x15, Bytes(400, 0))}));
    FirstPacketDecode d = tls(Bytes(whole.begin(), whole.begin() + 120));
    EXPECT_EQ(d.status, Status::found);
    EXPECT_EQ(d.name.name, "first.test");
    const Bytes late =
        record(client_hello({extension(0x15, Bytes(400, 0)), server_name("late.test")}));
    EXPECT_EQ(tls(Bytes(late.begin(), late.begin() + 120)).status, Status::incomplete);
}

TEST(ClientHello, AHandshakeSpreadOverTwoRecordsIsJoined) {
    const Bytes hello = client_hello({server_name("split.test")});
    Bytes seg = record(Bytes(hello.begin(), hello.begin() + 30));
    const Bytes rest = record(Bytes(hello.begin() + 30, hello.end()));
    seg.insert(seg.end(), rest.begin(), rest.end());
    FirstPacketDecode d = tls(seg);
    ASSERT_EQ(d.status, Status::found);
    EXPECT_EQ(d.name.name, "split.test");
}

TEST(ClientHello, LengthsBeyondTheMessageAreMalformed) {
    Bytes m = client_hello({server_name("a.test")});
    m[m.size() - 13] = 0x7f;  // the server_name extension's length: past the end
    FirstPacketDecode d = decode_client_hello(m.data(), m.size());
    EXPECT_EQ(d.status, Status::malformed);
    Bytes r = record(client_hello({server_name("a.test")}));
    r[3] = 0xff;  // record length 65,280: more than TLS allows
    r[4] = 0x00;
    EXPECT_EQ(tls(r).status, Status::malformed);
    for (size_t n = 0; n < r.size(); ++n) tls(Bytes(r.begin(), r.begin() + n));  // no crash
}

TEST(ClientHello, OtherTrafficIsNotTls) {
    const Bytes app = {23, 3, 3, 0, 5, 1, 2, 3, 4, 5};  // application data
    EXPECT_EQ(tls(app).status, Status::not_protocol);
    const Bytes http = {'G', 'E', 'T', ' ', '/'};
    EXPECT_EQ(tls(http).status, Status::not_protocol);
    const Bytes server_hello = record(Bytes{2, 0, 0, 4, 3, 3, 0, 0});
    EXPECT_EQ(tls(server_hello).status, Status::not_protocol);
}

FirstPacketDecode http(const std::string& s) {
    return decode_http_request(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(HttpRequest, CurlNamesItsHost) {
    const Bytes seg = read_data("curl_http_request.bin");  // capture.sh
    FirstPacketDecode d = decode_http_request(seg.data(), seg.size());
    ASSERT_EQ(d.status, Status::found) << d.reason;
    EXPECT_EQ(d.name.protocol, FirstPacketProtocol::http);
    EXPECT_EQ(d.name.name, "www.example.test");
}

TEST(HttpRequest, HostFormsAndItsAbsence) {
    EXPECT_EQ(http("POST /x HTTP/1.1\r\nhOsT:  Api.Example.TEST  \r\n\r\n").name.name,
              "api.example.test");
    EXPECT_EQ(http("GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8080\r\n\r\n").name.name, "2001:db8::1");
    EXPECT_EQ(http("GET / HTTP/1.1\r\nHost: 192.0.2.7\r\n\r\n").name.name, "192.0.2.7");
    EXPECT_EQ(http("GET / HTTP/1.0\r\nAccept: */*\r\n\r\n").status, Status::no_name);
    EXPECT_EQ(http("GET / HTTP/1.1\r\nAccept: */*\r\n").status, Status::incomplete);
    EXPECT_EQ(http("GET /very-long-path").status, Status::incomplete);
}

TEST(HttpRequest, HostileHostsAreMalformed) {
    for (const char* bad :
         {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "GET / HTTP/1.1\r\nHost: a.test:99999999\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: \x1b[31mred\r\n\r\n", "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
          // Brackets hold an IPv6 address, nothing else (these would break flow-names.log).
          "GET / HTTP/1.1\r\nHost: [1..2]\r\n\r\n", "GET / HTTP/1.1\r\nHost: [a.]\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: [.ab]\r\n\r\n", "GET / HTTP/1.1\r\nHost: [192.0.2.1]\r\n\r\n"})
        EXPECT_EQ(http(bad).status, Status::malformed) << bad;
}

TEST(HttpRequest, OtherTrafficIsNotHttp) {
    EXPECT_EQ(http("GETAWAY / HTTP/1.1\r\n").status, Status::not_protocol);
    EXPECT_EQ(http("GET / SPDY/3\r\nHost: a\r\n\r\n").status, Status::not_protocol);
    EXPECT_EQ(http("SSH-2.0-OpenSSH_9.2\r\n").status, Status::not_protocol);
}

}  // namespace
}  // namespace em
