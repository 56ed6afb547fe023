// The HTTP(S) transport on libcurl. cpp-httplib 0.11 (what it replaces) reads response
// headers without a limit (100 MB of headers cost the collector 145 MB of memory) and its
// timeouts are per read (a header byte every 0.5 s kept a 3 s fetch going for as long as
// the server liked); libcurl has a timeout for the whole transfer and hands every header
// line to a callback that can stop it.
#include <curl/curl.h>
#include <fmt/core.h>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <mutex>

#include "collector/fetch_internal.h"
#include "common/tls_policy.h"

namespace em::fetch_detail {

namespace {

constexpr size_t kErrorBodyBytes = 200;  // of a non-200 answer, quoted in the error

struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

std::string sha256_base64(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &md_len, EVP_sha256(), nullptr) != 1) return {};
    unsigned char out[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    int n = EVP_EncodeBlock(out, md, static_cast<int>(md_len));
    return {reinterpret_cast<const char*>(out), static_cast<size_t>(n)};
}

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

// The sha-256 value of a Digest header (RFC 3230: "sha-256=<base64>[, other=...]"); empty
// when it has none.
std::string digest_sha256(std::string_view header) {
    while (!header.empty()) {
        size_t comma = header.find(',');
        std::string_view item = trim(header.substr(0, comma));
        header = comma == std::string_view::npos ? "" : header.substr(comma + 1);
        size_t eq = item.find('=');
        if (eq == std::string_view::npos) continue;
        if (iequals(trim(item.substr(0, eq)), "sha-256"))
            return std::string(trim(item.substr(eq + 1)));
    }
    return {};
}

// What one request's callbacks saw.
struct Exchange {
    size_t max_body = 0;
    size_t header_bytes = 0, header_lines = 0;
    bool headers_over = false;  // beyond kMaxHeaderBytes or kMaxHeaderLines: stopped
    long status = 0;            // of the last status line (after any 1xx)
    std::string etag, digest;
    std::string body;
    bool oversized = false;  // a 200 body beyond max_body: stopped
    bool enough = false;     // the quoted start of an error answer is complete: stopped
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto& x = *static_cast<Exchange*>(user);
    const size_t len = size * n;
    x.header_bytes += len;
    ++x.header_lines;
    if (x.header_bytes > HttpFetcher::kMaxHeaderBytes ||
        x.header_lines > HttpFetcher::kMaxHeaderLines) {
        x.headers_over = true;
        return 0;  // stops the transfer
    }
    std::string_view line(data, len);
    if (line.substr(0, 5) == "HTTP/") {  // a new response (after a 1xx): its own headers
        x.etag.clear();
        x.digest.clear();
        size_t sp = line.find(' ');
        long code = 0;
        if (sp != std::string_view::npos && line.size() >= sp + 4)
            std::from_chars(line.data() + sp + 1, line.data() + sp + 4, code);
        x.status = code;
        return len;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return len;
    std::string_view name = trim(line.substr(0, colon));
    if (iequals(name, "ETag"))
        x.etag = std::string(trim(line.substr(colon + 1)));
    else if (iequals(name, "Digest"))
        x.digest = std::string(trim(line.substr(colon + 1)));
    return len;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto& x = *static_cast<Exchange*>(user);
    const size_t len = size * n;
    if (x.status != 200) {  // only the start of an error answer is quoted
        x.body.append(data, std::min(len, kErrorBodyBytes - x.body.size()));
        x.enough = x.body.size() >= kErrorBodyBytes;
        return x.enough ? 0 : len;
    }
    if (len > x.max_body - x.body.size()) {
        x.oversized = true;
        return 0;
    }
    x.body.append(data, len);
    return len;
}

std::string host_for_url(const std::string& host) {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

void http_global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpFetcher::HttpFetcher(const HostSpec& host, HostUrl url, const FetchOptions& opt,
                         std::string token)
    : host_(host), url_(std::move(url)), opt_(opt), token_(std::move(token)) {}

namespace {

struct FileFetch {
    bool not_modified = false;
    std::string body, etag;
};

// One GET on `curl` (which keeps its connection for the next one).
class Getter {
  public:
    Getter(CURL* curl, const HostSpec& host, const HostUrl& url, const FetchOptions& opt,
           const std::string& token)
        : curl_(curl), host_(host), url_(url), opt_(opt), token_(token) {}

    Outcome get(std::string_view file, const std::string& etag, Clock::time_point deadline,
                FileFetch& out) const {
        const std::string path = url_.path + "/v1/" + std::string(file);
        const std::string what = "GET " + path;
        // Rounded up: curl's whole-transfer timeout ends the attempt at its deadline, not
        // a fraction of a millisecond before.
        const int64_t left =
            std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return retry("timed out");

        Slist headers;
        for (const std::string& h :
             {"Authorization: Bearer " + token_, std::string("Accept-Encoding: identity"),
              etag.empty() ? std::string() : "If-None-Match: " + etag}) {
            if (h.empty()) continue;
            curl_slist* l = curl_slist_append(headers.get(), h.c_str());
            if (!l) return fail("out of memory");
            (void)headers.release();
            headers.reset(l);
        }
        Exchange x;
        x.max_body = opt_.max_bytes;
        char errbuf[CURL_ERROR_SIZE] = "";
        const std::string url =
            url_.scheme + "://" + host_for_url(url_.host) + ":" + std::to_string(url_.port) + path;
        CURL* c = curl_;
        curl_easy_setopt(c, CURLOPT_URL, url.c_str());
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        // The whole exchange, connect to last byte, within what is left of the attempt; one
        // millisecond more since curl compares its timers in whole milliseconds and may end a
        // transfer up to one early (an attempt lasts at least its timeout).
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(left + 1));
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(left + 1));
        const CURLcode rc = curl_easy_perform(c);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);

        if (x.headers_over)
            return fail(x.header_lines > HttpFetcher::kMaxHeaderLines
                            ? fmt::format("oversized: {} response headers more than {} lines", file,
                                          HttpFetcher::kMaxHeaderLines)
                            : fmt::format("oversized: {} response headers larger than {} bytes",
                                          file, HttpFetcher::kMaxHeaderBytes));
        if (x.oversized || rc == CURLE_FILESIZE_EXCEEDED)
            return fail(fmt::format("oversized: {} larger than {} bytes", file, opt_.max_bytes));
        if (rc == CURLE_OPERATION_TIMEDOUT) return retry("timed out");
        if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x.enough)) {
            if (rc == CURLE_PEER_FAILED_VERIFICATION)
                return fail(fmt::format("TLS: server certificate verification failed (against {})",
                                        host_.ca_file.empty() ? std::string("the system CAs")
                                                              : "ca_file " + host_.ca_file));
            if (rc == CURLE_SSL_CACERT_BADFILE)
                return fail(
                    "TLS: cannot load CA certificates from " +
                    (host_.ca_file.empty() ? std::string("the system store") : host_.ca_file));
            if (ms_left(deadline) <= 10) return retry("timed out");
            const char* words =
                rc == CURLE_COULDNT_CONNECT        ? "cannot connect"
                : rc == CURLE_COULDNT_RESOLVE_HOST ? "cannot resolve the host"
                : rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE
                    ? "read failed"
                : rc == CURLE_SEND_ERROR        ? "write failed"
                : rc == CURLE_SSL_CONNECT_ERROR ? "TLS handshake failed"
                                                : "request failed";
            return retry(fmt::format("{}: {} ({})", what, words,
                                     one_line(*errbuf ? errbuf : curl_easy_strerror(rc), 200)));
        }
        switch (x.status) {
            case 200: {
                out.not_modified = false;
                out.etag = std::move(x.etag);
                std::string want = digest_sha256(x.digest);
                if (!want.empty() && want != sha256_base64(x.body))
                    return fail("tampered: digest mismatch on " + std::string(file));
                out.body = std::move(x.body);
                return {};
            }
            case 304:
                if (etag.empty()) return fail(what + ": HTTP 304 to an unconditional request");
                out.not_modified = true;
                out.etag = etag;
                return {};
            case 401:
                return fail("unauthorized (token rejected)");
            default:
                break;
        }
        std::string answer = one_line(x.body, kErrorBodyBytes);
        std::string why =
            fmt::format("{}: HTTP {}{}{}", what, x.status, answer.empty() ? "" : ": ", answer);
        if (x.status == 408 || x.status == 429 || x.status >= 500) return retry(why);
        return fail(why);
    }

  private:
    CURL* curl_;
    const HostSpec& host_;
    const HostUrl& url_;
    const FetchOptions& opt_;
    const std::string& token_;
};

// A handle for one attempt: its connection is reused for each file of the attempt.
CurlHandle make_handle(const HostSpec& host) {
    CurlHandle h(curl_easy_init());
    if (!h) return h;
    CURL* c = h.get();
    bool ok = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
              // No proxy from the environment: the inventory says where a host is.
              curl_easy_setopt(c, CURLOPT_PROXY, "") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1) == CURLE_OK &&
              // TLS 1.2 or later; on 1.2 only ECDHE with AEAD (common/tls_policy.h), 1.3 suites
              // at the library's defaults.
              curl_easy_setopt(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, kClientTls12Ciphers) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    if (ok && !host.ca_file.empty())
        ok = curl_easy_setopt(c, CURLOPT_CAINFO, host.ca_file.c_str()) == CURLE_OK;
    if (!ok) h.reset();
    return h;
}

}  // namespace

Outcome HttpFetcher::attempt(const std::pair<std::string, std::string>& prev,
                             Clock::time_point deadline, FetchResult& out) {
    CurlHandle curl = make_handle(host_);
    if (!curl) return fail("cannot set up the " + url_.scheme + " client");
    // The Digest is over the bytes as stored: no content coding is asked for or decoded.
    curl_easy_setopt(curl.get(), CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(std::min<size_t>(opt_.max_bytes, INT64_MAX)));
    Getter g(curl.get(), host_, url_, opt_, token_);
    FileFetch d, i;
    if (auto o = g.get(kDomainsFile, prev.first, deadline, d); o.verdict != Verdict::ok) return o;
    if (auto o = g.get(kIpsFile, prev.second, deadline, i); o.verdict != Verdict::ok) return o;
    if (d.not_modified && i.not_modified) {
        out.not_modified = true;
        out.domains_etag = prev.first;
        out.ips_etag = prev.second;
        return {};
    }
    // One changed, the other not: a snapshot is both files, so fetch the other whole.
    if (d.not_modified) {
        if (auto o = g.get(kDomainsFile, "", deadline, d); o.verdict != Verdict::ok) return o;
    }
    if (i.not_modified) {
        if (auto o = g.get(kIpsFile, "", deadline, i); o.verdict != Verdict::ok) return o;
    }
    out.not_modified = false;
    out.domains = std::move(d.body);
    out.ips = std::move(i.body);
    out.domains_etag = std::move(d.etag);
    out.ips_etag = std::move(i.etag);
    return {};
}

}  // namespace em::fetch_detail
