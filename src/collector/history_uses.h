#pragma once
// Who used each destination on a host, as its agent last sent it (process-uses.log,
// format/aggregate.h), kept in the history store's process_uses table (schema: history.cpp)
// for the dashboard's host page. One row per host: the file's text as the collector accepted
// it (parse_process_uses_file passed it), replaced with each new snapshot that came with the
// file and removed when the host's agent stops sending one. Callers never write SQL against
// the table.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "core/sqlite.h"

namespace em {

/// What the collector accepts of a host's process-uses.log (larger is refused, the snapshot
/// stands): a bound on what one host adds to the history.
inline constexpr size_t kMaxProcessUsesBytes = size_t{32} << 20;
inline constexpr size_t kMaxProcessUsesLines = 400000;

/// Replaces `host_id`'s stored uses with `text` (already accepted), fetched at `now`. Inside
/// the host's ingest transaction.
Result<void> store_process_uses(sql::Database& db, int64_t host_id, int64_t now,
                                std::string_view text);
/// Removes them (the host's agent no longer sends the file).
Result<void> forget_process_uses(sql::Database& db, int64_t host_id);

struct StoredUses {
    int64_t fetched_at = 0;
    std::string text;  // process-uses.log as accepted
};
/// The host's stored uses; nullopt when it has none.
Result<std::optional<StoredUses>> load_process_uses(sql::Database& db, int64_t host_id);

}  // namespace em
