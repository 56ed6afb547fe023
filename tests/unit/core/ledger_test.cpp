#include "core/ledger.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/domain_folder.h"
#include "exporters/aggregate_files.h"

namespace em {

namespace fs = std::filesystem;

class LedgerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("em-ledger-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    Ledger open(size_t cap = 3) {
        auto l = Ledger::open((dir_ / "ledger.sqlite").string(), cap);
        EXPECT_TRUE(l.ok()) << (l.ok() ? "" : l.error().message);
        return std::move(l.value());
    }
    std::string read(const char* name) {
        std::ifstream in(dir_ / name);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    static IpAddress ip(const char* s) { return *IpAddress::parse(s); }
    fs::path dir_;
};

TEST_F(LedgerTest, CommitsAccumulateAndRenderExactFormats) {
    {
        Ledger l = open();
        Batch b(3);
        b.add_query("b.test", 1795347335);
        b.add_query("a.test", 1795347300);
        b.add_query("a.test", 1795347336);
        b.add_answer("a.test", ip("10.0.0.2"), 1795347336);
        b.add_answer("a.test", ip("9.0.0.1"), 1795347336);
        b.add_answer("a.test", ip("2001:db8::1"), 1795347336);
        b.add_flow(ip("10.0.0.2"), 1795347340);
        b.add_flow(ip("9.255.0.1"), 1795347341);
        b.add_flow(ip("2001:db8::1"), 1795347342);
        EXPECT_FALSE(b.add_flow(ip("127.0.0.1"), 1795347342));
        ASSERT_TRUE(l.commit(b, {{"src", "c1"}}).ok());
        ASSERT_TRUE(export_aggregate_files(l, dir_.string()).ok());
    }
    EXPECT_EQ(read(kDomainsFile),
              "a.test 2 2026-11-22T11:35:36Z 9.0.0.1,10.0.0.2,2001:db8::1\n"
              "b.test 1 2026-11-22T11:35:35Z -\n");
    EXPECT_EQ(read(kIpsFile),
              "9.255.0.1 1 2026-11-22T11:35:41Z\n"
              "10.0.0.2 1 2026-11-22T11:35:40Z\n"
              "2001:db8::1 1 2026-11-22T11:35:42Z\n");
    EXPECT_EQ(fs::status(dir_ / kIpsFile).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);

    // Reopen: totals add up; an older last_seen does not move it back; the per-domain cap
    // keeps the most recent addresses (ties: the numerically smaller).
    Ledger l = open();
    auto c = l.cursor("src");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(**c, "c1");
    Batch b(3);
    b.add_query("a.test", 1795347000);
    b.add_answer("a.test", ip("192.0.2.1"), 1795347400);
    b.add_flow(ip("10.0.0.2"), 1795347000);
    ASSERT_TRUE(l.commit(b, {{"src", "c2"}}).ok());
    ASSERT_TRUE(export_aggregate_files(l, dir_.string()).ok());
    EXPECT_EQ(read(kDomainsFile),
              "a.test 3 2026-11-22T11:35:36Z 9.0.0.1,10.0.0.2,192.0.2.1\n"
              "b.test 1 2026-11-22T11:35:35Z -\n");
    EXPECT_EQ(read(kIpsFile).substr(0, 45), "9.255.0.1 1 2026-11-22T11:35:41Z\n10.0.0.2 2 2");
    EXPECT_EQ(**l.cursor("src"), "c2");
}

TEST_F(LedgerTest, AnswersBeforeAnyQueryAreKeptButNotListed) {
    Ledger l = open();
    Batch b;
    b.add_answer("early.test", ip("192.0.2.5"), 1795347000);
    ASSERT_TRUE(l.commit(b, {}).ok());
    ASSERT_TRUE(export_aggregate_files(l, dir_.string()).ok());
    EXPECT_EQ(read(kDomainsFile), "");
    Batch q;
    q.add_query("early.test", 1795347001);
    ASSERT_TRUE(l.commit(q, {}).ok());
    ASSERT_TRUE(export_aggregate_files(l, dir_.string()).ok());
    EXPECT_EQ(read(kDomainsFile), "early.test 1 2026-11-22T11:30:01Z 192.0.2.5\n");
}

TEST_F(LedgerTest, GenerationsTrackCommitsAndRenders) {
    Ledger l = open();
    EXPECT_EQ(*l.generation("commit_generation"), 0);
    EXPECT_EQ(*l.generation("rendered_generation"), -1);
    ASSERT_TRUE(l.commit(Batch(), {{"x", "1"}}).ok());
    EXPECT_EQ(*l.generation("commit_generation"), 1);
    ASSERT_TRUE(l.set_rendered(1).ok());
    EXPECT_EQ(*l.generation("rendered_generation"), 1);
}

// After the writer closes, a reader that may not write in the directory (the endpoint's
// user) can still open the ledger read-only: the -wal and -shm files stay.
TEST_F(LedgerTest, ReadableWithoutWriteAccessAfterTheWriterCloses) {
    { open(); }
    EXPECT_TRUE(fs::exists(dir_ / "ledger.sqlite-wal"));
    EXPECT_TRUE(fs::exists(dir_ / "ledger.sqlite-shm"));
    fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
    if (::geteuid() != 0) {  // root writes anywhere: the check above is what holds there
        auto db = sql::Database::open((dir_ / "ledger.sqlite").string(), true);
        ASSERT_TRUE(db.ok()) << db.error().message;
        EXPECT_TRUE(db->exec("SELECT count(*) FROM counters").ok());
    }
    fs::permissions(dir_, fs::perms::owner_all);
}

TEST_F(LedgerTest, RefusesNewerSchema) {
    { open(); }
    {
        auto db = sql::Database::open((dir_ / "ledger.sqlite").string());
        ASSERT_TRUE(db->exec("PRAGMA user_version=99").ok());
    }
    auto l = Ledger::open((dir_ / "ledger.sqlite").string(), 3);
    ASSERT_FALSE(l.ok());
    EXPECT_NE(l.error().message.find("schema version 99"), std::string::npos);
}

TEST(Batch, NormalizesAndMerges) {
    std::string out;
    EXPECT_TRUE(normalize_domain("WWW.Example.COM.", out));
    EXPECT_EQ(out, "www.example.com");
    EXPECT_FALSE(normalize_domain("", out));
    EXPECT_FALSE(normalize_domain(".", out));
    EXPECT_FALSE(normalize_domain("a b", out));
    EXPECT_FALSE(normalize_domain("caf\xc3\xa9.test", out));
    EXPECT_FALSE(normalize_domain(std::string(254, 'a'), out));

    Batch a(2), b(2);
    a.add_query("x.test", 10);
    a.add_answer("x.test", *IpAddress::parse("192.0.2.1"), 10);
    b.add_query("x.test", 5);
    b.add_answer("x.test", *IpAddress::parse("192.0.2.2"), 11);
    b.add_answer("x.test", *IpAddress::parse("192.0.2.3"), 12);
    a.merge(std::move(b));
    const auto& d = a.domains().at("x.test");
    EXPECT_EQ(d.queries, 2u);
    EXPECT_EQ(d.last_seen, 10);
    ASSERT_EQ(d.answers.size(), 2u);  // capped: the oldest (192.0.2.1) dropped
    for (auto& ans : d.answers) EXPECT_NE(ans.ip.to_string(), "192.0.2.1");
}

}  // namespace em

namespace em {

TEST(DomainFolder, RegistrableDomains) {
    auto f = DomainFolder::create(10);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->base("a.b.example.com"), "example.com");
    EXPECT_EQ(f->base("x.y.example.co.uk"), "example.co.uk");
    EXPECT_EQ(f->base("localhost"), "localhost");
    EXPECT_EQ(DomainFolder::folded_name("example.com"), "*.example.com");
    EXPECT_TRUE(DomainFolder::is_folded("*.example.com"));
}

TEST(DomainFolder, BatchFoldsNamesBeyondTheLimit) {
    auto f = DomainFolder::create(3);
    ASSERT_TRUE(f.ok());
    Batch b(32, &f.value());
    for (const char* n : {"a1.x.com", "a2.x.com", "a3.x.com", "a4.x.com", "a5.x.com", "a4.x.com",
                          "a1.x.com", "b.y.com"})
        b.add_query(n, 100);
    EXPECT_EQ(b.domains().size(), 5u);  // a1..a3, *.x.com, b.y.com
    EXPECT_EQ(b.domains().at("*.x.com").queries, 3u);
    EXPECT_EQ(b.domains().at("a1.x.com").queries, 2u);
    EXPECT_EQ(b.counters().at("dnsmasq.folded_queries"), 3u);
}

TEST_F(LedgerTest, FoldsNewNamesBeyondTheLimitAcrossCommits) {
    auto f = DomainFolder::create(3);
    ASSERT_TRUE(f.ok());
    Ledger l = open();
    Batch first;
    first.add_query("a1.x.com", 100);
    first.add_query("a2.x.com", 100);
    ASSERT_TRUE(l.commit(first, {}, &f.value()).ok());
    EXPECT_EQ(l.last_folded(), 0);
    Batch second;  // a batch of its own never saw a1/a2: the ledger applies the limit
    second.add_query("a1.x.com", 200);
    second.add_query("a3.x.com", 200);
    second.add_query("a4.x.com", 200);
    DomainDelta& a5 = second.add_query("a5.x.com", 201);
    second.add_answer(a5, *IpAddress::parse("192.0.2.5"), 201);
    ASSERT_TRUE(l.commit(second, {}, &f.value()).ok());
    EXPECT_EQ(l.last_folded(), 2);
    ASSERT_TRUE(export_aggregate_files(l, dir_.string()).ok());
    EXPECT_EQ(read(kDomainsFile),
              "*.x.com 2 1970-01-01T00:03:21Z 192.0.2.5\n"
              "a1.x.com 2 1970-01-01T00:03:20Z -\n"
              "a2.x.com 1 1970-01-01T00:01:40Z -\n"
              "a3.x.com 1 1970-01-01T00:03:20Z -\n");
    EXPECT_EQ((*l.counters())["domains.folded_names"], 2);
}

}  // namespace em

namespace em {

TEST_F(LedgerTest, AtCapacityNewKeysFoldCoarserAndTotalsStayExact) {
    Ledger l = open();
    l.set_caps(2, 1);
    Batch b1;
    b1.add_query("a.test", 100);
    b1.add_query("b.test", 100);
    b1.add_flow(ip("192.0.2.1"), 100);
    ASSERT_TRUE(l.commit(b1, {}).ok());
    EXPECT_EQ(l.last_capacity_folded(), 0);
    Batch b2;
    b2.add_query("a.test", 200);  // known: still counted on its line
    b2.add_query("c.test", 200);  // new beyond the bound: "*.*.test" (no folder: by TLD)
    b2.add_query("c.test", 201);
    b2.add_flow(ip("192.0.2.1"), 200);
    b2.add_flow(ip("192.0.2.2"), 200);    // new beyond the bound: 0.0.0.0
    b2.add_flow(ip("2001:db8::1"), 200);  // and ::
    ASSERT_TRUE(l.commit(b2, {}).ok());
    EXPECT_EQ(l.last_capacity_folded(), 3);
    std::string domains;
    ASSERT_TRUE(l.for_each_domain([&](const DomainRow& r) {
                     domains += std::string(r.name) + " " + std::to_string(r.count) + "\n";
                 }).ok());
    EXPECT_EQ(domains, "*.*.test 2\na.test 2\nb.test 1\n");
    std::string ips;
    ASSERT_TRUE(l.for_each_ip([&](const IpRow& r) {
                     ips += r.ip.to_string() + " " + std::to_string(r.count) + "\n";
                 }).ok());
    EXPECT_EQ(ips, "0.0.0.0 1\n192.0.2.1 2\n:: 1\n");
    auto c = l.counters();
    ASSERT_TRUE(c.ok());
    EXPECT_EQ((*c)["domains.capacity_folded_names"], 1);
    EXPECT_EQ((*c)["domains.capacity_folded_queries"], 2);
    EXPECT_EQ((*c)["ips.capacity_folded_addresses"], 2);
    EXPECT_EQ((*c)["ips.capacity_folded_flows"], 2);
    EXPECT_NE(l.capacity_warning().find("max_domains=2"), std::string::npos);
}

// The flood of the hardening issue, scaled down: names under a private suffix entry (each
// its own registrable domain), then random .com domains, fill the bound; the real new
// domain after them still has a line of its own registrable domain.
TEST_F(LedgerTest, AFloodAtCapacityLeavesTheNextRealDomainVisible) {
    auto f = DomainFolder::create(1000);
    ASSERT_TRUE(f.ok());
    Ledger l = open();
    l.set_caps(100, 100);
    Batch flood1, flood2;
    int64_t queries = 0;
    for (int i = 0; i < 300; ++i, ++queries) flood1.add_query(fmt::format("x{}.github.io", i), 100);
    for (int i = 0; i < 200; ++i, ++queries) flood2.add_query(fmt::format("r{}q.com", i), 100);
    ASSERT_TRUE(l.commit(flood1, {}, &f.value()).ok());
    ASSERT_TRUE(l.commit(flood2, {}, &f.value()).ok());
    Batch real;
    real.add_query("exfil.example.org", 200);
    ++queries;
    ASSERT_TRUE(l.commit(real, {}, &f.value()).ok());
    std::map<std::string, int64_t> lines;
    int64_t total = 0;
    ASSERT_TRUE(l.for_each_domain([&](const DomainRow& r) {
                     lines[std::string(r.name)] = r.count;
                     total += r.count;
                 }).ok());
    EXPECT_EQ(total, queries);
    EXPECT_EQ(lines["*.*.example.org"], 1);  // the real one: its registrable domain
    EXPECT_EQ(lines["*.*.github.io"], 200);  // the private-suffix flood: under github.io
    EXPECT_EQ(lines["*.*.com"], 200 - 2);    // .com: 2 lines of its own (a quota), then TLD
    EXPECT_EQ(lines.size(), 100u + 1 + 2 + 1 + 1);
    EXPECT_EQ(lines.count("*.*"), 0u);
}

// Distinct top-level domains beyond every reserve end in the catch-all: the line count stays
// bounded, the totals exact.
TEST_F(LedgerTest, AtCapacityTheCatchAllBoundsTheLines) {
    Ledger l = open();
    l.set_caps(2, 0);
    Batch b;
    for (int i = 0; i < 100; ++i) b.add_query(fmt::format("a.t{}", i), 100);
    ASSERT_TRUE(l.commit(b, {}).ok());
    int64_t rows = 0, total = 0, all = 0;
    ASSERT_TRUE(l.for_each_domain([&](const DomainRow& r) {
                     ++rows;
                     total += r.count;
                     if (r.name == "*.*") all = r.count;
                 }).ok());
    EXPECT_EQ(total, 100);
    EXPECT_EQ(rows, 2 + 16 + 16 + 1);  // max_domains + reserve1 + reserve2 + the catch-all
    EXPECT_EQ(all, 100 - (rows - 1));
}

}  // namespace em

namespace em {

TEST_F(LedgerTest, PortsPerDestinationAreBounded) {
    Ledger l = open();
    Batch b;
    for (uint16_t p = 1; p <= 20; ++p) {
        b.add_flow(ip("192.0.2.1"), 100);
        b.add_flow_port(ip("192.0.2.1"), 6, p, p % 2 == 0);
    }
    b.add_flow(ip("127.0.0.1"), 100);
    b.add_flow_port(ip("127.0.0.1"), 6, 80, true);  // loopback: ignored
    ASSERT_TRUE(l.commit(b, {}).ok());
    int64_t rows = 0, flows = 0, direct = 0, other = 0;
    ASSERT_TRUE(l.for_each_port([&](const PortRow& r) {
                     ++rows;
                     flows += r.count;
                     direct += r.direct;
                     if (r.port == 0) other = r.count;
                 }).ok());
    EXPECT_EQ(flows, 20);
    EXPECT_EQ(direct, 10);
    EXPECT_LE(rows, Ledger::kMaxPortsPerIp + 1);
    EXPECT_EQ(other, 20 - Ledger::kMaxPortsPerIp);
}

}  // namespace em

namespace em {

namespace {

std::string uses_of(Ledger& l) {
    std::string out;
    auto r = l.for_each_process_use([&](const ProcessUseRow& u) {
        out += std::string(1, u.kind) + " " + std::string(u.dest) + " " + std::string(u.exe) + " " +
               std::string(u.user) + " " + std::string(u.container) + " " +
               std::to_string(u.count) + " " + std::to_string(u.first_seen) + "-" +
               std::to_string(u.last_seen) + "\n";
    });
    EXPECT_TRUE(r.ok());
    return out;
}

}  // namespace

TEST(Batch, ProcessUsesCountPerKeyAndMerge) {
    Batch a, b;
    a.add_process_use('d', "x.test", "/usr/bin/curl", "root", "", 10);
    a.add_process_use('d', "x.test", "/usr/bin/curl", "root", "", 5);
    a.add_process_use('d', "x.test", "/usr/bin/curl", "alice", "", 7);
    a.add_process_use('q', "x.test", "/usr/bin/curl", "root", "", 7);  // bad kind
    a.add_process_use('i', "", "/usr/bin/curl", "root", "", 7);        // no destination
    EXPECT_EQ(a.process_uses().size(), 2u);
    EXPECT_EQ(a.counters().at("process_use.invalid"), 2u);
    EXPECT_FALSE(a.empty());
    b.add_process_use('d', "x.test", "/usr/bin/curl", "root", "", 3);
    b.add_process_use('i', "192.0.2.1", "[curl]", "root", "c0ffee", 4);
    a.merge(std::move(b));
    ASSERT_EQ(a.process_uses().size(), 3u);
    const auto& d = a.process_uses().at(ProcessUseKey{'d', "x.test", "/usr/bin/curl", "root", ""});
    EXPECT_EQ(d.count, 3u);
    EXPECT_EQ(d.first_seen, 3);
    EXPECT_EQ(d.last_seen, 10);
    EXPECT_EQ(a.keys(), 3u);  // no domains or flows added, only uses

    Batch only_uses, empty;
    only_uses.add_process_use('i', "192.0.2.1", "/bin/nc", "bob", "", 1);
    empty.merge(std::move(only_uses));  // the fast path moves them
    EXPECT_EQ(empty.process_uses().size(), 1u);
}

TEST(Batch, ProcessUsesOfFoldedNamesGoToTheFoldedLine) {
    auto f = DomainFolder::create(2);
    ASSERT_TRUE(f.ok());
    Batch b(32, &f.value());
    for (const char* n : {"a1.x.com", "a2.x.com", "a3.x.com", "a4.x.com"}) {
        b.add_query(n, 100);
        b.add_process_use('d', n, "/bin/tunnel", "root", "", 100);
    }
    std::map<std::string, uint64_t> got;
    for (const auto& [k, v] : b.process_uses()) got[k.dest] = v.count;
    EXPECT_EQ(got,
              (std::map<std::string, uint64_t>{{"*.x.com", 2}, {"a1.x.com", 1}, {"a2.x.com", 1}}));
}

TEST_F(LedgerTest, ProcessUsesAccumulateSortedAndCanonical) {
    Ledger l = open();
    Batch b1;
    b1.add_process_use('i', "2001:DB8::0:1", "/usr/bin/curl", "root", "", 200);
    b1.add_process_use('i', "127.0.0.1", "/usr/bin/curl", "root", "", 200);  // loopback
    b1.add_process_use('i', "not-an-ip", "/usr/bin/curl", "root", "", 200);
    b1.add_process_use('d', "b.test", "/usr/bin/wget", "alice", "abc123", 150);
    b1.add_process_use('d', "a.test", "/usr/bin/curl", "root", "", 100);
    ASSERT_TRUE(l.commit(b1, {}).ok());
    Batch b2;
    b2.add_process_use('d', "a.test", "/usr/bin/curl", "root", "", 90);
    b2.add_process_use('d', "a.test", "/usr/bin/curl", "root", "", 300);
    b2.add_process_use('i', "2001:db8::1", "/usr/bin/curl", "root", "", 250);
    ASSERT_TRUE(l.commit(b2, {}).ok());
    EXPECT_EQ(uses_of(l),
              "d a.test /usr/bin/curl root  3 90-300\n"
              "d b.test /usr/bin/wget alice abc123 1 150-150\n"
              "i 2001:db8::1 /usr/bin/curl root  2 200-250\n");
    EXPECT_EQ((*l.counters())["process_use.invalid"], 2);
}

TEST_F(LedgerTest, ProcessUsesAreBoundedAndFollowFolding) {
    auto f = DomainFolder::create(1);
    ASSERT_TRUE(f.ok());
    Ledger l = open();
    l.set_caps(10, 10);
    l.set_process_use_cap(3);
    Batch b1;
    b1.add_query("a1.x.com", 100);
    b1.add_process_use('d', "a1.x.com", "/bin/a", "root", "", 100);
    b1.add_process_use('d', "a1.x.com", "/bin/b", "root", "", 100);
    ASSERT_TRUE(l.commit(b1, {}, &f.value()).ok());
    // A batch of its own does not know a1 took the limit: the ledger folds a2, and its use.
    Batch b2;
    b2.add_query("a2.x.com", 200);
    b2.add_process_use('d', "a2.x.com", "/bin/a", "root", "", 200);
    ASSERT_TRUE(l.commit(b2, {}, &f.value()).ok());
    EXPECT_EQ(l.last_process_use_over_cap(), 0);
    Batch b3;
    b3.add_process_use('i', "192.0.2.1", "/bin/c", "root", "", 200);  // a 4th row: refused
    b3.add_process_use('i', "192.0.2.1", "/bin/c", "root", "", 201);
    b3.add_process_use('d', "a1.x.com", "/bin/b", "root", "", 200);  // known: counted
    ASSERT_TRUE(l.commit(b3, {}, &f.value()).ok());
    EXPECT_EQ(l.last_process_use_over_cap(), 1);
    EXPECT_EQ(uses_of(l),
              "d *.x.com /bin/a root  1 200-200\n"
              "d a1.x.com /bin/a root  1 100-100\n"
              "d a1.x.com /bin/b root  2 100-200\n");
    EXPECT_EQ((*l.counters())["process_use.over_cap"], 2);
}

TEST_F(LedgerTest, Version2DatabaseGainsTheProcessUseTable) {
    const std::string path = (dir_ / "ledger.sqlite").string();
    {
        // The version 2 schema as that program created it, with one domain in it.
        auto db = sql::Database::open(path);
        ASSERT_TRUE(db.ok());
        ASSERT_TRUE(db->exec(R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE domains(name TEXT PRIMARY KEY, count INTEGER NOT NULL, last_seen INTEGER NOT NULL,
    base TEXT NOT NULL DEFAULT '') WITHOUT ROWID;
CREATE INDEX domains_by_base ON domains(base);
CREATE TABLE domain_ips(name TEXT NOT NULL, ip BLOB NOT NULL, last_seen INTEGER NOT NULL,
    PRIMARY KEY(name, ip)) WITHOUT ROWID;
CREATE TABLE ips(ip BLOB PRIMARY KEY, count INTEGER NOT NULL, last_seen INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TABLE flow_ports(ip BLOB NOT NULL, proto INTEGER NOT NULL, port INTEGER NOT NULL,
    count INTEGER NOT NULL, direct INTEGER NOT NULL, PRIMARY KEY(ip, proto, port)) WITHOUT ROWID;
CREATE TABLE cursors(source TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES('commit_generation', 7), ('rendered_generation', 7);
INSERT INTO domains VALUES('old.test', 4, 1795347335, 'old.test');
INSERT INTO cursors VALUES('src', 'c7');
PRAGMA user_version=2;
)sql")
                        .ok());
    }
    Ledger l = open();
    EXPECT_EQ(*l.generation("commit_generation"), 7);  // kept, not reset
    EXPECT_EQ(**l.cursor("src"), "c7");
    EXPECT_EQ(uses_of(l), "");
    std::string names;
    EXPECT_TRUE(l.for_each_flow_name([&](const FlowNameRow& r) { names += r.name; }).ok());
    EXPECT_EQ(names, "");
    Batch b;
    b.add_query("old.test", 1795347400);
    b.add_process_use('d', "old.test", "/usr/bin/curl", "root", "", 1795347400);
    ASSERT_TRUE(l.commit(b, {}).ok());
    EXPECT_EQ(uses_of(l), "d old.test /usr/bin/curl root  1 1795347400-1795347400\n");
    ASSERT_TRUE(export_aggregate_files(l, dir_.string()).ok());
    EXPECT_EQ(read(kDomainsFile), "old.test 5 2026-11-22T11:36:40Z -\n");
    {
        auto db = sql::Database::open(path);
        auto st = db->prepare("PRAGMA user_version");
        ASSERT_TRUE(st.ok());
        ASSERT_EQ(st->step(), SQLITE_ROW);
        EXPECT_EQ(st->int64(0), 4);  // the current version: process_use, then flow_names
    }
}

namespace {
std::string names_of(Ledger& l) {
    std::string out;
    auto r = l.for_each_flow_name([&](const FlowNameRow& r) {
        out += fmt::format("{} {} {} {} {}-{}{}\n", r.ip.to_string(), r.name, int{r.protocol},
                           r.count, r.first_seen, r.last_seen, r.ech ? " ech" : "");
    });
    EXPECT_TRUE(r.ok());
    return out;
}
}  // namespace

// The names first packets gave accumulate per (address, name, protocol) across commits, a
// flow offering ECH marks its row, and loopback is not egress.
TEST_F(LedgerTest, FlowNamesAccumulatePerAddressNameAndProtocol) {
    Ledger l = open();
    Batch b1;
    b1.add_flow_name(ip("192.0.2.10"), 0, "b.example.test", false, 200);
    b1.add_flow_name(ip("192.0.2.10"), 0, "a.example.test", false, 100);
    b1.add_flow_name(ip("127.0.0.1"), 0, "local.test", false, 100);
    ASSERT_TRUE(l.commit(b1, {}).ok());
    Batch b2;
    b2.add_flow_name(ip("192.0.2.10"), 0, "a.example.test", true, 90);
    b2.add_flow_name(ip("192.0.2.10"), 1, "a.example.test", false, 300);
    b2.add_flow_name(ip("2001:db8::1"), 2, "h.example.test", false, 400);
    ASSERT_TRUE(l.commit(b2, {}).ok());
    EXPECT_EQ(names_of(l),
              "192.0.2.10 a.example.test 0 2 90-100 ech\n"
              "192.0.2.10 a.example.test 1 1 300-300\n"
              "192.0.2.10 b.example.test 0 1 200-200\n"
              "2001:db8::1 h.example.test 2 1 400-400\n");
}

// An address holds at most kMaxNamesPerIp names, and with caps the table at most max_ips
// rows: a new name beyond either is counted, its known names still are.
TEST_F(LedgerTest, FlowNamesAreBounded) {
    Ledger l = open();
    Batch b1;
    for (int i = 0; i < Ledger::kMaxNamesPerIp + 3; ++i)
        b1.add_flow_name(ip("192.0.2.10"), 0, fmt::format("n{:02}.example.test", i), false, 100);
    ASSERT_TRUE(l.commit(b1, {}).ok());
    std::string kept = names_of(l);  // which 8 of the batch's 11 is the batch's order
    kept = kept.substr(kept.find(' ') + 1);
    kept.resize(kept.find(' '));
    Batch b2;
    b2.add_flow_name(ip("192.0.2.10"), 0, kept, false, 200);
    b2.add_flow_name(ip("192.0.2.10"), 0, "new.example.test", false, 200);
    ASSERT_TRUE(l.commit(b2, {}).ok());
    std::string rows = names_of(l);
    EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), Ledger::kMaxNamesPerIp) << rows;
    EXPECT_EQ((*l.counters())["first_packets.names_over_cap"], 4);

    l.set_caps(100, Ledger::kMaxNamesPerIp + 1);
    Batch b3;
    b3.add_flow_name(ip("192.0.2.11"), 0, "first.example.test", false, 300);
    b3.add_flow_name(ip("192.0.2.12"), 0, "second.example.test", false, 300);
    ASSERT_TRUE(l.commit(b3, {}).ok());
    rows = names_of(l);
    EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), Ledger::kMaxNamesPerIp + 1) << rows;
    EXPECT_EQ((*l.counters())["first_packets.names_over_cap"], 5);
}

}  // namespace em
