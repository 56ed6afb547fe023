#include "collector/correlate.h"

#include <gtest/gtest.h>

namespace em {

namespace {

// The registrable domain as the tests' names have it: the last two labels.
std::string_view base2(std::string_view n) {
    size_t last = n.rfind('.');
    if (last == std::string_view::npos || last == 0) return n;
    size_t prev = n.rfind('.', last - 1);
    return prev == std::string_view::npos ? n : n.substr(prev + 1);
}

std::vector<std::string> keys(const RuleFindings& r) {
    std::vector<std::string> out;
    for (const auto& f : r.findings) out.push_back(f.key);
    return out;
}

}  // namespace

TEST(Correlate, OneCauseOneAlert) {
    std::vector<RuleFindings> rules{
        {"new_domain",
         {{"tunnel.example",
           "400 new names under tunnel.example (a, b, c and 397 more), first "
           "seen 2026-11-22T11:35:35Z: tunnel.example is not among ...",
           400},
          {"dns.google", "new domain dns.google, first seen x: not among ..."},
          {"fresh.example", "new domain www.fresh.example, first seen y: not among ..."}},
         {}},
        {"direct_ip", {{"8.8.8.8", "5 connections"}, {"203.0.113.9", "3 connections"}}, {}},
        {"public_resolver",
         {{"8.8.8.8", "5 connections to a public DNS resolver"},
          {"dns.google", "9 queries for a DNS-over-HTTPS/TLS resolver name"}},
         {}},
        {"tunnel", {{"tunnel.example", "400 names under tunnel.example (more than 100)"}}, {}},
    };
    correlate(rules, base2);
    EXPECT_EQ(keys(rules[0]), std::vector<std::string>{"fresh.example"});
    EXPECT_EQ(keys(rules[1]), std::vector<std::string>{"203.0.113.9"});
    EXPECT_EQ(keys(rules[2]), (std::vector<std::string>{"8.8.8.8", "dns.google"}));
    EXPECT_EQ(rules[3].findings[0].message,
              "400 names under tunnel.example (more than 100); also new on this host: 400 new "
              "names under tunnel.example (a, b, c and 397 more), first seen "
              "2026-11-22T11:35:35Z");
    EXPECT_EQ(rules[2].findings[1].message,
              "9 queries for a DNS-over-HTTPS/TLS resolver name; also new on this host: new "
              "domain dns.google, first seen x");
    // The public resolver's address fact is its own: nothing appended.
    EXPECT_EQ(rules[2].findings[0].message, "5 connections to a public DNS resolver");
    // An open alert that a folded finding stood for resolves with the reason.
    EXPECT_EQ(rules[1].why.at("8.8.8.8"), "reported as public_resolver");
    EXPECT_EQ(rules[0].why.at("tunnel.example"), "reported as tunnel");
    EXPECT_EQ(rules[0].why.count("fresh.example"), 0u);
}

TEST(Correlate, RulesThatAreOffChangeNothing) {
    std::vector<RuleFindings> rules{
        {"new_domain", {{"tunnel.example", "x"}}, {}},
        {"direct_ip", {{"8.8.8.8", "y"}}, {}},
    };
    correlate(rules, base2);
    EXPECT_EQ(keys(rules[0]), std::vector<std::string>{"tunnel.example"});
    EXPECT_EQ(keys(rules[1]), std::vector<std::string>{"8.8.8.8"});
}

// A hostile or broken host cannot raise more than max_alerts_per_host alerts per rule.
TEST(Correlate, AFloodOfFindingsIsOneSummaryAlert) {
    std::vector<RuleFindings> rules{{"new_domain", {}, {}},
                                    {"direct_ip", {{"203.0.113.9", "x"}}, {}}};
    for (int i = 0; i < 500; ++i)
        rules[0].findings.push_back(
            Finding{"d" + std::to_string(i) + ".example", "new domain", i == 7 ? 50 : 1});
    cap_findings(rules, 20);
    ASSERT_EQ(keys(rules[0]), std::vector<std::string>{"*"});
    const Finding& f = rules[0].findings[0];
    EXPECT_EQ(f.weight, 500);
    EXPECT_EQ(f.covers.size(), 500u);
    EXPECT_EQ(f.message.rfind("500 new_domain findings on this host at once, more than [rules] "
                              "max_alerts_per_host = 20: d7.example, d0.example, d1.example and "
                              "497 more; the largest: new domain",
                              0),
              0u)
        << f.message;
    EXPECT_EQ(rules[0].why.at("d3.example"), "now counted in the host's summary alert (key *)");
    EXPECT_EQ(keys(rules[1]), std::vector<std::string>{"203.0.113.9"});  // under the bound
    cap_findings(rules, 0);                                              // no bound: unchanged
    EXPECT_EQ(keys(rules[0]), std::vector<std::string>{"*"});
}

}  // namespace em
