// The agent's real loop (run_agent) over a scripted source (fake_live_source.h): what a
// source hands the pipeline reaches the ledger, the two files and the events file; the
// source's counters are committed; SIGHUP re-reads the settings and reopens the events
// file; SIGTERM, or a failing source, ends the loop with a final commit and the source's
// shutdown. No root, no kernel.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>

#include "agent/agent.h"
#include "agent/dns_wire.h"
#include "agent/fake_live_source.h"
#include "common/time.h"
#include "core/ledger.h"

namespace fs = std::filesystem;

namespace em {
namespace {

using fake::FakeLiveSource;
using fake::FakeScript;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

using test::put16;
using test::put_name;
// A DNS query for `name` (type A), or its response with one A record, uncompressed.
std::string dns_a(const std::string& name, const char* answer = nullptr) {
    std::string s;
    put16(s, 0x4242);
    put16(s, answer ? 0x8180 : 0x0100);
    put16(s, 1);
    put16(s, answer ? 1 : 0);
    put16(s, 0);
    put16(s, 0);
    put_name(s, name);
    put16(s, 1);
    put16(s, 1);
    if (answer) {
        put_name(s, name);
        put16(s, 1);
        put16(s, 1);
        put16(s, 0);
        put16(s, 300);  // TTL
        IpAddress a = ip(answer);
        put16(s, 4);
        s.append(reinterpret_cast<const char*>(a.bytes()), 4);
    }
    return s;
}

PacketMeta meta(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                uint8_t proto = kProtoUdp) {
    PacketMeta m;
    m.time_ms = unix_now() * 1000;
    m.proto = proto;
    m.src = ip(src);
    m.dst = ip(dst);
    m.sport = sport;
    m.dport = dport;
    return m;
}

void udp_dns(Pipeline& p, const PacketMeta& m, const std::string& wire) {
    PacketInfo pk;
    pk.proto = kProtoUdp;
    pk.src = m.src;
    pk.dst = m.dst;
    pk.sport = m.sport;
    pk.dport = m.dport;
    pk.payload = reinterpret_cast<const uint8_t*>(wire.data());
    pk.payload_len = pk.payload_wire_len = wire.size();
    p.on_dns_packet(m, pk);
}

// A client asks for www.example.test, gets 203.0.113.5 and connects to it; a second flow
// goes to an address no name explains.
void resolve_and_connect(Pipeline& p) {
    udp_dns(p, meta("192.0.2.10", 40000, "198.51.100.1", 53), dns_a("www.example.test"));
    udp_dns(p, meta("198.51.100.1", 53, "192.0.2.10", 40000),
            dns_a("www.example.test", "203.0.113.5"));
    p.on_flow(meta("192.0.2.10", 40001, "203.0.113.5", 443, kProtoTcp));
    p.on_flow(meta("192.0.2.10", 40002, "198.51.100.9", 443, kProtoTcp));
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool has_line_starting(const std::string& text, const std::string& prefix) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(prefix, 0) == 0) return true;
    return false;
}

class AgentLoop : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/em-agent-loop-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        settings_.state_dir = dir_ + "/state";
        settings_.output_dir = dir_ + "/out";
        settings_.events = dir_ + "/events.jsonl";
        settings_.flush_interval_ms = 60000;  // commits: the first and the final one
        settings_.lock_timeout_ms = 1000;
        settings_.source.source = "fake";
    }
    void TearDown() override {
        if (agent_.joinable()) (void)stop_and_join();
        fs::remove_all(dir_);
    }

    // Runs the agent on a thread of its own (run_agent blocks the stop signals in the
    // calling thread; the test's thread keeps its mask).
    void start(ReloadSettings reload = {}) {
        std::promise<Result<void>> done;
        result_ = done.get_future();
        agent_ = std::thread([this, reload = std::move(reload), done = std::move(done)]() mutable {
            sigset_t set;
            sigemptyset(&set);
            for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
            pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before run_agent: no early death
            done.set_value(run_agent(settings_, reload, FakeLiveSource::factory(script_)));
        });
    }
    // The agent's result; SIGTERM to its thread if it has not ended within `seconds`.
    Result<void> wait(int seconds = 20) {
        if (result_.wait_for(std::chrono::seconds(seconds)) != std::future_status::ready) {
            ADD_FAILURE() << "the agent did not stop by itself within " << seconds << " s";
            return stop_and_join();
        }
        agent_.join();
        return result_.get();
    }
    Result<void> stop_and_join() {
        pthread_kill(agent_.native_handle(), SIGTERM);
        agent_.join();
        return result_.get();
    }
    // Polls `path` until it holds a line starting with `prefix`.
    bool wait_for_line(const std::string& path, const std::string& prefix) {
        for (int i = 0; i < 1000; ++i) {
            if (has_line_starting(slurp(path), prefix)) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
    std::map<std::string, int64_t> ledger_counters() {
        auto l = Ledger::open(settings_.state_dir + "/ledger.sqlite", 32);
        EXPECT_TRUE(l.ok()) << l.error().message;
        if (!l) return {};
        auto c = l->counters();
        EXPECT_TRUE(c.ok());
        return c ? *c : std::map<std::string, int64_t>{};
    }
    std::string domains() { return slurp(settings_.output_dir + "/unique-domains.log"); }
    std::string ips() { return slurp(settings_.output_dir + "/unique-ips.log"); }

    std::string dir_;
    AgentSettings settings_;
    std::shared_ptr<FakeScript> script_ = std::make_shared<FakeScript>();
    std::thread agent_;
    std::future<Result<void>> result_;
};

}  // namespace

TEST_F(AgentLoop, FlowsAndDnsReachTheLedgerTheFilesAndTheEvents) {
    script_->counters = {{"fake.packets", 2}, {"fake.lost", 0}};
    script_->add(resolve_and_connect);
    script_->add([this](Pipeline&) {
        std::lock_guard<std::mutex> g(script_->mu);
        script_->counters["fake.packets"] = 4;
        script_->counters["fake.lost"] = 1;
    });
    script_->add([](Pipeline&) { raise(SIGTERM); });
    start();
    auto r = wait();
    ASSERT_TRUE(r.ok()) << r.error().message;

    const std::string d = domains(), i = ips();
    EXPECT_TRUE(has_line_starting(d, "www.example.test 1 ")) << d;
    EXPECT_NE(d.find("203.0.113.5"), std::string::npos) << d;
    EXPECT_TRUE(has_line_starting(i, "203.0.113.5 1 ")) << i;
    EXPECT_TRUE(has_line_starting(i, "198.51.100.9 1 ")) << i;
    EXPECT_FALSE(has_line_starting(i, "192.0.2.10 ")) << "the client is not a destination\n" << i;

    auto c = ledger_counters();
    EXPECT_EQ(c["flows"], 2);
    EXPECT_EQ(c["dns.queries"], 1);
    EXPECT_EQ(c["dns.responses"], 1);
    EXPECT_EQ(c["fake.packets"], 4) << "the source's counters, as deltas summed";
    EXPECT_EQ(c["fake.lost"], 1);

    const std::string ev = slurp(settings_.events);
    EXPECT_NE(ev.find("www.example.test"), std::string::npos) << ev;
    EXPECT_NE(ev.find("203.0.113.5"), std::string::npos) << ev;
    EXPECT_NE(ev.find("198.51.100.9"), std::string::npos) << ev;

    script_->locked([&] {
        EXPECT_EQ(script_->created, 1);
        EXPECT_TRUE(script_->steps.empty());
        EXPECT_GE(script_->drains, 3);
        EXPECT_EQ(script_->shutdowns, 1);
        EXPECT_TRUE(script_->destroyed);
        return 0;
    });
}

TEST_F(AgentLoop, FilesExistFromTheStartAndCommitsComeEveryFlushInterval) {
    settings_.flush_interval_ms = 50;
    script_->add(resolve_and_connect);
    start();
    // Rendered at once, before traffic; then a periodic commit while the agent runs on.
    ASSERT_TRUE(wait_for_line(settings_.output_dir + "/unique-ips.log", "203.0.113.5 1 ")) << ips();
    EXPECT_TRUE(fs::exists(settings_.output_dir + "/unique-domains.log"));
    EXPECT_EQ(result_.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
        << "the agent stopped without a signal";
    // A stop signal from outside, to the agent's thread: a clean stop.
    auto r = stop_and_join();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(has_line_starting(ips(), "198.51.100.9 1 ")) << ips();
    EXPECT_EQ(ledger_counters()["flows"], 2) << "the final commit does not count twice";
    script_->locked([&] {
        EXPECT_EQ(script_->shutdowns, 1);
        EXPECT_TRUE(script_->destroyed);
        return 0;
    });
}

TEST_F(AgentLoop, HangupRereadsTheSettingsAndReopensTheEventsFile) {
    std::atomic<int> reloads{0};
    auto reload = [&]() -> Result<AgentSettings> {
        ++reloads;
        if (reloads == 1) return Error{"a broken config"};  // keeps the running settings
        AgentSettings s = settings_;
        s.flush_interval_ms = 30000;
        return s;
    };
    const std::string rotated = settings_.events + ".1";
    script_->add([](Pipeline& p) {
        p.on_flow(meta("192.0.2.10", 40001, "203.0.113.7", 443, kProtoTcp));
        raise(SIGHUP);
    });
    script_->add([&](Pipeline&) {
        fs::rename(settings_.events, rotated);  // logrotate, then its postrotate HUP
        raise(SIGHUP);
    });
    script_->add([](Pipeline& p) {
        p.on_flow(meta("192.0.2.10", 40002, "203.0.113.8", 443, kProtoTcp));
        raise(SIGTERM);
    });
    start(reload);
    auto r = wait();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(reloads.load(), 2);
    const std::string before = slurp(rotated), after = slurp(settings_.events);
    EXPECT_NE(before.find("203.0.113.7"), std::string::npos) << before;
    EXPECT_EQ(before.find("203.0.113.8"), std::string::npos) << before;
    EXPECT_NE(after.find("203.0.113.8"), std::string::npos) << after;
    EXPECT_EQ(after.find("203.0.113.7"), std::string::npos) << after;
    EXPECT_TRUE(has_line_starting(ips(), "203.0.113.8 1 ")) << ips();
}

TEST_F(AgentLoop, AFailingSourceEndsTheLoopAfterAFinalCommit) {
    script_->add_fallible([](Pipeline& p) -> Result<void> {
        p.on_flow(meta("192.0.2.10", 40001, "203.0.113.9", 443, kProtoTcp));
        return Error{"fake: the device is gone"};
    });
    start();
    auto r = wait();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "fake: the device is gone");
    EXPECT_TRUE(has_line_starting(ips(), "203.0.113.9 1 ")) << "committed before returning\n"
                                                            << ips();
    script_->locked([&] {
        EXPECT_EQ(script_->shutdowns, 1);
        EXPECT_EQ(script_->drains, 1) << "no drain after the failure";
        return 0;
    });
}

TEST_F(AgentLoop, ASourceThatCannotStartIsTheAgentsError) {
    std::promise<Result<void>> done;
    result_ = done.get_future();
    agent_ = std::thread([this, done = std::move(done)]() mutable {
        done.set_value(run_agent(settings_, {}, [](const LiveSourceOptions& o) {
            return Result<std::unique_ptr<LiveSource>>(Error{o.source + ": no such device"});
        }));
    });
    auto r = wait();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "fake: no such device");
}

}  // namespace em
