// The HTTP(S) transport, on the program's one HTTP client (common/http_client.h: libcurl, its
// TLS policy, no redirects or proxies, a timeout for the whole exchange, bounded headers and
// bodies). cpp-httplib 0.11 (what libcurl replaced here) read response headers without a limit
// (100 MB of headers cost the collector 145 MB of memory) and its timeouts were per read (a
// header byte every 0.5 s kept a 3 s fetch going for as long as the server liked).
#include <fmt/core.h>
#include <openssl/evp.h>

#include <algorithm>

#include "collector/fetch_internal.h"
#include "common/http_client.h"

namespace em::fetch_detail {

namespace {

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
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
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

}  // namespace

HttpFetcher::HttpFetcher(const HostSpec& host, HostUrl url, const FetchOptions& opt,
                         std::string token)
    : host_(host), url_(std::move(url)), opt_(opt), token_(std::move(token)) {}

namespace {

struct FileFetch {
    bool not_modified = false;
    std::string body, etag;
};

// One GET on `client` (which keeps its connection for the next one).
class Getter {
  public:
    Getter(HttpClient& client, const HostUrl& url, const FetchOptions& opt,
           const std::string& token)
        : client_(client), url_(url), opt_(opt), token_(token) {}

    Outcome get(std::string_view file, const std::string& etag, Clock::time_point deadline,
                FileFetch& out) const {
        const std::string path = url_.path + "/v1/" + std::string(file);
        const std::string what = "GET " + path;
        // Rounded up: the client's whole-exchange timeout ends the attempt at its deadline,
        // not a fraction of a millisecond before.
        const int64_t left =
            std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return retry("timed out");

        HttpRequest req;
        req.url = http_url_text(url_, path);
        req.headers = {"Authorization: Bearer " + token_, "Accept-Encoding: identity"};
        if (!etag.empty()) req.headers.push_back("If-None-Match: " + etag);
        // One millisecond more: curl compares its timers in whole milliseconds and may end a
        // transfer up to one early (an attempt lasts at least its timeout).
        req.timeout_ms = left + 1;
        HttpResult r = client_.perform(req);

        switch (r.failure) {
            case HttpFailure::none:
                break;
            case HttpFailure::headers_too_many_lines:
            case HttpFailure::headers_too_large:
            case HttpFailure::body_too_large:
                return fail(
                    r.failure == HttpFailure::body_too_large
                        ? fmt::format("oversized: {} larger than {} bytes", file, opt_.max_bytes)
                        : fmt::format("oversized: {} {}", file, r.error));
            case HttpFailure::timed_out:
                return retry("timed out");
            case HttpFailure::tls_verify:
            case HttpFailure::tls_ca_file:
                return fail(r.error);
            default:
                if (ms_left(deadline) <= 10) return retry("timed out");
                return retry(what + ": " + r.error);
        }
        const HttpResponse& res = r.response;
        switch (res.status) {
            case 200: {
                out.not_modified = false;
                out.etag = res.header("ETag");
                std::string want = digest_sha256(res.header("Digest"));
                if (!want.empty() && want != sha256_base64(res.body))
                    return fail("tampered: digest mismatch on " + std::string(file));
                out.body = std::move(r.response.body);
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
        std::string why = what + ": " + res.summary();
        if (res.status == 408 || res.status == 429 || res.status >= 500) return retry(why);
        return fail(why);
    }

  private:
    HttpClient& client_;
    const HostUrl& url_;
    const FetchOptions& opt_;
    const std::string& token_;
};

}  // namespace

Outcome HttpFetcher::attempt(const std::pair<std::string, std::string>& prev,
                             Clock::time_point deadline, FetchResult& out) {
    // A client for one attempt: its connection is reused for each file of the attempt.
    HttpClientOptions copt;
    copt.ca_file = host_.ca_file;
    copt.max_body = opt_.max_bytes;
    copt.max_header_bytes = kMaxHeaderBytes;
    copt.max_header_lines = kMaxHeaderLines;
    auto client = HttpClient::create(copt);
    if (!client) return fail("cannot set up the " + url_.scheme + " client");
    Getter g(**client, url_, opt_, token_);
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
