#include "net/http_client/http_client.h"

#include <curl/curl.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <mutex>

#include "common/ascii.h"
#include "common/tls_policy.h"

namespace em::net {

namespace {

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// What one request's callbacks saw.
struct Exchange {
    const HttpClientOptions* opt = nullptr;
    const std::atomic<bool>* aborted = nullptr;
    size_t header_bytes = 0, header_lines = 0;
    bool header_bytes_over = false, header_lines_over = false;
    HttpResponse* res = nullptr;
    bool oversized = false;  // a 200 body beyond the limit: stopped
    bool enough = false;     // as much body as is wanted: stopped, not an error
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto& x = *static_cast<Exchange*>(user);
    const size_t len = size * n;
    x.header_bytes += len;
    ++x.header_lines;
    x.header_bytes_over = x.header_bytes > x.opt->max_header_bytes;
    x.header_lines_over = x.header_lines > x.opt->max_header_lines;
    if (x.header_bytes_over || x.header_lines_over) return 0;  // stops the transfer
    std::string_view line(data, len);
    if (line.substr(0, 5) == "HTTP/") {  // a new response (after a 1xx): its own headers
        x.res->headers.clear();
        size_t sp = line.find(' ');
        long code = 0;
        if (sp != std::string_view::npos && line.size() >= sp + 4)
            std::from_chars(line.data() + sp + 1, line.data() + sp + 4, code);
        x.res->status = code;
        return len;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return len;
    const std::string_view name = trim_space(line.substr(0, colon));
    const std::string_view value = trim_space(line.substr(colon + 1));
    // A 200 whose announced length is over the limit is stopped here, before its body: a
    // host serving a huge file costs neither the transfer nor the wait for it.
    if (x.res->status == 200 && !x.opt->truncate_body && iequals_ascii(name, "Content-Length")) {
        uint64_t announced = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), announced);
        if (ec == std::errc() && end == value.data() + value.size() &&
            announced > x.opt->max_body_bytes) {
            x.oversized = true;
            return 0;
        }
    }
    x.res->headers.emplace_back(name, value);
    return len;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto& x = *static_cast<Exchange*>(user);
    const size_t len = size * n;
    std::string& body = x.res->body;
    const bool success = x.res->status == 200;
    const size_t limit = success ? x.opt->max_body_bytes : x.opt->max_error_body_bytes;
    if (!success || x.opt->truncate_body) {  // only the start is kept
        body.append(data, std::min(len, limit - body.size()));
        x.enough = body.size() >= limit;
        return x.enough ? 0 : len;
    }
    if (len > limit - body.size()) {
        x.oversized = true;
        return 0;
    }
    body.append(data, len);
    return len;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;  // non-zero: abort
}

CURLcode on_ssl_ctx(CURL*, void* ctx, void*) {
    return apply_client_tls_policy(static_cast<SSL_CTX*>(ctx)) ? CURLE_OK : CURLE_SSL_CIPHER;
}

HttpFailure failure_of(CURLcode rc) {
    switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
            return HttpFailure::timed_out;
        case CURLE_ABORTED_BY_CALLBACK:
            return HttpFailure::aborted;
        case CURLE_FILESIZE_EXCEEDED:
            return HttpFailure::body_too_large;
        case CURLE_COULDNT_CONNECT:
            return HttpFailure::cannot_connect;
        case CURLE_COULDNT_RESOLVE_HOST:
            return HttpFailure::cannot_resolve;
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
            return HttpFailure::read_failed;
        case CURLE_SEND_ERROR:
            return HttpFailure::write_failed;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CIPHER:
            return HttpFailure::tls_handshake;
        case CURLE_PEER_FAILED_VERIFICATION:
            return HttpFailure::tls_verify;
        case CURLE_SSL_CACERT_BADFILE:
            return HttpFailure::ca_file;
        default:
            return HttpFailure::other;
    }
}

}  // namespace

void http_client_global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string_view describe(HttpFailure f) {
    switch (f) {
        case HttpFailure::none:
            return "ok";
        case HttpFailure::timed_out:
            return "timed out";
        case HttpFailure::aborted:
            return "aborted";
        case HttpFailure::headers_too_large:
            return "response headers too large";
        case HttpFailure::too_many_header_lines:
            return "too many response header lines";
        case HttpFailure::body_too_large:
            return "response body too large";
        case HttpFailure::cannot_connect:
            return "cannot connect";
        case HttpFailure::cannot_resolve:
            return "cannot resolve the host";
        case HttpFailure::read_failed:
            return "read failed";
        case HttpFailure::write_failed:
            return "write failed";
        case HttpFailure::tls_handshake:
            return "TLS handshake failed";
        case HttpFailure::tls_verify:
            return "TLS: server certificate verification failed";
        case HttpFailure::ca_file:
            return "TLS: cannot load CA certificates";
        case HttpFailure::setup:
            return "cannot set up the request";
        case HttpFailure::other:
            break;
    }
    return "request failed";
}

std::string HttpResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals_ascii(k, name)) return v;
    return {};
}

std::string HttpResponse::error() const {
    std::string out(describe(failure));
    if (!detail.empty()) out += " (" + detail + ")";
    return out;
}

std::string url_of(const HttpUrl& url, std::string_view path) {
    const std::string host =
        url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    return url.scheme + "://" + host + ":" + std::to_string(url.port) + std::string(path);
}

Result<std::unique_ptr<HttpClient>> HttpClient::create(HttpClientOptions opt) {
    http_client_global_init();
    std::unique_ptr<HttpClient> client(new HttpClient(std::move(opt)));
    CURL* c = curl_easy_init();
    if (!c) return Error{"cannot set up the HTTP client: curl_easy_init failed"};
    client->curl_ = c;
    auto set = [&](CURLoption o, auto v) { return curl_easy_setopt(c, o, v) == CURLE_OK; };
    bool ok = set(CURLOPT_NOSIGNAL, 1L) && set(CURLOPT_PROTOCOLS_STR, "http,https") &&
              set(CURLOPT_FOLLOWLOCATION, 0L) &&
              // No proxy from the environment: the configuration says where a server is.
              set(CURLOPT_PROXY, "") &&
              set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1)) &&
              set(CURLOPT_SSL_VERIFYPEER, 1L) && set(CURLOPT_SSL_VERIFYHOST, 2L) &&
              set(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) && set(CURLOPT_NOPROGRESS, 0L) &&
              set(CURLOPT_XFERINFOFUNCTION, on_progress) &&
              set(CURLOPT_XFERINFODATA, static_cast<void*>(&client->aborted_)) &&
              set(CURLOPT_HEADERFUNCTION, on_header) && set(CURLOPT_WRITEFUNCTION, on_body);
    if (ok && !client->opt_.ca_file.empty()) ok = set(CURLOPT_CAINFO, client->opt_.ca_file.c_str());
    for (const std::string& r : client->opt_.resolve) {
        curl_slist* l = curl_slist_append(static_cast<curl_slist*>(client->resolve_), r.c_str());
        if (!l) return Error{"cannot set up the HTTP client: out of memory"};
        client->resolve_ = l;
    }
    if (ok && client->resolve_)
        ok = set(CURLOPT_RESOLVE, static_cast<curl_slist*>(client->resolve_));
    // No CURLOPT_MAXFILESIZE: libcurl would apply it to every answer's Content-Length, so a
    // 503 or 401 announcing a large body would read as body_too_large without its status;
    // on_body bounds what is kept of each answer instead.
    if (!ok) return Error{"cannot set up the HTTP client: libcurl refused an option"};
    return client;
}

HttpClient::~HttpClient() {
    if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
    curl_slist_free_all(static_cast<curl_slist*>(resolve_));  // after the handle using it
}

HttpResponse HttpClient::perform(const HttpRequest& req) {
    HttpResponse res;
    CURL* c = static_cast<CURL*>(curl_);
    // Rounded up: curl's whole-transfer timeout ends the exchange at its deadline, not a
    // fraction of a millisecond before.
    const int64_t left =
        std::chrono::ceil<std::chrono::milliseconds>(req.deadline - Clock::now()).count();
    if (aborted_.load()) {
        res.failure = HttpFailure::aborted;
        return res;
    }
    if (left <= 0) {
        res.failure = HttpFailure::timed_out;
        return res;
    }
    Slist headers;
    std::vector<std::string> lines = req.headers;
    if (req.method == "POST") lines.emplace_back("Expect:");  // no 100-continue round trip
    for (const std::string& h : lines) {
        curl_slist* l = curl_slist_append(headers.get(), h.c_str());
        if (!l) {
            res.failure = HttpFailure::setup;
            res.detail = "out of memory";
            return res;
        }
        (void)headers.release();
        headers.reset(l);
    }
    Exchange x;
    x.opt = &opt_;
    x.res = &res;
    char errbuf[CURL_ERROR_SIZE] = "";
    bool ok = curl_easy_setopt(c, CURLOPT_URL, req.url.c_str()) == CURLE_OK;
    if (req.method == "POST") {
        ok = ok && curl_easy_setopt(c, CURLOPT_POST, 1L) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                              static_cast<curl_off_t>(req.body.size())) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data()) == CURLE_OK;
    } else if (req.method == "GET") {
        ok = ok && curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    } else {
        ok = false;
    }
    // One millisecond more: curl compares its timers in whole milliseconds and may end a
    // transfer up to one early (an exchange lasts at least until its deadline).
    ok = ok && curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get()) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_HEADERDATA, &x) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_WRITEDATA, &x) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(left + 1)) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(left + 1)) == CURLE_OK;
    if (!ok) {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
        res.failure = HttpFailure::setup;
        res.detail = "method " + req.method;
        return res;
    }
    const CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);

    if (x.header_lines_over) {
        res.failure = HttpFailure::too_many_header_lines;
    } else if (x.header_bytes_over) {
        res.failure = HttpFailure::headers_too_large;
    } else if (x.oversized) {
        res.failure = HttpFailure::body_too_large;
    } else if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x.enough)) {
        res.failure = failure_of(rc);
        res.detail = *errbuf ? errbuf : curl_easy_strerror(rc);
    }
    return res;
}

}  // namespace em::net
