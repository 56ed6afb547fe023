#pragma once
// A small HTTP(S) server made to face hostile networks, on libmicrohttpd (GnuTLS): every
// connection, its TLS handshake included, is driven by an event loop (a slow client holds a
// socket and a few KiB, never a thread), and what a client can make the server hold is
// bounded before any authentication:
//   - connections in all and per client address (further ones are closed at once);
//   - memory per connection (request line and headers must fit in it: 414/431 otherwise);
//   - header count (431 beyond it);
//   - time: from accepting a connection (or the end of its previous response) until its
//     request's headers are complete, and from there until the response is sent — whole
//     deadlines, not per read, enforced by a watchdog that shuts the socket down;
//   - idle time between reads.
// Request bodies are refused (413) unless Limits::max_body allows POST: then a POST must
// announce its length (Content-Length, at most max_body; chunked is refused with 411) and
// its body is held in memory, whole, before the handler runs.
//
// The handler runs on one of the polling threads with the request's method, path and
// headers and returns a Reply: a body in memory, or an open file streamed from its fd (the
// size announced from fstat; nothing is buffered).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace em::http {

struct Limits {
    unsigned connections = 256;            // in all
    unsigned per_client = 16;              // from one address
    size_t connection_memory = 32 * 1024;  // request line + headers + response headers
    unsigned max_headers = 64;
    unsigned request_seconds = 10;    // accept (or previous response done) → headers complete
    unsigned response_seconds = 300;  // headers complete → response sent
    unsigned idle_seconds = 10;       // no byte in either direction
    unsigned threads = 2;             // polling threads
    size_t max_body = 0;              // POST bodies up to this size (0: only GET and HEAD)
};

struct DaemonConfig {
    std::string listen;             // ADDR:PORT or [v6addr]:PORT; port 0 picks one
    std::string tls_cert, tls_key;  // PEM files; both empty: plain HTTP
    Limits limits;
    // Called once the socket is bound and the TLS files are read, before any connection is
    // accepted (to leave root: become_user).
    std::function<Result<void>()> before_serving;
};

struct Request {
    std::string_view method, path;
    /// A request header's value (case-insensitive name); nullopt when absent.
    std::function<const char*(const char* name)> header;
    /// A query-string argument, percent-decoded (by libmicrohttpd); nullptr when absent.
    /// The value is the client's: any bytes but NUL.
    std::function<const char*(const char* name)> query;
    /// A POST's body (at most Limits::max_body bytes); empty for GET and HEAD.
    std::string_view body;
};

struct Reply {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  // unless file is set
    UniqueFd file;     // streamed from offset 0, file_size bytes
    uint64_t file_size = 0;

    static Reply text(int status, std::string body, std::string type = "text/plain; charset=utf-8");
};

using Handler = std::function<Reply(const Request&)>;

/// A listen address as the config writes it: "ADDR:PORT" or "[v6addr]:PORT".
struct ListenAddress {
    std::string host;  // without brackets
    int port = 0;
};
Result<ListenAddress> parse_listen(const std::string& s);

/// `s` without leading and trailing whitespace (HTTP's optional whitespace, and CR/LF).
std::string_view trim_ows(std::string_view s);

/// Counters of what the limits refused, for /metrics.
struct DaemonCounters {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> request_deadline{0};   // closed: headers not complete in time
    std::atomic<uint64_t> response_deadline{0};  // closed: response not sent in time
    std::atomic<uint64_t> too_many_headers{0};
    std::atomic<uint64_t> body_refused{0};
    std::map<std::string, uint64_t> snapshot() const;
};

class Daemon {
  public:
    /// Binds and starts serving. Errors: "bad listen address '…': …", "cannot listen on
    /// ADDR: …", TLS files ("cannot read TLS certificate (tls_cert) F: …", "TLS certificate F
    /// is not a valid PEM certificate: …", "TLS key F does not match the certificate …").
    static Result<std::unique_ptr<Daemon>> start(const DaemonConfig& cfg, Handler handler);
    ~Daemon();
    void stop();
    int port() const;
    const DaemonCounters& counters() const;

    struct Impl;

  private:
    explicit Daemon(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace em::http
