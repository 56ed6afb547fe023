// `report --format html`: the collector's overview as one page a person opens from a mail or
// a ticket. Server-side HTML only: no script, no external resource (nothing to fetch from a
// CDN, nothing that runs), inline CSS, and one inline SVG chart. Everything a monitored host
// reported — names, keys, messages, fetch errors — goes through append_html_escaped.
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>

#include "collector/report_html.h"
#include "common/html_escape.h"
#include "common/time.h"

namespace em {

std::string_view rule_meaning(std::string_view rule) {
    static const std::map<std::string_view, std::string_view> meanings = {
        {"new_domain", "a domain this host had not resolved before"},
        {"capacity",
         "the host's agent is at capacity: some names or addresses are counted "
         "together, not one by one"},
        {"direct_ip", "a connection to an address no DNS answer explained"},
        {"public_resolver",
         "the host asked a public resolver or a DNS-over-HTTPS/TLS service, "
         "not the system resolver"},
        {"tunnel", "many long, random-looking names under one domain: DNS tunnelling?"},
        {"dga", "names that look machine-generated (a domain generation algorithm?)"},
        {"volume_spike", "far more lookups or connections than this host's usual"},
        {"rare", "a destination almost no other host in the fleet reaches"},
        {"rejected",
         "the host's files were refused (malformed, oversized or out of order): "
         "nothing from them was stored"},
        {"stale", "no fresh files from this host: unreachable, or its monitor stopped"},
    };
    auto it = meanings.find(rule);
    return it == meanings.end() ? std::string_view() : it->second;
}

namespace {

// The statuses host_status() gives, in the order the summary shows them, with their colours
// (readable as text too: the status is always written out).
struct StatusStyle {
    std::string_view name, css_class, colour;
};
constexpr std::array<StatusStyle, 5> kStatuses = {{
    {"failing", "failing", "#b3261e"},
    {"stale", "stale", "#c77700"},
    {"at capacity", "capacity", "#8250df"},
    {"no data", "nodata", "#6e7781"},
    {"fresh", "fresh", "#1a7f37"},
}};

const StatusStyle& style_of(std::string_view status) {
    for (const auto& s : kStatuses)
        if (s.name == status) return s;
    return kStatuses.back();
}

void text(std::string_view s, std::string& out) { append_html_escaped(s, out); }

void time_cell(int64_t t, std::string& out) {
    out += "<td>";
    html_time(t, out);
    out += "</td>";
}

void host_name(const std::string& name, const HtmlOptions& o, std::string& out) {
    if (!o.links) {
        text(name, out);
        return;
    }
    out += "<a href=\"/host?name=";
    append_url_component(name, out);
    out += "\">";
    text(name, out);
    out += "</a>";
}

// The hosts table's order (HtmlOptions::sort); names break ties.
void sort_hosts(const ReportData& d, const std::vector<std::string_view>& statuses,
                const std::map<std::string, size_t>& open_per_host, std::string_view by,
                std::vector<size_t>& order) {
    auto open = [&](size_t i) {
        auto it = open_per_host.find(d.hosts[i].name);
        return it == open_per_host.end() ? size_t{0} : it->second;
    };
    auto rank = [&](size_t i) {
        for (size_t r = 0; r < kStatuses.size(); ++r)
            if (kStatuses[r].name == statuses[i]) return r;
        return kStatuses.size();
    };
    auto key = [&](size_t i) -> int64_t {
        const HostRecord& h = d.hosts[i];
        if (by == "status") return static_cast<int64_t>(rank(i));
        if (by == "last_ok") return h.last_ok;  // oldest first: the ones to look at
        if (by == "domains") return -h.domains;
        if (by == "ips") return -h.ips;
        if (by == "alerts") return -static_cast<int64_t>(open(i));
        return 0;
    };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        const int64_t ka = key(a), kb = key(b);
        return ka != kb ? ka < kb : d.hosts[a].name < d.hosts[b].name;
    });
}

constexpr std::string_view kStyle = R"(
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:78rem;padding:1rem 1.5rem;color:#1f2328}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.2rem;margin:1.6rem 0 .4rem}h3{font-size:1rem;margin:1rem 0 .3rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}caption{text-align:left;color:#59636e;padding:.2rem 0}
th,td{border-bottom:1px solid #d1d9e0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:.6rem;list-style:none;padding:0;margin:.4rem 0}
.cards li{border:1px solid #d1d9e0;border-radius:6px;padding:.4rem .8rem}.cards b{font-size:1.3rem;display:block}
.status{font-weight:600}.failing{color:#b3261e}.stale{color:#c77700}.capacity{color:#8250df}
.nodata{color:#6e7781}.fresh{color:#1a7f37}.meaning{color:#59636e;margin:.1rem 0 .4rem}
code{font-family:ui-monospace,monospace;overflow-wrap:anywhere}time{white-space:nowrap}a{color:#0969da}
a:focus,:focus-visible{outline:2px solid #0969da;outline-offset:2px}
nav{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;border-bottom:1px solid #d1d9e0;padding:.4rem 0}
nav form{margin-left:auto}input,button{font:inherit;padding:.15rem .4rem}
.chart text{font-size:11px;fill:#59636e}.note{color:#59636e}.facts th{width:12rem}
)";

// A bar as wide as the fleet, one segment per status (each with a <title> for hover and
// the chart's aria-label for screen readers).
void status_chart(const std::map<std::string_view, size_t>& counts, size_t total,
                  std::string& out) {
    std::string label = "hosts by status:";
    for (const auto& s : kStatuses)
        if (auto it = counts.find(s.name); it != counts.end())
            label += fmt::format(" {} {},", it->second, s.name);
    label.pop_back();
    out += fmt::format(
        "<svg id=\"status-chart\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 600 28\" "
        "width=\"600\" height=\"28\">",
        label);
    double x = 0;
    for (const auto& s : kStatuses) {
        auto it = counts.find(s.name);
        if (it == counts.end() || total == 0) continue;
        const double w = 600.0 * static_cast<double>(it->second) / static_cast<double>(total);
        out += fmt::format(
            "<rect x=\"{:.1f}\" y=\"0\" width=\"{:.1f}\" height=\"28\" fill=\"{}\">"
            "<title>{} {}</title></rect>",
            x, w, s.colour, it->second, s.name);
        x += w;
    }
    out += "</svg>\n";
}

}  // namespace

void html_alerts(const ReportData& d, const HtmlOptions& o, std::string& out) {
    out +=
        fmt::format("<section aria-labelledby=\"alerts\"><h2 id=\"alerts\">Open alerts ({})</h2>\n",
                    d.alerts.size());
    if (d.alerts.empty()) {
        out += "<p>None.</p></section>\n";
        return;
    }
    // One table per rule: the incidents of one kind together, the kind explained once.
    std::map<std::string, std::vector<const AlertRecord*>> by_rule;
    for (const auto& a : d.alerts) by_rule[a.rule].push_back(&a);
    for (const auto& [rule, alerts] : by_rule) {
        out += "<h3><code>";
        text(rule, out);
        out += fmt::format("</code> ({})</h3>\n", alerts.size());
        if (auto meaning = rule_meaning(rule); !meaning.empty())
            out += fmt::format("<p class=\"meaning\">{}</p>\n", meaning);
        out +=
            "<table class=\"alerts\"><thead><tr><th scope=\"col\">Incident</th>"
            "<th scope=\"col\">Host</th><th scope=\"col\">Key</th><th scope=\"col\">What "
            "happened</th><th scope=\"col\">Since</th><th scope=\"col\">Last seen</th>"
            "<th scope=\"col\">Seen</th><th scope=\"col\">Handled</th></tr></thead><tbody>\n";
        for (const AlertRecord* a : alerts) {
            if (o.links)
                out += fmt::format("<tr><td><a href=\"/alert?id={0}\">#{0}</a></td><td>", a->id);
            else
                out += fmt::format("<tr><td>#{}</td><td>", a->id);
            host_name(a->host, o, out);
            out += "</td><td><code>";
            text(a->key, out);
            out += "</code></td><td>";
            text(a->message, out);
            out += "</td>";
            time_cell(a->first_seen, out);
            time_cell(a->last_seen, out);
            out += fmt::format("<td class=\"n\">{}×</td><td>", a->occurrences);
            if (!a->acked_by.empty()) {
                out += "acknowledged by ";
                text(a->acked_by, out);
            }
            if (int64_t until = silenced_until(d.silences, a->host, a->rule, a->key)) {
                if (!a->acked_by.empty()) out += "; ";
                out += "silenced until " + format_rfc3339(until);
            }
            out += "</td></tr>\n";
        }
        out += "</tbody></table>\n";
    }
    out += "</section>\n";
}

namespace {

// A column heading; in the dashboard a link that sorts by it (keeping the tag filter).
void heading(std::string_view label, std::string_view sort_key, const HtmlOptions& o,
             std::string& out) {
    out += "<th scope=\"col\">";
    if (o.links && !sort_key.empty()) {
        out += "<a href=\"/?sort=";
        out += sort_key;
        if (!o.tag.empty()) {
            out += "&amp;tag=";
            append_url_component(o.tag, out);
        }
        out +=
            fmt::format("\"{}>{}</a>", o.sort == sort_key ? " aria-current=\"true\"" : "", label);
    } else {
        out += label;
    }
    out += "</th>";
}

void hosts_section(const ReportData& d, const std::vector<std::string_view>& statuses,
                   const std::map<std::string, size_t>& open_per_host, const HtmlOptions& o,
                   std::string& out) {
    std::vector<size_t> order(d.hosts.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    sort_hosts(d, statuses, open_per_host, o.sort, order);
    out += fmt::format("<section aria-labelledby=\"hosts\"><h2 id=\"hosts\">Hosts ({})</h2>\n",
                       order.size());
    if (!o.tag.empty()) {
        out += "<p>Tagged <code>";
        text(o.tag, out);
        out += "</code>";
        if (o.links) out += " — <a href=\"/\">all hosts</a>";
        out += "</p>\n";
    }
    out += "<table class=\"hosts\"><thead><tr>";
    heading("Host", "name", o, out);
    heading("Status", "status", o, out);
    heading("Tags", "", o, out);
    heading("Last good fetch", "last_ok", o, out);
    heading("Domains", "domains", o, out);
    heading("Addresses", "ips", o, out);
    heading("Open alerts", "alerts", o, out);
    heading("Last error", "", o, out);
    out += "</tr></thead><tbody>\n";
    for (size_t i : order) {
        const HostRecord& h = d.hosts[i];
        out += "<tr><th scope=\"row\">";
        host_name(h.name, o, out);
        out += "</th>";
        html_status(statuses[i], out);
        out += "<td>";
        for (size_t t = 0; t < h.tags.size(); ++t) {
            if (t) out += ", ";
            if (o.links) {
                out += "<a href=\"/?tag=";
                append_url_component(h.tags[t], out);
                out += "\">";
                text(h.tags[t], out);
                out += "</a>";
            } else {
                text(h.tags[t], out);
            }
        }
        out += "</td>";
        time_cell(h.last_ok, out);
        auto open = open_per_host.find(h.name);
        out +=
            fmt::format("<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>",
                        h.domains, h.ips, open == open_per_host.end() ? 0 : open->second);
        text(h.last_error, out);
        out += "</td></tr>\n";
    }
    out += "</tbody></table></section>\n";
}

}  // namespace

void html_open(std::string_view title, bool nav, std::string& out) {
    out +=
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
    text(title, out);
    out += fmt::format("</title>\n<style>{}</style></head>\n<body>", kStyle);
    if (nav)
        out +=
            "<nav aria-label=\"dashboard\"><a href=\"/\">Fleet</a> <a href=\"/alerts\">Alerts</a> "
            "<form action=\"/search\" "
            "method=\"get\" role=\"search\"><label for=\"q\">Search hosts, domains, "
            "addresses</label> <input id=\"q\" name=\"q\" type=\"search\" size=\"30\"> "
            "<button type=\"submit\">Search</button></form></nav>\n";
}

void html_close(std::string& out) { out += "</main></body></html>\n"; }

void html_time(int64_t t, std::string& out) {
    if (!t) {
        out += "never";
        return;
    }
    const std::string when = format_rfc3339(t);
    out += fmt::format("<time datetime=\"{0}\">{0}</time>", when);
}

void html_status(std::string_view status, std::string& out) {
    const StatusStyle& s = style_of(status);
    out += fmt::format("<td class=\"status {}\">{}</td>", s.css_class, s.name);
}

void html_overview(const ReportData& all, const HtmlOptions& o, std::string& out) {
    // Filtered by tag: the summary, the alerts and the hosts are those of the tagged hosts.
    ReportData tagged;
    if (!o.tag.empty()) {
        tagged.now = all.now;
        tagged.silences = all.silences;
        std::set<std::string_view> names;
        for (const auto& h : all.hosts)
            if (std::find(h.tags.begin(), h.tags.end(), o.tag) != h.tags.end()) {
                tagged.hosts.push_back(h);
                names.insert(h.name);
            }
        for (const auto& a : all.alerts)
            if (names.count(a.host)) tagged.alerts.push_back(a);
    }
    const ReportData& d = o.tag.empty() ? all : tagged;
    std::vector<std::string_view> statuses;
    std::map<std::string_view, size_t> per_status;
    for (const auto& h : d.hosts) ++per_status[statuses.emplace_back(host_status(h, d.alerts))];
    std::map<std::string, size_t> open_per_host;
    for (const auto& a : d.alerts) ++open_per_host[a.host];
    out += fmt::format(
        "<section aria-labelledby=\"summary\"><h2 id=\"summary\">Summary</h2>\n"
        "<ul class=\"cards\"><li><b>{}</b> hosts</li><li><b>{}</b> open alerts</li>",
        d.hosts.size(), d.alerts.size());
    for (const auto& s : kStatuses) {
        auto it = per_status.find(s.name);
        out += fmt::format("<li class=\"{}\"><b>{}</b> {}</li>", s.css_class,
                           it == per_status.end() ? 0 : it->second, s.name);
    }
    out += "</ul>\n";
    if (!d.hosts.empty()) status_chart(per_status, d.hosts.size(), out);
    out += "</section>\n";
    html_alerts(d, o, out);
    hosts_section(d, statuses, open_per_host, o, out);
}

std::string render_report_html(const ReportData& d) {
    const std::string generated = format_rfc3339(d.now);
    std::string out;
    html_open("egress-monitor fleet report, " + generated, false, out);
    out += fmt::format(
        "<header><h1>egress-monitor fleet report</h1>\n<p>Generated <time "
        "datetime=\"{0}\">{0}</time> from the collector's history.</p></header>\n<main>\n",
        generated);
    html_overview(d, HtmlOptions{}, out);
    html_close(out);
    return out;
}

}  // namespace em
