#include "collector/fetch.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <memory>
#include <system_error>
#include <thread>

#include "collector/fetch_internal.h"
#include "common/log.h"
#include "common/token_file.h"

namespace em {

namespace fetch_detail {

int64_t ms_left(Clock::time_point deadline) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

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

}  // namespace fetch_detail

namespace {

using namespace fetch_detail;
using std::chrono::milliseconds;

constexpr int64_t kMaxBackoffMs = 30000;

std::string transport_label(const HostSpec& h) {
    if (!h.url.empty()) return h.url;
    std::string s = "ssh " + h.ssh;
    if (h.ssh_port != 22) s += ":" + std::to_string(h.ssh_port);
    return s;
}

// ---- one host ----

FetchResult fetch_host_attempts(const HostSpec& h, const FetchOptions& opt, const PrevTags& prev) {
    FetchResult r;
    r.host = h.name;
    auto finish = [&](const std::string& why) {
        r.ok = false;
        r.domains.clear();
        r.ips.clear();
        r.names = {};
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
        auto token = read_token_file(h.token_file);
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
        r.names = {};
        // The attempt's deadline covers its whole exchange, both files.
        const auto deadline = Clock::now() + milliseconds(std::max(0, opt.timeout_ms));
        o = http ? http->attempt(prev, deadline, r) : ssh_attempt(h, opt, deadline, r);
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
FetchResult fetch_host(const HostSpec& h, const FetchOptions& opt, const PrevTags& prev) {
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
                         const std::map<std::string, PrevTags>& etags, size_t window)
    : hosts_(hosts), opt_(opt), etags_(etags) {
    ignore_sigpipe();
    http_global_init();
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
    const PrevTags none;
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
        return fetch_host(hosts_[i], opt_, it == etags_.end() ? PrevTags{} : it->second);
    }
    cv_.wait(lock, [&] { return !done_.empty() && done_.front().has_value(); });
    FetchResult r = std::move(*done_.front());
    done_.pop_front();
    ++taken_;
    cv_.notify_all();
    return r;
}

std::vector<FetchResult> fetch_all(const std::vector<HostSpec>& hosts, const FetchOptions& opt,
                                   const std::map<std::string, PrevTags>& etags) {
    FetchStream stream(hosts, opt, etags, hosts.size());
    std::vector<FetchResult> results;
    results.reserve(hosts.size());
    for (size_t i = 0; i < hosts.size(); ++i) results.push_back(stream.take(i));
    return results;
}

}  // namespace em
