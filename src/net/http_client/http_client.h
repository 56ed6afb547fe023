#pragma once
// The one HTTP(S) client of this program: the collector's fetch, the alert webhook and the
// Loki pusher send through it. libcurl underneath, set up the same way for all of them:
//   - TLS through the policy of common/tls_policy.h, applied to every OpenSSL context libcurl
//     makes (its SSL_CTX callback); the server's certificate and name verified against the
//     system CAs or a given CA file;
//   - no redirects followed, no proxy taken from the environment, HTTP/1.1, http and https
//     only;
//   - response headers bounded in bytes and lines, the body of a 200 answer bounded, of any
//     other answer only the start read;
//   - one deadline for the whole exchange (connect, send, answer), not a timeout per read.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_url.h"
#include "common/result.h"

namespace em::net {

using Clock = std::chrono::steady_clock;

/// libcurl's global set-up, once per process (idempotent and thread-safe; create() calls it).
/// Call it early, before other threads start, where that is easy.
void http_client_global_init();

struct HttpClientOptions {
    /// https: the server's certificate must verify against this PEM file; empty: system CAs.
    std::string ca_file;
    /// "HOST:PORT:ADDRESS" entries (libcurl's CURLOPT_RESOLVE): HOST is connected to at
    /// ADDRESS without a lookup, and its certificate is still checked for HOST (`doctor`
    /// reaching the local endpoint by the name on its certificate).
    std::vector<std::string> resolve;
    size_t max_header_bytes = 64 * 1024;  // of all response headers together
    size_t max_header_lines = 100;
    /// The body of a 200 answer: beyond this it is body_too_large (the transfer stops), or with
    /// `truncate_body` it is cut at the limit without an error.
    size_t max_body_bytes = size_t{1} << 20;
    bool truncate_body = false;
    /// Of any other answer the first this many bytes are kept and the rest is not read.
    size_t max_error_body_bytes = 200;
};

struct HttpRequest {
    std::string method = "GET";  // "GET" or "POST"
    std::string url;
    std::vector<std::string> headers;  // "Name: value" lines
    std::string_view body;             // POST only; must outlive perform()
    Clock::time_point deadline;        // for the whole exchange
};

enum class HttpFailure {
    none,
    timed_out,
    aborted,  // abort() was called
    headers_too_large,
    too_many_header_lines,
    body_too_large,
    cannot_connect,
    cannot_resolve,
    read_failed,
    write_failed,
    tls_handshake,  // includes a server offering nothing the TLS policy allows
    tls_verify,     // the certificate does not verify against the CAs, or not for the host
    ca_file,        // the CA file cannot be loaded
    setup,          // a libcurl option was refused
    other,
};

/// Words for a failure: "timed out", "cannot connect", ...
std::string_view describe(HttpFailure f);

struct HttpResponse {
    HttpFailure failure = HttpFailure::none;
    std::string detail;  // libcurl's own words for a failure (may be empty)
    long status = 0;     // of the last status line (after any 1xx)
    std::vector<std::pair<std::string, std::string>> headers;  // of that answer, values trimmed
    std::string body;
    bool ok() const { return failure == HttpFailure::none; }
    /// The first header of that name (ASCII case ignored), or "".
    std::string header(std::string_view name) const;
    /// describe(failure), with libcurl's words in parentheses when there are some.
    std::string error() const;
};

/// "<scheme>://<host>:<port><path>", an IPv6 host in brackets.
std::string url_of(const HttpUrl& url, std::string_view path);

/// One connection's worth of client: keeps its connection for the next request. Not
/// thread-safe, except abort().
class HttpClient {
  public:
    /// Fails when libcurl refuses a setting (say, a libcurl without OpenSSL).
    static Result<std::unique_ptr<HttpClient>> create(HttpClientOptions opt);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// One request. Never throws; a failure is in the response.
    HttpResponse perform(const HttpRequest& req);

    /// From any thread: the request in flight ends soon as `aborted`, and so do later ones.
    void abort() { aborted_.store(true); }

  private:
    explicit HttpClient(HttpClientOptions opt) : opt_(std::move(opt)) {}
    HttpClientOptions opt_;
    void* curl_ = nullptr;     // CURL*
    void* resolve_ = nullptr;  // curl_slist* of opt_.resolve, for curl_'s lifetime
    std::atomic<bool> aborted_{false};
};

}  // namespace em::net
