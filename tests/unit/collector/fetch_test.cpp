#include "collector/fetch.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "collector/fetch_internal.h"
#include "common/process.h"
#include "common/unique_fd.h"
#include "tls_test_server.h"

namespace em {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int64_t ms_since(Clock::time_point t0) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
}

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/em-fetch-test-XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string write(const std::string& name, const std::string& text) const {
        std::string p = path_ + "/" + name;
        std::ofstream(p, std::ios::binary) << text;
        return p;
    }
    /// A token file as the collector accepts it: mode 600.
    std::string write_secret(const std::string& name, const std::string& text) const {
        std::string p = write(name, text);
        std::filesystem::permissions(
            p, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        return p;
    }

  private:
    std::string path_;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ---- inventory ----

std::string inventory_error(std::string_view text) {
    auto r = parse_inventory(text, "inv.toml");
    if (r) return "(parsed)";
    return r.error().message;
}

TEST(Inventory, ParsesBothTransports) {
    auto r = parse_inventory(R"(
[[host]]
name = "web1"
url = "https://web1.example:8443/agent/"
token_file = "/etc/c/web1.token"
ca_file = "/etc/c/ca.pem"
tags = ["prod", "web"]

[[host]]
name = "db-2.dc1"
ssh = "monitor@db2.example"
ssh_port = 2222
ssh_key = "/etc/c/id_ed25519"
ssh_known_hosts = "/etc/c/known_hosts"
remote_dir = "/srv/egress/"

[[host]]
name = "lab"
url = "http://[2001:db8::1]:8080"
insecure_http = true
token_file = "/etc/c/lab.token"
)",
                             "inv.toml");
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 3u);
    const auto& w = (*r)[0];
    EXPECT_EQ(w.name, "web1");
    EXPECT_EQ(w.url, "https://web1.example:8443/agent/");
    EXPECT_EQ(w.token_file, "/etc/c/web1.token");
    EXPECT_EQ(w.ca_file, "/etc/c/ca.pem");
    EXPECT_EQ(w.tags, (std::vector<std::string>{"prod", "web"}));
    EXPECT_TRUE(w.ssh.empty());
    const auto& d = (*r)[1];
    EXPECT_EQ(d.ssh, "monitor@db2.example");
    EXPECT_EQ(d.ssh_port, 2222);
    EXPECT_EQ(d.ssh_key, "/etc/c/id_ed25519");
    EXPECT_EQ(d.ssh_known_hosts, "/etc/c/known_hosts");
    EXPECT_EQ(d.remote_dir, "/srv/egress");
    EXPECT_TRUE(d.url.empty());
    EXPECT_TRUE((*r)[2].insecure_http);
    EXPECT_EQ((*r)[1].remote_dir, "/srv/egress");

    auto u = parse_host_url(w.url);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->scheme, "https");
    EXPECT_EQ(u->host, "web1.example");
    EXPECT_EQ(u->port, 8443);
    EXPECT_EQ(u->path, "/agent");
    auto v6 = parse_host_url((*r)[2].url);
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "2001:db8::1");
    EXPECT_EQ(v6->port, 8080);
    EXPECT_EQ(parse_host_url("https://h")->port, 443);
}

TEST(Inventory, DefaultsForSsh) {
    auto r = parse_inventory("[[host]]\nname = \"a\"\nssh = \"a.example\"\n", "inv.toml");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)[0].ssh_port, 22);
    EXPECT_EQ((*r)[0].remote_dir, "/var/log/egress-monitor");
}

TEST(Inventory, ErrorsNameFileAndLine) {
    struct Case {
        const char* text;
        const char* want;
    };
    const Case cases[] = {
        {"[[host]]\nname = \"a\"\nssh = \"a\"\ncolour = \"red\"\n",
         "inv.toml:4: unknown key host.colour"},
        {"[[host]]\nname = \"a\"\nssh = \"a\"\n[other]\nx = 1\n", "inv.toml:4: unknown key other"},
        {"[host]\nname = \"a\"\nssh = \"a\"\n", "inv.toml:1: host must be an array of tables"},
        {"[[host]]\nname = 7\nssh = \"a\"\n", "inv.toml:2: host.name must be a string"},
        {"[[host]]\nname = \"a\"\nssh = \"a\"\nssh_port = \"22\"\n",
         "inv.toml:4: host.ssh_port must be an integer in [1, 65535]"},
        {"[[host]]\nname = \"a\"\nssh = \"a\"\nssh_port = 70000\n",
         "inv.toml:4: host.ssh_port must be an integer"},
        {"[[host]]\nname = \"a\"\nssh = \"a\"\ntags = [\"x\", 1]\n",
         "inv.toml:4: host.tags must be an array of strings"},
        {"[[host]]\nname = \"a\"\nurl = \"http://a\"\ntoken_file = \"/t\"\ninsecure_http = "
         "\"yes\"\n",
         "inv.toml:5: host.insecure_http must be true or false"},
        {"[[host]]\nssh = \"a\"\n", "inv.toml:1: host without a name"},
        {"[[host]]\nname = \"a/b\"\nssh = \"a\"\n", "inv.toml:2: host.name 'a/b'"},
        {"[[host]]\nname = \"a\"\n", "inv.toml:1: host 'a' needs url or ssh"},
        {"[[host]]\nname = \"a\"\nurl = \"https://a\"\ntoken_file = \"/t\"\nssh = \"a\"\n",
         "inv.toml:5: host 'a' has both url and ssh"},
        {"[[host]]\nname = \"a\"\nssh = \"a\"\n\n[[host]]\nname = \"a\"\nssh = \"b\"\n",
         "inv.toml:5: duplicate host name 'a' (first at line 1)"},
        {"[[host]]\nname = \"a\"\nurl = \"ftp://a\"\ntoken_file = \"/t\"\n",
         "inv.toml:3: host 'a': bad url 'ftp://a'"},
        {"[[host]]\nname = \"a\"\nurl = \"https://u:p@a\"\ntoken_file = \"/t\"\n",
         "inv.toml:3: host 'a': bad url"},
        {"[[host]]\nname = \"a\"\nurl = \"https://a:99999\"\ntoken_file = \"/t\"\n",
         "port must be a number"},
        {"[[host]]\nname = \"a\"\nurl = \"http://a\"\ntoken_file = \"/t\"\n",
         "inv.toml:3: host 'a': plain http:// needs insecure_http = true"},
        {"[[host]]\nname = \"a\"\nurl = \"http://a\"\ntoken_file = \"/t\"\ninsecure_http = "
         "false\n",
         "plain http:// needs insecure_http = true"},
        {"[[host]]\nname = \"a\"\nurl = \"https://a\"\n",
         "inv.toml:1: host 'a': url hosts need "
         "token_file"},
        {"[[host]]\nname = \"a\"\nssh = \"a\"\ntoken_file = \"/t\"\n",
         "inv.toml:4: host 'a': token_file applies to url hosts only"},
        {"[[host]]\nname = \"a\"\nurl = \"https://a\"\ntoken_file = \"/t\"\nssh_port = 22\n",
         "inv.toml:5: host 'a': ssh_port applies to ssh hosts only"},
        {"[[host]]\nname = \"a\"\nssh = \"-oProxyCommand=x\"\n", "inv.toml:3: host.ssh"},
        {"[[host]]\nname = \"a\"\nssh = \"a\"\nremote_dir = \"rel\"\n",
         "inv.toml:4: host.remote_dir must be an absolute path"},
        {"[[host]]\nname = \"a\"\nssh = \"a\"\nssh_key = \"\"\n",
         "inv.toml:4: host.ssh_key must not be empty"},
        {"# nothing\n", "inv.toml: no [[host]]"},
        {"[[host]]\nname = \"a\nssh = \"a\"\n", "inv.toml:2:"},  // TOML syntax
    };
    for (const auto& c : cases) {
        std::string err = inventory_error(c.text);
        EXPECT_NE(err.find(c.want), std::string::npos)
            << "input:\n"
            << c.text << "\nwant: " << c.want << "\ngot:  " << err;
    }
}

TEST(Inventory, LoadNamesTheFile) {
    auto r = load_inventory("/nonexistent/inventory.toml");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("/nonexistent/inventory.toml"), std::string::npos);
    TempDir dir;
    auto ok = load_inventory(dir.write("inv.toml", "[[host]]\nname = \"a\"\nssh = \"a\"\n"));
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ((*ok)[0].name, "a");
}

// ---- bounded commands ----

TEST(RunCommandBounded, ExitStatusAndOutput) {
    auto r = run_command_bounded({"sh", "-c", "echo out; echo err >&2; exit 3"}, {});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->exit_status, 3);
    EXPECT_EQ(r->out, "out\n");
    EXPECT_EQ(r->err, "err\n");
    EXPECT_FALSE(r->success());
    EXPECT_FALSE(run_command_bounded({"no-such-program-em"}, {}));
}

TEST(RunCommandBounded, TimeoutKillsTheWholeGroup) {
    CommandLimits lim;
    lim.timeout_ms = 200;
    auto t0 = Clock::now();
    // The background sleep keeps stdout open: only the group kill ends the wait.
    auto r = run_command_bounded({"sh", "-c", "sleep 10 & sleep 10"}, lim);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->timed_out);
    EXPECT_EQ(r->term_signal, SIGKILL);
    EXPECT_LT(ms_since(t0), 2000);
}

TEST(RunCommandBounded, StdoutBeyondTheBoundKills) {
    CommandLimits lim;
    lim.max_stdout = 1000;
    lim.timeout_ms = 5000;
    auto r = run_command_bounded({"sh", "-c", "while :; do echo xxxxxxxxxxxxxxxx; done"}, lim);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->oversized);
    EXPECT_FALSE(r->timed_out);
    EXPECT_EQ(r->out.size(), 1000u);
}

// What the remote side writes to stderr (ssh's and the remote command's messages) is kept up
// to the bound and the rest read and dropped, without ending the command.
TEST(RunCommandBounded, StderrBeyondTheBoundIsDropped) {
    CommandLimits lim;
    lim.max_stderr = 1000;
    lim.timeout_ms = 5000;
    auto r = run_command_bounded({"sh", "-c", "head -c 1000000 /dev/zero >&2; echo done"}, lim);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->success());
    EXPECT_EQ(r->out, "done\n");
    EXPECT_EQ(r->err.size(), 1000u);
}

// ---- HTTPS against a real server ----

std::string sha256_b64(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    unsigned char out[128];
    int n = EVP_EncodeBlock(out, md, static_cast<int>(len));
    return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

// The token the test servers expect (at least 16 bytes, as read_token_file requires).
constexpr const char* kToken = "s3cret-token-0123456789";

// Two self-signed certificates for 127.0.0.1, made once by the openssl CLI.
struct Certs {
    TempDir dir;
    std::string cert, key, other_cert, other_key;
    std::string error;

    Certs() {
        for (const char* name : {"server", "other"}) {
            std::string c = dir.path() + "/" + name + ".pem";
            std::string k = dir.path() + "/" + name + ".key";
            auto r = run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                  "-keyout", k, "-out", c, "-subj", "/CN=localhost", "-addext",
                                  "subjectAltName=IP:127.0.0.1", "-days", "1"});
            if (!r) error = r.error().message;
            (std::string(name) == "server" ? cert : other_cert) = c;
            (std::string(name) == "server" ? key : other_key) = k;
        }
    }
};

const Certs& certs() {
    static Certs c;
    return c;
}

// The agent's endpoint as the fetcher sees it; configure the members, then start().
class TestServer {
  public:
    std::string token = kToken;
    std::string domains = "example.com 3 2024-05-01T10:00:00Z 192.0.2.1\n";
    std::string ips = "192.0.2.1 3 2024-05-01T10:00:00Z\n";
    std::string domains_etag = "\"d-1\"", ips_etag = "\"i-1\"";
    int sleep_ms = 0;
    std::string redirect_to;  // set: every request gets a 302 to this URL + its path
    int fail_status = 0;      // set: every request gets this status and fail_body
    std::string fail_body;
    bool digest = true;
    bool bad_digest = false;
    bool chunked = false;
    std::atomic<int> requests{0};  // of the two files
    // flow-names.log: served when set (a Digest, wrong when names_bad_digest), else 404 as
    // from an older agent; its requests are counted apart.
    std::optional<std::string> names;
    bool names_bad_digest = false;
    std::atomic<int> names_requests{0};
    // process-uses.log: likewise.
    std::optional<std::string> uses;
    std::atomic<int> uses_requests{0};

    explicit TestServer(bool tls = true) {
        if (tls)
            srv_ = std::make_unique<httplib::SSLServer>(certs().cert.c_str(), certs().key.c_str());
        else
            srv_ = std::make_unique<httplib::Server>();
    }
    ~TestServer() {
        {
            std::lock_guard lk(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        srv_->stop();
        if (thread_.joinable()) thread_.join();
    }
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    void start() {
        srv_->Get(R"(/v1/(unique-domains\.log|unique-ips\.log))",
                  [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); });
        srv_->Get("/v1/flow-names.log",
                  [this](const httplib::Request& req, httplib::Response& res) {
                      ++names_requests;
                      serve_optional(req, res, names, names_bad_digest);
                  });
        srv_->Get("/v1/process-uses.log",
                  [this](const httplib::Request& req, httplib::Response& res) {
                      ++uses_requests;
                      // An ETag of its own, honoured: the agent's server does the same.
                      if (uses && req.get_header_value("If-None-Match") == "\"u-1\"") {
                          res.status = 304;
                          return;
                      }
                      if (uses) res.set_header("ETag", "\"u-1\"");
                      serve_optional(req, res, uses, false);
                  });
        port_ = srv_->bind_to_any_port("127.0.0.1");
        ASSERT_GT(port_, 0);
        thread_ = std::thread([this] { srv_->listen_after_bind(); });
        for (int i = 0; i < 200 && !srv_->is_running(); ++i)
            std::this_thread::sleep_for(milliseconds(5));
    }
    void serve_optional(const httplib::Request& req, httplib::Response& res,
                        const std::optional<std::string>& body, bool bad_digest) {
        if (req.get_header_value("Authorization") != "Bearer " + token) {
            res.status = 401;
            return;
        }
        if (!body) {
            res.status = 404;
            res.set_content("not found\n", "text/plain");
            return;
        }
        res.set_header("Digest", "sha-256=" + sha256_b64(bad_digest ? *body + "x" : *body));
        res.set_content(*body, "text/plain");
    }
    std::string url() const {
        return std::string(dynamic_cast<httplib::SSLServer*>(srv_.get()) ? "https" : "http") +
               "://127.0.0.1:" + std::to_string(port_);
    }

  private:
    void serve(const httplib::Request& req, httplib::Response& res) {
        ++requests;
        if (sleep_ms > 0) {
            std::unique_lock lk(mu_);
            cv_.wait_for(lk, milliseconds(sleep_ms), [&] { return stopping_; });
        }
        if (fail_status != 0) {
            res.status = fail_status;
            res.set_content(fail_body, "text/plain");
            return;
        }
        if (!redirect_to.empty()) {
            res.status = 302;
            res.set_header("Location", redirect_to + req.path);
            return;
        }
        if (req.get_header_value("Authorization") != "Bearer " + token) {
            res.status = 401;
            res.set_content("unauthorized\n", "text/plain");
            return;
        }
        bool is_domains = req.matches[1] == "unique-domains.log";
        const std::string& body = is_domains ? domains : ips;
        const std::string& etag = is_domains ? domains_etag : ips_etag;
        res.set_header("ETag", etag);
        if (req.get_header_value("If-None-Match") == etag) {
            res.status = 304;
            return;
        }
        if (digest)
            res.set_header("Digest", "sha-256=" + sha256_b64(bad_digest ? body + "x" : body));
        if (chunked) {
            res.set_chunked_content_provider("text/plain", [body](size_t, httplib::DataSink& s) {
                for (size_t off = 0; off < body.size(); off += 1000)
                    if (!s.write(body.data() + off, std::min<size_t>(1000, body.size() - off)))
                        return false;
                s.done();
                return true;
            });
            return;
        }
        res.set_content(body, "text/plain");
    }

    std::unique_ptr<httplib::Server> srv_;
    std::thread thread_;
    int port_ = 0;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
};

class FetchHttps : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(certs().error.empty()) << certs().error;
        token_file_ = dir_.write_secret("token", std::string(kToken) + "\nsecond line ignored\n");
        opt_.timeout_ms = 2000;
        opt_.retries = 2;
        opt_.backoff_ms = 20;
    }
    HostSpec host(const TestServer& s, const std::string& name = "web1") const {
        HostSpec h;
        h.name = name;
        h.url = s.url();
        h.token_file = token_file_;
        h.ca_file = certs().cert;
        return h;
    }
    FetchResult fetch_one(const HostSpec& h,
                          const std::map<std::string, PrevTags>& etags = {}) const {
        auto r = fetch_all({h}, opt_, etags);
        EXPECT_EQ(r.size(), 1u);
        return r.empty() ? FetchResult{} : r[0];
    }

    TempDir dir_;
    std::string token_file_;
    FetchOptions opt_;
};

TEST_F(FetchHttps, BodiesAndEtags) {
    TestServer s;
    s.start();
    auto r = fetch_one(host(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.host, "web1");
    EXPECT_FALSE(r.not_modified);
    EXPECT_EQ(r.domains, s.domains);
    EXPECT_EQ(r.ips, s.ips);
    EXPECT_EQ(r.domains_etag, "\"d-1\"");
    EXPECT_EQ(r.ips_etag, "\"i-1\"");
    EXPECT_EQ(r.attempts, 1);
    EXPECT_GT(r.fetched_at_ms, 1700000000000);
    EXPECT_EQ(s.requests, 2);
}

TEST_F(FetchHttps, EtagsThatAreNotPrintableAsciiAreDropped) {
    TestServer s;
    s.domains_etag = "\"d-\xff\x80\"";  // obs-text: not for a header we send back or the store
    s.ips_etag = "\"" + std::string(300, 'i') + "\"";  // longer than any real one
    s.start();
    auto r = fetch_one(host(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.domains, s.domains);
    EXPECT_EQ(r.domains_etag, "");
    EXPECT_EQ(r.ips_etag, "");
}

TEST_F(FetchHttps, BothUnchangedIsNotModified) {
    TestServer s;
    s.start();
    auto r = fetch_one(host(s), {{"web1", {"\"d-1\"", "\"i-1\"", ""}}});
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.not_modified);
    EXPECT_TRUE(r.domains.empty());
    EXPECT_TRUE(r.ips.empty());
    EXPECT_EQ(r.domains_etag, "\"d-1\"");
    EXPECT_EQ(r.ips_etag, "\"i-1\"");
}

// flow-names.log: fetched with the two files when there, whole; absent (404) is no names,
// not an error; a bad one costs only the names.
TEST_F(FetchHttps, FlowNamesPresentAbsentAndBad) {
    TestServer s;
    s.start();
    auto r = fetch_one(host(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.names.present);
    EXPECT_EQ(r.names.error, "");
    EXPECT_EQ(r.attempts, 1);
    EXPECT_EQ(s.names_requests, 1);

    s.names = "192.0.2.1 api.example.com tls 3 2024-05-01T10:00:00Z\n";
    r = fetch_one(host(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.names.present);
    EXPECT_EQ(r.names.text, *s.names);
    EXPECT_EQ(r.names.error, "");

    s.names = "";  // an empty file is present: no names, but the agent has the file
    r = fetch_one(host(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.names.present);

    // Both files unchanged: nothing to evaluate, the names are not asked for.
    const int before = s.names_requests;
    r = fetch_one(host(s), {{"web1", {"\"d-1\"", "\"i-1\"", ""}}});
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.not_modified);
    EXPECT_EQ(s.names_requests, before);

    s.names = std::string(5000, 'x');  // larger than max_bytes: the names go, the files stay
    opt_.max_bytes = 4096;
    r = fetch_one(host(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.domains, s.domains);
    EXPECT_FALSE(r.names.present);
    EXPECT_EQ(r.names.error, "oversized: flow-names.log larger than 4096 bytes");
    EXPECT_EQ(r.attempts, 1);

    s.names = "192.0.2.1 api.example.com tls 3 2024-05-01T10:00:00Z\n";
    s.names_bad_digest = true;
    r = fetch_one(host(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.names.present);
    EXPECT_EQ(r.names.error, "tampered: digest mismatch on flow-names.log");
}

// process-uses.log: the same as flow-names.log, independently of it: absent is none, present
// is fetched whole on the same connection, oversized costs only that file.
TEST_F(FetchHttps, ProcessUsesPresentAbsentAndOversized) {
    TestServer s;
    s.start();
    auto r = fetch_one(host(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.uses.present);
    EXPECT_EQ(r.uses.error, "");
    EXPECT_EQ(s.uses_requests, 1);

    s.uses = "d api.example.com /usr/bin/curl root - 3 2024-05-01T10:00:00Z 2024-05-01T10:00:00Z\n";
    r = fetch_one(host(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.uses.present);
    EXPECT_EQ(r.uses.text, *s.uses);
    EXPECT_FALSE(r.names.present);  // one optional file does not bring the other

    EXPECT_EQ(r.uses_etag, "\"u-1\"");
    // Both files unchanged: the uses are still asked for, on their own ETag (a use can be
    // counted without either file changing).
    const int before = s.uses_requests;
    r = fetch_one(host(s), {{"web1", {"\"d-1\"", "\"i-1\"", ""}}});
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.not_modified);
    EXPECT_EQ(s.uses_requests, before + 1);
    EXPECT_TRUE(r.uses.present);
    EXPECT_FALSE(r.uses.not_modified);
    EXPECT_EQ(r.uses.text, *s.uses);
    r = fetch_one(host(s), {{"web1", {"\"d-1\"", "\"i-1\"", "\"u-1\""}}});
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.not_modified);
    EXPECT_TRUE(r.uses.present);
    EXPECT_TRUE(r.uses.not_modified);
    EXPECT_EQ(r.uses.text, "");

    s.uses = std::string(5000, 'x');
    s.names = "192.0.2.1 api.example.com tls 3 2024-05-01T10:00:00Z\n";
    opt_.max_bytes = 4096;
    r = fetch_one(host(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.domains, s.domains);
    EXPECT_TRUE(r.names.present);
    EXPECT_FALSE(r.uses.present);
    EXPECT_EQ(r.uses.error, "oversized: process-uses.log larger than 4096 bytes");
}

TEST_F(FetchHttps, OneChangedFetchesBothWhole) {
    TestServer s;
    s.start();
    auto r = fetch_one(host(s), {{"web1", {"\"d-1\"", "\"i-0\"", ""}}});
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.not_modified);
    EXPECT_EQ(r.domains, s.domains);
    EXPECT_EQ(r.ips, s.ips);
    EXPECT_EQ(s.requests, 3);  // domains 304, ips 200, domains again unconditionally
}

TEST_F(FetchHttps, WrongTokenIsNotRetried) {
    TestServer s;
    s.token = "other";
    s.start();
    auto h = host(s);
    auto r = fetch_one(h);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "web1 (" + h.url + "): unauthorized (token rejected)");
    EXPECT_EQ(r.attempts, 1);
    EXPECT_EQ(s.requests, 1);
}

TEST_F(FetchHttps, UnreadableTokenFileIsNamed) {
    TestServer s;
    s.start();
    auto h = host(s);
    h.token_file = dir_.path() + "/missing.token";
    auto r = fetch_one(h);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error.rfind("web1 (" + h.url + "): cannot read token file " + h.token_file, 0), 0u)
        << r.error;
    EXPECT_EQ(s.requests, 0);
}

// The collector refuses a token file others can read, or a short token, before any request.
TEST_F(FetchHttps, TokenFileReadableByOthersOrShortIsRefused) {
    TestServer s;
    s.start();
    auto h = host(s);
    std::filesystem::permissions(
        token_file_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                         std::filesystem::perms::group_read | std::filesystem::perms::others_read);
    auto r = fetch_one(h);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("token file " + token_file_ +
                           " is readable or writable by group or others (mode 644): chmod 600 " +
                           token_file_),
              std::string::npos)
        << r.error;
    EXPECT_EQ(s.requests, 0);

    h.token_file = dir_.write_secret("short.token", "s3cret\n");
    r = fetch_one(h);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("token in " + h.token_file +
                           " is 6 bytes; use at least 16, e.g. openssl rand -base64 32"),
              std::string::npos)
        << r.error;
    EXPECT_EQ(s.requests, 0);
}

TEST_F(FetchHttps, SlowServerTimesOutAndRetries) {
    TestServer s;
    s.sleep_ms = 3000;
    s.start();
    opt_.timeout_ms = 250;
    auto h = host(s);
    auto t0 = Clock::now();
    auto r = fetch_one(h);
    auto took = ms_since(t0);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "web1 (" + h.url + "): timed out after 3 attempts");
    EXPECT_EQ(r.attempts, 3);
    EXPECT_EQ(s.requests, 3);
    EXPECT_GE(took, 3 * 250 + 20 + 40);
    EXPECT_LT(took, 3 * 250 + 20 + 40 + 1000);
}

TEST_F(FetchHttps, OversizedBodyIsRejected) {
    for (bool chunked : {false, true}) {
        TestServer s;
        s.domains = std::string(5000, 'a') + "\n";
        s.chunked = chunked;
        s.start();
        opt_.max_bytes = 4096;
        auto r = fetch_one(host(s));
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.error.find("oversized: unique-domains.log larger than 4096 bytes"),
                  std::string::npos)
            << r.error;
        EXPECT_EQ(r.attempts, 1);
        EXPECT_TRUE(r.domains.empty());
    }
}

// A host that answers with a redirect (to an address of its choosing, inside the collector's
// network) is a failed fetch: the collector never follows it, so neither the request nor the
// token reaches the other server.
TEST_F(FetchHttps, RedirectIsNotFollowed) {
    TestServer target;
    target.start();
    TestServer s;
    s.redirect_to = target.url();
    s.start();
    auto h = host(s);
    auto r = fetch_one(h);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "web1 (" + h.url + "): GET /v1/unique-domains.log: HTTP 302");
    EXPECT_EQ(r.attempts, 1);
    EXPECT_EQ(s.requests, 1);
    EXPECT_EQ(target.requests, 0);
}

// The inventory says where a host is: a proxy named by the environment is not used (it would
// see every request and the token). The "proxy" here only listens and counts who connects.
TEST_F(FetchHttps, ProxyFromTheEnvironmentIsIgnored) {
    TestServer s;
    s.start();
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
    const char* const vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                "ALL_PROXY"};
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    for (const char* v : vars) {
        const char* old = std::getenv(v);
        saved.emplace_back(v, old ? std::optional<std::string>(old) : std::nullopt);
        ::setenv(v, url.c_str(), 1);
    }
    auto r = fetch_one(host(s));
    for (const auto& [name, value] : saved) {
        if (value)
            ::setenv(name.c_str(), value->c_str(), 1);
        else
            ::unsetenv(name.c_str());
    }
    EXPECT_TRUE(r.ok) << r.error;
    pollfd p{proxy.get(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 0), 0) << "the fetch connected to the proxy from the environment";
}

// An error answer is quoted in the fetch's error (which reaches alerts and the report) by its
// first 200 bytes, on one line without control bytes, however large the host makes it.
TEST_F(FetchHttps, ErrorBodyIsQuotedShortOnOneLine) {
    TestServer s;
    s.fail_status = 403;
    s.fail_body = "denied\nline two\x1b[2J" + std::string(size_t{1} << 20, 'x');
    s.start();
    auto h = host(s);
    auto r = fetch_one(h);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.attempts, 1);
    const std::string want =
        "web1 (" + h.url + "): GET /v1/unique-domains.log: HTTP 403: denied; line two [2Jxx";
    EXPECT_EQ(r.error.rfind(want, 0), 0u) << r.error.substr(0, 300);
    EXPECT_LT(r.error.size(), want.size() + 200) << r.error.substr(0, 300);
    for (char c : r.error) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << r.error;
}

TEST_F(FetchHttps, DigestMismatchIsTampered) {
    TestServer s;
    s.bad_digest = true;
    s.start();
    auto h = host(s);
    auto r = fetch_one(h);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "web1 (" + h.url + "): tampered: digest mismatch on unique-domains.log");
    EXPECT_EQ(r.attempts, 1);
}

TEST_F(FetchHttps, ChunkedWithDigestAndNoDigestBothPass) {
    TestServer s;
    s.chunked = true;
    s.domains = std::string(3000, 'b') + "\n";
    s.start();
    auto r = fetch_one(host(s));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.domains, s.domains);

    TestServer plain;
    plain.digest = false;
    plain.start();
    auto r2 = fetch_one(host(plain));
    ASSERT_TRUE(r2.ok) << r2.error;
    EXPECT_EQ(r2.ips, plain.ips);
}

TEST_F(FetchHttps, WrongCaIsATlsErrorNotRetried) {
    TestServer s;
    s.start();
    auto h = host(s);
    h.ca_file = certs().other_cert;
    auto r = fetch_one(h);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("web1 (" + h.url + "): TLS: server certificate verification failed"),
              std::string::npos)
        << r.error;
    EXPECT_EQ(r.attempts, 1);
    EXPECT_EQ(s.requests, 0);

    h.ca_file.clear();  // the system CAs do not know a self-signed certificate either
    r = fetch_one(h);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("TLS: server certificate verification failed (against the system CAs)"),
              std::string::npos)
        << r.error;
}

// The fetch's TLS (common/tls_policy.h, applied by net/http_client): an endpoint offering
// only weak TLS 1.2 suites is never sent the token; ECDHE with AEAD and TLS 1.3 are.
TEST_F(FetchHttps, TlsRefusesSuitesWithoutForwardSecrecyOrAead) {
    ASSERT_TRUE(testing::test_cert().ok);
    opt_.retries = 0;
    auto host_of = [&](const testing::TlsTestServer& s) {
        HostSpec h;
        h.name = "web1";
        h.url = s.url("");
        h.token_file = token_file_;
        h.ca_file = testing::test_cert().cert;
        return h;
    };
    for (const char* suites : testing::kWeakTls12Suites) {
        testing::TlsTestServer s(suites);
        ASSERT_TRUE(s.configured()) << suites;
        auto r = fetch_one(host_of(s));
        EXPECT_FALSE(r.ok) << suites;
        EXPECT_NE(r.error.find("TLS"), std::string::npos) << suites << ": " << r.error;
        EXPECT_EQ(s.requests(), 0) << suites;
    }
    for (const char* suites : testing::kGoodSuites) {
        testing::TlsTestServer s(suites);
        ASSERT_TRUE(s.configured()) << suites;
        auto r = fetch_one(host_of(s));
        EXPECT_GE(s.requests(), 1) << suites << ": " << r.error;
    }
}

TEST_F(FetchHttps, ConnectionRefusedIsRetried) {
    int port = 0;
    {
        TestServer s;  // a port that was just free
        s.start();
        port = std::stoi(s.url().substr(s.url().rfind(':') + 1));
    }
    HostSpec h;
    h.name = "gone";
    h.url = "https://127.0.0.1:" + std::to_string(port);
    h.token_file = token_file_;
    auto r = fetch_one(h);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.attempts, 3);
    EXPECT_EQ(r.error.rfind("gone (" + h.url + "): GET /v1/unique-domains.log: ", 0), 0u)
        << r.error;
    EXPECT_NE(r.error.find(" after 3 attempts"), std::string::npos) << r.error;
}

TEST_F(FetchHttps, PlainHttpOnlyWhenAllowed) {
    TestServer s(false);
    s.start();
    HostSpec h;
    h.name = "lab";
    h.url = s.url();
    h.token_file = token_file_;
    auto r = fetch_one(h);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("insecure_http"), std::string::npos) << r.error;
    EXPECT_EQ(s.requests, 0);
    h.insecure_http = true;
    r = fetch_one(h);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.domains, s.domains);
}

TEST_F(FetchHttps, HostsInParallelResultsInOrder) {
    TestServer s;
    s.sleep_ms = 250;
    s.start();
    TestServer locked;
    locked.token = "nope";
    locked.start();
    std::vector<HostSpec> hosts;
    for (const char* name : {"h1", "h2", "h3", "h4"}) hosts.push_back(host(s, name));
    hosts.insert(hosts.begin() + 2, host(locked, "denied"));
    opt_.parallel = 8;
    auto t0 = Clock::now();
    auto r = fetch_all(hosts, opt_);
    auto took = ms_since(t0);
    ASSERT_EQ(r.size(), 5u);
    const char* want[] = {"h1", "h2", "denied", "h3", "h4"};
    for (size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(r[i].host, want[i]);
        EXPECT_EQ(r[i].ok, i != 2) << r[i].error;
    }
    EXPECT_EQ(r[3].domains, s.domains);
    EXPECT_NE(r[2].error.find("unauthorized"), std::string::npos);
    // Each host takes two sleeps of 250 ms; one after another would be 2 s.
    EXPECT_LT(took, 1000);

    // One worker: the same results, one host after another.
    opt_.parallel = 1;
    hosts.erase(hosts.begin() + 1, hosts.end() - 1);  // h1, h4
    t0 = Clock::now();
    r = fetch_all(hosts, opt_);
    took = ms_since(t0);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].host, "h1");
    EXPECT_EQ(r[1].host, "h4");
    EXPECT_TRUE(r[0].ok && r[1].ok);
    EXPECT_GE(took, 4 * 250);
}

TEST_F(FetchHttps, StreamHandsOutInOrderWithinItsWindow) {
    TestServer s;
    s.start();
    std::vector<HostSpec> hosts;
    for (int i = 0; i < 12; ++i) hosts.push_back(host(s, "h" + std::to_string(i)));
    opt_.parallel = 4;
    const std::map<std::string, PrevTags> etags;
    FetchStream stream(hosts, opt_, etags, 3);
    for (size_t i = 0; i < hosts.size(); ++i) {
        // A slow consumer: the workers must wait for it, never fetching more than the
        // window's 3 hosts (2 requests each) past what was taken.
        std::this_thread::sleep_for(milliseconds(30));
        EXPECT_LE(s.requests.load(), static_cast<int>(2 * (i + 3))) << "at host " << i;
        FetchResult r = stream.take(i);
        EXPECT_EQ(r.host, hosts[i].name);
        EXPECT_TRUE(r.ok) << r.error;
        EXPECT_EQ(r.ips, s.ips);
    }
    EXPECT_EQ(s.requests.load(), 24);
    // Out of order is an error result, not a hang.
    FetchStream other(hosts, opt_, etags);
    EXPECT_FALSE(other.take(5).ok);
}

// ---- hostile servers (plain HTTP on loopback) ----

// A TCP server on 127.0.0.1 that runs `handler` for each connection on a thread of its own;
// handlers return when `stopping()` turns true (checked at least every 50 ms by the helpers).
class RawServer {
  public:
    using Handler = std::function<void(RawServer&, int fd)>;
    explicit RawServer(Handler handler) : handler_(std::move(handler)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 16) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
            return;
        port_ = ntohs(a.sin_port);
        accept_ = std::thread([this] { accept_loop(); });
    }
    ~RawServer() {
        stopping_ = true;
        if (accept_.joinable()) accept_.join();
        for (auto& t : conns_) t.join();
        ::close(fd_);
    }
    RawServer(const RawServer&) = delete;
    RawServer& operator=(const RawServer&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    bool stopping() const { return stopping_; }
    std::atomic<int> connections{0};

    // Reads up to the end of a request head; false when the client left or on stop.
    bool read_request(int fd) {
        std::string head;
        char buf[4096];
        while (head.find("\r\n\r\n") == std::string::npos) {
            pollfd p{fd, POLLIN, 0};
            if (stopping_) return false;
            if (::poll(&p, 1, 50) <= 0) continue;
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return false;
            head.append(buf, static_cast<size_t>(n));
        }
        return true;
    }
    bool send_all(int fd, std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            data.remove_prefix(static_cast<size_t>(n));
        }
        return true;
    }
    // Sends `data` one byte every `every_ms` until done, the client leaves or stop.
    void trickle(int fd, std::string_view data, int every_ms) {
        for (char c : data) {
            if (stopping_ || !send_all(fd, std::string_view(&c, 1))) return;
            std::this_thread::sleep_for(milliseconds(every_ms));
        }
    }

  private:
    void accept_loop() {
        while (!stopping_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            ++connections;
            conns_.emplace_back([this, c] {
                handler_(*this, c);
                ::close(c);
            });
        }
    }

    Handler handler_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::thread accept_;
    std::vector<std::thread> conns_;
};

class FetchHostile : public ::testing::Test {
  protected:
    void SetUp() override {
        token_file_ = dir_.write_secret("token", std::string(kToken) + "\n");
        opt_.timeout_ms = 400;
        opt_.retries = 0;
        opt_.backoff_ms = 20;
    }
    HostSpec host(const RawServer& s, const std::string& name = "bad") const {
        HostSpec h;
        h.name = name;
        h.url = s.url();
        h.token_file = token_file_;
        h.insecure_http = true;
        return h;
    }
    TempDir dir_;
    std::string token_file_;
    FetchOptions opt_;
};

TEST_F(FetchHostile, HeaderFloodIsCappedNotRetried) {
    // Many small lines, then few big ones: each cap on its own.
    struct Case {
        int lines;
        size_t line_bytes;
        std::string want;
    };
    const Case cases[] = {
        {100000, 20, "oversized: unique-domains.log response headers more than 100 lines"},
        {1000, 8000, "oversized: unique-domains.log response headers larger than 65536 bytes"},
    };
    for (const auto& c : cases) {
        std::atomic<size_t> sent{0};
        RawServer s([&](RawServer& srv, int fd) {
            if (!srv.read_request(fd)) return;
            srv.send_all(fd, "HTTP/1.1 200 OK\r\n");
            for (int i = 0; i < c.lines && !srv.stopping(); ++i) {
                std::string line = "X-Pad-" + std::to_string(i) + ": ";
                line.append(c.line_bytes - line.size() - 2, 'a');
                if (!srv.send_all(fd, line + "\r\n")) return;
                sent += line.size() + 2;
            }
            srv.send_all(fd, "Content-Length: 3\r\n\r\nok\n");
        });
        opt_.retries = 2;
        opt_.timeout_ms = 5000;
        auto h = host(s);
        auto t0 = Clock::now();
        auto r = fetch_all({h}, opt_);
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].error, "bad (" + h.url + "): " + c.want);
        EXPECT_EQ(r[0].attempts, 1);
        EXPECT_EQ(s.connections.load(), 1);
        EXPECT_LT(ms_since(t0), 2000);
    }
}

TEST_F(FetchHostile, TrickledHeadersTimeOutAtTheDeadline) {
    // A header byte every 50 ms: every read succeeds, the exchange never ends by itself.
    RawServer s([](RawServer& srv, int fd) {
        if (!srv.read_request(fd)) return;
        srv.trickle(fd, "HTTP/1.1 200 OK\r\n" + std::string(100000, 'X'), 50);
    });
    opt_.retries = 1;
    auto h = host(s);
    auto t0 = Clock::now();
    auto r = fetch_all({h}, opt_);
    auto took = ms_since(t0);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].error, "bad (" + h.url + "): timed out after 2 attempts");
    EXPECT_GE(took, 2 * 400 + 20);
    EXPECT_LT(took, 2 * 400 + 20 + 500);
}

TEST_F(FetchHostile, TrickledBodyTimesOutAtTheDeadline) {
    RawServer s([](RawServer& srv, int fd) {
        if (!srv.read_request(fd)) return;
        srv.send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
        srv.trickle(fd, std::string(100000, 'a'), 50);
    });
    auto h = host(s);
    auto t0 = Clock::now();
    auto r = fetch_all({h}, opt_);
    auto took = ms_since(t0);
    EXPECT_EQ(r[0].error, "bad (" + h.url + "): timed out");
    EXPECT_GE(took, 400);
    EXPECT_LT(took, 400 + 500);
}

TEST_F(FetchHostile, BothFilesShareTheAttemptsDeadline) {
    // Each file answered after 300 ms: one alone fits the 400 ms timeout, both do not.
    RawServer s([](RawServer& srv, int fd) {
        while (srv.read_request(fd)) {
            std::this_thread::sleep_for(milliseconds(300));
            if (!srv.send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")) return;
        }
    });
    auto h = host(s);
    auto t0 = Clock::now();
    auto r = fetch_all({h}, opt_);
    auto took = ms_since(t0);
    EXPECT_EQ(r[0].error, "bad (" + h.url + "): timed out");
    EXPECT_LT(took, 400 + 300);
}

TEST_F(FetchHostile, StalledHostDelaysNoOtherFetch) {
    // Accepts and never answers; listed before a good host, with one worker per host.
    RawServer silent([](RawServer& srv, int fd) {
        char buf[4096];
        while (!srv.stopping()) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) > 0 && ::recv(fd, buf, sizeof buf, 0) <= 0) return;
        }
    });
    TestServer good(false);
    good.start();
    auto g = host(silent, "good");
    g.url = good.url();
    std::vector<HostSpec> hosts = {host(silent, "s1"), host(silent, "s2"), g};
    opt_.timeout_ms = 1500;
    opt_.parallel = 16;
    const int64_t start_ms = std::chrono::duration_cast<milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    auto t0 = Clock::now();
    auto r = fetch_all(hosts, opt_);
    auto took = ms_since(t0);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].error, "s1 (" + silent.url() + "): timed out");
    EXPECT_EQ(r[1].error, "s2 (" + silent.url() + "): timed out");
    ASSERT_TRUE(r[2].ok) << r[2].error;
    // The good host's files arrived while the stalled ones were still waiting.
    EXPECT_LT(r[2].fetched_at_ms - start_ms, 500);
    EXPECT_LT(took, 1500 + 500);
}

// ---- SSH framing and the remote script (run here by sh, as the remote shell would) ----

TEST(SshFraming, SplitsTheFiles) {
    std::string d, i;
    std::string domains = "a.example 1 2024-05-01T10:00:00Z -\n", ips = "F 9 x\nEMFETCH-END\n";
    std::string out = "EMFETCH1\nF " + std::to_string(domains.size()) + " unique-domains.log\n" +
                      domains + "F " + std::to_string(ips.size()) + " unique-ips.log\n" + ips +
                      "EMFETCH-END\n";
    auto o = fetch_detail::parse_framing(out, 1000, d, i);
    EXPECT_EQ(o.verdict, fetch_detail::Verdict::ok) << o.error;
    EXPECT_EQ(d, domains);
    EXPECT_EQ(i, ips);  // content that looks like framing is content

    auto check = [](const std::string& text, fetch_detail::Verdict v, const std::string& want) {
        std::string d2, i2;
        auto o2 = fetch_detail::parse_framing(text, 1000, d2, i2);
        EXPECT_EQ(o2.verdict, v) << text;
        EXPECT_NE(o2.error.find(want), std::string::npos) << "got: " << o2.error;
    };
    using V = fetch_detail::Verdict;
    check("Welcome!\n" + out, V::fail, "unexpected output from the remote command (no header)");
    check("EMFETCH1\nF 5000 unique-domains.log\n", V::fail,
          "oversized: unique-domains.log larger than 1000 bytes");
    check("EMFETCH1\nF 3 unique-domains.log\nab", V::fail,
          "unique-domains.log shorter than announced");
    check(out.substr(0, out.size() - 1), V::fail, "no end mark");
    check(out + "x", V::fail, "no end mark");
    check("EMFETCH1\nF 1 unique-domains.log\na\nF 0 unique-ips.log\nEMFETCH-END\n", V::fail,
          "no size line for unique-ips.log");
    check("EMFETCH1\nF x unique-domains.log\n", V::fail, "bad size for unique-domains.log");
    check("EMFETCH1\nF 1 unique-ips.log\na", V::fail, "no size line for unique-domains.log");
}

TEST(SshRemoteScript, PrintsBothFilesFramed) {
    TempDir dir;
    const std::string sub = dir.path() + "/it's a dir";
    std::filesystem::create_directory(sub);
    std::string domains = "a.example 1 2024-05-01T10:00:00Z -\n" + std::string(70000, 'x');
    std::string ips;  // empty, and no newline anywhere
    std::ofstream(sub + "/unique-domains.log", std::ios::binary) << domains;
    std::ofstream(sub + "/unique-ips.log", std::ios::binary) << ips;
    for (const char* login_shell : {"sh", "bash"}) {
        auto r = run_command_bounded(
            {login_shell, "-c", fetch_detail::ssh_remote_command(sub, 1 << 20)}, {});
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->exit_status, 0) << r->err;
        std::string d, i;
        auto o = fetch_detail::parse_framing(r->out, 1 << 20, d, i);
        EXPECT_EQ(o.verdict, fetch_detail::Verdict::ok) << login_shell << ": " << o.error;
        EXPECT_EQ(d, domains);
        EXPECT_EQ(i, ips);
    }
}

// flow-names.log over ssh: its content when there, "A" when absent (no names, no error),
// its size alone when over the limit (the names go, the two files stay).
TEST(SshRemoteScript, FlowNamesPresentAbsentOversized) {
    TempDir dir;
    dir.write("unique-domains.log", "a.example 1 2024-05-01T10:00:00Z -\n");
    dir.write("unique-ips.log", "192.0.2.1 1 2024-05-01T10:00:00Z\n");
    auto run = [&](size_t max, FetchedNames& names) {
        auto r = run_command_bounded(
            {"sh", "-c", fetch_detail::ssh_remote_command(dir.path(), max)}, {});
        EXPECT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->exit_status, 0) << r->err;
        std::string d, i;
        auto o = fetch_detail::parse_framing(r->out, max, d, i, &names);
        EXPECT_EQ(o.verdict, fetch_detail::Verdict::ok) << o.error;
        EXPECT_EQ(i, "192.0.2.1 1 2024-05-01T10:00:00Z\n");
        return r->out;
    };
    FetchedNames n;
    EXPECT_NE(run(4096, n).find("A flow-names.log\nA process-uses.log\nEMFETCH-END\n"),
              std::string::npos);
    EXPECT_FALSE(n.present);
    EXPECT_EQ(n.error, "");

    const std::string names = "192.0.2.1 api.example.com tls 3 2024-05-01T10:00:00Z\n";
    dir.write("flow-names.log", names);
    run(4096, n);
    EXPECT_TRUE(n.present);
    EXPECT_EQ(n.text, names);

    dir.write("flow-names.log", std::string(100, 'x'));
    EXPECT_NE(run(60, n).find("F 100 flow-names.log\nA process-uses.log\nEMFETCH-END\n"),
              std::string::npos);
    EXPECT_FALSE(n.present);
    EXPECT_EQ(n.error, "oversized: flow-names.log larger than 60 bytes");
}

// process-uses.log over ssh: after flow-names.log, each present, absent or oversized on its
// own.
TEST(SshRemoteScript, ProcessUsesPresentAbsentOversized) {
    TempDir dir;
    dir.write("unique-domains.log", "a.example 1 2024-05-01T10:00:00Z -\n");
    dir.write("unique-ips.log", "192.0.2.1 1 2024-05-01T10:00:00Z\n");
    auto run = [&](size_t max, FetchedNames& names, FetchedNames& uses) {
        auto r = run_command_bounded(
            {"sh", "-c", fetch_detail::ssh_remote_command(dir.path(), max)}, {});
        EXPECT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->exit_status, 0) << r->err;
        std::string d, i;
        auto o = fetch_detail::parse_framing(r->out, max, d, i, &names, &uses);
        EXPECT_EQ(o.verdict, fetch_detail::Verdict::ok) << o.error;
        return r->out;
    };
    FetchedNames n, u;
    const std::string uses =
        "d a.example /usr/bin/curl root - 1 2024-05-01T10:00:00Z 2024-05-01T10:00:00Z\n";
    dir.write("process-uses.log", uses);
    run(4096, n, u);
    EXPECT_FALSE(n.present);
    EXPECT_TRUE(u.present);
    EXPECT_EQ(u.text, uses);

    const std::string names = "192.0.2.1 a.example tls 3 2024-05-01T10:00:00Z\n";
    dir.write("flow-names.log", names);
    dir.write("process-uses.log", std::string(100, 'x'));
    EXPECT_NE(run(90, n, u).find("\nF 100 process-uses.log\nEMFETCH-END\n"), std::string::npos);
    EXPECT_TRUE(n.present);
    EXPECT_EQ(n.text, names);
    EXPECT_FALSE(u.present);
    EXPECT_EQ(u.error, "oversized: process-uses.log larger than 90 bytes");
}

TEST(SshFraming, ProcessUsesPart) {
    const std::string head = "EMFETCH1\nF 2 unique-domains.log\nd\nF 2 unique-ips.log\ni\n";
    auto parse = [&](const std::string& tail, FetchedNames& n, FetchedNames& u) {
        std::string d, i;
        return fetch_detail::parse_framing(head + tail, 1000, d, i, &n, &u);
    };
    using V = fetch_detail::Verdict;
    FetchedNames n, u;
    EXPECT_EQ(parse("A flow-names.log\nF 3 process-uses.log\nab\nEMFETCH-END\n", n, u).verdict,
              V::ok);
    EXPECT_FALSE(n.present);
    EXPECT_EQ(u.text, "ab\n");
    // The script of the previous release: flow-names.log only.
    EXPECT_EQ(parse("F 3 flow-names.log\nab\nEMFETCH-END\n", n, u).verdict, V::ok);
    EXPECT_TRUE(n.present);
    EXPECT_FALSE(u.present);
    EXPECT_NE(parse("A flow-names.log\nF 3 process-uses.log\nab\n", n, u).error.find("no end mark"),
              std::string::npos);
    EXPECT_NE(parse("A flow-names.log\nF 99 process-uses.log\nab\nEMFETCH-END\n", n, u)
                  .error.find("shorter than announced"),
              std::string::npos);
}

TEST(SshFraming, FlowNamesPart) {
    const std::string head = "EMFETCH1\nF 2 unique-domains.log\nd\nF 2 unique-ips.log\ni\n";
    auto parse = [&](const std::string& tail, FetchedNames& n) {
        std::string d, i;
        return fetch_detail::parse_framing(head + tail, 1000, d, i, &n);
    };
    using V = fetch_detail::Verdict;
    FetchedNames n;
    EXPECT_EQ(parse("F 3 flow-names.log\nab\nEMFETCH-END\n", n).verdict, V::ok);
    EXPECT_EQ(n.text, "ab\n");
    EXPECT_EQ(parse("EMFETCH-END\n", n).verdict, V::ok);  // an earlier script: no names
    EXPECT_FALSE(n.present);
    EXPECT_NE(parse("F 9 flow-names.log\nab\nEMFETCH-END\n", n).error.find("no end mark"),
              std::string::npos);
    EXPECT_NE(parse("F 3 other.log\nab\nEMFETCH-END\n", n).error.find("no size line"),
              std::string::npos);
    EXPECT_NE(parse("B flow-names.log\nEMFETCH-END\n", n).error.find("no end mark"),
              std::string::npos);
}

TEST(SshRemoteScript, OversizedStopsBeforeTheContent) {
    TempDir dir;
    dir.write("unique-domains.log", std::string(5000, 'a'));
    dir.write("unique-ips.log", "x\n");
    auto r =
        run_command_bounded({"sh", "-c", fetch_detail::ssh_remote_command(dir.path(), 4096)}, {});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->exit_status, 0);
    EXPECT_EQ(r->out, "EMFETCH1\nF 5000 unique-domains.log\n");
    std::string d, i;
    auto o = fetch_detail::parse_framing(r->out, 4096, d, i);
    EXPECT_EQ(o.error, "oversized: unique-domains.log larger than 4096 bytes");
}

TEST(SshRemoteScript, MissingFileIsCatsError) {
    TempDir dir;
    dir.write("unique-domains.log", "x\n");
    for (const std::string& d : {dir.path() + "/nowhere", dir.path()}) {
        auto r = run_command_bounded({"sh", "-c", fetch_detail::ssh_remote_command(d, 4096)}, {});
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->exit_status, 1);
        std::string file = d == dir.path() ? "unique-ips.log" : "unique-domains.log";
        EXPECT_EQ(r->err, "cat: " + d + "/" + file + ": No such file or directory\n");
    }
}

// ---- SSH: driven by tests/integration/collector_ssh.sh ----

const char* env(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
}

TEST(CollectorSsh, FetchFromEnv) {
    const char* target = env("EM_SSH_TARGET");
    if (!target) GTEST_SKIP() << "EM_SSH_TARGET not set (run by collector_ssh.sh)";
    HostSpec h;
    h.name = "sshhost";
    h.ssh = target;
    if (const char* p = env("EM_SSH_PORT")) h.ssh_port = std::atoi(p);
    if (const char* k = env("EM_SSH_KEY")) h.ssh_key = k;
    if (const char* d = env("EM_SSH_DIR")) h.remote_dir = d;
    if (const char* k = env("EM_SSH_KNOWN_HOSTS")) h.ssh_known_hosts = k;
    FetchOptions opt;
    opt.timeout_ms = env("EM_SSH_TIMEOUT_MS") ? std::atoi(env("EM_SSH_TIMEOUT_MS")) : 10000;
    opt.retries = env("EM_SSH_RETRIES") ? std::atoi(env("EM_SSH_RETRIES")) : 1;
    opt.backoff_ms = 200;
    if (const char* m = env("EM_SSH_MAX_BYTES")) opt.max_bytes = std::strtoull(m, nullptr, 10);

    auto t0 = Clock::now();
    auto r = fetch_all({h}, opt);
    auto took = ms_since(t0);
    ASSERT_EQ(r.size(), 1u);
    std::cout << "fetch took " << took << " ms, " << r[0].attempts << " attempt(s)"
              << (r[0].ok ? "" : ", error: " + r[0].error) << "\n";
    if (const char* max = env("EM_SSH_MAX_MS")) {
        EXPECT_LT(took, std::atoll(max));
    }
    if (const char* a = env("EM_SSH_EXPECT_ATTEMPTS")) {
        EXPECT_EQ(r[0].attempts, std::atoi(a));
    }
    if (const char* want = env("EM_SSH_EXPECT_ERROR")) {
        EXPECT_FALSE(r[0].ok);
        EXPECT_EQ(r[0].error.rfind("sshhost (ssh " + h.ssh, 0), 0u) << r[0].error;
        EXPECT_NE(r[0].error.find(want), std::string::npos) << r[0].error;
        return;
    }
    ASSERT_TRUE(r[0].ok) << r[0].error;
    EXPECT_FALSE(r[0].not_modified);
    if (const char* f = env("EM_SSH_EXPECT_DOMAINS")) {
        EXPECT_EQ(r[0].domains, read_file(f));
    }
    if (const char* f = env("EM_SSH_EXPECT_IPS")) {
        EXPECT_EQ(r[0].ips, read_file(f));
    }
}

}  // namespace
}  // namespace em
