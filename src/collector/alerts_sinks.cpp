#include <fcntl.h>
#include <fmt/core.h>
#include <syslog.h>
#include <unistd.h>

#include "collector/alerts.h"
#include "common/http_client.h"
#include "common/http_url.h"
#include "common/unique_fd.h"

namespace em {

namespace {

constexpr size_t kMaxAnswerBytes = 64 * 1024;  // of a receiver's 2xx answer (which is ignored)

class StdoutSink : public AlertSink {
  public:
    explicit StdoutSink(std::FILE* out) : out_(out) {}
    std::string_view name() const override { return "stdout"; }
    Result<void> emit(const AlertEvent& e) override {
        std::string line = alert_line(e) + '\n';
        if (std::fwrite(line.data(), 1, line.size(), out_) != line.size() || std::fflush(out_))
            return errno_error("writing an alert to stdout");
        return {};
    }

  private:
    std::FILE* out_;
};

class JsonlSink : public AlertSink {
  public:
    JsonlSink(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
    std::string_view name() const override { return "jsonl"; }
    Result<void> emit(const AlertEvent& e) override {
        // One write(2) per line with O_APPEND: concurrent readers never see half a line.
        std::string line = alert_json(e) + '\n';
        ssize_t n = ::write(fd_.get(), line.data(), line.size());
        if (n < 0) return errno_error("appending to " + path_);
        if (static_cast<size_t>(n) != line.size())
            return Error{fmt::format("appending to {}: short write ({} of {} bytes)", path_, n,
                                     line.size())};
        return {};
    }

  private:
    UniqueFd fd_;
    std::string path_;
};

class SyslogSink : public AlertSink {
  public:
    SyslogSink() { openlog("egress-collector", LOG_PID, LOG_AUTH); }
    ~SyslogSink() override { closelog(); }
    std::string_view name() const override { return "syslog"; }
    Result<void> emit(const AlertEvent& e) override {
        syslog(LOG_AUTH | LOG_WARNING, "%s", alert_line(e).c_str());
        return {};
    }
};

// The webhook's URL: any path (default "/"), a query string allowed.
Result<HttpUrl> parse_url(const std::string& url) {
    auto out = parse_http_url(url, "webhook URL", true);
    if (out && out->path.empty()) out->path = "/";
    return out;
}

// Posts each event on the program's HTTP client (common/http_client.h: its TLS policy, no
// redirects or proxies, bounded answers); its connection is kept, so a burst of transitions
// reuses one.
class WebhookSink : public AlertSink {
  public:
    WebhookSink(const HttpUrl& url, int timeout_ms, std::unique_ptr<HttpClient> client)
        : url_(http_url_text(url, url.path)), timeout_ms_(timeout_ms), client_(std::move(client)) {}
    std::string_view name() const override { return "webhook"; }
    Result<void> emit(const AlertEvent& e) override {
        const std::string body = alert_json(e, true);
        HttpRequest req;
        req.method = HttpRequest::Method::post;
        req.url = url_;
        req.body = body;
        req.content_type = "application/json";
        req.timeout_ms = timeout_ms_;
        HttpResult r = client_->perform(req);
        if (!r) return Error{fmt::format("POST {}: {}", url_, r.error)};
        if (r.response.status < 200 || r.response.status > 299)
            return Error{fmt::format("POST {}: {}", url_, r.response.summary())};
        return {};
    }

  private:
    std::string url_;
    int timeout_ms_;
    std::unique_ptr<HttpClient> client_;
};

}  // namespace

std::unique_ptr<AlertSink> make_stdout_sink(std::FILE* out) {
    return std::make_unique<StdoutSink>(out);
}

Result<std::unique_ptr<AlertSink>> make_jsonl_sink(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (!fd.valid()) return errno_error("cannot open alert log " + path);
    return std::unique_ptr<AlertSink>(std::make_unique<JsonlSink>(std::move(fd), path));
}

std::unique_ptr<AlertSink> make_syslog_sink() { return std::make_unique<SyslogSink>(); }

Result<std::unique_ptr<AlertSink>> make_webhook_sink(const WebhookOptions& opt) {
    auto url = parse_url(opt.url);
    if (!url) return url.error();
    if (opt.timeout_ms <= 0) return Error{"webhook_timeout_ms must be positive"};
    if (!opt.ca_file.empty() && ::access(opt.ca_file.c_str(), R_OK) != 0)
        return errno_error("webhook CA file " + opt.ca_file);
    HttpClientOptions copt;
    copt.ca_file = opt.ca_file;
    copt.max_body = kMaxAnswerBytes;
    auto client = HttpClient::create(copt);
    if (!client) return Error{"webhook: " + client.error().message};
    return std::unique_ptr<AlertSink>(
        std::make_unique<WebhookSink>(*url, opt.timeout_ms, std::move(client).value()));
}

}  // namespace em
