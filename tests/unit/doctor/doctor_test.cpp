#include "doctor/doctor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/ledger.h"
#include "exporters/aggregate_files.h"

namespace em {

namespace {

namespace fs = std::filesystem;
using Status = DoctorCheck::Status;

const DoctorCheck& find(const std::vector<DoctorCheck>& checks, const std::string& name) {
    for (const auto& c : checks)
        if (c.name == name) return c;
    static const DoctorCheck none{"(missing)", Status::skip, "", ""};
    ADD_FAILURE() << "no check " << name;
    return none;
}

class DoctorTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("em-doctor-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "state");
        fs::create_directories(dir_ / "out");
        in_.config_path = (dir_ / "config.toml").string();
        in_.resolv_conf = (dir_ / "resolv.conf").string();
        in_.dnsmasq_log = (dir_ / "dnsmasq.log").string();
        in_.state_dir = (dir_ / "state").string();
        in_.output_dir = (dir_ / "out").string();
        in_.now = ::time(nullptr);
        in_.command_succeeds = [this](const std::vector<std::string>& argv) {
            commands_.push_back(argv[0]);
            return nft_loaded_ && argv[0] == "nft";
        };
    }
    void TearDown() override { fs::remove_all(dir_); }
    void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
    // A ledger with one domain and one address, rendered into the two files.
    void commit_and_render() {
        auto l = Ledger::open(in_.state_dir + "/ledger.sqlite", 8);
        ASSERT_TRUE(l.ok());
        Batch b;
        b.add_query("a.example.test", in_.now);
        b.add_answer("a.example.test", *IpAddress::parse("192.0.2.1"), in_.now);
        b.add_flow(*IpAddress::parse("192.0.2.1"), in_.now);
        ASSERT_TRUE(l->commit(b, {}).ok());
        ASSERT_TRUE(export_aggregate_files(*l, in_.output_dir).ok());
        ASSERT_TRUE(l->set_rendered(*l->generation("commit_generation")).ok());
    }
    fs::path dir_;
    DoctorInput in_;
    bool nft_loaded_ = true;
    std::vector<std::string> commands_;
};

}  // namespace

TEST(Doctor, ResolverMustAskDnsmasqFirst) {
    EXPECT_EQ(check_resolver_text("# x\nsearch a.test\nnameserver 127.0.0.1\n", "r").status,
              Status::ok);
    EXPECT_EQ(check_resolver_text("nameserver ::1\n", "r").status, Status::ok);
    auto bypass = check_resolver_text("nameserver 192.0.2.53\nnameserver 127.0.0.1\n", "r");
    EXPECT_EQ(bypass.status, Status::fail);
    EXPECT_NE(bypass.detail.find("asks 192.0.2.53 first"), std::string::npos) << bypass.detail;
    EXPECT_FALSE(bypass.fix.empty());
    EXPECT_EQ(check_resolver_text("search a.test\n", "r").status, Status::fail);
}

// A working cron-mode host: everything ok, no endpoint configured.
TEST_F(DoctorTest, AWorkingCronHostIsAllGood) {
    write(in_.resolv_conf, "nameserver 127.0.0.1\n");
    write(in_.dnsmasq_log,
          "Dec  3 10:00:00 dnsmasq[1]: 1 127.0.0.1/1 query[A] a.test from 127.0.0.1\n");
    commit_and_render();
    auto checks = run_doctor(in_);
    for (const auto& c : checks)
        EXPECT_TRUE(c.status == Status::ok || (c.name == "endpoint" && c.status == Status::skip))
            << c.name << ": " << c.detail;
    EXPECT_EQ(find(checks, "unique-ips.log").detail.rfind("1 lines, written ", 0), 0u);
    EXPECT_EQ(render_doctor(checks).substr(
                  render_doctor(checks).rfind('\n', render_doctor(checks).size() - 2) + 1),
              "all good\n");
}

// What breaks monitoring is a FAIL with a fix: no log rule, a missing ledger and files, a
// resolver that bypasses dnsmasq, a malformed file.
TEST_F(DoctorTest, BrokenPartsFailWithAFix) {
    write(in_.resolv_conf, "nameserver 192.0.2.53\n");
    nft_loaded_ = false;
    auto checks = run_doctor(in_);
    for (const char* name : {"resolver", "dnsmasq log", "log rule", "ledger", "unique-domains.log",
                             "unique-ips.log"}) {
        EXPECT_EQ(find(checks, name).status, Status::fail) << name;
        EXPECT_FALSE(find(checks, name).fix.empty()) << name;
    }
    std::string report = render_doctor(checks);
    EXPECT_NE(report.find("FAIL  log rule"), std::string::npos) << report;
    EXPECT_NE(report.find("fix: load it: /usr/local/lib/egress-monitor/load-firewall.sh"),
              std::string::npos)
        << report;
    EXPECT_NE(report.find("6 to fix, 0 to look at\n"), std::string::npos) << report;

    commit_and_render();
    write(dir_ / "out" / "unique-ips.log", "192.0.2.1 not-a-count 2026-12-03T10:00:00Z\n");
    checks = run_doctor(in_);
    EXPECT_EQ(find(checks, "ledger").status, Status::ok);
    EXPECT_EQ(find(checks, "unique-domains.log").status, Status::ok);
    EXPECT_EQ(find(checks, "unique-ips.log").status, Status::fail);
}

// Agent mode skips what only cron mode needs, and never runs a command for it.
TEST_F(DoctorTest, AgentModeSkipsTheCronParts) {
    in_.mode = DoctorMode::agent;
    commit_and_render();
    auto checks = run_doctor(in_);
    for (const char* name : {"resolver", "dnsmasq log", "log rule"})
        EXPECT_EQ(find(checks, name).status, Status::skip) << name;
    EXPECT_TRUE(commands_.empty());
    EXPECT_EQ(find(checks, "unique-domains.log").status, Status::ok);
}

// A config that does not load is the first failure, with the loader's words.
TEST_F(DoctorTest, ABadConfigFails) {
    in_.config_error = "config.toml:3: unknown key 'outptu_dir'";
    auto checks = run_doctor(in_);
    EXPECT_EQ(checks.front().name, "config");
    EXPECT_EQ(checks.front().status, Status::fail);
    EXPECT_EQ(checks.front().detail, in_.config_error);
}

}  // namespace em
