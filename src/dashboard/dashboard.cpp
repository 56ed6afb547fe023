#include "dashboard/dashboard.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <strings.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "collector/actions.h"
#include "collector/alerts.h"
#include "collector/history.h"
#include "collector/report.h"
#include "collector/report_html.h"
#include "common/log.h"
#include "common/privileges.h"
#include "common/time.h"
#include "common/token_file.h"
#include "dashboard/form.h"
#include "dashboard/pages.h"
#include "dashboard/users.h"
#include "exporters/http/server.h"
#include "store/store.h"

namespace em {

namespace {

// The largest form a browser posts here (an action's fields and its reason).
constexpr size_t kMaxFormBytes = 4096;

constexpr const char* kRealm = "Basic realm=\"egress-monitor dashboard\", charset=\"UTF-8\"";

// The sort orders the overview knows (report_html.h); anything else is the default.
bool known_sort(std::string_view s) {
    return s == "status" || s == "last_ok" || s == "domains" || s == "ips" || s == "alerts";
}

// "Basic base64(user:password)" → {user, password}; nullopt when not Basic or not decodable.
std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view value) {
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
    return std::pair{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

// The forms' anti-forgery value: HMAC-SHA256 of a fixed text under the token (a login's: the
// digest of its token the users file holds), in hex. A page from another site cannot know it
// without the token or the users file; it never appears in a URL.
std::string csrf_value(const std::string& key) {
    static constexpr char kText[] = "egress-monitor dashboard form";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(kText), sizeof kText - 1, md, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 15];
    }
    return out;
}

}  // namespace

// Who is asking: the name the audit log records, and the anti-forgery value of their forms.
struct Caller {
    std::string who;
    std::string csrf;
};

struct Dashboard::Impl {
    std::string token;  // the shared token; empty: logins only
    std::string csrf;   // the shared token's forms' anti-forgery value (csrf_value)
    std::optional<DashboardUsers> users;  // the named logins, when users_file is set
    std::unique_ptr<HistoryStore> store;
    std::optional<AlertBook> book;
    std::optional<OperatorActions> actions;
    std::mutex mu;  // one page at a time on the one database connection
    std::unique_ptr<http::Daemon> daemon;

    // Who is asking, for the audit log: a login is "NAME (dashboard login)", verified; the
    // shared token as a Basic password is "NAME (dashboard)" from the user name it came with
    // (printable ASCII, at most 64 bytes: a claim). nullopt without credentials that verify.
    std::optional<Caller> caller(const http::Request& req) const {
        const char* h = req.header("Authorization");
        if (h == nullptr) return std::nullopt;
        std::string_view v = http::trim_ows(h);
        if (v.size() > 7 && strncasecmp(v.data(), "Bearer ", 7) == 0) {
            const std::string bearer(http::trim_ows(v.substr(7)));
            if (users)
                if (auto name = users->owner(bearer)) return login(*name);
            if (token.empty() || !equal_constant_time(bearer, token)) return std::nullopt;
            return Caller{"bearer token (dashboard)", csrf};
        }
        auto user = basic_credentials(v);
        if (!user) return std::nullopt;
        if (users && users->verify(user->first, user->second)) return login(user->first);
        if (token.empty() || !equal_constant_time(user->second, token)) return std::nullopt;
        std::string name;
        for (char c : user->first)
            if (c > ' ' && c < 0x7f && name.size() < 64) name += c;
        return Caller{(name.empty() ? std::string("anonymous") : name) + " (dashboard)", csrf};
    }
    Caller login(const std::string& name) const {
        return Caller{name + " (dashboard login)", csrf_value(*users->digest(name))};
    }

    // A form posted from another site (the browser sends the Basic credentials with it) is
    // refused: it lacks the anti-forgery value, and browsers that say where a request comes
    // from (Sec-Fetch-Site) must say this origin.
    static bool same_origin(const http::Request& req,
                            const std::map<std::string, std::string>& form, const Caller& who) {
        const char* site = req.header("Sec-Fetch-Site");
        if (site && std::strcmp(site, "same-origin") != 0) return false;
        auto it = form.find("csrf");
        return it != form.end() && equal_constant_time(it->second, who.csrf);
    }

    http::Reply post(const http::Request& req, const Caller& who) {
        auto form = parse_form(req.body);
        if (!form) return http::Reply::text(400, form.error().message + "\n");
        if (!same_origin(req, *form, who))
            return http::Reply::text(403, "this form did not come from the dashboard's page\n");
        std::string location;
        Page p = post_action(req.path, *form, *book, *actions, who.who, unix_now(), location);
        if (p.status != 303) return page(std::move(p), "alert action");
        http::Reply r = http::Reply::text(303, "done\n");
        r.headers.emplace_back("Location", location);
        return r;
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

    // GET and HEAD, and POST of the alert actions (the server refuses other methods, and
    // bodies over kMaxFormBytes, before this runs).
    http::Reply route_page(const http::Request& req) {
        if (req.path == "/healthz") return http::Reply::text(200, "ok\n");
        auto who = caller(req);
        if (!who) {
            auto r = http::Reply::text(
                401, "the dashboard's token (or a login's) is needed, as the password\n");
            r.headers.emplace_back("WWW-Authenticate", kRealm);
            return r;
        }
        std::lock_guard lock(mu);
        if (req.method == "POST") {
            if (req.path.rfind("/alert/", 0) == 0) return post(req, *who);
            auto r = http::Reply::text(405, "method not allowed\n");
            r.headers.emplace_back("Allow", "GET, HEAD");
            return r;
        }
        if (req.path == "/") return overview(req);
        if (req.path == "/alerts")
            return page(alerts_page(*store, *book, *actions, unix_now()), "alerts page");
        if (req.path == "/alert") {
            int64_t id = 0;
            const std::string text = arg(req, "id");
            std::from_chars(text.data(), text.data() + text.size(), id);
            return page(alert_page(*book, *actions, id, who->csrf, arg(req, "done"), unix_now()),
                        "incident page");
        }
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
    if (cfg.token_file.empty() && cfg.users_file.empty())
        return Error{
            "no token file (dashboard.token_file) or users file (dashboard.users_file) "
            "configured: the dashboard needs one"};
    std::string token;
    if (!cfg.token_file.empty()) {
        auto t = read_token_file(cfg.token_file);
        if (!t) return t.error();
        token = std::move(*t);
    }
    std::optional<DashboardUsers> users;
    if (!cfg.users_file.empty()) {
        auto u = DashboardUsers::load(cfg.users_file);
        if (!u) return u.error();
        if (u->size() == 0 && token.empty())
            return Error{"users file " + cfg.users_file +
                         " lists no user and there is no token file: nobody could log in "
                         "(egress-monitor dashboard --add-user NAME)"};
        users = std::move(*u);
    }
    if (!cfg.plain_http && (cfg.tls_cert.empty() || cfg.tls_key.empty()))
        return Error{
            "no TLS certificate and key (dashboard.tls_cert, dashboard.tls_key) configured "
            "(or set dashboard.plain_http)"};
    auto impl = std::make_unique<Impl>();
    impl->token = std::move(token);
    if (!impl->token.empty()) impl->csrf = csrf_value(impl->token);
    impl->users = std::move(users);

    http::DaemonConfig dc;
    dc.listen = cfg.listen;
    dc.limits = limits;
    dc.limits.max_body = kMaxFormBytes;
    if (!cfg.plain_http) {
        dc.tls_cert = cfg.tls_cert;
        dc.tls_key = cfg.tls_key;
    }
    Impl* self = impl.get();
    // The history is opened once the process is `user` (before the first request): its
    // files, and the -wal and -shm SQLite makes beside them, stay that user's, so collect
    // (the same user) can write them; root needs no access to the directory either.
    dc.before_serving = [self, user = cfg.user, history_path]() -> Result<void> {
        if (!user.empty())
            if (auto r = become_user(user); !r) return r;
        auto store = HistoryStore::open(history_path);
        if (!store) return store.error();
        if (auto r = (*store)->map_for_reading(); !r) return r;
        self->store = std::move(*store);
        auto book = AlertBook::create(self->store->db());
        if (!book) return book.error();
        self->book.emplace(std::move(*book));
        auto actions = OperatorActions::create(self->store->db());
        if (!actions) return actions.error();
        self->actions.emplace(*actions);
        return {};
    };
    auto daemon =
        http::Daemon::start(dc, [self](const http::Request& r) { return self->route(r); });
    if (!daemon) return daemon.error();
    impl->daemon = std::move(*daemon);
    log_info("dashboard: {} on {} (port {}), history {}", cfg.plain_http ? "HTTP" : "HTTPS",
             cfg.listen, impl->daemon->port(), store::redact_url(history_path));
    return std::unique_ptr<Dashboard>(new Dashboard(std::move(impl)));
}

Dashboard::Dashboard(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Dashboard::~Dashboard() { stop(); }

void Dashboard::stop() {
    if (impl_ && impl_->daemon) impl_->daemon->stop();
}

int Dashboard::port() const { return impl_->daemon->port(); }

}  // namespace em
