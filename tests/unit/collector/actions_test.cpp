#include "collector/actions.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "collector/history.h"
#include "collector/report.h"
#include "scratch_store.h"

namespace em {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kT0 = 1795347335;  // 2026-11-22T11:35:35Z

class ActionsTest : public ::testing::TestWithParam<store::Backend> {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("em-actions-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        EM_SCRATCH_STORE(scratch_, GetParam(), dir_);
        auto s = HistoryStore::open(scratch_->target());
        ASSERT_TRUE(s.ok()) << s.error().message;
        store_ = std::move(s.value());
        auto b = AlertBook::create(store_->db());
        ASSERT_TRUE(b.ok());
        book_.emplace(std::move(b.value()));
        auto a = OperatorActions::create(store_->db());
        ASSERT_TRUE(a.ok()) << a.error().message;
        actions_.emplace(std::move(a.value()));
    }
    void TearDown() override {
        actions_.reset();
        book_.reset();
        store_.reset();
        scratch_.reset();
        fs::remove_all(dir_);
    }
    fs::path dir_;
    std::unique_ptr<test::ScratchStore> scratch_;
    std::unique_ptr<HistoryStore> store_;
    std::optional<AlertBook> book_;
    std::optional<OperatorActions> actions_;
};

TEST_P(ActionsTest, AckNeedsAnOpenAlertAndIsAudited) {
    std::vector<AlertEvent> ev;
    ASSERT_TRUE(
        book_->reconcile("web1", {}, "direct_ip", {{"203.0.113.9", "3 connections"}}, kT0, ev)
            .ok());
    ASSERT_EQ(ev.size(), 1u);
    auto missing = actions_->ack(ev[0].id + 100, "alice", "", kT0);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find("no open alert has this id"), std::string::npos);
    auto a = actions_->ack(ev[0].id, "alice", "vendor's VPN, ticket 42", kT0 + 5);
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->key, "203.0.113.9");
    auto open = book_->open_alerts();
    ASSERT_EQ(open->size(), 1u);
    EXPECT_EQ((*open)[0].acked_by, "alice");
    auto log = actions_->audit();
    ASSERT_EQ(log->size(), 1u);
    EXPECT_EQ((*log)[0].who, "alice");
    EXPECT_EQ((*log)[0].action, "ack");
    EXPECT_EQ((*log)[0].why, "vendor's VPN, ticket 42");
    EXPECT_EQ((*log)[0].time, kT0 + 5);
    // Resolved, then open again: a new incident, not acknowledged.
    ev.clear();
    ASSERT_TRUE(book_->reconcile("web1", {}, "direct_ip", {}, kT0 + 60, ev).ok());
    ASSERT_TRUE(
        book_->reconcile("web1", {}, "direct_ip", {{"203.0.113.9", "again"}}, kT0 + 120, ev).ok());
    EXPECT_EQ((*book_->open_alerts())[0].acked_by, "");
}

TEST_P(ActionsTest, SilencesMatchAndExpire) {
    Silence s;
    s.rule = "new_domain";
    s.host = "web1";
    s.who = "bob";
    s.why = "migration";
    auto id = actions_->silence(s, 7 * 86400, kT0);
    ASSERT_TRUE(id.ok()) << id.error().message;
    auto active = actions_->silences(kT0 + 86400);
    ASSERT_EQ(active->size(), 1u);
    EXPECT_TRUE((*active)[0].matches("web1", "new_domain", "anything.example"));
    EXPECT_FALSE((*active)[0].matches("web2", "new_domain", "anything.example"));
    EXPECT_FALSE((*active)[0].matches("web1", "direct_ip", "203.0.113.9"));
    EXPECT_TRUE(actions_->silences(kT0 + 7 * 86400)->empty());
    EXPECT_EQ(actions_->silences(kT0 + 7 * 86400, true)->size(), 1u);
    // report and the sinks see it while it lasts.
    std::vector<AlertEvent> ev;
    ASSERT_TRUE(book_->reconcile("web1", {}, "new_domain", {{"x.example", "new"}}, kT0, ev).ok());
    auto text = render_report(*store_, *book_, ReportFormat::text, kT0 + 60);
    ASSERT_TRUE(text.ok());
    EXPECT_NE(text->find("silenced until 2026-11-29T11:35:35Z"), std::string::npos) << *text;
    auto json = render_report(*store_, *book_, ReportFormat::json, kT0 + 60);
    EXPECT_NE(json->find(R"("silenced_until":"2026-11-29T11:35:35Z")"), std::string::npos) << *json;
    EXPECT_EQ(render_report(*store_, *book_, ReportFormat::text, kT0 + 8 * 86400)->find("silenced"),
              std::string::npos);
    EXPECT_FALSE(actions_->silence(Silence{}, 60, kT0).ok());  // matches everything: refused
    EXPECT_FALSE(actions_->silence(s, 0, kT0).ok());
    EXPECT_EQ((*actions_->audit())[0].action, "silence");
}

TEST_P(ActionsTest, AllowTakesDomainsAndNetworksOnly) {
    EXPECT_TRUE(actions_->allow("updates.vendor.example", "", "carol", "vendor", kT0).ok());
    EXPECT_TRUE(actions_->allow("*.cdn.example", "web1", "carol", "cdn", kT0).ok());
    EXPECT_TRUE(actions_->allow("203.0.113.0/24", "", "carol", "office", kT0).ok());
    for (const char* bad : {"Evil.Example", "a..b", "x y", "203.0.113.0/33", "", "*.", "a/b"}) {
        auto r = actions_->allow(bad, "", "carol", "x", kT0);
        EXPECT_FALSE(r.ok()) << bad;
        if (!r.ok()) {
            EXPECT_NE(r.error().message.find("neither a network"), std::string::npos);
        }
    }
    auto all = actions_->allows();
    ASSERT_EQ(all->size(), 3u);
    const AllowEntry &vendor = (*all)[0], &cdn = (*all)[1], &office = (*all)[2];
    EXPECT_TRUE(vendor.explains("web9", "new_domain", "updates.vendor.example"));
    EXPECT_TRUE(vendor.explains("*", "new_domain", "a.updates.vendor.example"));
    EXPECT_FALSE(vendor.explains("web9", "new_domain", "vendor.example"));  // wider than allowed
    EXPECT_FALSE(vendor.explains("web9", "direct_ip", "203.0.113.9"));
    EXPECT_TRUE(cdn.explains("web1", "new_domain", "cdn.example"));
    EXPECT_FALSE(cdn.explains("web2", "new_domain", "cdn.example"));
    EXPECT_FALSE(cdn.explains("*", "new_domain", "cdn.example"));  // one host's entry
    EXPECT_TRUE(office.explains("web1", "direct_ip", "203.0.113.77"));
    EXPECT_FALSE(office.explains("web1", "direct_ip", "198.51.100.1"));
    EXPECT_FALSE(office.explains("web1", "public_resolver", "203.0.113.77"));
    EXPECT_EQ(actions_->audit()->size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Stores, ActionsTest, test::both_backends(), test::backend_name);

}  // namespace

}  // namespace em
