#pragma once
// The collector's history store: one SQL store (store/store.h) — an SQLite file (WAL, the
// embedded default) or a PostgreSQL database (a fleet's shared store) — whose schema is
// versioned and migrated one step at a time, holding
//   hosts       name, tags, first_fetch (first accepted snapshot), last_attempt, last_ok,
//               last_error, last_change (a file's content last changed), last_reset, ETags,
//               SHA-256 of each file as last accepted, present keys per file
//   snapshots   per host and file, the current state as one compact blob (history_state.h)
//   first_seen  (host, kind, key, first_seen) for keys that appeared after the host's first
//               snapshot — "when did this start"
//   deltas      (host, time, kind, key, delta) for each key whose counter grew in a fetch
//               after the first — "when, how often, how much"
//   fleet       domain → number of hosts whose files list it now (rarity), with the length
//               of its registrable domain. The counts live in memory while the store is open
//               (ingest keeps them exact) and are written to this table by
//               checkpoint_fleet(), with the ingest sequence number they include; at open a
//               table behind the snapshots (a cycle interrupted before its checkpoint) is
//               rebuilt from the stored snapshots.
//   names, addresses, answers
//               every domain and address any host has listed (now or before), and every
//               (address, name) an answer named: what the dashboard's search and address
//               page read instead of every host's state
//   process_uses
//               per host, who used each destination (history_uses.h)
//   events      (host, time, kind, detail): counter resets
//   alerts      owned by AlertBook (alerts.h); created here so one schema version covers all
// kind is 'd' (unique-domains.log) or 'i' (unique-ips.log); addresses are stored as text.
//
// Ingest of one host happens inside one Transaction: the host row, its snapshot, first_seen,
// deltas and events change together or not at all (and so do the in-memory fleet counts). Not
// thread-safe; one writer per database (SQLite's lock serialises processes; collectors that
// share a PostgreSQL database are not supported yet).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "collector/history_state.h"
#include "common/result.h"
#include "core/domain_folder.h"
#include "format/aggregate.h"
#include "store/store.h"

namespace em {

struct HostRecord {
    int64_t id = 0;
    std::string name;
    std::vector<std::string> tags;
    int64_t added = 0;        // first cycle that named the host
    int64_t first_fetch = 0;  // first accepted snapshot; 0 = none yet
    int64_t last_attempt = 0, last_ok = 0, last_change = 0, last_reset = 0;
    std::string last_error;  // empty after a good fetch
    std::string domains_etag, ips_etag;
    std::string domains_hash, ips_hash;  // hex SHA-256 of the accepted files
    int64_t domains = 0, ips = 0;        // present keys
};

/// One key whose counter grew in this ingest.
struct KeyChange {
    char kind = 'd';   // 'd' or 'i'
    size_t index = 0;  // into HostState::domains or ::ips
    int64_t delta = 0;
    int64_t prev_deltas = 0, prev_delta_sum = 0;  // the key's delta history before this one
    bool new_key = false;                         // first seen on this host now
};

/// What an ingest changed.
struct IngestOutcome {
    bool first = false;  // the host's first accepted snapshot (a baseline: no deltas)
    bool domains_reset = false, ips_reset = false;
    std::string reset_detail;
    std::vector<KeyChange> changes;  // empty for the first snapshot
    size_t new_keys = 0;             // keys first seen now (not on the first snapshot)
    // Domains that appeared in / left the host's files: indices into HostState::domains.
    std::vector<size_t> fleet_added, fleet_removed;
    // Domains new to the host or whose answer's addresses changed (HostState::domains), and
    // addresses new to the host (HostState::ips): what the dashboard's index may lack.
    std::vector<size_t> answers_changed, ips_added;
};

/// Hash of the two files and the ETags they came with.
struct FileMeta {
    std::string domains_hash, ips_hash;
    std::string domains_etag, ips_etag;
};

/// Hex SHA-256 (OpenSSL).
std::string sha256_hex(std::string_view data);

class HistoryStore {
  public:
    /// Opens or creates the store at `target` (an SQLite path or a "postgresql://" URL) and
    /// migrates it to the current schema; loads the fleet table.
    static Result<std::unique_ptr<HistoryStore>> open(const std::string& target);
    ~HistoryStore();

    store::Database& db() { return db_; }
    /// What open() was given (a URL may hold a password: not for messages).
    const std::string& target() const { return target_; }
    /// The store for messages (store::Database::where()).
    const std::string& where() const { return db_.where(); }

    /// BEGIN IMMEDIATE / COMMIT / ROLLBACK. The in-memory fleet follows: a rollback undoes
    /// the fleet changes made since begin().
    Result<void> begin();
    Result<void> commit();
    void rollback();

    /// The host's row, created (added = now) when missing; tags updated when they differ.
    Result<HostRecord> host(const std::string& name, const std::vector<std::string>& tags,
                            int64_t now);
    Result<std::vector<HostRecord>> hosts();
    /// A failed (or rejected) fetch: last_attempt and last_error.
    Result<void> record_failure(HostRecord& h, int64_t now, const std::string& error);
    /// A good fetch whose files did not change (304, or the same hashes).
    Result<void> record_unchanged(HostRecord& h, int64_t now, const FileMeta* meta = nullptr);
    /// The open transaction records only a host's status (when it was fetched, its ETags): on
    /// PostgreSQL it commits without waiting for the WAL to reach the disk (synchronous_commit
    /// off for this transaction alone), as most hosts of a steady cycle answer 304. A server
    /// crash may lose the last such timestamps — never a snapshot, an alert or an action;
    /// a lost ETag only makes the next fetch a full one.
    Result<void> status_only();

    /// Applies an accepted snapshot of `h` at `now`: diffs it against the stored state,
    /// detects counter resets, writes first_seen, deltas, fleet and the new state (returned
    /// in `state` for the rules). Must run inside begin()/commit().
    ///
    /// Reset: a key's counter below the stored value, or more than half of the present keys
    /// gone, in one file. Then that file's counters start again from zero (every count is
    /// its delta), an event is recorded, and keys known before stay known (no first_seen).
    /// `preloaded`: the host's stored state read beforehand (StateReader), consumed; null:
    /// read here.
    Result<IngestOutcome> ingest(HostRecord& h, Snapshot&& snap, const FileMeta& meta, int64_t now,
                                 HostState& state, HostState* preloaded = nullptr);

    /// The stored state of a host (empty when none).
    Result<HostState> load_state(int64_t host_id, bool domains = true, bool ips = true);

    /// Hosts whose files list `domain` now (0 when none).
    int64_t fleet_hosts(std::string_view domain) const;
    /// Domains listed by at most `max_hosts` hosts (and at least one).
    std::vector<std::pair<std::string, int64_t>> fleet_rare(int64_t max_hosts) const;
    /// Hosts with an accepted snapshot.
    int64_t fleet_size() const { return fleet_size_; }
    /// The registrable domain of `name` ("*." folded names: of the rest); cached for the
    /// fleet's domains.
    std::string_view base(std::string_view name) const;
    /// The registrable domain under ICANN suffixes only (DomainFolder::icann_base):
    /// "cloudfront.net" for "d1a2b3.cloudfront.net", whose base() is itself.
    std::string_view icann_base(std::string_view name) const {
        return folder_.icann_base(DomainFolder::unfolded(name));
    }

    /// A small persistent integer, for the collector's own bookkeeping.
    Result<std::optional<int64_t>> meta(const std::string& key);
    Result<void> set_meta(const std::string& key, int64_t value);

    /// Writes the fleet counts changed since the last checkpoint to the fleet table; call
    /// inside a transaction (the collector does at the end of each cycle).
    Result<void> checkpoint_fleet();

    /// Drops the deltas older than `before`: SQLite deletes the rows, PostgreSQL drops the
    /// months (partitions) that end by then, so a row is kept up to a month longer there.
    Result<void> prune_deltas(int64_t before);

    /// SQLite: reads the database through a memory map (PRAGMA mmap_size; Debian's SQLite maps at
    /// most its first 2 GiB). For the dashboard: a lookup reads a few KiB of each host's
    /// state, and reaching them along a blob's chain of overflow pages otherwise copies every
    /// page on the way (1,000 hosts: 184 ms a domain page instead of 13 ms).
    Result<void> map_for_reading();
    /// `name`'s entry in each of `hosts`' states (nullopt: none), read in place: a few KiB
    /// of each host's state instead of all of it (the dashboard's domain page).
    Result<std::vector<std::optional<DomainState>>> lookup_domain(
        const std::vector<HostRecord>& hosts, std::string_view name);
    /// The same for `ip` in each host's addresses.
    Result<std::vector<std::optional<IpState>>> lookup_ip(const std::vector<HostRecord>& hosts,
                                                          const IpAddress& ip);
    /// The domains any host has ever listed that contain `part`, sorted; the first `limit`
    /// of them, and how many there are in `total`.
    Result<std::vector<std::string>> search_names(std::string_view part, size_t limit,
                                                  size_t& total);
    /// The same for the addresses (as text) any host has ever listed.
    Result<std::vector<std::string>> search_addresses(std::string_view part, size_t limit,
                                                      size_t& total);
    /// The names an answer in any host's files has named `ip` for (since the index began).
    Result<std::vector<std::string>> answer_names(const IpAddress& ip, size_t limit, size_t& total);
    /// Last `limit` events of a host, newest first: (time, kind, detail).
    Result<std::vector<std::tuple<int64_t, std::string, std::string>>> events(int64_t host_id,
                                                                              size_t limit);

  private:
    HistoryStore(store::Database db, std::string target, DomainFolder folder);
    Result<void> migrate();
    Result<void> prepare();
    Result<void> load_fleet();
    Result<void> rebuild_fleet();
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
    };
    using KeySet = std::unordered_set<std::string, Hash, std::equal_to<>>;
    Result<void> load_index();
    Result<void> fill_index();
    // Adds `key` to `set` (undone if the open transaction rolls back); false if it was there.
    bool learn(KeySet& set, std::string_view key);
    Result<void> index_address(const IpAddress& ip);
    // PostgreSQL: deltas has a partition for time t (cover_deltas adds it when missing).
    Result<void> cover_deltas(int64_t t);
    Result<void> index_answers(const DomainState& d);
    Result<std::vector<std::string>> first_rows(store::Statement& st, std::string_view arg,
                                                size_t limit, size_t& total);
    // Both return the registrable domain's length.
    size_t fleet_add(const std::string& domain);
    void fleet_remove(const std::string& domain);
    Result<void> write_state(const HostRecord& h, char kind, const std::string& blob);
    Result<std::string> read_state(int64_t host_id, char kind);
    Result<void> write_host(const HostRecord& h);

    struct FleetEntry {
        int64_t hosts = 0;
        size_t base_len = 0;
    };
    using FleetMap = std::unordered_map<std::string, FleetEntry, Hash, std::equal_to<>>;

    store::Database db_;
    std::string target_;
    DomainFolder folder_;
    FleetMap fleet_;
    int64_t fleet_size_ = 0;
    // Undo log of the open transaction: (domain, +1 added / -1 removed), fleet_size change.
    std::vector<std::pair<std::string, int>> fleet_undo_;
    int64_t fleet_size_undo_ = 0;
    bool in_tx_ = false;
    std::unordered_set<std::string> fleet_dirty_;  // changed since the last checkpoint
    bool checkpointed_ = false;                    // in the open transaction
    int64_t ingest_seq_ = 0;                       // ingests committed, ever
    int64_t deltas_from_ = 0, deltas_to_ = 0;      // times deltas has a partition for (PG)
    int64_t tx_ingest_seq_ = 0;                    // at begin()

    store::Statement get_host_, add_host_, set_host_, set_tags_, all_hosts_;
    store::Statement get_state_, put_state_;
    store::Statement add_first_seen_, add_delta_;
    store::Statement fleet_put_, fleet_del_, fleet_all_;
    store::Statement add_name_, find_names_, add_address_, find_addresses_, all_addresses_;
    store::Statement add_answer_, find_answers_, all_answers_;
    // What the addresses and answers tables hold (IpAddress::key(), and key() + name), so
    // that ingest inserts only what is new to the fleet: a first cycle meets every host's
    // keys. Memory grows with the fleet's distinct addresses and pairs, as the fleet map does.
    KeySet known_ips_, known_answers_;
    std::vector<std::pair<KeySet*, std::string>> known_undo_;
    std::string key_buf_;
    store::Statement add_event_, get_events_;
    store::Statement get_meta_, put_meta_;
};

/// A second, read-only connection to the store that reads and decodes host states off the
/// writer's thread (it sees the last committed state — SQLite's WAL, PostgreSQL's MVCC — so
/// only for hosts the writer is not changing). Used by one thread at a time.
class StateReader {
  public:
    static Result<std::unique_ptr<StateReader>> open(const std::string& target);
    Result<HostState> load(int64_t host_id);

  private:
    explicit StateReader(store::Database db) : db_(std::move(db)) {}
    store::Database db_;
    store::Statement get_;
};

/// Rolls back on destruction unless committed.
class Transaction {
  public:
    explicit Transaction(HistoryStore& store) : store_(store) {}
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    Result<void> begin() {
        auto r = store_.begin();
        open_ = r.ok();
        return r;
    }
    Result<void> commit() {
        auto r = store_.commit();
        if (r) open_ = false;
        return r;
    }
    ~Transaction() {
        if (open_) store_.rollback();
    }

  private:
    HistoryStore& store_;
    bool open_ = false;
};

}  // namespace em
