// The HTTP(S) transport, on the program's one HTTP client (net/http_client: libcurl with a
// deadline for the whole exchange and bounded headers and body; cpp-httplib 0.11, what that
// replaced here, read response headers without a limit and timed out per read only).
#include <fmt/core.h>
#include <openssl/evp.h>

#include <algorithm>

#include "collector/fetch_internal.h"
#include "common/ascii.h"
#include "net/http_client/http_client.h"

namespace em::fetch_detail {

namespace {

// An ETag as RFC 9110 spells it, in printable ASCII (no obs-text), at most 256 bytes: what
// the host sends back in If-None-Match and the history stores. Anything else is dropped —
// the next fetch is then unconditional — so that a host cannot put bytes into the next
// request's headers or into the store that it cannot hold.
std::string usable_etag(const std::string& tag) {
    if (tag.size() > 256) return {};
    for (char c : tag)
        if (c < 0x21 || c > 0x7e) return {};
    return tag;
}

constexpr size_t kErrorBodyBytes = 200;  // of a non-200 answer, quoted in the error

std::string sha256_base64(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &md_len, EVP_sha256(), nullptr) != 1) return {};
    unsigned char out[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    int n = EVP_EncodeBlock(out, md, static_cast<int>(md_len));
    return {reinterpret_cast<const char*>(out), static_cast<size_t>(n)};
}

// The sha-256 value of a Digest header (RFC 3230: "sha-256=<base64>[, other=...]"); empty
// when it has none.
std::string digest_sha256(std::string_view header) {
    while (!header.empty()) {
        size_t comma = header.find(',');
        std::string_view item = trim_space(header.substr(0, comma));
        header = comma == std::string_view::npos ? "" : header.substr(comma + 1);
        size_t eq = item.find('=');
        if (eq == std::string_view::npos) continue;
        if (iequals_ascii(trim_space(item.substr(0, eq)), "sha-256"))
            return std::string(trim_space(item.substr(eq + 1)));
    }
    return {};
}

}  // namespace

void http_global_init() { net::http_client_global_init(); }

HttpFetcher::HttpFetcher(const HostSpec& host, HostUrl url, const FetchOptions& opt,
                         std::string token)
    : host_(host), url_(std::move(url)), opt_(opt), token_(std::move(token)) {}

namespace {

struct FileFetch {
    int status = 0;  // the HTTP status, when an answer came
    bool not_modified = false;
    std::string body, etag;
};

// One GET on `client` (which keeps its connection for the next one).
class Getter {
  public:
    Getter(net::HttpClient& client, const HostSpec& host, const HostUrl& url,
           const FetchOptions& opt, const std::string& token)
        : client_(client), host_(host), url_(url), opt_(opt), token_(token) {}

    Outcome get(std::string_view file, const std::string& etag, Clock::time_point deadline,
                FileFetch& out) const {
        const std::string path = url_.path + "/v1/" + std::string(file);
        const std::string what = "GET " + path;
        net::HttpRequest req;
        req.url = net::url_of(url_, path);
        req.deadline = deadline;
        req.headers = {"Authorization: Bearer " + token_, "Accept-Encoding: identity"};
        if (!etag.empty()) req.headers.push_back("If-None-Match: " + etag);
        net::HttpResponse x = client_.perform(req);

        using net::HttpFailure;
        switch (x.failure) {
            case HttpFailure::none:
                break;
            case HttpFailure::too_many_header_lines:
                return fail(fmt::format("oversized: {} response headers more than {} lines", file,
                                        HttpFetcher::kMaxHeaderLines));
            case HttpFailure::headers_too_large:
                return fail(fmt::format("oversized: {} response headers larger than {} bytes", file,
                                        HttpFetcher::kMaxHeaderBytes));
            case HttpFailure::body_too_large:
                return fail(
                    fmt::format("oversized: {} larger than {} bytes", file, opt_.max_bytes));
            case HttpFailure::timed_out:
                return retry("timed out");
            case HttpFailure::tls_verify:
                return fail(fmt::format("TLS: server certificate verification failed (against {})",
                                        host_.ca_file.empty() ? std::string("the system CAs")
                                                              : "ca_file " + host_.ca_file));
            case HttpFailure::ca_file:
                return fail(
                    "TLS: cannot load CA certificates from " +
                    (host_.ca_file.empty() ? std::string("the system store") : host_.ca_file));
            case HttpFailure::setup:
                return fail(x.detail);
            default:
                if (ms_left(deadline) <= 10) return retry("timed out");
                return retry(fmt::format("{}: {} ({})", what, net::describe(x.failure),
                                         one_line(x.detail, 200)));
        }
        out.status = static_cast<int>(x.status);
        switch (x.status) {
            case 200: {
                out.not_modified = false;
                out.etag = usable_etag(x.header("ETag"));
                std::string want = digest_sha256(x.header("Digest"));
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
    net::HttpClient& client_;
    const HostSpec& host_;
    const HostUrl& url_;
    const FetchOptions& opt_;
    const std::string& token_;
};

}  // namespace

Outcome HttpFetcher::attempt(const PrevTags& prev, Clock::time_point deadline, FetchResult& out) {
    // A client for one attempt: its connection is reused for each file of the attempt. The
    // Digest is over the bytes as stored: no content coding is asked for or decoded.
    net::HttpClientOptions copt;
    copt.ca_file = host_.ca_file;
    copt.max_header_bytes = kMaxHeaderBytes;
    copt.max_header_lines = kMaxHeaderLines;
    copt.max_body_bytes = opt_.max_bytes;
    copt.max_error_body_bytes = kErrorBodyBytes;
    auto client = net::HttpClient::create(copt);
    if (!client) return fail("cannot set up the " + url_.scheme + " client");
    Getter g(**client, host_, url_, opt_, token_);
    // process-uses.log, on its own ETag, whatever the two files answer (fetch.h); a failure
    // costs that file only, a timeout retries the attempt.
    auto get_uses = [&]() -> Outcome {
        FileFetch f;
        if (auto o = g.get(kProcessUsesFile, prev.uses, deadline, f); o.verdict == Verdict::retry) {
            return o;
        } else if (o.verdict == Verdict::fail) {
            if (f.status != 404) out.uses.error = o.error;
        } else {
            out.uses.present = true;
            out.uses.not_modified = f.not_modified;
            out.uses.text = std::move(f.body);
            out.uses_etag = std::move(f.etag);
        }
        return {};
    };
    FileFetch d, i;
    if (auto o = g.get(kDomainsFile, prev.domains, deadline, d); o.verdict != Verdict::ok) return o;
    if (auto o = g.get(kIpsFile, prev.ips, deadline, i); o.verdict != Verdict::ok) return o;
    if (d.not_modified && i.not_modified) {
        if (auto o = get_uses(); o.verdict != Verdict::ok) return o;
        out.not_modified = true;
        out.domains_etag = prev.domains;
        out.ips_etag = prev.ips;
        return {};
    }
    // One changed, the other not: a snapshot is both files, so fetch the other whole.
    if (d.not_modified) {
        if (auto o = g.get(kDomainsFile, "", deadline, d); o.verdict != Verdict::ok) return o;
    }
    if (i.not_modified) {
        if (auto o = g.get(kIpsFile, "", deadline, i); o.verdict != Verdict::ok) return o;
    }
    // The names the agent's first packets gave, when it has them (fetch.h).
    FileFetch n;
    if (auto o = g.get(kFlowNamesFile, "", deadline, n); o.verdict == Verdict::retry) {
        return o;
    } else if (o.verdict == Verdict::fail) {
        if (n.status != 404) out.names.error = o.error;
    } else {
        out.names.present = true;
        out.names.text = std::move(n.body);
    }
    if (auto o = get_uses(); o.verdict != Verdict::ok) return o;
    out.not_modified = false;
    out.domains = std::move(d.body);
    out.ips = std::move(i.body);
    out.domains_etag = std::move(d.etag);
    out.ips_etag = std::move(i.etag);
    return {};
}

}  // namespace em::fetch_detail
