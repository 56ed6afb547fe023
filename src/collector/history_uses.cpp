#include "collector/history_uses.h"

namespace em {

Result<void> store_process_uses(store::Database& db, int64_t host_id, int64_t now,
                                std::string_view etag, std::string_view hash,
                                std::string_view text) {
    auto st = db.prepare(
        "INSERT INTO process_uses VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(host) DO UPDATE SET "
        "time = excluded.time, etag = excluded.etag, hash = excluded.hash, data = excluded.data");
    if (!st) return st.error();
    st->bind(1, host_id).bind(2, now).bind(3, etag).bind(4, hash).bind_blob(5, text);
    return db.run(*st);
}

Result<void> set_process_uses_etag(store::Database& db, int64_t host_id, std::string_view etag) {
    auto st = db.prepare("UPDATE process_uses SET etag = ?2 WHERE host = ?1");
    if (!st) return st.error();
    st->bind(1, host_id).bind(2, etag);
    return db.run(*st);
}

Result<void> forget_process_uses(store::Database& db, int64_t host_id) {
    auto st = db.prepare("DELETE FROM process_uses WHERE host = ?1");
    if (!st) return st.error();
    st->bind(1, host_id);
    return db.run(*st);
}

Result<std::optional<StoredUses>> load_process_uses(store::Database& db, int64_t host_id) {
    auto st = db.prepare("SELECT time, data FROM process_uses WHERE host = ?1");
    if (!st) return st.error();
    st->bind(1, host_id);
    store::Step rc = st->step();
    if (rc == store::Step::Done) return std::optional<StoredUses>{};
    if (rc != store::Step::Row) return db.error("cannot read a host's process uses");
    StoredUses out;
    out.fetched_at = st->int64(0);
    out.text.assign(st->blob(1));
    return std::optional<StoredUses>{std::move(out)};
}

Result<std::map<int64_t, std::pair<std::string, std::string>>> process_uses_tags(
    store::Database& db) {
    auto st = db.prepare("SELECT host, etag, hash FROM process_uses");
    if (!st) return st.error();
    std::map<int64_t, std::pair<std::string, std::string>> out;
    store::Step rc;
    while ((rc = st->step()) == store::Step::Row)
        out.emplace(st->int64(0), std::pair{std::string(st->text(1)), std::string(st->text(2))});
    if (rc != store::Step::Done) return db.error("cannot read the hosts' process uses");
    return out;
}

}  // namespace em
