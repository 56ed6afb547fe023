#include "collector/alerts.h"

#include <fmt/core.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "common/json.h"
#include "common/log.h"
#include "common/text_escape.h"
#include "common/time.h"

namespace em {

namespace {

constexpr const char* kCols =
    "host, rule, key, state, first_seen, last_seen, occurrences, changed, message, id, weight, "
    "acked_by, acked_at";

AlertRecord read_alert(store::Statement& st) {
    AlertRecord a;
    a.host = st.text(0);
    a.rule = st.text(1);
    a.key = st.text(2);
    a.open = st.text(3) == "open";
    a.first_seen = st.int64(4);
    a.last_seen = st.int64(5);
    a.occurrences = st.int64(6);
    a.changed = st.int64(7);
    a.message = st.text(8);
    a.id = st.int64(9);
    a.weight = st.int64(10);
    a.acked_by = st.text(11);
    a.acked_at = st.int64(12);
    return a;
}

}  // namespace

Result<AlertBook> AlertBook::create(store::Database& db) {
    AlertBook b(db);
    struct Item {
        store::Statement* st;
        std::string sql;
    };
    Item items[] = {
        {&b.open_of_scope_,
         "SELECT key, occurrences FROM alerts WHERE host = ?1 AND rule = ?2 AND state = 'open'"},
        // A new or re-opened alert keeps its first_seen (alerts.x: the stored row's column, which
        // PostgreSQL needs spelt out); `changed` marks the transition; an
        // opening takes the id ?6 (a new incident), an alert that stays open keeps its id.
        {&b.upsert_,
         "INSERT INTO alerts(host, rule, key, state, first_seen, last_seen, occurrences, "
         "message, changed, id, weight, notified_weight) "
         "VALUES(?1, ?2, ?3, 'open', ?4, ?4, 1, ?5, ?4, ?6, ?7, ?7) "
         "ON CONFLICT(host, rule, key) DO UPDATE SET "
         "changed = CASE WHEN alerts.state = 'open' THEN alerts.changed ELSE excluded.changed END, "
         "id = CASE WHEN alerts.state = 'open' THEN alerts.id ELSE excluded.id END, "
         "notified_weight = CASE WHEN alerts.state = 'open' THEN alerts.notified_weight "
         "ELSE excluded.notified_weight END, "
         "acked_by = CASE WHEN alerts.state = 'open' THEN alerts.acked_by ELSE '' END, "
         "acked_at = CASE WHEN alerts.state = 'open' THEN alerts.acked_at ELSE 0 END, "
         "state = 'open', last_seen = excluded.last_seen, occurrences = alerts.occurrences + 1, "
         "message = excluded.message, weight = excluded.weight "
         "RETURNING occurrences, id, notified_weight, acked_by"},
        {&b.set_notified_,
         "UPDATE alerts SET notified_weight = ?4 WHERE host = ?1 AND rule = ?2 AND key = ?3"},
        {&b.set_resolved_,
         "UPDATE alerts SET state = 'resolved', changed = ?4 "
         "WHERE host = ?1 AND rule = ?2 AND key = ?3 AND state = 'open' "
         "RETURNING message, id, weight"},
        {&b.open_all_, std::string("SELECT ") + kCols +
                           " FROM alerts WHERE state = 'open' ORDER BY host, rule, key"},
        {&b.open_host_, std::string("SELECT ") + kCols +
                            " FROM alerts WHERE state = 'open' AND host = ?1 "
                            "ORDER BY host, rule, key"},
        {&b.everything_, std::string("SELECT ") + kCols + " FROM alerts ORDER BY host, rule, key"},
        {&b.count_open_, "SELECT count(*) FROM alerts WHERE state = 'open'"},
        {&b.set_member_,
         "INSERT INTO fleet_alert_hosts VALUES(?1, ?2, ?3, ?4) "
         "ON CONFLICT(rule, key, host) DO UPDATE SET message = excluded.message"},
        {&b.drop_member_,
         "DELETE FROM fleet_alert_hosts WHERE rule = ?1 AND key = ?2 AND host = ?3"},
        {&b.members_,
         "SELECT host, message FROM fleet_alert_hosts WHERE rule = ?1 AND key = ?2 ORDER BY host"},
    };
    for (auto& item : items) {
        auto st = db.prepare(item.sql.c_str());
        if (!st) return st.error();
        *item.st = std::move(st.value());
    }
    auto max_id = db.prepare("SELECT coalesce(max(id), 0) FROM alerts");
    if (!max_id) return max_id.error();
    if (max_id->step() != store::Step::Row) return db.error("cannot read the last alert id");
    b.next_id_ = max_id->int64(0) + 1;
    return b;
}

Result<void> AlertBook::reconcile(const std::string& host, const std::vector<std::string>& tags,
                                  std::string_view rule, const std::vector<Finding>& findings,
                                  int64_t now, std::vector<AlertEvent>& events,
                                  const std::map<std::string, std::string>* why) {
    std::unordered_set<std::string> open;
    open_of_scope_.bind(1, host).bind(2, rule);
    store::Step rc;
    while ((rc = open_of_scope_.step()) == store::Step::Row) open.emplace(open_of_scope_.text(0));
    open_of_scope_.reset();
    if (rc != store::Step::Done) return db_->error("cannot read alerts of " + host);

    std::unordered_set<std::string> seen;
    for (const Finding& f : findings) {
        // What a host sent, in a form both stores hold (the same for the same input, so
        // that the open alert is found again).
        std::string key = storable_text(f.key);
        if (!seen.insert(key).second) continue;
        const std::string message = storable_text(f.message);
        const int64_t weight = std::max<int64_t>(f.weight, 1);
        upsert_.bind(1, host).bind(2, rule).bind(3, key).bind(4, now).bind(5, message);
        upsert_.bind(6, next_id_).bind(7, weight);
        rc = upsert_.step();
        int64_t occurrences = 0, id = 0, notified = 0;
        bool acked = false;
        if (rc == store::Step::Row) {
            occurrences = upsert_.int64(0);
            id = upsert_.int64(1);
            notified = upsert_.int64(2);
            acked = !upsert_.text(3).empty();
        }
        upsert_.reset();
        if (rc != store::Step::Row) return db_->error("cannot record an alert of " + host);
        if (id == next_id_) ++next_id_;
        AlertEvent e{now,   host,  std::string(rule), key, true, message, tags, occurrences, id,
                     false, weight};
        if (!open.count(key)) {
            events.push_back(std::move(e));
        } else if (weight >= 2 * notified && !acked) {  // a material change: tell the sinks
            set_notified_.bind(1, host).bind(2, rule).bind(3, key).bind(4, weight);
            rc = set_notified_.step();
            set_notified_.reset();
            if (rc != store::Step::Done) return db_->error("cannot record an alert of " + host);
            e.updated = true;
            events.push_back(std::move(e));
        }
    }
    for (const std::string& key : open) {
        if (seen.count(key)) continue;
        std::string reason;
        if (why)
            if (auto it = why->find(key); it != why->end()) reason = it->second;
        if (auto r = resolve(host, tags, rule, key, now, reason, events); !r) return r;
    }
    return {};
}

Result<void> AlertBook::resolve(const std::string& host, const std::vector<std::string>& tags,
                                std::string_view rule, const std::string& key, int64_t now,
                                const std::string& why, std::vector<AlertEvent>& events) {
    set_resolved_.bind(1, host).bind(2, rule).bind(3, key).bind(4, now);
    // With RETURNING, SQLite makes every change in the first step; a row means it was open.
    store::Step rc = set_resolved_.step();
    const bool was_open = rc == store::Step::Row;
    std::string message;
    int64_t id = 0, weight = 0;
    if (was_open) {
        message = set_resolved_.text(0);
        id = set_resolved_.int64(1);
        weight = set_resolved_.int64(2);
    }
    set_resolved_.reset();
    if (rc != store::Step::Done && rc != store::Step::Row)
        return db_->error("cannot resolve an alert of " + host);
    if (was_open)
        events.push_back(AlertEvent{now, host, std::string(rule), key, false,
                                    why.empty() ? "no longer seen: " + message : why, tags, 0, id,
                                    false, weight});
    return {};
}

static Result<std::vector<AlertRecord>> read_all(store::Database& db, store::Statement& st) {
    std::vector<AlertRecord> out;
    store::Step rc;
    while ((rc = st.step()) == store::Step::Row) out.push_back(read_alert(st));
    st.reset();
    if (rc != store::Step::Done) return db.error("cannot read alerts");
    return out;
}

Result<std::vector<AlertRecord>> AlertBook::open_alerts(const std::string& host,
                                                        std::string_view rule) {
    auto all = host.empty() ? read_all(*db_, open_all_)
                            : (open_host_.bind(1, host), read_all(*db_, open_host_));
    if (!all || rule.empty()) return all;
    std::vector<AlertRecord> out;
    for (auto& a : *all)
        if (a.rule == rule) out.push_back(std::move(a));
    return out;
}

Result<std::vector<AlertRecord>> AlertBook::all_alerts() { return read_all(*db_, everything_); }

Result<int64_t> AlertBook::open_count() {
    store::Step rc = count_open_.step();
    int64_t n = rc == store::Step::Row ? count_open_.int64(0) : 0;
    count_open_.reset();
    if (rc != store::Step::Row) return db_->error("cannot count alerts");
    return n;
}

Result<void> AlertBook::set_member(std::string_view rule, const std::string& key,
                                   const std::string& host, const std::string& message) {
    set_member_.bind(1, rule).bind(2, key).bind(3, host).bind(4, storable_text(message));
    store::Step rc = set_member_.step();
    set_member_.reset();
    if (rc != store::Step::Done) return db_->error("cannot record a fleet alert's host " + host);
    return {};
}

Result<void> AlertBook::drop_member(std::string_view rule, const std::string& key,
                                    const std::string& host) {
    drop_member_.bind(1, rule).bind(2, key).bind(3, host);
    store::Step rc = drop_member_.step();
    drop_member_.reset();
    if (rc != store::Step::Done) return db_->error("cannot drop a fleet alert's host " + host);
    return {};
}

Result<std::vector<AlertBook::Member>> AlertBook::members(std::string_view rule,
                                                          const std::string& key) {
    std::vector<Member> out;
    members_.bind(1, rule).bind(2, key);
    store::Step rc;
    while ((rc = members_.step()) == store::Step::Row)
        out.push_back(Member{std::string(members_.text(0)), std::string(members_.text(1))});
    members_.reset();
    if (rc != store::Step::Done) return db_->error("cannot read a fleet alert's hosts");
    return out;
}

std::string alert_json(const AlertEvent& e, bool with_text) {
    std::string out = "{\"time\":";
    append_json_string(format_rfc3339(e.time), out);
    out += ",\"host\":";
    append_json_string(e.host, out);
    out += ",\"rule\":";
    append_json_string(e.rule, out);
    out += ",\"key\":";
    append_json_string(e.key, out);
    out += !e.open     ? ",\"state\":\"resolved\""
           : e.updated ? ",\"state\":\"updated\""
                       : ",\"state\":\"open\"";
    out += ",\"message\":";
    append_json_string(e.message, out);
    out += ",\"tags\":[";
    for (size_t i = 0; i < e.tags.size(); ++i) {
        if (i) out += ',';
        append_json_string(e.tags[i], out);
    }
    out += ']';
    if (e.id) out += fmt::format(",\"id\":{},\"weight\":{}", e.id, e.weight);
    if (with_text) {
        // Slack (and compatible receivers) render "text" as markup: a reported name such as
        // "<!channel>" must show as written, never notify or link.
        out += ",\"text\":";
        append_json_string(escape_slack(alert_line(e)), out);
    }
    out += '}';
    return out;
}

std::string alert_line(const AlertEvent& e) {
    std::string out = format_rfc3339(e.time);
    out += !e.open ? " RESOLVED " : e.updated ? " UPDATED " : " OPEN ";
    append_text_escaped(e.rule, out);
    out += ' ';
    append_text_escaped(e.host, out);
    out += ' ';
    append_text_escaped(e.key, out);
    out += ": ";
    append_text_escaped(e.message, out);
    if (!e.tags.empty()) {
        out += " [";
        for (size_t i = 0; i < e.tags.size(); ++i) {
            if (i) out += ',';
            append_text_escaped(e.tags[i], out);
        }
        out += ']';
    }
    if (e.id) out += fmt::format(" #{}", e.id);
    return out;
}

void AlertDispatcher::add(std::unique_ptr<AlertSink> sink) {
    sinks_.push_back(Entry{std::move(sink), 0, 0});
}

void AlertDispatcher::dispatch(const std::vector<AlertEvent>& events) {
    for (Entry& s : sinks_) {
        int consecutive = 0;
        for (const AlertEvent& e : events) {
            if (consecutive >= 3) {
                ++s.failed;
                continue;
            }
            if (auto r = s.sink->emit(e); r) {
                ++s.sent;
                consecutive = 0;
            } else {
                ++s.failed;
                if (++consecutive == 3)
                    log_warn("alert sink {}: {} (3 failures in a row: skipping it this cycle)",
                             s.sink->name(), r.error().message);
                else
                    log_warn("alert sink {}: {}", s.sink->name(), r.error().message);
            }
        }
    }
}

std::vector<AlertDispatcher::Counts> AlertDispatcher::counts() const {
    std::vector<Counts> out;
    for (const Entry& s : sinks_)
        out.push_back(Counts{std::string(s.sink->name()), s.sent, s.failed});
    return out;
}

}  // namespace em
