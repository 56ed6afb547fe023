#include "enforce/pending_queries.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <tuple>

namespace em {

namespace {

using Match = PendingQueries::Match;
using Added = PendingQueries::Added;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

DnsFlow flow(uint16_t client_port, const char* server = "198.51.100.1", uint8_t proto = 17) {
    return DnsFlow{proto, ip("198.51.100.2"), ip(server), client_port, 53};
}

}  // namespace

TEST(PendingQueries, AMatchingAnswerIsConsumedOnce) {
    PendingQueries t(8, 5000);
    EXPECT_EQ(t.add(flow(40000), {0x4242, "fixed.test", 1}, 0), Added::added);
    EXPECT_EQ(t.size(), 1u);
    EXPECT_EQ(t.take(flow(40000), {0x4242, "fixed.test", 1}, 10), Match::matched);
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.take(flow(40000), {0x4242, "fixed.test", 1}, 10), Match::unsolicited);
}

TEST(PendingQueries, MismatchesAreNamedByWhatCameClosestAndConsumeNothing) {
    PendingQueries t(8, 5000);
    t.add(flow(40000), {0x4242, "fixed.test", 1}, 0);
    EXPECT_EQ(t.take(flow(40001), {0x4242, "fixed.test", 1}, 1), Match::unsolicited);
    EXPECT_EQ(t.take(flow(40000, "198.51.100.9"), {0x4242, "fixed.test", 1}, 1),
              Match::wrong_server);
    DnsFlow other_port = flow(40000);
    other_port.server_port = 5353;
    EXPECT_EQ(t.take(other_port, {0x4242, "fixed.test", 1}, 1), Match::wrong_server);
    EXPECT_EQ(t.take(flow(40000, "198.51.100.1", 6), {0x4242, "fixed.test", 1}, 1),
              Match::unsolicited);  // TCP is another socket
    EXPECT_EQ(t.take(flow(40000), {0x4243, "fixed.test", 1}, 1), Match::wrong_id);
    EXPECT_EQ(t.take(flow(40000), {0x4242, "example.test", 1}, 1), Match::wrong_question);
    EXPECT_EQ(t.take(flow(40000), {0x4242, "fixed.test", 28}, 1), Match::wrong_question);
    EXPECT_EQ(t.size(), 1u);
    EXPECT_EQ(t.take(flow(40000), {0x4242, "fixed.test", 1}, 1), Match::matched);
}

TEST(PendingQueries, QueriesExpireAndAreCounted) {
    PendingQueries t(8, 5000);
    t.add(flow(40000), {1, "a.test", 1}, 0);
    t.add(flow(40001), {2, "b.test", 1}, 3000);
    EXPECT_EQ(t.take(flow(40000), {1, "a.test", 1}, 5000), Match::unsolicited);  // too late
    EXPECT_EQ(t.expired(), 1u);
    EXPECT_EQ(t.take(flow(40001), {2, "b.test", 1}, 7999), Match::matched);
    t.add(flow(40002), {3, "c.test", 1}, 8000);
    t.expire(13000);
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.expired(), 2u);
}

TEST(PendingQueries, BoundedInAllAndPerClientSocket) {
    PendingQueries t(4, 1000);
    for (uint16_t i = 0; i < 4; ++i)
        EXPECT_EQ(t.add(flow(40000 + i), {i, "a.test", 1}, 0), Added::added);
    EXPECT_EQ(t.add(flow(50000), {9, "a.test", 1}, 10), Added::table_full);
    EXPECT_EQ(t.take(flow(50000), {9, "a.test", 1}, 10), Match::unsolicited);  // not recorded
    // An answer frees its slot; so does time.
    EXPECT_EQ(t.take(flow(40001), {1, "a.test", 1}, 20), Match::matched);
    EXPECT_EQ(t.add(flow(50000), {9, "a.test", 1}, 30), Added::added);
    EXPECT_EQ(t.add(flow(50001), {9, "a.test", 1}, 40), Added::table_full);
    EXPECT_EQ(t.add(flow(50001), {9, "a.test", 1}, 1000), Added::added);  // the first 3 expired
    EXPECT_EQ(t.size(), 2u);

    PendingQueries s(1000, 1000);
    for (uint16_t id = 0; id < PendingQueries::kMaxPerSocket; ++id)
        ASSERT_EQ(s.add(flow(40000), {id, "a.test", 1}, 0), Added::added);
    EXPECT_EQ(s.add(flow(40000), {999, "a.test", 1}, 0), Added::socket_full);
    EXPECT_EQ(s.add(flow(40001), {999, "a.test", 1}, 0), Added::added);
}

TEST(PendingQueries, TheSameIdFromTheSameSocketReplacesTheQuestion) {
    PendingQueries t(4, 1000);
    t.add(flow(40000), {7, "a.test", 1}, 0);
    EXPECT_EQ(t.add(flow(40000), {7, "b.test", 1}, 900), Added::replaced);
    EXPECT_EQ(t.size(), 1u);
    EXPECT_EQ(t.take(flow(40000), {7, "a.test", 1}, 1000), Match::wrong_question);
    EXPECT_EQ(t.take(flow(40000), {7, "b.test", 1}, 1899), Match::matched);  // time renewed
}

// Random adds, answers and expiry against a plain map: the open-addressing index (with its
// backward-shift deletion) and the age list must agree with it throughout.
TEST(PendingQueries, AgreesWithAPlainModel) {
    std::mt19937 rng(13);
    PendingQueries t(64, 50);
    using Key = std::tuple<uint16_t, int, uint16_t>;  // client port, server, id
    std::map<Key, std::pair<std::string, int64_t>> model;
    const char* servers[] = {"198.51.100.1", "198.51.100.7"};
    int64_t now = 0;
    for (int step = 0; step < 200000; ++step) {
        now += rng() % 3;
        std::erase_if(model, [&](const auto& e) { return e.second.second <= now; });
        const uint16_t port = static_cast<uint16_t>(40000 + rng() % 40);
        const int server = static_cast<int>(rng() % 2);
        const uint16_t id = static_cast<uint16_t>(rng() % 4);
        const std::string name = "n" + std::to_string(rng() % 3) + ".test";
        const Key key{port, server, id};
        if (rng() % 2) {
            const Added a = t.add(flow(port, servers[server]), {id, name, 1}, now);
            if (model.count(key)) {
                ASSERT_EQ(a, Added::replaced) << step;
            } else if (model.size() == 64) {
                ASSERT_EQ(a, Added::table_full) << step;
                continue;
            } else {
                ASSERT_EQ(a, Added::added) << step;
            }
            model[key] = {name, now + 50};
        } else {
            const Match m = t.take(flow(port, servers[server]), {id, name, 1}, now);
            auto it = model.find(key);
            const bool want = it != model.end() && it->second.first == name;
            ASSERT_EQ(m == Match::matched, want) << step;
            if (want) model.erase(it);
        }
        ASSERT_EQ(t.size(), model.size()) << step;
    }
}

}  // namespace em
