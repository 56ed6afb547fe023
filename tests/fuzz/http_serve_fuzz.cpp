// Fuzzes `serve`'s HTTP request handling (exporters/http/: libmicrohttpd and the routing of
// server.cpp): one plain-HTTP em::HttpServer on 127.0.0.1 over a temporary directory with
// the two files and a token, started once; each input is written to a fresh connection as
// the client's bytes, the client half-closes and reads the reply for a short while. A reply
// is HTTP or nothing; a file's content never goes to a request that did not carry the
// token; and the server still answers /healthz afterwards (after the first input and every
// 64th).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "common/log.h"
#include "exporters/aggregate_files.h"
#include "exporters/http/server.h"

namespace {

namespace fs = std::filesystem;

// OpenSSL initialised at start, as a TLS process is: left to its lazy first use (the served
// files' digest), its configuration loading keeps 904 bytes that LeakSanitizer reports at
// exit. The program links cpp-httplib no more, whose static initialiser did this before.
[[maybe_unused]] const bool kOpensslInitialised =
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, nullptr) ==
    1;

constexpr std::string_view kToken = "fuzz-token-0123456789";
constexpr std::string_view kSecret = "secret-marker.example";  // only in the served files

struct Fixture {
    fs::path dir;
    std::unique_ptr<em::HttpServer> server;
    int port = 0;

    Fixture() {
        em::set_log_level(em::LogLevel::error);
        char tmpl[] = "/tmp/em-http-fuzz-XXXXXX";
        if (!mkdtemp(tmpl)) std::abort();
        dir = tmpl;
        fs::create_directories(dir / "out");
        fs::create_directories(dir / "state");
        std::ofstream(dir / "token") << kToken << "\n";
        fs::permissions(dir / "token", fs::perms::owner_read | fs::perms::owner_write);
        std::ofstream(dir / "out" / em::kDomainsFile)
            << kSecret << " 42 2026-11-22T11:30:55Z 192.0.2.5\n";
        std::ofstream(dir / "out" / em::kIpsFile) << "192.0.2.5 17 2026-11-22T11:31:02Z\n";
        em::ServeConfig cfg;
        cfg.listen = "127.0.0.1:0";
        cfg.token_file = (dir / "token").string();
        cfg.plain_http = true;
        cfg.output_dir = (dir / "out").string();
        cfg.state_dir = (dir / "state").string();
        // libmicrohttpd holds a connection whose client has gone (CLOSE-WAIT) until the idle
        // timeout, and counts it against the limits: with the defaults (10 s, 16 per client)
        // the 17th input within 10 s would be refused unread. Short deadlines, room for the
        // inputs of one second.
        cfg.limits.idle_seconds = 1;
        cfg.limits.request_seconds = 1;
        cfg.limits.connections = 768;
        cfg.limits.per_client = 768;
        auto s = em::HttpServer::start(cfg);
        if (!s) std::abort();
        server = std::move(*s);
        port = server->port();
    }
    ~Fixture() {
        server.reset();
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

// Sends `req` on a fresh connection, half-closes, and returns what came back: the first byte
// within `first_ms`, each further one within `idle_ms` of the previous (or until the server
// closed). libmicrohttpd keeps a half-closed keep-alive connection (and one whose request is
// incomplete) until its idle timeout, so the end of a reply is a pause, not the close.
std::string exchange(int port, std::string_view req, int first_ms, int idle_ms) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) std::abort();
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
        size_t off = 0;
        while (off < req.size()) {
            ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
            if (n <= 0) break;  // the server closed early: what it said is still read
            off += static_cast<size_t>(n);
        }
        ::shutdown(fd, SHUT_WR);
        char buf[4096];
        pollfd p{fd, POLLIN, 0};
        while (reply.size() < (1 << 20) && ::poll(&p, 1, reply.empty() ? first_ms : idle_ms) > 0) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            reply.append(buf, static_cast<size_t>(n));
        }
    }
    ::close(fd);
    return reply;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Fixture& f = fixture();
    static uint64_t runs = 0;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string reply = exchange(f.port, in, 30, 10);
    if (!reply.empty() && !reply.starts_with("HTTP/1.")) __builtin_trap();
    if (reply.find(kSecret) != std::string::npos && in.find(kToken) == std::string_view::npos)
        __builtin_trap();    // a file served without the token
    if (++runs % 64 == 1) {  // the first input too: a corpus replay checks it
        std::string health = exchange(f.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 2000, 50);
        if (!health.starts_with("HTTP/1.1 200") || health.find("\r\n\r\nok\n") == std::string::npos)
            __builtin_trap();  // the server stopped answering
    }
    return 0;
}
