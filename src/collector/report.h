#pragma once
// `egress-monitor report`: what the collector knows now — the open alerts (with who
// acknowledged or silenced them), and one line per host (last good fetch, present domains and
// addresses, open alerts, last error).
#include <cstdint>
#include <string>

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

Result<std::string> render_report(HistoryStore& store, AlertBook& book, bool json, int64_t now);

}  // namespace em
