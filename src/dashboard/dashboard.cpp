#include "dashboard/dashboard.h"

#include <openssl/evp.h>
#include <strings.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>

#include "collector/alerts.h"
#include "collector/history.h"
#include "collector/report.h"
#include "collector/report_html.h"
#include "common/log.h"
#include "common/privileges.h"
#include "common/time.h"
#include "common/token_file.h"
#include "dashboard/pages.h"
#include "exporters/http/server.h"

namespace em {

namespace {

constexpr const char* kRealm = "Basic realm=\"egress-monitor dashboard\", charset=\"UTF-8\"";

// The sort orders the overview knows (report_html.h); anything else is the default.
bool known_sort(std::string_view s) {
    return s == "status" || s == "last_ok" || s == "domains" || s == "ips" || s == "alerts";
}

// "Basic base64(user:password)" → the password; nullopt when not Basic or not decodable.
std::optional<std::string> basic_password(std::string_view value) {
    value = http::trim_ows(value);
    if (value.size() < 6 || strncasecmp(value.data(), "Basic ", 6) != 0) return std::nullopt;
    std::string_view b64 = http::trim_ows(value.substr(6));
    // The header is bounded by the server's per-connection memory; the decoded form is
    // at most 3/4 of it.
    std::string decoded(b64.size() / 4 * 3 + 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                            reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
    if (n < 0 || b64.size() % 4 != 0) return std::nullopt;
    decoded.resize(static_cast<size_t>(n));
    // EVP_DecodeBlock counts the padding's zero bytes in: drop them.
    size_t pad = 0;
    for (size_t i = b64.size(); i > 0 && b64[i - 1] == '='; --i) ++pad;
    decoded.resize(decoded.size() - std::min(pad, decoded.size()));
    auto colon = decoded.find(':');
    if (colon == std::string::npos) return std::nullopt;
    return decoded.substr(colon + 1);
}

}  // namespace

struct Dashboard::Impl {
    std::string token;
    std::unique_ptr<HistoryStore> store;
    std::optional<AlertBook> book;
    std::mutex mu;  // one page at a time on the one database connection
    std::unique_ptr<http::Daemon> daemon;

    bool authorized(const http::Request& req) const {
        const char* h = req.header("Authorization");
        if (h == nullptr) return false;
        std::string_view v = http::trim_ows(h);
        if (v.size() > 7 && strncasecmp(v.data(), "Bearer ", 7) == 0)
            return equal_constant_time(std::string(http::trim_ows(v.substr(7))), token);
        auto password = basic_password(v);
        return password && equal_constant_time(*password, token);
    }

    static http::Reply html(int status, std::string body) {
        return http::Reply::text(status, std::move(body), "text/html; charset=utf-8");
    }

    static std::string arg(const http::Request& req, const char* name) {
        const char* v = req.query(name);
        return v ? v : "";
    }

    http::Reply page(Page p, const char* what) {
        if (p.status == 500) {
            log_warn("dashboard: {}: {}", what, p.error);
            return http::Reply::text(500,
                                     "the history could not be read; see the dashboard's log\n");
        }
        return html(p.status, std::move(p.html));
    }

    http::Reply overview(const http::Request& req) {
        auto data = read_report_data(*store, *book, unix_now());
        if (!data) return page(Page{500, "", data.error().message}, "overview");
        HtmlOptions o;
        o.links = true;
        o.tag = arg(req, "tag");
        if (std::string s = arg(req, "sort"); known_sort(s)) o.sort = s;
        std::string out;
        html_open("egress-monitor: fleet", true, out);
        out += "<main><h1>Fleet</h1>\n";
        html_overview(*data, o, out);
        html_close(out);
        return html(200, std::move(out));
    }

    // Every reply, errors included: no script, style only inline, forms only to here, never
    // framed, never cached, no referrer (page URLs carry host and domain names).
    http::Reply route(const http::Request& req) {
        http::Reply r = route_page(req);
        r.headers.emplace_back("Content-Security-Policy",
                               "default-src 'none'; style-src 'unsafe-inline'; form-action "
                               "'self'; frame-ancestors 'none'; base-uri 'none'");
        r.headers.emplace_back("X-Content-Type-Options", "nosniff");
        r.headers.emplace_back("X-Frame-Options", "DENY");
        r.headers.emplace_back("Referrer-Policy", "no-referrer");
        r.headers.emplace_back("Cache-Control", "no-store");
        return r;
    }

    // GET and HEAD only: the server refuses other methods (405) before this runs.
    http::Reply route_page(const http::Request& req) {
        if (req.path == "/healthz") return http::Reply::text(200, "ok\n");
        if (!authorized(req)) {
            auto r = http::Reply::text(401, "the dashboard's token is needed (as the password)\n");
            r.headers.emplace_back("WWW-Authenticate", kRealm);
            return r;
        }
        std::lock_guard lock(mu);
        if (req.path == "/") return overview(req);
        if (req.path == "/host")
            return page(host_page(*store, *book, arg(req, "name"), arg(req, "q"), unix_now()),
                        "host page");
        if (req.path == "/domain")
            return page(domain_page(*store, *book, arg(req, "name")), "domain page");
        if (req.path == "/ip") return page(ip_page(*store, arg(req, "addr")), "address page");
        if (req.path == "/search") return page(search_page(*store, arg(req, "q")), "search");
        return http::Reply::text(404, "not found\n");
    }
};

Result<std::unique_ptr<Dashboard>> Dashboard::start(const DashboardConfig& cfg,
                                                    const std::string& history_path,
                                                    http::Limits limits) {
    if (cfg.token_file.empty())
        return Error{"no token file (dashboard.token_file) configured: the dashboard needs one"};
    auto token = read_token_file(cfg.token_file);
    if (!token) return token.error();
    if (!cfg.plain_http && (cfg.tls_cert.empty() || cfg.tls_key.empty()))
        return Error{
            "no TLS certificate and key (dashboard.tls_cert, dashboard.tls_key) configured "
            "(or set dashboard.plain_http)"};
    auto impl = std::make_unique<Impl>();
    impl->token = std::move(*token);
    auto store = HistoryStore::open(history_path);
    if (!store) return store.error();
    impl->store = std::move(*store);
    auto book = AlertBook::create(impl->store->db());
    if (!book) return book.error();
    impl->book.emplace(std::move(*book));

    http::DaemonConfig dc;
    dc.listen = cfg.listen;
    dc.limits = limits;
    if (!cfg.plain_http) {
        dc.tls_cert = cfg.tls_cert;
        dc.tls_key = cfg.tls_key;
    }
    if (!cfg.user.empty()) dc.before_serving = [user = cfg.user] { return become_user(user); };
    Impl* self = impl.get();
    auto daemon =
        http::Daemon::start(dc, [self](const http::Request& r) { return self->route(r); });
    if (!daemon) return daemon.error();
    impl->daemon = std::move(*daemon);
    log_info("dashboard: {} on {} (port {}), history {}", cfg.plain_http ? "HTTP" : "HTTPS",
             cfg.listen, impl->daemon->port(), history_path);
    return std::unique_ptr<Dashboard>(new Dashboard(std::move(impl)));
}

Dashboard::Dashboard(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Dashboard::~Dashboard() { stop(); }

void Dashboard::stop() {
    if (impl_ && impl_->daemon) impl_->daemon->stop();
}

int Dashboard::port() const { return impl_->daemon->port(); }

}  // namespace em
