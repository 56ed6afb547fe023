#pragma once
// `egress-monitor report`: what the collector knows now — the open alerts (with who
// acknowledged or silenced them), and one line per host (last good fetch, present domains and
// addresses, open alerts, last error).
#include <cstdint>
#include <string>

#include <string_view>
#include <vector>

#include "collector/actions.h"
#include "collector/alerts.h"
#include "collector/history.h"
#include "common/result.h"

namespace em {

/// Text for people, or one JSON object:
///   {"generated": T, "alerts": [{"host","rule","key","state","first_seen","last_seen",
///    "occurrences","message","tags","id","weight","acked_by","silenced_until"}...], "hosts":
///    [{"name","tags","first_fetch","last_ok",
///    "last_attempt","last_change","last_reset","last_error","domains","ips","open_alerts"}...]}
/// Times are RFC 3339 strings, null when never.
/// One alert as the report's JSON has it (the object above; "state" "open" or "resolved",
/// "silenced_until" null when 0), appended to `out`.
void append_alert_record_json(const AlertRecord& a, const std::vector<std::string>& tags,
                              int64_t silenced_until, std::string& out);

enum class ReportFormat { text, json, html };

/// What a report shows, read once from the history.
struct ReportData {
    int64_t now = 0;
    std::vector<HostRecord> hosts;
    std::vector<AlertRecord> alerts;  // the open ones
    std::vector<Silence> silences;    // in force at `now`
};
Result<ReportData> read_report_data(HistoryStore& store, AlertBook& book, int64_t now);

/// A host's state in a word, the first that applies: "failing" (its last fetch failed or its
/// files were rejected: last_error), "stale" (an open stale alert), "at capacity" (an open
/// capacity alert), "no data" (no accepted snapshot yet), "fresh".
std::string_view host_status(const HostRecord& h, const std::vector<AlertRecord>& open);

/// The report as one self-contained HTML page (report_html.cpp): no script, no external
/// resource (a Content-Security-Policy says so to the browser too), every reported string
/// escaped (common/html_escape.h).
std::string render_report_html(const ReportData& d);

Result<std::string> render_report(HistoryStore& store, AlertBook& book, ReportFormat format,
                                  int64_t now);

}  // namespace em
