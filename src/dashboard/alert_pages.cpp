// The dashboard's alert pages: the incidents, and one incident with its actions.
#include <fmt/core.h>

#include <algorithm>

#include "collector/report.h"
#include "common/time.h"
#include "dashboard/html_parts.h"
#include "dashboard/pages.h"

namespace em {

namespace {

using page_parts::failed;
using page_parts::link;
using page_parts::not_found;
using page_parts::text;

constexpr int64_t kRecentDays = 7;

void host_cell(const std::string& host, std::string& out) {
    if (host == kFleetHost)
        out += "the fleet";
    else
        link("/host", "name", host, out);
}

// The form's start: POST to ACTION with the anti-forgery value and the incident's id.
void form_open(const char* action, const char* label, const std::string& csrf, int64_t id,
               std::string& out) {
    out += fmt::format(
        "<form method=\"post\" action=\"{}\" aria-label=\"{}\"><input type=\"hidden\" "
        "name=\"csrf\" value=\"",
        action, label);
    text(csrf, out);
    out += fmt::format("\"><input type=\"hidden\" name=\"id\" value=\"{}\">", id);
}

void why_field(const char* id, std::string& out) {
    out += fmt::format(
        "<label for=\"{0}\">Why (kept in the audit log)</label> <input id=\"{0}\" name=\"why\" "
        "required maxlength=\"500\" size=\"40\"> ",
        id);
}

}  // namespace

bool allowable(std::string_view rule) { return rule == "new_domain" || rule == "direct_ip"; }

Page alerts_page(HistoryStore& store, AlertBook& book, OperatorActions& actions, int64_t now) {
    auto data = read_report_data(store, book, now);
    if (!data) return failed(data.error().message);
    auto all = book.all_alerts();
    if (!all) return failed(all.error().message);
    std::vector<const AlertRecord*> resolved;
    for (const auto& a : *all)
        if (!a.open && a.changed >= now - kRecentDays * 86400) resolved.push_back(&a);
    std::sort(resolved.begin(), resolved.end(),
              [](const AlertRecord* a, const AlertRecord* b) { return a->changed > b->changed; });
    auto silences = actions.silences(now);
    if (!silences) return failed(silences.error().message);

    Page p;
    std::string& out = p.html;
    html_open("egress-monitor: alerts", true, out);
    out += "<main><h1>Alerts</h1>\n";
    HtmlOptions o;
    o.links = true;
    html_alerts(*data, o, out);
    out += fmt::format(
        "<section aria-labelledby=\"resolved\"><h2 id=\"resolved\">Resolved in the last {} "
        "days ({})</h2>\n",
        kRecentDays, resolved.size());
    if (resolved.empty()) {
        out += "<p>None.</p>";
    } else {
        out +=
            "<table><thead><tr><th scope=\"col\">Incident</th><th scope=\"col\">Rule</th><th "
            "scope=\"col\">Host</th><th scope=\"col\">Key</th><th scope=\"col\">Opened</th><th "
            "scope=\"col\">Resolved</th></tr></thead><tbody>\n";
        for (size_t i = 0; i < resolved.size() && i < kMaxRows; ++i) {
            const AlertRecord& a = *resolved[i];
            out += fmt::format("<tr><td><a href=\"/alert?id={0}\">#{0}</a></td><td><code>", a.id);
            text(a.rule, out);
            out += "</code></td><td>";
            host_cell(a.host, out);
            out += "</td><td><code>";
            text(a.key, out);
            out += "</code></td><td>";
            html_time(a.first_seen, out);
            out += "</td><td>";
            html_time(a.changed, out);
            out += "</td></tr>\n";
        }
        out += "</tbody></table>\n";
    }
    out +=
        "</section>\n<section aria-labelledby=\"silences\"><h2 id=\"silences\">Silences in "
        "force</h2>\n";
    if (silences->empty())
        out += "<p>None.</p>";
    else {
        out += "<ul>";
        for (const auto& s : *silences) {
            out += fmt::format("<li>#{}: host <code>", s.id);
            text(s.host.empty() ? "any" : s.host, out);
            out += "</code>, rule <code>";
            text(s.rule.empty() ? "any" : s.rule, out);
            out += "</code>, key <code>";
            text(s.key.empty() ? "any" : s.key, out);
            out += "</code> until ";
            html_time(s.until, out);
            out += ", by ";
            text(s.who, out);
            out += ": ";
            text(s.why, out);
            out += "</li>";
        }
        out += "</ul>";
    }
    out += "</section>\n";
    html_close(out);
    return p;
}

Page alert_page(AlertBook& book, OperatorActions& actions, int64_t id, const std::string& csrf,
                std::string_view done, int64_t now) {
    auto all = book.all_alerts();
    if (!all) return failed(all.error().message);
    auto it =
        std::find_if(all->begin(), all->end(), [&](const AlertRecord& a) { return a.id == id; });
    if (id <= 0 || it == all->end())
        return not_found("no such incident", fmt::format("There is no incident #{}.", id));
    const AlertRecord& a = *it;
    auto silences = actions.silences(now);
    if (!silences) return failed(silences.error().message);
    std::vector<AlertBook::Member> members;
    if (a.host == kFleetHost) {
        auto m = book.members(a.rule, a.key);
        if (!m) return failed(m.error().message);
        members = std::move(*m);
    }

    Page p;
    std::string& out = p.html;
    html_open(fmt::format("egress-monitor: incident #{}", id), true, out);
    out += fmt::format("<main><h1>Incident #{}: <code>", id);
    text(a.rule, out);
    out += "</code></h1>\n";
    if (done == "ack") out += "<p class=\"done\" role=\"status\">Acknowledged.</p>\n";
    if (done == "silence") out += "<p class=\"done\" role=\"status\">Silenced.</p>\n";
    if (done == "allow")
        out +=
            "<p class=\"done\" role=\"status\">Allowed: the alerts it explains resolve at "
            "the collector's next cycle.</p>\n";
    if (auto meaning = rule_meaning(a.rule); !meaning.empty())
        out += fmt::format("<p class=\"meaning\">{}</p>\n", meaning);
    out += "<table class=\"facts\"><tbody><tr><th scope=\"row\">State</th><td>";
    out += a.open ? "open" : "resolved";
    out += "</td></tr><tr><th scope=\"row\">Host</th><td>";
    host_cell(a.host, out);
    out += "</td></tr><tr><th scope=\"row\">Key</th><td><code>";
    text(a.key, out);
    out += "</code></td></tr><tr><th scope=\"row\">What happened</th><td>";
    text(a.message, out);
    out += "</td></tr><tr><th scope=\"row\">Since</th><td>";
    html_time(a.first_seen, out);
    out += "</td></tr><tr><th scope=\"row\">Last seen</th><td>";
    html_time(a.last_seen, out);
    out += fmt::format("</td></tr><tr><th scope=\"row\">Seen</th><td>{}× (weight {})</td></tr>",
                       a.occurrences, a.weight);
    out += "<tr><th scope=\"row\">Handled</th><td>";
    if (!a.acked_by.empty()) {
        out += "acknowledged by ";
        text(a.acked_by, out);
        out += " at ";
        html_time(a.acked_at, out);
    }
    if (int64_t until = silenced_until(*silences, a.host, a.rule, a.key)) {
        if (!a.acked_by.empty()) out += "; ";
        out += "silenced until ";
        html_time(until, out);
    }
    out += "</td></tr></tbody></table>\n";
    if (!members.empty()) {
        out += fmt::format("<h2 id=\"members\">Hosts ({})</h2>\n<ul>", members.size());
        for (size_t i = 0; i < members.size() && i < kMaxRows; ++i) {
            out += "<li>";
            link("/host", "name", members[i].host, out);
            out += ": ";
            text(members[i].message, out);
            out += "</li>";
        }
        out += "</ul>\n";
    }

    if (!a.open) {
        html_close(out);
        return p;
    }
    out +=
        "<h2 id=\"actions\">Actions</h2>\n<p class=\"note\">Each is recorded with your user "
        "name and reason in the audit log (<code>egress-monitor alerts audit</code>).</p>\n";
    if (a.acked_by.empty()) {
        out +=
            "<h3>Acknowledge</h3>\n<p class=\"note\">It stays open and listed; its updates "
            "no longer go out, its resolution will.</p>\n";
        form_open("/alert/ack", "acknowledge", csrf, id, out);
        why_field("ack-why", out);
        out += "<button type=\"submit\">Acknowledge</button></form>\n";
    }
    out +=
        "<h3>Silence</h3>\n<p class=\"note\">No sink hears of matching alerts until the "
        "silence ends; they are still recorded.</p>\n";
    form_open("/alert/silence", "silence", csrf, id, out);
    out +=
        "<label for=\"silence-scope\">Matching</label> <select id=\"silence-scope\" "
        "name=\"scope\"><option value=\"key\">this host, rule and key</option><option "
        "value=\"rule\">this rule on this host</option><option value=\"host\">every rule on "
        "this host</option></select> <label for=\"silence-for\">for</label> <select "
        "id=\"silence-for\" name=\"for\"><option>1h</option><option>12h</option><option "
        "selected>1d</option><option>7d</option><option>30d</option></select> ";
    why_field("silence-why", out);
    out += "<button type=\"submit\">Silence</button></form>\n";
    if (allowable(a.rule)) {
        out +=
            "<h3>Allow</h3>\n<p class=\"note\">Adds a domain (and every name under it) or a "
            "network to the allow lists of <code>new_domain</code> and "
            "<code>direct_ip</code>.</p>\n";
        form_open("/alert/allow", "allow", csrf, id, out);
        out +=
            "<label for=\"allow-value\">Domain or network</label> <input id=\"allow-value\" "
            "name=\"value\" required maxlength=\"253\" value=\"";
        text(a.key, out);
        out += "\"> ";
        if (a.host != kFleetHost)
            out +=
                "<label><input type=\"checkbox\" name=\"every_host\" value=\"1\"> for every "
                "host, not only this one</label> ";
        why_field("allow-why", out);
        out += "<button type=\"submit\">Allow</button></form>\n";
    }
    html_close(out);
    return p;
}

}  // namespace em
