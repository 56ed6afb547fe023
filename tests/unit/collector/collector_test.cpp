#include "collector/collector.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "collector/actions.h"
#include "collector/good_fetch.h"
#include "collector/history.h"
#include "collector/history_uses.h"
#include "format/writer.h"
#include "scratch_store.h"

namespace em {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kT0 = 1795347335;  // 2026-11-22T11:35:35Z

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

class Capture : public AlertSink {
  public:
    explicit Capture(std::vector<AlertEvent>* out) : out_(out) {}
    std::string_view name() const override { return "capture"; }
    Result<void> emit(const AlertEvent& e) override {
        out_->push_back(e);
        return {};
    }

  private:
    std::vector<AlertEvent>* out_;
};

// "rule host key open|resolved" per event, sorted.
std::vector<std::string> summary(const std::vector<AlertEvent>& ev) {
    std::vector<std::string> out;
    for (const auto& e : ev)
        out.push_back(e.rule + " " + e.host + " " + e.key +
                      (!e.open     ? " resolved"
                       : e.updated ? " updated"
                                   : " open"));
    std::sort(out.begin(), out.end());
    return out;
}

using Lines = std::vector<std::string>;

FetchResult good(const std::string& host, std::vector<DomainEntry> d, std::vector<IpEntry> i) {
    return test::good_fetch(host, std::move(d), std::move(i));
}
FetchResult failed(const std::string& host) {
    FetchResult r;
    r.host = host;
    r.error = host + ": connect: connection refused";
    return r;
}
FetchResult not_modified(const std::string& host) {
    FetchResult r;
    r.host = host;
    r.ok = true;
    r.not_modified = true;
    return r;
}

class CollectorTest : public ::testing::TestWithParam<store::Backend> {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("em-collector-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        EM_SCRATCH_STORE(scratch_, GetParam(), dir_);
        (GetParam() == store::Backend::Sqlite ? config_.history.path : config_.history.url) =
            scratch_->target();
        config_.alerts.to_stdout = false;
        config_.rules.new_domain.learning_days = 0;
        config_.rules.public_resolver.list =
            std::string(EM_TEST_DATA) + "/../../packaging/public-resolvers.txt";
        config_.rules.rare.min_fleet = 100;
        hosts_ = {HostSpec{}, HostSpec{}};
        hosts_[0].name = "web1";
        hosts_[0].tags = {"prod", "web"};
        hosts_[1].name = "web2";
    }
    void TearDown() override {
        collector_.reset();
        scratch_.reset();
        fs::remove_all(dir_);
    }
    void start() {
        std::vector<std::unique_ptr<AlertSink>> sinks;
        sinks.push_back(std::make_unique<Capture>(&events_));
        auto c = Collector::create(config_, std::move(sinks));
        ASSERT_TRUE(c.ok()) << c.error().message;
        collector_ = std::move(c.value());
    }
    CycleSummary cycle(std::vector<FetchResult> results, int64_t now) {
        events_.clear();
        auto s = collector_->run_cycle(hosts_, results, now);
        EXPECT_TRUE(s.ok()) << s.error().message;
        return s.ok() ? *s : CycleSummary{};
    }
    fs::path dir_;
    std::unique_ptr<test::ScratchStore> scratch_;
    CollectorConfig config_;
    std::vector<HostSpec> hosts_;
    std::unique_ptr<Collector> collector_;
    std::vector<AlertEvent> events_;
};

TEST_P(CollectorTest, CycleAppliesRejectsAndResolves) {
    start();
    auto web1 = [](bool with_resolver, bool with_new) {
        std::vector<DomainEntry> d{{"api.example.com", 40, kT0, {ip("192.0.2.10")}}};
        if (with_new) d.push_back({"evil.example.net", 2, kT0 + 100, {ip("198.51.100.7")}});
        std::vector<IpEntry> i{{ip("192.0.2.10"), 12, kT0}, {ip("203.0.113.9"), 3, kT0}};
        if (with_new) i.insert(i.begin() + 1, IpEntry{ip("198.51.100.7"), 1, kT0 + 100});
        if (with_resolver) i.insert(i.begin(), IpEntry{ip("8.8.8.8"), 5, kT0});
        return good("web1", d, i);
    };
    FetchResult bad = good("web2", {}, {});
    bad.domains = "Bad.Example 1 2026-11-22T11:35:35Z -\n";
    auto s = cycle({web1(true, false), bad}, kT0);
    EXPECT_EQ(s.hosts, 2u);
    EXPECT_EQ(s.fetched, 1u);
    EXPECT_EQ(s.rejected, 1u);
    // 8.8.8.8 is a public resolver: one alert, not also direct_ip.
    EXPECT_EQ(summary(events_),
              (Lines{"direct_ip web1 203.0.113.9 open", "public_resolver web1 8.8.8.8 open",
                     "rejected web2 web2 open"}));
    EXPECT_EQ(s.alerts_opened, 3u);
    EXPECT_EQ(s.alerts_open, 3u);
    for (const auto& e : events_) {
        if (e.host == "web1") {
            EXPECT_EQ(e.tags, (std::vector<std::string>{"prod", "web"}));
        }
    }
    EXPECT_EQ(collector_->etags().at("web1").domains, web1(true, false).domains_etag);
    EXPECT_EQ(collector_->etags().count("web2"), 0u);

    // 304 and a failure: nothing changes.
    s = cycle({not_modified("web1"), failed("web2")}, kT0 + 60);
    EXPECT_EQ(s.not_modified, 1u);
    EXPECT_EQ(s.failed, 1u);
    EXPECT_TRUE(events_.empty());
    // The same bytes again without an ETag (ssh): unchanged, nothing changes either.
    s = cycle({web1(true, false), failed("web2")}, kT0 + 90);
    EXPECT_EQ(s.fetched, 1u);
    EXPECT_TRUE(events_.empty());

    // The resolver address is gone, a new domain appears (learning_days = 0), web2 is fixed.
    s = cycle({web1(false, true), good("web2", {{"ok.example.org", 1, kT0, {}}}, {})}, kT0 + 120);
    EXPECT_EQ(summary(events_),
              (Lines{"new_domain web1 example.net open", "public_resolver web1 8.8.8.8 resolved",
                     "rejected web2 web2 resolved"}));
    EXPECT_EQ(s.alerts_open, 2u);

    auto text = collector_->report(ReportFormat::text);
    ASSERT_TRUE(text.ok());
    EXPECT_NE(text->find("open alerts: 2"), std::string::npos) << *text;
    EXPECT_NE(text->find("new_domain      web1                 example.net: new domain "
                         "evil.example.net, first seen"),
              std::string::npos)
        << *text;
    EXPECT_NE(text->find("web2                 last ok 2026-11-22T11:37:35Z domains       1  ips "
                         "      0  open alerts    0"),
              std::string::npos)
        << *text;
    auto json = collector_->report(ReportFormat::json);
    ASSERT_TRUE(json.ok());
    EXPECT_NE(
        json->find(R"({"host":"web1","rule":"direct_ip","key":"203.0.113.9","state":"open",)"
                   R"("first_seen":"2026-11-22T11:35:35Z","last_seen":"2026-11-22T11:37:35Z",)"
                   R"("occurrences":2,)"),
        std::string::npos)
        << *json;
    EXPECT_NE(
        json->find(R"({"name":"web2","tags":[],"first_fetch":"2026-11-22T11:37:35Z",)"
                   R"("last_ok":"2026-11-22T11:37:35Z","last_attempt":"2026-11-22T11:37:35Z",)"
                   R"("last_change":"2026-11-22T11:37:35Z","last_reset":null,"last_error":"",)"
                   R"("domains":1,"ips":0,"open_alerts":0})"),
        std::string::npos)
        << *json;
}

// The HTML report: one page with every host's status, the alerts grouped by rule and
// explained, and what a host reported (here a rejected line quoted in the error) as text,
// never as markup.
TEST_P(CollectorTest, HtmlReportShowsStatusesAndEscapesWhatHostsSent) {
    hosts_.push_back(HostSpec{});
    hosts_[2].name = "db1";
    hosts_[1].tags = {"a<b"};
    start();
    FetchResult bad = good("web2", {}, {});
    bad.domains = "<img src=x onerror=alert(1)> 1 2026-11-22T11:35:35Z -\n";
    cycle({good("web1", {{"api.example.com", 4, kT0, {}}}, {{ip("203.0.113.9"), 3, kT0}}), bad,
           failed("db1")},
          kT0);
    auto html = collector_->report(ReportFormat::html);
    ASSERT_TRUE(html.ok()) << html.error().message;
    const std::string& h = *html;
    EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(h.find("content=\"default-src 'none'; style-src 'unsafe-inline'\""),
              std::string::npos);
    EXPECT_EQ(h.find("<script"), std::string::npos);
    EXPECT_EQ(h.find("<img"), std::string::npos) << h;
    EXPECT_NE(h.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos) << h;
    EXPECT_NE(h.find("<td>a&lt;b</td>"), std::string::npos) << h;
    EXPECT_NE(h.find("<th scope=\"row\">web1</th><td class=\"status fresh\">fresh</td>"),
              std::string::npos)
        << h;
    EXPECT_NE(h.find("<th scope=\"row\">web2</th><td class=\"status failing\">failing</td>"),
              std::string::npos)
        << h;
    EXPECT_NE(h.find("<th scope=\"row\">db1</th><td class=\"status failing\">failing</td>"),
              std::string::npos)
        << h;
    EXPECT_NE(h.find("<h3><code>direct_ip</code> (1)</h3>\n<p class=\"meaning\">a connection "
                     "to an address no DNS answer explained</p>"),
              std::string::npos)
        << h;
    EXPECT_NE(h.find("aria-label=\"hosts by status: 2 failing, 1 fresh\""), std::string::npos) << h;
    EXPECT_NE(h.find("<li><b>3</b> hosts</li>"), std::string::npos) << h;
}

// The issue's own example: 400 random names under one domain are one alert (tunnel, with
// the new-domain fact in it), not 401.
TEST_P(CollectorTest, ATunnelIsOneAlert) {
    config_.rules.tunnel.max_names_per_domain = 100;
    start();
    hosts_.resize(1);
    std::vector<DomainEntry> base{{"api.example.com", 40, kT0, {ip("192.0.2.10")}}};
    cycle({good("web1", base, {{ip("192.0.2.10"), 5, kT0}})}, kT0);
    ASSERT_TRUE(events_.empty());
    std::vector<DomainEntry> d = base;
    for (int i = 0; i < 400; ++i)
        d.push_back(
            {"q" + std::to_string(i * 7919 % 100000) + "x.tunnel.example.net", 1, kT0 + 100, {}});
    auto s = cycle({good("web1", d, {{ip("192.0.2.10"), 5, kT0}})}, kT0 + 300);
    ASSERT_EQ(summary(events_), (Lines{"tunnel web1 example.net open"})) << events_.size();
    EXPECT_NE(events_[0].message.find("400 names under example.net (more than 100)"),
              std::string::npos)
        << events_[0].message;
    EXPECT_NE(events_[0].message.find("; also new on this host: 400 new names under example.net ("),
              std::string::npos)
        << events_[0].message;
    EXPECT_EQ(s.alerts_opened, 1u);
}

// The same new domain on several hosts in one cycle is one fleet alert; a host reporting it
// later joins it; it resolves when the last host stops.
TEST_P(CollectorTest, TheSameNewDomainOnManyHostsIsOneFleetAlert) {
    config_.rules.fleet_hosts = 3;
    start();
    hosts_.clear();
    for (int i = 1; i <= 5; ++i) {
        hosts_.push_back(HostSpec{});
        hosts_.back().name = "web" + std::to_string(i);
        hosts_.back().tags = {"prod"};
    }
    std::vector<DomainEntry> base{{"api.example.com", 40, kT0, {}}};
    auto with = [&](const std::string& h, bool update, bool other) {
        std::vector<DomainEntry> d = base;
        if (update) d.push_back({"updates.vendor.example", 3, kT0 + 100, {}});
        if (other) d.push_back({"odd.example.org", 1, kT0 + 100, {}});
        return good(h, d, {});
    };
    std::vector<FetchResult> r;
    for (const auto& h : hosts_) r.push_back(with(h.name, false, false));
    cycle(r, kT0);
    ASSERT_TRUE(events_.empty());
    // Three hosts get the vendor's update domain, one of them also an odd one of its own.
    r = {with("web1", true, true), with("web2", true, false), with("web3", true, false),
         not_modified("web4"), not_modified("web5")};
    auto s = cycle(r, kT0 + 300);
    EXPECT_EQ(summary(events_),
              (Lines{"new_domain * vendor.example open", "new_domain web1 example.org open"}));
    for (const auto& e : events_)
        if (e.host == "*") {
            EXPECT_EQ(e.weight, 3);
            EXPECT_EQ(e.tags, std::vector<std::string>{"prod"});
            EXPECT_NE(e.message.find("on 3 hosts (web1, web2, web3); on web1: new domain "
                                     "updates.vendor.example"),
                      std::string::npos)
                << e.message;
        }
    EXPECT_EQ(s.alerts_opened, 2u);
    // web4 follows: it joins the fleet alert (3 -> 4 hosts: not a doubling, no event).
    r = {not_modified("web1"), not_modified("web2"), not_modified("web3"),
         with("web4", true, false), not_modified("web5")};
    cycle(r, kT0 + 600);
    EXPECT_TRUE(events_.empty()) << summary(events_)[0];
    auto report = collector_->report(ReportFormat::text);
    ASSERT_TRUE(report.ok());
    EXPECT_NE(report->find("on 4 hosts (web1, web2, web3, web4)"), std::string::npos) << *report;
    // Every host drops it: resolved, once.
    r.clear();
    for (const auto& h : hosts_) r.push_back(with(h.name, false, false));
    cycle(r, kT0 + 900);
    EXPECT_EQ(summary(events_), (Lines{"new_domain * vendor.example resolved",
                                       "new_domain web1 example.org resolved"}));
}

// Operator actions reach every sink: a silence keeps events from them, an allow entry
// resolves what it explains at the next cycle (with who and why) and keeps it from coming back.
TEST_P(CollectorTest, SilencesAndAllowEntriesAreHonoured) {
    start();
    hosts_.resize(1);
    cycle({good("web1", {{"api.example.com", 40, kT0, {}}}, {})}, kT0);
    auto db = HistoryStore::open(config_.history.target());
    ASSERT_TRUE(db.ok());
    auto actions = OperatorActions::create((*db)->db());
    ASSERT_TRUE(actions.ok());
    Silence s;
    s.rule = "direct_ip";
    s.who = "alice";
    s.why = "office move";
    ASSERT_TRUE(actions->silence(s, 3600, kT0).ok());
    auto snap = [&](bool odd, int64_t t) {
        std::vector<DomainEntry> d{{"api.example.com", 40, kT0, {}}};
        if (odd) d.push_back({"x.odd.example", 1, t, {}});
        return good("web1", d, {{ip("203.0.113.9"), 2, t}});
    };
    auto sum = cycle({snap(true, kT0 + 60)}, kT0 + 60);
    // Both open; only new_domain went out, direct_ip was silenced.
    EXPECT_EQ(summary(events_), (Lines{"new_domain web1 odd.example open"}));
    EXPECT_EQ(sum.alerts_opened, 2u);
    EXPECT_EQ(sum.alerts_silenced, 1u);

    ASSERT_TRUE(actions->allow("odd.example", "", "bob", "our new vendor", kT0 + 90).ok());
    // Nothing on web1 changed, yet the allowed alert resolves, with the reason.
    cycle({not_modified("web1")}, kT0 + 120);
    ASSERT_EQ(summary(events_), (Lines{"new_domain web1 odd.example resolved"}));
    EXPECT_EQ(events_[0].message, "allowed by bob: our new vendor (allow #1 odd.example)");
    // And it stays away when the host's files change.
    cycle({snap(true, kT0 + 180)}, kT0 + 180);
    EXPECT_TRUE(events_.empty()) << summary(events_)[0];
}

TEST_P(CollectorTest, VolumeSpikeResolvesAtTheNextFetch) {
    config_.rules.volume_spike = VolumeSpikeConfig{true, 3.0, 3, 50};
    start();
    hosts_.resize(1);
    int64_t count = 100, t = kT0;
    auto fetch = [&](int64_t by) {
        count += by;
        t += 300;
        return good("web1", {{"api.example.com", count, t, {}}}, {});
    };
    for (int i = 0; i < 4; ++i) {
        FetchResult r = fetch(10);
        cycle({r}, t);
    }
    EXPECT_TRUE(events_.empty());
    FetchResult spike = fetch(100);
    cycle({spike}, t);
    EXPECT_EQ(summary(events_), (Lines{"volume_spike web1 api.example.com open"}));
    cycle({not_modified("web1")}, t + 300);
    EXPECT_EQ(summary(events_), (Lines{"volume_spike web1 api.example.com resolved"}));
}

TEST_P(CollectorTest, ACycleAfterALostConnectionConnectsAgain) {
    if (GetParam() != store::Backend::Postgres) GTEST_SKIP() << "a server connection";
    start();
    hosts_.resize(1);
    cycle({good("web1", {{"api.example.com", 1, kT0, {}}}, {})}, kT0);
    // The server ends the collector's connections (a restart, a failover).
    auto admin = store::Database::open(scratch_->target());
    ASSERT_TRUE(admin) << admin.error().message;
    ASSERT_TRUE(
        admin->exec("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"));
    const FetchResult later =
        good("web1", {{"api.example.com", 1, kT0, {}}, {"new.example.org", 1, kT0 + 60, {}}}, {});
    // The cycle that finds the loss fails (nothing of it is kept) ...
    events_.clear();
    auto lost = collector_->run_cycle(hosts_, std::vector<FetchResult>{later}, kT0 + 60);
    ASSERT_FALSE(lost.ok());
    EXPECT_NE(lost.error().message.find("lost the connection"), std::string::npos)
        << lost.error().message;
    // ... and the next one connects again and applies the snapshot.
    auto s = cycle({later}, kT0 + 120);
    EXPECT_EQ(s.fetched, 1u);
    EXPECT_EQ(summary(events_), (Lines{"new_domain web1 example.org open"}));
}

TEST_P(CollectorTest, StaleHostsAndResets) {
    start();
    hosts_.resize(1);
    cycle({good("web1", {{"a.example.com", 50, kT0, {}}, {"b.example.org", 50, kT0, {}}}, {})},
          kT0);
    cycle({failed("web1")}, kT0 + 29 * 60);
    EXPECT_TRUE(events_.empty());
    cycle({failed("web1")}, kT0 + 31 * 60);
    EXPECT_EQ(summary(events_), (Lines{"stale web1 web1 open"}));
    EXPECT_NE(events_[0].message.find("connection refused"), std::string::npos);
    // Back with a reinstalled agent: counters restart; nothing is "new".
    cycle({good("web1", {{"a.example.com", 2, kT0 + 40 * 60, {}}}, {})}, kT0 + 40 * 60);
    EXPECT_EQ(summary(events_), (Lines{"stale web1 web1 resolved"}));
    cycle({good("web1", {{"a.example.com", 3, kT0, {}}, {"b.example.org", 1, kT0, {}}}, {})},
          kT0 + 50 * 60);
    EXPECT_TRUE(events_.empty());
    auto json = collector_->report(ReportFormat::json);
    ASSERT_TRUE(json.ok());
    EXPECT_NE(json->find(R"("last_reset":"2026-11-22T12:15:35Z")"), std::string::npos) << *json;
    // Fetches keep working but the files never change again.
    cycle({not_modified("web1")}, kT0 + 50 * 60 + 1440 * 60);
    EXPECT_EQ(summary(events_), (Lines{"stale web1 web1 open"}));
    EXPECT_NE(events_[0].message.find("files stopped changing"), std::string::npos);
}

TEST_P(CollectorTest, DisabledRulesResolveTheirAlerts) {
    start();
    hosts_.resize(1);
    cycle({good("web1", {}, {{ip("203.0.113.9"), 1, kT0}})}, kT0);
    EXPECT_EQ(summary(events_), (Lines{"direct_ip web1 203.0.113.9 open"}));
    collector_.reset();
    config_.rules.direct_ip.enabled = false;
    start();
    cycle({not_modified("web1")}, kT0 + 60);
    EXPECT_EQ(summary(events_), (Lines{"direct_ip web1 203.0.113.9 resolved"}));
}

// flow-names.log from the agent: a DoH name on a hard-coded address is public_resolver, and
// the address stays direct_ip "its first packets claimed" (not folded: the list does not name the
// address, and a name is only what a client sent); an unnamed address is direct_ip "no name
// at all". A bad names
// file costs that host its names only: its snapshot is applied, the rejection counted.
TEST_P(CollectorTest, FlowNamesFeedTheRulesAndABadFileCostsOnlyTheNames) {
    start();
    std::vector<IpEntry> ips{{ip("104.16.248.249"), 3, kT0}, {ip("203.0.113.9"), 1, kT0}};
    FetchResult web1 = good("web1", {}, ips);
    web1.names.present = true;
    web1.names.text = "104.16.248.249 mozilla.cloudflare-dns.com tls 3 2026-11-22T11:35:35Z\n";
    FetchResult web2 = good("web2", {}, ips);
    web2.names.present = true;
    web2.names.text = "104.16.248.249 Mozilla.cloudflare-dns.com tls 3 2026-11-22T11:35:35Z\n";
    auto s = cycle({web1, web2}, kT0);
    EXPECT_EQ(s.fetched, 2u);
    EXPECT_EQ(s.rejected, 0u);
    EXPECT_EQ(s.names_rejected, 1u);
    EXPECT_EQ(summary(events_),
              (Lines{"direct_ip web1 104.16.248.249 open", "direct_ip web1 203.0.113.9 open",
                     "direct_ip web2 104.16.248.249 open", "direct_ip web2 203.0.113.9 open",
                     "public_resolver web1 mozilla.cloudflare-dns.com open"}));
    for (const auto& e : events_) {
        if (e.rule != "direct_ip") continue;
        // web1's names are known: "no name at all" or "first packets claimed"; web2's were
        // rejected: neither.
        const bool web1 = e.host == "web1", named = e.key == "104.16.248.249";
        EXPECT_EQ(e.message.find("no name at all") != std::string::npos, web1 && !named)
            << e.host << ": " << e.message;
        EXPECT_EQ(e.message.find("first packets claimed TLS name mozilla.cloudflare-dns.com (") !=
                      std::string::npos,
                  web1 && named)
            << e.host << ": " << e.message;
    }

    // The same agent without the file any more (downgraded): no names, no error.
    web2.names = {};
    web2.ips = render_ips_file({{ip("104.16.248.249"), 4, kT0}, {ip("203.0.113.9"), 1, kT0}});
    s = cycle({not_modified("web1"), web2}, kT0 + 60);
    EXPECT_EQ(s.names_rejected, 0u);
}

// process-uses.log from the agent: stored with the snapshot for the host page; a bad one is
// counted and leaves the last good ones; an agent that stops sending it leaves none.
TEST_P(CollectorTest, ProcessUsesAreStoredAndABadFileKeepsTheLastGoodOnes) {
    start();
    hosts_.resize(1);
    const std::string good_uses =
        "i 203.0.113.9 /usr/bin/curl root - 1 2026-11-22T11:35:35Z 2026-11-22T11:35:35Z\n";
    FetchResult web1 = good("web1", {}, {{ip("203.0.113.9"), 1, kT0}});
    web1.uses.present = true;
    web1.uses.text = good_uses;
    auto s = cycle({web1}, kT0);
    EXPECT_EQ(s.fetched, 1u);
    EXPECT_EQ(s.uses_rejected, 0u);
    auto stored = [&]() -> std::optional<StoredUses> {
        auto store = HistoryStore::open(config_.history.target());
        EXPECT_TRUE(store) << store.error().message;
        auto hosts = (*store)->hosts();
        EXPECT_TRUE(hosts && hosts->size() == 1u && (*hosts)[0].name == "web1");
        auto u = load_process_uses((*store)->db(), (*hosts)[0].id);
        EXPECT_TRUE(u) << u.error().message;
        return *u;
    };
    ASSERT_TRUE(stored());
    EXPECT_EQ(stored()->text, good_uses);
    EXPECT_EQ(stored()->fetched_at, kT0);

    // Not canonical (a %-escape of a byte written as itself): counted, the old ones stay.
    web1.ips = render_ips_file({{ip("203.0.113.9"), 2, kT0 + 60}});
    web1.uses.text =
        "i 203.0.113.9 /usr/bin/%63url root - 1 2026-11-22T11:35:35Z "
        "2026-11-22T11:35:35Z\n";
    s = cycle({web1}, kT0 + 60);
    EXPECT_EQ(s.fetched, 1u);
    EXPECT_EQ(s.rejected, 0u);
    EXPECT_EQ(s.uses_rejected, 1u);
    ASSERT_TRUE(stored());
    EXPECT_EQ(stored()->text, good_uses);

    // Both files unchanged (304), the uses new: stored all the same (a use can be counted
    // without either file changing); then 304 to the uses too: kept.
    FetchResult same = not_modified("web1");
    same.uses.present = true;
    same.uses.text =
        "i 203.0.113.9 /usr/bin/wget root - 1 2026-11-22T11:35:35Z 2026-11-22T11:35:35Z\n";
    same.uses_etag = "\"u-2\"";
    s = cycle({same}, kT0 + 90);
    EXPECT_EQ(s.not_modified, 1u);
    EXPECT_EQ(stored()->text, same.uses.text);
    EXPECT_EQ(collector_->etags().at("web1").uses, "\"u-2\"");
    same.uses.text.clear();
    same.uses.not_modified = true;
    s = cycle({same}, kT0 + 100);
    ASSERT_TRUE(stored());
    EXPECT_NE(stored()->text.find("/usr/bin/wget"), std::string::npos);

    web1.ips = render_ips_file({{ip("203.0.113.9"), 3, kT0 + 120}});
    web1.uses = {};
    s = cycle({web1}, kT0 + 120);
    EXPECT_EQ(s.uses_rejected, 0u);
    EXPECT_FALSE(stored());
}

TEST_P(CollectorTest, JsonLinesSinkFromConfig) {
    config_.alerts.jsonl = (dir_ / "alerts.jsonl").string();
    start();
    hosts_.resize(1);
    cycle({good("web1", {}, {{ip("203.0.113.9"), 1, kT0}})}, kT0);
    std::ifstream in(config_.alerts.jsonl);
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    EXPECT_EQ(line,
              R"x({"time":"2026-11-22T11:35:35Z","host":"web1","rule":"direct_ip",)x"
              R"x("key":"203.0.113.9","state":"open","message":"1 connections to an address )x"
              R"x(no domain of this host resolved to (last 2026-11-22T11:35:35Z); to silence, )x"
              R"x(add it or its network to [rules.direct_ip] allow_cidrs",)x"
              R"x("tags":["prod","web"],"id":1,"weight":1})x");
}

INSTANTIATE_TEST_SUITE_P(Stores, CollectorTest, test::both_backends(), test::backend_name);

TEST(CollectorConfigTest, ParsesSectionsAndNamesBadLines) {
    auto c = parse_collector_config(R"(
inventory = "/etc/egress-collector/hosts.toml"   # not ours: left alone
[history]
path = "/tmp/h.sqlite"
[rules.new_domain]
learning_days = 3
allow = ["*.debian.org", "example.com"]
[rules.direct_ip]
allow_cidrs = ["10.0.0.0/8", "2001:db8::/32"]
[rules.tunnel]
min_entropy_bits = 3
[rules.rare]
enabled = false
[alerts]
stdout = false
webhook = "https://hooks.example/x"
)",
                                    "c.toml");
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->history.path, "/tmp/h.sqlite");
    EXPECT_EQ(c->history.target(), "/tmp/h.sqlite");
    EXPECT_EQ(c->rules.new_domain.learning_days, 3);
    EXPECT_EQ(c->rules.new_domain.allow.size(), 2u);
    EXPECT_EQ(c->rules.direct_ip.allow_cidrs.size(), 2u);
    EXPECT_DOUBLE_EQ(c->rules.tunnel.min_entropy_bits, 3.0);
    EXPECT_EQ(c->rules.tunnel.max_names_per_domain, 500);
    EXPECT_FALSE(c->rules.rare.enabled);
    EXPECT_FALSE(c->alerts.to_stdout);
    EXPECT_EQ(c->alerts.webhook_timeout_ms, 5000);

    struct Case {
        const char* text;
        const char* error;
    } cases[] = {
        {"[rules.tunnel]\nmax_lable = 3\n", "c.toml:2: unknown key rules.tunnel.max_lable"},
        {"[rules.tunnels]\n", "c.toml:1: unknown rule rules.tunnels"},
        {"[rules.stale]\n\nmax_age_minutes = \"30\"\n",
         "c.toml:3: rules.stale.max_age_minutes must be an integer in"},
        {"[rules.volume_spike]\nfactor = 0.5\n", "c.toml:2: rules.volume_spike.factor must be in"},
        {"[rules.direct_ip]\nallow_cidrs = [\"10.0.0.0/40\"]\n", "bad network \"10.0.0.0/40\""},
        {"[alerts]\nsyslog = 1\n", "c.toml:2: alerts.syslog must be true or false"},
        {"history = 3\n", "c.toml:1: history must be a table"},
        {"[history\n", "c.toml:1:"},
        {"[history]\nurl = \"mysql://u:secret@db/h\"\n",
         "c.toml: history.url is not a postgresql:// URL: mysql://u@db/h"},
    };
    for (const auto& k : cases) {
        auto r = parse_collector_config(k.text, "c.toml");
        ASSERT_FALSE(r.ok()) << k.text;
        EXPECT_NE(r.error().message.find(k.error), std::string::npos)
            << k.text << " -> " << r.error().message;
    }
}

TEST(CollectorConfigTest, HistoryUrlChoosesPostgres) {
    auto c = parse_collector_config(
        "[history]\nurl = \"postgresql://collector@db.example/fleet?sslmode=verify-full\"\n",
        "c.toml");
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->history.target(), "postgresql://collector@db.example/fleet?sslmode=verify-full");
}

TEST(CollectorConfigTest, DgaSection) {
    auto d = parse_collector_config("", "c.toml");
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_TRUE(d->rules.dga.enabled);
    EXPECT_EQ(d->rules.dga.min_length, 8);
    EXPECT_DOUBLE_EQ(d->rules.dga.threshold, 26.0);
    EXPECT_EQ(d->rules.dga.burst_min, 10);
    EXPECT_EQ(d->rules.dga.burst_minutes, 15);
    auto c = parse_collector_config(R"(
[rules.dga]
enabled = false
min_length = 10
threshold = 30.5
burst_min = 0
burst_minutes = 60
allow = ["*.cdn-hash.example", "xkqzvbhwpjrtmnf.com"]
)",
                                    "c.toml");
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_FALSE(c->rules.dga.enabled);
    EXPECT_EQ(c->rules.dga.min_length, 10);
    EXPECT_DOUBLE_EQ(c->rules.dga.threshold, 30.5);
    EXPECT_EQ(c->rules.dga.burst_min, 0);
    EXPECT_EQ(c->rules.dga.burst_minutes, 60);
    EXPECT_EQ(c->rules.dga.allow,
              (std::vector<std::string>{"*.cdn-hash.example", "xkqzvbhwpjrtmnf.com"}));
    for (auto [text, error] : {
             std::pair{"[rules.dga]\nmin_lenght = 3\n",
                       "c.toml:2: unknown key rules.dga.min_lenght"},
             std::pair{"[rules.dga]\nmin_length = 0\n", "c.toml:2: rules.dga.min_length must be"},
             std::pair{"[rules.dga]\nthreshold = -1\n", "c.toml:2: rules.dga.threshold must be"},
             std::pair{"[rules.dga]\nburst_minutes = 0\n",
                       "c.toml:2: rules.dga.burst_minutes must be"},
         }) {
        auto r = parse_collector_config(text, "c.toml");
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_NE(r.error().message.find(error), std::string::npos) << r.error().message;
    }
}

TEST(CollectorOpenTest, MissingOptionalConfigAndBadResolverList) {
    auto dir = fs::temp_directory_path() / ("em-collector-open-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "c.toml") << "[history]\npath = \"" << (dir / "h.sqlite").string()
                                  << "\"\n[rules.public_resolver]\nlist = \""
                                  << (dir / "missing.txt").string() << "\"\n";
    auto c = Collector::open((dir / "c.toml").string(), true);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message.find("missing.txt"), std::string::npos);
    auto m = Collector::open((dir / "absent.toml").string(), true);
    EXPECT_FALSE(m.ok());
    fs::remove_all(dir);
}

}  // namespace

}  // namespace em
