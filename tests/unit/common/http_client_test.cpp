// The one HTTP(S) client (common/http_client.h) against real local servers: cpp-httplib ones
// (plain and TLS) and a raw socket one for answers no library would send.
#include "common/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/unique_fd.h"
#include "tls_test_server.h"

namespace em {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

struct Seen {
    std::string method, path, body, content_type, expect, authorization;
    int remote_port = 0;
};

// A plain HTTP server on 127.0.0.1 whose handler the test gives.
class Server {
  public:
    using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
    explicit Server(Handler h) : handler_(std::move(h)) {
        auto record = [this](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard lk(mu_);
                seen_.push_back({req.method, req.path, req.body,
                                 req.get_header_value("Content-Type"),
                                 req.get_header_value("Expect"),
                                 req.get_header_value("Authorization"), req.remote_port});
            }
            handler_(req, res);
        };
        server_.Get(".*", record);
        server_.Post(".*", record);
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(1ms);
    }
    ~Server() {
        server_.stop();
        thread_.join();
    }
    std::string url(const std::string& path = "/") const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    std::vector<Seen> seen() {
        std::lock_guard lk(mu_);
        return seen_;
    }

  private:
    Handler handler_;
    httplib::Server server_;
    int port_ = 0;
    std::mutex mu_;
    std::vector<Seen> seen_;
    std::thread thread_;
};

std::unique_ptr<HttpClient> client(HttpClientOptions opt = {}) {
    auto c = HttpClient::create(opt);
    EXPECT_TRUE(c) << c.error().message;
    return c ? std::move(c).value() : nullptr;
}

HttpRequest get(const std::string& url, int64_t timeout_ms = 3000) {
    HttpRequest r;
    r.url = url;
    r.timeout_ms = timeout_ms;
    return r;
}

TEST(HttpClient, GetsStatusHeadersAndBody) {
    Server s([](const httplib::Request&, httplib::Response& res) {
        res.set_header("ETag", "\"v1\"");
        res.set_content("hello\n", "text/plain");
    });
    auto c = client();
    HttpRequest req = get(s.url("/a/b"));
    req.headers = {"Authorization: Bearer tok"};
    HttpResult r = c->perform(req);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.response.status, 200);
    EXPECT_EQ(r.response.body, "hello\n");
    EXPECT_EQ(r.response.header("etag"), "\"v1\"");
    EXPECT_EQ(r.response.header("Content-Type"), "text/plain");
    EXPECT_EQ(r.response.header("X-None"), "");
    auto seen = s.seen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "GET");
    EXPECT_EQ(seen[0].path, "/a/b");
    EXPECT_EQ(seen[0].authorization, "Bearer tok");
}

// A post carries its body and type, without an Expect: 100-continue round trip; the
// connection is kept for the next request.
TEST(HttpClient, PostsAndKeepsTheConnection) {
    Server s([](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    auto c = client();
    const std::string body(5000, 'j');
    for (int i = 0; i < 3; ++i) {
        HttpRequest req;
        req.method = HttpRequest::Method::post;
        req.url = s.url("/push");
        req.body = body;
        req.content_type = "application/json";
        HttpResult r = c->perform(req);
        ASSERT_TRUE(r) << r.error;
        EXPECT_EQ(r.response.status, 204);
    }
    HttpResult g = c->perform(get(s.url("/after")));
    ASSERT_TRUE(g) << g.error;
    auto seen = s.seen();
    ASSERT_EQ(seen.size(), 4u);
    std::set<int> ports;
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(seen[i].method, "POST");
        EXPECT_EQ(seen[i].body, body);
        EXPECT_EQ(seen[i].content_type, "application/json");
        EXPECT_EQ(seen[i].expect, "");
    }
    for (const Seen& x : seen) ports.insert(x.remote_port);
    EXPECT_EQ(ports.size(), 1u) << "a new connection per request";
    EXPECT_EQ(seen[3].method, "GET");
}

TEST(HttpClient, RedirectIsAnAnswerNotFollowed) {
    Server target([](const httplib::Request&, httplib::Response& res) { res.status = 200; });
    Server s([&](const httplib::Request&, httplib::Response& res) {
        res.set_redirect(target.url("/elsewhere"));
    });
    auto c = client();
    HttpResult r = c->perform(get(s.url()));
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.response.status, 302);
    EXPECT_EQ(r.response.summary(), "HTTP 302");
    EXPECT_TRUE(target.seen().empty());
}

TEST(HttpClient, ProxyFromTheEnvironmentIsIgnored) {
    Server s([](const httplib::Request&, httplib::Response& res) { res.status = 200; });
    UniqueFd proxy(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(proxy.valid());
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(proxy.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(proxy.get(), 8), 0);
    ASSERT_EQ(::getsockname(proxy.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    const char* const vars[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    for (const char* v : vars) {
        const char* old = std::getenv(v);
        saved.emplace_back(v, old ? std::optional<std::string>(old) : std::nullopt);
        ::setenv(v, url.c_str(), 1);
    }
    HttpResult r = client()->perform(get(s.url(), 1000));
    for (const auto& [name, value] : saved) {
        if (value)
            ::setenv(name.c_str(), value->c_str(), 1);
        else
            ::unsetenv(name.c_str());
    }
    EXPECT_TRUE(r) << r.error;
    pollfd p{proxy.get(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 0), 0) << "the client connected to the proxy from the environment";
    EXPECT_EQ(s.seen().size(), 1u);
}

TEST(HttpClient, ASuccessBodyBeyondTheLimitIsRefused) {
    for (bool chunked : {false, true}) {
        Server s([&](const httplib::Request&, httplib::Response& res) {
            if (!chunked) {
                res.set_content(std::string(5000, 'a'), "text/plain");
                return;
            }
            res.set_chunked_content_provider("text/plain", [](size_t off, httplib::DataSink& sink) {
                if (off >= 5000) {
                    sink.done();
                    return true;
                }
                std::string part(1000, 'a');
                return sink.write(part.data(), part.size());
            });
        });
        HttpClientOptions opt;
        opt.max_body = 4096;
        HttpResult r = client(opt)->perform(get(s.url()));
        EXPECT_EQ(r.failure, HttpFailure::body_too_large) << chunked;
        EXPECT_EQ(r.error, "response larger than 4096 bytes") << chunked;
        opt.max_body = 5000;  // the limit itself is fine
        HttpResult ok = client(opt)->perform(get(s.url()));
        ASSERT_TRUE(ok) << chunked << ": " << ok.error;
        EXPECT_EQ(ok.response.body.size(), 5000u);
    }
}

// Of an error answer only the start is kept (and the rest never read), and summary() quotes
// it on one line.
TEST(HttpClient, ErrorBodyIsKeptShortAndQuotedOnOneLine) {
    Server s([](const httplib::Request&, httplib::Response& res) {
        res.status = 403;
        res.set_content("denied\nline two\x1b[2J" + std::string(size_t{1} << 20, 'x'),
                        "text/plain");
    });
    HttpClientOptions opt;
    opt.error_body_bytes = 100;
    opt.max_body = size_t{4} << 20;  // a declared length beyond it is refused before reading
    HttpResult r = client(opt)->perform(get(s.url()));
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.response.status, 403);
    EXPECT_EQ(r.response.body.size(), 100u);
    const std::string sum = r.response.summary();
    EXPECT_EQ(sum.rfind("HTTP 403: denied; line two [2Jxx", 0), 0u) << sum;
    for (char ch : sum) EXPECT_GE(static_cast<unsigned char>(ch), 0x20) << sum;
}

// A server that answers with whatever `answer` writes on the raw socket.
class RawServer {
  public:
    explicit RawServer(std::function<void(int fd)> answer) : answer_(std::move(answer)) {
        fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        EXPECT_EQ(::listen(fd_.get(), 8), 0);
        EXPECT_EQ(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] {
            pollfd p{fd_.get(), POLLIN, 0};
            if (::poll(&p, 1, 5000) <= 0) return;
            UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!c.valid()) return;
            char buf[4096];
            std::string req;
            while (req.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
                if (n <= 0) return;
                req.append(buf, static_cast<size_t>(n));
            }
            answer_(c.get());
        });
    }
    ~RawServer() { thread_.join(); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
    static bool send_all(int fd, const std::string& s) {
        return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
    }

  private:
    std::function<void(int)> answer_;
    UniqueFd fd_;
    int port_ = 0;
    std::thread thread_;
};

TEST(HttpClient, HeaderFloodsAreCutByLinesAndByBytes) {
    {
        RawServer s([](int fd) {
            RawServer::send_all(fd, "HTTP/1.1 200 OK\r\n");
            for (int i = 0; i < 1000; ++i)
                if (!RawServer::send_all(fd, "X-Pad-" + std::to_string(i) + ": a\r\n")) return;
        });
        HttpClientOptions opt;
        opt.max_header_lines = 50;
        HttpResult r = client(opt)->perform(get(s.url()));
        EXPECT_EQ(r.failure, HttpFailure::headers_too_many_lines);
        EXPECT_EQ(r.error, "response headers more than 50 lines");
    }
    {
        RawServer s([](int fd) {
            RawServer::send_all(fd, "HTTP/1.1 200 OK\r\nX-Big: " + std::string(20000, 'a') +
                                        "\r\nContent-Length: 0\r\n\r\n");
        });
        HttpClientOptions opt;
        opt.max_header_bytes = 8192;
        HttpResult r = client(opt)->perform(get(s.url()));
        EXPECT_EQ(r.failure, HttpFailure::headers_too_large);
        EXPECT_EQ(r.error, "response headers larger than 8192 bytes");
    }
}

// The timeout covers the whole exchange: a server that trickles its answer is cut off.
TEST(HttpClient, TheWholeExchangeIsTimed) {
    RawServer s([](int fd) {
        RawServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        for (int i = 0; i < 1000; ++i) {
            if (!RawServer::send_all(fd, "a")) return;
            std::this_thread::sleep_for(20ms);
        }
    });
    auto t0 = Clock::now();
    HttpResult r = client()->perform(get(s.url(), 300));
    const int64_t took = ms_since(t0);
    EXPECT_EQ(r.failure, HttpFailure::timed_out);
    EXPECT_EQ(r.error, "timed out");
    EXPECT_GE(took, 290);
    EXPECT_LT(took, 1500);
}

TEST(HttpClient, AbortEndsTheRequestInFlightAndLaterOnes) {
    std::mutex mu;
    std::condition_variable cv;
    bool release = false;
    Server s([&](const httplib::Request&, httplib::Response& res) {
        std::unique_lock lk(mu);
        cv.wait_for(lk, 10s, [&] { return release; });
        res.status = 200;
    });
    auto c = client();
    std::thread stopper([&] {
        std::this_thread::sleep_for(200ms);
        c->abort();
    });
    auto t0 = Clock::now();
    HttpResult r = c->perform(get(s.url(), 20000));
    const int64_t took = ms_since(t0);
    stopper.join();
    {
        std::lock_guard lk(mu);
        release = true;
    }
    cv.notify_all();
    EXPECT_EQ(r.failure, HttpFailure::aborted) << r.error;
    EXPECT_LT(took, 3000);
    HttpResult again = c->perform(get(s.url()));
    EXPECT_EQ(again.failure, HttpFailure::aborted);
}

TEST(HttpClient, ConnectionRefusedSaysSo) {
    int port;
    {
        // A port that was just free: bound without listening, then closed.
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        ASSERT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
        port = ntohs(a.sin_port);
    }
    HttpResult r = client()->perform(get("http://127.0.0.1:" + std::to_string(port) + "/"));
    EXPECT_EQ(r.failure, HttpFailure::connect);
    EXPECT_EQ(r.error.rfind("cannot connect (", 0), 0u) << r.error;
}

// The TLS policy and verification (common/tls_policy.h): a server whose certificate does not
// verify, or that offers only weak TLS 1.2 suites, never gets the request.
TEST(HttpClient, TlsVerifiesAndKeepsThePolicy) {
    ASSERT_TRUE(testing::test_cert().ok);
    HttpClientOptions opt;
    opt.ca_file = testing::test_cert().cert;
    {
        testing::TlsTestServer s("", 204);
        ASSERT_TRUE(s.configured());
        HttpResult r = client(opt)->perform(get(s.url("/x")));
        ASSERT_TRUE(r) << r.error;
        EXPECT_EQ(r.response.status, 204);
        EXPECT_EQ(s.requests(), 1);

        testing::TestCert other;
        ASSERT_TRUE(other.ok);
        HttpClientOptions wrong;
        wrong.ca_file = other.cert;
        r = client(wrong)->perform(get(s.url("/x")));
        EXPECT_EQ(r.failure, HttpFailure::tls_verify);
        EXPECT_EQ(r.error, "TLS: server certificate verification failed (against ca_file " +
                               other.cert + ")");
        r = client()->perform(get(s.url("/x")));
        EXPECT_EQ(r.failure, HttpFailure::tls_verify);
        EXPECT_EQ(r.error, "TLS: server certificate verification failed (against the system CAs)");
        HttpClientOptions missing;
        missing.ca_file = "/nonexistent/ca.pem";
        r = client(missing)->perform(get(s.url("/x")));
        EXPECT_EQ(r.failure, HttpFailure::tls_ca_file);
        EXPECT_EQ(r.error, "TLS: cannot load CA certificates from /nonexistent/ca.pem");
        EXPECT_EQ(s.requests(), 1);
    }
    for (const char* suites : testing::kWeakTls12Suites) {
        testing::TlsTestServer s(suites);
        ASSERT_TRUE(s.configured()) << suites;
        HttpResult r = client(opt)->perform(get(s.url("/x")));
        EXPECT_FALSE(r) << suites;
        EXPECT_NE(r.error.find("TLS"), std::string::npos) << suites << ": " << r.error;
        EXPECT_EQ(s.requests(), 0) << suites;
    }
    for (const char* suites : testing::kGoodSuites) {
        testing::TlsTestServer s(suites);
        ASSERT_TRUE(s.configured()) << suites;
        HttpResult r = client(opt)->perform(get(s.url("/x")));
        EXPECT_TRUE(r) << suites << ": " << r.error;
        EXPECT_EQ(s.requests(), 1) << suites;
    }
}

// With a pinned key, a certificate that verifies is still refused unless its key is the one.
TEST(HttpClient, PinnedKeyMustMatch) {
    ASSERT_TRUE(testing::test_cert().ok);
    const std::string pin_file = testing::test_cert().dir + "/pin";
    const std::string cmd = "openssl x509 -in " + testing::test_cert().cert +
                            " -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst "
                            "-sha256 -binary | openssl base64 -A > " +
                            pin_file;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::string pin;
    {
        std::ifstream in(pin_file);
        std::getline(in, pin);
    }
    ASSERT_EQ(pin.size(), 44u) << pin;
    testing::TlsTestServer s("", 200);
    ASSERT_TRUE(s.configured());
    HttpClientOptions opt;
    opt.ca_file = testing::test_cert().cert;
    opt.pinned_key = "sha256//" + pin;
    HttpResult r = client(opt)->perform(get(s.url("/x")));
    EXPECT_TRUE(r) << r.error;
    opt.pinned_key = "sha256//" + std::string(43, 'A') + "=";
    r = client(opt)->perform(get(s.url("/x")));
    EXPECT_EQ(r.failure, HttpFailure::tls_verify) << r.error;
    EXPECT_EQ(s.requests(), 1);
}

TEST(HttpUrlText, BracketsIpv6) {
    EXPECT_EQ(http_url_text(HttpUrl{"https", "2001:db8::1", 8443, ""}, "/v1/x"),
              "https://[2001:db8::1]:8443/v1/x");
    EXPECT_EQ(http_url_text(HttpUrl{"http", "loki", 3100, "/p"}, "/p/push?a=1"),
              "http://loki:3100/p/push?a=1");
}

}  // namespace
}  // namespace em
