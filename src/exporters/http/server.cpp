#include "exporters/http/server.h"

#include <openssl/crypto.h>
#include <strings.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/privileges.h"
#include "common/time.h"
#include "common/token_file.h"
#include "core/ledger_view.h"
#include "exporters/aggregate_files.h"
#include "exporters/http/daemon.h"
#include "exporters/http/render.h"
#include "exporters/http/served_file.h"

namespace em {

namespace {

constexpr const char* kTextType = "text/plain; charset=utf-8";
constexpr const char* kFiles[] = {kDomainsFile, kIpsFile};

using http::describe_file;
using http::etag_matches;
using http::FileInfo;
using http::FileKey;
using http::FileState;
using http::key_of;
using http::open_file;
using http::OpenFile;

}  // namespace

bool equal_constant_time(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    // Touches every byte whatever differs (OpenSSL's audited constant-time compare).
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct HttpServer::Impl {
    ServeConfig cfg;
    std::string token;
    LiveCounters live;
    std::mutex cache_mu;
    std::map<std::string, std::pair<FileKey, FileInfo>> cache;  // file name → last digest
    std::unique_ptr<http::Daemon> daemon;

    std::string path_of(const char* name) const { return cfg.output_dir + "/" + name; }

    std::optional<FileInfo> cached(const char* name, const FileKey& key) {
        std::lock_guard lock(cache_mu);
        auto it = cache.find(name);
        if (it == cache.end() || !(it->second.first == key)) return std::nullopt;
        return it->second.second;
    }

    // The file's description, from the cache when its content is the one described.
    Result<FileInfo> info_of(const char* name, const std::string& path, const OpenFile& f) {
        FileKey key = key_of(f.st);
        if (auto info = cached(name, key)) return *info;
        auto info = describe_file(path, f.fd.get(), key);
        if (!info) return info;
        std::lock_guard lock(cache_mu);
        cache[name] = {key, *info};
        return info;
    }

    bool authorized(const http::Request& req) const {
        const char* h = req.header("Authorization");
        if (!h || std::strlen(h) < 7 || strncasecmp(h, "Bearer ", 7) != 0) return false;
        return equal_constant_time(std::string(http::trim_ows(h + 7)), token);
    }

    static http::Reply fail(int status, const std::string& text) {
        return http::Reply::text(status, text + "\n");
    }

    http::Reply serve_file(const char* name, const http::Request& req) {
        std::string path = path_of(name);
        auto f = open_file(path);
        if (!f) {
            log_warn("serving {}: {}", name, f.error().message);
            return fail(500, "cannot read " + std::string(name));
        }
        if (!f->fd.valid()) return fail(404, std::string(name) + " not written yet");
        auto info = info_of(name, path, *f);
        if (!info) {
            log_warn("serving {}: {}", name, info.error().message);
            return fail(500, "cannot read " + std::string(name));
        }
        http::Reply r;
        r.headers = {{"Cache-Control", "no-cache"}, {"ETag", info->etag}};
        const char* inm = req.header("If-None-Match");
        if (inm && etag_matches(inm, info->etag)) {
            r.status = 304;
            return r;
        }
        r.headers.emplace_back("Content-Type", kTextType);
        if (!info->digest.empty()) r.headers.emplace_back("Digest", "sha-256=" + info->digest);
        r.file_size = static_cast<uint64_t>(f->st.st_size);
        r.file = std::move(f->fd);
        return r;
    }

    FileState file_state(const char* name, int64_t now) {
        FileState s;
        s.name = name;
        std::string path = path_of(name);
        auto f = open_file(path);
        if (!f) {
            log_warn("reading {}: {}", path, f.error().message);
            return s;
        }
        if (!f->fd.valid()) return s;
        auto info = info_of(name, path, *f);
        if (!info) {
            log_warn("reading {}: {}", path, info.error().message);
            return s;
        }
        s.present = true;
        s.lines = info->lines;
        s.bytes = static_cast<uint64_t>(f->st.st_size);
        s.age = std::max<int64_t>(0, now - f->st.st_mtim.tv_sec);
        return s;
    }

    // Ledger counters with the live ones over them (a live value is the newer one).
    std::map<std::string, int64_t> all_counters(const LedgerSnapshot& ledger) const {
        std::map<std::string, int64_t> out = ledger.counters;
        if (live) {
            for (const auto& [name, value] : live()) out[name] = static_cast<int64_t>(value);
        }
        return out;
    }

    LedgerSnapshot ledger(bool with_ports = false) const {
        LedgerSnapshot v = read_ledger_snapshot(cfg.state_dir + "/ledger.sqlite", with_ports);
        if (!v.error.empty()) log_warn("metrics: {}", v.error);
        return v;
    }

    static http::Reply no_cache(http::Reply r) {
        r.headers.emplace_back("Cache-Control", "no-cache");
        return r;
    }

    // Gathered in the order the pages were always read: the ledger, then the files and the
    // live counters (summary) or the counters and then the files (metrics).
    http::Reply summary() {
        int64_t now = unix_now();
        LedgerSnapshot lv = ledger(true);
        std::vector<FileState> files;
        for (const char* name : kFiles) files.push_back(file_state(name, now));
        std::string out = http::render_summary_json(now, files, lv, all_counters(lv));
        return no_cache(http::Reply::text(200, std::move(out), "application/json"));
    }

    http::Reply metrics() {
        int64_t now = unix_now();
        LedgerSnapshot lv = ledger();
        const auto counters = all_counters(lv);
        const auto serve_counters = daemon->counters().snapshot();
        std::vector<FileState> files;
        for (const char* name : kFiles) files.push_back(file_state(name, now));
        std::string out = http::render_metrics(counters, serve_counters, lv, files);
        return no_cache(
            http::Reply::text(200, std::move(out), "text/plain; version=0.0.4; charset=utf-8"));
    }

    http::Reply route(const http::Request& req) {
        if (req.path == "/healthz") return no_cache(http::Reply::text(200, "ok\n"));
        if (!authorized(req)) {
            auto r = fail(401, "unauthorized");
            r.headers.emplace_back("WWW-Authenticate", "Bearer");
            return r;
        }
        if (req.path == "/v1/unique-domains.log") return serve_file(kDomainsFile, req);
        if (req.path == "/v1/unique-ips.log") return serve_file(kIpsFile, req);
        if (req.path == "/v1/flow-names.log") return serve_file(kFlowNamesFile, req);
        if (req.path == "/v1/process-uses.log") return serve_file(kProcessUsesFile, req);
        if (req.path == "/v1/summary.json") return summary();
        if (req.path == "/metrics") return metrics();
        return fail(404, "not found");
    }
};

Result<std::unique_ptr<HttpServer>> HttpServer::start(const ServeConfig& cfg, LiveCounters live) {
    auto token = read_token_file(cfg.token_file);
    if (!token) return token.error();
    auto impl = std::make_unique<Impl>();
    impl->cfg = cfg;
    impl->token = std::move(*token);
    impl->live = std::move(live);
    if (!cfg.plain_http && cfg.tls_cert.empty())
        return Error{"no TLS certificate (tls_cert) configured (or set plain_http)"};
    if (!cfg.plain_http && cfg.tls_key.empty())
        return Error{"no TLS key (tls_key) configured (or set plain_http)"};
    http::DaemonConfig dc;
    dc.listen = cfg.listen;
    dc.limits = cfg.limits;
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
    log_info("serving {} on {} (port {})", cfg.plain_http ? "HTTP" : "HTTPS", cfg.listen,
             impl->daemon->port());
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop() {
    if (impl_ && impl_->daemon) impl_->daemon->stop();
}

int HttpServer::port() const { return impl_->daemon->port(); }

}  // namespace em
