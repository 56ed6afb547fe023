// The alerting scenario of docs/collector.md ("Scenario: a fleet over many cycles"): six
// simulated hosts over 30 five-minute cycles, with benign churn on every host (counts grow,
// CDN addresses rotate, new names under known domains, new package mirrors allowed by
// suffix) and one incident of each kind injected on one host at a known cycle. Asserts what
// an on-call engineer needs: every incident alerted in the cycle it starts, no alert that is
// not an incident, and at most 1.5 alerts (opened or updated) per incident. Prints the figures.
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

#include "collector/collector.h"
#include "dga_gen.h"
#include "format/writer.h"

namespace em {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kT0 = 1795347335;  // 2026-11-22T11:35:35Z
constexpr int64_t kCycle = 300;

IpAddress ip(const std::string& s) { return *IpAddress::parse(s); }

class Sink : public AlertSink {
  public:
    explicit Sink(std::vector<AlertEvent>* out) : out_(out) {}
    std::string_view name() const override { return "scenario"; }
    Result<void> emit(const AlertEvent& e) override {
        out_->push_back(e);
        return {};
    }

  private:
    std::vector<AlertEvent>* out_;
};

// One simulated host: what its agent's two files hold.
struct SimHost {
    std::string name;
    std::map<std::string, DomainEntry> domains;
    std::map<IpAddress, IpEntry> ips;
    bool down = false;

    void query(const std::string& n, int64_t count, int64_t t, std::vector<IpAddress> answers) {
        DomainEntry& d = domains[n];
        d.name = n;
        d.count += count;
        d.last_seen = t;
        for (const auto& a : answers)
            if (std::find(d.ips.begin(), d.ips.end(), a) == d.ips.end()) d.ips.push_back(a);
        std::sort(d.ips.begin(), d.ips.end());
    }
    void connect(const IpAddress& a, int64_t count, int64_t t) {
        IpEntry& e = ips[a];
        e.ip = a;
        e.count += count;
        e.last_seen = t;
    }
    FetchResult files() const {
        FetchResult r;
        r.host = name;
        if (down) {
            r.error = name + ": connect: connection refused";
            return r;
        }
        r.ok = true;
        std::vector<DomainEntry> d;
        for (const auto& [k, v] : domains) d.push_back(v);
        std::vector<IpEntry> i;
        for (const auto& [k, v] : ips) i.push_back(v);
        r.domains = render_domains_file(d);
        r.ips = render_ips_file(i);
        return r;
    }
};

struct Incident {
    int cycle;
    std::string host, rule, what;
    bool detected = false;
};

}  // namespace

TEST(AlertScenario, EveryIncidentOnceAndNothingElse) {
    const fs::path dir = fs::temp_directory_path() / ("em-scenario-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    CollectorConfig config;
    config.history.path = (dir / "history.sqlite").string();
    config.alerts.to_stdout = false;
    config.rules.new_domain.learning_days = 0;  // the first snapshot is the baseline
    config.rules.new_domain.allow = {"*.debian.org"};
    config.rules.public_resolver.list =
        std::string(EM_TEST_DATA) + "/../../packaging/public-resolvers.txt";
    config.rules.stale.max_age_minutes = 0;  // a monitor that stops answering: at once
    config.rules.rare.min_fleet = 100;       // six hosts: rarity means nothing here
    std::vector<AlertEvent> events;
    std::vector<std::unique_ptr<AlertSink>> sinks;
    sinks.push_back(std::make_unique<Sink>(&events));
    auto created = Collector::create(config, std::move(sinks));
    ASSERT_TRUE(created.ok()) << created.error().message;
    auto& collector = *created;

    std::vector<SimHost> hosts(6);
    std::vector<HostSpec> specs(6);
    for (size_t i = 0; i < hosts.size(); ++i) {
        hosts[i].name = specs[i].name = "web" + std::to_string(i + 1);
        specs[i].tags = {"prod"};
    }
    std::vector<Incident> incidents{
        {4, "web1", "new_domain", "new domain"},
        {6, "web2", "direct_ip", "direct address"},
        {8, "web3", "public_resolver", "public resolver by address"},
        {10, "web4", "public_resolver", "public resolver by DoH name"},
        {12, "web5", "tunnel", "DNS tunnel"},
        {14, "web3", "dga", "DGA burst"},
        {16, "web1", "volume_spike", "volume spike"},
        {18, "web2", "dga", "DGA burst of word pairs"},
        {20, "web6", "stale", "monitor stops"},
    };
    std::mt19937 rng(42);
    auto between = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };

    int false_alerts = 0, alerts = 0;
    for (int c = 0; c < 30; ++c) {
        const int64_t t = kT0 + c * kCycle;
        for (size_t i = 0; i < hosts.size(); ++i) {
            SimHost& h = hosts[i];
            // Benign: the usual names, growing; a CDN whose answer rotates each cycle, and
            // the host connects to the current one; a new name under a known domain now and
            // then; new mirrors under an allowed suffix.
            h.query("api.github.com", between(10, 20), t, {ip("192.0.2.10")});
            h.connect(ip("192.0.2.10"), between(10, 20), t);
            h.query("deb.debian.org", between(1, 3), t, {ip("192.0.2.20")});
            h.connect(ip("192.0.2.20"), between(1, 3), t);
            const IpAddress cdn = ip("198.51.100." + std::to_string(10 + (c + i) % 20));
            h.query("assets.cdn-example.net", between(5, 15), t, {cdn});
            h.connect(cdn, between(5, 15), t);
            if (c > 0 && c % 7 == 0)
                h.query("v" + std::to_string(c) + ".api.github.com", 1, t, {ip("192.0.2.11")});
            if (c > 0 && c % 5 == 0)
                h.query("mirror" + std::to_string(c) + ".debian.org", 2, t, {ip("192.0.2.21")});
        }
        auto host = [&](const char* n) -> SimHost& { return hosts[std::string(n).back() - '1']; };
        // The incidents, each from its cycle on.
        if (c >= 4) host("web1").query("app.newsaas.example", 3, t, {ip("203.0.113.40")});
        if (c >= 4) host("web1").connect(ip("203.0.113.40"), 3, t);
        if (c >= 6) host("web2").connect(ip("203.0.113.50"), 2, t);
        if (c >= 8) host("web3").connect(ip("1.1.1.1"), 4, t);
        if (c >= 10) {
            host("web4").query("dns.google", 6, t, {ip("8.8.8.8")});
            host("web4").connect(ip("8.8.8.8"), 6, t);
        }
        if (c == 12)
            for (int n = 0; n < 600; ++n)
                host("web5").query(
                    fmt::format("{:08x}.t.exfil-tunnel.example", static_cast<uint32_t>(rng())), 1,
                    t, {ip("203.0.113.60")});
        // Malware on web3 tries 40 generated domains (Bamital-like hashes); none answers.
        if (c == 14)
            for (const auto& d : dga_gen::generate(dga_gen::Family::kHex, 14, 40))
                host("web3").query(d, 1, t, {});
        // Malware on web2 tries 20 word-pair domains (Suppobox-like): words to the letter
        // model, a burst of never-answered new domains to the rule.
        if (c == 18)
            for (const auto& d : dga_gen::generate(dga_gen::Family::kWords, 18, 20))
                host("web2").query(d, 1, t, {});
        if (c == 16) host("web1").query("api.github.com", 5000, t, {});
        host("web6").down = c >= 20;

        std::vector<FetchResult> results;
        for (const auto& h : hosts) results.push_back(h.files());
        events.clear();
        auto sum = collector->run_cycle(specs, results, t);
        ASSERT_TRUE(sum.ok()) << sum.error().message;
        for (const AlertEvent& e : events) {
            if (!e.open) continue;  // resolutions are not alerts
            ++alerts;
            bool explained = false;
            for (Incident& in : incidents)
                if (in.host == e.host && in.rule == e.rule && c >= in.cycle) {
                    explained = true;
                    if (c == in.cycle && !e.updated) in.detected = true;
                }
            if (!explained) {
                ++false_alerts;
                ADD_FAILURE() << "cycle " << c << ": false alert " << alert_line(e);
            }
        }
    }
    int detected = 0;
    for (const Incident& in : incidents) {
        EXPECT_TRUE(in.detected) << in.what << " on " << in.host << " not alerted in cycle "
                                 << in.cycle;
        detected += in.detected;
    }
    const double per_incident = static_cast<double>(alerts) / incidents.size();
    std::printf(
        "alert scenario: 6 hosts, 30 cycles, %zu incidents: %d detected in their cycle, %d false "
        "alerts, %d alerts (opened or updated), %.2f per incident\n",
        incidents.size(), detected, false_alerts, alerts, per_incident);
    EXPECT_EQ(false_alerts, 0);
    EXPECT_LE(per_incident, 1.5);
    collector.reset();
    fs::remove_all(dir);
}

}  // namespace em
