#include "exporters/loki/loki.h"

#include "common/json.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "common/log.h"
#include "common/text_escape.h"
#include "net/http_client/http_client.h"

namespace em {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kPushPath = "/loki/api/v1/push";
constexpr int kRetries = 3;
constexpr milliseconds kStopGrace{200};

bool is_label_name(std::string_view s) {
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

Result<void> check_label(const std::string& name, const std::string& value) {
    if (!is_label_name(name))
        return Error{"bad Loki label name '" + name + "': want [a-zA-Z_][a-zA-Z0-9_]*"};
    if (value.empty()) return Error{"Loki label '" + name + "' has an empty value"};
    return {};
}

}  // namespace

Result<LokiUrl> parse_loki_url(const std::string& url) {
    auto out = parse_http_url(url, "Loki URL");
    if (!out) return out;
    if (!std::string_view(out->path).ends_with(kPushPath)) out->path += kPushPath;
    return out;
}

Result<std::pair<std::string, std::string>> parse_loki_label(const std::string& kv) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) return Error{"bad Loki label '" + kv + "': want NAME=VALUE"};
    std::pair<std::string, std::string> out{kv.substr(0, eq), kv.substr(eq + 1)};
    if (auto ok = check_label(out.first, out.second); !ok) return ok.error();
    return out;
}

Result<std::unique_ptr<LokiPusher>> LokiPusher::start(const LokiConfig& cfg) {
    auto url = parse_loki_url(cfg.url);
    if (!url) return url.error();
    for (const auto& [name, value] : cfg.labels)
        if (auto ok = check_label(name, value); !ok) return ok.error();
    if (cfg.max_queue == 0 || cfg.max_batch == 0 || cfg.flush_ms <= 0 || cfg.timeout_ms <= 0 ||
        cfg.retry_base_ms < 0)
        return Error{"Loki: max_queue, max_batch, flush_ms and timeout_ms must be positive"};
    if (!cfg.ca_file.empty() && ::access(cfg.ca_file.c_str(), R_OK) != 0)
        return errno_error("Loki CA file " + cfg.ca_file);

    net::HttpClientOptions copt;
    copt.ca_file = cfg.ca_file;
    copt.truncate_body = true;  // an answer's body is not used (an error's start is quoted)
    copt.max_body_bytes = 4096;
    auto client = net::HttpClient::create(copt);
    if (!client)
        return Error{
            fmt::format("Loki URL '{}': cannot set up the {} client", cfg.url, url->scheme)};

    std::unique_ptr<LokiPusher> pusher(
        new LokiPusher(cfg, std::move(url).value(), std::move(client).value()));
    pusher->thread_ = std::thread([p = pusher.get()] { p->run(); });
    return {std::move(pusher)};
}

LokiPusher::LokiPusher(LokiConfig cfg, LokiUrl url, std::unique_ptr<net::HttpClient> client)
    : cfg_(std::move(cfg)), url_(std::move(url)), client_(std::move(client)) {
    cfg_.labels.try_emplace("job", "egress-monitor");
    body_prefix_ = R"({"streams":[{"stream":{)";
    bool first = true;
    for (const auto& [name, value] : cfg_.labels) {
        if (!first) body_prefix_ += ',';
        first = false;
        append_json_string(name, body_prefix_);
        body_prefix_ += ':';
        append_json_string(value, body_prefix_);
    }
    body_prefix_ += "},\"values\":[";
}

LokiPusher::~LokiPusher() {
    if (!thread_.joinable()) return;  // start() failed to create the thread
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
        deadline_ = Clock::now() + milliseconds(cfg_.timeout_ms);
    }
    cv_.notify_all();
    {
        // Requests started after the stop have their timeouts cut to the deadline; one
        // already in flight may need aborting.
        std::unique_lock lk(mu_);
        if (!cv_.wait_until(lk, deadline_ + kStopGrace, [&] { return done_; })) {
            lk.unlock();
            client_->abort();
        }
    }
    thread_.join();
}

void LokiPusher::push(int64_t time_ns, std::string line) {
    bool wake = false;
    {
        std::lock_guard lk(mu_);
        if (queue_.size() >= cfg_.max_queue) {
            ++counters_.dropped_queue_full;
            return;
        }
        queue_.emplace_back(time_ns, std::move(line));
        ++counters_.queued;
        wake = queue_.size() == cfg_.max_batch;
    }
    if (wake) cv_.notify_all();
}

LokiCounters LokiPusher::counters() const {
    std::lock_guard lk(mu_);
    return counters_;
}

void LokiPusher::run() {
    std::vector<std::pair<int64_t, std::string>> batch;
    std::string body;
    for (;;) {
        {
            std::unique_lock lk(mu_);
            cv_.wait_for(lk, milliseconds(cfg_.flush_ms),
                         [&] { return stopping_ || queue_.size() >= cfg_.max_batch; });
            if (stopping_ && (queue_.empty() || Clock::now() >= deadline_)) {
                if (!queue_.empty()) {
                    counters_.dropped_failed += queue_.size();
                    log_warn("Loki: {} lines not sent to {} before the stop timeout", queue_.size(),
                             cfg_.url);
                    queue_.clear();
                }
                done_ = true;
                break;
            }
            if (queue_.empty()) continue;
            size_t n = std::min(queue_.size(), cfg_.max_batch);
            batch.clear();
            for (size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        body.assign(body_prefix_);
        char num[24];
        for (size_t i = 0; i < batch.size(); ++i) {
            body += i ? ",[\"" : "[\"";
            auto r = std::to_chars(num, num + sizeof num, batch[i].first);
            body.append(num, r.ptr);
            body += "\",";
            append_json_string(batch[i].second, body);
            body += ']';
        }
        body += "]}]}";
        send_with_retries(body, batch.size());
    }
    cv_.notify_all();
}

void LokiPusher::send_with_retries(const std::string& body, size_t lines) {
    std::string why = "no time left before the stop timeout";
    int backoff_ms = cfg_.retry_base_ms;
    for (int attempt = 0; attempt <= kRetries; ++attempt) {
        if (attempt > 0) {
            sleep_until(Clock::now() + milliseconds(backoff_ms));
            backoff_ms *= 4;
        }
        int timeout_ms = cfg_.timeout_ms;
        {
            std::lock_guard lk(mu_);
            if (stopping_) {
                auto left = std::chrono::duration_cast<milliseconds>(deadline_ - Clock::now());
                if (left.count() <= 0) break;
                timeout_ms = std::min<int>(timeout_ms, static_cast<int>(left.count()));
            }
        }
        net::HttpRequest req;
        req.method = "POST";
        req.url = net::url_of(url_, url_.path);
        req.headers = {"Content-Type: application/json"};
        req.body = body;
        req.deadline = Clock::now() + milliseconds(timeout_ms);
        auto res = client_->perform(req);
        if (res.ok() && res.status >= 200 && res.status < 300) {
            {
                std::lock_guard lk(mu_);
                counters_.sent += lines;
            }
            if (failing_) log_info("Loki: pushing to {} works again", cfg_.url);
            failing_ = false;
            return;
        }
        {
            std::lock_guard lk(mu_);
            ++counters_.push_errors;
        }
        if (!res.ok()) {
            why = res.error();
            continue;
        }
        std::string_view answer = res.body;
        answer = answer.substr(0, std::min(answer.find('\n'), size_t{200}));
        // The server's words reach the log escaped: no control character from it.
        why =
            fmt::format("HTTP {}{}{}", res.status, answer.empty() ? "" : ": ", escape_text(answer));
        // Loki refuses the same body again (bad labels, too old, too big); 429 is a rate limit.
        if (res.status >= 400 && res.status < 500 && res.status != 429) break;
    }
    {
        std::lock_guard lk(mu_);
        counters_.dropped_failed += lines;
    }
    if (!failing_)
        log_warn("Loki: push to {} failed ({}); dropped {} lines, further failures only counted",
                 cfg_.url, why, lines);
    failing_ = true;
}

void LokiPusher::sleep_until(Clock::time_point until) {
    std::unique_lock lk(mu_);
    for (;;) {
        auto end = stopping_ ? std::min(until, deadline_) : until;
        if (Clock::now() >= end) return;
        cv_.wait_until(lk, end);
    }
}

}  // namespace em
