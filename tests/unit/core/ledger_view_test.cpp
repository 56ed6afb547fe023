#include "core/ledger_view.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace em {

namespace fs = std::filesystem;

class LedgerViewTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("em-ledger-view-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path() const { return (dir_ / "ledger.sqlite").string(); }
    fs::path dir_;
};

TEST_F(LedgerViewTest, AMissingLedgerIsAbsentNotAnError) {
    LedgerSnapshot v = read_ledger_snapshot(path(), true);
    EXPECT_FALSE(v.present);
    EXPECT_EQ(v.error, "");
    EXPECT_FALSE(fs::exists(path()));  // never created by a reader
}

TEST_F(LedgerViewTest, AFileThatIsNoDatabaseIsAnErrorNamingIt) {
    std::ofstream(path()) << "not a database, only text long enough to be read as a header\n";
    LedgerSnapshot v = read_ledger_snapshot(path());
    EXPECT_FALSE(v.present);
    EXPECT_NE(v.error.find(path()), std::string::npos) << v.error;
    EXPECT_TRUE(v.counters.empty());
}

TEST_F(LedgerViewTest, ReadsWhatTheLastCommitLeft) {
    {
        auto l = Ledger::open(path(), 3);
        ASSERT_TRUE(l.ok()) << l.error().message;
        l->set_caps(10, 1);
        Batch b;
        b.count("dnsmasq.queries", 7);
        const IpAddress ip = *IpAddress::parse("192.0.2.1");
        b.add_flow(ip, 100);
        b.add_flow_port(ip, 6, 443, true);
        ASSERT_TRUE(l->commit(b, {{"x", "1"}}).ok());
        ASSERT_TRUE(l->set_rendered(1).ok());
    }
    LedgerSnapshot v = read_ledger_snapshot(path(), true);
    ASSERT_TRUE(v.present) << v.error;
    EXPECT_EQ(v.counters["dnsmasq.queries"], 7);
    EXPECT_EQ(v.generations["commit_generation"], 1);
    EXPECT_EQ(v.generations["rendered_generation"], 1);
    ASSERT_EQ(v.ports.size(), 1u);
    EXPECT_EQ(v.ports[0].ip.to_string(), "192.0.2.1");
    EXPECT_EQ(v.ports[0].port, 443);
    EXPECT_EQ(v.ports[0].direct, 1);
    auto caps = capacities(v.capacity);
    ASSERT_EQ(caps.size(), 2u);
    EXPECT_STREQ(caps[1].table, "ips");
    EXPECT_EQ(caps[1].lines, 1);
    EXPECT_EQ(caps[1].limit, 1);
    EXPECT_TRUE(caps[1].at_capacity());
    EXPECT_FALSE(caps[0].at_capacity());

    EXPECT_TRUE(read_ledger_snapshot(path()).ports.empty());  // only asked for
}

TEST(LedgerCapacities, OnlyTablesWithABound) {
    EXPECT_TRUE(capacities({}).empty());
    EXPECT_TRUE(capacities({{"domain_rows", 5}, {"max_domains", 0}}).empty());
    auto c = capacities({{"domain_rows", 5}, {"max_domains", 5}, {"ip_rows", 3}});
    ASSERT_EQ(c.size(), 1u);
    EXPECT_STREQ(c[0].table, "domains");
    EXPECT_TRUE(c[0].at_capacity());
}

}  // namespace em
