#include <fcntl.h>
#include <fmt/core.h>
#include <httplib.h>
#include <syslog.h>
#include <unistd.h>

#include <charconv>

#include "collector/alerts.h"
#include "common/http_url.h"
#include "common/ip_address.h"
#include "common/tls_policy.h"
#include "common/unique_fd.h"

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
    WebhookSink(Url url, std::unique_ptr<httplib::ClientImpl> client)
        : url_(std::move(url)), client_(std::move(client)) {}
    std::string_view name() const override { return "webhook"; }
    Result<void> emit(const AlertEvent& e) override {
        auto res = client_->Post(url_.path, alert_json(e, true), "application/json");
        if (!res)
            return Error{fmt::format("POST {}://{}:{}{}: {}", url_.scheme, url_.host, url_.port,
                                     url_.path, httplib::to_string(res.error()))};
        if (res->status < 200 || res->status > 299)
            return Error{fmt::format("POST {}://{}:{}{}: HTTP {}", url_.scheme, url_.host,
                                     url_.port, url_.path, res->status)};
        return {};
    }

  private:
    Url url_;
    std::unique_ptr<httplib::ClientImpl> client_;
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
    // ClientImpl / SSLClient rather than httplib::Client, whose URL parser does not take
    // every IPv6 literal.
    std::unique_ptr<httplib::ClientImpl> client;
    if (url->scheme == "https") {
        auto ssl = std::make_unique<httplib::SSLClient>(url->host, url->port);
        ssl->enable_server_certificate_verification(true);
        if (!opt.ca_file.empty()) ssl->set_ca_cert_path(opt.ca_file);
        if (auto r = apply_client_tls_policy(ssl->ssl_context()); !r)
            return Error{"webhook: " + r.error().message};
        client = std::move(ssl);
    } else {
        client = std::make_unique<httplib::ClientImpl>(url->host, url->port);
    }
    if (!client->is_valid())
        return Error{fmt::format("webhook URL '{}': cannot set up the client", opt.url)};
    const time_t sec = opt.timeout_ms / 1000;
    const time_t usec = static_cast<time_t>(opt.timeout_ms % 1000) * 1000;
    client->set_keep_alive(true);  // a burst of transitions reuses one connection
    client->set_connection_timeout(sec, usec);
    client->set_read_timeout(sec, usec);
    client->set_write_timeout(sec, usec);
    return std::unique_ptr<AlertSink>(
        std::make_unique<WebhookSink>(std::move(url).value(), std::move(client)));
}

}  // namespace em
