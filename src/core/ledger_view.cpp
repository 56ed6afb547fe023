#include "core/ledger_view.h"

#include <sys/stat.h>

#include <cerrno>
#include <string_view>
#include <tuple>

#include "core/sqlite.h"

namespace em {

namespace {
std::string_view column_blob(sqlite3_stmt* st, int i) {
    const void* p = sqlite3_column_blob(st, i);
    if (!p) return {};
    return {static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st, i))};
}
}  // namespace

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

LedgerSnapshot read_ledger_snapshot(const std::string& path, bool with_ports) {
    LedgerSnapshot v;
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
                auto ip = IpAddress::from_key(column_blob(st_raw, 0));
                if (!ip) continue;
                v.ports.push_back(
                    PortRow{*ip, static_cast<uint8_t>(sqlite3_column_int64(st_raw, 1)),
                            static_cast<uint16_t>(sqlite3_column_int64(st_raw, 2)),
                            sqlite3_column_int64(st_raw, 3), sqlite3_column_int64(st_raw, 4)});
            }
        }
    }
    if (with_ports) {
        // flow_names exists from ledger schema 4 on: an older ledger has none to show.
        sqlite3_stmt* st_raw = nullptr;
        if (sqlite3_prepare_v2(raw,
                               "SELECT ip, name, protocol, count, first_seen, last_seen, ech FROM "
                               "flow_names ORDER BY ip, name, protocol",
                               -1, &st_raw, nullptr) == SQLITE_OK) {
            sql::StmtPtr stmt(st_raw);
            while (sqlite3_step(st_raw) == SQLITE_ROW) {
                auto ip = IpAddress::from_key(column_blob(st_raw, 0));
                auto name = reinterpret_cast<const char*>(sqlite3_column_text(st_raw, 1));
                if (!ip || !name) continue;
                v.flow_names.push_back(FlowNameEntry{
                    *ip, name, static_cast<uint8_t>(sqlite3_column_int64(st_raw, 2)),
                    sqlite3_column_int64(st_raw, 3), sqlite3_column_int64(st_raw, 4),
                    sqlite3_column_int64(st_raw, 5), sqlite3_column_int64(st_raw, 6) != 0});
            }
        }
        // One pass over domain_ips (keyed by name), probing flow_names by its address.
        st_raw = nullptr;
        if (!v.flow_names.empty() &&
            sqlite3_prepare_v2(raw,
                               "SELECT ip, name FROM domain_ips WHERE ip IN (SELECT ip FROM "
                               "flow_names) ORDER BY name",
                               -1, &st_raw, nullptr) == SQLITE_OK) {
            sql::StmtPtr stmt(st_raw);
            while (sqlite3_step(st_raw) == SQLITE_ROW) {
                auto ip = IpAddress::from_key(column_blob(st_raw, 0));
                auto name = reinterpret_cast<const char*>(sqlite3_column_text(st_raw, 1));
                if (ip && name) v.dns_names[ip->to_string()].emplace_back(name);
            }
        }
    }
    sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr);
    v.present = true;
    return v;
}

}  // namespace em
