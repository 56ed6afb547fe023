// The one HTTP client: limits, deadline, abort, no redirects, no proxy from the environment,
// and the TLS policy on https.
#include "net/http_client/http_client.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "tls_test_server.h"

namespace em::net {
namespace {

using namespace std::chrono_literals;

// A plain HTTP server on 127.0.0.1 with a few fixed answers.
class Server {
  public:
    Server() {
        srv_.Get("/ok", [](const httplib::Request&, httplib::Response& res) {
            res.set_header("ETag", "\"v1\"");
            res.set_content("hello", "text/plain");
        });
        srv_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(std::string(5000, 'b'), "text/plain");
        });
        srv_.Get("/error", [](const httplib::Request&, httplib::Response& res) {
            res.status = 503;
            res.set_content(std::string(300, 'e'), "text/plain");
        });
        srv_.Get("/redirect", [this](const httplib::Request&, httplib::Response& res) {
            res.set_redirect("http://127.0.0.1:" + std::to_string(port_) + "/ok");
        });
        srv_.Get("/headers", [](const httplib::Request&, httplib::Response& res) {
            for (int i = 0; i < 50; ++i) res.set_header("X-H" + std::to_string(i), "v");
            res.set_content("x", "text/plain");
        });
        srv_.Post("/post", [](const httplib::Request& req, httplib::Response& res) {
            res.status = 201;
            res.set_content(req.get_header_value("Content-Type") + "|" + req.body, "text/plain");
        });
        port_ = srv_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { srv_.listen_after_bind(); });
        while (!srv_.is_running()) std::this_thread::sleep_for(1ms);
    }
    ~Server() {
        srv_.stop();
        thread_.join();
    }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }

  private:
    httplib::Server srv_;
    int port_ = 0;
    std::thread thread_;
};

// A listening socket that never accepts: a connection completes and is never answered.
class Silent {
  public:
    Silent() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
        EXPECT_EQ(::listen(fd_, 8), 0);
        EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
        port_ = ntohs(a.sin_port);
    }
    ~Silent() { ::close(fd_); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

  private:
    int fd_ = -1;
    int port_ = 0;
};

std::unique_ptr<HttpClient> client(HttpClientOptions opt = {}) {
    auto c = HttpClient::create(std::move(opt));
    EXPECT_TRUE(c) << (c ? "" : c.error().message);
    return c ? std::move(*c) : nullptr;
}

HttpResponse get(HttpClient& c, const std::string& url, std::chrono::milliseconds within = 3s) {
    HttpRequest req;
    req.url = url;
    req.deadline = Clock::now() + within;
    return c.perform(req);
}

TEST(HttpClient, GetsStatusHeadersAndBodyOnOneConnection) {
    Server s;
    auto c = client();
    ASSERT_TRUE(c);
    for (int i = 0; i < 2; ++i) {
        auto r = get(*c, s.url("/ok"));
        ASSERT_TRUE(r.ok()) << r.error();
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "hello");
        EXPECT_EQ(r.header("etag"), "\"v1\"");
        EXPECT_EQ(r.header("X-None"), "");
    }
}

TEST(HttpClient, PostsTheBodyWithTheCallersHeaders) {
    Server s;
    auto c = client();
    ASSERT_TRUE(c);
    HttpRequest req;
    req.method = "POST";
    req.url = s.url("/post");
    req.headers = {"Content-Type: application/json"};
    const std::string body = R"({"a":1})";
    req.body = body;
    req.deadline = Clock::now() + 3s;
    auto r = c->perform(req);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.body, std::string("application/json|") + body);
    // The same client then GETs again.
    EXPECT_EQ(get(*c, s.url("/ok")).body, "hello");
}

TEST(HttpClient, BodyOverTheLimitIsAnErrorOrCutWhenAsked) {
    Server s;
    HttpClientOptions opt;
    opt.max_body_bytes = 4999;
    auto strict = client(opt);
    ASSERT_TRUE(strict);
    EXPECT_EQ(get(*strict, s.url("/big")).failure, HttpFailure::body_too_large);
    opt.max_body_bytes = 5000;
    auto exact = client(opt);
    EXPECT_EQ(get(*exact, s.url("/big")).body.size(), 5000u);
    opt.max_body_bytes = 100;
    opt.truncate_body = true;
    auto cut = client(opt);
    auto r = get(*cut, s.url("/big"));
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.body, std::string(100, 'b'));
}

TEST(HttpClient, OnlyTheStartOfAnErrorAnswerIsRead) {
    Server s;
    auto c = client();
    auto r = get(*c, s.url("/error"));
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.body, std::string(200, 'e'));
}

TEST(HttpClient, RedirectsAreNotFollowed) {
    Server s;
    auto c = client();
    auto r = get(*c, s.url("/redirect"));
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status, 302);
    EXPECT_NE(r.header("Location").find("/ok"), std::string::npos);
    EXPECT_EQ(r.body, "");
}

TEST(HttpClient, HeaderLinesAndBytesAreBounded) {
    Server s;
    HttpClientOptions opt;
    opt.max_header_lines = 20;
    EXPECT_EQ(get(*client(opt), s.url("/headers")).failure, HttpFailure::too_many_header_lines);
    opt.max_header_lines = 100;
    opt.max_header_bytes = 300;
    EXPECT_EQ(get(*client(opt), s.url("/headers")).failure, HttpFailure::headers_too_large);
    opt.max_header_bytes = 64 * 1024;
    EXPECT_TRUE(get(*client(opt), s.url("/headers")).ok());
}

TEST(HttpClient, ProxyFromTheEnvironmentIsNotUsed) {
    Server s;
    Silent proxy;  // would hang every request sent through it
    ::setenv("http_proxy", proxy.url().c_str(), 1);
    ::setenv("HTTP_PROXY", proxy.url().c_str(), 1);
    auto r = get(*client(), s.url("/ok"), 2s);
    ::unsetenv("http_proxy");
    ::unsetenv("HTTP_PROXY");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.body, "hello");
}

TEST(HttpClient, OneDeadlineForTheWholeExchange) {
    Silent s;
    auto c = client();
    const auto t0 = Clock::now();
    auto r = get(*c, s.url(), 300ms);
    const auto took = Clock::now() - t0;
    EXPECT_EQ(r.failure, HttpFailure::timed_out) << r.error();
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 2s);
    // A deadline already passed: no request at all.
    EXPECT_EQ(get(*c, s.url(), -1ms).failure, HttpFailure::timed_out);
}

TEST(HttpClient, AbortEndsTheRequestInFlightAndLaterOnes) {
    Silent s;
    auto c = client();
    std::thread stopper([&] {
        std::this_thread::sleep_for(200ms);
        c->abort();
    });
    const auto t0 = Clock::now();
    auto r = get(*c, s.url(), 10s);
    const auto took = Clock::now() - t0;
    stopper.join();
    EXPECT_EQ(r.failure, HttpFailure::aborted) << r.error();
    EXPECT_LT(took, 3s);
    EXPECT_EQ(get(*c, s.url()).failure, HttpFailure::aborted);
}

TEST(HttpClient, UrlOfBracketsIpv6Hosts) {
    EXPECT_EQ(url_of(HttpUrl{"https", "2001:db8::1", 8443, ""}, "/x"),
              "https://[2001:db8::1]:8443/x");
    EXPECT_EQ(url_of(HttpUrl{"http", "h.example", 80, "/p"}, "/p/v1"), "http://h.example:80/p/v1");
}

TEST(HttpClient, TlsVerifiesTheCertificateAndAppliesThePolicy) {
    ASSERT_TRUE(testing::test_cert().ok);
    HttpClientOptions trusted;
    trusted.ca_file = testing::test_cert().cert;
    {
        testing::TestCert other;
        ASSERT_TRUE(other.ok);
        testing::TlsTestServer srv("");
        ASSERT_TRUE(srv.configured());
        HttpClientOptions wrong;
        wrong.ca_file = other.cert;
        EXPECT_EQ(get(*client(wrong), srv.url("/")).failure, HttpFailure::tls_verify);
        HttpClientOptions missing;
        missing.ca_file = "/nonexistent/ca.pem";
        EXPECT_EQ(get(*client(missing), srv.url("/")).failure, HttpFailure::ca_file);
        EXPECT_EQ(srv.requests(), 0);
    }
    for (const char* suites : testing::kWeakTls12Suites) {
        testing::TlsTestServer srv(suites);
        ASSERT_TRUE(srv.configured()) << suites;
        auto r = get(*client(trusted), srv.url("/"));
        EXPECT_EQ(r.failure, HttpFailure::tls_handshake) << suites << ": " << r.error();
        EXPECT_EQ(srv.requests(), 0) << suites;
    }
    for (const char* suites : testing::kGoodSuites) {
        testing::TlsTestServer srv(suites);
        ASSERT_TRUE(srv.configured()) << suites;
        auto r = get(*client(trusted), srv.url("/"));
        EXPECT_TRUE(r.ok()) << suites << ": " << r.error();
        EXPECT_EQ(r.status, 200) << suites;
        EXPECT_EQ(srv.requests(), 1) << suites;
    }
}

}  // namespace
}  // namespace em::net
