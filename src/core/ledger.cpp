#include "core/ledger.h"

#include <fmt/core.h>

#include <unordered_map>

namespace em {

namespace {

const IpAddress kAllV4 = *IpAddress::parse("0.0.0.0");
const IpAddress kAllV6 = *IpAddress::parse("::");

// 1: the first schema. 2: flow_ports (the agent's ports and direct flows per destination).
// 3: process_use (who queried a domain or opened a flow to an address). 4: flow_names (the
// names flows' first packets gave per destination). Every table is created IF NOT EXISTS, so
// running the schema again migrates any older version.
constexpr int kSchemaVersion = 4;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS domains(
    name TEXT PRIMARY KEY, count INTEGER NOT NULL, last_seen INTEGER NOT NULL,
    base TEXT NOT NULL DEFAULT '') WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS domains_by_base ON domains(base);
CREATE TABLE IF NOT EXISTS domain_ips(
    name TEXT NOT NULL, ip BLOB NOT NULL, last_seen INTEGER NOT NULL,
    PRIMARY KEY(name, ip)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ips(
    ip BLOB PRIMARY KEY, count INTEGER NOT NULL, last_seen INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS flow_ports(
    ip BLOB NOT NULL, proto INTEGER NOT NULL, port INTEGER NOT NULL, count INTEGER NOT NULL,
    direct INTEGER NOT NULL, PRIMARY KEY(ip, proto, port)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS process_use(
    kind TEXT NOT NULL, dest TEXT NOT NULL, exe TEXT NOT NULL, user TEXT NOT NULL,
    container TEXT NOT NULL, count INTEGER NOT NULL, first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL, PRIMARY KEY(kind, dest, exe, user, container)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS flow_names(
    ip BLOB NOT NULL, name TEXT NOT NULL, protocol INTEGER NOT NULL, count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, ech INTEGER NOT NULL,
    PRIMARY KEY(ip, name, protocol)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors(source TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta VALUES('commit_generation', 0), ('rendered_generation', -1);
)sql";

// Rolls back on destruction unless committed.
class Transaction {
  public:
    explicit Transaction(sql::Database& db) : db_(db) {}
    Result<void> begin() {
        auto r = db_.exec("BEGIN IMMEDIATE");
        open_ = r.ok();
        return r;
    }
    Result<void> commit() {
        auto r = db_.exec("COMMIT");
        if (r) open_ = false;
        return r;
    }
    ~Transaction() {
        if (open_) (void)db_.exec("ROLLBACK");
    }

  private:
    sql::Database& db_;
    bool open_ = false;
};

}  // namespace

Result<Ledger> Ledger::open(const std::string& path, size_t max_ips_per_domain) {
    auto db = sql::Database::open(path);
    if (!db) return db.error();
    Ledger l(std::move(db.value()), max_ips_per_domain);
    // A 32 MiB page cache keeps a large commit from spilling and re-reading pages.
    if (auto r = l.db_.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                            "PRAGMA cache_size=-32768;");
        !r)
        return r.error();
    // The -wal and -shm files stay when the last writer closes (cron mode: every run), so an
    // endpoint with read access only (serve.user, no write permission on the directory) can
    // still open the ledger read-only; SQLite would otherwise have to create them.
    int persist = 1;
    sqlite3_file_control(l.db_.get(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    auto version = [&]() -> Result<int64_t> {
        auto st = l.db_.prepare("PRAGMA user_version");
        if (!st) return st.error();
        if (st->step() != SQLITE_ROW) return l.db_.error("cannot read schema version");
        return st->int64(0);
    }();
    if (!version) return version.error();
    if (*version > kSchemaVersion)
        return Error{fmt::format("{} has schema version {}, newer than this program's {}", path,
                                 *version, kSchemaVersion)};
    if (*version < kSchemaVersion) {
        // Version 0 is a new database; later migrations go here, one step per version.
        std::string sql = std::string("BEGIN;") + kSchema +
                          fmt::format("PRAGMA user_version={};COMMIT;", kSchemaVersion);
        if (auto r = l.db_.exec(sql.c_str()); !r) return r.error();
    }
    if (auto r = l.prepare(); !r) return r.error();
    return l;
}

Result<void> Ledger::prepare() {
    struct Item {
        sql::Statement* st;
        const char* sql;
    };
    Item items[] = {
        {&upsert_domain_,
         "INSERT INTO domains VALUES(?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET "
         "count = count + excluded.count, last_seen = max(last_seen, excluded.last_seen)"},
        {&domain_exists_, "SELECT 1 FROM domains WHERE name = ?1"},
        {&ip_exists_, "SELECT 1 FROM ips WHERE ip = ?1"},
        {&names_under_base_,
         "SELECT count(*) FROM domains WHERE base = ?1 AND substr(name, 1, 2) != '*.'"},
        {&upsert_domain_ip_,
         "INSERT INTO domain_ips VALUES(?1, ?2, ?3) ON CONFLICT(name, ip) DO UPDATE SET "
         "last_seen = max(last_seen, excluded.last_seen)"},
        // Keeps each domain's ?1 most recently answered addresses; ties keep the numerically
        // smaller. One pass over the table per commit, not a statement per domain.
        {&prune_domain_ips_,
         "DELETE FROM domain_ips WHERE (name, ip) IN ("
         " SELECT name, ip FROM (SELECT name, ip, row_number() OVER ("
         "  PARTITION BY name ORDER BY last_seen DESC, ip ASC) AS rank FROM domain_ips"
         "  WHERE name IN (SELECT name FROM domain_ips GROUP BY name HAVING count(*) > ?1))"
         " WHERE rank > ?1)"},
        {&upsert_ip_,
         "INSERT INTO ips VALUES(?1, ?2, ?3) ON CONFLICT(ip) DO UPDATE SET "
         "count = count + excluded.count, last_seen = max(last_seen, excluded.last_seen)"},
        {&upsert_cursor_, "INSERT OR REPLACE INTO cursors VALUES(?1, ?2)"},
        {&add_counter_,
         "INSERT INTO counters VALUES(?1, ?2) ON CONFLICT(name) DO UPDATE SET "
         "value = value + excluded.value"},
        {&get_cursor_, "SELECT value FROM cursors WHERE source = ?1"},
        {&upsert_port_,
         "INSERT INTO flow_ports VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(ip, proto, port) DO "
         "UPDATE SET count = count + excluded.count, direct = direct + excluded.direct"},
        {&ports_of_ip_, "SELECT count(*) FROM flow_ports WHERE ip = ?1"},
        {&flow_name_exists_,
         "SELECT 1 FROM flow_names WHERE ip = ?1 AND name = ?2 AND protocol = ?3"},
        {&names_of_ip_, "SELECT count(*) FROM flow_names WHERE ip = ?1"},
        {&upsert_flow_name_,
         "INSERT INTO flow_names VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(ip, name, "
         "protocol) DO UPDATE SET count = count + excluded.count, first_seen = min(first_seen, "
         "excluded.first_seen), last_seen = max(last_seen, excluded.last_seen), ech = ech OR "
         "excluded.ech"},
        {&rows_with_base_, "SELECT count(*) FROM domains WHERE base = ?1"},
        {&set_meta_, "INSERT OR REPLACE INTO meta VALUES(?1, ?2)"},
        {&process_use_exists_,
         "SELECT 1 FROM process_use WHERE kind = ?1 AND dest = ?2 AND exe = ?3 AND user = ?4 "
         "AND container = ?5"},
        {&upsert_process_use_,
         "INSERT INTO process_use VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(kind, dest, "
         "exe, "
         "user, container) DO UPDATE SET count = count + excluded.count, first_seen = "
         "min(first_seen, excluded.first_seen), "
         "last_seen = max(last_seen, excluded.last_seen)"},
    };
    for (auto& item : items) {
        auto st = db_.prepare(item.sql);
        if (!st) return st.error();
        *item.st = std::move(st.value());
    }
    return {};
}

Result<std::optional<std::string>> Ledger::cursor(const std::string& source) {
    get_cursor_.bind(1, source);
    std::optional<std::string> out;
    int rc = get_cursor_.step();
    if (rc == SQLITE_ROW) out = std::string(get_cursor_.text(0));
    get_cursor_.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_.error("cannot read cursor");
    return out;
}

Result<bool> Ledger::has_domain(std::string_view name) {
    domain_exists_.bind(1, name);
    int rc = domain_exists_.step();
    domain_exists_.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_.error("cannot look up a domain");
    return rc == SQLITE_ROW;
}

Result<bool> Ledger::has_ip(const IpAddress& ip) {
    ip_exists_.bind_blob(1, ip.key());
    int rc = ip_exists_.step();
    ip_exists_.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_.error("cannot look up an address");
    return rc == SQLITE_ROW;
}

Result<int64_t> Ledger::count_rows(const char* table) {
    auto st = db_.prepare(fmt::format("SELECT count(*) FROM {}", table).c_str());
    if (!st) return st.error();
    if (st->step() != SQLITE_ROW) return db_.error(std::string("cannot count ") + table);
    return st->int64(0);
}

Result<int64_t> Ledger::names_under(std::string_view base) {
    names_under_base_.bind(1, base);
    int rc = names_under_base_.step();
    int64_t n = rc == SQLITE_ROW ? names_under_base_.int64(0) : 0;
    names_under_base_.reset();
    if (rc != SQLITE_ROW) return db_.error("cannot count domains");
    return n;
}

std::string Ledger::capacity_warning() const {
    return fmt::format(
        "at capacity: {} new domains/addresses counted under coarser lines (*.*.<domain>, "
        "*.*.<top-level domain>, *.*, 0.0.0.0, ::) because the ledger holds max_domains={} / "
        "max_ips={} lines; a flood of distinct names or addresses fills it (counters "
        "domains.capacity_folded_*, ips.capacity_folded_*)",
        last_capacity_folded_, max_domains_, max_ips_);
}

Result<bool> Ledger::capacity_target(std::string& target, int64_t rows,
                                     const DomainFolder* folder) {
    // Bounds beyond max_domains: level 1 may add reserve1 lines (at most a quota of them per
    // top-level domain, so a flood under one top-level domain leaves the others their own
    // lines), level 2 up to reserve2 more, the catch-all one: max_domains + reserve1 +
    // reserve2 + 1 lines in all. A line's base column says which level made it.
    const int64_t cap = static_cast<int64_t>(max_domains_);
    const int64_t reserve1 = std::max<int64_t>(16, cap / 32),
                  reserve2 = std::max<int64_t>(16, cap / 64);
    const int64_t per_tld = std::max<int64_t>(2, reserve1 / 8);
    const std::string name(DomainFolder::unfolded(target));
    const std::string_view tld = DomainFolder::top_level(name);
    auto try_line = [&](std::string key, const std::string& base, bool room) -> Result<bool> {
        auto known = has_domain(key);
        if (!known) return known.error();
        if (!*known && !room) return false;
        target = std::move(key);
        capacity_base_ = base;
        created_ = !*known;
        return true;
    };
    if (folder) {
        const std::string base = "capacity:1:" + std::string(tld);
        rows_with_base_.bind(1, base);
        int rc = rows_with_base_.step();
        const int64_t in_tld = rc == SQLITE_ROW ? rows_with_base_.int64(0) : 0;
        rows_with_base_.reset();
        if (rc != SQLITE_ROW) return db_.error("cannot count domains");
        auto r = try_line(DomainFolder::capacity_name(folder->icann_base(name)), base,
                          rows < cap + reserve1 && in_tld < per_tld);
        if (!r) return r.error();
        if (*r) return created_;
    }
    auto r =
        try_line(DomainFolder::capacity_name(tld), "capacity:2", rows < cap + reserve1 + reserve2);
    if (!r) return r.error();
    if (*r) return created_;
    r = try_line(std::string(DomainFolder::kCapacityCatchAll), "capacity:3", true);
    if (!r) return r.error();
    return created_;
}

Result<void> Ledger::commit(const Batch& batch, const std::map<std::string, std::string>& cursors,
                            const DomainFolder* folder) {
    Transaction tx(db_);
    if (auto r = tx.begin(); !r) return r;
    bool any_answers = false;
    int64_t folded = 0, capacity_names = 0, capacity_ips = 0;
    uint64_t capacity_queries = 0, capacity_flows = 0;
    redirected_.clear();
    int64_t domain_rows = 0, ip_rows = 0;
    if (max_domains_) {
        auto n = count_rows("domains");
        if (!n) return n.error();
        domain_rows = *n;
    }
    if (max_ips_) {
        auto n = count_rows("ips");
        if (!n) return n.error();
        ip_rows = *n;
    }
    std::unordered_map<std::string, int64_t> names_per_base;  // this commit's view
    std::string target;
    for (const auto& [name, d] : batch.domains()) {
        // Where the counts go: the name itself, or "*.<base>" for a new name beyond the
        // folder's limit of names per registrable domain.
        target.assign(name);
        std::string_view base;
        if (folder && DomainFolder::is_folded(name)) {
            base = name.substr(2);
        } else if (folder) {
            base = folder->base(name);
            auto known = has_domain(name);
            if (!known) return known.error();
            if (!*known && folder->limit() > 0) {
                auto it = names_per_base.find(std::string(base));
                if (it == names_per_base.end()) {
                    auto n = names_under(base);
                    if (!n) return n.error();
                    it = names_per_base.emplace(std::string(base), *n).first;
                }
                if (it->second >= static_cast<int64_t>(folder->limit())) {
                    target = DomainFolder::folded_name(base);
                    ++folded;
                } else {
                    ++it->second;
                }
            }
        }
        std::string_view row_base = base;
        if (max_domains_) {
            auto known = has_domain(target);
            if (!known) return known.error();
            if (!*known && domain_rows >= static_cast<int64_t>(max_domains_)) {
                auto folded_at_cap = capacity_target(target, domain_rows, folder);
                if (!folded_at_cap) return folded_at_cap.error();
                ++capacity_names;
                capacity_queries += d.queries;
                if (*folded_at_cap) ++domain_rows;
                redirected_[std::string(name)] = target;
                row_base = capacity_base_;
            } else {
                domain_rows += !*known;
            }
        }
        upsert_domain_.bind(1, target)
            .bind(2, static_cast<int64_t>(d.queries))
            .bind(3, d.last_seen)
            .bind(4, row_base);
        if (auto r = db_.run(upsert_domain_); !r) return r;
        for (const auto& a : d.answers) {
            upsert_domain_ip_.bind(1, target).bind_blob(2, a.ip.key()).bind(3, a.last_seen);
            if (auto r = db_.run(upsert_domain_ip_); !r) return r;
        }
        any_answers = any_answers || !d.answers.empty();
    }
    if (any_answers) {
        prune_domain_ips_.bind(1, static_cast<int64_t>(max_ips_per_domain_));
        if (auto r = db_.run(prune_domain_ips_); !r) return r;
    }
    if (folded) {
        add_counter_.bind(1, std::string_view("domains.folded_names")).bind(2, folded);
        if (auto r = db_.run(add_counter_); !r) return r;
    }
    last_folded_ = folded;
    Result<void> status;
    batch.ips().for_each([&](const IpAddress& ip, const IpDelta& d) {
        if (!status) return;
        if (max_ips_) {
            auto known = has_ip(ip);
            if (!known) {
                status = known.error();
                return;
            }
            if (!*known && ip_rows >= static_cast<int64_t>(max_ips_)) {
                // At capacity: the flows count under the family's unspecified address, a
                // key no real destination has (two lines at most beyond the bound).
                const IpAddress& all = ip.is_v6() ? kAllV6 : kAllV4;
                ++capacity_ips;
                capacity_flows += d.flows;
                auto had = has_ip(all);
                if (!had) {
                    status = had.error();
                    return;
                }
                ip_rows += !*had;
                upsert_ip_.bind_blob(1, all.key())
                    .bind(2, static_cast<int64_t>(d.flows))
                    .bind(3, d.last_seen);
                status = db_.run(upsert_ip_);
                return;
            }
            ip_rows += !*known;
        }
        upsert_ip_.bind_blob(1, ip.key())
            .bind(2, static_cast<int64_t>(d.flows))
            .bind(3, d.last_seen);
        status = db_.run(upsert_ip_);
    });
    if (!status) return status;
    last_capacity_folded_ = capacity_names + capacity_ips;
    // Ports: at most kMaxPortsPerIp rows per address; further ports go to port 0 ("other").
    for (const auto& [k, d] : batch.flow_ports()) {
        IpAddress ip = k.ip;
        if (max_ips_) {
            auto known = has_ip(ip);
            if (!known) return known.error();
            if (!*known) ip = ip.is_v6() ? kAllV6 : kAllV4;  // folded at capacity
        }
        uint16_t port = k.port;
        if (port != 0) {
            ports_of_ip_.bind_blob(1, ip.key());
            int rc = ports_of_ip_.step();
            int64_t n = rc == SQLITE_ROW ? ports_of_ip_.int64(0) : 0;
            ports_of_ip_.reset();
            if (n >= kMaxPortsPerIp) port = 0;
        }
        upsert_port_.bind_blob(1, ip.key())
            .bind(2, int64_t{k.proto})
            .bind(3, int64_t{port})
            .bind(4, static_cast<int64_t>(d.flows))
            .bind(5, static_cast<int64_t>(d.direct));
        if (auto r = db_.run(upsert_port_); !r) return r;
    }
    for (auto [name, value] :
         {std::pair{"domains.capacity_folded_names", static_cast<uint64_t>(capacity_names)},
          std::pair{"domains.capacity_folded_queries", capacity_queries},
          std::pair{"ips.capacity_folded_addresses", static_cast<uint64_t>(capacity_ips)},
          std::pair{"ips.capacity_folded_flows", capacity_flows}}) {
        if (!value) continue;
        add_counter_.bind(1, std::string_view(name)).bind(2, static_cast<int64_t>(value));
        if (auto r = db_.run(add_counter_); !r) return r;
    }
    if (max_domains_ || max_ips_) {
        // The capacity state, for readers of the ledger (/metrics, summary.json).
        for (auto [key, value] :
             {std::pair{"max_domains", static_cast<int64_t>(max_domains_)},
              std::pair{"max_ips", static_cast<int64_t>(max_ips_)},
              std::pair{"domain_rows", domain_rows}, std::pair{"ip_rows", ip_rows}}) {
            set_meta_.bind(1, std::string_view(key)).bind(2, value);
            if (auto r = db_.run(set_meta_); !r) return r;
        }
    }
    if (auto r = commit_process_uses(batch, folder); !r) return r;
    if (auto r = commit_flow_names(batch); !r) return r;
    for (const auto& [source, text] : cursors) {
        upsert_cursor_.bind(1, source).bind(2, text);
        if (auto r = db_.run(upsert_cursor_); !r) return r;
    }
    for (const auto& [name, value] : batch.counters()) {
        add_counter_.bind(1, name).bind(2, static_cast<int64_t>(value));
        if (auto r = db_.run(add_counter_); !r) return r;
    }
    if (auto r = db_.exec("UPDATE meta SET value = value + 1 WHERE key = 'commit_generation'"); !r)
        return r;
    return tx.commit();
}

Result<void> Ledger::commit_process_uses(const Batch& batch, const DomainFolder* folder) {
    last_process_use_over_cap_ = 0;
    if (batch.process_uses().empty()) return {};
    int64_t rows = 0, refused = 0, invalid = 0;
    uint64_t refused_count = 0;
    if (max_process_uses_) {
        auto n = count_rows("process_use");
        if (!n) return n.error();
        rows = *n;
    }
    std::string dest;
    for (const auto& [k, d] : batch.process_uses()) {
        dest = k.dest;
        if (k.kind == 'i') {
            // Canonical text, so the same address is one row however the caller spelt it.
            auto ip = IpAddress::parse(k.dest);
            if (!ip || ip->is_loopback() || ip->is_unspecified()) {
                ++invalid;
                continue;
            }
            dest = ip->to_string();
        } else if (auto it = redirected_.find(dest); it != redirected_.end()) {
            dest = it->second;  // counted under a coarser line in this commit
        } else if (folder && folder->limit() > 0 && !DomainFolder::is_folded(dest)) {
            // A name the domains table holds only folded: its use goes to the folded line.
            auto known = has_domain(dest);
            if (!known) return known.error();
            if (!*known) {
                std::string folded = DomainFolder::folded_name(folder->base(dest));
                auto f = has_domain(folded);
                if (!f) return f.error();
                if (*f) dest = std::move(folded);
            }
        }
        const std::string_view kind(&k.kind, 1);
        if (max_process_uses_) {
            process_use_exists_.bind(1, kind).bind(2, dest).bind(3, k.exe).bind(4, k.user).bind(
                5, k.container);
            int rc = process_use_exists_.step();
            process_use_exists_.reset();
            if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return db_.error("cannot look up a process use");
            if (rc == SQLITE_DONE && rows >= static_cast<int64_t>(max_process_uses_)) {
                ++refused;
                refused_count += d.count;
                continue;
            }
            rows += rc == SQLITE_DONE;
        }
        upsert_process_use_.bind(1, kind)
            .bind(2, dest)
            .bind(3, k.exe)
            .bind(4, k.user)
            .bind(5, k.container)
            .bind(6, static_cast<int64_t>(d.count))
            .bind(7, d.first_seen)
            .bind(8, d.last_seen);
        if (auto r = db_.run(upsert_process_use_); !r) return r;
    }
    last_process_use_over_cap_ = refused;
    for (auto [name, value] :
         {std::pair{"process_use.over_cap", static_cast<int64_t>(refused_count)},
          std::pair{"process_use.invalid", invalid}}) {
        if (!value) continue;
        add_counter_.bind(1, std::string_view(name)).bind(2, value);
        if (auto r = db_.run(add_counter_); !r) return r;
    }
    return {};
}

Result<int64_t> Ledger::generation(const char* which) {
    auto st = db_.prepare("SELECT value FROM meta WHERE key = ?1");
    if (!st) return st.error();
    st->bind(1, std::string_view(which));
    if (st->step() != SQLITE_ROW) return db_.error(std::string("missing meta key ") + which);
    return st->int64(0);
}

Result<void> Ledger::set_rendered(int64_t generation) {
    auto st = db_.prepare("UPDATE meta SET value = ?1 WHERE key = 'rendered_generation'");
    if (!st) return st.error();
    st->bind(1, generation);
    return db_.run(*st);
}

Result<void> Ledger::for_each_domain(const std::function<void(const DomainRow&)>& fn) {
    auto st = db_.prepare(
        "SELECT d.name, d.count, d.last_seen, i.ip FROM domains d "
        "LEFT JOIN domain_ips i ON i.name = d.name WHERE d.count > 0 ORDER BY d.name, i.ip");
    if (!st) return st.error();
    std::string name;
    int64_t count = 0, last = 0;
    std::vector<IpAddress> ips;
    bool have = false;
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) {
        std::string_view n = st->text(0);
        if (!have || n != name) {
            if (have) fn(DomainRow{name, count, last, &ips});
            name.assign(n);
            count = st->int64(1);
            last = st->int64(2);
            ips.clear();
            have = true;
        }
        if (!st->is_null(3))
            if (auto ip = IpAddress::from_key(st->blob(3))) ips.push_back(*ip);
    }
    if (rc != SQLITE_DONE) return db_.error("cannot read domains");
    if (have) fn(DomainRow{name, count, last, &ips});
    return {};
}

Result<void> Ledger::for_each_ip(const std::function<void(const IpRow&)>& fn) {
    auto st = db_.prepare("SELECT ip, count, last_seen FROM ips ORDER BY ip");
    if (!st) return st.error();
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) {
        if (auto ip = IpAddress::from_key(st->blob(0))) fn(IpRow{*ip, st->int64(1), st->int64(2)});
    }
    if (rc != SQLITE_DONE) return db_.error("cannot read addresses");
    return {};
}

Result<void> Ledger::for_each_port(const std::function<void(const PortRow&)>& fn) {
    auto st = db_.prepare(
        "SELECT ip, proto, port, count, direct FROM flow_ports ORDER BY ip, proto, port");
    if (!st) return st.error();
    for (;;) {
        int rc = st->step();
        if (rc == SQLITE_DONE) return {};
        if (rc != SQLITE_ROW) return db_.error("cannot read flow_ports");
        auto ip = IpAddress::from_key(st->blob(0));
        if (!ip) continue;
        fn(PortRow{*ip, static_cast<uint8_t>(st->int64(1)), static_cast<uint16_t>(st->int64(2)),
                   st->int64(3), st->int64(4)});
    }
}

Result<void> Ledger::for_each_process_use(const std::function<void(const ProcessUseRow&)>& fn) {
    auto st = db_.prepare(
        "SELECT kind, dest, exe, user, container, count, first_seen, last_seen FROM process_use "
        "ORDER BY kind, dest, exe, user, container");
    if (!st) return st.error();
    for (;;) {
        int rc = st->step();
        if (rc == SQLITE_DONE) return {};
        if (rc != SQLITE_ROW) return db_.error("cannot read process_use");
        std::string_view kind = st->text(0);
        if (kind.size() != 1) continue;
        fn(ProcessUseRow{kind[0], st->text(1), st->text(2), st->text(3), st->text(4), st->int64(5),
                         st->int64(6), st->int64(7)});
    }
}

// At most kMaxNamesPerIp names per address, and (with caps) max_flow_names_ rows: a name new
// beyond either is not stored, its flows counted under "first_packets.names_over_cap".
Result<void> Ledger::commit_flow_names(const Batch& batch) {
    auto scalar = [&](sql::Statement& st) -> Result<int64_t> {
        int rc = st.step();
        int64_t v = rc == SQLITE_ROW ? st.int64(0) : 0;
        st.reset();
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_.error("cannot read flow_names");
        return v;
    };
    int64_t rows = -1;  // counted on the first new name, when bounded
    uint64_t over_cap = 0;
    for (const auto& [k, d] : batch.flow_names()) {
        const std::string ip = k.ip.key();
        flow_name_exists_.bind_blob(1, ip).bind(2, k.name).bind(3, int64_t{k.protocol});
        auto known = scalar(flow_name_exists_);
        if (!known) return known.error();
        if (!*known) {
            names_of_ip_.bind_blob(1, ip);
            auto n = scalar(names_of_ip_);
            if (!n) return n.error();
            if (max_flow_names_ && rows < 0) {
                auto r = count_rows("flow_names");
                if (!r) return r.error();
                rows = *r;
            }
            if (*n >= kMaxNamesPerIp ||
                (max_flow_names_ && rows >= static_cast<int64_t>(max_flow_names_))) {
                over_cap += d.count;
                continue;
            }
            if (rows >= 0) ++rows;
        }
        upsert_flow_name_.bind_blob(1, ip)
            .bind(2, k.name)
            .bind(3, int64_t{k.protocol})
            .bind(4, static_cast<int64_t>(d.count))
            .bind(5, d.first_seen)
            .bind(6, d.last_seen)
            .bind(7, int64_t{d.ech});
        if (auto r = db_.run(upsert_flow_name_); !r) return r;
    }
    if (over_cap) {
        add_counter_.bind(1, std::string_view("first_packets.names_over_cap"))
            .bind(2, static_cast<int64_t>(over_cap));
        if (auto r = db_.run(add_counter_); !r) return r;
    }
    return {};
}

Result<void> Ledger::for_each_flow_name(const std::function<void(const FlowNameRow&)>& fn) {
    auto st = db_.prepare(
        "SELECT ip, name, protocol, count, first_seen, last_seen, ech FROM flow_names "
        "ORDER BY ip, name, protocol");
    if (!st) return st.error();
    for (;;) {
        int rc = st->step();
        if (rc == SQLITE_DONE) return {};
        if (rc != SQLITE_ROW) return db_.error("cannot read flow_names");
        auto ip = IpAddress::from_key(st->blob(0));
        if (!ip) continue;
        fn(FlowNameRow{*ip, st->text(1), static_cast<uint8_t>(st->int64(2)), st->int64(3),
                       st->int64(4), st->int64(5), st->int64(6) != 0});
    }
}

Result<std::map<std::string, int64_t>> Ledger::counters() {
    auto st = db_.prepare("SELECT name, value FROM counters ORDER BY name");
    if (!st) return st.error();
    std::map<std::string, int64_t> out;
    while (st->step() == SQLITE_ROW) out[std::string(st->text(0))] = st->int64(1);
    return out;
}

}  // namespace em
