#pragma once
// The collector's pages in HTML: the pieces `report --format html` assembles into one
// self-contained file, and that the dashboard (src/dashboard) serves with links between its
// pages. No script anywhere; everything a monitored host reported goes through
// common/html_escape.h.
#include <cstdint>
#include <string>
#include <string_view>

#include "collector/report.h"

namespace em {

struct HtmlOptions {
    bool links = false;  // hosts link to the dashboard's host pages; a search box and sorting
    std::string tag;     // only hosts with this tag ("" all)
    std::string sort;    // hosts table order: "" (name), status, last_ok, domains, ips, alerts
};

/// The page's start: doctype, Content-Security-Policy (no script, no external resource),
/// the shared style, the title, and (with `nav`) the dashboard's navigation and search box.
void html_open(std::string_view title, bool nav, std::string& out);
void html_close(std::string& out);
/// <time> of `t` (RFC 3339), or "never" for 0.
void html_time(int64_t t, std::string& out);
/// The class and text of a host status (host_status()).
void html_status(std::string_view status, std::string& out);

/// What a rule's alert means, in a sentence for a reader who does not know the rule ("" for
/// an unknown rule).
std::string_view rule_meaning(std::string_view rule);

/// The open alerts, one table per rule with the rule explained (in the dashboard each incident
/// links to its page).
void html_alerts(const ReportData& d, const HtmlOptions& o, std::string& out);

/// Summary, open alerts by rule, hosts: the overview.
void html_overview(const ReportData& d, const HtmlOptions& o, std::string& out);

}  // namespace em
