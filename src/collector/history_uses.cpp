#include "collector/history_uses.h"

namespace em {

Result<void> store_process_uses(sql::Database& db, int64_t host_id, int64_t now,
                                std::string_view text) {
    auto st = db.prepare("INSERT OR REPLACE INTO process_uses VALUES(?1, ?2, ?3)");
    if (!st) return st.error();
    st->bind(1, host_id).bind(2, now).bind_blob(3, text);
    return db.run(*st);
}

Result<void> forget_process_uses(sql::Database& db, int64_t host_id) {
    auto st = db.prepare("DELETE FROM process_uses WHERE host = ?1");
    if (!st) return st.error();
    st->bind(1, host_id);
    return db.run(*st);
}

Result<std::optional<StoredUses>> load_process_uses(sql::Database& db, int64_t host_id) {
    auto st = db.prepare("SELECT time, data FROM process_uses WHERE host = ?1");
    if (!st) return st.error();
    st->bind(1, host_id);
    int rc = st->step();
    if (rc == SQLITE_DONE) return std::optional<StoredUses>{};
    if (rc != SQLITE_ROW) return db.error("cannot read a host's process uses");
    StoredUses out;
    out.fetched_at = st->int64(0);
    out.text.assign(st->blob(1));
    return std::optional<StoredUses>{std::move(out)};
}

}  // namespace em
