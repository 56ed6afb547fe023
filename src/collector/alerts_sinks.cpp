#include <fcntl.h>
#include <fmt/core.h>
#include <syslog.h>
#include <unistd.h>

#include <charconv>

#include "collector/alerts.h"
#include "common/http_url.h"
#include "common/ip_address.h"
#include "common/unique_fd.h"
#include "net/http_client/http_client.h"

namespace em {

namespace {

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

using Url = HttpUrl;

// The webhook's URL: any path (default "/"), a query string allowed.
Result<Url> parse_url(const std::string& url) {
    auto out = parse_http_url(url, "webhook URL", true);
    if (out && out->path.empty()) out->path = "/";
    return out;
}

class WebhookSink : public AlertSink {
  public:
    WebhookSink(Url url, std::unique_ptr<net::HttpClient> client, int64_t timeout_ms)
        : url_(std::move(url)), client_(std::move(client)), timeout_ms_(timeout_ms) {}
    std::string_view name() const override { return "webhook"; }
    Result<void> emit(const AlertEvent& e) override {
        const std::string body = alert_json(e, true);
        net::HttpRequest req;
        req.method = "POST";
        req.url = net::url_of(url_, url_.path);
        req.headers = {"Content-Type: application/json"};
        req.body = body;
        req.deadline = net::Clock::now() + std::chrono::milliseconds(timeout_ms_);
        auto res = client_->perform(req);
        if (!res.ok())
            return Error{fmt::format("POST {}://{}:{}{}: {}", url_.scheme, url_.host, url_.port,
                                     url_.path, res.error())};
        if (res.status < 200 || res.status > 299)
            return Error{fmt::format("POST {}://{}:{}{}: HTTP {}", url_.scheme, url_.host,
                                     url_.port, url_.path, res.status)};
        return {};
    }

  private:
    Url url_;
    std::unique_ptr<net::HttpClient> client_;  // keeps its connection: a burst reuses it
    int64_t timeout_ms_;
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
    net::HttpClientOptions copt;
    copt.ca_file = opt.ca_file;
    copt.truncate_body = true;  // the answer's body is not used
    copt.max_body_bytes = 4096;
    auto client = net::HttpClient::create(copt);
    if (!client) return Error{fmt::format("webhook URL '{}': cannot set up the client", opt.url)};
    return std::unique_ptr<AlertSink>(std::make_unique<WebhookSink>(
        std::move(url).value(), std::move(client).value(), opt.timeout_ms));
}

}  // namespace em
