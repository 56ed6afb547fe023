#include "cron/merge.h"

#include "cron/plan.h"
#include "cron_fixture.h"

namespace em {

namespace {

class CronMergeTest : public CronFixture {
  protected:
    CronPlan plan() {
        Ledger l = ledger();
        auto p = plan_inputs(l, opt_);
        EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
        return p.ok() ? std::move(*p) : CronPlan{};
    }
    static std::unique_ptr<Batch> batch() { return std::make_unique<Batch>(32); }
    static IpAddress ip(const char* s) { return *IpAddress::parse(s); }
};

TEST_F(CronMergeTest, BatchesAndCountersBecomeOneBatch) {
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    append("kern.log", flow("192.0.2.1"));
    CronPlan p = plan();
    CronRead r;
    r.batches.push_back(batch());
    r.batches.back()->add_query("a.test", 100);
    r.batches.push_back(batch());
    r.batches.back()->add_query("a.test", 200);
    r.batches.back()->add_flow(ip("192.0.2.1"), 150);
    r.dnsmasq.lines = 2;
    r.dnsmasq.queries = 1;
    r.kernel.lines = 1;
    r.kernel.flows = 1;
    r.kernel.malformed = 0;
    CronMerged m = merge_inputs(p, std::move(r), 32, nullptr);
    ASSERT_EQ(m.total.domains().size(), 1u);
    for (const auto& [name, d] : m.total.domains()) {
        EXPECT_EQ(name, "a.test");
        EXPECT_EQ(d.queries, 2u);
    }
    EXPECT_EQ(m.total.ips().size(), 1u);
    // Counters that counted nothing are not stored.
    EXPECT_EQ(m.total.counters(), (Batch::Counters{{"dnsmasq.lines", 2},
                                                   {"dnsmasq.queries", 1},
                                                   {"kernel.lines", 1},
                                                   {"kernel.flows", 1}}));
    EXPECT_EQ(m.summary.bytes, read("dnsmasq.log").size() + read("kern.log").size());
    EXPECT_EQ(m.summary.dns_lines, 2u);
    EXPECT_EQ(m.summary.flows, 1u);
    EXPECT_TRUE(m.moved);
    EXPECT_EQ(m.cursors.at(p.dnsmasq_key), p.dnsmasq->cursor_after().encode());
    EXPECT_EQ(m.cursors.at(p.kernel_key), p.kernel_file->cursor_after().encode());
    EXPECT_EQ(m.cursors.count(p.dnsmasq_state_key), 0u);  // no state then or now
}

TEST_F(CronMergeTest, NothingReadAndCursorsWhereTheyWereIsNotAMove) {
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    append("kern.log", flow("192.0.2.1"));
    run();
    CronPlan p = plan();
    CronRead r;
    r.batches.push_back(batch());
    r.dnsmasq_state = p.dnsmasq_state.value_or("");
    CronMerged m = merge_inputs(p, std::move(r), 32, nullptr);
    EXPECT_FALSE(m.moved);
    EXPECT_TRUE(m.total.empty());
    EXPECT_TRUE(m.total.counters().empty());
}

TEST_F(CronMergeTest, ACursorMovingPastNothingCountedIsAMove) {
    append("dnsmasq.log", query("a.test", "192.0.2.1"));
    run();
    append("dnsmasq.log", "\n");  // an empty line: read, counted as nothing
    CronPlan p = plan();
    CronRead r;
    CronMerged m = merge_inputs(p, std::move(r), 32, nullptr);
    EXPECT_TRUE(m.total.counters().empty());
    EXPECT_TRUE(m.moved);
    EXPECT_NE(m.cursors.at(p.dnsmasq_key), p.before.at(p.dnsmasq_key));
}

TEST_F(CronMergeTest, MissingLogStoresAnEmptyCursorAndAnEmptiedStateIsStillStored) {
    CronPlan p = plan();          // neither log exists
    p.dnsmasq_state = "pending";  // as if stored by an earlier run
    p.before[p.dnsmasq_state_key] = "pending";
    CronRead r;
    CronMerged m = merge_inputs(p, std::move(r), 32, nullptr);
    // "Nothing was there": whatever appears, rotated or not, is read by the next run.
    EXPECT_EQ(m.cursors.at(p.dnsmasq_key), "v2");
    EXPECT_EQ(m.cursors.at(p.kernel_key), "v2");
    ASSERT_EQ(m.cursors.count(p.dnsmasq_state_key), 1u);
    EXPECT_EQ(m.cursors.at(p.dnsmasq_state_key), "");
    EXPECT_TRUE(m.moved);  // the state went from "pending" to nothing
}

}  // namespace

}  // namespace em
