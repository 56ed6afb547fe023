#include "collector/history.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <functional>

#include <filesystem>

#include "scratch_store.h"

namespace em {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kT0 = 1795347335;  // 2026-11-22T11:35:35Z
constexpr int64_t kHour = 3600;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

DomainEntry dom(const std::string& name, int64_t count, std::vector<IpAddress> ips = {}) {
    return DomainEntry{name, count, kT0, std::move(ips)};
}
IpEntry ipe(const char* addr, int64_t count) { return IpEntry{ip(addr), count, kT0}; }

class HistoryTest : public ::testing::TestWithParam<store::Backend> {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("em-history-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        EM_SCRATCH_STORE(scratch_, GetParam(), dir_);
        reopen();
    }
    void TearDown() override {
        store_.reset();
        scratch_.reset();
        fs::remove_all(dir_);
    }
    void reopen() {
        store_.reset();
        auto s = HistoryStore::open(scratch_->target());
        ASSERT_TRUE(s.ok()) << s.error().message;
        store_ = std::move(s.value());
    }
    // Applies a snapshot of `host` at `now` in its own transaction.
    IngestOutcome ingest(const std::string& host, Snapshot snap, int64_t now) {
        Transaction tx(*store_);
        EXPECT_TRUE(tx.begin().ok());
        auto h = store_->host(host, {"prod"}, now);
        EXPECT_TRUE(h.ok());
        FileMeta meta{"d" + std::to_string(now), "i" + std::to_string(now), "etag-d", "etag-i"};
        state_ = HostState{};
        auto oc = store_->ingest(*h, std::move(snap), meta, now, state_);
        EXPECT_TRUE(oc.ok()) << oc.error().message;
        EXPECT_TRUE(tx.commit().ok());
        return oc.ok() ? std::move(oc.value()) : IngestOutcome{};
    }
    // Rows of a query as "a|b|c" strings.
    std::vector<std::string> rows(const char* sql) {
        auto st = store_->db().prepare(sql);
        EXPECT_TRUE(st.ok()) << st.error().message;
        std::vector<std::string> out;
        if (!st) return out;
        while (st->step() == store::Step::Row) {
            std::string row;
            for (int c = 0; c < st->columns(); ++c)
                row += (c ? "|" : "") + (st->is_null(c) ? "NULL" : std::string(st->text(c)));
            out.push_back(row);
        }
        return out;
    }
    HostRecord host(const std::string& name) {
        auto h = store_->host(name, {"prod"}, 0);
        EXPECT_TRUE(h.ok());
        return *h;
    }

    fs::path dir_;
    std::unique_ptr<test::ScratchStore> scratch_;
    std::unique_ptr<HistoryStore> store_;
    HostState state_;
};

TEST_P(HistoryTest, FirstSnapshotIsTheBaseline) {
    auto oc =
        ingest("web1",
               Snapshot{{dom("a.example.com", 10, {ip("192.0.2.1")}), dom("b.example.org", 3)},
                        {ipe("192.0.2.1", 7)}},
               kT0);
    EXPECT_TRUE(oc.first);
    EXPECT_TRUE(oc.changes.empty());
    EXPECT_EQ(oc.new_keys, 0u);
    EXPECT_TRUE(rows("SELECT * FROM first_seen").empty());
    EXPECT_TRUE(rows("SELECT * FROM deltas").empty());
    HostRecord h = host("web1");
    EXPECT_EQ(h.first_fetch, kT0);
    EXPECT_EQ(h.last_ok, kT0);
    EXPECT_EQ(h.last_change, kT0);
    EXPECT_EQ(h.domains, 2);
    EXPECT_EQ(h.ips, 1);
    EXPECT_EQ(h.domains_etag, "etag-d");
    EXPECT_EQ(h.tags, std::vector<std::string>{"prod"});
    EXPECT_EQ(store_->fleet_hosts("a.example.com"), 1);
    EXPECT_EQ(store_->fleet_size(), 1);
    ASSERT_EQ(state_.domains.size(), 2u);
    EXPECT_EQ(state_.domains[0].stats.first_seen, kT0);
    EXPECT_EQ(state_.domains[0].ips, std::vector<IpAddress>{ip("192.0.2.1")});
}

TEST_P(HistoryTest, LaterSnapshotsRecordDeltasAndFirstSeen) {
    ingest("web1", Snapshot{{dom("a.example.com", 10)}, {ipe("192.0.2.1", 7)}}, kT0);
    auto oc = ingest("web1",
                     Snapshot{{dom("a.example.com", 15), dom("new.example.net", 3)},
                              {ipe("192.0.2.1", 7), ipe("2001:db8::1", 2)}},
                     kT0 + kHour);
    EXPECT_FALSE(oc.first);
    EXPECT_FALSE(oc.domains_reset || oc.ips_reset);
    EXPECT_EQ(oc.new_keys, 2u);
    ASSERT_EQ(oc.changes.size(), 3u);  // a.example.com +5, new.example.net +3, 2001:db8::1 +2
    EXPECT_EQ(oc.changes[0].delta, 5);
    EXPECT_FALSE(oc.changes[0].new_key);
    EXPECT_TRUE(oc.changes[1].new_key);
    EXPECT_EQ(
        rows("SELECT kind, key, first_seen FROM first_seen ORDER BY kind, key"),
        (std::vector<std::string>{"d|new.example.net|1795350935", "i|2001:db8::1|1795350935"}));
    EXPECT_EQ(
        rows("SELECT time, kind, key, delta FROM deltas ORDER BY kind, key"),
        (std::vector<std::string>{"1795350935|d|a.example.com|5", "1795350935|d|new.example.net|3",
                                  "1795350935|i|2001:db8::1|2"}));
    // The unchanged address has no delta; the changed key carries its delta history.
    ingest("web1",
           Snapshot{{dom("a.example.com", 35), dom("new.example.net", 3)},
                    {ipe("192.0.2.1", 7), ipe("2001:db8::1", 2)}},
           kT0 + 2 * kHour);
    ASSERT_EQ(state_.domains[0].name, "a.example.com");
    EXPECT_EQ(state_.domains[0].stats.deltas, 2);
    EXPECT_EQ(state_.domains[0].stats.delta_sum, 25);
    EXPECT_EQ(rows("SELECT count(*) FROM deltas WHERE key = 'a.example.com'"),
              std::vector<std::string>{"2"});
}

TEST_P(HistoryTest, CounterGoingBackwardsIsAResetCountedFromZero) {
    ingest("web1", Snapshot{{dom("a.example.com", 100), dom("b.example.com", 50)}, {}}, kT0);
    ingest("web1", Snapshot{{dom("a.example.com", 120), dom("b.example.com", 60)}, {}},
           kT0 + kHour);
    // The agent was reinstalled: a.example.com starts again; b.example.com is not seen yet.
    auto oc = ingest("web1", Snapshot{{dom("a.example.com", 4)}, {}}, kT0 + 2 * kHour);
    EXPECT_TRUE(oc.domains_reset);
    EXPECT_FALSE(oc.ips_reset);
    EXPECT_NE(oc.reset_detail.find("a.example.com went from 120 to 4"), std::string::npos);
    ASSERT_EQ(oc.changes.size(), 1u);
    EXPECT_EQ(oc.changes[0].delta, 4);  // from zero
    EXPECT_EQ(host("web1").last_reset, kT0 + 2 * kHour);
    EXPECT_EQ(rows("SELECT kind FROM events"), std::vector<std::string>{"reset"});
    EXPECT_EQ(store_->fleet_hosts("b.example.com"), 0);  // not listed now
    // b.example.com comes back: known before the reset, so not first seen again.
    oc = ingest("web1", Snapshot{{dom("a.example.com", 6), dom("b.example.com", 1)}, {}},
                kT0 + 3 * kHour);
    EXPECT_FALSE(oc.domains_reset);
    EXPECT_EQ(oc.new_keys, 0u);
    ASSERT_EQ(oc.changes.size(), 2u);
    EXPECT_EQ(oc.changes[0].delta, 2);
    EXPECT_EQ(oc.changes[1].delta, 1);
    EXPECT_FALSE(oc.changes[1].new_key);
    EXPECT_TRUE(rows("SELECT * FROM first_seen").empty());
    EXPECT_EQ(store_->fleet_hosts("b.example.com"), 1);
}

TEST_P(HistoryTest, MostKeysGoneIsAReset) {
    Snapshot first;
    for (int i = 0; i < 10; ++i) first.domains.push_back(dom("d" + std::to_string(i) + ".com", 5));
    ingest("web1", std::move(first), kT0);
    // Only 4 of 10 remain, all with the same counts: a reinstall that happened to reach them.
    Snapshot second;
    for (int i = 0; i < 4; ++i) second.domains.push_back(dom("d" + std::to_string(i) + ".com", 5));
    auto oc = ingest("web1", std::move(second), kT0 + kHour);
    EXPECT_TRUE(oc.domains_reset);
    EXPECT_NE(oc.reset_detail.find("6 of 10 keys gone"), std::string::npos);
    EXPECT_EQ(oc.changes.size(), 4u);  // every count is a delta from zero
    // Losing fewer than half is not a reset (the agent never drops keys, but one file may
    // have been edited): no deltas for unchanged counts.
    Snapshot third;
    for (int i = 0; i < 3; ++i) third.domains.push_back(dom("d" + std::to_string(i) + ".com", 5));
    oc = ingest("web1", std::move(third), kT0 + 2 * kHour);
    EXPECT_FALSE(oc.domains_reset);
    EXPECT_TRUE(oc.changes.empty());
}

TEST_P(HistoryTest, RollbackLeavesNothingBehind) {
    {
        Transaction tx(*store_);
        ASSERT_TRUE(tx.begin().ok());
        auto h = store_->host("web1", {}, kT0);
        ASSERT_TRUE(h.ok());
        HostState st;
        auto oc = store_->ingest(*h, Snapshot{{dom("a.example.com", 1)}, {}}, FileMeta{}, kT0, st);
        ASSERT_TRUE(oc.ok());
        EXPECT_EQ(store_->fleet_hosts("a.example.com"), 1);
        EXPECT_EQ(store_->fleet_size(), 1);
    }  // no commit
    EXPECT_EQ(store_->fleet_hosts("a.example.com"), 0);
    EXPECT_EQ(store_->fleet_size(), 0);
    EXPECT_TRUE(rows("SELECT * FROM hosts").empty());
    EXPECT_TRUE(rows("SELECT * FROM snapshots").empty());
    EXPECT_TRUE(rows("SELECT * FROM fleet").empty());
}

TEST_P(HistoryTest, FleetCountsHostsAndSurvivesReopen) {
    ingest("web1", Snapshot{{dom("common.com", 1), dom("only1.com", 1)}, {}}, kT0);
    ingest("web2", Snapshot{{dom("common.com", 1)}, {}}, kT0);
    EXPECT_EQ(store_->fleet_hosts("common.com"), 2);
    EXPECT_EQ(store_->fleet_rare(1),
              (std::vector<std::pair<std::string, int64_t>>{{"only1.com", 1}}));
    EXPECT_EQ(state_.domains[0].base_len, std::string("common.com").size());
    // No checkpoint yet (an interrupted cycle): reopening rebuilds the table from snapshots.
    EXPECT_TRUE(rows("SELECT * FROM fleet").empty());
    reopen();
    EXPECT_EQ(rows("SELECT domain, hosts, base_len FROM fleet ORDER BY domain"),
              (std::vector<std::string>{"common.com|2|10", "only1.com|1|9"}));
    EXPECT_EQ(store_->fleet_hosts("common.com"), 2);
    EXPECT_EQ(store_->fleet_size(), 2);
    EXPECT_EQ(store_->base("x.y.common.com"), "common.com");
    EXPECT_EQ(store_->base("*.flood.co.uk"), "flood.co.uk");
    // web1 drops only1.com (and keeps common.com, so this is not a reset); a checkpoint
    // writes the table.
    ingest("web1", Snapshot{{dom("common.com", 1)}, {}}, kT0 + kHour);
    EXPECT_EQ(store_->fleet_hosts("only1.com"), 0);
    ASSERT_TRUE(store_->begin().ok());
    ASSERT_TRUE(store_->checkpoint_fleet().ok());
    ASSERT_TRUE(store_->commit().ok());
    EXPECT_EQ(rows("SELECT domain, hosts FROM fleet"), std::vector<std::string>{"common.com|2"});
    EXPECT_EQ(rows("SELECT value FROM meta WHERE key IN ('fleet.seq', 'ingest.seq') ORDER BY key"),
              (std::vector<std::string>{"3", "3"}));
    reopen();
    EXPECT_EQ(store_->fleet_hosts("common.com"), 2);
    EXPECT_EQ(store_->fleet_hosts("only1.com"), 0);
}

TEST_P(HistoryTest, SearchFindsANameNoHostListsAnyMore) {
    ingest("web1", Snapshot{{dom("gone.example.com", 1), dom("kept.example.com", 2)}, {}}, kT0);
    ingest("web2", Snapshot{{dom("gone.example.com", 4)}, {}}, kT0);
    ingest("web1", Snapshot{{dom("kept.example.com", 3)}, {}}, kT0 + kHour);
    ingest("web2", Snapshot{{dom("other.example.org", 1)}, {}}, kT0 + kHour);
    EXPECT_EQ(store_->fleet_hosts("gone.example.com"), 0);  // a ghost on both hosts
    size_t total = 0;
    auto found = store_->search_names("example.com", 10, total);
    ASSERT_TRUE(found.ok()) << found.error().message;
    EXPECT_EQ(*found, (std::vector<std::string>{"gone.example.com", "kept.example.com"}));
    EXPECT_EQ(total, 2u);
    found = store_->search_names("example", 1, total);  // the first `limit`, and the total
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(*found, std::vector<std::string>{"gone.example.com"});
    EXPECT_EQ(total, 3u);

    // A store from before the index: open() lists every host's names, ghosts too.
    ASSERT_TRUE(store_->db()
                    .exec("DELETE FROM names; UPDATE meta SET value = 0 WHERE key = "
                          "'index.filled'")
                    .ok());
    reopen();
    EXPECT_EQ(
        rows("SELECT name FROM names ORDER BY name"),
        (std::vector<std::string>{"gone.example.com", "kept.example.com", "other.example.org"}));
    EXPECT_EQ(rows("SELECT value FROM meta WHERE key = 'index.filled'"),
              std::vector<std::string>{"1"});

    // The domain page's lookup reads each host's state in place.
    std::vector<HostRecord> hosts{host("web1"), host("web2"), host("never-fetched")};
    auto seen = store_->lookup_domain(hosts, "gone.example.com");
    ASSERT_TRUE(seen.ok()) << seen.error().message;
    ASSERT_EQ(seen->size(), 3u);
    ASSERT_TRUE((*seen)[0].has_value());
    EXPECT_EQ((*seen)[0]->stats.count, 1);
    EXPECT_FALSE((*seen)[0]->stats.present);
    ASSERT_TRUE((*seen)[1].has_value());  // web2 lost every key: a reset, counted from 0
    EXPECT_EQ((*seen)[1]->stats.first_seen, kT0);
    EXPECT_FALSE((*seen)[1]->stats.present);
    EXPECT_FALSE((*seen)[2].has_value());
}

TEST_P(HistoryTest, AddressesAndAnswersAreIndexedOnceAndARollbackForgetsThem) {
    ingest("web1",
           Snapshot{{dom("a.example.com", 1, {ip("192.0.2.1"), ip("2001:db8::1")})},
                    {ipe("192.0.2.1", 1)}},
           kT0);
    ingest("web2", Snapshot{{dom("b.example.com", 1, {ip("192.0.2.1")})}, {ipe("192.0.2.1", 2)}},
           kT0);
    // The answer for a.example.com moved: the old pair stays (what it resolved to, ever).
    ingest("web1",
           Snapshot{{dom("a.example.com", 2, {ip("198.51.100.9")})},
                    {ipe("192.0.2.1", 1), ipe("198.51.100.9", 1)}},
           kT0 + kHour);
    EXPECT_EQ(rows("SELECT ip FROM addresses ORDER BY ip"),
              (std::vector<std::string>{"192.0.2.1", "198.51.100.9"}));
    EXPECT_EQ(
        rows("SELECT ip, name FROM answers ORDER BY ip, name"),
        (std::vector<std::string>{"192.0.2.1|a.example.com", "192.0.2.1|b.example.com",
                                  "198.51.100.9|a.example.com", "2001:db8::1|a.example.com"}));
    size_t total = 0;
    auto names = store_->answer_names(ip("192.0.2.1"), 10, total);
    ASSERT_TRUE(names.ok()) << names.error().message;
    EXPECT_EQ(*names, (std::vector<std::string>{"a.example.com", "b.example.com"}));
    auto found = store_->search_addresses("51.100", 10, total);
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(*found, std::vector<std::string>{"198.51.100.9"});

    // An ingest rolled back leaves neither rows nor the memory of them: the same keys
    // ingested again are indexed.
    {
        Transaction tx(*store_);
        ASSERT_TRUE(tx.begin().ok());
        auto h = store_->host("web3", {"prod"}, kT0);
        ASSERT_TRUE(h.ok());
        FileMeta meta{"d3", "i3", "etag-d", "etag-i"};
        HostState st;
        ASSERT_TRUE(store_
                        ->ingest(*h,
                                 Snapshot{{dom("c.example.com", 1, {ip("203.0.113.5")})},
                                          {ipe("203.0.113.5", 1)}},
                                 meta, kT0, st)
                        .ok());
    }
    EXPECT_TRUE(rows("SELECT ip FROM addresses WHERE ip = '203.0.113.5'").empty());
    ingest("web3",
           Snapshot{{dom("c.example.com", 1, {ip("203.0.113.5")})}, {ipe("203.0.113.5", 1)}}, kT0);
    EXPECT_EQ(rows("SELECT ip FROM addresses WHERE ip = '203.0.113.5'"),
              std::vector<std::string>{"203.0.113.5"});
    EXPECT_EQ(rows("SELECT name FROM answers WHERE ip = '203.0.113.5' ORDER BY name"),
              std::vector<std::string>{"c.example.com"});

    // Filled from the snapshots after an upgrade: the answers as the states hold them now.
    ASSERT_TRUE(store_->db()
                    .exec("DELETE FROM addresses; DELETE FROM answers; UPDATE meta SET "
                          "value = 0 WHERE key = 'index.filled'")
                    .ok());
    reopen();
    EXPECT_EQ(rows("SELECT ip FROM addresses ORDER BY ip"),
              (std::vector<std::string>{"192.0.2.1", "198.51.100.9", "203.0.113.5"}));
    EXPECT_EQ(rows("SELECT ip, name FROM answers ORDER BY ip, name"),
              (std::vector<std::string>{"192.0.2.1|b.example.com", "198.51.100.9|a.example.com",
                                        "203.0.113.5|c.example.com"}));
}

TEST_P(HistoryTest, LookupFindsEachNameThroughTheRestartPoints) {
    std::vector<DomainState> d;
    for (int i = 0; i < 100; ++i) {  // four runs: 32, 32, 32 and 4 entries
        DomainState e;
        e.name = fmt::format("host{:03}.example.com", i * 2);  // odd numbers are absent
        e.stats = KeyStats{i, kT0 + i, kT0 - i, i % 3, i * 7, i % 5 != 0};
        if (i % 4 == 0) e.ips = {ip("192.0.2.7"), ip("2001:db8::9")};
        d.push_back(std::move(e));
    }
    const std::string blob = encode_domains(d);
    ASSERT_TRUE(decode_domains(blob).ok());
    for (int i = 0; i < 200; ++i) {
        StringBlob src(blob);
        const std::string name = fmt::format("host{:03}.example.com", i);
        auto got = lookup_domain(src, name);
        ASSERT_TRUE(got.ok()) << name << ": " << got.error().message;
        if (i % 2) {
            EXPECT_FALSE(got->has_value()) << name;
            continue;
        }
        ASSERT_TRUE(got->has_value()) << name;
        const DomainState& want = d[static_cast<size_t>(i / 2)];
        EXPECT_EQ((*got)->name, want.name);
        EXPECT_EQ((*got)->stats.count, want.stats.count);
        EXPECT_EQ((*got)->stats.first_seen, want.stats.first_seen);
        EXPECT_EQ((*got)->stats.present, want.stats.present);
        EXPECT_EQ((*got)->ips, want.ips);
    }
    for (const char* absent : {"", "a.com", "host198.example.com.", "zzz"}) {
        StringBlob src(blob);
        auto got = lookup_domain(src, absent);
        ASSERT_TRUE(got.ok()) << absent;
        EXPECT_FALSE(got->has_value()) << absent;
    }
    // A damaged blob gives an error or an answer, never a crash or a read past its end.
    for (size_t cut = 1; cut < blob.size(); cut += 7) {
        StringBlob src(std::string_view(blob).substr(0, cut));
        (void)lookup_domain(src, "host100.example.com");
    }
    for (size_t at = 0; at < blob.size(); at += 3) {
        std::string bad = blob;
        bad[at] = static_cast<char>(bad[at] ^ 0x5a);
        StringBlob src(bad);
        (void)lookup_domain(src, "host100.example.com");
    }
}

TEST_P(HistoryTest, LookupFindsEachAddressThroughTheRestartPoints) {
    std::vector<IpState> v;
    for (int i = 0; i < 70; ++i)  // 192.0.2.0, .2, ... .138 (odd ones absent), then v6
        v.push_back(
            {ip(fmt::format("192.0.2.{}", i * 2).c_str()), KeyStats{i, kT0 + i, kT0, 0, 0, true}});
    for (int i = 0; i < 30; ++i)
        v.push_back({ip(fmt::format("2001:db8::{:x}", i * 2).c_str()),
                     KeyStats{100 + i, kT0, kT0, 1, 1, i % 2 == 0}});
    const std::string blob = encode_ips(v);
    ASSERT_TRUE(decode_ips(blob).ok());
    for (const auto& e : v) {
        StringBlob src(blob);
        auto got = lookup_ip(src, e.ip);
        ASSERT_TRUE(got.ok()) << e.ip.to_string() << ": " << got.error().message;
        ASSERT_TRUE(got->has_value()) << e.ip.to_string();
        EXPECT_EQ((*got)->stats.count, e.stats.count);
        EXPECT_EQ((*got)->stats.present, e.stats.present);
    }
    for (const char* absent :
         {"0.0.0.1", "192.0.2.1", "192.0.2.139", "192.0.2.255", "2001:db8::1", "2001:db8::ffff"}) {
        StringBlob src(blob);
        auto got = lookup_ip(src, ip(absent));
        ASSERT_TRUE(got.ok()) << absent;
        EXPECT_FALSE(got->has_value()) << absent;
    }
    for (size_t cut = 1; cut < blob.size(); cut += 5) {
        StringBlob src(std::string_view(blob).substr(0, cut));
        (void)lookup_ip(src, ip("192.0.2.100"));
    }
    for (size_t at = 0; at < blob.size(); at += 3) {
        std::string bad = blob;
        bad[at] = static_cast<char>(bad[at] ^ 0x5a);
        StringBlob src(bad);
        (void)lookup_ip(src, ip("192.0.2.100"));
    }
    // Version 1 (an older release): up to 32 addresses, version 2 without the table.
    std::string old = encode_ips({v[0], v[1], v[2]});
    old[0] = 1;
    old.resize(old.size() - 4);
    StringBlob src(old);
    auto got = lookup_ip(src, v[1].ip);
    ASSERT_TRUE(got.ok()) << got.error().message;
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->stats.count, 1);
}

TEST_P(HistoryTest, LookupReadsAStateAnOlderReleaseWrote) {
    // Up to 32 names a version-1 blob is a version-2 blob without its restart table.
    std::vector<DomainState> d(3);
    d[0].name = "a.example.com";
    d[1].name = "b.example.com";
    d[1].stats = KeyStats{4, kT0, kT0, 1, 4, true};
    d[2].name = "b.example.com.cdn.net";
    std::string blob = encode_domains(d);
    blob[0] = 1;
    blob.resize(blob.size() - 4);
    ASSERT_TRUE(decode_domains(blob).ok());
    StringBlob src(blob);
    auto got = lookup_domain(src, "b.example.com");
    ASSERT_TRUE(got.ok()) << got.error().message;
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->stats.count, 4);
}

TEST_P(HistoryTest, StateBlobsRoundTripAndRejectDamage) {
    std::vector<DomainState> d(2);
    d[0].name = "a.example.com";
    d[0].stats = KeyStats{5, kT0, kT0 - 100, 2, 9, true};
    d[0].ips = {ip("192.0.2.1"), ip("2001:db8::1")};
    d[1].name = "a.example.com.cdn.net";
    d[1].stats = KeyStats{0, 0, kT0, 0, 0, false};
    std::string blob = encode_domains(d);
    auto back = decode_domains(blob);
    ASSERT_TRUE(back.ok()) << back.error().message;
    ASSERT_EQ(back->size(), 2u);
    EXPECT_EQ((*back)[1].name, "a.example.com.cdn.net");
    EXPECT_EQ((*back)[0].stats.first_seen, kT0 - 100);
    EXPECT_EQ((*back)[0].stats.delta_sum, 9);
    EXPECT_FALSE((*back)[1].stats.present);
    EXPECT_EQ((*back)[0].ips, d[0].ips);
    for (size_t cut = 1; cut < blob.size(); ++cut)
        EXPECT_FALSE(decode_domains(blob.substr(0, cut)).ok()) << cut;
    std::string flipped = blob;
    flipped[0] = 9;
    EXPECT_FALSE(decode_domains(flipped).ok());

    std::vector<IpState> i{{ip("192.0.2.1"), KeyStats{1, kT0, kT0, 0, 0, true}},
                           {ip("2001:db8::1"), KeyStats{7, kT0, kT0, 1, 7, true}}};
    auto ib = decode_ips(encode_ips(i));
    ASSERT_TRUE(ib.ok());
    EXPECT_EQ((*ib)[1].ip, ip("2001:db8::1"));
    EXPECT_EQ((*ib)[1].stats.count, 7);
    std::swap(i[0], i[1]);  // out of order
    EXPECT_FALSE(decode_ips(encode_ips(i)).ok());
}

// Deltas at the middle of January, February and March 2026 (UTC).
constexpr int64_t kJan15 = 1768435200, kFeb15 = 1771113600, kMar1 = 1772323200, kMar15 = 1773532800;

void ingest_three_months(const std::function<void(Snapshot, int64_t)>& ingest) {
    ingest(Snapshot{{dom("a.example.com", 1)}, {}}, kJan15 - kHour);  // the baseline
    ingest(Snapshot{{dom("a.example.com", 2)}, {}}, kJan15);
    ingest(Snapshot{{dom("a.example.com", 3)}, {}}, kFeb15);
    ingest(Snapshot{{dom("a.example.com", 4)}, {}}, kMar15);
}

TEST_P(HistoryTest, RetentionDropsOldDeltas) {
    ingest_three_months([&](Snapshot s, int64_t t) { ingest("web1", std::move(s), t); });
    ASSERT_EQ(rows("SELECT count(*) FROM deltas"), std::vector<std::string>{"3"});
    {
        Transaction tx(*store_);
        ASSERT_TRUE(tx.begin().ok());
        ASSERT_TRUE(store_->prune_deltas(kMar1).ok());
        ASSERT_TRUE(tx.commit().ok());
    }
    EXPECT_EQ(rows("SELECT time FROM deltas"), std::vector<std::string>{std::to_string(kMar15)});
    if (GetParam() == store::Backend::Postgres) {
        // Whole months dropped, not rows deleted: March and April (made ahead) are left.
        EXPECT_EQ(rows("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = 'deltas'::regclass ORDER BY 1"),
                  (std::vector<std::string>{"deltas_202603", "deltas_202604"}));
        // A month is dropped only when all of it is past: mid-March keeps March.
        ASSERT_TRUE(store_->prune_deltas(kMar15 + kHour).ok());
        EXPECT_EQ(rows("SELECT count(*) FROM deltas"), std::vector<std::string>{"1"});
    }
    // A time that goes back to a dropped month gets its month again.
    ingest("web1", Snapshot{{dom("a.example.com", 5)}, {}}, kJan15);
    EXPECT_EQ(rows("SELECT count(*) FROM deltas"), std::vector<std::string>{"2"});
}

TEST_P(HistoryTest, PostgresDeltasMovedIntoMonthsAtUpgrade) {
    if (GetParam() != store::Backend::Postgres) GTEST_SKIP() << "PostgreSQL's schema step";
    ingest_three_months([&](Snapshot s, int64_t t) { ingest("web1", std::move(s), t); });
    // Back to schema version 4: deltas one plain table, no month functions.
    ASSERT_TRUE(store_->db()
                    .exec("CREATE TABLE plain AS SELECT * FROM deltas; DROP TABLE deltas; "
                          "ALTER TABLE plain RENAME TO deltas; "
                          "ALTER TABLE deltas ADD PRIMARY KEY(host, time, kind, key); "
                          "DROP FUNCTION em_deltas_month; DROP FUNCTION em_drop_deltas_before; "
                          "UPDATE em_schema SET version = 4")
                    .ok());
    reopen();
    EXPECT_EQ(rows("SELECT version FROM em_schema"), std::vector<std::string>{"5"});
    EXPECT_EQ(rows("SELECT time, key, delta FROM deltas ORDER BY time"),
              (std::vector<std::string>{std::to_string(kJan15) + "|a.example.com|1",
                                        std::to_string(kFeb15) + "|a.example.com|1",
                                        std::to_string(kMar15) + "|a.example.com|1"}));
    EXPECT_EQ(rows("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                   "WHERE i.inhparent = 'deltas'::regclass ORDER BY 1"),
              (std::vector<std::string>{"deltas_202601", "deltas_202602", "deltas_202603"}));
    ingest("web1", Snapshot{{dom("a.example.com", 9)}, {}}, kMar15 + kHour);
    EXPECT_EQ(rows("SELECT count(*) FROM deltas"), std::vector<std::string>{"4"});
}

TEST_P(HistoryTest, OnlyAStatusTransactionSkipsTheWaitForTheDisk) {
    if (GetParam() != store::Backend::Postgres) GTEST_SKIP() << "synchronous_commit";
    ingest("web1", Snapshot{{dom("a.example.com", 1)}, {}}, kT0);
    {
        Transaction tx(*store_);
        ASSERT_TRUE(tx.begin().ok());
        HostRecord h = host("web1");
        ASSERT_TRUE(store_->record_unchanged(h, kT0 + 60).ok());
        ASSERT_TRUE(store_->status_only().ok());
        EXPECT_EQ(rows("SHOW synchronous_commit"), std::vector<std::string>{"off"});
        ASSERT_TRUE(tx.commit().ok());
    }
    // For that transaction alone: the next snapshot waits for the disk again.
    EXPECT_EQ(rows("SHOW synchronous_commit"), std::vector<std::string>{"on"});
    EXPECT_EQ(host("web1").last_ok, kT0 + 60);
}

TEST_P(HistoryTest, RefusesANewerSchema) {
    ASSERT_TRUE(store_->db().set_schema_version(99).ok());
    store_.reset();
    auto s = HistoryStore::open(scratch_->target());
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("newer"), std::string::npos);
}

TEST_P(HistoryTest, FailuresAndUnchangedFetchesKeepTheSnapshot) {
    ingest("web1", Snapshot{{dom("a.example.com", 1)}, {}}, kT0);
    HostRecord h = host("web1");
    ASSERT_TRUE(store_->record_failure(h, kT0 + 60, "web1: connection refused").ok());
    h = host("web1");
    EXPECT_EQ(h.last_attempt, kT0 + 60);
    EXPECT_EQ(h.last_ok, kT0);
    EXPECT_EQ(h.last_error, "web1: connection refused");
    FileMeta no_etags;
    ASSERT_TRUE(store_->record_unchanged(h, kT0 + 120, &no_etags).ok());
    h = host("web1");
    EXPECT_EQ(h.last_ok, kT0 + 120);
    EXPECT_EQ(h.last_change, kT0);
    EXPECT_EQ(h.last_error, "");
    EXPECT_EQ(h.domains_etag, "etag-d");  // a 304 without ETags keeps the stored ones
    auto st = store_->load_state(h.id);
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->domains.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Stores, HistoryTest, test::both_backends(), test::backend_name);

}  // namespace

}  // namespace em
