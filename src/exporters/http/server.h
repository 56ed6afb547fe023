#pragma once
// The read-only HTTP(S) endpoint a collector pulls from (`egress-monitor serve`, and the
// same server inside `egress-monitor agent`), on libmicrohttpd (http/daemon.h: limits and
// deadlines against slow and greedy clients).
//
//   GET /v1/unique-domains.log   the file as written (ETag = strong hash of the bytes,
//   GET /v1/unique-ips.log       If-None-Match → 304; Digest: sha-256=<base64> so a
//   GET /v1/flow-names.log       collector can tell a file altered on the way); 404 when
//   GET /v1/process-uses.log     the file is not there (flow-names.log, process-uses.log:
//                                an agent without first-packet names or attribution, or
//                                consolidate, which writes neither)
//   GET /v1/summary.json         totals, counters, file ages, the agent's extras if any
//   GET /healthz                 200 "ok" (no token needed)
//   GET /metrics                 Prometheus text: events, drops, parse errors, commit lag,
//                                file ages (from the ledger's counters and the files)
// Every path but /healthz needs "Authorization: Bearer <token>" (the token file's first
// line, read by read_token_file: mode 600 or stricter, at least 16 bytes, else start()
// fails), compared in constant time; 401 otherwise. Anything but GET/HEAD: 405. TLS unless
// `plain_http` is set explicitly. Runs on its own threads; stop() or the destructor ends it.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"
#include "exporters/http/daemon.h"

namespace em {

struct ServeConfig {
    std::string listen = "0.0.0.0:8443";  // ADDR:PORT, [v6addr]:PORT
    std::string token_file;               // required
    std::string tls_cert, tls_key;        // required unless plain_http
    bool plain_http = false;
    std::string output_dir = "/var/log/egress-monitor";  // where the two files are
    std::string state_dir = "/var/lib/egress-monitor";   // ledger, read-only, for metrics
    // Unprivileged user the whole process becomes once the socket is bound and the token and
    // TLS key are read, before the first connection (it needs read access to the two
    // files and the ledger, nothing else); empty: stays who it was started as.
    std::string user;
    // What a client can make the server hold (http/daemon.h); not a config key: the defaults
    // are the product's, tests shorten the deadlines.
    http::Limits limits;
};

/// Values for /metrics and /summary.json beyond the ledger's own (the agent's live
/// counters). Called on a server thread: must be thread-safe.
using LiveCounters = std::function<std::map<std::string, uint64_t>()>;

class HttpServer {
  public:
    /// Reads the token and TLS files, binds, and starts serving. Errors name the file or
    /// the address.
    static Result<std::unique_ptr<HttpServer>> start(const ServeConfig& cfg,
                                                     LiveCounters live = {});
    ~HttpServer();
    void stop();
    int port() const;  // the bound port (for tests binding port 0)

  private:
    struct Impl;
    explicit HttpServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// Constant-time comparison of two byte strings (the length is not hidden).
bool equal_constant_time(const std::string& a, const std::string& b);

}  // namespace em
