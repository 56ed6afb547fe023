#include "collector/history.h"

#include <fmt/core.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "common/log.h"
#include "common/text_escape.h"

namespace em {

namespace {

// SQLite: kSteps[v] migrates schema version v to v + 1, inside one transaction.
constexpr const char* kSteps[] = {
    R"sql(
CREATE TABLE hosts(
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, tags TEXT NOT NULL DEFAULT '',
    added INTEGER NOT NULL, first_fetch INTEGER NOT NULL DEFAULT 0,
    last_attempt INTEGER NOT NULL DEFAULT 0, last_ok INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '', last_change INTEGER NOT NULL DEFAULT 0,
    last_reset INTEGER NOT NULL DEFAULT 0,
    domains_etag TEXT NOT NULL DEFAULT '', ips_etag TEXT NOT NULL DEFAULT '',
    domains_hash TEXT NOT NULL DEFAULT '', ips_hash TEXT NOT NULL DEFAULT '',
    domains INTEGER NOT NULL DEFAULT 0, ips INTEGER NOT NULL DEFAULT 0);
-- id = host id * 2 + (0 domains, 1 addresses). A rowid table: the rows are large blobs.
CREATE TABLE snapshots(id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE first_seen(
    host INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, first_seen INTEGER NOT NULL,
    PRIMARY KEY(host, kind, key)) WITHOUT ROWID;
-- Keyed by time within a host so that a fetch's deltas are appended, not scattered.
CREATE TABLE deltas(
    host INTEGER NOT NULL, time INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    delta INTEGER NOT NULL, PRIMARY KEY(host, time, kind, key)) WITHOUT ROWID;
CREATE TABLE fleet(
    domain TEXT PRIMARY KEY, hosts INTEGER NOT NULL, base_len INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE events(host INTEGER NOT NULL, time INTEGER NOT NULL, kind TEXT NOT NULL,
    detail TEXT NOT NULL);
CREATE INDEX events_by_host ON events(host, time);
CREATE TABLE alerts(
    host TEXT NOT NULL, rule TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, occurrences INTEGER NOT NULL,
    message TEXT NOT NULL, changed INTEGER NOT NULL,
    PRIMARY KEY(host, rule, key)) WITHOUT ROWID;
CREATE INDEX alerts_open ON alerts(host, rule) WHERE state = 'open';
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql",
    // Incidents: an alert's id (new at each opening), its weight (names, hosts: what a
    // material change is measured in) and the weight the sinks were last told; the hosts
    // a fleet alert stands for.
    R"sql(
ALTER TABLE alerts ADD COLUMN id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN weight INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN notified_weight INTEGER NOT NULL DEFAULT 1;
UPDATE alerts SET id = (SELECT count(*) FROM alerts AS b
    WHERE (b.host, b.rule, b.key) <= (alerts.host, alerts.rule, alerts.key));
CREATE TABLE fleet_alert_hosts(
    rule TEXT NOT NULL, key TEXT NOT NULL, host TEXT NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY(rule, key, host)) WITHOUT ROWID;
-- Operator actions (collector/actions.h): who acknowledged the open incident; silences and
-- allow entries; every action in the audit log.
ALTER TABLE alerts ADD COLUMN acked_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN acked_at INTEGER NOT NULL DEFAULT 0;
CREATE TABLE silences(id INTEGER PRIMARY KEY, host TEXT NOT NULL, rule TEXT NOT NULL,
    key TEXT NOT NULL, until INTEGER NOT NULL, who TEXT NOT NULL, why TEXT NOT NULL,
    created INTEGER NOT NULL);
CREATE TABLE allows(id INTEGER PRIMARY KEY, value TEXT NOT NULL, host TEXT NOT NULL,
    who TEXT NOT NULL, why TEXT NOT NULL, created INTEGER NOT NULL,
    applied INTEGER NOT NULL DEFAULT 0);
CREATE TABLE audit(id INTEGER PRIMARY KEY, time INTEGER NOT NULL, who TEXT NOT NULL,
    action TEXT NOT NULL, detail TEXT NOT NULL, why TEXT NOT NULL);
)sql",
    // What the dashboard reads instead of every host's state: every domain and every address
    // a host of the fleet has listed (in its files now or before), and every (address, name)
    // pair an answer in a host's files has named. open() fills them from the snapshots
    // (index.filled); ingest adds what is new to the fleet, in the host's transaction.
    R"sql(
CREATE TABLE names(name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE addresses(ip TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE answers(ip TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY(ip, name)) WITHOUT ROWID;
INSERT INTO meta VALUES('index.filled', 0) ON CONFLICT(key) DO UPDATE SET value = excluded.value;
)sql",
    // Who used each destination, as the host's agent last sent it (history_uses.h).
    R"sql(
CREATE TABLE process_uses(host INTEGER PRIMARY KEY, time INTEGER NOT NULL, etag TEXT NOT NULL,
    hash TEXT NOT NULL, data BLOB NOT NULL);
)sql",
    // PostgreSQL partitions deltas by month (kPgSteps[0]); SQLite's deltas stay as they are.
    "SELECT 1",
};
constexpr int kSchemaVersion = sizeof kSteps / sizeof kSteps[0];

// PostgreSQL: a new store is created at version kPgBase with the same tables (64-bit
// integers, bytea, identity keys; text keys in byte order, COLLATE "C", as SQLite sorts); a
// step after it is written for both, kSteps[v] and kPgSteps[v - kPgBase].
constexpr int kPgBase = 4;
constexpr const char* kPgSchema = R"sql(
CREATE TABLE hosts(
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name TEXT COLLATE "C" NOT NULL UNIQUE,
    tags TEXT NOT NULL DEFAULT '', added BIGINT NOT NULL, first_fetch BIGINT NOT NULL DEFAULT 0,
    last_attempt BIGINT NOT NULL DEFAULT 0, last_ok BIGINT NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '', last_change BIGINT NOT NULL DEFAULT 0,
    last_reset BIGINT NOT NULL DEFAULT 0,
    domains_etag TEXT NOT NULL DEFAULT '', ips_etag TEXT NOT NULL DEFAULT '',
    domains_hash TEXT NOT NULL DEFAULT '', ips_hash TEXT NOT NULL DEFAULT '',
    domains BIGINT NOT NULL DEFAULT 0, ips BIGINT NOT NULL DEFAULT 0);
-- Uncompressed, so that substring() reads only the chunks it spans (the dashboard's lookups).
CREATE TABLE snapshots(id BIGINT PRIMARY KEY, data BYTEA NOT NULL);
ALTER TABLE snapshots ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE TABLE first_seen(
    host BIGINT NOT NULL, kind TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL,
    first_seen BIGINT NOT NULL, PRIMARY KEY(host, kind, key));
CREATE TABLE deltas(
    host BIGINT NOT NULL, time BIGINT NOT NULL, kind TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL,
    delta BIGINT NOT NULL, PRIMARY KEY(host, time, kind, key));
CREATE TABLE fleet(
    domain TEXT COLLATE "C" PRIMARY KEY, hosts BIGINT NOT NULL, base_len BIGINT NOT NULL);
CREATE TABLE events(host BIGINT NOT NULL, time BIGINT NOT NULL, kind TEXT NOT NULL,
    detail TEXT NOT NULL);
CREATE INDEX events_by_host ON events(host, time);
CREATE TABLE alerts(
    host TEXT COLLATE "C" NOT NULL, rule TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL,
    state TEXT NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,
    occurrences BIGINT NOT NULL, message TEXT NOT NULL, changed BIGINT NOT NULL,
    id BIGINT NOT NULL DEFAULT 0, weight BIGINT NOT NULL DEFAULT 1,
    notified_weight BIGINT NOT NULL DEFAULT 1, acked_by TEXT NOT NULL DEFAULT '',
    acked_at BIGINT NOT NULL DEFAULT 0, PRIMARY KEY(host, rule, key));
CREATE INDEX alerts_open ON alerts(host, rule) WHERE state = 'open';
CREATE TABLE meta(key TEXT COLLATE "C" PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE fleet_alert_hosts(
    rule TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, host TEXT COLLATE "C" NOT NULL,
    message TEXT NOT NULL, PRIMARY KEY(rule, key, host));
CREATE TABLE silences(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    host TEXT NOT NULL, rule TEXT NOT NULL, key TEXT NOT NULL, until BIGINT NOT NULL,
    who TEXT NOT NULL, why TEXT NOT NULL, created BIGINT NOT NULL);
CREATE TABLE allows(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    value TEXT NOT NULL, host TEXT NOT NULL, who TEXT NOT NULL, why TEXT NOT NULL,
    created BIGINT NOT NULL, applied BIGINT NOT NULL DEFAULT 0);
CREATE TABLE audit(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, time BIGINT NOT NULL,
    who TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL, why TEXT NOT NULL);
CREATE TABLE names(name TEXT COLLATE "C" PRIMARY KEY);
CREATE TABLE addresses(ip TEXT COLLATE "C" PRIMARY KEY);
CREATE TABLE answers(ip TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY(ip, name));
-- A new store: nothing to index.
INSERT INTO meta VALUES('index.filled', 1);
CREATE TABLE process_uses(host BIGINT PRIMARY KEY, time BIGINT NOT NULL, etag TEXT NOT NULL,
    hash TEXT NOT NULL, data BYTEA NOT NULL);
)sql";
constexpr std::array<const char*, 1> kPgSteps{
    // deltas, partitioned by month of `time` (UTC): retention drops whole months
    // (em_drop_deltas_before) instead of deleting rows. em_deltas_month(t) creates the month of
    // t when it is missing (once a month, under an advisory lock: collectors that meet there
    // create it once) and returns its end; the ingest calls it before writing deltas.
    R"sql(
ALTER TABLE deltas RENAME TO deltas_v4;
ALTER INDEX deltas_pkey RENAME TO deltas_v4_pkey;
CREATE TABLE deltas(
    host BIGINT NOT NULL, time BIGINT NOT NULL, kind TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL,
    delta BIGINT NOT NULL, PRIMARY KEY(host, time, kind, key)) PARTITION BY RANGE (time);
CREATE FUNCTION em_deltas_month(t BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    lo TIMESTAMP := date_trunc('month', to_timestamp(t) AT TIME ZONE 'UTC');
    hi TIMESTAMP := lo + INTERVAL '1 month';
    part TEXT := 'deltas_' || to_char(lo, 'YYYYMM');
BEGIN
    IF to_regclass(part) IS NULL THEN
        PERFORM pg_advisory_xact_lock(7316998104);
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF deltas FOR VALUES FROM (%s) TO (%s)',
                           part, extract(epoch FROM lo)::BIGINT, extract(epoch FROM hi)::BIGINT);
        END IF;
    END IF;
    RETURN extract(epoch FROM hi)::BIGINT;
END $$;
CREATE FUNCTION em_drop_deltas_before(t BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    part TEXT;
    dropped BIGINT := 0;
BEGIN
    FOR part IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'deltas'::regclass AND c.relname ~ '^deltas_[0-9]{6}$'
                ORDER BY c.relname LOOP
        IF extract(epoch FROM to_date(substr(part, 8), 'YYYYMM') + INTERVAL '1 month') <= t THEN
            EXECUTE format('DROP TABLE %I', part);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    RETURN dropped;
END $$;
SELECT em_deltas_month(min(time)) FROM deltas_v4
    GROUP BY date_trunc('month', to_timestamp(time) AT TIME ZONE 'UTC');
INSERT INTO deltas SELECT * FROM deltas_v4;
DROP TABLE deltas_v4;
)sql",
};
static_assert(kPgBase + kPgSteps.size() == kSchemaVersion,
              "a migration step lacks its PostgreSQL twin");

std::string join_tags(const std::vector<std::string>& tags) {
    std::string out;
    for (const auto& t : tags) {
        if (!out.empty()) out += '\n';
        out += t;
    }
    return out;
}

std::vector<std::string> split_tags(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        size_t nl = s.find('\n');
        out.emplace_back(s.substr(0, nl));
        if (nl == std::string_view::npos) break;
        s.remove_prefix(nl + 1);
    }
    return out;
}

std::string_view unfolded(std::string_view name) { return DomainFolder::unfolded(name); }

}  // namespace

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr) != 1) return "";
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(n * 2, '0');
    for (unsigned i = 0; i < n; ++i) {
        out[2 * i] = kHex[md[i] >> 4];
        out[2 * i + 1] = kHex[md[i] & 15];
    }
    return out;
}

namespace {

constexpr const char* kGetState = "SELECT data FROM snapshots WHERE id = ?1";

// One kind's blob of a host with `get` (kGetState); empty when none is stored.
Result<std::string> read_blob(store::Database& db, store::Statement& get, int64_t host_id,
                              char kind) {
    get.bind(1, host_id * 2 + (kind == 'i' ? 1 : 0));
    const store::Step rc = get.step();
    std::string out;
    if (rc == store::Step::Row) out = get.blob(0);
    get.reset();
    if (rc == store::Step::Failed) return db.error("cannot read a host's state");
    return out;
}

Result<HostState> load_host_state(store::Database& db, store::Statement& get, int64_t host_id,
                                  bool domains, bool ips) {
    const std::string& path = db.where();
    HostState s;
    if (domains) {
        auto blob = read_blob(db, get, host_id, 'd');
        if (!blob) return blob.error();
        auto d = decode_domains(*blob);
        if (!d) return Error{fmt::format("{}: host id {}: {}", path, host_id, d.error().message)};
        s.domains = std::move(d.value());
    }
    if (ips) {
        auto blob = read_blob(db, get, host_id, 'i');
        if (!blob) return blob.error();
        auto i = decode_ips(*blob);
        if (!i) return Error{fmt::format("{}: host id {}: {}", path, host_id, i.error().message)};
        s.ips = std::move(i.value());
    }
    return s;
}

}  // namespace

HistoryStore::HistoryStore(store::Database db, std::string target, DomainFolder folder)
    : db_(std::move(db)), target_(std::move(target)), folder_(std::move(folder)) {}

HistoryStore::~HistoryStore() = default;

Result<std::unique_ptr<HistoryStore>> HistoryStore::open(const std::string& target) {
    auto db = store::Database::open(target);
    if (!db) return db.error();
    auto folder = DomainFolder::create(0);
    if (!folder) return folder.error();
    std::unique_ptr<HistoryStore> s(
        new HistoryStore(std::move(db.value()), target, std::move(folder.value())));
    // page_size only takes effect on a new database, before WAL: large pages suit the
    // snapshot blobs. A 64 MiB cache keeps the fleet table and B-tree interiors resident.
    if (s->db_.backend() == store::Backend::Sqlite) {
        if (auto r = s->db_.exec("PRAGMA page_size=16384; PRAGMA journal_mode=WAL; "
                                 "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; "
                                 "PRAGMA foreign_keys=OFF;");
            !r)
            return r.error();
    }
    if (auto r = s->migrate(); !r) return r.error();
    if (auto r = s->prepare(); !r) return r.error();
    if (auto r = s->load_fleet(); !r) return r.error();
    if (auto r = s->load_index(); !r) return r.error();
    if (auto r = s->fill_index(); !r) return r.error();
    return s;
}

Result<void> HistoryStore::migrate() {
    const bool pg = db_.backend() == store::Backend::Postgres;
    // PostgreSQL: collectors and dashboards that start together migrate once, one after the
    // other (a transaction-scoped advisory lock; the version is read under it).
    const std::string lock = pg ? "SELECT pg_advisory_xact_lock(7316998103);" : "";
    for (;;) {
        if (auto r = db_.begin(); !r) return r;
        if (!lock.empty()) {
            if (auto r = db_.exec(lock); !r) {
                db_.rollback();
                return r;
            }
        }
        auto v = db_.schema_version();
        if (!v) {
            db_.rollback();
            return v.error();
        }
        const int64_t version = *v;
        if (version > kSchemaVersion) {
            db_.rollback();
            return Error{fmt::format("{} has schema version {}, newer than this program's {}",
                                     where(), version, kSchemaVersion)};
        }
        if (version == kSchemaVersion) {
            db_.rollback();
            return {};
        }
        const bool create_pg = pg && version == 0;
        const int64_t next = create_pg ? kPgBase : version + 1;
        const char* step = !pg         ? kSteps[version]
                           : create_pg ? kPgSchema
                                       : kPgSteps[static_cast<size_t>(version - kPgBase)];
        Result<void> r = db_.exec(step);
        if (r) r = db_.set_schema_version(next);
        if (r) r = db_.commit();
        if (!r) {
            db_.rollback();
            return Error{fmt::format("migrating {} to schema version {}: {}", where(), next,
                                     r.error().message)};
        }
    }
}

Result<void> HistoryStore::prepare() {
    struct Item {
        store::Statement* st;
        const char* sql;
    };
    const bool pg = db_.backend() == store::Backend::Postgres;
    static constexpr const char* kHostCols =
        "id, name, tags, added, first_fetch, last_attempt, last_ok, last_error, last_change, "
        "last_reset, domains_etag, ips_etag, domains_hash, ips_hash, domains, ips";
    const std::string get_host = fmt::format("SELECT {} FROM hosts WHERE name = ?1", kHostCols);
    const std::string all_hosts = fmt::format("SELECT {} FROM hosts ORDER BY name", kHostCols);
    Item items[] = {
        {&get_host_, get_host.c_str()},
        {&all_hosts_, all_hosts.c_str()},
        {&add_host_, "INSERT INTO hosts(name, tags, added) VALUES(?1, ?2, ?3) RETURNING id"},
        {&set_tags_, "UPDATE hosts SET tags = ?2 WHERE id = ?1"},
        {&set_host_,
         "UPDATE hosts SET first_fetch = ?2, last_attempt = ?3, last_ok = ?4, last_error = ?5, "
         "last_change = ?6, last_reset = ?7, domains_etag = ?8, ips_etag = ?9, "
         "domains_hash = ?10, ips_hash = ?11, domains = ?12, ips = ?13 WHERE id = ?1"},
        {&get_state_, kGetState},
        {&put_state_,
         "INSERT INTO snapshots(id, data) VALUES(?1, ?2) "
         "ON CONFLICT(id) DO UPDATE SET data = excluded.data"},
        {&add_first_seen_, "INSERT INTO first_seen VALUES(?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING"},
        {&add_delta_,
         "INSERT INTO deltas VALUES(?1, ?2, ?3, ?4, ?5) "
         "ON CONFLICT(host, time, kind, key) DO UPDATE SET delta = excluded.delta"},
        {&fleet_put_,
         "INSERT INTO fleet VALUES(?1, ?2, ?3) "
         "ON CONFLICT(domain) DO UPDATE SET hosts = excluded.hosts, base_len = excluded.base_len"},
        {&fleet_del_, "DELETE FROM fleet WHERE domain = ?1"},
        {&fleet_all_, "SELECT domain, hosts, base_len FROM fleet"},
        {&add_name_, "INSERT INTO names VALUES(?1) ON CONFLICT DO NOTHING"},
        {&find_names_, pg ? "SELECT name FROM names WHERE strpos(name, ?1) > 0 ORDER BY name"
                          : "SELECT name FROM names WHERE instr(name, ?1) > 0 ORDER BY name"},
        {&add_address_, "INSERT INTO addresses VALUES(?1) ON CONFLICT DO NOTHING"},
        {&find_addresses_, pg ? "SELECT ip FROM addresses WHERE strpos(ip, ?1) > 0 ORDER BY ip"
                              : "SELECT ip FROM addresses WHERE instr(ip, ?1) > 0 ORDER BY ip"},
        {&all_addresses_, "SELECT ip FROM addresses"},
        {&add_answer_, "INSERT INTO answers VALUES(?1, ?2) ON CONFLICT DO NOTHING"},
        {&find_answers_, "SELECT name FROM answers WHERE ip = ?1 ORDER BY name"},
        {&all_answers_, "SELECT ip, name FROM answers"},
        {&add_event_, "INSERT INTO events VALUES(?1, ?2, ?3, ?4)"},
        {&get_events_,
         "SELECT time, kind, detail FROM events WHERE host = ?1 ORDER BY time DESC LIMIT ?2"},
        {&get_meta_, "SELECT value FROM meta WHERE key = ?1"},
        {&put_meta_,
         "INSERT INTO meta VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value"},
    };
    for (auto& item : items) {
        auto st = db_.prepare(item.sql);
        if (!st) return st.error();
        *item.st = std::move(st.value());
    }
    return {};
}

Result<void> HistoryStore::load_fleet() {
    fleet_.clear();
    store::Step rc;
    while ((rc = fleet_all_.step()) == store::Step::Row)
        fleet_.emplace(std::string(fleet_all_.text(0)),
                       FleetEntry{fleet_all_.int64(1), static_cast<size_t>(fleet_all_.int64(2))});
    fleet_all_.reset();
    if (rc != store::Step::Done) return db_.error("cannot read the fleet table");
    auto st = db_.prepare("SELECT count(*) FROM hosts WHERE first_fetch != 0");
    if (!st) return st.error();
    if (st->step() != store::Step::Row) return db_.error("cannot count hosts");
    fleet_size_ = st->int64(0);
    auto ingested = meta("ingest.seq");
    auto checkpointed = meta("fleet.seq");
    if (!ingested) return ingested.error();
    if (!checkpointed) return checkpointed.error();
    ingest_seq_ = ingested->value_or(0);
    if (checkpointed->value_or(0) != ingest_seq_) return rebuild_fleet();
    return {};
}

Result<void> HistoryStore::rebuild_fleet() {
    log_warn(
        "{}: the fleet table is behind the snapshots (a cycle was interrupted): "
        "rebuilding it",
        where());
    auto all = hosts();
    if (!all) return all.error();
    for (const auto& [name, e] : fleet_) fleet_dirty_.insert(name);  // rows to delete
    fleet_.clear();
    for (const auto& h : *all) {
        if (h.first_fetch == 0) continue;
        auto st = load_state(h.id, true, false);
        if (!st) return st.error();
        for (const auto& d : st->domains)
            if (d.stats.present) fleet_add(d.name);
    }
    fleet_undo_.clear();
    if (auto r = begin(); !r) return r;
    if (auto r = checkpoint_fleet(); !r) {
        rollback();
        return r;
    }
    return commit();
}

Result<void> HistoryStore::load_index() {
    known_ips_.clear();
    known_answers_.clear();
    store::Step rc;
    while ((rc = all_addresses_.step()) == store::Step::Row) {
        auto ip = IpAddress::parse(all_addresses_.text(0));
        if (!ip) {
            all_addresses_.reset();
            return Error{
                fmt::format("{}: the addresses table has a row that is not an address", where())};
        }
        known_ips_.insert(ip->key());
    }
    all_addresses_.reset();
    if (rc != store::Step::Done) return db_.error("cannot read the addresses table");
    while ((rc = all_answers_.step()) == store::Step::Row) {
        auto ip = IpAddress::parse(all_answers_.text(0));
        if (!ip) {
            all_answers_.reset();
            return Error{
                fmt::format("{}: the answers table has a row that is not an address", where())};
        }
        known_answers_.insert(ip->key().append(all_answers_.text(1)));
    }
    all_answers_.reset();
    if (rc != store::Step::Done) return db_.error("cannot read the answers table");
    return {};
}

bool HistoryStore::learn(KeySet& set, std::string_view key) {
    if (set.find(key) != set.end()) return false;
    set.emplace(key);
    if (in_tx_) known_undo_.emplace_back(&set, std::string(key));
    return true;
}

Result<void> HistoryStore::index_address(const IpAddress& ip) {
    if (!learn(known_ips_, ip.key())) return {};
    add_address_.bind(1, ip.to_string());
    return db_.queue(add_address_);
}

Result<void> HistoryStore::index_answers(const DomainState& d) {
    for (const IpAddress& ip : d.ips) {
        key_buf_ = ip.key();
        key_buf_ += d.name;
        if (!learn(known_answers_, key_buf_)) continue;
        add_answer_.bind(1, ip.to_string()).bind(2, d.name);
        if (auto r = db_.queue(add_answer_); !r) return r;
    }
    return {};
}

Result<void> HistoryStore::fill_index() {
    auto filled = meta("index.filled");
    if (!filled) return filled.error();
    if (filled->value_or(1) != 0) return {};
    auto hosts = this->hosts();
    if (!hosts) return hosts.error();
    log_info("{}: indexing the names and addresses of {} hosts' states (once, after an upgrade)",
             where(), hosts->size());
    Transaction tx(*this);
    if (auto r = tx.begin(); !r) return r;
    for (const auto& h : *hosts) {
        auto st = load_state(h.id);
        if (!st) return st.error();
        for (const auto& d : st->domains) {
            add_name_.bind(1, d.name);
            if (auto r = db_.queue(add_name_); !r) return r;
            if (auto r = index_answers(d); !r) return r;
        }
        for (const auto& e : st->ips)
            if (auto r = index_address(e.ip); !r) return r;
    }
    if (auto r = set_meta("index.filled", 1); !r) return r;
    return tx.commit();
}

Result<void> HistoryStore::map_for_reading() {
    if (db_.backend() != store::Backend::Sqlite) return {};
    return db_.exec("PRAGMA mmap_size=2147418112");
}

Result<std::vector<std::string>> HistoryStore::first_rows(store::Statement& st,
                                                          std::string_view arg, size_t limit,
                                                          size_t& total) {
    std::vector<std::string> out;
    total = 0;
    st.bind(1, arg);
    store::Step rc;
    while ((rc = st.step()) == store::Step::Row)
        if (++total <= limit) out.emplace_back(st.text(0));
    st.reset();
    if (rc != store::Step::Done) return db_.error("cannot read the dashboard's index");
    return out;
}

Result<std::vector<std::string>> HistoryStore::search_names(std::string_view part, size_t limit,
                                                            size_t& total) {
    return first_rows(find_names_, part, limit, total);
}

Result<std::vector<std::string>> HistoryStore::search_addresses(std::string_view part, size_t limit,
                                                                size_t& total) {
    return first_rows(find_addresses_, part, limit, total);
}

Result<std::vector<std::string>> HistoryStore::answer_names(const IpAddress& ip, size_t limit,
                                                            size_t& total) {
    return first_rows(find_answers_, ip.to_string(), limit, total);
}

namespace {

class StoredBlob : public BlobSource {
  public:
    explicit StoredBlob(store::BlobReader& r) : r_(r) {}
    size_t size() const override { return r_.size(); }
    Result<void> read(size_t offset, size_t n, std::string& out) override {
        return r_.read(offset, n, out);
    }

  private:
    store::BlobReader& r_;
};

}  // namespace

Result<std::vector<std::optional<DomainState>>> HistoryStore::lookup_domain(
    const std::vector<HostRecord>& hosts, std::string_view name) {
    std::vector<std::optional<DomainState>> out(hosts.size());
    store::BlobReader reader(db_, "snapshots", "data");
    StoredBlob blob(reader);
    for (size_t i = 0; i < hosts.size(); ++i) {
        auto there = reader.open(hosts[i].id * 2);
        if (!there) return there.error();
        if (!*there) continue;
        auto d = em::lookup_domain(blob, name);
        if (!d)
            return Error{fmt::format("{}: host {}: {}", where(), hosts[i].name, d.error().message)};
        out[i] = std::move(*d);
    }
    return out;
}

Result<std::vector<std::optional<IpState>>> HistoryStore::lookup_ip(
    const std::vector<HostRecord>& hosts, const IpAddress& ip) {
    std::vector<std::optional<IpState>> out(hosts.size());
    store::BlobReader reader(db_, "snapshots", "data");
    StoredBlob blob(reader);
    for (size_t i = 0; i < hosts.size(); ++i) {
        auto there = reader.open(hosts[i].id * 2 + 1);
        if (!there) return there.error();
        if (!*there) continue;
        auto e = em::lookup_ip(blob, ip);
        if (!e)
            return Error{fmt::format("{}: host {}: {}", where(), hosts[i].name, e.error().message)};
        out[i] = *e;
    }
    return out;
}

Result<void> HistoryStore::checkpoint_fleet() {
    std::vector<std::string_view> names(fleet_dirty_.begin(), fleet_dirty_.end());
    std::sort(names.begin(), names.end());  // B-tree order: each page is touched once
    for (std::string_view name : names) {
        auto it = fleet_.find(name);
        Result<void> r;
        if (it == fleet_.end()) {
            fleet_del_.bind(1, name);
            r = db_.queue(fleet_del_);
        } else {
            fleet_put_.bind(1, name)
                .bind(2, it->second.hosts)
                .bind(3, static_cast<int64_t>(it->second.base_len));
            r = db_.queue(fleet_put_);
        }
        if (!r) return r;
    }
    if (auto r = set_meta("fleet.seq", ingest_seq_); !r) return r;
    checkpointed_ = true;
    return {};
}

Result<void> HistoryStore::begin() {
    if (auto r = db_.begin(); !r) return r;
    in_tx_ = true;
    checkpointed_ = false;
    known_undo_.clear();
    fleet_undo_.clear();
    fleet_size_undo_ = 0;
    tx_ingest_seq_ = ingest_seq_;
    return {};
}

Result<void> HistoryStore::commit() {
    if (auto r = db_.commit(); !r) return r;
    in_tx_ = false;
    if (checkpointed_) fleet_dirty_.clear();
    checkpointed_ = false;
    known_undo_.clear();
    fleet_undo_.clear();
    fleet_size_undo_ = 0;
    return {};
}

void HistoryStore::rollback() {
    if (!in_tx_) return;
    db_.rollback();
    in_tx_ = false;
    deltas_from_ = deltas_to_ = 0;  // a month it added is gone with the transaction
    for (auto it = fleet_undo_.rbegin(); it != fleet_undo_.rend(); ++it) {
        auto f = fleet_.find(it->first);
        if (it->second > 0) {
            if (f != fleet_.end() && --f->second.hosts <= 0) fleet_.erase(f);
        } else if (f != fleet_.end()) {
            ++f->second.hosts;
        } else {
            fleet_.emplace(it->first, FleetEntry{1, folder_.base(unfolded(it->first)).size()});
        }
    }
    fleet_undo_.clear();
    fleet_size_ -= fleet_size_undo_;
    fleet_size_undo_ = 0;
    for (auto it = known_undo_.rbegin(); it != known_undo_.rend(); ++it)
        it->first->erase(it->second);
    known_undo_.clear();
    ingest_seq_ = tx_ingest_seq_;
    checkpointed_ = false;
}

static HostRecord read_host(store::Statement& st) {
    HostRecord h;
    h.id = st.int64(0);
    h.name = st.text(1);
    h.tags = split_tags(st.text(2));
    h.added = st.int64(3);
    h.first_fetch = st.int64(4);
    h.last_attempt = st.int64(5);
    h.last_ok = st.int64(6);
    h.last_error = st.text(7);
    h.last_change = st.int64(8);
    h.last_reset = st.int64(9);
    h.domains_etag = st.text(10);
    h.ips_etag = st.text(11);
    h.domains_hash = st.text(12);
    h.ips_hash = st.text(13);
    h.domains = st.int64(14);
    h.ips = st.int64(15);
    return h;
}

Result<HostRecord> HistoryStore::host(const std::string& name, const std::vector<std::string>& tags,
                                      int64_t now) {
    get_host_.bind(1, name);
    const store::Step rc = get_host_.step();
    std::optional<HostRecord> h;
    if (rc == store::Step::Row) h = read_host(get_host_);
    get_host_.reset();
    if (rc == store::Step::Failed) return db_.error("cannot read host " + name);
    const std::string joined = join_tags(tags);
    if (!h) {
        add_host_.bind(1, name).bind(2, joined).bind(3, now);
        const store::Step added = add_host_.step();
        const int64_t id = added == store::Step::Row ? add_host_.int64(0) : 0;
        add_host_.reset();
        if (added != store::Step::Row) return db_.error("cannot add host " + name);
        HostRecord created;
        created.id = id;
        created.name = name;
        created.tags = tags;
        created.added = now;
        return created;
    }
    if (h->tags != tags) {
        set_tags_.bind(1, h->id).bind(2, joined);
        if (auto r = db_.run(set_tags_); !r) return r.error();
        h->tags = tags;
    }
    return *h;
}

Result<std::vector<HostRecord>> HistoryStore::hosts() {
    std::vector<HostRecord> out;
    store::Step rc;
    while ((rc = all_hosts_.step()) == store::Step::Row) out.push_back(read_host(all_hosts_));
    all_hosts_.reset();
    if (rc != store::Step::Done) return db_.error("cannot list hosts");
    return out;
}

Result<void> HistoryStore::write_host(const HostRecord& h) {
    set_host_.bind(1, h.id)
        .bind(2, h.first_fetch)
        .bind(3, h.last_attempt)
        .bind(4, h.last_ok)
        .bind(5, h.last_error)
        .bind(6, h.last_change)
        .bind(7, h.last_reset)
        .bind(8, h.domains_etag)
        .bind(9, h.ips_etag)
        .bind(10, h.domains_hash)
        .bind(11, h.ips_hash)
        .bind(12, h.domains)
        .bind(13, h.ips);
    if (auto r = db_.queue(set_host_); !r)
        return Error{"host " + h.name + ": " + r.error().message};
    return {};
}

Result<void> HistoryStore::record_failure(HostRecord& h, int64_t now, const std::string& error) {
    h.last_attempt = now;
    h.last_error = storable_text(error);
    return write_host(h);
}

Result<void> HistoryStore::record_unchanged(HostRecord& h, int64_t now, const FileMeta* meta) {
    h.last_attempt = now;
    h.last_ok = now;
    h.last_error.clear();
    // A 304 may come without ETags: keep the stored ones then.
    if (meta && !meta->domains_etag.empty()) h.domains_etag = meta->domains_etag;
    if (meta && !meta->ips_etag.empty()) h.ips_etag = meta->ips_etag;
    return write_host(h);
}

Result<void> HistoryStore::status_only() {
    if (db_.backend() != store::Backend::Postgres) return {};
    return db_.exec("SET LOCAL synchronous_commit = off");
}

Result<std::string> HistoryStore::read_state(int64_t host_id, char kind) {
    return read_blob(db_, get_state_, host_id, kind);
}

Result<void> HistoryStore::write_state(const HostRecord& h, char kind, const std::string& blob) {
    put_state_.bind(1, h.id * 2 + (kind == 'i' ? 1 : 0)).bind_blob(2, blob);
    if (auto r = db_.queue(put_state_); !r)
        return Error{"host " + h.name + ": " + r.error().message};
    return {};
}

Result<HostState> HistoryStore::load_state(int64_t host_id, bool domains, bool ips) {
    return load_host_state(db_, get_state_, host_id, domains, ips);
}

Result<std::unique_ptr<StateReader>> StateReader::open(const std::string& target) {
    auto db = store::Database::open(target, true);
    if (!db) return db.error();
    std::unique_ptr<StateReader> r(new StateReader(std::move(db.value())));
    auto st = r->db_.prepare(kGetState);
    if (!st) return st.error();
    r->get_ = std::move(st.value());
    return r;
}

Result<HostState> StateReader::load(int64_t host_id) {
    return load_host_state(db_, get_, host_id, true, true);
}

int64_t HistoryStore::fleet_hosts(std::string_view domain) const {
    auto it = fleet_.find(domain);
    return it == fleet_.end() ? 0 : it->second.hosts;
}

std::vector<std::pair<std::string, int64_t>> HistoryStore::fleet_rare(int64_t max_hosts) const {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& [name, e] : fleet_)
        if (e.hosts > 0 && e.hosts <= max_hosts) out.emplace_back(name, e.hosts);
    return out;
}

std::string_view HistoryStore::base(std::string_view name) const {
    auto it = fleet_.find(name);
    if (it != fleet_.end() && it->second.base_len <= name.size())
        return name.substr(name.size() - it->second.base_len);
    return folder_.base(unfolded(name));
}

size_t HistoryStore::fleet_add(const std::string& domain) {
    auto it = fleet_.find(domain);
    if (it == fleet_.end())
        it = fleet_.emplace(domain, FleetEntry{0, folder_.base(unfolded(domain)).size()}).first;
    ++it->second.hosts;
    fleet_undo_.emplace_back(domain, 1);
    fleet_dirty_.insert(domain);
    return it->second.base_len;
}

void HistoryStore::fleet_remove(const std::string& domain) {
    auto it = fleet_.find(domain);
    if (it == fleet_.end()) {
        log_warn("{}: the fleet counts have no {}: not decremented", where(), domain);
        return;
    }
    fleet_undo_.emplace_back(domain, -1);
    fleet_dirty_.insert(domain);
    if (--it->second.hosts <= 0) fleet_.erase(it);
}

Result<std::optional<int64_t>> HistoryStore::meta(const std::string& key) {
    get_meta_.bind(1, key);
    const store::Step rc = get_meta_.step();
    std::optional<int64_t> out;
    if (rc == store::Step::Row) out = get_meta_.int64(0);
    get_meta_.reset();
    if (rc == store::Step::Failed) return db_.error("cannot read meta " + key);
    return out;
}

Result<void> HistoryStore::set_meta(const std::string& key, int64_t value) {
    put_meta_.bind(1, key).bind(2, value);
    return db_.queue(put_meta_);
}

Result<void> HistoryStore::cover_deltas(int64_t t) {
    if (db_.backend() != store::Backend::Postgres || (t >= deltas_from_ && t < deltas_to_))
        return {};
    // The month of t and the next one, so that the turn of the month needs no DDL.
    auto st = db_.prepare("SELECT em_deltas_month(em_deltas_month(?1))");
    if (!st) return st.error();
    st->bind(1, t);
    if (st->step() != store::Step::Row) return db_.error("cannot add a month to deltas");
    deltas_from_ = t;
    deltas_to_ = st->int64(0);
    return {};
}

Result<void> HistoryStore::prune_deltas(int64_t before) {
    if (db_.backend() == store::Backend::Postgres) {
        // Whole months, each a partition: a month goes when all of it is older than `before`.
        auto st = db_.prepare("SELECT em_drop_deltas_before(?1)");
        if (!st) return st.error();
        st->bind(1, before);
        if (st->step() != store::Step::Row) return db_.error("cannot drop old months of deltas");
        return {};
    }
    // Per host: a range of the (host, time, ...) key, not a scan of the whole table.
    auto st = db_.prepare("DELETE FROM deltas WHERE host = ?1 AND time < ?2");
    if (!st) return st.error();
    auto all = hosts();
    if (!all) return all.error();
    for (const auto& h : *all) {
        st->bind(1, h.id).bind(2, before);
        if (auto r = db_.run(*st); !r) return r;
    }
    return {};
}

Result<std::vector<std::tuple<int64_t, std::string, std::string>>> HistoryStore::events(
    int64_t host_id, size_t limit) {
    std::vector<std::tuple<int64_t, std::string, std::string>> out;
    get_events_.bind(1, host_id).bind(2, static_cast<int64_t>(limit));
    store::Step rc;
    while ((rc = get_events_.step()) == store::Step::Row)
        out.emplace_back(get_events_.int64(0), std::string(get_events_.text(1)),
                         std::string(get_events_.text(2)));
    get_events_.reset();
    if (rc != store::Step::Done) return db_.error("cannot read events");
    return out;
}

}  // namespace em
