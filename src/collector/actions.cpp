#include "collector/actions.h"

#include <fmt/core.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "common/time.h"

namespace em {

namespace {

// One statement run to the end, rows handed to `row`.
template <typename Row>
Result<void> each(store::Database& db, store::Statement& st, Row row) {
    store::Step rc;
    while ((rc = st.step()) == store::Step::Row) row(st);
    st.reset();
    if (rc != store::Step::Done) return db.error("cannot read operator actions");
    return {};
}

}  // namespace

bool valid_allow_domain(std::string_view name) {
    if (name.starts_with("*.")) name.remove_prefix(2);
    if (name.empty() || name.size() > 253) return false;
    size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
        if (++label > 63) return false;
    }
    return label > 0;
}

bool Silence::matches(std::string_view h, std::string_view r, std::string_view k) const {
    return (host.empty() || host == h) && (rule.empty() || rule == r) && (key.empty() || key == k);
}

int64_t silenced_until(const std::vector<Silence>& silences, std::string_view host,
                       std::string_view rule, std::string_view key) {
    int64_t until = 0;
    for (const Silence& s : silences)
        if (s.matches(host, rule, key)) until = std::max(until, s.until);
    return until;
}

bool AllowEntry::explains(std::string_view h, std::string_view rule, std::string_view key) const {
    if (!host.empty() && host != h) return false;
    if (rule == "direct_ip") {
        if (!network) return false;
        auto ip = IpAddress::parse(key);
        return ip && network->contains(*ip);
    }
    if (rule == "new_domain") {
        if (network) return false;
        std::string_view v = value;
        if (v.starts_with("*.")) v.remove_prefix(2);
        return at_or_under(key, v);
    }
    return false;
}

Result<OperatorActions> OperatorActions::create(store::Database& db) {
    // The tables come with the history schema; a database without them is not one.
    auto st = db.prepare("SELECT count(*) FROM audit");
    if (!st) return st.error();
    return OperatorActions(db);
}

std::string OperatorActions::who() {
    std::string name;
    if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_name)
        name = pw->pw_name;
    else
        name = fmt::format("uid {}", ::getuid());
    if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo && ::getuid() == 0)
        name += fmt::format(" (sudo: {})", std::string_view(sudo).substr(0, 64));
    return name;
}

Result<void> OperatorActions::record(int64_t now, const std::string& who, std::string_view action,
                                     const std::string& detail, const std::string& why) {
    auto st = db_->prepare(
        "INSERT INTO audit(time, who, action, detail, why) "
        "VALUES(?1, ?2, ?3, ?4, ?5)");
    if (!st) return st.error();
    st->bind(1, now).bind(2, who).bind(3, action).bind(4, detail).bind(5, why);
    return db_->run(*st);
}

Result<AlertRecord> OperatorActions::ack(int64_t id, const std::string& who, const std::string& why,
                                         int64_t now) {
    if (auto r = db_->begin(); !r) return r.error();
    auto fail = [&](Error e) -> Result<AlertRecord> {
        db_->rollback();
        return e;
    };
    auto st = db_->prepare(
        "UPDATE alerts SET acked_by = ?2, acked_at = ?3 WHERE id = ?1 AND state = 'open' "
        "RETURNING host, rule, key, message, weight");
    if (!st) return fail(st.error());
    st->bind(1, id).bind(2, who).bind(3, now);
    store::Step rc = st->step();
    AlertRecord a;
    if (rc == store::Step::Row) {
        a.id = id;
        a.host = st->text(0);
        a.rule = st->text(1);
        a.key = st->text(2);
        a.message = st->text(3);
        a.weight = st->int64(4);
        a.acked_by = who;
        a.acked_at = now;
    }
    st->reset();
    if (rc != store::Step::Row && rc != store::Step::Done)
        return fail(db_->error("cannot acknowledge"));
    if (rc == store::Step::Done)
        return fail(
            Error{fmt::format("alert {}: no open alert has this id (see: alerts list)", id)});
    if (auto r =
            record(now, who, "ack", fmt::format("#{} {} {} {}", id, a.rule, a.host, a.key), why);
        !r)
        return fail(r.error());
    if (auto r = db_->commit(); !r) return fail(r.error());
    return a;
}

Result<int64_t> OperatorActions::silence(const Silence& s, int64_t seconds, int64_t now) {
    if (s.host.empty() && s.rule.empty() && s.key.empty())
        return Error{"silence: give at least one of --host, --rule, --key"};
    if (seconds <= 0) return Error{"silence: --for must be a positive duration"};
    auto st = db_->prepare(
        "INSERT INTO silences(host, rule, key, until, who, why, created) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
    if (!st) return st.error();
    if (auto r = db_->begin(); !r) return r.error();
    st->bind(1, s.host).bind(2, s.rule).bind(3, s.key).bind(4, now + seconds);
    st->bind(5, s.who).bind(6, s.why).bind(7, now);
    store::Step rc = st->step();
    int64_t id = rc == store::Step::Row ? st->int64(0) : 0;
    st->reset();
    auto detail = fmt::format("silence #{} host={} rule={} key={} until {}", id,
                              s.host.empty() ? "*" : s.host, s.rule.empty() ? "*" : s.rule,
                              s.key.empty() ? "*" : s.key, format_rfc3339(now + seconds));
    Result<void> r = rc == store::Step::Row ? record(now, s.who, "silence", detail, s.why)
                                            : Result<void>(db_->error("cannot add a silence"));
    if (r) r = db_->commit();
    if (!r) {
        db_->rollback();
        return r.error();
    }
    return id;
}

Result<AllowEntry> OperatorActions::allow(const std::string& value, const std::string& host,
                                          const std::string& who, const std::string& why,
                                          int64_t now) {
    if (!Cidr::parse(value) && !valid_allow_domain(value))
        return Error{fmt::format(
            "allow: \"{}\" is neither a network (203.0.113.0/24, 2001:db8::/32, an address) "
            "nor a domain name in lower case (example.com, *.example.com)",
            value)};
    auto st = db_->prepare(
        "INSERT INTO allows(value, host, who, why, created) VALUES(?1, ?2, ?3, ?4, ?5) "
        "RETURNING id");
    if (!st) return st.error();
    if (auto r = db_->begin(); !r) return r.error();
    st->bind(1, value).bind(2, host).bind(3, who).bind(4, why).bind(5, now);
    store::Step rc = st->step();
    int64_t id = rc == store::Step::Row ? st->int64(0) : 0;
    st->reset();
    Result<void> r = rc == store::Step::Row
                         ? record(now, who, "allow",
                                  fmt::format("allow #{} {} on {}", id, value,
                                              host.empty() ? "every host" : host),
                                  why)
                         : Result<void>(db_->error("cannot add an allow entry"));
    if (r) r = db_->commit();
    if (!r) {
        db_->rollback();
        return r.error();
    }
    return AllowEntry{id, value, host, who, why, now, false, Cidr::parse(value)};
}

Result<std::vector<Silence>> OperatorActions::silences(int64_t now, bool expired_too) {
    auto st = db_->prepare(
        "SELECT id, host, rule, key, until, created, who, why FROM silences "
        "WHERE until > ?1 OR ?2 ORDER BY id");
    if (!st) return st.error();
    st->bind(1, now).bind(2, int64_t{expired_too ? 1 : 0});
    std::vector<Silence> out;
    auto r = each(*db_, *st, [&](store::Statement& s) {
        out.push_back(Silence{s.int64(0), std::string(s.text(1)), std::string(s.text(2)),
                              std::string(s.text(3)), s.int64(4), s.int64(5),
                              std::string(s.text(6)), std::string(s.text(7))});
    });
    if (!r) return r.error();
    return out;
}

Result<std::vector<AllowEntry>> OperatorActions::allows() {
    auto st =
        db_->prepare("SELECT id, value, host, who, why, created, applied FROM allows ORDER BY id");
    if (!st) return st.error();
    std::vector<AllowEntry> out;
    auto r = each(*db_, *st, [&](store::Statement& s) {
        AllowEntry a;
        a.id = s.int64(0);
        a.value = s.text(1);
        a.host = s.text(2);
        a.who = s.text(3);
        a.why = s.text(4);
        a.created = s.int64(5);
        a.applied = s.int64(6) != 0;
        a.network = Cidr::parse(a.value);
        out.push_back(std::move(a));
    });
    if (!r) return r.error();
    return out;
}

Result<void> OperatorActions::mark_applied(int64_t allow_id) {
    auto st = db_->prepare("UPDATE allows SET applied = 1 WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, allow_id);
    return db_->run(*st);
}

Result<std::vector<AuditRecord>> OperatorActions::audit(int64_t limit) {
    auto st = db_->prepare(
        "SELECT id, time, who, action, detail, why FROM audit ORDER BY id DESC LIMIT ?1");
    if (!st) return st.error();
    st->bind(1, limit);
    std::vector<AuditRecord> out;
    auto r = each(*db_, *st, [&](store::Statement& s) {
        out.push_back(AuditRecord{s.int64(0), s.int64(1), std::string(s.text(2)),
                                  std::string(s.text(3)), std::string(s.text(4)),
                                  std::string(s.text(5))});
    });
    if (!r) return r.error();
    return out;
}

}  // namespace em
