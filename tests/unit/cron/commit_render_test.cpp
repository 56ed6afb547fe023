// The commit-and-render step shared by cron mode and the agent (exporters/commit_render.h).
#include "exporters/commit_render.h"

#include <filesystem>

#include "cron_fixture.h"
#include "format/aggregate.h"

namespace em {

namespace {

class CommitRenderTest : public CronFixture {
  protected:
    void SetUp() override {
        CronFixture::SetUp();
        out_ = path("out");
    }
    Result<CommitOutcome> step(Ledger& l, const Batch& b, bool moved, bool force = false) {
        const CommitRequest req{.batch = b,
                                .cursors = cursors_,
                                .moved = moved,
                                .force = force,
                                .folder = nullptr,
                                .on_committed = [&] { ++on_committed_; }};
        return commit_and_render(l, out_, req);
    }
    static Batch with_query(const char* name) {
        Batch b(32);
        b.add_query(name, 1700000000);
        return b;
    }
    std::string domains() const { return read("out/" + std::string(kDomainsFile)); }
    // A mark in the rendered file that only a render removes.
    void mark() { append("out/" + std::string(kDomainsFile), "marked\n"); }
    bool marked() const { return domains().find("marked\n") != std::string::npos; }
    static int64_t gen(Ledger& l, const char* which) { return *l.generation(which); }

    std::string out_;
    std::map<std::string, std::string> cursors_;
    int on_committed_ = 0;
};

TEST_F(CommitRenderTest, NewTotalsCommitRenderAndMarkRendered) {
    Ledger l = ledger();
    auto r = step(l, with_query("a.test"), true);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->committed);
    EXPECT_TRUE(r->rendered);
    EXPECT_EQ(on_committed_, 1);
    EXPECT_EQ(domains().substr(0, 9), "a.test 1 ");
    EXPECT_TRUE(std::filesystem::exists(out_ + "/" + kIpsFile));
    EXPECT_EQ(gen(l, "commit_generation"), 1);
    EXPECT_EQ(gen(l, "rendered_generation"), 1);
}

// Cron mode never has flow names: exactly the two files. The agent's first-packet names
// bring flow-names.log, rendered with them, sorted by address, name and protocol name.
TEST_F(CommitRenderTest, FlowNamesFileOnlyWhenTheLedgerHasNames) {
    Ledger l = ledger();
    ASSERT_TRUE(step(l, with_query("a.test"), true).ok());
    EXPECT_FALSE(std::filesystem::exists(out_ + "/" + kFlowNamesFile));

    Batch b(32);
    auto ip = *IpAddress::parse("140.82.112.5");
    b.add_flow(ip, 1700000000);
    b.add_flow_name(ip, 0, "api.github.com", false, 1700000000);  // tls
    b.add_flow_name(ip, 2, "api.github.com", false, 1700000001);  // http
    b.add_flow_name(*IpAddress::parse("9.9.9.9"), 1, "dns.quad9.net", true, 1700000002);
    ASSERT_TRUE(step(l, b, true).ok());
    EXPECT_EQ(read("out/" + std::string(kFlowNamesFile)),
              "9.9.9.9 dns.quad9.net quic 1 2023-11-14T22:13:22Z ech\n"
              "140.82.112.5 api.github.com http 1 2023-11-14T22:13:21Z\n"
              "140.82.112.5 api.github.com tls 1 2023-11-14T22:13:20Z\n");
}

// The agent's attribution brings process-uses.log, in key order, the exe and user that a
// local user chose percent-encoded; cron mode, without it, writes exactly the two files.
TEST_F(CommitRenderTest, ProcessUsesFileOnlyWhenTheLedgerHasUses) {
    Ledger l = ledger();
    ASSERT_TRUE(step(l, with_query("a.test"), true).ok());
    EXPECT_FALSE(std::filesystem::exists(out_ + "/" + kProcessUsesFile));

    Batch b(32);
    b.add_query("a.test", 1700000001);
    b.add_process_use('d', "a.test", "/tmp/my tool", "bob", "", 1700000001);
    b.add_process_use('i', "192.0.2.7", "/usr/bin/curl", "root", "3f2a9c", 1700000002);
    b.add_process_use('d', "a.test", "/tmp/my tool", "bob", "", 1700000003);
    ASSERT_TRUE(step(l, b, true).ok());
    EXPECT_EQ(read("out/" + std::string(kProcessUsesFile)),
              "d a.test /tmp/my%20tool bob - 2 2023-11-14T22:13:21Z 2023-11-14T22:13:23Z\n"
              "i 192.0.2.7 /usr/bin/curl root 3f2a9c 1 2023-11-14T22:13:22Z "
              "2023-11-14T22:13:22Z\n");
}

TEST_F(CommitRenderTest, NothingNewCommitsAndRendersNothing) {
    Ledger l = ledger();
    ASSERT_TRUE(step(l, with_query("a.test"), true).ok());
    mark();
    auto r = step(l, Batch(32), false);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r->committed);
    EXPECT_FALSE(r->rendered);
    EXPECT_EQ(on_committed_, 1);
    EXPECT_TRUE(marked());
    EXPECT_EQ(gen(l, "commit_generation"), 1);
    EXPECT_EQ(gen(l, "rendered_generation"), 1);
}

TEST_F(CommitRenderTest, CountersOrCursorsOnlyCommitWithoutRewritingCurrentFiles) {
    Ledger l = ledger();
    ASSERT_TRUE(step(l, with_query("a.test"), true).ok());
    mark();
    Batch counted(32);
    counted.count("dnsmasq.lines", 3);
    cursors_["dnsmasq:/x"] = "moved";
    auto r = step(l, counted, true);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->committed);
    EXPECT_FALSE(r->rendered);
    EXPECT_TRUE(marked());
    EXPECT_EQ(*l.cursor("dnsmasq:/x"), std::optional<std::string>("moved"));
    // The files still match the ledger's totals: the rendered generation follows.
    EXPECT_EQ(gen(l, "commit_generation"), 2);
    EXPECT_EQ(gen(l, "rendered_generation"), 2);
}

TEST_F(CommitRenderTest, CrashBetweenCommitAndRenderIsRepairedByTheNextCall) {
    Ledger l = ledger();
    ASSERT_TRUE(step(l, with_query("a.test"), true).ok());
    mark();
    // A run that committed and died before rendering.
    ASSERT_TRUE(l.commit(with_query("b.test"), {}).ok());
    auto r = step(l, Batch(32), false);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r->committed);
    EXPECT_TRUE(r->rendered);
    EXPECT_FALSE(marked());
    EXPECT_NE(domains().find("b.test 1 "), std::string::npos) << domains();
    EXPECT_EQ(gen(l, "rendered_generation"), 2);
    // And then it is current: nothing more to do.
    mark();
    r = step(l, Batch(32), false);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->rendered);
    EXPECT_TRUE(marked());
}

TEST_F(CommitRenderTest, FailedRenderKeepsTheCommitAndIsRepairedByTheNextCall) {
    Ledger l = ledger();
    append("out", "a file where the directory should be\n");
    auto r = step(l, with_query("a.test"), true);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(gen(l, "commit_generation"), 1);     // the commit stands
    EXPECT_EQ(gen(l, "rendered_generation"), -1);  // not rendered
    std::filesystem::remove(out_);
    r = step(l, Batch(32), false);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r->committed);
    EXPECT_TRUE(r->rendered);
    EXPECT_EQ(domains().substr(0, 9), "a.test 1 ");
    EXPECT_EQ(gen(l, "rendered_generation"), 1);
}

TEST_F(CommitRenderTest, MissingFileIsRenderedAgain) {
    Ledger l = ledger();
    ASSERT_TRUE(step(l, with_query("a.test"), true).ok());
    std::filesystem::remove(out_ + "/" + kIpsFile);
    auto r = step(l, Batch(32), false);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r->committed);
    EXPECT_TRUE(r->rendered);
    EXPECT_TRUE(std::filesystem::exists(out_ + "/" + kIpsFile));
}

TEST_F(CommitRenderTest, ForceCommitsAndRendersWithNothingNew) {
    Ledger l = ledger();
    ASSERT_TRUE(step(l, with_query("a.test"), true).ok());
    mark();
    auto r = step(l, Batch(32), false, true);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->committed);
    EXPECT_TRUE(r->rendered);
    EXPECT_FALSE(marked());
    EXPECT_EQ(gen(l, "commit_generation"), 2);
    EXPECT_EQ(gen(l, "rendered_generation"), 2);
}

}  // namespace

}  // namespace em
