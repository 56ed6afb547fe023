#include "collector/fetch.h"

#include <fmt/core.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <csignal>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <fstream>
#include <memory>
#include <system_error>
#include <thread>

#include "common/log.h"
#include "common/process.h"

namespace em {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kDomainsFile = "unique-domains.log";
constexpr std::string_view kIpsFile = "unique-ips.log";
constexpr size_t kErrorBodyBytes = 200;  // of a non-200 answer, quoted in the error
constexpr int64_t kMaxBackoffMs = 30000;

// How an attempt (or one file of it) ended.
enum class Verdict { ok, retry, fail };

struct Outcome {
    Verdict verdict = Verdict::ok;
    std::string error;
};

Outcome retry(std::string why) { return {Verdict::retry, std::move(why)}; }
Outcome fail(std::string why) { return {Verdict::fail, std::move(why)}; }

int64_t ms_left(Clock::time_point deadline) {
    return std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
}

std::string transport_label(const HostSpec& h) {
    if (!h.url.empty()) return h.url;
    std::string s = "ssh " + h.ssh;
    if (h.ssh_port != 22) s += ":" + std::to_string(h.ssh_port);
    return s;
}

// One line of program or server output for an error message.
std::string one_line(std::string_view text, size_t max) {
    std::string s;
    for (char c : text) {
        if (c == '\r') continue;
        if (c == '\n') {
            if (!s.empty() && s.back() != ' ') s += "; ";
            continue;
        }
        s += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == ';')) s.pop_back();
    if (s.size() > max) s = s.substr(0, max) + "...";
    return s;
}

Result<std::string> read_token(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return errno_error("cannot read token file " + path);
    std::string line;
    std::getline(in, line);
    if (in.bad()) return errno_error("cannot read token file " + path);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
        line.pop_back();
    if (line.empty()) return Error{"token file " + path + " is empty"};
    for (char c : line)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return Error{"token file " + path + " has control characters in its first line"};
    return line;
}

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

// The sha-256 value of a Digest header (RFC 3230: "sha-256=<base64>[, other=...]"); empty
// when it has none.
std::string digest_sha256(std::string_view header) {
    while (!header.empty()) {
        size_t comma = header.find(',');
        std::string_view item = trim(header.substr(0, comma));
        header = comma == std::string_view::npos ? "" : header.substr(comma + 1);
        size_t eq = item.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view algo = trim(item.substr(0, eq));
        if (algo.size() == 7 && std::equal(algo.begin(), algo.end(), "sha-256", [](char a, char b) {
                return (a >= 'A' && a <= 'Z' ? a - 'A' + 'a' : a) == b;
            }))
            return std::string(trim(item.substr(eq + 1)));
    }
    return {};
}

// ---- HTTP(S) ----

struct FileFetch {
    bool not_modified = false;
    std::string body, etag;
};

class HttpFetcher {
  public:
    HttpFetcher(const HostSpec& host, HostUrl url, const FetchOptions& opt, std::string token)
        : host_(host), url_(std::move(url)), opt_(opt), token_(std::move(token)) {}

    Outcome attempt(const std::pair<std::string, std::string>& prev, FetchResult& out) {
        const auto deadline = Clock::now() + milliseconds(opt_.timeout_ms);
        auto client = make_client();
        if (!client) return fail("cannot set up the " + url_.scheme + " client");
        FileFetch d, i;
        if (auto o = get(*client, kDomainsFile, prev.first, deadline, d); o.verdict != Verdict::ok)
            return o;
        if (auto o = get(*client, kIpsFile, prev.second, deadline, i); o.verdict != Verdict::ok)
            return o;
        if (d.not_modified && i.not_modified) {
            out.not_modified = true;
            out.domains_etag = prev.first;
            out.ips_etag = prev.second;
            return {};
        }
        // One changed, the other not: a snapshot is both files, so fetch the other whole.
        if (d.not_modified) {
            if (auto o = get(*client, kDomainsFile, "", deadline, d); o.verdict != Verdict::ok)
                return o;
        }
        if (i.not_modified) {
            if (auto o = get(*client, kIpsFile, "", deadline, i); o.verdict != Verdict::ok)
                return o;
        }
        out.not_modified = false;
        out.domains = std::move(d.body);
        out.ips = std::move(i.body);
        out.domains_etag = std::move(d.etag);
        out.ips_etag = std::move(i.etag);
        return {};
    }

  private:
    std::unique_ptr<httplib::ClientImpl> make_client() const {
        // ClientImpl / SSLClient rather than httplib::Client: the latter's URL parser does
        // not take IPv6 literals with hex letters in them.
        std::unique_ptr<httplib::ClientImpl> client;
        if (url_.scheme == "https") {
            auto ssl = std::make_unique<httplib::SSLClient>(url_.host, url_.port);
            ssl->enable_server_certificate_verification(true);
            if (!host_.ca_file.empty()) ssl->set_ca_cert_path(host_.ca_file);
            client = std::move(ssl);
        } else {
            client = std::make_unique<httplib::ClientImpl>(url_.host, url_.port);
        }
        if (!client->is_valid()) return nullptr;
        client->set_keep_alive(true);
        // The Digest is over the bytes as stored; no content coding in between.
        client->set_decompress(false);
        return client;
    }

    static void set_timeouts(httplib::ClientImpl& client, int64_t ms) {
        auto sec = static_cast<time_t>(ms / 1000);
        auto usec = static_cast<time_t>(ms % 1000) * 1000;
        client.set_connection_timeout(sec, usec);
        client.set_read_timeout(sec, usec);
        client.set_write_timeout(sec, usec);
    }

    Outcome get(httplib::ClientImpl& client, std::string_view file, const std::string& etag,
                Clock::time_point deadline, FileFetch& out) const {
        const std::string path = url_.path + "/v1/" + std::string(file);
        const std::string what = "GET " + path;
        int64_t left = ms_left(deadline);
        if (left <= 0) return retry("timed out");
        set_timeouts(client, left);
        httplib::Headers headers = {{"Authorization", "Bearer " + token_},
                                    {"Accept-Encoding", "identity"}};
        if (!etag.empty()) headers.emplace("If-None-Match", etag);

        int status = 0;
        bool oversized = false, late = false, enough = false;
        std::string body;
        auto res = client.Get(
            path, headers,
            [&](const httplib::Response& r) {
                status = r.status;
                if (status == 200 && r.has_header("Content-Length")) {
                    std::string len = r.get_header_value("Content-Length");
                    uint64_t n = 0;
                    auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
                    if (ec == std::errc() && n > opt_.max_bytes) {
                        oversized = true;
                        return false;
                    }
                }
                return true;
            },
            [&](const char* data, size_t n) {
                if (Clock::now() >= deadline) {
                    late = true;
                    return false;
                }
                if (status != 200) {  // only the start of an error answer is quoted
                    body.append(data, std::min(n, kErrorBodyBytes - body.size()));
                    enough = body.size() >= kErrorBodyBytes;
                    return !enough;
                }
                if (n > opt_.max_bytes - body.size()) {
                    oversized = true;
                    return false;
                }
                body.append(data, n);
                return true;
            });
        if (oversized)
            return fail(fmt::format("oversized: {} larger than {} bytes", file, opt_.max_bytes));
        if (late) return retry("timed out");
        if (!res && !enough) {
            auto err = res.error();
            if (err == httplib::Error::SSLServerVerification)
                return fail(fmt::format("TLS: server certificate verification failed (against {})",
                                        host_.ca_file.empty() ? std::string("the system CAs")
                                                              : "ca_file " + host_.ca_file));
            if (err == httplib::Error::SSLLoadingCerts)
                return fail(
                    "TLS: cannot load CA certificates from " +
                    (host_.ca_file.empty() ? std::string("the system store") : host_.ca_file));
            // httplib reports a read that timed out as a failed read.
            if (ms_left(deadline) <= 10) return retry("timed out");
            // httplib's names are terse ("Connection"): say what failed in words.
            const char* words = err == httplib::Error::Connection      ? "cannot connect"
                                : err == httplib::Error::Read          ? "read failed"
                                : err == httplib::Error::Write         ? "write failed"
                                : err == httplib::Error::SSLConnection ? "TLS handshake failed"
                                                                       : "request failed";
            return retry(fmt::format("{}: {} ({})", what, words, httplib::to_string(err)));
        }
        switch (status) {
            case 200: {
                out.not_modified = false;
                out.etag = res ? res->get_header_value("ETag") : "";
                std::string want = res ? digest_sha256(res->get_header_value("Digest")) : "";
                if (!want.empty() && want != sha256_base64(body))
                    return fail("tampered: digest mismatch on " + std::string(file));
                out.body = std::move(body);
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
        std::string answer = one_line(body, kErrorBodyBytes);
        std::string why =
            fmt::format("{}: HTTP {}{}{}", what, status, answer.empty() ? "" : ": ", answer);
        if (status == 408 || status == 429 || status >= 500) return retry(why);
        return fail(why);
    }

    const HostSpec& host_;
    HostUrl url_;
    const FetchOptions& opt_;
    std::string token_;
};

// ---- SSH ----

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'')
            q += "'\\''";
        else
            q += c;
    }
    return q + "'";
}

std::string_view last_line(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
        text.remove_suffix(1);
    size_t nl = text.rfind('\n');
    return nl == std::string_view::npos ? text : text.substr(nl + 1);
}

// ssh's exit status 255 covers both "could not connect" (worth retrying) and refusals that
// will not change on their own.
bool permanent_ssh_failure(std::string_view err) {
    for (std::string_view s :
         {"Permission denied", "Host key verification failed", "No matching host key",
          "REMOTE HOST IDENTIFICATION HAS CHANGED", "Could not resolve hostname",
          "Bad configuration option", "no such identity"})
        if (err.find(s) != std::string_view::npos) return true;
    return false;
}

Outcome ssh_cat(const HostSpec& h, const FetchOptions& opt, std::string_view file,
                Clock::time_point deadline, std::string& body) {
    int64_t left = ms_left(deadline);
    if (left <= 0) return retry("timed out");
    std::vector<std::string> argv = {"ssh",
                                     "-o",
                                     "BatchMode=yes",
                                     "-o",
                                     "ConnectTimeout=" + std::to_string((left + 999) / 1000),
                                     "-o",
                                     "StrictHostKeyChecking=yes"};
    if (!h.ssh_known_hosts.empty())
        argv.insert(argv.end(), {"-o", "UserKnownHostsFile=" + h.ssh_known_hosts});
    if (h.ssh_port != 22) argv.insert(argv.end(), {"-p", std::to_string(h.ssh_port)});
    if (!h.ssh_key.empty()) argv.insert(argv.end(), {"-o", "IdentitiesOnly=yes", "-i", h.ssh_key});
    argv.push_back(h.ssh);
    // The remote side runs this through the user's shell.
    argv.push_back("cat -- " + shell_quote(h.remote_dir + "/" + std::string(file)));

    CommandLimits limits;
    limits.timeout_ms = static_cast<int>(std::min<int64_t>(left, INT32_MAX));
    limits.max_stdout = opt.max_bytes;
    auto run = run_command_bounded(argv, limits);
    if (!run) return fail(run.error().message);
    auto& r = *run;
    std::string err = one_line(r.err, 300);
    if (r.oversized)
        return fail(fmt::format("oversized: {} larger than {} bytes", file, opt.max_bytes));
    if (r.timed_out) return retry("timed out");
    if (r.exit_status == 0) {
        body = std::move(r.out);
        return {};
    }
    if (r.exit_status == 255) {
        // ssh says what went wrong last, after warnings and banners.
        std::string why = "ssh: " + (err.empty() ? std::string("connection failed")
                                                 : one_line(last_line(r.err), 300));
        if (r.err.find("REMOTE HOST IDENTIFICATION HAS CHANGED") != std::string::npos)
            why += " (the host key differs from the known_hosts entry)";
        return permanent_ssh_failure(r.err) ? fail(why) : retry(why);
    }
    if (r.exit_status < 0) return retry(fmt::format("ssh killed by signal {}", r.term_signal));
    return fail(fmt::format("remote error (exit status {}){}{}", r.exit_status,
                            err.empty() ? "" : ": ", err));
}

Outcome ssh_attempt(const HostSpec& h, const FetchOptions& opt, FetchResult& out) {
    const auto deadline = Clock::now() + milliseconds(opt.timeout_ms);
    std::string d, i;
    if (auto o = ssh_cat(h, opt, kDomainsFile, deadline, d); o.verdict != Verdict::ok) return o;
    if (auto o = ssh_cat(h, opt, kIpsFile, deadline, i); o.verdict != Verdict::ok) return o;
    out.domains = std::move(d);
    out.ips = std::move(i);
    return {};
}

// ---- one host ----

FetchResult fetch_host_attempts(const HostSpec& h, const FetchOptions& opt,
                                const std::pair<std::string, std::string>& prev) {
    FetchResult r;
    r.host = h.name;
    auto finish = [&](const std::string& why) {
        r.ok = false;
        r.domains.clear();
        r.ips.clear();
        r.error = h.name + " (" + transport_label(h) + "): " + why;
        if (r.attempts > 1) r.error += fmt::format(" after {} attempts", r.attempts);
        return r;
    };
    if (h.url.empty() == h.ssh.empty()) return finish("needs exactly one of url and ssh");

    std::unique_ptr<HttpFetcher> http;
    if (!h.url.empty()) {
        auto url = parse_host_url(h.url);
        if (!url) return finish(url.error().message);
        if (url->scheme == "http" && !h.insecure_http)
            return finish("plain http:// without insecure_http");
        // Read for every fetch: a rotated token is picked up without a restart.
        auto token = read_token(h.token_file);
        if (!token) return finish(token.error().message);
        http =
            std::make_unique<HttpFetcher>(h, std::move(url).value(), opt, std::move(token).value());
    }

    Outcome o;
    const int attempts = 1 + std::max(0, opt.retries);
    for (int a = 0; a < attempts; ++a) {
        if (a > 0) {
            int64_t backoff = std::min<int64_t>(
                int64_t{std::max(0, opt.backoff_ms)} << std::min(a - 1, 16), kMaxBackoffMs);
            std::this_thread::sleep_for(milliseconds(backoff));
        }
        r.attempts = a + 1;
        r.not_modified = false;
        o = http ? http->attempt(prev, r) : ssh_attempt(h, opt, r);
        if (o.verdict == Verdict::ok) {
            r.ok = true;
            r.fetched_at_ms = std::chrono::duration_cast<milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
            return r;
        }
        if (o.verdict == Verdict::fail) break;
    }
    return finish(o.error);
}

// One line per host when it is done (with -v): how long it took, from the fetch's start.
FetchResult fetch_host(const HostSpec& h, const FetchOptions& opt,
                       const std::pair<std::string, std::string>& prev) {
    const auto t0 = Clock::now();
    FetchResult r = fetch_host_attempts(h, opt, prev);
    const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
    if (r.ok)
        log_info("fetch: {} ({}): {} in {} ms, {} attempt(s)", h.name, transport_label(h),
                 r.not_modified ? "unchanged" : "fetched", took, r.attempts);
    else
        log_info("fetch: {} (in {} ms)", r.error, took);
    return r;
}

}  // namespace

namespace {

// A server closing a TLS connection under a write must not kill the collector (OpenSSL
// writes without MSG_NOSIGNAL). Only when nobody chose a disposition.
void ignore_sigpipe() {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL)
        ::signal(SIGPIPE, SIG_IGN);
}

}  // namespace

FetchStream::FetchStream(const std::vector<HostSpec>& hosts, const FetchOptions& opt,
                         const std::map<std::string, std::pair<std::string, std::string>>& etags,
                         size_t window)
    : hosts_(hosts), opt_(opt), etags_(etags) {
    ignore_sigpipe();
    const size_t parallel = static_cast<size_t>(std::max(1, opt.parallel));
    window_ = std::max(window ? window : 2 * parallel, size_t{1});
    const size_t workers = std::min({parallel, window_, hosts.size()});
    threads_.reserve(workers);
    for (size_t k = 0; k < workers; ++k) {
        try {
            threads_.emplace_back([this] { work(); });
        } catch (const std::system_error&) {
            break;  // fewer threads; those running take every host
        }
    }
}

FetchStream::~FetchStream() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void FetchStream::work() {
    const std::pair<std::string, std::string> none;
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock,
                 [&] { return stopping_ || next_ >= hosts_.size() || next_ < taken_ + window_; });
        if (stopping_ || next_ >= hosts_.size()) return;
        const size_t i = next_++;
        if (done_.size() < i - taken_ + 1) done_.resize(i - taken_ + 1);
        lock.unlock();
        auto it = etags_.find(hosts_[i].name);
        FetchResult r = fetch_host(hosts_[i], opt_, it == etags_.end() ? none : it->second);
        lock.lock();
        done_[i - taken_] = std::move(r);
        cv_.notify_all();
    }
}

FetchResult FetchStream::take(size_t i) {
    std::unique_lock lock(mu_);
    if (i != taken_ || i >= hosts_.size()) {
        FetchResult r;
        r.error = fmt::format("fetch stream: host {} taken out of order", i);
        return r;
    }
    if (threads_.empty()) {  // no thread could be started: fetch here
        lock.unlock();
        auto it = etags_.find(hosts_[i].name);
        ++taken_;
        return fetch_host(hosts_[i], opt_,
                          it == etags_.end() ? std::pair<std::string, std::string>{} : it->second);
    }
    cv_.wait(lock, [&] { return !done_.empty() && done_.front().has_value(); });
    FetchResult r = std::move(*done_.front());
    done_.pop_front();
    ++taken_;
    cv_.notify_all();
    return r;
}

std::vector<FetchResult> fetch_all(
    const std::vector<HostSpec>& hosts, const FetchOptions& opt,
    const std::map<std::string, std::pair<std::string, std::string>>& etags) {
    FetchStream stream(hosts, opt, etags, hosts.size());
    std::vector<FetchResult> results;
    results.reserve(hosts.size());
    for (size_t i = 0; i < hosts.size(); ++i) results.push_back(stream.take(i));
    return results;
}

}  // namespace em
