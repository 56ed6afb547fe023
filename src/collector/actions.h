#pragma once
// What operators do about alerts, kept in the history database next to them and audited:
//   ack ID          the open incident ID is being handled: it stays open and listed, but its
//                   updates no longer go out (its resolution does). Opening again clears it.
//   silence         no event of matching alerts goes to any sink until the silence expires;
//                   the alerts are still recorded and `report`/`alerts` show them as silenced.
//                   A silence matches by host, rule and key; an empty field matches any.
//   allow VALUE     VALUE is a domain (it and every name under it) or a network (CIDR or
//                   address), for every host or one. It joins the allow lists of new_domain
//                   and direct_ip; at the collector's next cycle the open alerts it explains
//                   resolve ("allowed by WHO: WHY") through every sink.
// Every action records who (the invoking user; under sudo, the user who ran sudo too), when
// and why in the audit log. The rows are data only: nothing here runs or fetches anything.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collector/alerts.h"
#include "collector/rules.h"
#include "common/result.h"
#include "store/store.h"

namespace em {

struct Silence {
    int64_t id = 0;
    std::string host, rule, key;  // "" matches any
    int64_t until = 0, created = 0;
    std::string who, why;
    bool matches(std::string_view h, std::string_view r, std::string_view k) const;
};

/// When the longest of `silences` matching (host, rule, key) ends; 0 when none matches.
int64_t silenced_until(const std::vector<Silence>& silences, std::string_view host,
                       std::string_view rule, std::string_view key);

struct AllowEntry {
    int64_t id = 0;
    std::string value;  // a domain name, or a network
    std::string host;   // "" every host
    std::string who, why;
    int64_t created = 0;
    bool applied = false;         // its explained alerts were resolved
    std::optional<Cidr> network;  // when `value` is one
    /// Whether this entry explains `rule`'s alert `key` on `host` (host "*": a fleet alert,
    /// explained by an entry for every host only).
    bool explains(std::string_view host, std::string_view rule, std::string_view key) const;
};

struct AuditRecord {
    int64_t id = 0, time = 0;
    std::string who, action, detail, why;
};

class OperatorActions {
  public:
    /// Uses the tables of `db` (created by HistoryStore). `db` must outlive this.
    static Result<OperatorActions> create(store::Database& db);

    /// Errors name the alert: no such id, or not open.
    Result<AlertRecord> ack(int64_t id, const std::string& who, const std::string& why,
                            int64_t now);
    /// At least one of host, rule, key; `seconds` > 0. Returns the silence's id.
    Result<int64_t> silence(const Silence& s, int64_t seconds, int64_t now);
    /// `value`: a domain name or a network; errors say which it is not. Returns the entry.
    Result<AllowEntry> allow(const std::string& value, const std::string& host,
                             const std::string& who, const std::string& why, int64_t now);

    Result<std::vector<Silence>> silences(int64_t now, bool expired_too = false);
    Result<std::vector<AllowEntry>> allows();
    Result<void> mark_applied(int64_t allow_id);
    Result<std::vector<AuditRecord>> audit(int64_t limit = 100);

    /// The invoking user for the audit log: the login name of the real uid, and under sudo
    /// "root (sudo: alice)".
    static std::string who();

  private:
    explicit OperatorActions(store::Database& db) : db_(&db) {}
    Result<void> record(int64_t now, const std::string& who, std::string_view action,
                        const std::string& detail, const std::string& why);
    store::Database* db_;
};

/// A domain name as the allow list takes it: lower case, dot-separated labels of letters,
/// digits, '-' and '_', optionally "*." in front; nothing else.
bool valid_allow_domain(std::string_view name);

}  // namespace em
