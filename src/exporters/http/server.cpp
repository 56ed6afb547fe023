#include "exporters/http/server.h"

#include <fcntl.h>
#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

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
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/log.h"
#include "common/time.h"
#include "common/unique_fd.h"
#include "core/ledger.h"
#include "core/sqlite.h"
#include "exporters/aggregate_files.h"
#include "exporters/jsonl/events.h"

namespace em {

namespace {

constexpr size_t kMaxFileBytes = size_t{512} << 20;
constexpr size_t kMaxTokenFileBytes = 4096;
constexpr size_t kReadChunk = size_t{1} << 20;
constexpr size_t kThreads = 4;
constexpr const char* kTextType = "text/plain; charset=utf-8";
constexpr const char* kFiles[] = {kDomainsFile, kIpsFile};
constexpr std::pair<const char*, const char*> kGenerations[] = {
    {"commit_generation", "Generation of the last ledger commit."},
    {"rendered_generation", "Generation of the ledger last rendered into the aggregate files."}};

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;

struct ListenAddress {
    std::string host;
    int port = 0;
};

// "ADDR:PORT" or "[v6addr]:PORT".
Result<ListenAddress> parse_listen(const std::string& s) {
    auto bad = [&](const char* why) { return Error{"bad listen address '" + s + "': " + why}; };
    ListenAddress out;
    std::string_view port;
    if (!s.empty() && s[0] == '[') {
        size_t close = s.find("]:");
        if (close == std::string::npos) return bad("want [ADDR]:PORT");
        out.host = s.substr(1, close - 1);
        port = std::string_view(s).substr(close + 2);
    } else {
        size_t colon = s.rfind(':');
        if (colon == std::string::npos) return bad("want ADDR:PORT");
        out.host = s.substr(0, colon);
        if (out.host.find(':') != std::string::npos) return bad("write IPv6 as [ADDR]:PORT");
        port = std::string_view(s).substr(colon + 1);
    }
    if (out.host.empty()) return bad("no address");
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
    if (port.empty() || ec != std::errc() || p != port.data() + port.size() || out.port < 0 ||
        out.port > 65535)
        return bad("port must be 0..65535");
    return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

Result<std::string> read_token(const std::string& path) {
    if (path.empty()) return Error{"no token file configured (token_file)"};
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return errno_error("cannot read token file " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat token file " + path);
    if (!S_ISREG(st.st_mode)) return Error{"token file " + path + " is not a regular file"};
    if (st.st_mode & (S_IRGRP | S_IROTH))
        log_warn("token file {} is readable by group or others (mode {:o}): chmod 600 it", path,
                 st.st_mode & 0777);
    std::string buf(kMaxTokenFileBytes, '\0');
    size_t got = 0;
    while (got < buf.size()) {
        ssize_t n = ::read(fd.get(), buf.data() + got, buf.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_error("cannot read token file " + path);
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    std::string_view first(buf.data(), got);
    first = trim(first.substr(0, first.find('\n')));
    if (first.empty())
        return Error{"token file " + path + " is empty (the token is its first line)"};
    return std::string(first);
}

// The first queued OpenSSL error as text; clears the queue.
std::string openssl_error() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return "unknown error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

Result<void> check_readable(const char* what, const std::string& path) {
    if (path.empty()) return Error{std::string("no ") + what + " configured (or set plain_http)"};
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return errno_error(std::string("cannot read ") + what + " " + path);
    return {};
}

Result<std::unique_ptr<httplib::Server>> make_tls_server(const ServeConfig& cfg) {
    if (auto r = check_readable("TLS certificate (tls_cert)", cfg.tls_cert); !r) return r.error();
    if (auto r = check_readable("TLS key (tls_key)", cfg.tls_key); !r) return r.error();
    std::string error;
    auto setup = [&](SSL_CTX& ctx) {
        ERR_clear_error();
        SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
        if (SSL_CTX_use_certificate_chain_file(&ctx, cfg.tls_cert.c_str()) != 1) {
            error = "TLS certificate " + cfg.tls_cert +
                    " is not a valid PEM certificate: " + openssl_error();
            return false;
        }
        if (SSL_CTX_use_PrivateKey_file(&ctx, cfg.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
            error =
                "TLS key " + cfg.tls_key + " is not a valid PEM private key: " + openssl_error();
            return false;
        }
        if (SSL_CTX_check_private_key(&ctx) != 1) {
            error = "TLS key " + cfg.tls_key + " does not match the certificate " + cfg.tls_cert +
                    ": " + openssl_error();
            return false;
        }
        return true;
    };
    auto server = std::make_unique<httplib::SSLServer>(setup);
    if (!server->is_valid())
        return Error{error.empty() ? "cannot set up TLS: " + openssl_error() : error};
    return std::unique_ptr<httplib::Server>(std::move(server));
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
    std::string etag;    // "\"<32 hex digits of the SHA-256>\""
    std::string digest;  // base64 of the whole SHA-256
    uint64_t lines = 0;
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

// Reads the whole file (into `body` when given), hashing and counting lines as it goes.
Result<FileInfo> read_file(const std::string& path, int fd, std::string* body) {
    MdCtxPtr md(EVP_MD_CTX_new());
    if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1)
        return Error{"SHA-256 unavailable: " + openssl_error()};
    std::string scratch;
    std::string& buf = body ? *body : scratch;
    FileInfo info;
    size_t total = 0;
    while (true) {
        size_t at = body ? buf.size() : 0;
        buf.resize(at + kReadChunk);
        ssize_t n = ::read(fd, buf.data() + at, kReadChunk);
        if (n < 0 && errno == EINTR) {
            buf.resize(at);
            continue;
        }
        if (n < 0) return errno_error("cannot read " + path);
        buf.resize(at + static_cast<size_t>(n));
        if (n == 0) break;
        total += static_cast<size_t>(n);
        if (total > kMaxFileBytes)
            return Error{path + " grew beyond " + std::to_string(kMaxFileBytes) + " bytes"};
        const char* p = buf.data() + at;
        EVP_DigestUpdate(md.get(), p, static_cast<size_t>(n));
        info.lines += static_cast<uint64_t>(std::count(p, p + n, '\n'));
    }
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(md.get(), sha, &len) != 1 || len != 32)
        return Error{"SHA-256 failed: " + openssl_error()};
    info.etag = "\"" + hex(sha, 16) + "\"";
    unsigned char b64[64];
    int b64_len = EVP_EncodeBlock(b64, sha, 32);
    info.digest.assign(reinterpret_cast<const char*>(b64), static_cast<size_t>(b64_len));
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
    std::vector<PortRow> ports;  // with_ports only; empty for a cron-mode ledger
};

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
               v.generations))
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
    using HandlerResponse = httplib::Server::HandlerResponse;

    ServeConfig cfg;
    std::string token;
    LiveCounters live;
    int port = 0;
    std::mutex cache_mu;
    std::map<std::string, std::pair<FileKey, FileInfo>> cache;  // file name → last digest
    std::unique_ptr<httplib::Server> server;
    std::thread thread;

    std::string path_of(const char* name) const { return cfg.output_dir + "/" + name; }

    std::optional<FileInfo> cached(const char* name, const FileKey& key) {
        std::lock_guard lock(cache_mu);
        auto it = cache.find(name);
        if (it == cache.end() || !(it->second.first == key)) return std::nullopt;
        return it->second.second;
    }
    void remember(const char* name, const FileKey& key, const FileInfo& info) {
        std::lock_guard lock(cache_mu);
        cache[name] = {key, info};
    }

    bool authorized(const httplib::Request& req) const {
        std::string h = req.get_header_value("Authorization");
        if (h.size() < 7 || strncasecmp(h.c_str(), "Bearer ", 7) != 0) return false;
        return equal_constant_time(std::string(trim(std::string_view(h).substr(7))), token);
    }

    HandlerResponse pre_route(const httplib::Request& req, httplib::Response& res) const {
        if (req.method != "GET" && req.method != "HEAD") {
            res.status = 405;
            res.set_header("Allow", "GET, HEAD");
            res.set_content("method not allowed\n", kTextType);
            return HandlerResponse::Handled;
        }
        if (req.path == "/healthz" || authorized(req)) return HandlerResponse::Unhandled;
        res.status = 401;
        res.set_header("WWW-Authenticate", "Bearer");
        res.set_content("unauthorized\n", kTextType);
        return HandlerResponse::Handled;
    }

    static void fail(httplib::Response& res, int status, const std::string& text) {
        res.status = status;
        res.set_content(text + "\n", kTextType);
    }

    void serve_file(const char* name, const httplib::Request& req, httplib::Response& res) {
        std::string path = path_of(name);
        auto f = open_file(path);
        if (!f) {
            log_warn("serving {}: {}", name, f.error().message);
            return fail(res, 500, "cannot read " + std::string(name));
        }
        if (!f->fd.valid()) return fail(res, 404, std::string(name) + " not written yet");
        FileKey key = key_of(f->st);
        std::string inm = req.get_header_value("If-None-Match");
        res.set_header("Cache-Control", "no-cache");
        if (!inm.empty()) {
            if (auto info = cached(name, key); info && etag_matches(inm, info->etag)) {
                res.status = 304;
                res.set_header("ETag", info->etag);
                return;
            }
        }
        auto body = std::make_shared<std::string>();
        body->reserve(static_cast<size_t>(f->st.st_size) + kReadChunk);
        auto info = read_file(path, f->fd.get(), body.get());
        if (!info) {
            log_warn("serving {}: {}", name, info.error().message);
            return fail(res, 500, "cannot read " + std::string(name));
        }
        remember(name, key, *info);
        res.set_header("ETag", info->etag);
        if (!inm.empty() && etag_matches(inm, info->etag)) {
            res.status = 304;
            return;
        }
        res.status = 200;
        res.set_header("Digest", "sha-256=" + info->digest);
        if (body->empty()) return res.set_content("", kTextType);
        // A sized content provider is sent as is: httplib would otherwise compress a text
        // body for a client accepting br at Brotli's slowest quality, minutes of CPU for a
        // large file, and the Digest would no longer describe the bytes on the wire.
        size_t size = body->size();
        res.set_content_provider(
            size, kTextType, [body](size_t offset, size_t length, httplib::DataSink& sink) {
                return sink.write(body->data() + offset, std::min(length, body->size() - offset));
            });
    }

    struct FileState {
        const char* name;
        bool present = false;
        uint64_t lines = 0, bytes = 0;
        int64_t age = 0;
    };

    FileState file_state(const char* name, int64_t now) {
        FileState s{name};
        std::string path = path_of(name);
        auto f = open_file(path);
        if (!f) {
            log_warn("reading {}: {}", path, f.error().message);
            return s;
        }
        if (!f->fd.valid()) return s;
        FileKey key = key_of(f->st);
        auto info = cached(name, key);
        if (!info) {
            auto r = read_file(path, f->fd.get(), nullptr);
            if (!r) {
                log_warn("reading {}: {}", path, r.error().message);
                return s;
            }
            remember(name, key, *r);
            info = *r;
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

    void summary(httplib::Response& res) {
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
            out += ":{\"lines\":" + std::to_string(s.lines) +
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
        res.set_header("Cache-Control", "no-cache");
        res.set_content(out, "application/json");
    }

    void metrics(httplib::Response& res) {
        int64_t now = unix_now();
        LedgerView lv = ledger();
        std::string out;
        metric_header(out, "egress_monitor_up", "gauge", "1 while the endpoint serves.");
        out += "egress_monitor_up 1\n";
        metric_header(out, "egress_monitor_counter", "counter",
                      "Cumulative counters of the agent: the ledger's and the live ones.");
        for (const auto& [k, v] : all_counters(lv))
            out += "egress_monitor_counter{name=\"" + label(k) + "\"} " + std::to_string(v) + "\n";
        metric_header(out, "egress_monitor_ledger_readable", "gauge",
                      "1 when the ledger could be read (0: missing or unreadable).");
        out += "egress_monitor_ledger_readable " + std::string(lv.present ? "1" : "0") + "\n";
        for (const auto& [key, help] : kGenerations) {
            auto it = lv.generations.find(key);
            if (it == lv.generations.end()) continue;
            std::string name = std::string("egress_monitor_") + key;
            metric_header(out, name.c_str(), "gauge", help);
            out += name + " " + std::to_string(it->second) + "\n";
        }
        std::vector<FileState> files;
        for (const char* name : kFiles) files.push_back(file_state(name, now));
        struct Gauge {
            const char* name;
            const char* help;
            uint64_t FileState::*field;
        };
        metric_header(out, "egress_monitor_file_present", "gauge",
                      "1 when the aggregate file exists and could be read.");
        for (const auto& f : files)
            out += "egress_monitor_file_present{file=\"" + label(f.name) + "\"} " +
                   (f.present ? "1" : "0") + "\n";
        metric_header(out, "egress_monitor_file_age_seconds", "gauge",
                      "Seconds since the aggregate file was last rewritten.");
        for (const auto& f : files)
            if (f.present)
                out += "egress_monitor_file_age_seconds{file=\"" + label(f.name) + "\"} " +
                       std::to_string(f.age) + "\n";
        for (const Gauge& g :
             {Gauge{"egress_monitor_file_lines", "Lines of the aggregate file.", &FileState::lines},
              Gauge{"egress_monitor_file_bytes", "Size of the aggregate file.",
                    &FileState::bytes}}) {
            metric_header(out, g.name, "gauge", g.help);
            for (const auto& f : files)
                if (f.present)
                    out += std::string(g.name) + "{file=\"" + label(f.name) + "\"} " +
                           std::to_string(f.*g.field) + "\n";
        }
        res.set_header("Cache-Control", "no-cache");
        res.set_content(out, "text/plain; version=0.0.4; charset=utf-8");
    }

    void install_routes() {
        server->set_pre_routing_handler(
            [this](const httplib::Request& req, httplib::Response& res) {
                return pre_route(req, res);
            });
        server->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
            res.set_header("Cache-Control", "no-cache");
            res.set_content("ok\n", kTextType);
        });
        server->Get("/v1/unique-domains\\.log",
                    [this](const httplib::Request& req, httplib::Response& res) {
                        serve_file(kDomainsFile, req, res);
                    });
        server->Get("/v1/unique-ips\\.log",
                    [this](const httplib::Request& req, httplib::Response& res) {
                        serve_file(kIpsFile, req, res);
                    });
        server->Get("/v1/summary\\.json",
                    [this](const httplib::Request&, httplib::Response& res) { summary(res); });
        server->Get("/metrics",
                    [this](const httplib::Request&, httplib::Response& res) { metrics(res); });
        server->set_error_handler([](const httplib::Request&, httplib::Response& res) {
            if (!res.body.empty()) return;
            if (res.status == 404) res.set_content("not found\n", kTextType);
            if (res.status == 400) res.set_content("bad request\n", kTextType);
        });
        server->set_exception_handler(
            [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
                std::string what = "unknown exception";
                try {
                    std::rethrow_exception(ep);
                } catch (const std::exception& e) {
                    what = e.what();
                } catch (...) {
                }
                log_warn("{} {}: {}", req.method, req.path, what);
                fail(res, 500, "internal error");
            });
    }
};

Result<std::unique_ptr<HttpServer>> HttpServer::start(const ServeConfig& cfg, LiveCounters live) {
    auto addr = parse_listen(cfg.listen);
    if (!addr) return addr.error();
    auto token = read_token(cfg.token_file);
    if (!token) return token.error();

    auto impl = std::make_unique<Impl>();
    impl->cfg = cfg;
    impl->token = std::move(*token);
    impl->live = std::move(live);
    if (cfg.plain_http) {
        impl->server = std::make_unique<httplib::Server>();
    } else {
        auto s = make_tls_server(cfg);
        if (!s) return s.error();
        impl->server = std::move(*s);
    }
    httplib::Server& svr = *impl->server;
    svr.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
    // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second instance share the
    // port silently.
    svr.set_socket_options([](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    svr.set_read_timeout(10, 0);
    svr.set_write_timeout(30, 0);
    svr.set_keep_alive_timeout(2);
    svr.set_payload_max_length(64 * 1024);
    impl->install_routes();

    errno = 0;
    if (addr->port == 0) {
        impl->port = svr.bind_to_any_port(addr->host);
    } else {
        impl->port = svr.bind_to_port(addr->host, addr->port) ? addr->port : -1;
    }
    if (impl->port <= 0) {
        int err = errno;
        return Error{"cannot listen on " + cfg.listen +
                     (err ? std::string(": ") + std::strerror(err) : std::string())};
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    impl->thread = std::thread([&svr, done] {
        svr.listen_after_bind();
        done->store(true);
    });
    // Return once the accept loop runs (listen_after_bind marks it running first thing), so
    // that stop() always finds it running.
    while (!svr.is_running() && !done->load())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::unique_ptr<HttpServer> out(new HttpServer(std::move(impl)));
    if (!out->impl_->server->is_running()) {
        out->stop();
        return Error{"cannot serve on " + cfg.listen + ": the accept loop did not start"};
    }
    log_info("serving {} on {} (port {})", cfg.plain_http ? "HTTP" : "HTTPS", cfg.listen,
             out->impl_->port);
    return out;
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop() {
    if (!impl_ || !impl_->server) return;
    impl_->server->stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

int HttpServer::port() const { return impl_->port; }

}  // namespace em
