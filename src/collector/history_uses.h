#pragma once
// Who used each destination on a host, as its agent last sent it (process-uses.log,
// format/aggregate.h), kept in the history store's process_uses table (schema: history.cpp)
// for the dashboard's host page. One row per host: the file's text as the collector accepted
// it (parse_process_uses_file passed it, within kMaxProcessUsesLines and
// kMaxProcessUsesBytes), its SHA-256 and ETag; replaced when the host sends another, removed
// when its agent stops sending one. Callers never write SQL against the table.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "store/store.h"

namespace em {

/// Replaces `host_id`'s stored uses with `text` (already accepted; `hash` its hex SHA-256),
/// fetched at `now` with entity tag `etag`. Inside the host's transaction.
Result<void> store_process_uses(store::Database& db, int64_t host_id, int64_t now,
                                std::string_view etag, std::string_view hash,
                                std::string_view text);
/// The same content again under another entity tag (a restarted agent): the tag only.
Result<void> set_process_uses_etag(store::Database& db, int64_t host_id, std::string_view etag);
/// Removes them (the host's agent no longer sends the file).
Result<void> forget_process_uses(store::Database& db, int64_t host_id);

struct StoredUses {
    int64_t fetched_at = 0;
    std::string text;  // process-uses.log as accepted
};
/// The host's stored uses; nullopt when it has none.
Result<std::optional<StoredUses>> load_process_uses(store::Database& db, int64_t host_id);

/// Every host's stored (ETag, hash), by host id: what a cycle's conditional requests and
/// its "same content" check need, without the texts.
Result<std::map<int64_t, std::pair<std::string, std::string>>> process_uses_tags(
    store::Database& db);

}  // namespace em
