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
dnsQueue = { ipv4 = 10 }
trafficQueue = { ipv4 = 11, ipv6 = 12 }
allowedHostnames = ["github.com", "Example.TEST."]
allowAnswersFor = "10s"
[[filters]]
name = "other"
trafficQueue = { ipv4 = 21 }
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

}  // namespace

TEST(Engine, QueriesPassOnlyForAllowedNamesAndTheirSubdomains) {
    Engine e(config(kTwo));
    EXPECT_TRUE(e.query(0, query("github.com"), 0).accept);
    EXPECT_TRUE(e.query(0, query("api.github.com"), 0).accept);
    EXPECT_TRUE(e.query(0, query("example.test"), 0).accept);  // normalised in the config
    EXPECT_FALSE(e.query(0, query("evilgithub.com"), 0).accept);
    EXPECT_FALSE(e.query(0, query("github.com.evil.test"), 0).accept);
    EXPECT_FALSE(e.query(1, query("github.com"), 0).accept);  // another filter's list
    DnsMessage two = query("github.com");
    two.question_count = 2;
    EXPECT_FALSE(e.query(0, two, 0).accept);
    DnsMessage resp = query("github.com");
    resp.response = true;
    EXPECT_FALSE(e.query(0, resp, 0).accept);
}

TEST(Engine, AnswersAllowAddressesForTheirDurationAndTargetsAsNames) {
    Engine e(config(kTwo));
    auto a = answer(
        "www.github.com",
        {rec("www.github.com", 5, 300, "gh.cdn.test"), rec("gh.cdn.test", 1, 300, "192.0.2.5"),
         rec("gh.cdn.test", 28, 300, "2001:db8::5"), rec("unrelated.test", 1, 300, "192.0.2.66")});
    EXPECT_TRUE(e.response(a, 1000).accept);
    EXPECT_TRUE(e.traffic(0, ip("192.0.2.5"), 1000).accept);
    EXPECT_TRUE(e.traffic(0, ip("2001:db8::5"), 10999).accept);
    EXPECT_FALSE(e.traffic(0, ip("192.0.2.5"), 11000).accept);  // 10 s later
    EXPECT_FALSE(e.traffic(0, ip("192.0.2.66"), 1000).accept);  // not in the chain
    EXPECT_FALSE(e.traffic(1, ip("192.0.2.5"), 1000).accept);   // the other filter did not ask
    // The CNAME target may now be asked for itself, for as long.
    EXPECT_TRUE(e.query(0, query("gh.cdn.test"), 5000).accept);
    EXPECT_FALSE(e.query(0, query("x.gh.cdn.test"), 5000).accept);
    EXPECT_FALSE(e.query(0, query("gh.cdn.test"), 12000).accept);
    // A response nobody allows is dropped and teaches nothing.
    EXPECT_FALSE(e.response(answer("evil.test", {rec("evil.test", 1, 60, "192.0.2.9")}), 0).accept);
    EXPECT_FALSE(e.traffic(0, ip("192.0.2.9"), 0).accept);
    // Loopback answers allow nothing.
    e.response(answer("lo.github.com", {rec("lo.github.com", 1, 60, "127.0.0.1")}), 0);
    EXPECT_FALSE(e.traffic(0, ip("127.0.0.1"), 0).accept);
    e.expire(11000);
    EXPECT_EQ(e.allowed_addresses(0), 0u);
}

TEST(Engine, RecordTtlModes) {
    Engine e(config(kTwo));  // "other": 1 s, recordTTL longer
    e.response(answer("other.test", {rec("other.test", 1, 30, "192.0.2.7")}), 0);
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
allowedHostnames = ["a.test"]
allowAnswersFor = "1s"
recordTTL = ")") + mode + "\"\n";
        Engine m(config(text.c_str()));
        m.response(answer("a.test", {rec("a.test", 1, static_cast<uint32_t>(ttl), "192.0.2.1")}),
                   0);
        if (want_ms > 0) {
            EXPECT_TRUE(m.traffic(0, ip("192.0.2.1"), want_ms - 1).accept) << mode;
        }
        EXPECT_FALSE(m.traffic(0, ip("192.0.2.1"), want_ms).accept) << mode << ttl;
    }
}

TEST(Engine, CachedHostnamesAndAllowAll) {
    Engine e(config(R"(
[[filters]]
name = "c"
trafficQueue = { ipv4 = 1 }
cachedHostnames = ["updates.example.test"]
reCacheEvery = "1m"
)"));
    e.set_cached(0, {ip("192.0.2.44")});
    EXPECT_TRUE(e.traffic(0, ip("192.0.2.44"), 1LL << 50).accept);  // no expiry
    e.set_cached(0, {ip("192.0.2.45")});
    EXPECT_FALSE(e.traffic(0, ip("192.0.2.44"), 0).accept);  // replaced by the next resolution
    Engine all(config(R"(
inboundDNSQueue = { ipv6 = 3 }
[[filters]]
name = "all"
dnsQueue = { ipv6 = 4 }
allowAllHostnames = true
allowAnswersFor = "2s"
)"));
    EXPECT_TRUE(all.query(0, query("anything.test"), 0).accept);
    all.response(answer("anything.test", {rec("anything.test", 28, 9, "2001:db8::9")}), 0);
    EXPECT_TRUE(all.traffic(0, ip("2001:db8::9"), 1999).accept);
}

TEST(EnforceConfig, ErrorsNameFileLineAndKey) {
    const std::pair<const char*, const char*> cases[] = {
        {"[[filters]]\nname = \"a\"\ntrafficQueue = { ipv4 = 1 }\nallowedHostnames = [\"a\"]\n",
         "t.toml:1: filter 'a' needs allowAnswersFor"},
        {"[[filters]]\nname = \"a\"\ndnsQueue = { ipv4 = 1 }\nallowAllHostnames = true\n"
         "allowAnswersFor = \"1s\"\n",
         "t.toml: filters with a dnsQueue need inboundDNSQueue (the answers)"},
        {"[[filters]]\nname = \"a\"\ntrafficQueue = { ipv4 = 70000 }\n",
         "t.toml:3: trafficQueue.ipv4 must be a queue number in [0, 65535]"},
        {"[[filters]]\nname = \"a\"\ntrafficQueue = { ipv4 = 1 }\nallowedHostnames = [\"a b\"]\n"
         "allowAnswersFor = \"1s\"\n",
         "t.toml:4: allowedHostnames: not a host name 'a b'"},
        {"[[filters]]\nname = \"a\"\ntrafficQueue = { ipv4 = 1 }\nallowedHostnames = [\"a\"]\n"
         "allowAnswersFor = \"soon\"\n",
         "t.toml:5: allowAnswersFor: bad duration"},
        {"[[filters]]\nname = \"a\"\ntrafficQueue = { ipv4 = 1 }\nallowAllHostnames = true\n"
         "allowedHostnames = [\"a\"]\nallowAnswersFor = \"1s\"\n",
         "t.toml:1: filter 'a': allowAllHostnames and allowedHostnames exclude each other"},
        {"[[filters]]\nname = \"a\"\ntrafficQueue = { ipv4 = 1 }\ncachedHostnames = [\"a\"]\n",
         "t.toml:1: filter 'a': cachedHostnames needs reCacheEvery"},
        {"[[filters]]\nname = \"a\"\ntrafficQueue = { ipv4 = 1 }\nallowAllHostnames = true\n"
         "allowAnswersFor = \"1s\"\nbogus = 1\n",
         "t.toml:6: unknown key filters.bogus"},
        {"[[filters]]\nname = \"a\"\ntrafficQueue = { ipv4 = 1 }\nallowAllHostnames = true\n"
         "allowAnswersFor = \"1s\"\n[[filters]]\nname = \"a\"\ntrafficQueue = { ipv4 = 2 }\n"
         "allowAllHostnames = true\nallowAnswersFor = \"1s\"\n",
         "t.toml:6: filter name 'a' is used twice"},
        {"x = 1\n", "t.toml:1: unknown key x"},
        {"", "t.toml: no [[filters]]"},
    };
    for (const auto& [text, want] : cases) {
        auto r = parse_enforce_config(text, "t.toml");
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_EQ(r.error().message.rfind(want, 0), 0u) << r.error().message << "\nwant: " << want;
    }
}

}  // namespace em
