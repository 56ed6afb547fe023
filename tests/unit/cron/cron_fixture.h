#pragma once
// A state directory, an output directory and the two logs of one cron run, in a temporary
// directory per test; no root, no journal (the kernel lines come from a syslog file).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/ledger.h"
#include "cron/cron.h"

namespace em {

class CronFixture : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("em-cron-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        opt_.dnsmasq_log = path("dnsmasq.log");
        opt_.kernel_log = path("kern.log");
        opt_.log_prefix = "EGRESS: ";
        opt_.state_dir = path("state");
        opt_.output_dir = path("out");
        opt_.lock_timeout_ms = 1000;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    void append(const std::string& name, const std::string& text) {
        std::ofstream(path(name), std::ios::app | std::ios::binary) << text;
    }
    std::string read(const std::string& name) const {
        std::ifstream in(path(name), std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    static std::string query(const std::string& name, const std::string& ip) {
        return "Nov 24 17:33:56 dnsmasq[5898]: query[A] " + name +
               " from 127.0.0.1\nNov 24 17:33:56 dnsmasq[5898]: reply " + name + " is " + ip + "\n";
    }
    static std::string flow(const std::string& dst) {
        return "Nov 24 17:05:01 testhost kernel: [ 100.000001] EGRESS: IN= OUT=eth0 "
               "SRC=198.51.100.2 DST=" +
               dst +
               " LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=63920 DF PROTO=TCP SPT=36144 DPT=80 "
               "WINDOW=64240 RES=0x00 SYN URGP=0 \n";
    }
    CronSummary run() {
        auto r = run_cron(opt_);
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
        return r.ok() ? *r : CronSummary{};
    }
    Ledger ledger() {
        std::filesystem::create_directories(opt_.state_dir);
        auto l = Ledger::open(opt_.state_dir + "/ledger.sqlite", 32);
        EXPECT_TRUE(l.ok()) << (l.ok() ? "" : l.error().message);
        return std::move(l.value());
    }

    std::filesystem::path dir_;
    CronOptions opt_;
};

}  // namespace em
