#include "collector/history_queries.h"

#include <algorithm>

namespace em {

namespace {

constexpr int64_t kDay = 86400;

}  // namespace

Result<std::vector<DayGrowth>> host_growth(store::Database& db, int64_t host_id, int64_t since,
                                           int64_t now) {
    const int64_t first = std::max(since / kDay, now / kDay - 365);
    const int64_t last = now / kDay;
    std::vector<DayGrowth> days(static_cast<size_t>(std::max<int64_t>(0, last - first + 1)));
    for (size_t i = 0; i < days.size(); ++i) days[i].day = (first + static_cast<int64_t>(i)) * kDay;
    if (days.empty()) return days;
    auto at = [&](int64_t day) -> DayGrowth* {
        return day < first || day > last ? nullptr : &days[static_cast<size_t>(day - first)];
    };
    // Both tables are keyed by host first: these read one host's rows, nothing else.
    auto deltas = db.prepare(
        "SELECT time / 86400, kind, SUM(delta) FROM deltas WHERE host = ?1 AND time >= ?2 "
        "GROUP BY 1, 2");
    if (!deltas) return deltas.error();
    deltas->bind(1, host_id).bind(2, first * kDay);
    store::Step rc;
    while ((rc = deltas->step()) == store::Step::Row)
        if (DayGrowth* d = at(deltas->int64(0)))
            (deltas->text(1) == "d" ? d->domain_growth : d->ip_growth) += deltas->int64(2);
    if (rc != store::Step::Done) return db.error("cannot read deltas");
    auto seen = db.prepare(
        "SELECT first_seen / 86400, kind, COUNT(*) FROM first_seen WHERE host = ?1 AND "
        "first_seen >= ?2 GROUP BY 1, 2");
    if (!seen) return seen.error();
    seen->bind(1, host_id).bind(2, first * kDay);
    while ((rc = seen->step()) == store::Step::Row)
        if (DayGrowth* d = at(seen->int64(0)))
            (seen->text(1) == "d" ? d->new_domains : d->new_ips) += seen->int64(2);
    if (rc != store::Step::Done) return db.error("cannot read first_seen");
    return days;
}

Result<int64_t> fleet_hosts_stored(store::Database& db, std::string_view domain) {
    auto st = db.prepare("SELECT hosts FROM fleet WHERE domain = ?1");
    if (!st) return st.error();
    st->bind(1, domain);
    store::Step rc = st->step();
    if (rc == store::Step::Row) return st->int64(0);
    if (rc != store::Step::Done) return db.error("cannot read fleet");
    return int64_t{0};
}

Result<int64_t> hosts_with_snapshot(store::Database& db) {
    auto st = db.prepare("SELECT COUNT(*) FROM hosts WHERE first_fetch > 0");
    if (!st) return st.error();
    if (st->step() != store::Step::Row) return db.error("cannot count hosts");
    return st->int64(0);
}

}  // namespace em
