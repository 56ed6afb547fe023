#pragma once
// The program's one HTTP(S) client (libcurl), behind the collector's fetch, the alert webhook
// and the Loki pusher. Whoever calls it, it:
// - verifies the server's certificate and host name, against `ca_file` or the system CAs,
//   optionally also against a pinned public key, and speaks only the TLS of
//   common/tls_policy.h (1.2 with ECDHE + AEAD, or 1.3);
// - never follows a redirect (a 3xx is an answer like any other) and never uses a proxy named
//   by the environment (the caller's configuration says where the server is);
// - bounds each exchange in time (connect to last byte, one timeout) and its response in
//   size: header bytes and lines, a 2xx body (max_body), and of any other answer only the
//   first error_body_bytes are read before the connection is dropped;
// - speaks HTTP/1.1 and keeps its connection for the next request (a burst of webhook posts
//   or Loki batches, the two files of one fetch). No content coding is asked for or decoded.
//
// Not thread-safe: one thread uses a client at a time, except abort().
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_url.h"
#include "common/result.h"

namespace em {

struct HttpClientOptions {
    std::string ca_file;  // https: verify against this bundle instead of the system's
    std::string
        pinned_key;  // optional: "sha256//<base64>" of the server's public key (curl's form)
    size_t max_body = size_t{1} << 20;  // of a 2xx answer; more is HttpFailure::body_too_large
    size_t max_header_bytes = 64 * 1024;
    size_t max_header_lines = 100;  // every line counts, the status lines of 1xx answers too
    size_t error_body_bytes = 200;  // kept of a non-2xx answer; the rest is not read
};

struct HttpRequest {
    enum class Method { get, post };
    Method method = Method::get;
    std::string url;                   // whole, e.g. http_url_text(u, "/v1/x")
    std::vector<std::string> headers;  // "Name: value" lines
    std::string_view body;             // post only; must outlive perform()
    std::string content_type;          // post only
    int64_t timeout_ms = 5000;         // the whole exchange; at least 1
};

struct HttpResponse {
    long status = 0;  // of the final answer (after any 1xx)
    std::vector<std::pair<std::string, std::string>> headers;  // of the final answer, trimmed
    std::string body;  // a 2xx answer's whole body; of any other, the first error_body_bytes
    /// The value of the first header called `name` (any case); empty when none.
    std::string header(std::string_view name) const;
    /// "HTTP <status>" and, when the body says something, ": <its start on one line>" (at most
    /// 200 bytes and "...", control bytes blanked; for error messages).
    std::string summary() const;
};

enum class HttpFailure {
    none,
    timed_out,
    aborted,  // abort() was called
    headers_too_many_lines,
    headers_too_large,
    body_too_large,  // a 2xx body (or any Content-Length) beyond max_body
    tls_verify,      // the certificate (or the pinned key) did not verify
    tls_ca_file,     // the CA bundle could not be loaded
    tls_handshake,   // no common protocol or suite, or the handshake broke
    connect,
    resolve,
    read,
    write,
    other,
};

/// What perform() gives: `failure` none and the answer (whatever its status), or a failure
/// and `error`, one line saying what went wrong:
///   timed_out            "timed out"
///   headers_too_*        "response headers more than 100 lines" / "larger than 65536 bytes"
///   body_too_large       "response larger than 1048576 bytes"
///   tls_verify           "TLS: server certificate verification failed (against ca_file X)"
///                        ("... (against the system CAs)")
///   tls_ca_file          "TLS: cannot load CA certificates from X" ("... from the system store")
///   the others           "<what failed> (<libcurl's words>)", e.g. "cannot connect (...)"
struct HttpResult {
    HttpFailure failure = HttpFailure::none;
    std::string error;
    HttpResponse response;
    explicit operator bool() const { return failure == HttpFailure::none; }
};

class HttpClient {
  public:
    /// Fails only when libcurl cannot make a handle or refuses an option (an error naming it).
    static Result<std::unique_ptr<HttpClient>> create(const HttpClientOptions& opt);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    HttpResult perform(const HttpRequest& req);

    /// From any thread: the request in flight ends soon (libcurl checks about once a second
    /// while waiting, more often while data flows) with HttpFailure::aborted, and so does every
    /// later one.
    void abort() { aborted_ = true; }

    const HttpClientOptions& options() const { return opt_; }

  private:
    struct Curl;
    explicit HttpClient(const HttpClientOptions& opt);
    HttpClientOptions opt_;
    std::unique_ptr<Curl> curl_;
    std::atomic<bool> aborted_{false};
};

/// Prepares libcurl's global state; idempotent and thread-safe. create() calls it too; a
/// program that starts threads calls it before, to be safe with older libcurl.
void http_client_global_init();

/// "<scheme>://<host>:<port><path>", an IPv6 host in brackets.
std::string http_url_text(const HttpUrl& url, std::string_view path);

}  // namespace em
