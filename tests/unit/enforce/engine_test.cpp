#include "enforce/engine.h"

#include <gtest/gtest.h>

#include "enforce/enforce_config.h"

namespace em {

namespace {

EnforceConfig config(const char* text) {
    auto c = parse_enforce_config(text, "t.toml");
    EXPECT_TRUE(c.ok()) << c.error().message;
    return c.ok() ? *c : EnforceConfig{};
}

const char* kTwo = R"(
inboundDNSQueue = { ipv4 = 1, ipv6 = 2 }
[[filters]]
name = "web"
dnsQueue = { ipv4 = 10, ipv6 = 13 }
trafficQueue = { ipv4 = 11, ipv6 = 12 }
allowedHostnames = ["github.com", "Example.TEST"]
allowAnswersFor = "10s"
[[filters]]
name = "other"
dnsQueue = { ipv4 = 20, ipv6 = 22 }
trafficQueue = { ipv4 = 21, ipv6 = 23 }
allowedHostnames = ["other.test"]
allowAnswersFor = "1s"
recordTTL = "longer"
)";

DnsMessage query(const std::string& name) {
    DnsMessage m;
    m.qname = name;
    m.question_count = 1;
    return m;
}

DnsRecord rec(const std::string& name, uint16_t type, uint32_t ttl, const char* data) {
    DnsRecord r;
    r.name = name;
    r.type = type;
    r.ttl = ttl;
    if (type == 1 || type == 28)
        r.address = IpAddress::parse(data);
    else
        r.target = data;
    return r;
}

DnsMessage answer(const std::string& name, std::vector<DnsRecord> records) {
    DnsMessage m = query(name);
    m.response = true;
    m.answers = std::move(records);
    return m;
}

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

// A UDP query from 198.51.100.2:port to the resolver 198.51.100.1:53.
DnsFlow udp(uint16_t port = 40000) {
    return DnsFlow{17, ip("198.51.100.2"), ip("198.51.100.1"), port, 53};
}

// `a` as the answer to a query for its question that `filter` let out just before.
Verdict answered(Engine& e, size_t filter, const DnsMessage& a, int64_t now_ms) {
    DnsMessage q = query(a.qname);
    q.id = a.id;
    q.qtype = a.qtype;
    e.query(filter, udp(), q, now_ms);
    return e.response(udp(), a, now_ms);
}

}  // namespace

TEST(Engine, QueriesPassOnlyForAllowedNamesAndTheirSubdomains) {
    Engine e(config(kTwo));
    EXPECT_TRUE(e.query(0, udp(), query("github.com"), 0).accept);
    EXPECT_TRUE(e.query(0, udp(), query("api.github.com"), 0).accept);
    EXPECT_TRUE(e.query(0, udp(), query("example.test"), 0).accept);  // normalised in the config
    EXPECT_FALSE(e.query(0, udp(), query("evilgithub.com"), 0).accept);
    EXPECT_FALSE(e.query(0, udp(), query("github.com.evil.test"), 0).accept);
    EXPECT_FALSE(e.query(1, udp(), query("github.com"), 0).accept);  // another filter's list
    DnsMessage two = query("github.com");
    two.question_count = 2;
    EXPECT_FALSE(e.query(0, udp(), two, 0).accept);
    DnsMessage resp = query("github.com");
    resp.response = true;
    EXPECT_FALSE(e.query(0, udp(), resp, 0).accept);
}

// A query for github.com A on the wire: `answers` A records for it in the answer section,
// `authority` in the authority section, an EDNS OPT record (as dig sends) when `edns`.
std::vector<uint8_t> wire_query(uint8_t opcode, int answers, int authority, bool edns) {
    std::vector<uint8_t> m = {0x12,
                              0x34,
                              static_cast<uint8_t>(0x01 | opcode << 3),
                              0x00,
                              0,
                              1,
                              0,
                              static_cast<uint8_t>(answers),
                              0,
                              static_cast<uint8_t>(authority),
                              0,
                              static_cast<uint8_t>(edns ? 1 : 0)};
    const uint8_t name[] = {6, 'g', 'i', 't', 'h', 'u', 'b', 3, 'c', 'o', 'm', 0};
    m.insert(m.end(), name, name + sizeof name);
    m.insert(m.end(), {0, 1, 0, 1});
    for (int i = 0; i < answers + authority; ++i)  // github.com A 60 203.0.113.66 (a pointer)
        m.insert(m.end(), {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 66});
    if (edns) m.insert(m.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0});
    return m;
}

// The data channel of egress-eddie's issue: a "query" under an allowed name carrying records
// reaches any server on port 53 unless the filter drops it. Decoded by the real decoder.
TEST(Engine, QueriesCarryingRecordsOrOtherOpcodesAreDropped) {
    Engine e(config(kTwo));
    auto verdict = [&](const std::vector<uint8_t>& w) {
        auto m = decode_dns(w.data(), w.size());
        EXPECT_TRUE(m.ok()) << m.error().message;
        return e.query(0, udp(), *m, 0);
    };
    EXPECT_TRUE(verdict(wire_query(0, 0, 0, false)).accept);
    EXPECT_TRUE(verdict(wire_query(0, 0, 0, true)).accept);  // EDNS is not a record
    Verdict v = verdict(wire_query(0, 1, 0, true));
    EXPECT_FALSE(v.accept);
    EXPECT_STREQ(v.reason, "a query carrying answer records");
    EXPECT_FALSE(verdict(wire_query(0, 0, 2, false)).accept);
    v = verdict(wire_query(5, 0, 0, false));  // UPDATE
    EXPECT_FALSE(v.accept);
    EXPECT_STREQ(v.reason, "not a standard query (an opcode other than QUERY)");
    EXPECT_EQ(e.counters().records_in_query, 2u);
    EXPECT_EQ(e.counters().not_a_lookup, 1u);
}

TEST(Engine, AnswersAllowAddressesForTheirDurationAndTargetsAsNames) {
    Engine e(config(kTwo));
    auto a = answer(
        "www.github.com",
        {rec("www.github.com", 5, 300, "gh.cdn.test"), rec("gh.cdn.test", 1, 300, "192.0.2.5"),
         rec("gh.cdn.test", 28, 300, "2001:db8::5"), rec("unrelated.test", 1, 300, "192.0.2.66")});
    EXPECT_TRUE(answered(e, 0, a, 1000).accept);
    EXPECT_TRUE(e.traffic(0, ip("192.0.2.5"), 1000).accept);
    EXPECT_TRUE(e.traffic(0, ip("2001:db8::5"), 10999).accept);
    EXPECT_FALSE(e.traffic(0, ip("192.0.2.5"), 11000).accept);  // 10 s later
    EXPECT_FALSE(e.traffic(0, ip("192.0.2.66"), 1000).accept);  // not in the chain
    EXPECT_FALSE(e.traffic(1, ip("192.0.2.5"), 1000).accept);   // the other filter did not ask
    // The CNAME target may now be asked for itself, for as long.
    EXPECT_TRUE(e.query(0, udp(), query("gh.cdn.test"), 5000).accept);
    EXPECT_FALSE(e.query(0, udp(), query("x.gh.cdn.test"), 5000).accept);
    EXPECT_FALSE(e.query(0, udp(), query("gh.cdn.test"), 12000).accept);
    // A response to a query nobody allowed is dropped and teaches nothing.
    EXPECT_FALSE(
        answered(e, 0, answer("evil.test", {rec("evil.test", 1, 60, "192.0.2.9")}), 0).accept);
    EXPECT_FALSE(e.traffic(0, ip("192.0.2.9"), 0).accept);
    // Loopback answers allow nothing.
    answered(e, 0, answer("lo.github.com", {rec("lo.github.com", 1, 60, "127.0.0.1")}), 0);
    EXPECT_FALSE(e.traffic(0, ip("127.0.0.1"), 0).accept);
    e.expire(11000);
    EXPECT_EQ(e.allowed_addresses(0), 0u);
}

TEST(Engine, RecordTtlModes) {
    Engine e(config(kTwo));  // "other": 1 s, recordTTL longer
    answered(e, 1, answer("other.test", {rec("other.test", 1, 30, "192.0.2.7")}), 0);
    EXPECT_TRUE(e.traffic(1, ip("192.0.2.7"), 29999).accept);
    EXPECT_FALSE(e.traffic(1, ip("192.0.2.7"), 30000).accept);
    for (auto [mode, ttl, want_ms] : {std::tuple{"ignore", 30, 1000},
                                      {"shorter", 0, 0},
                                      {"shorter", 30, 1000},
                                      {"always", 5, 5000}}) {
        std::string text = std::string(R"(inboundDNSQueue = { ipv4 = 1 }
[[filters]]
name = "f"
dnsQueue = { ipv4 = 2 }
trafficQueue = { ipv4 = 3 }
allowedHostnames = ["a.test"]
allowAnswersFor = "1s"
recordTTL = ")") + mode + "\"\n";
        Engine m(config(text.c_str()));
        answered(m, 0,
                 answer("a.test", {rec("a.test", 1, static_cast<uint32_t>(ttl), "192.0.2.1")}), 0);
        if (want_ms > 0) {
            EXPECT_TRUE(m.traffic(0, ip("192.0.2.1"), want_ms - 1).accept) << mode;
        }
        EXPECT_FALSE(m.traffic(0, ip("192.0.2.1"), want_ms).accept) << mode << ttl;
    }
}

TEST(Engine, CachedHostnamesAndAllowAll) {
    Engine e(config(R"(
inboundDNSQueue = { ipv4 = 2 }
selfDNSQueue = { ipv4 = 3 }
[[filters]]
name = "c"
trafficQueue = { ipv4 = 1 }
cachedHostnames = ["updates.example.test"]
reCacheEvery = "1m"
)"));
    ASSERT_EQ(e.filters(), 2u);  // filter 0: the self filter, for enforce's own lookups
    EXPECT_EQ(e.config(0).name, "self-filter");
    EXPECT_TRUE(e.query(0, udp(), query("updates.example.test"), 0).accept);
    EXPECT_FALSE(e.query(0, udp(), query("other.example.test"), 0).accept);
    EXPECT_FALSE(e.query(0, udp(), query("1.2.0.192.in-addr.arpa"), 0).accept);  // no PTR
    e.set_cached(1, {ip("192.0.2.44")});
    EXPECT_TRUE(e.traffic(1, ip("192.0.2.44"), 1LL << 50).accept);  // no expiry
    e.set_cached(1, {ip("192.0.2.45")});
    EXPECT_FALSE(e.traffic(1, ip("192.0.2.44"), 0).accept);  // replaced by the next resolution
    Engine all(config(R"(
inboundDNSQueue = { ipv6 = 3 }
[[filters]]
name = "all"
dnsQueue = { ipv6 = 4 }
allowAllHostnames = true
)"));
    EXPECT_TRUE(all.query(0, udp(), query("anything.test"), 0).accept);
    // Its answers pass (the filter has no trafficQueue: egress-eddie forbids one).
    Verdict v =
        answered(all, 0, answer("anything.test", {rec("anything.test", 28, 9, "2001:db8::9")}), 0);
    EXPECT_TRUE(v.accept);
    EXPECT_EQ(v.filter, 0);
}

TEST(Engine, SelfFilterAllowsReverseLookupsWhenAFilterLooksUpUnknownIps) {
    Engine e(config(R"(
inboundDNSQueue = { ipv4 = 1 }
selfDNSQueue = { ipv4 = 2 }
[[filters]]
name = "p"
trafficQueue = { ipv4 = 3 }
lookupUnknownIPs = true
)"));
    ASSERT_EQ(e.filters(), 2u);
    EXPECT_TRUE(e.query(0, udp(), query("1.2.0.192.in-addr.arpa"), 0).accept);
    EXPECT_TRUE(e.query(0, udp(), query("8.b.d.0.1.0.0.2.ip6.arpa"), 0).accept);
    EXPECT_FALSE(e.query(0, udp(), query("example.test"), 0).accept);
    EXPECT_TRUE(e.config(1).lookup_unknown_ips);
}

// The messages are egress-eddie's (eddie_config_test.cpp has all of its cases), after the file
// and the line of the key or filter concerned.
TEST(EnforceConfig, ErrorsNameFileLineAndKey) {
    const std::string base = "inboundDNSQueue = { ipv4 = 1 }\n[[filters]]\nname = \"a\"\n";
    const std::string queues = "dnsQueue = { ipv4 = 2 }\ntrafficQueue = { ipv4 = 3 }\n";
    const std::pair<std::string, std::string> cases[] = {
        {base + queues + "allowedHostnames = [\"a\"]\n",
         "t.toml:6: filter \"a\": \"allowAnswersFor\" must be set when \"allowedHostnames\" is "
         "not empty"},
        {base + queues + "allowedHostnames = [\"a\"]\nallowAnswersFor = \"0s\"\n",  // 0: unset
         "t.toml:6: filter \"a\": \"allowAnswersFor\" must be set when \"allowedHostnames\" is "
         "not empty"},
        {"[[filters]]\nname = \"a\"\ndnsQueue = { ipv4 = 1 }\nallowAllHostnames = true\n",
         "t.toml: \"inboundDNSQueue\" must be set"},
        {base + "trafficQueue = { ipv4 = 70000 }\n",
         "t.toml:4: filters.trafficQueue.ipv4 must be a queue number in [0, 65535]"},
        {base + "dnsQueue = { ipv4 = 1 }\n",
         "t.toml:4: filter \"a\": \"inboundDNSQueue\" and \"dnsQueue\" must be different"},
        {base + queues + "allowedHostnames = [\"a\", \"a b\"]\nallowAnswersFor = \"1s\"\n",
         "t.toml:6: filter \"a\": allowed hostname \"a b\" is not a valid domain name"},
        {base + queues + "allowedHostnames = [\"a\"]\nallowAnswersFor = \"soon\"\n",
         "t.toml:7: allowAnswersFor: time: invalid duration \"soon\""},
        {base + queues + "allowedHostnames = [\"a\"]\nallowAnswersFor = \"-1s\"\n",
         "t.toml:7: filter \"a\": \"allowAnswersFor\" must not be negative"},
        {base + "dnsQueue = { ipv4 = 2 }\nallowAllHostnames = true\nallowedHostnames = [\"a\"]\n",
         "t.toml:6: filter \"a\": \"allowedHostnames\" must be empty when \"allowAllHostnames\" "
         "is true"},
        {base + "trafficQueue = { ipv4 = 3 }\ncachedHostnames = [\"a\"]\n",
         "t.toml:5: filter \"a\": \"reCacheEvery\" must be set when \"cachedHostnames\" is not "
         "empty"},
        {base + "trafficQueue = { ipv4 = 3 }\ncachedHostnames = [\"a\"]\nreCacheEvery = \"1m\"\n",
         "t.toml: \"selfDNSQueue\" must be set when at least one filter either sets "
         "\"lookupUnknownIPs\" to true or \"cachedHostnames\" is not empty"},
        {base + "dnsQueue = { ipv4 = 2 }\nallowAllHostnames = true\nbogus = 1\n",
         "t.toml:6: unknown keys \"filters.bogus\""},
        {base + "dnsQueue = { ipv4 = 2 }\nallowAllHostnames = true\n[[filters]]\nname = \"a\"\n"
                "dnsQueue = { ipv4 = 4 }\nallowAllHostnames = true\n",
         "t.toml:6: filter #1: filter name \"a\" is already used by filter #0"},
        {base + "dnsQueue = { ipv4 = 2 }\nallowAllHostnames = true\n[[filters]]\nname = \"b\"\n"
                "dnsQueue = { ipv4 = 2 }\nallowAllHostnames = true\n",
         "t.toml:8: filter \"b\": \"dnsQueue.ipv4\" 2 is already used by filter \"a\""},
        {"x = 1\n", "t.toml:1: unknown keys \"x\""},
        {"inboundDNSQueue = { ipv4 = 1, ipv5 = 2 }\nx = 1\n[[filters]]\nname = \"a\"\nbogus = 1\n",
         "t.toml:1: unknown keys \"inboundDNSQueue.ipv5\", \"x\", \"filters.bogus\""},
        {"", "t.toml: at least one filter must be specified"},
    };
    for (const auto& [text, want] : cases) {
        auto r = parse_enforce_config(text, "t.toml");
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_EQ(r.error().message, want) << text;
    }
}

// As egress-eddie's TOML decoder reads them: keys ignoring ASCII case, a duration as a Go
// duration string or a number of nanoseconds.
TEST(EnforceConfig, KeysIgnoreCaseAndDurationsAreGos) {
    auto c = parse_enforce_config(R"(
InboundDNSQueue = { IPv4 = 1 }
[[Filters]]
Name = "a"
DNSQueue = { ipv4 = 2 }
trafficqueue = { ipv4 = 3 }
AllowedHostnames = ["A.example"]
allowAnswersFor = "1h30m"
[[Filters]]
name = "b"
dnsQueue = { ipv4 = 4 }
trafficQueue = { ipv4 = 5 }
allowedHostnames = ["b.example"]
allowAnswersFor = 2500000000
)",
                                  "t.toml");
    ASSERT_TRUE(c.ok()) << c.error().message;
    ASSERT_EQ(c->filters.size(), 2u);
    EXPECT_EQ(c->inbound_dns_queue.ipv4, 1);
    EXPECT_EQ(c->filters[0].name, "a");
    EXPECT_EQ(c->filters[0].traffic_queue.ipv4, 3);
    EXPECT_EQ(c->filters[0].allowed_hostnames, std::vector<std::string>{"a.example"});
    EXPECT_EQ(c->filters[0].allow_answers_for_ms, 90 * 60 * 1000);
    EXPECT_EQ(c->filters[1].allow_answers_for_ms, 2500);
}

}  // namespace em

namespace em {

// Issue 13: a response is learnt from only when it answers a query this filter let out.
TEST(Engine, ResponsesTeachOnlyWhenTheyAnswerAnOutstandingQuery) {
    Engine e(config(kTwo));
    auto evil = answer("github.com", {rec("github.com", 5, 60, "evil.attacker.test"),
                                      rec("evil.attacker.test", 1, 60, "203.0.113.66")});
    evil.id = 0x1111;
    // Unsolicited: no query at all.
    Verdict v = e.response(udp(), evil, 0);
    EXPECT_FALSE(v.accept);
    EXPECT_STREQ(v.reason, "no outstanding query from that client port (unsolicited)");
    EXPECT_FALSE(e.traffic(0, ip("203.0.113.66"), 1).accept);
    EXPECT_FALSE(e.query(0, udp(40009), query("evil.attacker.test"), 1).accept);

    DnsMessage q = query("github.com");
    q.id = 0x4242;
    q.qtype = 1;
    ASSERT_TRUE(e.query(0, udp(), q, 0).accept);
    EXPECT_EQ(e.outstanding_queries(0), 1u);
    auto good = answer("github.com", {rec("github.com", 1, 60, "192.0.2.70")});
    good.id = 0x4242;
    good.qtype = 1;
    auto wrong_id = good, wrong_question = good, wrong_type = good;
    wrong_id.id = 0x4243;
    wrong_question.qname = "api.github.com";
    wrong_question.answers = {rec("api.github.com", 1, 60, "192.0.2.71")};
    wrong_type.qtype = 28;
    DnsFlow other_server = udp();
    other_server.server = ip("198.51.100.99");
    EXPECT_FALSE(e.response(udp(), wrong_id, 1).accept);
    EXPECT_FALSE(e.response(udp(), wrong_question, 1).accept);
    EXPECT_FALSE(e.response(udp(), wrong_type, 1).accept);
    EXPECT_FALSE(e.response(other_server, good, 1).accept);
    EXPECT_FALSE(e.response(udp(40001), good, 1).accept);
    EXPECT_FALSE(e.traffic(0, ip("192.0.2.70"), 2).accept);
    EXPECT_FALSE(e.traffic(0, ip("192.0.2.71"), 2).accept);
    // The right answer still works, once, and only for the filter that asked.
    v = e.response(udp(), good, 2);
    EXPECT_TRUE(v.accept) << v.reason;
    EXPECT_TRUE(e.traffic(0, ip("192.0.2.70"), 3).accept);
    EXPECT_FALSE(e.traffic(1, ip("192.0.2.70"), 3).accept);
    EXPECT_FALSE(e.response(udp(), good, 3).accept);
    EXPECT_EQ(e.outstanding_queries(0), 0u);
    const EngineCounters& c = e.counters();
    EXPECT_EQ(c.unsolicited, 3u);  // the forgery, the other client port, the repeated answer
    EXPECT_EQ(c.wrong_id, 1u);
    EXPECT_EQ(c.wrong_question, 2u);  // another name, another type
    EXPECT_EQ(c.wrong_server, 1u);
}

TEST(Engine, AnswersComeInTimeOrNotAtAll) {
    Engine e(config(R"(
inboundDNSQueue = { ipv4 = 1 }
[[filters]]
name = "f"
dnsQueue = { ipv4 = 2 }
trafficQueue = { ipv4 = 3 }
allowedHostnames = ["a.test"]
allowAnswersFor = "10s"
queryTimeout = "2s"
outstandingQueries = 2
)"));
    DnsMessage q = query("a.test");
    EXPECT_TRUE(e.query(0, udp(1), q, 0).accept);
    EXPECT_TRUE(e.query(0, udp(2), q, 0).accept);
    Verdict full = e.query(0, udp(3), q, 0);
    EXPECT_FALSE(full.accept);
    EXPECT_EQ(e.counters().table_full, 1u);
    auto a = answer("a.test", {rec("a.test", 1, 60, "192.0.2.1")});
    EXPECT_TRUE(e.response(udp(1), a, 1999).accept);
    EXPECT_FALSE(e.response(udp(2), a, 2000).accept);  // its 2 s are over
    EXPECT_EQ(e.unanswered_queries(), 1u);
    EXPECT_TRUE(e.query(0, udp(3), q, 2000).accept);  // room again
}

// Host names are Go's domain names (net.isDomainName, which egress-eddie calls) without a
// trailing dot.
TEST(EnforceConfig, HostNamesAreGoDomainNames) {
    auto accepted = [](const std::string& name) {
        return parse_enforce_config(
                   "inboundDNSQueue = { ipv4 = 1 }\n[[filters]]\nname = \"a\"\n"
                   "dnsQueue = { ipv4 = 2 }\ntrafficQueue = { ipv4 = 3 }\n"
                   "allowAnswersFor = \"1s\"\nallowedHostnames = [\"" +
                       name + "\"]\n",
                   "t.toml")
            .ok();
    };
    const std::string l63(63, 'a'), l64(64, 'a');
    for (const std::string& ok :
         {std::string("a"), std::string("_dmarc.example.test"), std::string("x-y.test"),
          std::string("1a.test"), std::string("UPPER.Test"), std::string("a.1"), l63 + ".test",
          l63 + "." + l63 + "." + l63 + "." + std::string(61, 'a')})  // 253 bytes
        EXPECT_TRUE(accepted(ok)) << ok;
    for (const std::string& bad :
         {std::string("a."), std::string("."), std::string(".a"), std::string("a..b"),
          std::string("-a.test"), std::string("a-.test"), std::string("a.test-"),
          std::string("1.2.3.4"), std::string("123"), std::string("a b"), std::string("a/b"),
          std::string("é.test"), l64 + ".test",
          l63 + "." + l63 + "." + l63 + "." + std::string(62, 'a')})  // 254 bytes
        EXPECT_FALSE(accepted(bad)) << bad;
}

TEST(EnforceConfig, QueryTimeoutAndOutstandingQueries) {
    auto c = parse_enforce_config(kTwo, "t.toml");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->filters[0].query_timeout_ms, 5000);
    EXPECT_EQ(c->filters[0].outstanding_queries, 4096u);
    const std::string base =
        "inboundDNSQueue = { ipv4 = 1 }\n[[filters]]\nname = \"a\"\ndnsQueue = { ipv4 = 2 }\n"
        "allowAllHostnames = true\n";
    auto bad = parse_enforce_config(base + "queryTimeout = \"10ms\"\n", "t.toml");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message, "t.toml:6: queryTimeout must be from 100ms to 2m");
    bad = parse_enforce_config(base + "outstandingQueries = 0\n", "t.toml");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message, "t.toml:6: outstandingQueries must be from 1 to 1000000");
    auto ok = parse_enforce_config(base + "queryTimeout = \"1.5s\"\n", "t.toml");
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok->filters[0].query_timeout_ms, 1500);
}

}  // namespace em

namespace em {

TEST(Engine, AnIpv4MappedAnswerAllowsTheIpv4AddressTooAsEgressEddie) {
    Engine e(config(kTwo));
    auto a = answer("v6.github.com", {rec("v6.github.com", 28, 60, "::ffff:192.0.2.7")});
    a.qtype = 28;
    EXPECT_TRUE(answered(e, 0, a, 1000).accept);
    EXPECT_TRUE(e.traffic(0, ip("::ffff:192.0.2.7"), 1000).accept);
    EXPECT_TRUE(e.traffic(0, ip("192.0.2.7"), 1000).accept);
    EXPECT_FALSE(e.traffic(0, ip("192.0.2.7"), 11000).accept);  // for as long
    EXPECT_FALSE(e.traffic(0, ip("192.0.2.8"), 1000).accept);
    // A mapped loopback allows nothing in either family.
    auto lo = answer("lo6.github.com", {rec("lo6.github.com", 28, 60, "::ffff:127.0.0.1")});
    lo.qtype = 28;
    answered(e, 0, lo, 1000);
    EXPECT_FALSE(e.traffic(0, ip("127.0.0.1"), 1000).accept);
}

}  // namespace em
