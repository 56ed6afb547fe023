#pragma once
// Read-only questions about a host's past that the dashboard asks of the history store, kept
// beside the schema they read (history.cpp): callers never write SQL against it.
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/store.h"

namespace em {

/// One UTC day of a host's growth: keys first seen that day (after its first snapshot, which
/// is a baseline), and the sum of its counters' growth (lookups of domains, connections to
/// addresses).
struct DayGrowth {
    int64_t day = 0;  // Unix seconds at 00:00 UTC
    int64_t new_domains = 0, new_ips = 0;
    int64_t domain_growth = 0, ip_growth = 0;
};

/// The days from `since` to `now` (both included), oldest first, zeros where nothing grew.
/// At most 366 days.
Result<std::vector<DayGrowth>> host_growth(store::Database& db, int64_t host_id, int64_t since,
                                           int64_t now);

/// How many hosts list `domain` now, from the fleet table the collector writes at the end of
/// each cycle (0 when none); and how many hosts have a snapshot at all.
Result<int64_t> fleet_hosts_stored(store::Database& db, std::string_view domain);
Result<int64_t> hosts_with_snapshot(store::Database& db);

}  // namespace em
