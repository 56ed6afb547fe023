#pragma once
// Ledger: the committed state of one host — exact totals per domain and per destination
// address, the source cursors that produced them, and cumulative counters — in one SQLite
// database (WAL). commit() folds a Batch and the new cursors in a single transaction: that
// is the point that makes counting exactly-once whatever instant the process dies at.
// Single-threaded; one process at a time (the caller holds the state-directory lock).
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "core/batch.h"
#include "core/domain_folder.h"
#include "core/sqlite.h"

namespace em {

struct DomainRow {
    std::string_view name;
    int64_t count;
    int64_t last_seen;
    const std::vector<IpAddress>* ips;  // numerically sorted
};

struct IpRow {
    IpAddress ip;
    int64_t count;
    int64_t last_seen;
};

/// The agent's ports per destination (port 0 with proto: "other ports" beyond the bound).
struct PortRow {
    IpAddress ip;
    uint8_t proto;
    uint16_t port;
    int64_t count;
    int64_t direct;
};

/// Who used a destination (Batch::add_process_use): kind 'd' (domain queried) or 'i'
/// (address a flow was opened to, RFC 5952 text); the views last for the callback only.
struct ProcessUseRow {
    char kind;
    std::string_view dest, exe, user, container;
    int64_t count;
    int64_t first_seen, last_seen;
};

/// A name flows' first packets gave for an address (Batch::add_flow_name); `protocol` is a
/// FirstPacketProtocol's value. The name's view lasts for the callback only.
struct FlowNameRow {
    IpAddress ip;
    std::string_view name;
    uint8_t protocol;
    int64_t count;
    int64_t first_seen, last_seen;
    bool ech;
};

class Ledger {
  public:
    /// Opens or creates the database at `path`; migrates older schemas.
    static Result<Ledger> open(const std::string& path, size_t max_ips_per_domain);

    /// The stored cursor text of a source, or nullopt when the source is new.
    Result<std::optional<std::string>> cursor(const std::string& source);
    /// Folds `batch` and stores `cursors` (source → text) in one transaction, and advances
    /// the commit generation. With a `folder`, a name new to the ledger whose registrable
    /// domain already has the folder's limit of names is counted under "*.<registrable>";
    /// last_folded() tells how many names were.
    Result<void> commit(const Batch& batch, const std::map<std::string, std::string>& cursors,
                        const DomainFolder* folder = nullptr);
    int64_t last_folded() const { return last_folded_; }
    /// Bounds on the number of domain and address lines (0: none). Reaching one never drops
    /// egress: a name new to the ledger beyond max_domains is counted under a coarser line
    /// (DomainFolder: "*.*.<ICANN registrable domain>", then "*.*.<top-level domain>", then
    /// "*.*"; a few percent of lines beyond the bound at most), an address new beyond max_ips
    /// under its family's unspecified address (0.0.0.0 or ::). Totals stay exact. Counted
    /// under "domains.capacity_folded_names/_queries" and "ips.capacity_folded_addresses/
    /// _flows"; last_capacity_folded() tells how many keys the last commit folded so. The
    /// bounds and the line counts are kept in the meta table (max_domains, max_ips,
    /// domain_rows, ip_rows) for readers of the ledger.
    /// Also bounds the process-use rows to max_domains + max_ips (none when either is 0).
    void set_caps(size_t max_domains, size_t max_ips) {
        max_domains_ = max_domains;
        max_ips_ = max_ips;
        max_process_uses_ = max_domains && max_ips ? max_domains + max_ips : 0;
        max_flow_names_ = max_ips;
    }
    int64_t last_capacity_folded() const { return last_capacity_folded_; }
    /// What the callers log when the last commit folded at capacity (one line).
    std::string capacity_warning() const;
    /// Bound on the process-use rows (0: none), after set_caps. A row new to the ledger
    /// beyond it is not stored: its count goes to the counter "process_use.over_cap", and
    /// last_process_use_over_cap() tells how many rows the last commit refused.
    void set_process_use_cap(size_t max_rows) { max_process_uses_ = max_rows; }
    int64_t last_process_use_over_cap() const { return last_process_use_over_cap_; }

    /// Generation of the last commit, and of the last render of the aggregate files.
    Result<int64_t> generation(const char* which);
    Result<void> set_rendered(int64_t generation);

    /// Rows with count > 0, sorted by name (byte order), with their addresses.
    Result<void> for_each_domain(const std::function<void(const DomainRow&)>& fn);
    /// Rows sorted numerically, IPv4 first.
    Result<void> for_each_ip(const std::function<void(const IpRow&)>& fn);
    Result<std::map<std::string, int64_t>> counters();
    /// Rows sorted by address, protocol, port.
    Result<void> for_each_port(const std::function<void(const PortRow&)>& fn);
    static constexpr int64_t kMaxPortsPerIp = 16;
    /// Rows sorted by address, name, protocol. At most kMaxNamesPerIp names per address and,
    /// with caps (set_caps), max_ips rows: names beyond are counted, not stored
    /// ("first_packets.names_over_cap").
    Result<void> for_each_flow_name(const std::function<void(const FlowNameRow&)>& fn);
    static constexpr int64_t kMaxNamesPerIp = 8;
    /// Rows sorted by kind, destination, exe, user, container (byte order).
    Result<void> for_each_process_use(const std::function<void(const ProcessUseRow&)>& fn);

  private:
    Ledger(sql::Database db, size_t cap) : db_(std::move(db)), max_ips_per_domain_(cap) {}
    Result<void> prepare();
    Result<bool> has_domain(std::string_view name);
    Result<int64_t> names_under(std::string_view base);
    Result<void> commit_process_uses(const Batch& batch, const DomainFolder* folder);
    Result<void> commit_flow_names(const Batch& batch);
    /// At max_domains: points `target` at the coarser line a new name goes to (see
    /// set_caps); true when that line is new. Sets capacity_base_.
    Result<bool> capacity_target(std::string& target, int64_t rows, const DomainFolder* folder);

    sql::Database db_;
    size_t max_ips_per_domain_;
    int64_t last_folded_ = 0;
    int64_t last_capacity_folded_ = 0;
    int64_t last_process_use_over_cap_ = 0;
    size_t max_domains_ = 0, max_ips_ = 0, max_process_uses_ = 0, max_flow_names_ = 0;
    Result<int64_t> count_rows(const char* table);
    Result<bool> has_ip(const IpAddress& ip);
    sql::Statement domain_exists_, names_under_base_, upsert_domain_, upsert_domain_ip_,
        prune_domain_ips_, upsert_ip_, upsert_cursor_, add_counter_, get_cursor_, ip_exists_,
        upsert_port_, ports_of_ip_, process_use_exists_, upsert_process_use_, rows_with_base_,
        set_meta_, flow_name_exists_, names_of_ip_, upsert_flow_name_;
    std::string capacity_base_;  // the base column of the line capacity_target() chose
    bool created_ = false;
    std::unordered_map<std::string, std::string> redirected_;  // this commit: name → line
};

}  // namespace em
