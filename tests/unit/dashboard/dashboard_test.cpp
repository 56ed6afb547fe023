#include "dashboard/dashboard.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/core.h>

#include "collector/actions.h"
#include "collector/collector.h"
#include "collector/good_fetch.h"
#include "collector/history.h"
#include "dashboard/form.h"
#include "dashboard/users.h"
#include "format/writer.h"

namespace em {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kT0 = 1795347335;  // 2026-11-22T11:35:35Z
constexpr const char* kToken = "dashboard-token-0123456789";

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

FetchResult good(const std::string& host, std::vector<DomainEntry> d, std::vector<IpEntry> i) {
    return test::good_fetch(host, std::move(d), std::move(i));
}

// A history of three hosts over two days (written by the real collector), served over plain
// HTTP on loopback.
class DashboardTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("em-dashboard-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        CollectorConfig config;
        config.history.path = (dir_ / "history.sqlite").string();
        config.alerts.to_stdout = false;
        config.rules.new_domain.learning_days = 0;
        config.rules.rare.min_fleet = 100;
        std::vector<HostSpec> hosts(3);
        hosts[0].name = "web1";
        hosts[0].tags = {"prod", "web"};
        hosts[1].name = "web2";
        hosts[1].tags = {"prod"};
        hosts[2].name = "db1";
        hosts[2].tags = {"db"};
        {
            auto c = Collector::create(config);
            ASSERT_TRUE(c.ok()) << c.error().message;
            std::vector<DomainEntry> common{{"api.example.com", 4, kT0, {ip("192.0.2.10")}}};
            auto r = (*c)->run_cycle(hosts,
                                     {good("web1", common, {{ip("192.0.2.10"), 3, kT0}}),
                                      good("web2", common, {}), good("db1", common, {})},
                                     kT0);
            ASSERT_TRUE(r.ok()) << r.error().message;
            // A day later web1 looks up a new name with markup in it and connects to an
            // address no answer named.
            std::vector<DomainEntry> more = common;
            more.push_back({"x<b>y.evil.example", 1, kT0 + 86400, {}});
            // Its agent attributes them: the name to a program whose path is markup, in a
            // container; the connection to curl.
            FetchResult web1 = good(
                "web1", more, {{ip("192.0.2.10"), 5, kT0}, {ip("203.0.113.7"), 1, kT0 + 86400}});
            web1.uses.present = true;
            web1.uses.text =
                "d x<b>y.evil.example /tmp/<script>x alice 3f2a9c0011223344 1 "
                "2026-11-23T11:35:35Z 2026-11-23T11:35:35Z\n"
                "i 203.0.113.7 /usr/bin/curl root - 1 2026-11-23T11:35:35Z 2026-11-23T11:35:35Z\n";
            r = (*c)->run_cycle(hosts, {web1, good("web2", common, {}), good("db1", common, {})},
                                kT0 + 86400);
            ASSERT_TRUE(r.ok()) << r.error().message;
        }
        token_file_ = (dir_ / "token").string();
        std::ofstream(token_file_) << kToken << "\n";
        ::chmod(token_file_.c_str(), 0600);
        DashboardConfig dc;
        dc.listen = "127.0.0.1:0";
        dc.token_file = token_file_;
        dc.plain_http = true;
        auto d = Dashboard::start(dc, config.history.path);
        ASSERT_TRUE(d.ok()) << d.error().message;
        dashboard_ = std::move(*d);
    }
    void TearDown() override {
        dashboard_.reset();
        fs::remove_all(dir_);
    }
    httplib::Result get(const std::string& path, bool auth = true) {
        httplib::Client cli("127.0.0.1", dashboard_->port());
        if (auth) cli.set_basic_auth("anyone", kToken);
        return cli.Get(path);
    }
    std::string page(const std::string& path) {
        auto r = get(path);
        EXPECT_TRUE(r) << path;
        if (!r) return "";
        EXPECT_EQ(r->status, 200) << path << ": " << r->body;
        return r->body;
    }
    static bool has(const std::string& body, const std::string& s) {
        return body.find(s) != std::string::npos;
    }
    fs::path dir_;
    std::string token_file_;
    std::unique_ptr<Dashboard> dashboard_;
};

TEST_F(DashboardTest, EveryPageButHealthzNeedsTheToken) {
    auto r = get("/", false);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->get_header_value("WWW-Authenticate"),
              "Basic realm=\"egress-monitor dashboard\", charset=\"UTF-8\"");
    EXPECT_FALSE(has(r->body, "web1"));

    httplib::Client cli("127.0.0.1", dashboard_->port());
    cli.set_basic_auth("anyone", "dashboard-token-0123456788");
    r = cli.Get("/host?name=web1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    // A Basic header that is not base64, or has no colon, is no credential either.
    r = cli.Get("/", {{"Authorization", "Basic !!!!"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    cli.set_basic_auth("", "");

    httplib::Client bearer("127.0.0.1", dashboard_->port());
    bearer.set_bearer_token_auth(kToken);
    r = bearer.Get("/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);

    r = get("/healthz", false);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok\n");
}

TEST_F(DashboardTest, OverviewLinksSortsAndFiltersByTag) {
    auto r = get("/");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_TRUE(has(r->get_header_value("Content-Security-Policy"), "default-src 'none'"));
    EXPECT_EQ(r->get_header_value("X-Frame-Options"), "DENY");
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
    EXPECT_EQ(r->get_header_value("Referrer-Policy"), "no-referrer");
    const std::string& all = r->body;
    EXPECT_EQ(all.rfind("<!DOCTYPE html>", 0), 0u) << all;
    EXPECT_TRUE(has(all, "<form action=\"/search\" method=\"get\" role=\"search\">"));
    EXPECT_FALSE(has(all, "<script"));
    for (const char* h : {"web1", "web2", "db1"})
        EXPECT_TRUE(has(all, std::string("<a href=\"/host?name=") + h + "\">" + h + "</a>")) << h;

    std::string prod = page("/?tag=prod");
    EXPECT_TRUE(has(prod, "/host?name=web1\""));
    EXPECT_FALSE(has(prod, "/host?name=db1\"")) << prod;
    // The sort links keep the filter.
    EXPECT_TRUE(has(prod, "href=\"/?sort=domains&amp;tag=prod\"")) << prod;

    std::string sorted = page("/?sort=domains");
    EXPECT_LT(sorted.find("/host?name=web1\""), sorted.find("/host?name=db1\"")) << sorted;
    // An unknown order is the default one, not an error.
    page("/?sort=%3Cx%3E");
}

TEST_F(DashboardTest, HostPageShowsKeysGrowthAndEscapesWhatTheHostSent) {
    std::string h = page("/host?name=web1");
    EXPECT_TRUE(has(h, "<svg id=\"growth-chart\"")) << h;
    // The second day's new name and address are bars; the baseline is not.
    EXPECT_TRUE(has(h, "<title>2026-11-23: 1 new domains, counters +")) << h;
    EXPECT_TRUE(has(h, "<title>2026-11-23: 1 new addresses, counters +")) << h;
    EXPECT_TRUE(has(h, "<title>2026-11-22: 0 new domains")) << h;
    EXPECT_TRUE(has(h, "<a href=\"/domain?name=api.example.com\">api.example.com</a>")) << h;
    EXPECT_TRUE(has(h, "<a href=\"/ip?addr=203.0.113.7\">203.0.113.7</a>")) << h;
    // The name with markup is text, and its link is percent-encoded.
    EXPECT_FALSE(has(h, "<b>y"));
    EXPECT_TRUE(has(h, "/domain?name=x%3Cb%3Ey.evil.example\">x&lt;b&gt;y.evil.example</a>")) << h;
    EXPECT_TRUE(has(h, "<a href=\"/?tag=prod\">prod</a>"));
    // The filter keeps only matching keys.
    std::string f = page("/host?name=web1&q=evil");
    EXPECT_TRUE(has(f, "x&lt;b&gt;y.evil.example"));
    EXPECT_FALSE(has(f, ">api.example.com</a>")) << f;
    EXPECT_TRUE(has(f, "value=\"evil\""));

    auto missing = get("/host?name=%3Cnope%3E");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
    EXPECT_TRUE(has(missing->body, "No host named &lt;nope&gt;."));
}

// Who used which destination, as web1's agent sent it: per process, then per destination,
// escaped; a host whose agent sends none says so.
TEST_F(DashboardTest, HostPageShowsProcessesUsersAndContainers) {
    std::string h = page("/host?name=web1");
    EXPECT_TRUE(has(h, "<table id=\"process-table\"><caption>2 processes</caption>")) << h;
    EXPECT_TRUE(has(h,
                    "<code>/usr/bin/curl</code> as root</th><td class=\"n\">0</td><td "
                    "class=\"n\">1</td>"))
        << h;
    EXPECT_TRUE(has(h,
                    "<code>/tmp/&lt;script&gt;x</code> as alice in container "
                    "<code>3f2a9c001122</code>"))
        << h;
    EXPECT_FALSE(has(h, "<script>"));
    EXPECT_TRUE(has(h, "Who used which destination (2)")) << h;
    EXPECT_TRUE(has(h,
                    "<tr><th scope=\"row\"><a href=\"/ip?addr=203.0.113.7\">203.0.113.7</a>"
                    "</th><td><code>/usr/bin/curl</code>"))
        << h;
    // The filter applies to destinations and processes alike.
    std::string f = page("/host?name=web1&q=curl");
    EXPECT_TRUE(has(f, "<caption>1 processes (filtered)</caption>")) << f;
    EXPECT_FALSE(has(f, "&lt;script&gt;")) << f;
    f = page("/host?name=web1&q=evil");
    EXPECT_TRUE(has(f, "&lt;script&gt;")) << f;
    EXPECT_FALSE(has(f, "<code>/usr/bin/curl</code>")) << f;

    EXPECT_TRUE(has(page("/host?name=web2"), "sends no process attribution"));
}

TEST_F(DashboardTest, DomainAndAddressPagesNameTheHosts) {
    std::string d = page("/domain?name=api.example.com");
    EXPECT_TRUE(has(d, "Listed by <b>3</b> of 3 hosts")) << d;
    for (const char* h : {"web1", "web2", "db1"})
        EXPECT_TRUE(has(d, "/host?name=" + std::string(h)));
    std::string rare = page("/domain?name=x%3Cb%3Ey.evil.example");
    EXPECT_TRUE(has(rare, "one host only")) << rare;

    std::string a = page("/ip?addr=192.0.2.10");
    EXPECT_TRUE(has(a, "<a href=\"/domain?name=api.example.com\">")) << a;
    std::string direct = page("/ip?addr=203.0.113.7");
    EXPECT_TRUE(has(direct, "without a DNS answer naming it")) << direct;

    auto bad = get("/ip?addr=not-an-address");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    auto none = get("/domain?name=never.example");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 404);
}

TEST_F(DashboardTest, SearchFindsHostsDomainsAndAddresses) {
    std::string s = page("/search?q=example");
    EXPECT_TRUE(has(s, "0 hosts, 2 domains, 0 addresses contain <code>example</code>")) << s;
    s = page("/search?q=web");
    EXPECT_TRUE(has(s, "2 hosts, 0 domains, 0 addresses")) << s;
    s = page("/search?q=203.0.113");
    EXPECT_TRUE(has(s, "<a href=\"/ip?addr=203.0.113.7\">")) << s;
    s = page("/search?q=%22%3E%3Cscript%3E");
    EXPECT_FALSE(has(s, "<script>"));
    EXPECT_TRUE(has(s, "<code>&quot;&gt;&lt;script&gt;</code>")) << s;
}

// The id of web1's open alert of `rule`, read from the history beside the dashboard.
int64_t open_alert_id(const fs::path& dir, const std::string& rule) {
    auto store = HistoryStore::open((dir / "history.sqlite").string());
    EXPECT_TRUE(store.ok());
    if (!store) return 0;
    auto book = AlertBook::create((*store)->db());
    auto open = book->open_alerts("web1", rule);
    EXPECT_TRUE(open.ok() && open->size() == 1) << rule;
    return open.ok() && !open->empty() ? open->front().id : 0;
}

// The hidden anti-forgery value of the page's first form.
std::string csrf_of(const std::string& page) {
    const std::string marker = "name=\"csrf\" value=\"";
    auto at = page.find(marker);
    if (at == std::string::npos) return "";
    at += marker.size();
    return page.substr(at, page.find('"', at) - at);
}

TEST_F(DashboardTest, AlertActionsAreCheckedAndAudited) {
    const int64_t id = open_alert_id(dir_, "new_domain");
    ASSERT_GT(id, 0);
    std::string alerts = page("/alerts");
    EXPECT_TRUE(has(alerts, fmt::format("<a href=\"/alert?id={0}\">#{0}</a>", id))) << alerts;
    const std::string incident = page(fmt::format("/alert?id={}", id));
    EXPECT_TRUE(has(incident, "<form method=\"post\" action=\"/alert/ack\"")) << incident;
    EXPECT_TRUE(has(incident, "action=\"/alert/allow\"")) << incident;
    const std::string csrf = csrf_of(incident);
    ASSERT_EQ(csrf.size(), 64u) << incident;

    httplib::Client cli("127.0.0.1", dashboard_->port());
    cli.set_basic_auth("alice", kToken);
    const std::string form = fmt::format("id={}&why=on+it%2C+ticket+%2342", id);
    auto post = [&](const std::string& path, const std::string& body,
                    httplib::Headers headers = {}) {
        return cli.Post(path, headers, body, "application/x-www-form-urlencoded");
    };
    // Forged: no anti-forgery value, a wrong one, or posted from another site.
    auto r = post("/alert/ack", form);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    r = post("/alert/ack", form + "&csrf=" + std::string(64, '0'));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    r = post("/alert/ack", form + "&csrf=" + csrf, {{"Sec-Fetch-Site", "cross-site"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    // Without the token nothing is done, whatever the form.
    httplib::Client anon("127.0.0.1", dashboard_->port());
    r = anon.Post("/alert/ack", form + "&csrf=" + csrf, "application/x-www-form-urlencoded");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    // Refused with a reason: no why, no such incident, a malformed form.
    r = post("/alert/ack", fmt::format("id={}&csrf={}", id, csrf));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_TRUE(has(r->body, "Say why")) << r->body;
    r = post("/alert/ack", "id=999999&why=x&csrf=" + csrf);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_TRUE(has(r->body, "Incident #999999 is not open")) << r->body;
    r = post("/alert/ack", "id=1&id=2&csrf=" + csrf);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    // Too large a body is refused before anything reads it; other paths take no POST.
    r = post("/alert/ack", form + "&csrf=" + csrf + "&pad=" + std::string(5000, 'x'));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    r = post("/", form + "&csrf=" + csrf);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);

    // Done: acknowledged by alice, then silenced for a day, then allowed.
    r = post("/alert/ack", form + "&csrf=" + csrf, {{"Sec-Fetch-Site", "same-origin"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 303) << r->body;
    EXPECT_EQ(r->get_header_value("Location"), fmt::format("/alert?id={}&done=ack", id));
    std::string after = page(fmt::format("/alert?id={}&done=ack", id));
    EXPECT_TRUE(has(after, "Acknowledged.")) << after;
    EXPECT_TRUE(has(after, "acknowledged by alice (dashboard)")) << after;
    EXPECT_FALSE(has(after, "action=\"/alert/ack\"")) << after;

    r = post("/alert/silence", form + "&scope=key&for=1d&csrf=" + csrf);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 303) << r->body;
    r = post("/alert/silence", form + "&scope=key&for=soon&csrf=" + csrf);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    alerts = page("/alerts");
    EXPECT_TRUE(has(alerts, "rule <code>new_domain</code>, key <code>evil.example</code> until"))
        << alerts;

    r = post("/alert/allow", form + "&value=evil.example&csrf=" + csrf);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 303) << r->body;
    r = post("/alert/allow", form + "&value=not+a+domain&csrf=" + csrf);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);

    auto store = HistoryStore::open((dir_ / "history.sqlite").string());
    ASSERT_TRUE(store.ok());
    auto actions = OperatorActions::create((*store)->db());
    ASSERT_TRUE(actions.ok());
    auto allows = actions->allows();
    ASSERT_TRUE(allows.ok());
    ASSERT_EQ(allows->size(), 1u);
    EXPECT_EQ((*allows)[0].value, "evil.example");
    EXPECT_EQ((*allows)[0].host, "web1");
    EXPECT_EQ((*allows)[0].who, "alice (dashboard)");
    EXPECT_EQ((*allows)[0].why, "on it, ticket #42");
    auto audit = actions->audit();
    ASSERT_TRUE(audit.ok());
    EXPECT_EQ(audit->size(), 3u);
}

// Named logins (users_file) beside the shared token: a login's token works as that user's
// password or as a Bearer, nobody else's name; its actions are audited under the verified
// name, and its forms carry an anti-forgery value of its own.
TEST_F(DashboardTest, LoginsAreVerifiedAndAuditedByName) {
    const std::string users = (dir_ / "users").string();
    auto alice_token = add_dashboard_user(users, "alice");
    ASSERT_TRUE(alice_token.ok()) << alice_token.error().message;
    auto bob_token = add_dashboard_user(users, "bob");
    ASSERT_TRUE(bob_token.ok()) << bob_token.error().message;
    dashboard_.reset();
    DashboardConfig dc;
    dc.listen = "127.0.0.1:0";
    dc.token_file = token_file_;
    dc.users_file = users;
    dc.plain_http = true;
    auto d = Dashboard::start(dc, (dir_ / "history.sqlite").string());
    ASSERT_TRUE(d.ok()) << d.error().message;
    dashboard_ = std::move(*d);

    auto status = [&](const std::string& user, const std::string& password) {
        httplib::Client cli("127.0.0.1", dashboard_->port());
        cli.set_basic_auth(user, password);
        auto r = cli.Get("/alerts");
        return r ? r->status : -1;
    };
    EXPECT_EQ(status("alice", *alice_token), 200);
    EXPECT_EQ(status("bob", *alice_token), 401);  // alice's token is not bob's
    EXPECT_EQ(status("mallory", *alice_token), 401);
    EXPECT_EQ(status("alice", *bob_token), 401);
    EXPECT_EQ(status("anyone", kToken), 200);  // the shared token still opens it
    httplib::Client bearer("127.0.0.1", dashboard_->port());
    bearer.set_bearer_token_auth(*bob_token);
    auto r = bearer.Get("/alerts");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);

    const int64_t id = open_alert_id(dir_, "new_domain");
    ASSERT_GT(id, 0);
    httplib::Client cli("127.0.0.1", dashboard_->port());
    cli.set_basic_auth("alice", *alice_token);
    auto incident = cli.Get(fmt::format("/alert?id={}", id));
    ASSERT_TRUE(incident);
    const std::string csrf = csrf_of(incident->body);
    ASSERT_EQ(csrf.size(), 64u);
    EXPECT_NE(csrf, csrf_of(page(fmt::format("/alert?id={}", id))));  // the shared token's
    const std::string form = fmt::format("id={}&why=mine&csrf=", id);
    // bob cannot post alice's form, nor alice the shared token's.
    httplib::Client bob("127.0.0.1", dashboard_->port());
    bob.set_basic_auth("bob", *bob_token);
    r = bob.Post("/alert/ack", form + csrf, "application/x-www-form-urlencoded");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    r = cli.Post("/alert/ack", form + csrf_of(page(fmt::format("/alert?id={}", id))),
                 "application/x-www-form-urlencoded");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403);
    r = cli.Post("/alert/ack", form + csrf, "application/x-www-form-urlencoded");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 303) << r->body;
    EXPECT_TRUE(
        has(page(fmt::format("/alert?id={}", id)), "acknowledged by alice (dashboard login)"));
}

TEST(DashboardForm, ParsesWhatBrowsersPostAndRefusesTheRest) {
    auto f = parse_form("id=12&why=on+it%2C+%23ticket&every_host=1&empty=");
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->at("id"), "12");
    EXPECT_EQ(f->at("why"), "on it, #ticket");
    EXPECT_EQ(f->at("every_host"), "1");
    EXPECT_EQ(f->at("empty"), "");
    EXPECT_TRUE(parse_form("").ok());
    for (const char* bad : {"a", "a=1&a=2", "a=%4", "a=%zz", "a=%00", "a=1&&b=2"})
        EXPECT_FALSE(parse_form(bad).ok()) << bad;
    EXPECT_FALSE(parse_form("a=1&b=2&c=3", 2).ok());
}

TEST(DashboardStart, RefusesAMissingTokenOrTls) {
    DashboardConfig dc;
    dc.listen = "127.0.0.1:0";
    auto d = Dashboard::start(dc, "/nonexistent/history.sqlite");
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message.find("dashboard.token_file"), std::string::npos)
        << d.error().message;
    // A users file that lists nobody, and no shared token: nobody could log in.
    const fs::path users =
        fs::temp_directory_path() / ("em-dashboard-users-" + std::to_string(::getpid()));
    std::ofstream(users) << "# nobody yet\n";
    ::chmod(users.c_str(), 0600);
    dc.users_file = users.string();
    d = Dashboard::start(dc, "/nonexistent/history.sqlite");
    fs::remove(users);
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message.find("lists no user"), std::string::npos) << d.error().message;
    dc.users_file.clear();

    const fs::path token =
        fs::temp_directory_path() / ("em-dashboard-token-" + std::to_string(::getpid()));
    std::ofstream(token) << kToken << "\n";
    ::chmod(token.c_str(), 0600);
    dc.token_file = token.string();
    d = Dashboard::start(dc, "/nonexistent/history.sqlite");
    fs::remove(token);
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message.find("dashboard.tls_cert"), std::string::npos) << d.error().message;
}

}  // namespace

}  // namespace em
