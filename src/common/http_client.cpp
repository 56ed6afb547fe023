#include "common/http_client.h"

#include <curl/curl.h>
#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <mutex>

#include "common/text_escape.h"
#include "common/tls_policy.h"

namespace em {

namespace {

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x) ==
                      (y >= 'A' && y <= 'Z' ? y - 'A' + 'a' : y);
           });
}

// What one request's callbacks saw.
struct Exchange {
    const HttpClientOptions* opt = nullptr;
    const std::atomic<bool>* aborted = nullptr;
    size_t header_bytes = 0, header_lines = 0;
    bool headers_over = false;  // beyond max_header_bytes or max_header_lines: stopped
    bool body_over = false;     // a 2xx body beyond max_body: stopped
    bool enough = false;        // the kept start of an error answer is complete: stopped
    HttpResponse response;
};

bool success(long status) { return status >= 200 && status <= 299; }

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto& x = *static_cast<Exchange*>(user);
    const size_t len = size * n;
    x.header_bytes += len;
    ++x.header_lines;
    if (x.header_bytes > x.opt->max_header_bytes || x.header_lines > x.opt->max_header_lines) {
        x.headers_over = true;
        return 0;  // stops the transfer
    }
    std::string_view line(data, len);
    if (line.substr(0, 5) == "HTTP/") {  // a new answer (after a 1xx): its own headers
        x.response.headers.clear();
        size_t sp = line.find(' ');
        long code = 0;
        if (sp != std::string_view::npos && line.size() >= sp + 4)
            std::from_chars(line.data() + sp + 1, line.data() + sp + 4, code);
        x.response.status = code;
        return len;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return len;
    x.response.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                                    std::string(trim(line.substr(colon + 1))));
    return len;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto& x = *static_cast<Exchange*>(user);
    const size_t len = size * n;
    std::string& body = x.response.body;
    if (!success(x.response.status)) {  // only the start of an error answer is kept
        const size_t keep = x.opt->error_body_bytes;
        body.append(data, std::min(len, keep - std::min(keep, body.size())));
        x.enough = body.size() >= keep;
        return x.enough ? 0 : len;
    }
    if (len > x.opt->max_body - body.size()) {
        x.body_over = true;
        return 0;
    }
    body.append(data, len);
    return len;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Exchange*>(user)->aborted->load() ? 1 : 0;
}

}  // namespace

struct HttpClient::Curl {
    CURL* h = nullptr;
    ~Curl() {
        if (h) curl_easy_cleanup(h);
    }
};

std::string HttpResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return v;
    return {};
}

std::string HttpResponse::summary() const {
    std::string answer = one_line(body, 200);
    return fmt::format("HTTP {}{}{}", status, answer.empty() ? "" : ": ", answer);
}

HttpClient::HttpClient(const HttpClientOptions& opt) : opt_(opt), curl_(std::make_unique<Curl>()) {}

HttpClient::~HttpClient() = default;

void http_client_global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Result<std::unique_ptr<HttpClient>> HttpClient::create(const HttpClientOptions& opt) {
    http_client_global_init();
    std::unique_ptr<HttpClient> c(new HttpClient(opt));
    c->curl_->h = curl_easy_init();
    CURL* h = c->curl_->h;
    if (!h) return Error{"cannot set up the HTTP client (curl_easy_init)"};
    const char* failed = nullptr;
    auto set = [&](const char* name, CURLcode rc) {
        if (rc != CURLE_OK && !failed) failed = name;
    };
    set("NOSIGNAL", curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
    set("PROTOCOLS_STR", curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"));
    set("FOLLOWLOCATION", curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L));
    // No proxy from the environment (http_proxy, https_proxy, all_proxy): an empty name
    // overrides them.
    set("PROXY", curl_easy_setopt(h, CURLOPT_PROXY, ""));
    set("HTTP_VERSION", curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1));
    // TLS 1.2 or later; on 1.2 only ECDHE with AEAD (common/tls_policy.h), 1.3 suites at the
    // library's defaults.
    set("SSLVERSION", curl_easy_setopt(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2));
    set("SSL_CIPHER_LIST", curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, kClientTls12Ciphers));
    set("SSL_VERIFYPEER", curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L));
    set("SSL_VERIFYHOST", curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L));
    if (!opt.ca_file.empty())
        set("CAINFO", curl_easy_setopt(h, CURLOPT_CAINFO, opt.ca_file.c_str()));
    if (!opt.pinned_key.empty())
        set("PINNEDPUBLICKEY",
            curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, opt.pinned_key.c_str()));
    set("HEADERFUNCTION", curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header));
    set("WRITEFUNCTION", curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body));
    set("XFERINFOFUNCTION", curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress));
    set("NOPROGRESS", curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L));
    set("MAXFILESIZE_LARGE",
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                         static_cast<curl_off_t>(std::min<size_t>(opt.max_body, INT64_MAX))));
    if (failed)
        return Error{fmt::format("cannot set up the HTTP client: libcurl refused {}", failed)};
    return c;
}

HttpResult HttpClient::perform(const HttpRequest& req) {
    HttpResult out;
    auto failure = [&](HttpFailure f, std::string why) {
        out.failure = f;
        out.error = std::move(why);
        return std::move(out);
    };
    if (aborted_) return failure(HttpFailure::aborted, "aborted");
    const bool post = req.method == HttpRequest::Method::post;
    Slist headers;
    std::vector<std::string> lines = req.headers;
    if (post) {
        if (!req.content_type.empty()) lines.push_back("Content-Type: " + req.content_type);
        lines.emplace_back("Expect:");  // no 100-continue round trip before a larger body
    }
    for (const std::string& l : lines) {
        curl_slist* n = curl_slist_append(headers.get(), l.c_str());
        if (!n) return failure(HttpFailure::other, "out of memory");
        (void)headers.release();
        headers.reset(n);
    }
    Exchange x;
    x.opt = &opt_;
    x.aborted = &aborted_;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL* c = curl_->h;
    const long timeout = static_cast<long>(std::max<int64_t>(req.timeout_ms, 1));
    curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    if (post) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    const CURLcode rc = curl_easy_perform(c);
    // Nothing of this request may be pointed to by the handle once it returns.
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, nullptr);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, nullptr);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, nullptr);

    if (x.headers_over)
        return x.header_lines > opt_.max_header_lines
                   ? failure(
                         HttpFailure::headers_too_many_lines,
                         fmt::format("response headers more than {} lines", opt_.max_header_lines))
                   : failure(HttpFailure::headers_too_large,
                             fmt::format("response headers larger than {} bytes",
                                         opt_.max_header_bytes));
    if (x.body_over || rc == CURLE_FILESIZE_EXCEEDED)
        return failure(HttpFailure::body_too_large,
                       fmt::format("response larger than {} bytes", opt_.max_body));
    if (rc == CURLE_OPERATION_TIMEDOUT) return failure(HttpFailure::timed_out, "timed out");
    if (rc == CURLE_ABORTED_BY_CALLBACK) return failure(HttpFailure::aborted, "aborted");
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x.enough)) {
        if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
            return failure(HttpFailure::tls_verify,
                           fmt::format("TLS: server certificate verification failed (against {})",
                                       opt_.ca_file.empty() ? std::string("the system CAs")
                                                            : "ca_file " + opt_.ca_file));
        if (rc == CURLE_SSL_CACERT_BADFILE)
            return failure(
                HttpFailure::tls_ca_file,
                "TLS: cannot load CA certificates from " +
                    (opt_.ca_file.empty() ? std::string("the system store") : opt_.ca_file));
        const auto [kind, words] =
            rc == CURLE_COULDNT_CONNECT ? std::pair(HttpFailure::connect, "cannot connect")
            : rc == CURLE_COULDNT_RESOLVE_HOST
                ? std::pair(HttpFailure::resolve, "cannot resolve the host")
            : rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE
                ? std::pair(HttpFailure::read, "read failed")
            : rc == CURLE_SEND_ERROR ? std::pair(HttpFailure::write, "write failed")
            : rc == CURLE_SSL_CONNECT_ERROR
                ? std::pair(HttpFailure::tls_handshake, "TLS handshake failed")
                : std::pair(HttpFailure::other, "request failed");
        return failure(kind, fmt::format("{} ({})", words,
                                         one_line(*errbuf ? errbuf : curl_easy_strerror(rc), 200)));
    }
    out.response = std::move(x.response);
    return out;
}

std::string http_url_text(const HttpUrl& url, std::string_view path) {
    const bool v6 = url.host.find(':') != std::string::npos;
    return fmt::format("{}://{}{}{}:{}{}", url.scheme, v6 ? "[" : "", url.host, v6 ? "]" : "",
                       url.port, path);
}

}  // namespace em
