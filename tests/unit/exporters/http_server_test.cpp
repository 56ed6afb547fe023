#include "exporters/http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "common/process.h"
#include "common/unique_fd.h"
#include "core/ledger.h"
#include "exporters/aggregate_files.h"

// memcheck's client requests, for the constant-time test (not under a sanitizer: valgrind
// cannot run a sanitized binary).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define EM_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define EM_SANITIZED 1
#endif
#if !defined(EM_SANITIZED) && __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define EM_HAVE_MEMCHECK 1
#endif

namespace em {

namespace {

namespace fs = std::filesystem;

constexpr const char* kToken = "s3cret-token-0123456789";
constexpr const char* kDomains =
    "api.github.com 42 2026-11-22T11:30:55Z 140.82.112.5,140.82.112.6\n"
    "b.test 1 2026-11-22T11:35:35Z -\n";
constexpr const char* kIps = "140.82.112.5 17 2026-11-22T11:31:02Z\n";

void write(const fs::path& p, const std::string& content) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
}

std::string sha256(const std::string& s, bool base64) {
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
    if (base64) {
        unsigned char out[64];
        int n = EVP_EncodeBlock(out, md, 32);
        return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string h;
    for (unsigned char c : md) {
        h += kHex[c >> 4];
        h += kHex[c & 15];
    }
    return h;
}

class HttpServerTest : public ::testing::Test {
  protected:
    // One self-signed certificate for the whole suite: RSA key generation is the slow part.
    static void SetUpTestSuite() {
        tls_ = fs::temp_directory_path() / ("em-http-tls-" + std::to_string(::getpid()));
        fs::create_directories(tls_);
        std::string cmd =
            "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
            "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 1 -keyout " +
            (tls_ / "key.pem").string() + " -out " + (tls_ / "cert.pem").string() +
            " >/dev/null 2>&1";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
    static void TearDownTestSuite() { fs::remove_all(tls_); }

    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("em-http-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "out");
        fs::create_directories(dir_ / "state");
        write(dir_ / "token", std::string(kToken) + "\n");
        fs::permissions(dir_ / "token", fs::perms::owner_read | fs::perms::owner_write);
        write(dir_ / "out" / kDomainsFile, kDomains);
        write(dir_ / "out" / kIpsFile, kIps);
        cfg_.listen = "127.0.0.1:0";
        cfg_.token_file = (dir_ / "token").string();
        cfg_.tls_cert = (tls_ / "cert.pem").string();
        cfg_.tls_key = (tls_ / "key.pem").string();
        cfg_.output_dir = (dir_ / "out").string();
        cfg_.state_dir = (dir_ / "state").string();
    }
    void TearDown() override {
        server_.reset();
        fs::remove_all(dir_);
    }

    void start(LiveCounters live = {}) {
        auto s = HttpServer::start(cfg_, std::move(live));
        ASSERT_TRUE(s.ok()) << s.error().message;
        server_ = std::move(*s);
        ASSERT_GT(server_->port(), 0);
    }
    std::string start_error() {
        auto s = HttpServer::start(cfg_);
        return s.ok() ? "" : s.error().message;
    }
    std::unique_ptr<httplib::SSLClient> client(const char* token = kToken) {
        auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", server_->port());
        c->set_ca_cert_path((tls_ / "cert.pem").c_str());
        c->enable_server_certificate_verification(true);
        c->set_connection_timeout(2);
        c->set_read_timeout(2);
        if (token) c->set_bearer_token_auth(token);
        return c;
    }

    static inline fs::path tls_;
    fs::path dir_;
    ServeConfig cfg_;
    std::unique_ptr<HttpServer> server_;
};

}  // namespace

TEST(HttpServer, EqualConstantTime) {
    EXPECT_TRUE(equal_constant_time("", ""));
    EXPECT_TRUE(equal_constant_time("abc", "abc"));
    EXPECT_FALSE(equal_constant_time("abc", "abd"));
    EXPECT_FALSE(equal_constant_time("abc", "bbc"));
    EXPECT_FALSE(equal_constant_time("abc", "abcd"));
    EXPECT_FALSE(equal_constant_time("", "a"));
    EXPECT_FALSE(equal_constant_time(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST_F(HttpServerTest, ServesFilesWithEtagAndDigest) {
    start();
    auto c = client();
    // The client accepts compressed bodies: the files still go out as they are on disk.
    auto r = c->Get("/v1/unique-domains.log", {{"Accept-Encoding", "br, gzip, deflate"}});
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, kDomains);
    EXPECT_EQ(r->get_header_value("ETag"), "\"" + sha256(kDomains, false).substr(0, 32) + "\"");
    EXPECT_EQ(r->get_header_value("Digest"), "sha-256=" + sha256(kDomains, true));
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache");
    EXPECT_EQ(r->get_header_value("Content-Encoding"), "");
    EXPECT_EQ(r->get_header_value("Content-Length"), std::to_string(std::strlen(kDomains)));

    auto ips = c->Get("/v1/unique-ips.log");
    ASSERT_TRUE(ips);
    EXPECT_EQ(ips->status, 200);
    EXPECT_EQ(ips->body, kIps);
    EXPECT_EQ(ips->get_header_value("Digest"), "sha-256=" + sha256(kIps, true));

    auto head = c->Head("/v1/unique-ips.log");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->body, "");
    EXPECT_EQ(head->get_header_value("ETag"), ips->get_header_value("ETag"));
}

TEST_F(HttpServerTest, EmptyAndMissingFiles) {
    write(dir_ / "out" / kIpsFile, "");
    fs::remove(dir_ / "out" / kDomainsFile);
    start();
    auto c = client();
    auto r = c->Get("/v1/unique-ips.log");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "");
    EXPECT_EQ(r->get_header_value("Digest"), "sha-256=" + sha256("", true));
    auto missing = c->Get("/v1/unique-domains.log");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
}

// flow-names.log is served like the two files when the agent wrote it (same token, ETag,
// 304, Digest), 404 when it did not (consolidate, an agent without names).
TEST_F(HttpServerTest, FlowNamesFileServedWhenPresent) {
    start();
    auto c = client();
    auto absent = c->Get("/v1/flow-names.log");
    ASSERT_TRUE(absent);
    EXPECT_EQ(absent->status, 404);
    const std::string names = "140.82.112.5 api.github.com tls 3 2026-11-22T11:35:35Z\n";
    write(dir_ / "out" / kFlowNamesFile, names);
    auto r = c->Get("/v1/flow-names.log");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, names);
    EXPECT_EQ(r->get_header_value("Digest"), "sha-256=" + sha256(names, true));
    auto again = c->Get("/v1/flow-names.log", {{"If-None-Match", r->get_header_value("ETag")}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304);
    auto anonymous = client(nullptr)->Get("/v1/flow-names.log");
    ASSERT_TRUE(anonymous);
    EXPECT_EQ(anonymous->status, 401);
}

TEST_F(HttpServerTest, IfNoneMatchGives304UntilTheFileChanges) {
    start();
    auto c = client();
    auto first = c->Get("/v1/unique-domains.log");
    ASSERT_TRUE(first);
    std::string etag = first->get_header_value("ETag");
    ASSERT_EQ(etag.size(), 34u);

    for (const std::string& inm : {etag, "W/" + etag, "\"0123\", " + etag, std::string("*")}) {
        auto r = c->Get("/v1/unique-domains.log", {{"If-None-Match", inm}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 304) << inm;
        EXPECT_EQ(r->body, "");
        EXPECT_EQ(r->get_header_value("ETag"), etag);
    }
    auto other = c->Get("/v1/unique-domains.log", {{"If-None-Match", "\"0123\""}});
    ASSERT_TRUE(other);
    EXPECT_EQ(other->status, 200);

    // Replaced the way the agent does it (rename): the new content, a new ETag.
    std::string next = std::string(kDomains) + "c.test 1 2026-11-22T11:35:35Z -\n";
    write(dir_ / "out" / "tmp", next);
    fs::rename(dir_ / "out" / "tmp", dir_ / "out" / kDomainsFile);
    auto changed = c->Get("/v1/unique-domains.log", {{"If-None-Match", etag}});
    ASSERT_TRUE(changed);
    EXPECT_EQ(changed->status, 200);
    EXPECT_EQ(changed->body, next);
    EXPECT_NE(changed->get_header_value("ETag"), etag);
}

TEST_F(HttpServerTest, NeedsTheBearerToken) {
    start();
    std::string near = kToken;
    near.back() ^= 1;  // differs only in the last byte
    for (const char* token : {static_cast<const char*>(nullptr), "wrong", near.c_str(), ""}) {
        auto c = client(token);
        for (const char* path : {"/v1/unique-domains.log", "/v1/summary.json", "/metrics"}) {
            auto r = c->Get(path);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 401) << path << " with " << (token ? token : "(none)");
            EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer");
            EXPECT_EQ(r->body.find("api.github.com"), std::string::npos);
        }
    }
    auto basic = client(nullptr);
    auto r = basic->Get("/v1/unique-ips.log", {{"Authorization", std::string("Basic ") + kToken}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    auto lower =
        basic->Get("/v1/unique-ips.log", {{"Authorization", std::string("bearer ") + kToken}});
    ASSERT_TRUE(lower);
    EXPECT_EQ(lower->status, 200);

    auto health = client(nullptr)->Get("/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_EQ(health->body, "ok\n");
}

TEST_F(HttpServerTest, MethodsAndPaths) {
    start();
    auto c = client();
    auto post = c->Post("/v1/unique-domains.log", "x", "text/plain");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 405);
    EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
    auto del = client(nullptr)->Delete("/healthz");
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 405);
    auto unknown = c->Get("/v1/other.log");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 404);
    auto dot = c->Get("/v1/unique-domainsXlog");  // the route is not a loose pattern
    ASSERT_TRUE(dot);
    EXPECT_EQ(dot->status, 404);
}

TEST_F(HttpServerTest, MetricsAndSummaryCarryLedgerAndLiveCounters) {
    auto l = Ledger::open((dir_ / "state" / "ledger.sqlite").string(), 4);
    ASSERT_TRUE(l.ok()) << l.error().message;
    Batch b(4);
    b.count("dnsmasq.parse_errors", 5);
    b.count("nflog.dropped", 2);
    ASSERT_TRUE(l->commit(b, {}).ok());
    start([] { return std::map<std::string, uint64_t>{{"live.events", 7}}; });
    auto c = client();

    auto m = c->Get("/metrics");  // the ledger stays open, as in the running agent
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200);
    const std::string& t = m->body;
    for (const char* want : {
             "# TYPE egress_monitor_counter counter\n",
             "# HELP egress_monitor_counter ",
             "\negress_monitor_counter{name=\"dnsmasq.parse_errors\"} 5\n",
             "\negress_monitor_counter{name=\"nflog.dropped\"} 2\n",
             "\negress_monitor_counter{name=\"live.events\"} 7\n",
             "\negress_monitor_commit_generation 1\n",
             "\negress_monitor_up 1\n",
             "\negress_monitor_ledger_readable 1\n",
             "\negress_monitor_file_lines{file=\"unique-domains.log\"} 2\n",
             "\negress_monitor_file_lines{file=\"unique-ips.log\"} 1\n",
             "\negress_monitor_file_age_seconds{file=\"unique-ips.log\"} ",
             "# TYPE egress_monitor_file_age_seconds gauge\n",
         })
        EXPECT_NE(t.find(want), std::string::npos) << want << "\nin:\n" << t;

    // A second commit is seen by the next request (a fresh read-only connection each time).
    Batch b2(4);
    b2.count("nflog.dropped", 1);
    auto web = IpAddress::parse("192.0.2.10"), v6 = IpAddress::parse("2001:db8::20");
    ASSERT_TRUE(web && v6);
    b2.add_flow_port(*web, 6, 443, false);
    b2.add_flow_port(*web, 6, 443, true);
    b2.add_flow_port(*web, 17, 53, false);
    b2.add_flow_port(*v6, 6, 22, true);
    b2.add_flow_name(*web, 0, "web.example.test", false, 1795347400);
    ASSERT_TRUE(l->commit(b2, {}).ok());
    auto s = c->Get("/v1/summary.json");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->status, 200);
    EXPECT_EQ(s->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(s->body.rfind("{\"generated\":\"20", 0), 0u) << s->body;
    for (const char* want : {
             "\"files\":{\"unique-domains.log\":{\"lines\":2,\"bytes\":97,\"age_seconds\":",
             "\"unique-ips.log\":{\"lines\":1,\"bytes\":37,\"age_seconds\":",
             "\"commit_generation\":2",
             "\"counters\":{\"dnsmasq.parse_errors\":5,\"live.events\":7,\"nflog.dropped\":3}",
             "\"destinations\":{\"192.0.2.10\":[{\"proto\":\"tcp\",\"port\":443,\"count\":2,"
             "\"direct\":1},{\"proto\":\"udp\",\"port\":53,\"count\":1,\"direct\":0}],"
             "\"2001:db8::20\":[{\"proto\":\"tcp\",\"port\":22,\"count\":1,\"direct\":1}]},"
             "\"names\":{\"192.0.2.10\":{\"dns\":[],\"first_packet\":[{\"name\":"
             "\"web.example.test\",\"protocol\":\"tls\",\"count\":1,",
         })
        EXPECT_NE(s->body.find(want), std::string::npos) << want << "\nin: " << s->body;
}

TEST_F(HttpServerTest, MissingLedgerIsNoCounters) {
    start();
    auto m = client()->Get("/metrics");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200);
    EXPECT_NE(m->body.find("\negress_monitor_ledger_readable 0\n"), std::string::npos);
    EXPECT_EQ(m->body.find("egress_monitor_counter{"), std::string::npos);
    EXPECT_FALSE(fs::exists(dir_ / "state" / "ledger.sqlite"));  // read-only: not created
}

TEST_F(HttpServerTest, PlainHttp) {
    cfg_.plain_http = true;
    cfg_.tls_cert.clear();
    cfg_.tls_key.clear();
    start();
    httplib::Client c("127.0.0.1", server_->port());
    c.set_connection_timeout(2);
    c.set_read_timeout(2);
    auto denied = c.Get("/v1/unique-ips.log");
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 401);
    c.set_bearer_token_auth(kToken);
    auto r = c.Get("/v1/unique-ips.log");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, kIps);
}

TEST_F(HttpServerTest, ListensOnIpv6Loopback) {
    cfg_.plain_http = true;
    cfg_.listen = "[::1]:0";
    auto s = HttpServer::start(cfg_);
    if (!s.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << s.error().message;
    httplib::Client c("::1", (*s)->port());
    c.set_connection_timeout(2);
    auto r = c.Get("/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, StartErrorsNameTheCulprit) {
    cfg_.tls_cert = (dir_ / "nope.pem").string();
    EXPECT_NE(start_error().find("cannot read TLS certificate (tls_cert) " + cfg_.tls_cert +
                                 ": No such file or directory"),
              std::string::npos)
        << start_error();

    write(dir_ / "garbage.pem", "not a certificate\n");
    cfg_.tls_cert = (dir_ / "garbage.pem").string();
    EXPECT_NE(start_error().find("TLS certificate " + cfg_.tls_cert + " is not a valid PEM"),
              std::string::npos)
        << start_error();

    cfg_.tls_cert = (tls_ / "cert.pem").string();
    cfg_.tls_key = (dir_ / "garbage.pem").string();
    EXPECT_NE(start_error().find("TLS key " + cfg_.tls_key), std::string::npos) << start_error();
    cfg_.tls_key = (tls_ / "key.pem").string();

    write(dir_ / "token", " \n");
    EXPECT_EQ(start_error(),
              "token file " + cfg_.token_file + " is empty (the token is its first line)");
    write(dir_ / "token", "");
    EXPECT_NE(start_error().find("is empty"), std::string::npos);
    cfg_.token_file = (dir_ / "missing-token").string();
    EXPECT_NE(start_error().find("cannot read token file " + cfg_.token_file), std::string::npos);
    cfg_.token_file.clear();
    EXPECT_NE(start_error().find("token_file"), std::string::npos);
    cfg_.token_file = (dir_ / "token").string();
    write(dir_ / "token", std::string(kToken) + "\n");

    cfg_.listen = "127.0.0.1";
    EXPECT_NE(start_error().find("bad listen address '127.0.0.1'"), std::string::npos);
    cfg_.listen = "::1:8443";
    EXPECT_NE(start_error().find("[ADDR]:PORT"), std::string::npos);
    cfg_.listen = "127.0.0.1:70000";
    EXPECT_NE(start_error().find("port must be"), std::string::npos);

    // The port is taken: no silent sharing.
    cfg_.listen = "127.0.0.1:0";
    start();
    cfg_.listen = "127.0.0.1:" + std::to_string(server_->port());
    EXPECT_NE(start_error().find("cannot listen on " + cfg_.listen), std::string::npos)
        << start_error();
}

// A token others can read, or one short enough to guess, keeps the endpoint from starting
// (it used to warn and serve), with an error that says how to fix it.
TEST_F(HttpServerTest, TokenFileReadableByOthersOrShortIsRefused) {
    fs::permissions(dir_ / "token", fs::perms::owner_read | fs::perms::group_read);
    EXPECT_EQ(start_error(), "token file " + cfg_.token_file +
                                 " is readable or writable by group or others (mode 440): "
                                 "chmod 600 " +
                                 cfg_.token_file);
    fs::permissions(dir_ / "token", fs::perms::owner_read | fs::perms::owner_write);
    write(dir_ / "token", "fifteen-bytes-x\n");
    EXPECT_EQ(start_error(), "token in " + cfg_.token_file +
                                 " is 15 bytes; use at least 16, e.g. openssl rand -base64 32");
    write(dir_ / "token", "sixteen-bytes-xx\n");
    start();
    auto c = client("sixteen-bytes-xx");
    auto r = c->Get("/v1/unique-ips.log");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, TokenFileTrimmedToItsFirstLine) {
    write(dir_ / "token", std::string("  ") + kToken + " \r\nsecond line\n");
    start();
    auto r = client()->Get("/v1/unique-ips.log");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

}  // namespace em

namespace em {

// A file too large to hash is streamed as it is: its size is announced at once, its ETag
// comes from its identity and still yields 304, and no Digest is claimed.
TEST_F(HttpServerTest, LargeFileIsStreamedWithoutHashing) {
    std::string big(20u << 20, 'x');
    big.back() = '\n';
    write(dir_ / "out" / kIpsFile, big);
    start();
    auto c = client();
    auto r = c->Get("/v1/unique-ips.log");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.size(), big.size());
    EXPECT_EQ(r->body, big);
    EXPECT_FALSE(r->has_header("Digest"));
    std::string etag = r->get_header_value("ETag");
    EXPECT_EQ(etag.rfind("\"i-", 0), 0u) << etag;
    auto again = c->Get("/v1/unique-ips.log", {{"If-None-Match", etag}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304);
    // Replaced by rename: a new identity, a new ETag.
    write(dir_ / "out" / "tmp", big + "y\n");
    fs::rename(dir_ / "out" / "tmp", dir_ / "out" / kIpsFile);
    auto changed = c->Get("/v1/unique-ips.log", {{"If-None-Match", etag}});
    ASSERT_TRUE(changed);
    EXPECT_EQ(changed->status, 200);
    EXPECT_NE(changed->get_header_value("ETag"), etag);
    auto m = c->Get("/metrics");
    ASSERT_TRUE(m);
    EXPECT_NE(m->body.find("egress_monitor_file_bytes{file=\"unique-ips.log\"} " +
                           std::to_string(big.size() + 2)),
              std::string::npos);
    EXPECT_EQ(m->body.find("egress_monitor_file_lines{file=\"unique-ips.log\"}"),
              std::string::npos);
}

// Limits that hold before any authentication: header count, request line and header size,
// request bodies.
TEST_F(HttpServerTest, OversizedRequestsAreRefusedBeforeAuthentication) {
    start();
    auto c = client(nullptr);
    httplib::Headers many;
    for (int i = 0; i < 100; ++i) many.emplace("X-H" + std::to_string(i), "v");
    auto r = c->Get("/v1/unique-domains.log", many);
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 431);
    // Beyond the connection's memory the server answers and closes without reading the
    // rest; the client, still writing, may then see the connection reset before it reads the
    // answer. Either is a refusal; what must not happen is a 200 or a wait for a timeout.
    auto refused = [&](const std::string& path, const httplib::Headers& headers, int status) {
        auto cl = client(nullptr);
        cl->set_read_timeout(5);
        cl->set_write_timeout(5);
        auto t0 = std::chrono::steady_clock::now();
        auto res = cl->Get(path, headers);
        auto took = std::chrono::steady_clock::now() - t0;
        if (res) {
            EXPECT_EQ(res->status, status) << path.substr(0, 16);
        } else {
            EXPECT_TRUE(res.error() == httplib::Error::Write || res.error() == httplib::Error::Read)
                << httplib::to_string(res.error());
            EXPECT_LT(took, std::chrono::seconds(4)) << "the server did not close at once";
        }
    };
    refused("/v1/" + std::string(64 * 1024, 'a'), {}, 414);
    refused("/healthz", {{"X-Big", std::string(64 * 1024, 'b')}}, 431);
    auto after = client(nullptr)->Get("/healthz");
    ASSERT_TRUE(after);
    EXPECT_EQ(after->status, 200);
    auto body = client()->Post("/v1/unique-domains.log", std::string(1000, 'z'), "text/plain");
    ASSERT_TRUE(body);
    EXPECT_EQ(body->status, 405);
    auto get_body = client()->Get("/healthz", {{"Content-Length", "5"}});
    // A body announced with GET is refused (httplib sends none; the header is enough).
    ASSERT_TRUE(get_body) << httplib::to_string(get_body.error());
    EXPECT_EQ(get_body->status, 413);
    auto m = client()->Get("/metrics");
    ASSERT_TRUE(m);
    EXPECT_NE(m->body.find("egress_monitor_serve_total{what=\"too_many_headers\"} 1"),
              std::string::npos)
        << m->body;
}

}  // namespace em

namespace em {

namespace {

// Whether a TLS 1.2 handshake offering only `ciphers` succeeds.
bool tls12_handshake(int port, const char* ciphers) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          SSL_CTX_free);
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);
    if (SSL_CTX_set_cipher_list(ctx.get(), ciphers) != 1) return false;
    std::unique_ptr<BIO, decltype(&BIO_free_all)> bio(BIO_new_ssl_connect(ctx.get()), BIO_free_all);
    std::string target = "127.0.0.1:" + std::to_string(port);
    BIO_set_conn_hostname(bio.get(), target.c_str());
    bool ok = BIO_do_handshake(bio.get()) == 1;
    ERR_clear_error();
    return ok;
}

}  // namespace

// TLS 1.3, or 1.2 with ECDHE and an AEAD cipher: no RSA key exchange, no CBC.
TEST_F(HttpServerTest, TlsOffersOnlyForwardSecrecyWithAead) {
    start();
    EXPECT_TRUE(tls12_handshake(server_->port(), "ECDHE-RSA-AES128-GCM-SHA256"));
    EXPECT_TRUE(tls12_handshake(server_->port(), "ECDHE-RSA-CHACHA20-POLY1305"));
    EXPECT_FALSE(tls12_handshake(server_->port(), "AES128-GCM-SHA256"));        // RSA key exchange
    EXPECT_FALSE(tls12_handshake(server_->port(), "ECDHE-RSA-AES128-SHA"));     // CBC, SHA-1
    EXPECT_FALSE(tls12_handshake(server_->port(), "ECDHE-RSA-AES256-SHA384"));  // CBC
    auto r = client()->Get("/healthz");                                         // TLS 1.3
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

}  // namespace em

// ---- what a client can hold: connections, deadlines; and the token compare ----

namespace em {

namespace {

// A plain TCP connection to 127.0.0.1:port from `source` (every 127/8 address is this host),
// with a 3 s receive timeout; `rcvbuf` > 0 shrinks the receive buffer first.
UniqueFd connect_from(const char* source, int port, int rcvbuf = 0) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return fd;
    timeval tv{3, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (rcvbuf > 0) ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &a.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return UniqueFd();
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return UniqueFd();
    return fd;
}

// Sends a GET of /healthz on `fd` and returns what came back up to the end of the body: empty
// when the server closed or reset the connection, or said nothing for 3 s. `last`: the
// request says "Connection: close" and the client half-closes after it (a keep-alive request
// followed by a half-close holds its connection until the idle timeout: see SECURITY.md).
std::string ask_health(int fd, bool last = false) {
    const std::string req = std::string("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n") +
                            (last ? "Connection: close\r\n" : "") + "\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
        return "";
    if (last) ::shutdown(fd, SHUT_WR);
    std::string got;
    char buf[512];
    while (got.find("\r\n\r\nok\n") == std::string::npos) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
    }
    return got;
}

bool answered(const std::string& reply) { return reply.rfind("HTTP/1.1 200", 0) == 0; }

}  // namespace

// The per-address and global connection caps, before any authentication: a client address
// holding its share gets nothing more while another address is still served; beyond the
// global cap no new connection is served until one closes. Connections whose client closed
// after its request (or half-closed after a last request) are released at once.
TEST_F(HttpServerTest, ConnectionsAreCappedPerAddressAndInAll) {
    cfg_.plain_http = true;
    cfg_.tls_cert.clear();
    cfg_.tls_key.clear();
    cfg_.limits.per_client = 3;
    cfg_.limits.connections = 5;
    start();
    const int port = server_->port();

    // Back to back from one address, four times its share: each answered, whether the client
    // closes a kept-alive connection or half-closes after a last request.
    for (int i = 0; i < 12; ++i) {
        UniqueFd c = connect_from("127.0.0.1", port);
        ASSERT_TRUE(c.valid()) << "connection " << i;
        EXPECT_TRUE(answered(ask_health(c.get(), i % 2 == 1))) << "connection " << i;
    }

    // Its share held open (each answered once, so each is really the server's). The server
    // notices the closes above on its own thread: until it has, a connection of the loop may
    // still count against the address (ciS, under ASan beside a busy loop: the third held one
    // was refused), so a refused attempt is retried for up to 5 s.
    std::vector<UniqueFd> held;
    for (int i = 0; i < 3; ++i) {
        bool ok = false;
        for (int attempt = 0; attempt < 50 && !ok; ++attempt) {
            UniqueFd c = connect_from("127.0.0.1", port);
            ASSERT_TRUE(c.valid());
            ok = answered(ask_health(c.get()));
            if (ok)
                held.push_back(std::move(c));
            else
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        ASSERT_TRUE(ok) << "held connection " << i;
    }
    UniqueFd more = connect_from("127.0.0.1", port);
    ASSERT_TRUE(more.valid());
    EXPECT_EQ(ask_health(more.get()), "") << "a fourth connection from one address was served";
    more.reset();
    // Another address still is, up to the global cap.
    for (int i = 0; i < 2; ++i) {
        held.push_back(connect_from("127.0.0.2", port));
        ASSERT_TRUE(held.back().valid());
        ASSERT_TRUE(answered(ask_health(held.back().get()))) << "second address, connection " << i;
    }
    UniqueFd beyond = connect_from("127.0.0.3", port);
    ASSERT_TRUE(beyond.valid());
    EXPECT_EQ(ask_health(beyond.get()), "") << "a sixth connection in all was served";
    beyond.reset();
    // One closes: a new connection is served again.
    held.erase(held.begin());
    UniqueFd again = connect_from("127.0.0.3", port);
    ASSERT_TRUE(again.valid());
    EXPECT_TRUE(answered(ask_health(again.get())));
}

// A client that reads its response too slowly holds the connection until the response
// deadline, not as long as it keeps reading a byte now and then.
TEST_F(HttpServerTest, SlowReaderIsCutAtTheResponseDeadline) {
    cfg_.plain_http = true;
    cfg_.tls_cert.clear();
    cfg_.tls_key.clear();
    cfg_.limits.response_seconds = 1;
    cfg_.limits.idle_seconds = 60;  // only the response deadline can end it
    const size_t size = size_t{24} << 20;
    std::string big(size, 'x');
    big.back() = '\n';
    write(dir_ / "out" / kIpsFile, big);
    start();
    UniqueFd c = connect_from("127.0.0.1", server_->port(), 4096);
    ASSERT_TRUE(c.valid());
    const std::string req = std::string("GET /v1/unique-ips.log HTTP/1.1\r\nHost: 127.0.0.1\r\n") +
                            "Authorization: Bearer " + kToken + "\r\n\r\n";
    ASSERT_EQ(::send(c.get(), req.data(), req.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(req.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // reads nothing meanwhile
    size_t got = 0;
    bool ended = false;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<char> buf(65536);
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
        ssize_t n = ::recv(c.get(), buf.data(), buf.size(), 0);
        if (n > 0) {
            got += static_cast<size_t>(n);
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            ended = true;
            break;
        }
    }
    EXPECT_TRUE(ended) << "the connection outlived its response deadline (" << got << " bytes)";
    EXPECT_LT(got, size) << "the whole file arrived: nothing cut the slow reader";
    httplib::Client m("127.0.0.1", server_->port());
    m.set_bearer_token_auth(kToken);
    auto metrics = m.Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("egress_monitor_serve_total{what=\"response_deadline\"} 1\n"),
              std::string::npos)
        << metrics->body;
}

// Whether the token compare branches on, or indexes memory by, the bytes it compares:
// memcheck is told that both strings' bytes are undefined (the ctgrind method) and reports
// any conditional jump or address that depends on them. A plain memcmp or operator== does
// (it stops at the first difference); CRYPTO_memcmp does not. Runs this same test under
// valgrind in a child process.
TEST(HttpServer, EqualConstantTimeBranchesOnNoSecretByte) {
#ifdef EM_HAVE_MEMCHECK
    if (std::getenv("EM_UNDER_MEMCHECK")) {
        std::string token = "s3cret-token-0123456789-abcdef";
        std::string same = token, last = token, first = token;
        last.back() ^= 1;
        first.front() ^= 1;
        struct Case {
            const std::string* a;
            const std::string* b;
            bool want;
        };
        for (const Case& c :
             {Case{&token, &same, true}, Case{&token, &last, false}, Case{&token, &first, false}}) {
            VALGRIND_MAKE_MEM_UNDEFINED(c.a->data(), c.a->size());
            VALGRIND_MAKE_MEM_UNDEFINED(c.b->data(), c.b->size());
            volatile bool equal = equal_constant_time(*c.a, *c.b);
            // The verdict itself is public (the client learns it anyway).
            VALGRIND_MAKE_MEM_DEFINED(const_cast<bool*>(&equal), sizeof equal);
            EXPECT_EQ(equal, c.want);
        }
        return;
    }
    if (RUNNING_ON_VALGRIND) GTEST_SKIP() << "already under valgrind";
    auto vg = run_command_bounded({"sh", "-c", "command -v valgrind"}, {});
    if (!vg || !vg->success()) GTEST_SKIP() << "valgrind is not installed (scripts/deps.sh test)";
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    const std::string name = "HttpServer.EqualConstantTimeBranchesOnNoSecretByte";
    CommandLimits lim;
    lim.timeout_ms = 300000;
    auto r =
        run_command_bounded({"env", "EM_UNDER_MEMCHECK=1", "valgrind", "-q", "--error-exitcode=99",
                             "--track-origins=yes", self, "--gtest_filter=" + name},
                            lim);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->exit_status, 0) << "memcheck saw the compare depend on the bytes:\n" << r->err;
    EXPECT_NE(r->out.find("[       OK ] " + name), std::string::npos) << r->out << r->err;
#else
    GTEST_SKIP() << "built without valgrind's memcheck.h, or with a sanitizer";
#endif
}

}  // namespace em
