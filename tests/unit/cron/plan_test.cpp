#include "cron/plan.h"

#include <filesystem>

#include "cron_fixture.h"

namespace em {

namespace {

class CronPlanTest : public CronFixture {
  protected:
    CronPlan plan() {
        Ledger l = ledger();
        auto p = plan_inputs(l, opt_);
        EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
        return p.ok() ? std::move(*p) : CronPlan{};
    }
    static std::vector<std::string> segments(const LogFile& f) {
        std::vector<std::string> out;
        for (const auto& s : f.segments())
            out.push_back(std::filesystem::path(s.path()).filename().string() + ":" +
                          std::to_string(s.begin()) + "-" + std::to_string(s.end()));
        return out;
    }
};

TEST_F(CronPlanTest, FirstRunReadsEverythingAndRemembersNothing) {
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    append("kern.log", flow("192.0.2.1"));
    CronPlan p = plan();
    EXPECT_EQ(p.dnsmasq_key, "dnsmasq:" + path("dnsmasq.log"));
    EXPECT_EQ(p.kernel_key, "kernel-file:" + path("kern.log"));
    const auto dn_size = std::to_string(read("dnsmasq.log").size());
    const auto kn_size = std::to_string(read("kern.log").size());
    EXPECT_EQ(segments(*p.dnsmasq), std::vector<std::string>{"dnsmasq.log:0-" + dn_size});
    EXPECT_EQ(segments(*p.kernel_file), std::vector<std::string>{"kern.log:0-" + kn_size});
    EXPECT_TRUE(p.before.empty());
    EXPECT_FALSE(p.dnsmasq_state);
}

TEST_F(CronPlanTest, NothingNewPlansNothing) {
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    append("kern.log", flow("192.0.2.1"));
    run();
    CronPlan p = plan();
    EXPECT_TRUE(p.dnsmasq->segments().empty());
    EXPECT_TRUE(p.kernel_file->segments().empty());
    EXPECT_EQ(p.dnsmasq->bytes_planned() + p.kernel_file->bytes_planned(), 0u);
    // The stored cursors are remembered, and planning again leaves them where they were.
    ASSERT_EQ(p.before.count(p.dnsmasq_key), 1u);
    EXPECT_EQ(p.before[p.dnsmasq_key], p.dnsmasq->cursor_after().encode());
    EXPECT_EQ(p.before[p.kernel_key], p.kernel_file->cursor_after().encode());
}

TEST_F(CronPlanTest, GrownFileIsReadFromTheStoredOffset) {
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    run();
    const auto old_size = read("dnsmasq.log").size();
    append("dnsmasq.log", query("b.test", "192.0.2.2"));
    CronPlan p = plan();
    EXPECT_EQ(segments(*p.dnsmasq),
              std::vector<std::string>{"dnsmasq.log:" + std::to_string(old_size) + "-" +
                                       std::to_string(read("dnsmasq.log").size())});
}

TEST_F(CronPlanTest, RotationReadsTheRestOfTheOldFileThenTheNewOne) {
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    run();
    const auto old_size = read("dnsmasq.log").size();
    append("dnsmasq.log", query("b.test", "192.0.2.2"));  // written before the rotation
    std::filesystem::rename(path("dnsmasq.log"), path("dnsmasq.log.1"));
    append("dnsmasq.log", query("c.test", "192.0.2.3"));
    CronPlan p = plan();
    EXPECT_EQ(
        segments(*p.dnsmasq),
        (std::vector<std::string>{"dnsmasq.log.1:" + std::to_string(old_size) + "-" +
                                      std::to_string(read("dnsmasq.log.1").size()),
                                  "dnsmasq.log:0-" + std::to_string(read("dnsmasq.log").size())}));
}

TEST_F(CronPlanTest, TruncationStartsAgainFromTheBeginning) {
    append("kern.log", flow("192.0.2.1") + flow("192.0.2.2"));
    run();
    std::filesystem::resize_file(path("kern.log"), 0);
    append("kern.log", flow("192.0.2.3"));
    CronPlan p = plan();
    EXPECT_EQ(segments(*p.kernel_file),
              std::vector<std::string>{"kern.log:0-" + std::to_string(read("kern.log").size())});
}

TEST_F(CronPlanTest, NoKernelInputPlansOnlyDnsmasq) {
    opt_.kernel_log = "none";
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    CronPlan p = plan();
    EXPECT_TRUE(p.kernel_key.empty());
    EXPECT_FALSE(p.kernel_file);
    EXPECT_EQ(p.dnsmasq->segments().size(), 1u);
}

TEST_F(CronPlanTest, CorruptStoredCursorIsAnErrorNamingIt) {
    {
        Ledger l = ledger();
        ASSERT_TRUE(l.commit(Batch(), {{"dnsmasq:" + path("dnsmasq.log"), "not a cursor"}}).ok());
    }
    Ledger l = ledger();
    auto p = plan_inputs(l, opt_);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().message.find("corrupt stored cursor for dnsmasq:"), std::string::npos)
        << p.error().message;
}

}  // namespace

}  // namespace em
