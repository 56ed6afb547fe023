#pragma once
// Folds dnsmasq 2.90 query-log lines into a Batch (see docs/consolidate.md, "What is counted").
//
// Accepts both layouts — `log-queries` and `log-queries=extra` (which inserts
// "SERIAL CLIENT/PORT " after the tag) — written by `log-facility=FILE` ("Mon DD HH:MM:SS
// dnsmasq[PID]: ...") or through syslog (a hostname before the tag, or an RFC 3339 stamp).
// With `extra`, an answer is credited to the name of the query with the same (pid, serial);
// without it, to the first name of the CNAME chain being logged by that process.
// The parser keeps that small attribution state between calls, and save_state/load_state
// carry it across runs so an answer logged after a commit still reaches its query.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"
#include "core/batch.h"

namespace em {

struct DnsmasqCounters {
    uint64_t lines = 0;
    uint64_t queries = 0;
    uint64_t answers = 0;      // addresses credited to a domain
    uint64_t ignored = 0;      // forwarded, DNSSEC, start-up and other dnsmasq lines
    uint64_t other = 0;        // lines of other programs in a shared syslog file
    uint64_t malformed = 0;    // damaged lines: skipped
    uint64_t unprintable = 0;  // "<name unprintable>" fields: counted as DomainFolder::kUnprintable
};

class DnsmasqParser {
  public:
    explicit DnsmasqParser(int64_t now) : clock_(now), slots_(kSlots) {}

    /// Parses complete lines (the last may lack its '\n'); an empty view is one over-long
    /// line the reader dropped. `where` names the input in diagnostics.
    void feed(std::string_view lines, Batch& batch, const std::string& where);

    std::string save_state() const;
    void load_state(std::string_view text);
    const DnsmasqCounters& counters() const { return counters_; }

  private:
    static constexpr size_t kSlots = 4096;  // recent queries remembered for attribution
    struct Slot {
        uint64_t key = UINT64_MAX;  // pid << 32 | serial
        std::string name;
        DomainDelta* delta = nullptr;  // the name's entry in the batch with this id
        uint64_t batch_id = 0;
    };
    void line(std::string_view l, Batch& batch, const std::string& where);
    void malformed(std::string_view l, const std::string& where, const char* why);
    /// A name field into name_buf_ (normalised); false when it is not a name.
    bool domain_name(std::string_view field);
    void remember(uint64_t key, std::string_view name, DomainDelta* delta, uint64_t batch_id);
    Slot* recall(uint64_t key);

    SyslogClock clock_;
    std::vector<Slot> slots_;
    std::map<uint32_t, std::string> chain_head_;  // plain layout: pid → chain head (ordered:
                                                  // save_state is canonical)
    std::string name_buf_;
    DnsmasqCounters counters_;
    uint64_t reported_ = 0;
};

}  // namespace em
