#include "exporters/http/server.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/log.h"
#include "common/privileges.h"
#include "common/time.h"
#include "common/tls_policy.h"
#include "common/token_file.h"
#include "common/unique_fd.h"
#include "core/ledger.h"
#include "core/sqlite.h"
#include "exporters/aggregate_files.h"
#include "exporters/http/daemon.h"
#include "exporters/jsonl/events.h"

namespace em {

namespace {

constexpr size_t kMaxFileBytes = size_t{512} << 20;
// Files up to this size are hashed (strong ETag from the content, Digest) and their lines
// counted, once per new content; a larger file is streamed as it is, its size announced
// first, with an ETag from its identity (the agent replaces the files by rename) and no
// Digest: nothing is read before the client learns how big it is.
constexpr size_t kMaxHashedBytes = size_t{16} << 20;
constexpr size_t kReadChunk = size_t{1} << 20;
constexpr const char* kTextType = "text/plain; charset=utf-8";
constexpr const char* kFiles[] = {kDomainsFile, kIpsFile};
constexpr std::pair<const char*, const char*> kGenerations[] = {
    {"commit_generation", "Generation of the last ledger commit."},
    {"rendered_generation", "Generation of the ledger last rendered into the aggregate files."}};

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

std::string hex(const unsigned char* p, size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (size_t i = 0; i < n; ++i) {
        out += kHex[p[i] >> 4];
        out += kHex[p[i] & 15];
    }
    return out;
}

// What the server tells about one aggregate file, keyed by what identifies its content (the
// agent replaces the files by rename, so a new content is a new inode).
struct FileKey {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const FileKey&) const = default;
};

FileKey key_of(const struct stat& st) {
    return {st.st_dev, st.st_ino, st.st_size,
            int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec,
            int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec};
}

struct FileInfo {
    std::string etag;    // "\"<32 hex digits of the SHA-256>\"", or "\"i-<identity>\""
    std::string digest;  // base64 of the whole SHA-256; empty for a file too large to hash
    std::optional<uint64_t> lines;  // counted with the hash
};

struct OpenFile {
    UniqueFd fd;  // invalid: the file does not exist (yet)
    struct stat st {};
};

Result<OpenFile> open_file(const std::string& path) {
    OpenFile f;
    f.fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!f.fd.valid()) {
        if (errno == ENOENT) return f;
        return errno_error("cannot open " + path);
    }
    if (::fstat(f.fd.get(), &f.st) != 0) return errno_error("cannot stat " + path);
    if (!S_ISREG(f.st.st_mode)) return Error{path + " is not a regular file"};
    if (static_cast<uint64_t>(f.st.st_size) > kMaxFileBytes)
        return Error{path + " is too large to serve: " + std::to_string(f.st.st_size) +
                     " bytes, limit " + std::to_string(kMaxFileBytes)};
    return f;
}

// Hashes and counts the lines of a file small enough (with pread: the fd's offset stays at 0
// for streaming it); a larger one is described by its identity only.
Result<FileInfo> describe_file(const std::string& path, int fd, const FileKey& key) {
    FileInfo info;
    if (static_cast<uint64_t>(key.size) > kMaxHashedBytes) {
        info.etag = fmt::format("\"i-{:x}-{:x}-{:x}-{:x}-{:x}\"", key.dev, key.ino, key.size,
                                key.mtime_ns, key.ctime_ns);
        return info;
    }
    MdCtxPtr md(EVP_MD_CTX_new());
    if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1)
        return Error{"SHA-256 unavailable: " + openssl_error()};
    std::string buf(kReadChunk, '\0');
    uint64_t lines = 0;
    off_t at = 0;
    while (true) {
        ssize_t n = ::pread(fd, buf.data(), buf.size(), at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_error("cannot read " + path);
        if (n == 0) break;
        at += n;
        if (at > key.size)
            return Error{path + " changed while being read (it must be replaced by rename)"};
        EVP_DigestUpdate(md.get(), buf.data(), static_cast<size_t>(n));
        lines += static_cast<uint64_t>(std::count(buf.data(), buf.data() + n, '\n'));
    }
    if (at != key.size)
        return Error{path + " changed while being read (it must be replaced by rename)"};
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(md.get(), sha, &len) != 1 || len != 32)
        return Error{"SHA-256 failed: " + openssl_error()};
    info.etag = "\"" + hex(sha, 16) + "\"";
    unsigned char b64[64];
    int b64_len = EVP_EncodeBlock(b64, sha, 32);
    info.digest.assign(reinterpret_cast<const char*>(b64), static_cast<size_t>(b64_len));
    info.lines = lines;
    return info;
}

// If-None-Match: "*" or a list of entity tags, weakly compared (RFC 9110 13.1.2).
bool etag_matches(std::string_view header, std::string_view etag) {
    while (!header.empty()) {
        size_t comma = header.find(',');
        std::string_view item = trim(header.substr(0, comma));
        if (item == "*") return true;
        if (item.substr(0, 2) == "W/") item.remove_prefix(2);
        if (item == etag) return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

// The ledger's counters and generations through a fresh read-only connection: the agent
// writes it concurrently (WAL), and a connection kept open would pin an old snapshot.
struct LedgerView {
    bool present = false;  // the file exists and could be read
    std::string error;
    std::map<std::string, int64_t> counters;
    std::map<std::string, int64_t> generations;
    std::map<std::string, int64_t> capacity;  // meta: max_domains, max_ips, domain_rows, ip_rows
    std::vector<PortRow> ports;               // with_ports only; empty for a cron-mode ledger
};

// One table's capacity (Ledger::set_caps) as the last commit left it; nullopt when the ledger
// has no bound for it (or predates the capacity state).
struct TableCapacity {
    const char* table;
    int64_t lines, limit;
    bool at_capacity() const { return limit > 0 && lines >= limit; }
};
std::vector<TableCapacity> capacities(const std::map<std::string, int64_t>& meta) {
    std::vector<TableCapacity> out;
    for (auto [table, rows, limit] : {std::tuple{"domains", "domain_rows", "max_domains"},
                                      std::tuple{"ips", "ip_rows", "max_ips"}}) {
        auto r = meta.find(rows), l = meta.find(limit);
        if (r != meta.end() && l != meta.end() && l->second > 0)
            out.push_back(TableCapacity{table, r->second, l->second});
    }
    return out;
}

LedgerView read_ledger(const std::string& path, bool with_ports = false) {
    LedgerView v;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return v;
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    sql::DbPtr db(raw);
    auto fail = [&](const char* what) {
        v.error = std::string(what) + " " + path + ": " +
                  (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
        v.counters.clear();
        v.generations.clear();
        return v;
    };
    if (rc != SQLITE_OK) return fail("cannot open");
    sqlite3_busy_timeout(raw, 1000);
    // One read transaction: the counters and the generations of the same commit.
    if (sqlite3_exec(raw, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK)
        return fail("cannot read");
    auto query = [&](const char* text, std::map<std::string, int64_t>& out) {
        sqlite3_stmt* st_raw = nullptr;
        if (sqlite3_prepare_v2(raw, text, -1, &st_raw, nullptr) != SQLITE_OK) return false;
        sql::StmtPtr stmt(st_raw);
        int r;
        while ((r = sqlite3_step(st_raw)) == SQLITE_ROW) {
            auto name = reinterpret_cast<const char*>(sqlite3_column_text(st_raw, 0));
            if (name) out[name] = sqlite3_column_int64(st_raw, 1);
        }
        return r == SQLITE_DONE;
    };
    if (!query("SELECT name, value FROM counters", v.counters) ||
        !query("SELECT key, value FROM meta WHERE key IN ('commit_generation', "
               "'rendered_generation')",
               v.generations) ||
        !query("SELECT key, value FROM meta WHERE key IN ('max_domains', 'max_ips', "
               "'domain_rows', 'ip_rows')",
               v.capacity))
        return fail("cannot read");
    if (with_ports) {
        // flow_ports exists from ledger schema 2 on, and only the agent fills it.
        sqlite3_stmt* st_raw = nullptr;
        if (sqlite3_prepare_v2(raw,
                               "SELECT ip, proto, port, count, direct FROM flow_ports "
                               "ORDER BY ip, proto, port",
                               -1, &st_raw, nullptr) == SQLITE_OK) {
            sql::StmtPtr stmt(st_raw);
            while (sqlite3_step(st_raw) == SQLITE_ROW) {
                auto key =
                    std::string_view(static_cast<const char*>(sqlite3_column_blob(st_raw, 0)),
                                     static_cast<size_t>(sqlite3_column_bytes(st_raw, 0)));
                auto ip = IpAddress::from_key(key);
                if (!ip) continue;
                v.ports.push_back(
                    PortRow{*ip, static_cast<uint8_t>(sqlite3_column_int64(st_raw, 1)),
                            static_cast<uint16_t>(sqlite3_column_int64(st_raw, 2)),
                            sqlite3_column_int64(st_raw, 3), sqlite3_column_int64(st_raw, 4)});
            }
        }
    }
    sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr);
    v.present = true;
    return v;
}

// Prometheus label values escape \, " and newlines.
std::string label(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

void metric_header(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

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
        return equal_constant_time(std::string(trim(std::string_view(h + 7))), token);
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

    struct FileState {
        const char* name = nullptr;
        bool present = false;
        std::optional<uint64_t> lines;
        uint64_t bytes = 0;
        int64_t age = 0;
    };

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
    std::map<std::string, int64_t> all_counters(const LedgerView& ledger) const {
        std::map<std::string, int64_t> out = ledger.counters;
        if (live) {
            for (const auto& [name, value] : live()) out[name] = static_cast<int64_t>(value);
        }
        return out;
    }

    LedgerView ledger(bool with_ports = false) const {
        LedgerView v = read_ledger(cfg.state_dir + "/ledger.sqlite", with_ports);
        if (!v.error.empty()) log_warn("metrics: {}", v.error);
        return v;
    }

    static http::Reply no_cache(http::Reply r) {
        r.headers.emplace_back("Cache-Control", "no-cache");
        return r;
    }

    http::Reply summary() {
        int64_t now = unix_now();
        LedgerView lv = ledger(true);
        std::string out = "{\"generated\":\"" + format_rfc3339(now) + "\",\"files\":{";
        bool first = true;
        for (const char* name : kFiles) {
            FileState s = file_state(name, now);
            if (!first) out += ',';
            first = false;
            append_json_string(name, out);
            if (!s.present) {
                out += ":null";
                continue;
            }
            // lines is null for a file too large to count on request.
            out += ":{\"lines\":" + (s.lines ? std::to_string(*s.lines) : "null") +
                   ",\"bytes\":" + std::to_string(s.bytes) +
                   ",\"age_seconds\":" + std::to_string(s.age) + "}";
        }
        out += "},\"ledger\":";
        if (lv.present) {
            out += "{";
            first = true;
            for (const auto& [k, v] : lv.generations) {
                if (!first) out += ',';
                first = false;
                append_json_string(k, out);
                out += ':' + std::to_string(v);
            }
            out += "}";
        } else {
            out += "null";
        }
        // How full the ledger is: at capacity, new keys are counted under coarser lines
        // (Ledger::set_caps), which a flood of distinct names or addresses causes.
        out += ",\"capacity\":{";
        first = true;
        for (const auto& c : capacities(lv.capacity)) {
            if (!first) out += ',';
            first = false;
            out += fmt::format("\"{}\":{{\"lines\":{},\"limit\":{},\"at_capacity\":{}}}", c.table,
                               c.lines, c.limit, c.at_capacity() ? "true" : "false");
        }
        out += "}";
        out += ",\"counters\":{";
        first = true;
        for (const auto& [k, v] : all_counters(lv)) {
            if (!first) out += ',';
            first = false;
            append_json_string(k, out);
            out += ':' + std::to_string(v);
        }
        // The agent's flows per destination: which protocols and ports, and how many of
        // them no DNS answer explained ("direct").
        out += "},\"destinations\":{";
        for (size_t i = 0; i < lv.ports.size();) {
            const IpAddress& ip = lv.ports[i].ip;
            if (i) out += ',';
            append_json_string(ip.to_string(), out);
            out += ":[";
            for (size_t j = i; i < lv.ports.size() && lv.ports[i].ip == ip; ++i) {
                const PortRow& p = lv.ports[i];
                if (i != j) out += ',';
                out += "{\"proto\":";
                append_json_string(proto_name(p.proto), out);
                out += ",\"port\":" + std::to_string(p.port) +
                       ",\"count\":" + std::to_string(p.count) +
                       ",\"direct\":" + std::to_string(p.direct) + "}";
            }
            out += ']';
        }
        out += "}}\n";
        return no_cache(http::Reply::text(200, std::move(out), "application/json"));
    }

    http::Reply metrics() {
        int64_t now = unix_now();
        LedgerView lv = ledger();
        std::string out;
        metric_header(out, "egress_monitor_up", "gauge", "1 while the endpoint serves.");
        out += "egress_monitor_up 1\n";
        metric_header(out, "egress_monitor_counter", "counter",
                      "Cumulative counters of the agent: the ledger's and the live ones.");
        for (const auto& [k, v] : all_counters(lv))
            out += "egress_monitor_counter{name=\"" + label(k) + "\"} " + std::to_string(v) + "\n";
        metric_header(out, "egress_monitor_serve_total", "counter",
                      "This endpoint's requests and what its limits refused or cut.");
        for (const auto& [k, v] : daemon->counters().snapshot())
            out +=
                "egress_monitor_serve_total{what=\"" + label(k) + "\"} " + std::to_string(v) + "\n";
        metric_header(out, "egress_monitor_ledger_readable", "gauge",
                      "1 when the ledger could be read (0: missing or unreadable).");
        out += "egress_monitor_ledger_readable " + std::string(lv.present ? "1" : "0") + "\n";
        const auto caps = capacities(lv.capacity);
        if (!caps.empty()) {
            metric_header(out, "egress_monitor_ledger_lines", "gauge",
                          "Lines of the ledger per table (the aggregate files' lines).");
            for (const auto& c : caps)
                out += fmt::format("egress_monitor_ledger_lines{{table=\"{}\"}} {}\n", c.table,
                                   c.lines);
            metric_header(out, "egress_monitor_ledger_limit", "gauge",
                          "max_domains / max_ips: beyond, new keys fold into coarser lines.");
            for (const auto& c : caps)
                out += fmt::format("egress_monitor_ledger_limit{{table=\"{}\"}} {}\n", c.table,
                                   c.limit);
            metric_header(out, "egress_monitor_at_capacity", "gauge",
                          "1 when the table holds its limit of lines (new keys fold).");
            for (const auto& c : caps)
                out += fmt::format("egress_monitor_at_capacity{{table=\"{}\"}} {}\n", c.table,
                                   c.at_capacity() ? 1 : 0);
        }
        for (const auto& [key, help] : kGenerations) {
            auto it = lv.generations.find(key);
            if (it == lv.generations.end()) continue;
            std::string name = std::string("egress_monitor_") + key;
            metric_header(out, name.c_str(), "gauge", help);
            out += name + " " + std::to_string(it->second) + "\n";
        }
        std::vector<FileState> files;
        for (const char* name : kFiles) files.push_back(file_state(name, now));
        metric_header(out, "egress_monitor_file_present", "gauge",
                      "1 when the aggregate file exists and could be read.");
        for (const auto& f : files)
            out += "egress_monitor_file_present{file=\"" + label(f.name) + "\"} " +
                   (f.present ? "1" : "0") + "\n";
        auto gauge = [&](const char* name, const char* help, auto value_of) {
            metric_header(out, name, "gauge", help);
            for (const auto& f : files) {
                if (!f.present) continue;
                std::optional<uint64_t> v = value_of(f);
                if (v)
                    out += std::string(name) + "{file=\"" + label(f.name) + "\"} " +
                           std::to_string(*v) + "\n";
            }
        };
        gauge("egress_monitor_file_age_seconds",
              "Seconds since the aggregate file was last rewritten.",
              [](const FileState& f) { return std::optional<uint64_t>(f.age); });
        gauge("egress_monitor_file_lines",
              "Lines of the aggregate file (absent for a file too large to count on request).",
              [](const FileState& f) { return f.lines; });
        gauge("egress_monitor_file_bytes", "Size of the aggregate file.",
              [](const FileState& f) { return std::optional<uint64_t>(f.bytes); });
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
