// run_cron end to end, on files: no root, no journal.
#include "cron/cron.h"

#include <filesystem>

#include "cron_fixture.h"
#include "format/aggregate.h"

namespace em {

namespace {

class CronTest : public CronFixture {
  protected:
    std::string domains() const { return read("out/" + std::string(kDomainsFile)); }
    std::string ips() const { return read("out/" + std::string(kIpsFile)); }
};

TEST_F(CronTest, FirstRunCommitsAndRendersTheLogs) {
    append("dnsmasq.log", query("a.test", "192.0.2.1") + query("a.test", "192.0.2.1"));
    append("kern.log", flow("192.0.2.1") + flow("192.0.2.9"));
    CronSummary s = run();
    EXPECT_TRUE(s.committed);
    EXPECT_TRUE(s.rendered);
    EXPECT_EQ(s.queries, 2u);
    EXPECT_EQ(s.flows, 2u);
    EXPECT_EQ(s.bytes, read("dnsmasq.log").size() + read("kern.log").size());
    EXPECT_EQ(domains().substr(0, 9), "a.test 2 ");
    EXPECT_NE(domains().find(" 192.0.2.1\n"), std::string::npos) << domains();
    EXPECT_EQ(ips().substr(0, 12), "192.0.2.1 1 ");
    EXPECT_NE(ips().find("\n192.0.2.9 1 "), std::string::npos) << ips();
}

TEST_F(CronTest, ReRunWithNothingNewCommitsAndRendersNothing) {
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    append("kern.log", flow("192.0.2.1"));
    run();
    const std::string before = domains();
    CronSummary s = run();
    EXPECT_FALSE(s.committed);
    EXPECT_FALSE(s.rendered);
    EXPECT_EQ(s.bytes, 0u);
    EXPECT_EQ(domains(), before);
}

TEST_F(CronTest, RotatedLinesAreCountedOnce) {
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    run();
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    std::filesystem::rename(path("dnsmasq.log"), path("dnsmasq.log.1"));
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    CronSummary s = run();
    EXPECT_EQ(s.queries, 2u);
    EXPECT_EQ(domains().substr(0, 9), "a.test 3 ");
}

TEST_F(CronTest, RunDyingBetweenCommitAndRenderIsRepairedByTheNext) {
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    run();
    {
        // What a run that died after its commit leaves: a commit not rendered.
        Ledger l = ledger();
        Batch b(32);
        b.add_query("b.test", 1700000000);
        ASSERT_TRUE(l.commit(b, {}).ok());
    }
    CronSummary s = run();  // nothing new in the logs
    EXPECT_FALSE(s.committed);
    EXPECT_TRUE(s.rendered);
    EXPECT_NE(domains().find("b.test 1 "), std::string::npos) << domains();
    Ledger l = ledger();
    EXPECT_EQ(*l.generation("rendered_generation"), *l.generation("commit_generation"));
}

TEST_F(CronTest, RelativePathsFindTheSameCursors) {
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    run();
    const auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(dir_);
    CronOptions relative = opt_;
    relative.dnsmasq_log = "dnsmasq.log";
    relative.kernel_log = "./kern.log";
    relative.state_dir = "state";
    relative.output_dir = "out/";
    auto r = run_cron(relative);
    std::filesystem::current_path(cwd);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r->committed);
    EXPECT_EQ(r->bytes, 0u);
}

}  // namespace

}  // namespace em
