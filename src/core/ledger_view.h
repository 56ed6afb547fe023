#pragma once
// A reader's view of the ledger (ledger.h) that another process writes: the serving endpoint
// reads the counters, the generations, the capacity state and the agent's ports per
// destination without knowing the schema. Each read opens a fresh read-only connection and
// reads in one transaction (the writer uses WAL; a connection kept open would pin an old
// snapshot), so the values are those of one commit. Never writes, never creates the file.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/ledger.h"

namespace em {

/// A FlowNameRow that owns its name, with the DNS names the ledger holds for its address.
struct FlowNameEntry {
    IpAddress ip;
    std::string name;
    uint8_t protocol = 0;  // FirstPacketProtocol's value
    int64_t count = 0, first_seen = 0, last_seen = 0;
    bool ech = false;
};

struct LedgerSnapshot {
    bool present = false;  // the file exists and could be read
    std::string error;     // why it could not be read ("" when it could, or is missing)
    std::map<std::string, int64_t> counters;
    std::map<std::string, int64_t> generations;  // commit_generation, rendered_generation
    std::map<std::string, int64_t> capacity;     // meta: max_domains, max_ips, domain_rows, ip_rows
    std::vector<PortRow> ports;                  // with_ports only; empty for a cron-mode ledger
    // with_ports only: the names first packets gave (sorted by address, name, protocol), and
    // per such address (its RFC 5952 text) the names DNS answers gave it, sorted.
    std::vector<FlowNameEntry> flow_names;
    std::map<std::string, std::vector<std::string>> dns_names;
};

/// Reads the ledger at `path`. A missing file is not an error (present false, error "");
/// an unreadable one sets `error` (naming the path and SQLite's message) and leaves the
/// counters and generations empty. Waits up to 1 s for a writer's lock.
LedgerSnapshot read_ledger_snapshot(const std::string& path, bool with_ports = false);

/// One table's capacity (Ledger::set_caps) as the last commit left it.
struct TableCapacity {
    const char* table;  // "domains" or "ips"
    int64_t lines, limit;
    bool at_capacity() const { return limit > 0 && lines >= limit; }
};

/// The tables with a bound, from LedgerSnapshot::capacity; none when the ledger has no
/// bound (or predates the capacity state).
std::vector<TableCapacity> capacities(const std::map<std::string, int64_t>& meta);

}  // namespace em
