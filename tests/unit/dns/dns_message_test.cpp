#include "dns/dns_message.h"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace em {
namespace {

using Bytes = std::vector<uint8_t>;
using PktPtr = std::unique_ptr<ldns_pkt, Deleter<ldns_pkt_free>>;

// A message built by ldns: question `qname`/`qtype`, the answer records given in zone-file
// syntax, rcode and QR as asked.
Bytes build(const char* qname, ldns_rr_type qtype, bool response, uint8_t rcode,
            const std::vector<std::string>& answers) {
    PktPtr pkt(ldns_pkt_query_new(ldns_dname_new_frm_str(qname), qtype, LDNS_RR_CLASS_IN, LDNS_RD));
    EXPECT_TRUE(pkt);
    if (!pkt) return {};
    ldns_pkt_set_id(pkt.get(), 0xbeef);
    ldns_pkt_set_qr(pkt.get(), response);
    ldns_pkt_set_rcode(pkt.get(), rcode);
    for (const auto& a : answers) {
        ldns_rr* rr = nullptr;
        EXPECT_EQ(ldns_rr_new_frm_str(&rr, a.c_str(), 0, nullptr, nullptr), LDNS_STATUS_OK) << a;
        if (rr) ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_ANSWER, rr);
    }
    uint8_t* wire = nullptr;
    size_t size = 0;
    EXPECT_EQ(ldns_pkt2wire(&wire, pkt.get(), &size), LDNS_STATUS_OK);
    Bytes out(wire, wire + size);
    std::free(wire);
    return out;
}

Result<DnsMessage> decode(const Bytes& b) { return decode_dns(b.data(), b.size()); }

// Hand-written response for WWW.Example.TEST A with compressed names throughout:
// www.example.test CNAME edge.example.test (300 s), edge A 192.0.2.10 (60 s),
// edge AAAA 2001:db8::10 (120 s).
// clang-format off
const Bytes kChain = {
    0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0,
    // 12: question
    3, 'W', 'W', 'W', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 4, 'T', 'E', 'S', 'T', 0,
    0, 1, 0, 1,
    // 34: CNAME; its rdata "edge" + pointer to example.test (16) starts at 46
    0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 44, 0, 7, 4, 'e', 'd', 'g', 'e', 0xc0, 16,
    // 53: A
    0xc0, 46, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 10,
    // 69: AAAA
    0xc0, 46, 0, 28, 0, 1, 0, 0, 0, 120, 0, 16,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
// clang-format on

TEST(DnsMessage, CompressedCnameChain) {
    auto m = decode(kChain);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->id, 0x1234);
    EXPECT_TRUE(m->response);
    EXPECT_EQ(m->rcode, 0);
    EXPECT_FALSE(m->truncated);
    EXPECT_EQ(m->qname, "www.example.test");
    EXPECT_EQ(m->qtype, 1);
    EXPECT_EQ(m->question_count, 1);
    ASSERT_EQ(m->answers.size(), 3u);
    EXPECT_EQ(m->answers[0].name, "www.example.test");
    EXPECT_EQ(m->answers[0].type, 5);
    EXPECT_EQ(m->answers[0].ttl, 300u);
    EXPECT_EQ(m->answers[0].target, "edge.example.test");
    EXPECT_FALSE(m->answers[0].address);
    EXPECT_EQ(m->answers[1].name, "edge.example.test");
    ASSERT_TRUE(m->answers[1].address);
    EXPECT_EQ(m->answers[1].address->to_string(), "192.0.2.10");
    ASSERT_TRUE(m->answers[2].address);
    EXPECT_EQ(m->answers[2].address->to_string(), "2001:db8::10");

    std::vector<std::string> chain;
    auto addrs = resolve_answers(*m, &chain);
    EXPECT_EQ(chain, (std::vector<std::string>{"www.example.test", "edge.example.test"}));
    ASSERT_EQ(addrs.size(), 2u);
    EXPECT_EQ(addrs[0].ip.to_string(), "192.0.2.10");
    EXPECT_EQ(addrs[0].ttl, 60u);
    EXPECT_EQ(addrs[1].ip.to_string(), "2001:db8::10");
    EXPECT_EQ(addrs[1].ttl, 120u);
}

TEST(DnsMessage, ChainTtlIsTheSmallestOnTheWay) {
    Bytes b = build(
        "www.example.test.", LDNS_RR_TYPE_A, true, 0,
        {"www.example.test. 30 IN CNAME edge.example.test.",
         "edge.example.test. 3600 IN A 192.0.2.10", "other.example.test. 3600 IN A 192.0.2.99"});
    auto m = decode(b);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->id, 0xbeef);
    auto addrs = resolve_answers(*m);
    ASSERT_EQ(addrs.size(), 1u);  // the unrelated owner is not part of the answer
    EXPECT_EQ(addrs[0].ip.to_string(), "192.0.2.10");
    EXPECT_EQ(addrs[0].ttl, 30u);
}

TEST(DnsMessage, QueryAndNxdomain) {
    auto q = decode(build("Host.Example.TEST.", LDNS_RR_TYPE_AAAA, false, 0, {}));
    ASSERT_TRUE(q) << q.error().message;
    EXPECT_FALSE(q->response);
    EXPECT_EQ(q->qname, "host.example.test");
    EXPECT_EQ(q->qtype, 28);
    EXPECT_TRUE(q->answers.empty());
    EXPECT_TRUE(resolve_answers(*q).empty());

    auto nx = decode(build("nope.example.test.", LDNS_RR_TYPE_A, true, 3, {}));
    ASSERT_TRUE(nx) << nx.error().message;
    EXPECT_TRUE(nx->response);
    EXPECT_EQ(nx->rcode, 3);
    EXPECT_EQ(dns_rcode_name(nx->rcode), "NXDOMAIN");
    EXPECT_TRUE(resolve_answers(*nx).empty());
}

TEST(DnsMessage, TargetsOfOtherTypes) {
    auto m = decode(build("x.example.test.", LDNS_RR_TYPE_ANY, true, 0,
                          {"x.example.test. 10 IN MX 10 Mail.Example.TEST.",
                           "x.example.test. 10 IN NS ns1.example.test.",
                           "x.example.test. 10 IN SRV 0 5 443 svc.example.test.",
                           "10.2.0.192.in-addr.arpa. 10 IN PTR host.example.test.",
                           "x.example.test. 10 IN TXT \"hello world\""}));
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_EQ(m->answers.size(), 5u);
    EXPECT_EQ(m->answers[0].target, "mail.example.test");
    EXPECT_EQ(m->answers[1].target, "ns1.example.test");
    EXPECT_EQ(m->answers[2].target, "svc.example.test");
    EXPECT_EQ(m->answers[3].name, "10.2.0.192.in-addr.arpa");
    EXPECT_EQ(m->answers[3].target, "host.example.test");
    EXPECT_EQ(m->answers[4].type, 16);
    EXPECT_TRUE(m->answers[4].target.empty());
    EXPECT_FALSE(m->answers[4].address);
}

TEST(DnsMessage, CnameLoopAndLongChainsEnd) {
    auto loop = decode(build("a.test.", LDNS_RR_TYPE_A, true, 0,
                             {"a.test. 10 IN CNAME b.test.", "b.test. 10 IN CNAME a.test.",
                              "b.test. 10 IN A 192.0.2.1"}));
    ASSERT_TRUE(loop) << loop.error().message;
    std::vector<std::string> chain;
    auto addrs = resolve_answers(*loop, &chain);
    EXPECT_EQ(chain, (std::vector<std::string>{"a.test", "b.test"}));
    ASSERT_EQ(addrs.size(), 1u);

    std::vector<std::string> rrs;
    for (int i = 0; i < 30; ++i) {
        rrs.push_back("n" + std::to_string(i) + ".test. 10 IN CNAME n" + std::to_string(i + 1) +
                      ".test.");
    }
    rrs.push_back("n30.test. 10 IN A 192.0.2.30");
    rrs.push_back("n5.test. 10 IN A 192.0.2.5");
    auto longer = decode(build("n0.test.", LDNS_RR_TYPE_A, true, 0, rrs));
    ASSERT_TRUE(longer) << longer.error().message;
    addrs = resolve_answers(*longer, &chain);
    EXPECT_EQ(chain.size(), 17u);  // qname + 16 steps
    ASSERT_EQ(addrs.size(), 1u);
    EXPECT_EQ(addrs[0].ip.to_string(), "192.0.2.5");
}

TEST(DnsMessage, PointerLoopIsAnError) {
    // The question name is a pointer to itself.
    Bytes b = {0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
    auto m = decode(b);
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().message.find("malformed"), std::string::npos) << m.error().message;
    // Two pointers pointing at each other.
    Bytes c = {0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 16, 0xc0, 12, 0, 1, 0, 1};
    EXPECT_FALSE(decode(c));
    // A pointer past the end.
    Bytes d = {0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 200, 0, 1, 0, 1};
    EXPECT_FALSE(decode(d));
}

TEST(DnsMessage, TruncatedMessagesAreErrors) {
    auto h = decode_dns(kChain.data(), 11);
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().message, "truncated header (11 of 12 bytes)");
    EXPECT_FALSE(decode_dns(nullptr, 0));
    // Every cut inside the records fails cleanly (and ASan sees no overread).
    for (size_t n = 12; n < kChain.size(); ++n) {
        Bytes cut(kChain.begin(), kChain.begin() + static_cast<long>(n));
        auto m = decode(cut);
        if (n < 34) {
            EXPECT_FALSE(m) << n;
        } else if (m) {
            ADD_FAILURE() << "cut at " << n << " decoded";
        } else {
            EXPECT_FALSE(m.error().message.empty());
        }
    }
    // Header announces more answers than there are.
    Bytes more = kChain;
    more[7] = 4;
    EXPECT_FALSE(decode(more));
}

TEST(DnsMessage, OddLabelBytesAreEscaped) {
    // Labels: "A B", "x.y", "\\", 0x00 0xff 0x7f, "(;)"
    // clang-format off
    Bytes b = {0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
               3, 'A', ' ', 'B', 3, 'x', '.', 'y', 1, '\\', 3, 0, 0xff, 0x7f, 3, '(', ';', ')', 0,
               0, 1, 0, 1,
               0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 203, 0, 113, 9};
    // clang-format on
    auto m = decode(b);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->qname, "a\\032b.x\\.y.\\\\.\\000\\255\\127.\\(\\;\\)");
    for (char c : m->qname) EXPECT_TRUE(c > 0x20 && c < 0x7f) << int{c};
    ASSERT_EQ(m->answers.size(), 1u);
    EXPECT_EQ(m->answers[0].name, m->qname);
    auto addrs = resolve_answers(*m);
    ASSERT_EQ(addrs.size(), 1u);
    EXPECT_EQ(addrs[0].ip.to_string(), "203.0.113.9");
}

TEST(DnsMessage, RootNameAndNoQuestion) {
    auto root = decode(build(".", LDNS_RR_TYPE_NS, false, 0, {}));
    ASSERT_TRUE(root) << root.error().message;
    EXPECT_EQ(root->qname, ".");
    Bytes none = {0, 7, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0};
    auto m = decode(none);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_TRUE(m->qname.empty());
    EXPECT_EQ(m->question_count, 0);
    EXPECT_TRUE(resolve_answers(*m).empty());
}

TEST(DnsMessage, TcBitAndWrongAddressLength) {
    Bytes b = kChain;
    b[2] |= 0x02;  // TC
    auto m = decode(b);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_TRUE(m->truncated);
    // An A record with a 3-byte address is rejected, not read past.
    // clang-format off
    Bytes bad = {0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,
                 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 3, 1, 2, 3};
    // clang-format on
    auto r = decode(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "malformed message: answer section incomplete");
}

TEST(DnsMessage, TypeAndRcodeNames) {
    EXPECT_EQ(dns_type_name(1), "A");
    EXPECT_EQ(dns_type_name(28), "AAAA");
    EXPECT_EQ(dns_type_name(5), "CNAME");
    EXPECT_EQ(dns_type_name(33), "SRV");
    EXPECT_EQ(dns_type_name(65), "HTTPS");
    EXPECT_EQ(dns_type_name(255), "ANY");
    EXPECT_EQ(dns_type_name(252), "AXFR");
    EXPECT_EQ(dns_type_name(0), "0");
    EXPECT_EQ(dns_type_name(65000), "65000");
    EXPECT_EQ(dns_rcode_name(0), "NOERROR");
    EXPECT_EQ(dns_rcode_name(2), "SERVFAIL");
    EXPECT_EQ(dns_rcode_name(3), "NXDOMAIN");
    EXPECT_EQ(dns_rcode_name(5), "REFUSED");
    EXPECT_EQ(dns_rcode_name(15), "15");
}

}  // namespace
}  // namespace em
