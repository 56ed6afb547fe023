#include "collector/alerts.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "collector/history.h"
#include "collector/report.h"
#include "scratch_store.h"
#include "tls_test_server.h"

namespace em {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kT0 = 1795347335;  // 2026-11-22T11:35:35Z

class AlertsTest : public ::testing::TestWithParam<store::Backend> {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("em-alerts-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        EM_SCRATCH_STORE(scratch_, GetParam(), dir_);
        auto s = HistoryStore::open(scratch_->target());
        ASSERT_TRUE(s.ok()) << s.error().message;
        store_ = std::move(s.value());
        auto b = AlertBook::create(store_->db());
        ASSERT_TRUE(b.ok()) << b.error().message;
        book_.emplace(std::move(b.value()));
    }
    void TearDown() override {
        book_.reset();
        store_.reset();
        scratch_.reset();
        fs::remove_all(dir_);
    }
    std::vector<AlertEvent> reconcile(const std::string& host, const char* rule,
                                      std::vector<Finding> f, int64_t now) {
        std::vector<AlertEvent> events;
        auto r = book_->reconcile(host, {"prod"}, rule, f, now, events);
        EXPECT_TRUE(r.ok()) << r.error().message;
        return events;
    }
    AlertRecord only(const std::string& host, const char* rule, const std::string& key) {
        auto all = book_->all_alerts();
        EXPECT_TRUE(all.ok());
        for (auto& a : *all)
            if (a.host == host && a.rule == rule && a.key == key) return a;
        ADD_FAILURE() << "no alert " << host << " " << rule << " " << key;
        return {};
    }
    fs::path dir_;
    std::unique_ptr<test::ScratchStore> scratch_;
    std::unique_ptr<HistoryStore> store_;
    std::optional<AlertBook> book_;
};

TEST_P(AlertsTest, OnlyTransitionsAreEmittedAndAlertsAreDeduplicated) {
    auto ev =
        reconcile("web1", "direct_ip",
                  {{"203.0.113.9", "first"}, {"203.0.113.9", "dup"}, {"2001:db8::5", "x"}}, kT0);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_TRUE(ev[0].open);
    EXPECT_EQ(ev[0].key, "203.0.113.9");
    EXPECT_EQ(ev[0].tags, std::vector<std::string>{"prod"});
    EXPECT_EQ(*book_->open_count(), 2);

    // Raised again: no event, one more occurrence, message and last_seen updated.
    ev =
        reconcile("web1", "direct_ip", {{"203.0.113.9", "second"}, {"2001:db8::5", "x"}}, kT0 + 60);
    EXPECT_TRUE(ev.empty());
    AlertRecord a = only("web1", "direct_ip", "203.0.113.9");
    EXPECT_TRUE(a.open);
    EXPECT_EQ(a.occurrences, 2);
    EXPECT_EQ(a.first_seen, kT0);
    EXPECT_EQ(a.last_seen, kT0 + 60);
    EXPECT_EQ(a.changed, kT0);
    EXPECT_EQ(a.message, "second");

    // Another rule's scope is independent.
    EXPECT_EQ(reconcile("web1", "public_resolver", {}, kT0 + 60).size(), 0u);
    EXPECT_EQ(*book_->open_count(), 2);

    // Gone: resolved, once.
    ev = reconcile("web1", "direct_ip", {{"2001:db8::5", "x"}}, kT0 + 120);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_FALSE(ev[0].open);
    EXPECT_EQ(ev[0].key, "203.0.113.9");
    EXPECT_EQ(ev[0].message, "no longer seen: second");
    EXPECT_TRUE(reconcile("web1", "direct_ip", {{"2001:db8::5", "x"}}, kT0 + 180).empty());
    a = only("web1", "direct_ip", "203.0.113.9");
    EXPECT_FALSE(a.open);
    EXPECT_EQ(a.changed, kT0 + 120);

    // Back again: re-opened (an event), same row, first_seen kept.
    ev =
        reconcile("web1", "direct_ip", {{"203.0.113.9", "third"}, {"2001:db8::5", "x"}}, kT0 + 240);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_TRUE(ev[0].open);
    a = only("web1", "direct_ip", "203.0.113.9");
    EXPECT_EQ(a.first_seen, kT0);
    EXPECT_EQ(a.occurrences, 3);
    EXPECT_EQ(a.changed, kT0 + 240);
}

TEST_P(AlertsTest, ResolveOnlyEmitsForOpenAlerts) {
    reconcile("web1", "stale", {{"web1", "unreachable"}}, kT0);
    std::vector<AlertEvent> ev;
    ASSERT_TRUE(book_->resolve("web1", {}, "stale", "web1", kT0 + 1, "why", ev).ok());
    ASSERT_TRUE(book_->resolve("web1", {}, "stale", "web1", kT0 + 2, "why", ev).ok());
    ASSERT_TRUE(book_->resolve("web2", {}, "stale", "web2", kT0 + 2, "why", ev).ok());
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].message, "why");
    EXPECT_EQ(*book_->open_count(), 0);
}

TEST(AlertFormatTest, JsonAndLine) {
    AlertEvent e{kT0,  "web1",          "new_domain",    "evil\"x.example",
                 true, "new \\ domain", {"prod", "web"}, 1};
    EXPECT_EQ(alert_json(e), R"({"time":"2026-11-22T11:35:35Z","host":"web1","rule":"new_domain",)"
                             R"("key":"evil\"x.example","state":"open","message":"new \\ domain",)"
                             R"("tags":["prod","web"]})");
    // A backslash is doubled in text, so every escape in a line came from the escaping.
    EXPECT_EQ(alert_line(e),
              "2026-11-22T11:35:35Z OPEN new_domain web1 evil\"x.example: new \\\\ domain "
              "[prod,web]");
    e.open = false;
    e.tags.clear();
    EXPECT_NE(alert_json(e, true).find(R"("state":"resolved","message":"new \\ domain","tags":[],)"
                                       R"("text":"2026-11-22T11:35:35Z RESOLVED new_domain web1)"),
              std::string::npos);
}

// What a monitored host reports (key, message, host name, tags) cannot break the line or
// carry a terminal control: C0, DEL, C1 as bytes and as UTF-8 code points are escaped.
TEST(AlertFormatTest, LineIsOneLineWithoutControls) {
    AlertEvent e{kT0,
                 "web1\r\n2026-11-22T11:35:35Z RESOLVED new_domain web1 x",
                 "new_domain",
                 "a\x1b]8;;https://evil.example\x07.x.test",
                 true,
                 "del\x7f c1\x9b"
                 "31m nel\xc2\x85 csi\xc2\x9b"
                 "2J",
                 {"pr\nod"},
                 1};
    const std::string line = alert_line(e);
    EXPECT_EQ(line,
              "2026-11-22T11:35:35Z OPEN new_domain "
              "web1\\x0d\\x0a2026-11-22T11:35:35Z RESOLVED new_domain web1 x "
              "a\\x1b]8;;https://evil.example\\x07.x.test: "
              "del\\x7f c1\\x9b31m nel\\u0085 csi\\u009b2J [pr\\x0aod]");
    for (char c : line) {
        auto b = static_cast<unsigned char>(c);
        EXPECT_TRUE(b >= 0x20 && b < 0x7f) << "byte " << int(b) << " in " << line;
    }
}

// Slack renders <...> in "text" as links and mentions: a reported name is shown, not rendered.
TEST(AlertFormatTest, WebhookTextEscapesSlackMarkup) {
    AlertEvent e{kT0,          "web1",
                 "new_domain", "<!channel>-<https://evil.example/login|click>.x.test",
                 true,         "first seen & <b>",
                 {},           1};
    const std::string body = alert_json(e, true);
    const std::string text = body.substr(body.find(R"("text":)"));
    EXPECT_EQ(text, R"("text":"2026-11-22T11:35:35Z OPEN new_domain web1 )"
                    R"(&lt;!channel&gt;-&lt;https://evil.example/login|click&gt;.x.test: )"
                    R"(first seen &amp; &lt;b&gt;"})");
    // The data fields keep the value as reported.
    EXPECT_NE(body.find(R"("key":"<!channel>-<https://evil.example/login|click>.x.test")"),
              std::string::npos);
}

TEST_P(AlertsTest, JsonLinesSinkAppends) {
    const std::string path = (dir_ / "alerts.jsonl").string();
    AlertEvent e{kT0, "web1", "stale", "web1", true, "unreachable", {}, 1};
    for (int round = 0; round < 2; ++round) {
        auto sink = make_jsonl_sink(path);
        ASSERT_TRUE(sink.ok()) << sink.error().message;
        ASSERT_TRUE((*sink)->emit(e).ok());
        e.open = false;
    }
    std::ifstream in(path);
    std::string l1, l2, l3;
    ASSERT_TRUE(std::getline(in, l1));
    ASSERT_TRUE(std::getline(in, l2));
    EXPECT_FALSE(std::getline(in, l3));
    EXPECT_EQ(l1, R"({"time":"2026-11-22T11:35:35Z","host":"web1","rule":"stale","key":"web1",)"
                  R"("state":"open","message":"unreachable","tags":[]})");
    EXPECT_NE(l2.find(R"("state":"resolved")"), std::string::npos);
    EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    EXPECT_FALSE(make_jsonl_sink((dir_ / "missing" / "x.jsonl").string()).ok());
}

// An alert is an incident: one id from opening to resolution, a new one when it opens again;
// it is announced again only when its weight at least doubled.
TEST_P(AlertsTest, IncidentsKeepTheirIdAndAreUpdatedWhenTheirWeightDoubles) {
    auto ev =
        reconcile("web1", "new_domain", {{"x.example", "3 names", 3}, {"y.example", "1"}}, kT0);
    ASSERT_EQ(ev.size(), 2u);
    const int64_t id = ev[0].id;
    EXPECT_GT(id, 0);
    EXPECT_NE(ev[1].id, id);
    EXPECT_EQ(ev[0].weight, 3);
    // 5 names: not yet twice 3, no event; the stored message and weight follow.
    ev = reconcile("web1", "new_domain", {{"x.example", "5 names", 5}, {"y.example", "1"}},
                   kT0 + 60);
    EXPECT_TRUE(ev.empty());
    EXPECT_EQ(only("web1", "new_domain", "x.example").weight, 5);
    EXPECT_EQ(only("web1", "new_domain", "x.example").message, "5 names");
    // 6 names: twice what the sinks were told: one update, same incident.
    ev = reconcile("web1", "new_domain", {{"x.example", "6 names", 6}, {"y.example", "1"}},
                   kT0 + 120);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_TRUE(ev[0].open);
    EXPECT_TRUE(ev[0].updated);
    EXPECT_EQ(ev[0].id, id);
    EXPECT_EQ(alert_line(ev[0]),
              "2026-11-22T11:37:35Z UPDATED new_domain web1 x.example: 6 names [prod] #" +
                  std::to_string(id));
    EXPECT_NE(alert_json(ev[0]).find(R"("state":"updated",)"), std::string::npos);
    EXPECT_NE(alert_json(ev[0]).find(",\"id\":" + std::to_string(id) + ",\"weight\":6}"),
              std::string::npos)
        << alert_json(ev[0]);
    // 11 names: not twice 6 (the last announced weight), no event.
    EXPECT_TRUE(
        reconcile("web1", "new_domain", {{"x.example", "11", 11}, {"y.example", "1"}}, kT0 + 180)
            .empty());
    // Resolved: the same incident id; opened again later: a new one.
    std::map<std::string, std::string> why{{"x.example", "reported as tunnel"}};
    std::vector<AlertEvent> events;
    ASSERT_TRUE(
        book_->reconcile("web1", {}, "new_domain", {{"y.example", "1"}}, kT0 + 240, events, &why)
            .ok());
    ASSERT_EQ(events.size(), 1u);
    EXPECT_FALSE(events[0].open);
    EXPECT_EQ(events[0].id, id);
    EXPECT_EQ(events[0].message, "reported as tunnel");
    ev =
        reconcile("web1", "new_domain", {{"x.example", "again", 2}, {"y.example", "1"}}, kT0 + 300);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_GT(ev[0].id, id);
    // Ids survive a reopened book (a restarted collector).
    book_.reset();
    auto b = AlertBook::create(store_->db());
    ASSERT_TRUE(b.ok());
    book_.emplace(std::move(b.value()));
    ev = reconcile("web2", "new_domain", {{"z.example", "1"}}, kT0 + 360);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_GT(ev[0].id, only("web1", "new_domain", "x.example").id);
}

TEST_P(AlertsTest, StdoutSinkWritesOneLine) {
    std::FILE* f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    auto sink = make_stdout_sink(f);
    ASSERT_TRUE(sink->emit(AlertEvent{kT0, "web1", "rare", "x.com", true, "rare", {}, 1}).ok());
    std::rewind(f);
    char buf[256] = {};
    ASSERT_NE(std::fgets(buf, sizeof buf, f), nullptr);
    EXPECT_STREQ(buf, "2026-11-22T11:35:35Z OPEN rare web1 x.com: rare\n");
    std::fclose(f);
}

// The text report escapes what hosts reported; the JSON report escapes for JSON.
TEST_P(AlertsTest, ReportTextHasNoControls) {
    auto h = store_->host("web1", {"prod"}, kT0);
    ASSERT_TRUE(h.ok()) << h.error().message;
    ASSERT_TRUE(store_
                    ->record_failure(*h, kT0,
                                     "bad line \x1b[2J\x9b"
                                     "1m\xc2\x9b"
                                     "1m\x7f\rx")
                    .ok());
    reconcile("web1", "new_domain", {{"a\x1b]0;pwned\x07.x.test", "new \xc2\x85 domain"}}, kT0);
    auto text = render_report(*store_, *book_, ReportFormat::text, kT0);
    ASSERT_TRUE(text.ok()) << text.error().message;
    for (char c : *text) {
        auto b = static_cast<unsigned char>(c);
        EXPECT_TRUE(c == '\n' || (b >= 0x20 && b < 0x7f)) << "byte " << int(b) << " in " << *text;
    }
    EXPECT_NE(text->find("a\\x1b]0;pwned\\x07.x.test: new \\u0085 domain"), std::string::npos)
        << *text;
    // The stray byte 0x9b was stored as the text \x9b (storable_text), shown with its
    // backslash escaped; the rest is escaped on the way out only.
    EXPECT_NE(text->find("last error: bad line \\x1b[2J\\\\x9b1m\\u009b1m\\x7f\\x0dx"),
              std::string::npos)
        << *text;
    auto json = render_report(*store_, *book_, ReportFormat::json, kT0);
    ASSERT_TRUE(json.ok());
    EXPECT_NE(json->find(R"("key":"a\u001b]0;pwned\u0007.x.test")"), std::string::npos) << *json;
    EXPECT_NE(json->find(R"("message":"new \u0085 domain")"), std::string::npos) << *json;
    EXPECT_NE(json->find(R"("last_error":"bad line \u001b[2J\\x9b1m\u009b1m\u007f\rx")"),
              std::string::npos)
        << *json;
}

TEST_P(AlertsTest, StdoutSinkKeepsAHostileMessageOnOneLine) {
    std::FILE* f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    auto sink = make_stdout_sink(f);
    ASSERT_TRUE(sink->emit(AlertEvent{kT0,
                                      "web1",
                                      "rare",
                                      "x.com",
                                      true,
                                      "a\nb\xc2\x85"
                                      "c",
                                      {},
                                      1})
                    .ok());
    std::rewind(f);
    char buf[256] = {};
    ASSERT_NE(std::fgets(buf, sizeof buf, f), nullptr);
    EXPECT_STREQ(buf, "2026-11-22T11:35:35Z OPEN rare web1 x.com: a\\x0ab\\u0085c\n");
    EXPECT_EQ(std::fgets(buf, sizeof buf, f), nullptr);
    std::fclose(f);
}

// A local webhook receiver.
class Receiver {
  public:
    explicit Receiver(int status) {
        server_.Post("/hook", [this, status](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lk(mu_);
            bodies_.push_back(req.body);
            content_type_ = req.get_header_value("Content-Type");
            res.status = status;
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~Receiver() {
        server_.stop();
        thread_.join();
    }
    int port() const { return port_; }
    std::vector<std::string> bodies() {
        std::lock_guard lk(mu_);
        return bodies_;
    }
    std::string content_type() {
        std::lock_guard lk(mu_);
        return content_type_;
    }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mu_;
    std::vector<std::string> bodies_;
    std::string content_type_;
};

TEST(WebhookTest, PostsTheJsonObjectWithSlackText) {
    Receiver rx(200);
    auto sink = make_webhook_sink(
        WebhookOptions{"http://127.0.0.1:" + std::to_string(rx.port()) + "/hook", "", 2000});
    ASSERT_TRUE(sink.ok()) << sink.error().message;
    AlertEvent e{kT0, "web1", "direct_ip", "203.0.113.9", true, "no DNS", {"prod"}, 1};
    ASSERT_TRUE((*sink)->emit(e).ok());
    auto bodies = rx.bodies();
    ASSERT_EQ(bodies.size(), 1u);
    EXPECT_EQ(bodies[0], alert_json(e, true));
    EXPECT_NE(bodies[0].find(R"("text":"2026-11-22T11:35:35Z OPEN direct_ip web1 203.0.113.9)"),
              std::string::npos);
    EXPECT_EQ(rx.content_type(), "application/json");

    // What the receiver gets: no markup a chat would render.
    e.key = "<!channel>-<https://evil.example/login|click>.x.test";
    ASSERT_TRUE((*sink)->emit(e).ok());
    bodies = rx.bodies();
    ASSERT_EQ(bodies.size(), 2u);
    const std::string text = bodies[1].substr(bodies[1].find(R"("text":)"));
    EXPECT_EQ(text.find('<'), std::string::npos) << text;
    EXPECT_NE(text.find("&lt;!channel&gt;-&lt;https://evil.example/login|click&gt;.x.test"),
              std::string::npos)
        << text;
}

TEST(WebhookTest, FailuresAreErrorsAndTheDispatcherGivesUpAfterThree) {
    Receiver rx(500);
    auto sink = make_webhook_sink(
        WebhookOptions{"http://127.0.0.1:" + std::to_string(rx.port()) + "/hook", "", 2000});
    ASSERT_TRUE(sink.ok());
    AlertEvent e{kT0, "web1", "stale", "web1", true, "m", {}, 1};
    auto r = (*sink)->emit(e);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("HTTP 500"), std::string::npos);

    AlertDispatcher d;
    d.add(std::move(sink.value()));
    d.dispatch(std::vector<AlertEvent>(5, e));
    EXPECT_EQ(rx.bodies().size(), 4u);  // one above, then three before giving up
    ASSERT_EQ(d.counts().size(), 1u);
    EXPECT_EQ(d.counts()[0].failed, 5u);
    EXPECT_EQ(d.counts()[0].sent, 0u);
}

TEST(WebhookTest, UnreachableAndBadUrls) {
    // A port nobody listens on (bound, then closed).
    int port;
    {
        httplib::Server s;
        port = s.bind_to_any_port("127.0.0.1");
    }
    auto sink = make_webhook_sink(
        WebhookOptions{"http://127.0.0.1:" + std::to_string(port) + "/hook", "", 500});
    ASSERT_TRUE(sink.ok());
    EXPECT_FALSE((*sink)->emit(AlertEvent{}).ok());
    for (const char* bad : {"ftp://x/y", "http://", "http://h:0/", "http://h:99999/",
                            "http://u:p@h/", "http://h x/", "no-scheme"})
        EXPECT_FALSE(make_webhook_sink(WebhookOptions{bad, "", 1000}).ok()) << bad;
    EXPECT_TRUE(
        make_webhook_sink(WebhookOptions{"https://[2001:db8::1]:8443/x?token=1", "", 1000}).ok());
    EXPECT_FALSE(
        make_webhook_sink(WebhookOptions{"https://hooks.example/x", "/nonexistent/ca.pem", 1000})
            .ok());
}

// The webhook's TLS (common/tls_policy.h): a receiver offering only weak TLS 1.2 suites gets
// no alert; ECDHE with AEAD and TLS 1.3 work.
// A receiver whose certificate does not verify against ca_file (here: another self-signed
// certificate) gets no alert: whoever sits on the path cannot read or stand in for it.
TEST(WebhookTest, UntrustedCertificateIsRefused) {
    ASSERT_TRUE(testing::test_cert().ok);
    testing::TestCert other;
    ASSERT_TRUE(other.ok);
    testing::TlsTestServer rx("");
    ASSERT_TRUE(rx.configured());
    auto sink = make_webhook_sink(WebhookOptions{rx.url("/hook"), other.cert, 2000});
    ASSERT_TRUE(sink.ok()) << sink.error().message;
    EXPECT_FALSE((*sink)->emit(AlertEvent{kT0, "web1", "stale", "web1", true, "m", {}, 1}).ok());
    EXPECT_EQ(rx.requests(), 0);
}

TEST(WebhookTest, TlsRefusesSuitesWithoutForwardSecrecyOrAead) {
    ASSERT_TRUE(testing::test_cert().ok);
    AlertEvent e{kT0, "web1", "stale", "web1", true, "m", {}, 1};
    for (const char* suites : testing::kWeakTls12Suites) {
        testing::TlsTestServer rx(suites);
        ASSERT_TRUE(rx.configured()) << suites;
        auto sink =
            make_webhook_sink(WebhookOptions{rx.url("/hook"), testing::test_cert().cert, 2000});
        ASSERT_TRUE(sink.ok()) << sink.error().message;
        EXPECT_FALSE((*sink)->emit(e).ok()) << suites;
        EXPECT_EQ(rx.requests(), 0) << suites;
    }
    for (const char* suites : testing::kGoodSuites) {
        testing::TlsTestServer rx(suites);
        ASSERT_TRUE(rx.configured()) << suites;
        auto sink =
            make_webhook_sink(WebhookOptions{rx.url("/hook"), testing::test_cert().cert, 2000});
        ASSERT_TRUE(sink.ok()) << sink.error().message;
        auto r = (*sink)->emit(e);
        EXPECT_TRUE(r.ok()) << suites << ": " << (r ? "" : r.error().message);
        EXPECT_EQ(rx.requests(), 1) << suites;
    }
}

INSTANTIATE_TEST_SUITE_P(Stores, AlertsTest, test::both_backends(), test::backend_name);

}  // namespace

}  // namespace em
