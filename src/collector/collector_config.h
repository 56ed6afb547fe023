#pragma once
// The collector's settings: the [history], [rules.*], [alerts] and [dashboard] sections of its TOML
// config (documented in collector.h). Other top-level keys and sections belong to the rest
// of `collect` (inventory, fetching) and are left alone here; inside these sections an
// unknown key or a wrong type is an error naming the file and line.
#include <cstdint>
#include <string>
#include <string_view>

#include "collector/rules.h"
#include "common/result.h"

namespace em {

struct HistoryConfig {
    std::string path = "/var/lib/egress-collector/history.sqlite";
    // "postgresql://…": the history in PostgreSQL instead of the SQLite file at `path`. A
    // password is better kept out of it (libpq's passfile, ~/.pgpass); messages redact it.
    std::string url;
    int64_t retention_days = 90;  // deltas older than this are deleted (0: kept forever)
    /// What HistoryStore::open() takes: `url` when set, else `path`.
    const std::string& target() const { return url.empty() ? path : url; }
};

struct AlertsConfig {
    bool to_stdout = true;  // `stdout`
    std::string jsonl;      // path; empty: off
    bool syslog = false;
    std::string webhook;  // URL; empty: off
    std::string webhook_ca_file;
    int64_t webhook_timeout_ms = 5000;
};

/// `egress-monitor dashboard`: the fleet in a browser (src/dashboard), on the same hardened
/// HTTPS server as `serve` (exporters/http/daemon.h).
struct DashboardConfig {
    std::string listen = "127.0.0.1:8444";  // ADDR:PORT or [v6addr]:PORT
    std::string token_file;         // the shared token: the password of HTTP Basic, or a Bearer
    std::string users_file;         // named logins (dashboard/users.h); one of the two is required
    std::string tls_cert, tls_key;  // required unless plain_http
    bool plain_http = false;        // only behind a TLS proxy on the same host
    std::string user;               // unprivileged user to become once bound and the files are read
};

struct CollectorConfig {
    HistoryConfig history;
    RulesConfig rules;
    AlertsConfig alerts;
    DashboardConfig dashboard;
};

Result<CollectorConfig> parse_collector_config(std::string_view text, const std::string& path);
/// A missing file gives the defaults unless `required`.
Result<CollectorConfig> load_collector_config(const std::string& path, bool required);

}  // namespace em
