// The conntrack half of enforce's DNS verdicts (engine.h): egress-eddie's rule that a query
// must be on a connection conntrack tracks and a response on an established one.
#include <gtest/gtest.h>

#include "enforce/enforce_config.h"
#include "enforce/engine.h"

namespace em {

namespace {

Engine engine() {
    auto c = parse_enforce_config(R"(
inboundDNSQueue = { ipv4 = 1 }
[[filters]]
name = "host"
dnsQueue = { ipv4 = 1000 }
trafficQueue = { ipv4 = 1002 }
allowedHostnames = ["fixed.test"]
allowAnswersFor = "10s"
)",
                                  "t.toml");
    EXPECT_TRUE(c.ok()) << c.error().message;
    return Engine(c.ok() ? *c : EnforceConfig{});
}

DnsMessage question(bool response) {
    DnsMessage m;
    m.qname = "fixed.test";
    m.question_count = 1;
    m.id = 0x4242;
    m.qtype = 1;
    m.response = response;
    if (response) {
        DnsRecord r;
        r.name = "fixed.test";
        r.type = 1;
        r.ttl = 60;
        r.address = IpAddress::parse("192.0.2.10");
        m.answers.push_back(r);
    }
    return m;
}

const DnsFlow kFlow{17, *IpAddress::parse("198.51.100.2"), *IpAddress::parse("198.51.100.1"), 40000,
                    53};

}  // namespace

TEST(EngineConntrack, StatesAsTheKernelNumbersThem) {
    EXPECT_EQ(ct_state(std::nullopt), CtState::untracked);  // no entry: -j CT --notrack
    EXPECT_EQ(ct_state(7), CtState::untracked);             // IP_CT_UNTRACKED
    EXPECT_EQ(ct_state(2), CtState::new_flow);              // IP_CT_NEW
    for (uint32_t s : {0u, 1u, 3u, 4u})  // ESTABLISHED, RELATED and their replies
        EXPECT_EQ(ct_state(s), CtState::established) << s;
    for (uint32_t s : {5u, 6u, 8u, 0xffffffffu}) EXPECT_EQ(ct_state(s), CtState::untracked) << s;
}

TEST(EngineConntrack, QueriesOnUntrackedConnectionsAreDroppedAndCounted) {
    Engine e = engine();
    Verdict v = e.query_conntrack(CtState::untracked);
    EXPECT_FALSE(v.accept);
    EXPECT_STREQ(v.reason, "query on a connection conntrack does not track");
    EXPECT_EQ(e.counters().untracked_queries, 1u);
    EXPECT_TRUE(e.query_conntrack(CtState::new_flow).accept);
    EXPECT_TRUE(e.query_conntrack(CtState::established).accept);
    EXPECT_EQ(e.counters().untracked_queries, 1u);
    EXPECT_EQ(e.counters().untracked_responses, 0u);
}

TEST(EngineConntrack, ResponsesOnUntrackedConnectionsAreDroppedAndCounted) {
    Engine e = engine();
    Verdict v = e.response_conntrack(CtState::untracked);
    EXPECT_FALSE(v.accept);
    EXPECT_STREQ(v.reason, "response on a connection conntrack does not track");
    EXPECT_EQ(e.counters().untracked_responses, 1u);
    // Asked directly, response() says the same, and the outstanding query is left alone.
    ASSERT_TRUE(e.query(0, kFlow, question(false), 0).accept);
    EXPECT_FALSE(e.response(kFlow, question(true), 1, CtState::untracked).accept);
    EXPECT_EQ(e.counters().untracked_responses, 2u);
    EXPECT_EQ(e.outstanding_queries(0), 1u);
    EXPECT_TRUE(e.response(kFlow, question(true), 2, CtState::established).accept);
}

TEST(EngineConntrack, ANewResponseIsNeverAcceptedAndLeavesTheQueryOutstanding) {
    Engine e = engine();
    ASSERT_TRUE(e.query(0, kFlow, question(false), 0).accept);
    // Matching in every field, but conntrack saw no reply: dropped, nothing learnt.
    Verdict v = e.response(kFlow, question(true), 1, CtState::new_flow);
    EXPECT_FALSE(v.accept);
    EXPECT_STREQ(v.reason, "answer on a connection conntrack has not seen established");
    EXPECT_EQ(e.counters().not_established, 1u);
    EXPECT_FALSE(e.traffic(0, *IpAddress::parse("192.0.2.10"), 2).accept);
    EXPECT_EQ(e.outstanding_queries(0), 1u);
    // A NEW response that matches nothing is dropped for what came closest, as before.
    DnsMessage other = question(true);
    other.id = 0x4243;
    v = e.response(kFlow, other, 2, CtState::new_flow);
    EXPECT_FALSE(v.accept);
    EXPECT_EQ(e.counters().wrong_id, 1u);
    EXPECT_EQ(e.counters().not_established, 1u);
    // The reply itself (ESTABLISHED_REPLY) still finds its query, once.
    EXPECT_TRUE(e.response(kFlow, question(true), 3, ct_state(3)).accept);
    EXPECT_TRUE(e.traffic(0, *IpAddress::parse("192.0.2.10"), 4).accept);
    EXPECT_EQ(e.outstanding_queries(0), 0u);
}

TEST(EngineConntrack, AStateTheKernelDoesNotReportIsNotChecked) {
    Engine e = engine();
    EXPECT_TRUE(e.query_conntrack(CtState::unknown).accept);
    EXPECT_TRUE(e.response_conntrack(CtState::unknown).accept);
    ASSERT_TRUE(e.query(0, kFlow, question(false), 0).accept);
    EXPECT_TRUE(e.response(kFlow, question(true), 1, CtState::unknown).accept);
    EXPECT_EQ(e.counters().untracked_queries + e.counters().untracked_responses, 0u);
}

}  // namespace em
