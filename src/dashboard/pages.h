#pragma once
// The dashboard's pages beyond the overview (collector/report_html.h has that and the
// shared page pieces): one host, one domain, one address, a search. Each reads what it shows
// from the history and returns the whole page.
#include <cstddef>
#include <cstdint>
#include <string>

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

}  // namespace em
