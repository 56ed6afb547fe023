#include "collector/rules.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace em {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kT0 = 1795347335;
constexpr int64_t kDay = 86400;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

DomainEntry dom(const std::string& name, int64_t count = 1, std::vector<IpAddress> ips = {}) {
    return DomainEntry{name, count, kT0, std::move(ips)};
}
IpEntry ipe(const char* addr, int64_t count = 1) { return IpEntry{ip(addr), count, kT0}; }

Snapshot sorted(Snapshot s) {
    std::sort(s.domains.begin(), s.domains.end(),
              [](const DomainEntry& a, const DomainEntry& b) { return a.name < b.name; });
    std::sort(s.ips.begin(), s.ips.end(),
              [](const IpEntry& a, const IpEntry& b) { return a.ip < b.ip; });
    return s;
}

std::vector<std::string> keys(const std::vector<Finding>& f) {
    std::vector<std::string> out;
    for (const auto& x : f) out.push_back(x.key);
    std::sort(out.begin(), out.end());
    return out;
}

using Keys = std::vector<std::string>;

class RulesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("em-rules-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        auto s = HistoryStore::open((dir_ / "history.sqlite").string());
        ASSERT_TRUE(s.ok()) << s.error().message;
        store_ = std::move(s.value());
    }
    void TearDown() override {
        store_.reset();
        fs::remove_all(dir_);
    }
    // Applies `snap` to `host` at `now`, then runs `rule` on the result.
    std::vector<Finding> step(const HostRule& rule, const std::string& host, Snapshot snap,
                              int64_t now) {
        Transaction tx(*store_);
        EXPECT_TRUE(tx.begin().ok());
        auto h = store_->host(host, {}, now);
        EXPECT_TRUE(h.ok());
        static int serial = 0;
        FileMeta meta{std::to_string(++serial), std::to_string(serial), "", ""};
        auto oc = store_->ingest(*h, sorted(std::move(snap)), meta, now, state_);
        EXPECT_TRUE(oc.ok()) << oc.error().message;
        EXPECT_TRUE(tx.commit().ok());
        outcome_ = std::move(oc.value());
        record_ = *h;
        std::vector<Finding> out;
        rule.evaluate(HostContext{record_, state_, outcome_, *store_, now, names_}, out);
        return out;
    }
    fs::path dir_;
    std::unique_ptr<HistoryStore> store_;
    HostState state_;
    IngestOutcome outcome_;
    HostRecord record_;
    const std::vector<FlowNameFileEntry>* names_ = nullptr;  // the host's flow-names.log
};

FlowNameFileEntry named(const char* addr, const char* name, const char* protocol = "tls",
                        int64_t count = 1, bool ech = false) {
    return FlowNameFileEntry{ip(addr), name, protocol, count, kT0, ech};
}

const Finding* finding(const std::vector<Finding>& f, const std::string& key) {
    for (const auto& x : f)
        if (x.key == key) return &x;
    return nullptr;
}

// ---- new_domain ----

TEST_F(RulesTest, NewDomainAlertsOnlyAfterLearningAndOutsideTheBaseline) {
    NewDomainRule rule(NewDomainConfig{true, 7, {"*.debian.org", "exact.example.net"}});
    EXPECT_TRUE(step(rule, "web1", Snapshot{{dom("api.github.com")}, {}}, kT0).empty());
    // Day 3, still learning: a new domain joins the baseline, no alert.
    EXPECT_TRUE(
        step(rule, "web1", Snapshot{{dom("api.github.com"), dom("learned.io")}, {}}, kT0 + 3 * kDay)
            .empty());
    // Day 8: only evil.example.com is both new and of an unknown registrable domain.
    auto f = step(
        rule, "web1",
        Snapshot{{dom("api.github.com"), dom("learned.io"), dom("raw.github.com"),
                  dom("cdn.learned.io"), dom("deb.debian.org"), dom("debian.org"),
                  dom("exact.example.net"), dom("other.example.net"), dom("evil.example.com", 4)},
                 {}},
        kT0 + 8 * kDay);
    // One finding per registrable domain, named by it.
    EXPECT_EQ(keys(f), (Keys{"example.com", "example.net"}));
    EXPECT_NE(f[0].message.find("new domain evil.example.com, first seen"), std::string::npos);
    EXPECT_NE(f[0].message.find("add \"*.example.com\" to [rules.new_domain] allow"),
              std::string::npos);
    // Still there a day later: still a finding (the alert stays open).
    f = step(rule, "web1",
             Snapshot{{dom("api.github.com"), dom("learned.io"), dom("evil.example.com", 9)}, {}},
             kT0 + 9 * kDay);
    EXPECT_EQ(keys(f), (Keys{"example.com"}));
}

TEST_F(RulesTest, NewDomainDuringLearningNeverAlerts) {
    NewDomainRule rule(NewDomainConfig{true, 7, {}});
    step(rule, "web1", Snapshot{{dom("a.com")}, {}}, kT0);
    EXPECT_TRUE(
        step(rule, "web1", Snapshot{{dom("a.com"), dom("evil.net")}, {}}, kT0 + 6 * kDay).empty());
    // After learning, evil.net belongs to the baseline.
    EXPECT_TRUE(
        step(rule, "web1", Snapshot{{dom("a.com"), dom("evil.net")}, {}}, kT0 + 8 * kDay).empty());
}

TEST_F(RulesTest, NewDomainIgnoresKeysKnownBeforeAReset) {
    NewDomainRule rule(NewDomainConfig{true, 0, {}});
    step(rule, "web1", Snapshot{{dom("a.com", 50), dom("b.org", 50)}, {}}, kT0);
    // Reinstalled agent: counts restart, b.org not queried yet.
    EXPECT_TRUE(step(rule, "web1", Snapshot{{dom("a.com", 2)}, {}}, kT0 + kDay).empty());
    EXPECT_TRUE(outcome_.domains_reset);
    // b.org comes back: known before the reset, not new. c.net is new.
    auto f = step(rule, "web1", Snapshot{{dom("a.com", 3), dom("b.org", 1), dom("c.net")}, {}},
                  kT0 + 2 * kDay);
    EXPECT_EQ(keys(f), (Keys{"c.net"}));
}

TEST_F(RulesTest, NewDomainAllowlistForms) {
    NewDomainRule rule(NewDomainConfig{true, 7, {"*.debian.org", "exact.example.net"}});
    EXPECT_TRUE(rule.allowed("debian.org"));
    EXPECT_TRUE(rule.allowed("deb.debian.org"));
    EXPECT_TRUE(rule.allowed("*.security.debian.org"));
    EXPECT_FALSE(rule.allowed("notdebian.org"));
    EXPECT_TRUE(rule.allowed("exact.example.net"));
    EXPECT_FALSE(rule.allowed("sub.exact.example.net"));
}

// ---- direct_ip ----

TEST_F(RulesTest, DirectIpFlagsAddressesNoDomainListed) {
    auto cidr = Cidr::parse("10.0.0.0/8");
    ASSERT_TRUE(cidr);
    DirectIpRule rule(DirectIpConfig{true, {*cidr, *Cidr::parse("2001:db8:1::/48")}});
    auto f =
        step(rule, "web1",
             Snapshot{{dom("api.example.com", 1, {ip("192.0.2.10"), ip("2001:db8::10")}),
                       dom("nx.example.com")},
                      {ipe("10.1.2.3"), ipe("127.0.0.1"), ipe("192.0.2.10"), ipe("203.0.113.9"),
                       ipe("2001:db8::10"), ipe("2001:db8::5"), ipe("2001:db8:1::7")}},
             kT0);
    EXPECT_EQ(keys(f), (Keys{"2001:db8::5", "203.0.113.9"}));
    // A domain later resolving to the address explains it: the condition no longer holds.
    f = step(rule, "web1",
             Snapshot{{dom("api.example.com", 1, {ip("192.0.2.10"), ip("2001:db8::10")}),
                       dom("nx.example.com", 1, {ip("203.0.113.9")})},
                      {ipe("10.1.2.3"), ipe("127.0.0.1"), ipe("192.0.2.10"), ipe("203.0.113.9"),
                       ipe("2001:db8::10"), ipe("2001:db8::5"), ipe("2001:db8:1::7")}},
             kT0 + 60);
    EXPECT_EQ(keys(f), (Keys{"2001:db8::5"}));
}

// With the agent's flow-names.log, an address no DNS answer explains is told apart: names
// its first packets gave ("its first packets claimed"), or none ("no name at all"). Without the
// file (an older agent) the message says neither.
TEST_F(RulesTest, DirectIpTellsResolvedElsewhereFromNoNameAtAll) {
    DirectIpRule rule(DirectIpConfig{true, {}});
    const Snapshot snap{
        {dom("api.example.com", 1, {ip("192.0.2.10")})},
        {ipe("192.0.2.10"), ipe("198.51.100.7", 3), ipe("203.0.113.9", 2), ipe("2001:db8::5")}};
    const std::vector<FlowNameFileEntry> names = {
        named("192.0.2.10", "api.example.com"),  // explained by DNS anyway
        named("198.51.100.7", "a.example"),
        named("198.51.100.7", "b.example", "http"),
        named("198.51.100.7", "c.example", "quic", 1, true),
        named("198.51.100.7", "d.example"),
        named("2001:db8::5", "v6.example", "quic")};
    names_ = &names;
    auto f = step(rule, "web1", snap, kT0);
    ASSERT_EQ(keys(f), (Keys{"198.51.100.7", "2001:db8::5", "203.0.113.9"}));
    EXPECT_NE(finding(f, "198.51.100.7")
                  ->message.find("3 connections to an address no domain of this host resolved "
                                 "to; its first packets claimed TLS name a.example, HTTP Host "
                                 "b.example, QUIC name c.example (ECH offered: the outer name "
                                 "only), and 1 more (resolved elsewhere, e.g. DoH, or a made-up "
                                 "name) (last 2026-11-22T11:35:35Z)"),
              std::string::npos)
        << finding(f, "198.51.100.7")->message;
    EXPECT_NE(finding(f, "2001:db8::5")->message.find("claimed QUIC name v6.example ("),
              std::string::npos);
    EXPECT_NE(finding(f, "203.0.113.9")
                  ->message.find("2 connections to an address no domain of this host resolved "
                                 "to, no name at all"),
              std::string::npos)
        << finding(f, "203.0.113.9")->message;

    names_ = nullptr;  // no flow-names.log: the message of before
    f = step(rule, "web1", snap, kT0 + 60);
    ASSERT_EQ(keys(f), (Keys{"198.51.100.7", "2001:db8::5", "203.0.113.9"}));
    for (const auto& x : f) {
        EXPECT_EQ(x.message.find("first packets claimed"), std::string::npos);
        EXPECT_EQ(x.message.find("no name at all"), std::string::npos);
        EXPECT_NE(x.message.find("resolved to (last "), std::string::npos) << x.message;
    }
}

TEST(CidrTest, ParsesAndMatchesBothFamilies) {
    auto v4 = Cidr::parse("192.0.2.77/24");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->net, ip("192.0.2.0"));
    EXPECT_TRUE(v4->contains(ip("192.0.2.255")));
    EXPECT_FALSE(v4->contains(ip("192.0.3.0")));
    EXPECT_FALSE(v4->contains(ip("::ffff:192.0.2.1")));
    auto v6 = Cidr::parse("2001:db8::/33");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->contains(ip("2001:db8:7fff::1")));
    EXPECT_FALSE(v6->contains(ip("2001:db8:8000::1")));
    auto host = Cidr::parse("198.51.100.1");
    ASSERT_TRUE(host);
    EXPECT_EQ(host->prefix, 32);
    EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(ip("203.0.113.1")));
    for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "::/129", "x", "10.0.0.0/-1"})
        EXPECT_FALSE(Cidr::parse(bad)) << bad;
}

// ---- public_resolver ----

TEST_F(RulesTest, PublicResolverMatchesAddressesAndDohNames) {
    auto list = ResolverList::parse(
        "# comment\n\nip 8.8.8.8  # Google Public DNS\nip 2606:4700:4700::1111 # Cloudflare\n"
        "host dns.google  # Google DoH\nhost dns.nextdns.io # NextDNS\n",
        "test-list");
    ASSERT_TRUE(list.ok()) << list.error().message;
    EXPECT_EQ(list->size(), 4u);
    PublicResolverRule rule(std::move(list.value()));
    auto f = step(rule, "web1",
                  Snapshot{{dom("abc123.dns.nextdns.io"), dom("dns.google"),
                            dom("dns.google.example.com"), dom("notdns.google")},
                           {ipe("8.8.4.4"), ipe("8.8.8.8"), ipe("2606:4700:4700::1111")}},
                  kT0);
    EXPECT_EQ(keys(f),
              (Keys{"2606:4700:4700::1111", "8.8.8.8", "abc123.dns.nextdns.io", "dns.google"}));
    for (const auto& x : f)
        if (x.key == "8.8.8.8") {
            EXPECT_NE(x.message.find("Google Public DNS"), std::string::npos);
        }
}

// A DoH name and the connections to the address it resolved to are one finding.
TEST_F(RulesTest, PublicResolverFoldsTheAnsweredAddressIntoTheName) {
    auto list = ResolverList::parse("ip 8.8.8.8  # Google Public DNS\nhost dns.google  # Google\n",
                                    "test-list");
    ASSERT_TRUE(list.ok()) << list.error().message;
    PublicResolverRule rule(std::move(list.value()));
    auto f = step(rule, "web1",
                  Snapshot{{dom("dns.google", 4, {ip("8.8.8.8")})}, {ipe("8.8.8.8", 7)}}, kT0);
    ASSERT_EQ(keys(f), (Keys{"dns.google"}));
    EXPECT_NE(f[0].message.find("; 7 connections to its address 8.8.8.8"), std::string::npos)
        << f[0].message;
}

// DoH to a hard-coded address: no DNS query, the address not on the list, but the first
// packet's server name is a listed DoH host.
TEST_F(RulesTest, PublicResolverByFirstPacketName) {
    auto list = ResolverList::parse(
        "ip 8.8.8.8  # Google Public DNS\nhost dns.google  # Google DoH\n"
        "host cloudflare-dns.com  # Cloudflare DoH\n",
        "test-list");
    ASSERT_TRUE(list.ok()) << list.error().message;
    PublicResolverRule rule(std::move(list.value()));
    const std::vector<FlowNameFileEntry> names = {
        named("8.8.8.8", "dns.google", "tls", 2),
        named("104.16.248.249", "mozilla.cloudflare-dns.com", "quic", 1),
        named("104.16.248.249", "mozilla.cloudflare-dns.com", "tls", 5),
        named("192.0.2.1", "www.example.com")};
    names_ = &names;
    auto f = step(rule, "web1",
                  Snapshot{{dom("other.example", 1, {ip("192.0.2.1")})},
                           {ipe("8.8.8.8", 2), ipe("104.16.248.249", 6), ipe("192.0.2.1")}},
                  kT0);
    ASSERT_EQ(keys(f), (Keys{"dns.google", "mozilla.cloudflare-dns.com"}));
    const Finding* cf = finding(f, "mozilla.cloudflare-dns.com");
    EXPECT_NE(cf->message.find("6 connections whose first packet named a DNS-over-HTTPS/TLS "
                               "resolver (Cloudflare DoH; QUIC to 104.16.248.249, TLS to "
                               "104.16.248.249)"),
              std::string::npos)
        << cf->message;
    // The listed address 8.8.8.8 is the same incident as the name its flows gave.
    const Finding* g = finding(f, "dns.google");
    EXPECT_NE(g->message.find("; 2 connections to its address 8.8.8.8"), std::string::npos)
        << g->message;

    // Queried through DNS too: one finding for the name, the first packets' facts in it.
    f = step(rule, "web1",
             Snapshot{{dom("mozilla.cloudflare-dns.com", 3, {ip("104.16.248.249")})},
                      {ipe("104.16.248.249", 6)}},
             kT0 + 60);
    ASSERT_EQ(keys(f), (Keys{"dns.google", "mozilla.cloudflare-dns.com"}));
    cf = finding(f, "mozilla.cloudflare-dns.com");
    EXPECT_NE(cf->message.find("3 queries for a DNS-over-HTTPS/TLS resolver name"),
              std::string::npos);
    EXPECT_NE(cf->message.find("; 6 connections whose first packet named it"), std::string::npos)
        << cf->message;

    names_ = nullptr;  // an older agent: only the address list and DNS names
    f = step(rule, "web1", Snapshot{{}, {ipe("104.16.248.249", 6)}}, kT0 + 120);
    EXPECT_TRUE(f.empty());
}

TEST(ResolverListTest, ErrorsNameTheLine) {
    auto r = ResolverList::parse("ip 1.1.1.1\nip 1.1.1.300 # bad\n", "list.txt");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "list.txt:2: bad address \"1.1.1.300\"");
    r = ResolverList::parse("dns 1.1.1.1\n", "list.txt");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("list.txt:1: unknown entry kind"), std::string::npos);
    r = ResolverList::parse("host Dns.Google.\n", "list.txt");
    EXPECT_FALSE(r.ok());
    r = ResolverList::parse("ip 1.1.1.1 1.0.0.1\n", "list.txt");
    EXPECT_FALSE(r.ok());
}

TEST(ResolverListTest, TheShippedListLoads) {
    auto r =
        ResolverList::load(std::string(EM_TEST_DATA) + "/../../packaging/public-resolvers.txt");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_GT(r->size(), 40u);
    for (const char* a :
         {"8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "1.1.1.1", "1.0.0.1",
          "2606:4700:4700::1111", "9.9.9.9", "149.112.112.112", "208.67.222.222", "208.67.220.220"})
        EXPECT_NE(r->match_ip(ip(a)), nullptr) << a;
    for (const char* h : {"dns.google", "cloudflare-dns.com", "dns.quad9.net", "doh.opendns.com",
                          "dns.nextdns.io", "xyz.dns.nextdns.io"})
        EXPECT_NE(r->match_host(h), nullptr) << h;
    EXPECT_EQ(r->match_ip(ip("192.0.2.1")), nullptr);
    EXPECT_EQ(r->match_host("example.com"), nullptr);
}

// ---- tunnel ----

TEST_F(RulesTest, TunnelCountsNamesPerRegistrableDomain) {
    TunnelRule rule(TunnelConfig{true, 5, 50, 4.0});
    Snapshot s;
    for (int i = 0; i < 6; ++i) s.domains.push_back(dom("n" + std::to_string(i) + ".tunnel.com"));
    for (int i = 0; i < 5; ++i) s.domains.push_back(dom("n" + std::to_string(i) + ".fine.co.uk"));
    auto f = step(rule, "web1", std::move(s), kT0);
    EXPECT_EQ(keys(f), (Keys{"tunnel.com"}));
    EXPECT_NE(f[0].message.find("6 names under tunnel.com (more than 5)"), std::string::npos);
}

TEST_F(RulesTest, TunnelFlagsFoldedLinesLongAndRandomLabels) {
    TunnelRule rule(TunnelConfig{true, 500, 50, 4.0});
    const std::string label50(50, 'a'), label51(51, 'a');
    auto f = step(
        rule, "web1",
        Snapshot{{dom("*.flood.net", 900), dom(label50 + ".ok50.com"), dom(label51 + ".long.com"),
                  dom("k3j9x0qz7mw2p5r8t1v4.random.org"), dom("k3j9x0qz7mw2p5r8t1v.short19.org"),
                  dom("aaaaaaaaaabbbbbbbbbbcccc.plain.org"), dom("www.example.com")},
                 {}},
        kT0);
    EXPECT_EQ(keys(f), (Keys{"flood.net", "long.com", "random.org"}));
    for (const auto& x : f) {
        if (x.key == "flood.net") {
            EXPECT_NE(x.message.find("folded line *.flood.net"), std::string::npos);
        }
        if (x.key == "long.com") {
            EXPECT_NE(x.message.find("label of 51 characters"), std::string::npos);
        }
        if (x.key == "random.org") {
            EXPECT_NE(x.message.find("bits of entropy"), std::string::npos);
        }
    }
}

TEST_F(RulesTest, TunnelFlagsNamesTheResolverCouldNotPrint) {
    TunnelRule rule(TunnelConfig{true, 500, 50, 4.0});
    auto f = step(rule, "web1",
                  Snapshot{{dom("unprintable.invalid", 412), dom("www.example.com")}, {}}, kT0);
    ASSERT_EQ(keys(f), (Keys{"unprintable.invalid"}));
    EXPECT_NE(f[0].message.find("412 queries for names with raw binary bytes"), std::string::npos)
        << f[0].message;
    EXPECT_NE(f[0].message.find("--key unprintable.invalid"), std::string::npos) << f[0].message;
}

// ---- dga ----

TEST_F(RulesTest, DgaIsOneFindingPerHostCoveringEveryGeneratedDomain) {
    DgaRule rule(DgaConfig{});
    auto f = step(
        rule, "web1",
        Snapshot{{dom("api.github.com", 5, {ip("192.0.2.1")}),
                  dom("d1a2b3c4d5e6f7.cloudfront.net", 2, {ip("192.0.2.2")}),
                  dom("internal-x-1234567890.eu-west-1.elb.amazonaws.com", 1, {ip("192.0.2.3")}),
                  dom("xkqzvbhwpjrtmnf.com", 1), dom("www.xkqzvbhwpjrtmnf.com", 2),
                  dom("9f86d081884c7d659a2feaa0c55ad015.net", 1),
                  dom("*.qwzxkvbnjhtrplm.org", 40)},  // folded: not judged
                 {}},
        kT0);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].key, "burst");
    EXPECT_EQ(f[0].weight, 2);
    EXPECT_EQ(f[0].covers, (Keys{"9f86d081884c7d659a2feaa0c55ad015.net", "xkqzvbhwpjrtmnf.com"}));
    EXPECT_NE(f[0].message.find("2 registrable domains that look generated"), std::string::npos)
        << f[0].message;
    EXPECT_NE(f[0].message.find("2 of them never answered, 4 queries"), std::string::npos)
        << f[0].message;
    EXPECT_NE(f[0].message.find("[rules.dga] allow"), std::string::npos);
}

TEST_F(RulesTest, DgaSingleDomainIsItsKeyAndAllowSilences) {
    DgaRule one(DgaConfig{});
    auto f =
        step(one, "web1", Snapshot{{dom("a.xkqzvbhwpjrtmnf.com", 3, {ip("192.0.2.9")})}, {}}, kT0);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].key, "xkqzvbhwpjrtmnf.com");
    EXPECT_EQ(f[0].covers, (Keys{"xkqzvbhwpjrtmnf.com"}));
    EXPECT_NE(f[0].message.find("bits of evidence of random letters"), std::string::npos);
    EXPECT_NE(f[0].message.find("answered"), std::string::npos);
    EXPECT_NE(f[0].message.find("add \"*.xkqzvbhwpjrtmnf.com\" to [rules.dga] allow"),
              std::string::npos)
        << f[0].message;
    DgaConfig c;
    c.allow = {"*.xkqzvbhwpjrtmnf.com"};
    EXPECT_TRUE(step(DgaRule(c), "web1",
                     Snapshot{{dom("a.xkqzvbhwpjrtmnf.com", 3, {ip("192.0.2.9")})}, {}}, kT0 + 60)
                    .empty());
    c.allow = {"a.xkqzvbhwpjrtmnf.com"};  // an exact entry silences that name
    EXPECT_TRUE(step(DgaRule(c), "web1",
                     Snapshot{{dom("a.xkqzvbhwpjrtmnf.com", 3, {ip("192.0.2.9")})}, {}}, kT0 + 120)
                    .empty());
}

// A burst of never-answered new registrable domains is a DGA whatever the letters: these are
// word pairs (as Suppobox makes them), which the letter model rightly calls words.
TEST_F(RulesTest, DgaBurstOfUnansweredNewDomainsWhateverTheirLetters) {
    const char* words[] = {"gardenhunter", "silverladder", "oceanmarket",  "wintercastle",
                           "quietrocket",  "shadowtimber", "honestjacket", "velvetsummer",
                           "morningriver", "pocketzebra",  "famousdoctor"};
    auto with = [&](size_t n, bool answered) {
        Snapshot s{{dom("api.github.com", 5, {ip("192.0.2.1")})}, {}};
        for (size_t i = 0; i < n; ++i)
            s.domains.push_back(
                dom(std::string(words[i]) + ".net", 1,
                    answered ? std::vector{ip("192.0.2.7")} : std::vector<IpAddress>{}));
        return s;
    };
    DgaRule rule(DgaConfig{});
    // In the first snapshot they came from an unknown span of time: the baseline, quiet.
    EXPECT_TRUE(step(rule, "base", with(11, false), kT0).empty());
    // Nine new in a cycle: under burst_min 10, quiet; the tenth makes the burst.
    EXPECT_TRUE(step(rule, "web1", with(0, false), kT0).empty());
    EXPECT_TRUE(step(rule, "web1", with(9, false), kT0 + 300).empty());
    auto f = step(rule, "web1", with(10, false), kT0 + 600);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].key, "burst");
    EXPECT_EQ(f[0].weight, 10);
    EXPECT_EQ(f[0].covers.size(), 10u);
    EXPECT_NE(f[0].message.find("10 of them came in a burst: at least 10 registrable domains "
                                "first seen within 15 minutes that nobody answered"),
              std::string::npos)
        << f[0].message;
    EXPECT_NE(f[0].message.find("sets burst_min = 0"), std::string::npos) << f[0].message;
    // Answered, they are real names: quiet.
    EXPECT_TRUE(step(rule, "web2", with(0, false), kT0).empty());
    EXPECT_TRUE(step(rule, "web2", with(11, true), kT0 + 300).empty());
    // Spread over more than burst_minutes: quiet.
    EXPECT_TRUE(step(rule, "web3", with(0, false), kT0).empty());
    EXPECT_TRUE(step(rule, "web3", with(5, false), kT0 + 300).empty());
    EXPECT_TRUE(step(rule, "web3", with(10, false), kT0 + 300 + 16 * 60).empty());
    // burst_min = 0 turns the burst off.
    DgaConfig off;
    off.burst_min = 0;
    EXPECT_TRUE(step(DgaRule(off), "web4", with(0, false), kT0).empty());
    EXPECT_TRUE(step(DgaRule(off), "web4", with(11, false), kT0 + 300).empty());
}

TEST(TunnelEntropyTest, ShannonBitsPerCharacter) {
    EXPECT_DOUBLE_EQ(TunnelRule::entropy("aaaa"), 0.0);
    EXPECT_DOUBLE_EQ(TunnelRule::entropy("abab"), 1.0);
    EXPECT_NEAR(TunnelRule::entropy("k3j9x0qz7mw2p5r8t1v4"), std::log2(20.0), 1e-9);
}

// ---- volume_spike ----

TEST_F(RulesTest, VolumeSpikeNeedsHistoryFactorAndMinimum) {
    VolumeSpikeRule rule(VolumeSpikeConfig{true, 10.0, 5, 100});
    int64_t count = 1000, t = kT0;
    auto grow = [&](int64_t by) {
        count += by;
        t += 3600;
        return step(rule, "web1", Snapshot{{dom("api.example.com", count)}, {}}, t);
    };
    step(rule, "web1", Snapshot{{dom("api.example.com", count)}, {}}, t);
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(grow(10).empty());
    EXPECT_TRUE(grow(1000).empty()) << "only 4 earlier growths: not enough history";
    // Now 5 growths (mean 208): 2000 is under 10 x mean.
    EXPECT_TRUE(grow(2000).empty());
    // Mean of 6 growths = 506.7; 5401 is above 10 x mean.
    auto f = grow(5401);
    EXPECT_EQ(keys(f), (Keys{"api.example.com"}));
    EXPECT_NE(f[0].message.find("grew by 5401"), std::string::npos);
}

TEST_F(RulesTest, VolumeSpikeRespectsMinDelta) {
    VolumeSpikeRule rule(VolumeSpikeConfig{true, 10.0, 5, 100});
    int64_t count = 10, t = kT0;
    step(rule, "web1", Snapshot{{}, {ipe("192.0.2.1", count)}}, t);
    for (int i = 0; i < 5; ++i) {
        count += 1;
        step(rule, "web1", Snapshot{{}, {ipe("192.0.2.1", count)}}, t += 60);
    }
    count += 99;  // 99 x the mean, but below min_delta
    EXPECT_TRUE(step(rule, "web1", Snapshot{{}, {ipe("192.0.2.1", count)}}, t += 60).empty());
    count += 200;  // mean of 6 growths is 17.3: 200 > 173 and >= min_delta
    EXPECT_EQ(keys(step(rule, "web1", Snapshot{{}, {ipe("192.0.2.1", count)}}, t += 60)),
              (Keys{"192.0.2.1"}));
}

// ---- rare ----

class RareTest : public RulesTest {
  protected:
    void ingest(const std::string& host, std::vector<std::string> names, int64_t now) {
        Snapshot s;
        for (auto& n : names) s.domains.push_back(dom(n));
        struct Nothing : HostRule {
            std::string_view name() const override { return "nothing"; }
            void evaluate(const HostContext&, std::vector<Finding>&) const override {}
        } nothing;
        step(nothing, host, std::move(s), now);
        rare_.note(record_, state_, outcome_, *store_);
    }
    std::vector<AlertEvent> finish(int64_t now) {
        std::vector<AlertEvent> events;
        Transaction tx(*store_);
        EXPECT_TRUE(tx.begin().ok());
        auto r = rare_.finish(*store_, *book_, now, events);
        EXPECT_TRUE(r.ok()) << r.error().message;
        EXPECT_TRUE(tx.commit().ok());
        return events;
    }
    Keys open() {
        Keys out;
        auto alerts = book_->open_alerts("", "rare");
        EXPECT_TRUE(alerts.ok());
        for (const auto& a : *alerts) out.push_back(a.host + ":" + a.key);
        return out;
    }
    void SetUp() override {
        RulesTest::SetUp();
        auto b = AlertBook::create(store_->db());
        ASSERT_TRUE(b.ok());
        book_.emplace(std::move(b.value()));
    }
    RareRule rare_{RareConfig{true, 1, 3}};
    std::optional<AlertBook> book_;
};

TEST_F(RareTest, RareDomainsOnceTheFleetIsLargeEnough) {
    rare_.begin_cycle(*store_);
    ingest("h1", {"common.com", "only1.com"}, kT0);
    ingest("h2", {"common.com"}, kT0);
    EXPECT_TRUE(finish(kT0).empty()) << "a fleet of 2 is below min_fleet";
    EXPECT_TRUE(open().empty());

    rare_.begin_cycle(*store_);
    ingest("h3", {"common.com", "only3.com"}, kT0 + 60);
    auto events = finish(kT0 + 60);
    // h1 did not change this cycle: the fleet reaching min_fleet makes the rule rescan.
    EXPECT_TRUE(rare_.scanned());
    EXPECT_EQ(open(), (Keys{"h1:only1.com", "h3:only3.com"}));
    EXPECT_EQ(events.size(), 2u);

    // h2 starts using only1.com: no longer rare, h1's alert resolves without h1 changing.
    rare_.begin_cycle(*store_);
    ingest("h2", {"common.com", "only1.com"}, kT0 + 120);
    events = finish(kT0 + 120);
    EXPECT_FALSE(rare_.scanned());
    EXPECT_EQ(open(), (Keys{"h3:only3.com"}));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_FALSE(events[0].open);
    EXPECT_EQ(events[0].host, "h1");

    // h2 drops it again: rare on h1 once more; only a rescan can find h1.
    rare_.begin_cycle(*store_);
    ingest("h2", {"common.com"}, kT0 + 180);
    events = finish(kT0 + 180);
    EXPECT_TRUE(rare_.scanned());
    EXPECT_EQ(open(), (Keys{"h1:only1.com", "h3:only3.com"}));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_TRUE(events[0].open);

    // Nothing changed: no rescan, no transitions.
    rare_.begin_cycle(*store_);
    EXPECT_TRUE(finish(kT0 + 240).empty());
    EXPECT_FALSE(rare_.scanned());
}

// ---- stale ----

TEST(StaleTest, UnreachableOrFilesStoppedChanging) {
    StaleRule rule(StaleConfig{true, 30, 1440});
    HostRecord h;
    h.name = "web1";
    h.added = kT0;
    std::vector<Finding> f;
    rule.evaluate(h, kT0 + 29 * 60, f);
    EXPECT_TRUE(f.empty()) << "never fetched, but only 29 minutes old";
    rule.evaluate(h, kT0 + 30 * 60, f);
    ASSERT_EQ(keys(f), (Keys{"web1"}));
    EXPECT_NE(f[0].message.find("unreachable"), std::string::npos);

    f.clear();
    h.last_ok = kT0 + 3 * kDay;
    h.last_change = kT0 + 2 * kDay;
    h.last_error = "web1: timeout";
    rule.evaluate(h, kT0 + 3 * kDay + 31 * 60, f);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_NE(f[0].message.find("unreachable: no good fetch since"), std::string::npos);
    EXPECT_NE(f[0].message.find("last error: web1: timeout"), std::string::npos);

    f.clear();
    rule.evaluate(h, kT0 + 3 * kDay + 60, f);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_NE(f[0].message.find("files stopped changing"), std::string::npos);

    f.clear();
    h.last_change = kT0 + 3 * kDay - 600;
    rule.evaluate(h, kT0 + 3 * kDay + 60, f);
    EXPECT_TRUE(f.empty());
}

}  // namespace

}  // namespace em
