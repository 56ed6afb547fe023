#include "dashboard/pages.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>

#include "collector/history_queries.h"
#include "collector/history_state.h"
#include "collector/history_uses.h"
#include "collector/report.h"
#include "collector/report_html.h"
#include "common/html_escape.h"
#include "common/ip_address.h"
#include "common/time.h"
#include "dashboard/html_parts.h"
#include "format/parser.h"

namespace em {

namespace {

constexpr int64_t kChartDays = 30;

using page_parts::failed;
using page_parts::link;
using page_parts::not_found;
using page_parts::text;

void alerts_list(const std::vector<AlertRecord>& alerts, std::string& out) {
    if (alerts.empty()) {
        out += "<p>No open alert.</p>\n";
        return;
    }
    out += "<ul>";
    for (const auto& a : alerts) {
        out += fmt::format("<li><a href=\"/alert?id={0}\">#{0}</a> <code>", a.id);
        text(a.rule, out);
        out += "</code> ";
        link("/host", "name", a.host, out);
        out += ": ";
        text(a.message, out);
        out += " (since ";
        html_time(a.first_seen, out);
        out += ")</li>";
    }
    out += "</ul>\n";
}

// The chart: one pair of bars a day (new domains, new addresses), the day's counter growth
// in each bar's <title>, the scale and the first and last day written out.
std::string growth_chart(const std::vector<DayGrowth>& days) {
    int64_t top = 1;
    for (const auto& d : days) top = std::max({top, d.new_domains, d.new_ips});
    const int width = 640, height = 140, base = 120;
    const double step = days.empty() ? 0 : (width - 40.0) / static_cast<double>(days.size());
    std::string out = fmt::format(
        "<svg id=\"growth-chart\" class=\"chart\" role=\"img\" viewBox=\"0 0 {0} {1}\" "
        "width=\"{0}\" height=\"{1}\" aria-labelledby=\"growth-title\"><title "
        "id=\"growth-title\">New domains (blue) and addresses (orange) per day, last {2} "
        "days; highest day {3}</title>",
        width, height, days.size(), top);
    out += fmt::format(
        "<line x1=\"36\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#d1d9e0\"/>"
        "<text x=\"0\" y=\"12\">{2}</text><text x=\"0\" y=\"{0}\">0</text>",
        base, width, top);
    for (size_t i = 0; i < days.size(); ++i) {
        const DayGrowth& d = days[i];
        const double x = 40 + step * static_cast<double>(i);
        const double w = std::max(1.0, step / 2 - 1);
        const std::string day = format_rfc3339(d.day).substr(0, 10);
        auto bar = [&](double at, int64_t v, const char* colour, const char* what, int64_t growth) {
            const double h = 110.0 * static_cast<double>(v) / static_cast<double>(top);
            out += fmt::format(
                "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                "fill=\"{}\"><title>{}: {} new {}, counters +{}</title></rect>",
                at, base - h, w, h, colour, day, v, what, growth);
        };
        bar(x, d.new_domains, "#0969da", "domains", d.domain_growth);
        bar(x + w + 1, d.new_ips, "#c77700", "addresses", d.ip_growth);
    }
    if (!days.empty())
        out += fmt::format(
            "<text x=\"40\" y=\"136\">{}</text><text x=\"{}\" y=\"136\" "
            "text-anchor=\"end\">{}</text>",
            format_rfc3339(days.front().day).substr(0, 10), width,
            format_rfc3339(days.back().day).substr(0, 10));
    out += "</svg>\n";
    return out;
}

bool matches(std::string_view key, std::string_view filter) {
    return filter.empty() || key.find(filter) != std::string_view::npos;
}

template <class Entry, class Key>
void key_table(const char* id, const char* caption, const std::vector<Entry>& entries,
               const std::string& filter, const Key& key_of, const char* path, const char* arg,
               std::string& out) {
    std::vector<const Entry*> rows;
    for (const auto& e : entries)
        if (matches(key_of(e), filter)) rows.push_back(&e);
    // Most used first: what a host does most, then what it did once.
    std::stable_sort(rows.begin(), rows.end(), [](const Entry* a, const Entry* b) {
        return a->stats.count > b->stats.count;
    });
    out += fmt::format("<h2 id=\"{}\">{} ({})</h2>\n", id, caption, rows.size());
    if (rows.size() > kMaxRows)
        out += fmt::format("<p class=\"note\">The {} most used of {}; search to narrow.</p>\n",
                           kMaxRows, rows.size());
    out +=
        "<table><thead><tr><th scope=\"col\">Key</th><th scope=\"col\">Count</th><th "
        "scope=\"col\">First seen</th><th scope=\"col\">Last seen</th><th "
        "scope=\"col\">Now</th></tr></thead><tbody>\n";
    for (size_t i = 0; i < rows.size() && i < kMaxRows; ++i) {
        const Entry& e = *rows[i];
        out += "<tr><th scope=\"row\">";
        link(path, arg, key_of(e), out);
        out += fmt::format("</th><td class=\"n\">{}</td><td>", e.stats.count);
        html_time(e.stats.first_seen, out);
        out += "</td><td>";
        html_time(e.stats.last_seen, out);
        out += fmt::format("</td><td>{}</td></tr>\n",
                           e.stats.present ? "in the files" : "gone from the files");
    }
    out += "</tbody></table>\n";
}

std::string ip_text(const IpState& s) { return s.ip.to_string(); }

// "/usr/bin/curl as root", "in container 3f2a..." when not the host's.
void who(const ProcessUseEntry& u, std::string& out) {
    out += "<code>";
    text(u.exe, out);
    out += "</code> as ";
    text(u.user.empty() ? "?" : u.user, out);
    if (!u.container.empty()) {
        out += " in container <code>";
        text(u.container.substr(0, 12), out);
        out += "</code>";
    }
}

// The host's process uses (history_uses.h): who reached out, summed per process (exe, user,
// container), then the uses themselves that match the filter, latest first.
void processes_section(HistoryStore& store, const HostRecord& h, const std::string& filter,
                       std::string& out) {
    out += "<h2 id=\"processes\">Processes</h2>\n";
    auto stored = load_process_uses(store.db(), h.id);
    std::optional<std::vector<ProcessUseEntry>> uses;
    if (stored && *stored) {
        SnapshotLimits limits;
        limits.max_bytes = kMaxProcessUsesBytes;
        limits.max_lines = kMaxProcessUsesLines;
        auto parsed = parse_process_uses_file((*stored)->text, h.name, limits);
        if (parsed) uses = std::move(parsed.value());
    }
    if (!stored || (*stored && !uses)) {
        out += "<p>The process uses stored for this host could not be read.</p>\n";
        return;
    }
    if (!*stored) {
        out +=
            "<p>This host's agent sends no process attribution (it does with eBPF or "
            "<code>attribute_processes</code>; cron mode cannot).</p>\n";
        return;
    }
    out += "<p class=\"note\">As the agent last sent them (";
    html_time((*stored)->fetched_at, out);
    out += "): queries and flows counted since its ledger began.</p>\n";

    struct Process {
        const ProcessUseEntry* first = nullptr;
        int64_t domains = 0, addresses = 0, uses = 0, first_seen = 0, last_seen = 0;
    };
    std::map<std::tuple<std::string_view, std::string_view, std::string_view>, Process> procs;
    std::vector<const ProcessUseEntry*> rows;
    for (const auto& u : *uses) {
        const bool hit = matches(u.dest, filter) || matches(u.exe, filter) ||
                         matches(u.user, filter) || matches(u.container, filter);
        if (!hit) continue;
        rows.push_back(&u);
        Process& p = procs[{u.exe, u.user, u.container}];
        if (!p.first) {
            p.first = &u;
            p.first_seen = u.first_seen;
        }
        ++(u.kind == 'd' ? p.domains : p.addresses);
        // Saturating: counts come from a host (each at most 2^62, but there are many).
        p.uses = u.count > INT64_MAX - p.uses ? INT64_MAX : p.uses + u.count;
        p.first_seen = std::min(p.first_seen, u.first_seen);
        p.last_seen = std::max(p.last_seen, u.last_seen);
    }
    std::vector<const Process*> order;
    for (const auto& [k, p] : procs) order.push_back(&p);
    std::stable_sort(order.begin(), order.end(),
                     [](const Process* a, const Process* b) { return a->uses > b->uses; });
    out += fmt::format(
        "<table id=\"process-table\"><caption>{} processes{}</caption><thead><tr><th "
        "scope=\"col\">Process</th><th scope=\"col\">Domains</th><th "
        "scope=\"col\">Addresses</th><th scope=\"col\">Queries and flows</th><th "
        "scope=\"col\">First seen</th><th scope=\"col\">Last seen</th></tr></thead><tbody>\n",
        order.size(), filter.empty() ? "" : " (filtered)");
    for (size_t i = 0; i < order.size() && i < kMaxRows; ++i) {
        const Process& p = *order[i];
        out += "<tr><th scope=\"row\">";
        who(*p.first, out);
        out += fmt::format(
            "</th><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>",
            p.domains, p.addresses, p.uses);
        html_time(p.first_seen, out);
        out += "</td><td>";
        html_time(p.last_seen, out);
        out += "</td></tr>\n";
    }
    out += "</tbody></table>\n";

    std::stable_sort(rows.begin(), rows.end(),
                     [](const ProcessUseEntry* a, const ProcessUseEntry* b) {
                         return a->last_seen > b->last_seen;
                     });
    out += fmt::format("<h3 id=\"uses\">Who used which destination ({})</h3>\n", rows.size());
    if (rows.size() > kMaxRows)
        out += fmt::format("<p class=\"note\">The {} latest of {}; filter to narrow.</p>\n",
                           kMaxRows, rows.size());
    out +=
        "<table id=\"use-table\"><thead><tr><th scope=\"col\">Destination</th><th "
        "scope=\"col\">Process</th><th scope=\"col\">Count</th><th scope=\"col\">First "
        "seen</th><th scope=\"col\">Last seen</th></tr></thead><tbody>\n";
    for (size_t i = 0; i < rows.size() && i < kMaxRows; ++i) {
        const ProcessUseEntry& u = *rows[i];
        out += "<tr><th scope=\"row\">";
        if (u.kind == 'd')
            link("/domain", "name", u.dest, out);
        else
            link("/ip", "addr", u.dest, out);
        out += "</th><td>";
        who(u, out);
        out += fmt::format("</td><td class=\"n\">{}</td><td>", u.count);
        html_time(u.first_seen, out);
        out += "</td><td>";
        html_time(u.last_seen, out);
        out += "</td></tr>\n";
    }
    out += "</tbody></table>\n";
}

void occurrence_header(std::string& out) {
    out +=
        "<table><thead><tr><th scope=\"col\">Host</th><th scope=\"col\">Count</th><th "
        "scope=\"col\">First seen</th><th scope=\"col\">Last seen</th><th "
        "scope=\"col\">Now</th></tr></thead><tbody>\n";
}

void occurrence_row(const HostRecord& h, const KeyStats& s, std::string& out) {
    out += "<tr><th scope=\"row\">";
    link("/host", "name", h.name, out);
    out += fmt::format("</th><td class=\"n\">{}</td><td>", s.count);
    html_time(s.first_seen, out);
    out += "</td><td>";
    html_time(s.last_seen, out);
    out +=
        fmt::format("</td><td>{}</td></tr>\n", s.present ? "in the files" : "gone from the files");
}

}  // namespace

Page host_page(HistoryStore& store, AlertBook& book, const std::string& name,
               const std::string& filter, int64_t now) {
    auto hosts = store.hosts();
    if (!hosts) return failed(hosts.error().message);
    auto it = std::find_if(hosts->begin(), hosts->end(),
                           [&](const HostRecord& h) { return h.name == name; });
    if (it == hosts->end()) return not_found("no such host", "No host named " + name + ".");
    const HostRecord& h = *it;
    auto alerts = book.open_alerts(name);
    if (!alerts) return failed(alerts.error().message);
    auto state = store.load_state(h.id);
    if (!state) return failed(state.error().message);
    auto growth = host_growth(store.db(), h.id, now - (kChartDays - 1) * 86400, now);
    if (!growth) return failed(growth.error().message);
    auto events = store.events(h.id, 20);
    if (!events) return failed(events.error().message);

    Page p;
    std::string& out = p.html;
    html_open("egress-monitor: " + name, true, out);
    out += "<main><h1>";
    text(name, out);
    out += "</h1>\n<table class=\"facts\"><tbody><tr><th scope=\"row\">Status</th>";
    html_status(host_status(h, *alerts), out);
    out += "</tr><tr><th scope=\"row\">Tags</th><td>";
    for (size_t t = 0; t < h.tags.size(); ++t) {
        if (t) out += ", ";
        link("/", "tag", h.tags[t], out);
    }
    out += "</td></tr><tr><th scope=\"row\">Last good fetch</th><td>";
    html_time(h.last_ok, out);
    out += "</td></tr><tr><th scope=\"row\">Files last changed</th><td>";
    html_time(h.last_change, out);
    out += "</td></tr><tr><th scope=\"row\">Last error</th><td>";
    text(h.last_error.empty() ? "none" : h.last_error, out);
    out += "</td></tr></tbody></table>\n<h2 id=\"alerts\">Open alerts</h2>\n";
    alerts_list(*alerts, out);
    out +=
        "<h2 id=\"growth\">Growth</h2>\n<p class=\"note\">Keys first seen per day after the "
        "host's first snapshot (its baseline is not drawn): domains in blue, addresses in "
        "orange; hover a bar for the day's figures.</p>\n" +
        growth_chart(*growth);

    out +=
        "<form action=\"/host\" method=\"get\" role=\"search\"><input type=\"hidden\" "
        "name=\"name\" value=\"";
    text(name, out);
    out +=
        "\"><label for=\"filter\">Show keys containing</label> <input id=\"filter\" "
        "name=\"q\" type=\"search\" value=\"";
    text(filter, out);
    out += "\"> <button type=\"submit\">Filter</button></form>\n";
    key_table(
        "domains", "Domains", state->domains, filter,
        [](const DomainState& d) -> const std::string& { return d.name; }, "/domain", "name", out);
    key_table("addresses", "Addresses", state->ips, filter, ip_text, "/ip", "addr", out);
    processes_section(store, h, filter, out);

    out += "<h2 id=\"events\">Recent events</h2>\n";
    if (events->empty())
        out += "<p>None.</p>\n";
    else {
        out += "<ul>";
        for (const auto& [t, kind, detail] : *events) {
            out += "<li>";
            html_time(t, out);
            out += " ";
            text(kind, out);
            out += ": ";
            text(detail, out);
            out += "</li>";
        }
        out += "</ul>\n";
    }
    html_close(out);
    return p;
}

Page domain_page(HistoryStore& store, AlertBook& book, const std::string& name) {
    auto all_hosts = store.hosts();
    if (!all_hosts) return failed(all_hosts.error().message);
    auto found = store.lookup_domain(*all_hosts, name);
    if (!found) return failed(found.error().message);
    auto fleet = fleet_hosts_stored(store.db(), name);
    if (!fleet) return failed(fleet.error().message);
    auto fleet_size = hosts_with_snapshot(store.db());
    if (!fleet_size) return failed(fleet_size.error().message);
    auto alerts = book.open_alerts();
    if (!alerts) return failed(alerts.error().message);

    Page p;
    std::string& out = p.html;
    std::string rows;
    size_t hosts = 0;
    for (size_t i = 0; i < all_hosts->size(); ++i)
        if (const auto& d = (*found)[i]) {
            ++hosts;
            occurrence_row((*all_hosts)[i], d->stats, rows);
        }
    if (hosts == 0)
        return not_found("no such domain",
                         "No host has looked up " + name + " since it was added.");
    html_open("egress-monitor: " + name, true, out);
    out += "<main><h1><code>";
    text(name, out);
    out += fmt::format(
        "</code></h1>\n<p>Listed by <b>{}</b> of {} hosts with data now (fleet rarity: {}); "
        "ever seen on {}.</p>\n",
        *fleet, *fleet_size,
        *fleet <= 1 ? "one host only" : (*fleet * 10 <= *fleet_size ? "rare" : "common"), hosts);
    std::vector<AlertRecord> mine;
    for (const auto& a : *alerts)
        if (a.key == name || a.message.find(name) != std::string::npos) mine.push_back(a);
    out += "<h2 id=\"alerts\">Open alerts about it</h2>\n";
    alerts_list(mine, out);
    out += "<h2 id=\"hosts\">Hosts</h2>\n";
    occurrence_header(out);
    out += rows + "</tbody></table>\n";
    html_close(out);
    return p;
}

Page ip_page(HistoryStore& store, const std::string& addr) {
    auto ip = IpAddress::parse(addr);
    if (!ip) {
        Page p = not_found("not an address", addr + " is not an IPv4 or IPv6 address.");
        p.status = 400;
        return p;
    }
    auto all_hosts = store.hosts();
    if (!all_hosts) return failed(all_hosts.error().message);
    auto found = store.lookup_ip(*all_hosts, *ip);
    if (!found) return failed(found.error().message);
    size_t names_total = 0;  // domains whose answers named it, on any host
    auto names = store.answer_names(*ip, kMaxRows, names_total);
    if (!names) return failed(names.error().message);
    std::string rows;
    size_t hosts = 0;
    for (size_t i = 0; i < all_hosts->size(); ++i)
        if (const auto& s = (*found)[i]) {
            ++hosts;
            occurrence_row((*all_hosts)[i], s->stats, rows);
        }
    if (hosts == 0 && names->empty())
        return not_found("no such address", "No host has connected to " + ip->to_string() +
                                                " and no answer named it.");
    Page p;
    std::string& out = p.html;
    html_open("egress-monitor: " + ip->to_string(), true, out);
    out += "<main><h1><code>" + ip->to_string() + "</code></h1>\n";
    out += "<h2 id=\"names\">Names that resolved to it</h2>\n";
    if (names->empty()) {
        out += "<p>None: connections to it were made without a DNS answer naming it.</p>\n";
    } else {
        out += "<ul>";
        for (const auto& name : *names) {
            out += "<li>";
            link("/domain", "name", name, out);
            out += "</li>";
        }
        out += "</ul>\n";
        if (names_total > names->size())
            out += fmt::format("<p class=\"note\">The first {} of {}.</p>\n", names->size(),
                               names_total);
    }
    out += fmt::format("<h2 id=\"hosts\">Hosts that connected to it ({})</h2>\n", hosts);
    occurrence_header(out);
    out += rows + "</tbody></table>\n";
    html_close(out);
    return p;
}

Page search_page(HistoryStore& store, const std::string& query) {
    // Domains and addresses come from the history's index (every name and address a host
    // has listed), not from every host's state. An address's text is lower-case hex digits,
    // ':' and '.': only such a query looks at the addresses.
    const bool may_be_address =
        !query.empty() && query.find_first_not_of("0123456789abcdef:.") == std::string::npos;
    std::vector<std::string> hosts, domains, ips;
    size_t domain_total = 0, ip_total = 0;
    if (!query.empty()) {
        auto all_hosts = store.hosts();
        if (!all_hosts) return failed(all_hosts.error().message);
        for (const auto& h : *all_hosts)
            if (matches(h.name, query)) hosts.push_back(h.name);
        auto names = store.search_names(query, kMaxRows, domain_total);
        if (!names) return failed(names.error().message);
        domains = std::move(*names);
    }
    if (may_be_address) {
        auto found = store.search_addresses(query, kMaxRows, ip_total);
        if (!found) return failed(found.error().message);
        ips = std::move(*found);
    }
    Page p;
    std::string& out = p.html;
    html_open("egress-monitor: search", true, out);
    out += "<main><h1>Search</h1>\n<p>";
    if (query.empty()) {
        out += "Type part of a host name, a domain or an address.</p>\n";
    } else {
        out += fmt::format("{} hosts, {} domains, {} addresses contain <code>", hosts.size(),
                           domain_total, ip_total);
        text(query, out);
        out += "</code>.</p>\n";
    }
    auto list = [&](const char* id, const char* title, const std::vector<std::string>& v,
                    size_t total, const char* path, const char* arg) {
        if (v.empty()) return;
        out += fmt::format("<h2 id=\"{}\">{}</h2>\n<ul>", id, title);
        for (size_t i = 0; i < v.size() && i < kMaxRows; ++i) {
            out += "<li>";
            link(path, arg, v[i], out);
            out += "</li>";
        }
        out += "</ul>\n";
        if (total > kMaxRows)
            out += fmt::format("<p class=\"note\">The first {} of {}.</p>\n", kMaxRows, total);
    };
    list("hosts", "Hosts", hosts, hosts.size(), "/host", "name");
    list("domains", "Domains", domains, domain_total, "/domain", "name");
    list("addresses", "Addresses", ips, ip_total, "/ip", "addr");
    html_close(out);
    return p;
}

}  // namespace em
