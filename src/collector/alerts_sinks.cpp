// Debian's libcpp-httplib is a compiled library built with these three options; the header
// must see the same ones or the class layouts differ from the library's (see loki.cpp).
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif
#include <fcntl.h>
#include <fmt/core.h>
#include <httplib.h>
#include <syslog.h>
#include <unistd.h>

#include <charconv>

#include "collector/alerts.h"
#include "common/ip_address.h"
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

struct Url {
    std::string scheme, host, path;
    int port = 0;
};

Result<Url> parse_url(const std::string& url) {
    auto bad = [&](std::string_view why) {
        return Error{fmt::format("bad webhook URL '{}': {}", url, why)};
    };
    for (char c : url)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return bad("contains white space or control characters");
    size_t sep = url.find("://");
    if (sep == std::string::npos) return bad("want http://host[:port]/path or https://...");
    Url out;
    out.scheme = url.substr(0, sep);
    if (out.scheme != "http" && out.scheme != "https") return bad("scheme must be http or https");
    std::string_view rest = std::string_view(url).substr(sep + 3);
    size_t slash = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, slash);
    out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (out.path.find('#') != std::string::npos) return bad("fragments are not supported");
    if (out.path.front() != '/') out.path.insert(0, "/");
    if (authority.find('@') != std::string_view::npos)
        return bad("credentials in the URL are not supported");
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        size_t close = authority.find(']');
        if (close == std::string_view::npos) return bad("unterminated [IPv6 address]");
        auto ip = IpAddress::parse(authority.substr(1, close - 1));
        if (!ip || !ip->is_v6()) return bad("not an IPv6 address in brackets");
        out.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty() && after.front() != ':') return bad("junk after ]");
        if (!after.empty()) port = after.substr(1);
        if (!after.empty() && port.empty()) return bad("empty port");
    } else {
        size_t colon = authority.find(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            if (port.empty()) return bad("empty port");
        }
    }
    if (out.host.empty()) return bad("no host");
    out.port = out.scheme == "https" ? 443 : 80;
    if (!port.empty()) {
        auto r = std::from_chars(port.data(), port.data() + port.size(), out.port);
        if (r.ec != std::errc() || r.ptr != port.data() + port.size() || out.port < 1 ||
            out.port > 65535)
            return bad("port must be a number from 1 to 65535");
    }
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
