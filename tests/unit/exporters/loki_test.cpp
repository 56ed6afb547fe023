#include "exporters/loki/loki.h"

#include <fmt/core.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cctype>
#include <chrono>
#include <functional>
#include <string_view>
#include <vector>

#include "tls_test_server.h"

namespace em {
namespace {

using namespace std::chrono_literals;

// A strict little JSON checker: true when `s` is exactly one JSON value.
class JsonChecker {
  public:
    explicit JsonChecker(std::string_view s) : s_(s) {}
    bool valid() {
        ws();
        if (!value(0)) return false;
        ws();
        return i_ == s_.size();
    }

  private:
    bool value(int depth) {
        if (depth > 64 || i_ >= s_.size()) return false;
        char c = s_[i_];
        if (c == '{') return container('}', depth, true);
        if (c == '[') return container(']', depth, false);
        if (c == '"') return string();
        if (literal("true") || literal("false") || literal("null")) return true;
        return number();
    }
    bool container(char close, int depth, bool object) {
        ++i_;
        ws();
        if (peek(close)) return ++i_, true;
        for (;;) {
            if (object) {
                if (!string()) return false;
                ws();
                if (!peek(':')) return false;
                ++i_;
                ws();
            }
            if (!value(depth + 1)) return false;
            ws();
            if (peek(close)) return ++i_, true;
            if (!peek(',')) return false;
            ++i_;
            ws();
        }
    }
    bool string() {
        if (!peek('"')) return false;
        for (++i_; i_ < s_.size(); ++i_) {
            auto c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') return ++i_, true;
            if (c < 0x20) return false;
            if (c == '\\') {
                if (++i_ >= s_.size()) return false;
                char e = s_[i_];
                if (e == 'u') {
                    for (int k = 0; k < 4; ++k)
                        if (++i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_])))
                            return false;
                } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
                    return false;
                }
            }
        }
        return false;
    }
    bool number() {
        size_t start = i_;
        if (peek('-')) ++i_;
        while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) ||
                                  std::string_view(".eE+-").find(s_[i_]) != std::string_view::npos))
            ++i_;
        return i_ > start;
    }
    bool literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) return false;
        i_ += word.size();
        return true;
    }
    bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
    void ws() {
        while (i_ < s_.size() && std::string_view(" \t\r\n").find(s_[i_]) != std::string_view::npos)
            ++i_;
    }
    std::string_view s_;
    size_t i_ = 0;
};

bool is_json(std::string_view s) { return JsonChecker(s).valid(); }

struct Received {
    std::string path, content_type, body;
};

// A real HTTP server on 127.0.0.1 and a free port, serving in its own thread.
class TestServer {
  public:
    using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
    explicit TestServer(Handler handler) : handler_(std::move(handler)) {
        server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard lk(mu_);
                received_.push_back({req.path, req.get_header_value("Content-Type"), req.body});
            }
            handler_(req, res);
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(1ms);
    }
    ~TestServer() {
        server_.stop();
        thread_.join();
    }
    std::string url(const std::string& path = "") const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    std::vector<Received> received() {
        std::lock_guard lk(mu_);
        return received_;
    }
    size_t requests() {
        std::lock_guard lk(mu_);
        return received_.size();
    }

  private:
    Handler handler_;
    httplib::Server server_;
    int port_ = 0;
    std::mutex mu_;
    std::vector<Received> received_;
    std::thread thread_;
};

template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit = 3000ms) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(2ms);
    }
    return pred();
}

size_t count_of(std::string_view hay, std::string_view needle) {
    size_t n = 0;
    for (size_t pos = hay.find(needle); pos != std::string_view::npos;
         pos = hay.find(needle, pos + 1))
        ++n;
    return n;
}

TEST(LokiUrl, ParsesSchemeHostPortAndPath) {
    auto u = parse_loki_url("http://127.0.0.1:3100");
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->scheme, "http");
    EXPECT_EQ(u->host, "127.0.0.1");
    EXPECT_EQ(u->port, 3100);
    EXPECT_EQ(u->path, "/loki/api/v1/push");

    u = parse_loki_url("HTTPS://logs.example.net/tenant1/");
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->scheme, "https");
    EXPECT_EQ(u->host, "logs.example.net");
    EXPECT_EQ(u->port, 443);
    EXPECT_EQ(u->path, "/tenant1/loki/api/v1/push");

    u = parse_loki_url("http://loki/loki/api/v1/push");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->port, 80);
    EXPECT_EQ(u->path, "/loki/api/v1/push");

    u = parse_loki_url("http://[2001:db8::1]:3100/");
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->host, "2001:db8::1");
    EXPECT_EQ(u->port, 3100);
}

TEST(LokiUrl, RejectsBadUrlsNamingThem) {
    for (const char* bad : {"", "127.0.0.1:3100", "ftp://loki:3100", "http://", "http://:3100",
                            "http://loki:", "http://loki:0", "http://loki:65536",
                            "http://loki:31x0", "http://2001:db8::1:3100", "http://[2001:db8::1",
                            "http://[loki]:3100", "http://user:pw@loki:3100",
                            "http://loki:3100/?x=1", "http://lo ki:3100", "http://lo%6bi"}) {
        auto u = parse_loki_url(bad);
        ASSERT_FALSE(u) << bad;
        EXPECT_NE(u.error().message.find("'" + std::string(bad) + "'"), std::string::npos)
            << u.error().message;
    }
}

TEST(LokiLabel, ParsesNameEqualsValue) {
    auto l = parse_loki_label("host=web-1");
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_EQ(l->first, "host");
    EXPECT_EQ(l->second, "web-1");
    l = parse_loki_label("_env2=a=b");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->first, "_env2");
    EXPECT_EQ(l->second, "a=b");
    for (const char* bad : {"host", "=x", "1host=x", "ho-st=x", "ho st=x", "host="})
        EXPECT_FALSE(parse_loki_label(bad)) << bad;
}

TEST(LokiPusher, StartRejectsBadConfig) {
    LokiConfig cfg;
    cfg.url = "gopher://loki";
    auto p = LokiPusher::start(cfg);
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message.find("gopher://loki"), std::string::npos);

    cfg.url = "http://127.0.0.1:1";
    cfg.labels = {{"bad-name", "x"}};
    p = LokiPusher::start(cfg);
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message.find("bad-name"), std::string::npos);

    cfg.labels = {};
    cfg.max_batch = 0;
    EXPECT_FALSE(LokiPusher::start(cfg));
}

TEST(LokiPusher, PushesValidJsonInOrderWithLabels) {
    TestServer server([](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    LokiConfig cfg;
    cfg.url = server.url("/prefix/");
    cfg.labels = {{"host", "h1"}};
    cfg.max_batch = 10;
    cfg.flush_ms = 20;
    cfg.timeout_ms = 2000;
    auto p = LokiPusher::start(cfg);
    ASSERT_TRUE(p) << p.error().message;
    constexpr int kLines = 25;
    for (int i = 0; i < kLines; ++i)
        (*p)->push(1700000000000000000 + i,
                   "{\"n\":" + std::to_string(i) + ",\"s\":\"q\\\"x\",\"u\":\"\xff\"}");
    ASSERT_TRUE(wait_for([&] { return (*p)->counters().sent == kLines; }));
    LokiCounters c = (*p)->counters();
    EXPECT_EQ(c.queued, uint64_t{kLines});
    EXPECT_EQ(c.dropped_queue_full + c.dropped_failed + c.push_errors, 0u);
    p->reset();

    auto got = server.received();
    ASSERT_GE(got.size(), 3u);  // batches of at most 10
    std::string all;
    for (const Received& r : got) {
        EXPECT_EQ(r.path, "/prefix/loki/api/v1/push");
        EXPECT_EQ(r.content_type, "application/json");
        EXPECT_TRUE(is_json(r.body)) << r.body;
        EXPECT_EQ(r.body.rfind("{\"streams\":[{\"stream\":{\"host\":\"h1\",\"job\":"
                               "\"egress-monitor\"},\"values\":[[",
                               0),
                  0u)
            << r.body;
        EXPECT_LE(count_of(r.body, "[\"17000000000000000"), 10u);
        all += r.body;
    }
    // The first entry exactly: time as a string of nanoseconds, the line escaped once more
    // (the invalid byte too, so Loki keeps the batch).
    EXPECT_NE(all.find("[\"1700000000000000000\",\"{\\\"n\\\":0,\\\"s\\\":\\\"q\\\\\\\"x\\\","
                       "\\\"u\\\":\\\"\\u00ff\\\"}\"]"),
              std::string::npos)
        << all;
    // Every line once, in push order, each with its own time stamp.
    size_t pos = 0;
    for (int i = 0; i < kLines; ++i) {
        std::string entry = "[\"17000000000000000" + fmt::format("{:02}", i) +
                            "\",\"{\\\"n\\\":" + std::to_string(i) + ",";
        size_t at = all.find(entry, pos);
        ASSERT_NE(at, std::string::npos) << "line " << i;
        pos = at + 1;
    }
    EXPECT_EQ(count_of(all, "[\"17000000000000000"), size_t{kLines});
}

// The pusher's TLS (common/tls_policy.h): a Loki offering only weak TLS 1.2 suites gets no
// line; ECDHE with AEAD and TLS 1.3 work.
TEST(LokiPusher, TlsRefusesSuitesWithoutForwardSecrecyOrAead) {
    ASSERT_TRUE(testing::test_cert().ok);
    auto push_one = [](const std::string& url) {
        LokiConfig cfg;
        cfg.url = url;
        cfg.ca_file = testing::test_cert().cert;
        cfg.flush_ms = 10;
        cfg.timeout_ms = 2000;
        cfg.retry_base_ms = 1;
        auto p = LokiPusher::start(cfg);
        EXPECT_TRUE(p) << p.error().message;
        if (!p) return LokiCounters{};
        (*p)->push(1700000000000000000, "{}");
        wait_for([&] {
            LokiCounters c = (*p)->counters();
            return c.sent == 1 || c.dropped_failed == 1;
        });
        return (*p)->counters();
    };
    for (const char* suites : testing::kWeakTls12Suites) {
        testing::TlsTestServer loki(suites, 204);
        ASSERT_TRUE(loki.configured()) << suites;
        LokiCounters c = push_one(loki.url("/"));
        EXPECT_EQ(c.sent, 0u) << suites;
        EXPECT_EQ(c.dropped_failed, 1u) << suites;
        EXPECT_EQ(loki.requests(), 0) << suites;
    }
    for (const char* suites : testing::kGoodSuites) {
        testing::TlsTestServer loki(suites, 204);
        ASSERT_TRUE(loki.configured()) << suites;
        EXPECT_EQ(push_one(loki.url("/")).sent, 1u) << suites;
        EXPECT_EQ(loki.requests(), 1) << suites;
    }
}

// A Loki whose certificate does not verify against ca_file (here: another self-signed
// certificate) gets no line: whoever sits on the path cannot stand in for it.
TEST(LokiPusher, UntrustedCertificateIsRefused) {
    ASSERT_TRUE(testing::test_cert().ok);
    testing::TestCert other;
    ASSERT_TRUE(other.ok);
    testing::TlsTestServer loki("", 204);
    ASSERT_TRUE(loki.configured());
    LokiConfig cfg;
    cfg.url = loki.url("/");
    cfg.ca_file = other.cert;
    cfg.flush_ms = 10;
    cfg.timeout_ms = 2000;
    cfg.retry_base_ms = 1;
    auto p = LokiPusher::start(cfg);
    ASSERT_TRUE(p) << p.error().message;
    (*p)->push(1700000000000000000, "{}");
    EXPECT_TRUE(wait_for([&] { return (*p)->counters().dropped_failed == 1; }));
    EXPECT_EQ((*p)->counters().sent, 0u);
    EXPECT_EQ(loki.requests(), 0);
}

TEST(LokiPusher, RetriesWithBackoffThenDropsOn500) {
    TestServer server([](const httplib::Request&, httplib::Response& res) {
        res.status = 500;
        res.set_content("boom", "text/plain");
    });
    LokiConfig cfg;
    cfg.url = server.url();
    cfg.flush_ms = 10;
    cfg.retry_base_ms = 10;  // 10, 40, 160 ms
    auto p = LokiPusher::start(cfg);
    ASSERT_TRUE(p) << p.error().message;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) (*p)->push(i, "line");
    ASSERT_TRUE(wait_for([&] { return (*p)->counters().dropped_failed == 3; }));
    auto elapsed = std::chrono::steady_clock::now() - t0;
    LokiCounters c = (*p)->counters();
    EXPECT_EQ(c.sent, 0u);
    EXPECT_EQ(c.push_errors, 4u);  // the first try and three retries
    EXPECT_EQ(server.requests(), 4u);
    EXPECT_GE(elapsed, 210ms);  // the backoff was waited
    // All three lines went in one batch, the same body each time.
    auto got = server.received();
    for (const Received& r : got) EXPECT_EQ(r.body, got[0].body);
}

TEST(LokiPusher, DoesNotRetryAClientError) {
    TestServer server([](const httplib::Request&, httplib::Response& res) { res.status = 400; });
    LokiConfig cfg;
    cfg.url = server.url();
    cfg.flush_ms = 10;
    cfg.retry_base_ms = 20;
    auto p = LokiPusher::start(cfg);
    ASSERT_TRUE(p);
    (*p)->push(1, "x");
    ASSERT_TRUE(wait_for([&] { return (*p)->counters().dropped_failed == 1; }));
    std::this_thread::sleep_for(50ms);  // a retry would come after 20 ms
    EXPECT_EQ(server.requests(), 1u);
    EXPECT_EQ((*p)->counters().push_errors, 1u);
}

TEST(LokiPusher, CountsQueueOverflowWhenLokiIsSlow) {
    TestServer server([](const httplib::Request&, httplib::Response& res) {
        std::this_thread::sleep_for(150ms);
        res.status = 204;
    });
    LokiConfig cfg;
    cfg.url = server.url();
    cfg.max_queue = 10;
    cfg.max_batch = 5;
    cfg.flush_ms = 10;
    cfg.timeout_ms = 2000;
    auto p = LokiPusher::start(cfg);
    ASSERT_TRUE(p);
    (*p)->push(0, "first");
    ASSERT_TRUE(wait_for([&] { return server.requests() == 1; }));  // the thread is now busy
    for (int i = 1; i < 100; ++i) (*p)->push(i, "line " + std::to_string(i));
    LokiCounters c = (*p)->counters();
    EXPECT_EQ(c.queued + c.dropped_queue_full, 100u);
    EXPECT_EQ(c.queued, 11u);  // the first line plus a full queue
    EXPECT_EQ(c.dropped_queue_full, 89u);
    p->reset();  // drains the ten queued lines in two batches

    size_t lines = 0;
    for (const Received& r : server.received()) lines += count_of(r.body, "\"line ");
    EXPECT_EQ(lines, 10u);
}

TEST(LokiPusher, StopIsBoundedWhenLokiHangs) {
    std::mutex mu;
    std::condition_variable cv;
    bool release = false;
    TestServer server([&](const httplib::Request&, httplib::Response& res) {
        std::unique_lock lk(mu);
        cv.wait_for(lk, 5s, [&] { return release; });
        res.status = 204;
    });
    LokiConfig cfg;
    cfg.url = server.url();
    cfg.flush_ms = 10;
    cfg.timeout_ms = 300;
    auto p = LokiPusher::start(cfg);
    ASSERT_TRUE(p);
    (*p)->push(1, "x");
    ASSERT_TRUE(wait_for([&] { return server.requests() == 1; }));
    (*p)->push(2, "y");
    auto t0 = std::chrono::steady_clock::now();
    p->reset();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
    {
        std::lock_guard lk(mu);
        release = true;
    }
    cv.notify_all();
}

}  // namespace
}  // namespace em
