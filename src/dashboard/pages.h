#pragma once
// The dashboard's pages beyond the overview (collector/report_html.h has that and the
// shared page pieces): one host, one domain, one address, a search. Each reads what it shows
// from the history and returns the whole page.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "collector/actions.h"
#include "collector/alerts.h"
#include "collector/history.h"
#include "common/result.h"

namespace em {

/// Most rows a table of keys shows; the rest are counted ("search to narrow").
constexpr size_t kMaxRows = 500;

/// A page, or what went wrong: 404 with the page saying what was not found, 400 for a bad
/// query, 500 when the history could not be read (`error` is logged, never shown).
struct Page {
    int status = 200;
    std::string html;
    std::string error;
};

Page host_page(HistoryStore& store, AlertBook& book, const std::string& name,
               const std::string& filter, int64_t now);
Page domain_page(HistoryStore& store, AlertBook& book, const std::string& name);
Page ip_page(HistoryStore& store, const std::string& addr);
Page search_page(HistoryStore& store, const std::string& query);

/// The open incidents by rule (each linked to its page) and those resolved in the last 7 days.
Page alerts_page(HistoryStore& store, AlertBook& book, OperatorActions& actions, int64_t now);
/// One incident (open or resolved): what, where, since when, who handled it, and the forms
/// to acknowledge it, silence it and allow its key, each carrying `csrf` (the dashboard
/// checks it on every POST). `done` ("ack", "silence", "allow" or "") says what was just done.
Page alert_page(AlertBook& book, OperatorActions& actions, int64_t id, const std::string& csrf,
                std::string_view done, int64_t now);
/// A posted action on incident `form["id"]` (path /alert/ack, /alert/silence or
/// /alert/allow; the form's fields as alert_page writes them, anti-forgery already checked),
/// recorded as done by `who`. Done: status 303 and `location` the incident's page saying so.
/// Refused (no such open incident, no reason, a bad period or value): 400 with a page saying
/// why. 500 when the history could not be written.
Page post_action(std::string_view path, const std::map<std::string, std::string>& form,
                 AlertBook& book, OperatorActions& actions, const std::string& who, int64_t now,
                 std::string& location);

/// Whether the allow list can explain `rule`'s alerts (new_domain and direct_ip).
bool allowable(std::string_view rule);

}  // namespace em
