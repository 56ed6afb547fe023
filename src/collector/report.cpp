#include "collector/report.h"

#include <fmt/core.h>

#include <algorithm>
#include <map>

#include "collector/actions.h"

#include "common/json.h"
#include "common/text_escape.h"
#include "common/time.h"

namespace em {

namespace {

std::string when(int64_t t) { return t ? format_rfc3339(t) : "never"; }

void json_time(int64_t t, std::string& out) {
    if (t)
        append_json_string(format_rfc3339(t), out);
    else
        out += "null";
}

void json_tags(const std::vector<std::string>& tags, std::string& out) {
    out += '[';
    for (size_t i = 0; i < tags.size(); ++i) {
        if (i) out += ',';
        append_json_string(tags[i], out);
    }
    out += ']';
}

std::string text_tags(const std::vector<std::string>& tags) {
    if (tags.empty()) return "";
    std::string out = " [";
    for (size_t i = 0; i < tags.size(); ++i) out += (i ? "," : "") + escape_text(tags[i]);
    return out + ']';
}

}  // namespace

void append_alert_record_json(const AlertRecord& a, const std::vector<std::string>& tags,
                              int64_t silenced_until, std::string& out) {
    out += "{\"host\":";
    append_json_string(a.host, out);
    out += ",\"rule\":";
    append_json_string(a.rule, out);
    out += ",\"key\":";
    append_json_string(a.key, out);
    out +=
        a.open ? ",\"state\":\"open\",\"first_seen\":" : ",\"state\":\"resolved\",\"first_seen\":";
    json_time(a.first_seen, out);
    out += ",\"last_seen\":";
    json_time(a.last_seen, out);
    out += fmt::format(",\"occurrences\":{},\"message\":", a.occurrences);
    append_json_string(a.message, out);
    out += ",\"tags\":";
    json_tags(tags, out);
    out += fmt::format(",\"id\":{},\"weight\":{},\"acked_by\":", a.id, a.weight);
    append_json_string(a.acked_by, out);
    out += ",\"silenced_until\":";
    json_time(silenced_until, out);
    out += '}';
}

Result<ReportData> read_report_data(HistoryStore& store, AlertBook& book, int64_t now) {
    ReportData d;
    d.now = now;
    auto hosts = store.hosts();
    if (!hosts) return hosts.error();
    d.hosts = std::move(hosts.value());
    auto alerts = book.open_alerts();
    if (!alerts) return alerts.error();
    d.alerts = std::move(alerts.value());
    auto actions = OperatorActions::create(store.db());
    if (!actions) return actions.error();
    auto s = actions->silences(now);
    if (!s) return s.error();
    d.silences = std::move(s.value());
    return d;
}

std::string_view host_status(const HostRecord& h, const std::vector<AlertRecord>& open) {
    auto has = [&](std::string_view rule) {
        return std::any_of(open.begin(), open.end(), [&](const AlertRecord& a) {
            return a.host == h.name && a.rule == rule;
        });
    };
    if (!h.last_error.empty()) return "failing";
    if (has("stale")) return "stale";
    if (has("capacity")) return "at capacity";
    if (!h.first_fetch) return "no data";
    return "fresh";
}

Result<std::string> render_report(HistoryStore& store, AlertBook& book, ReportFormat format,
                                  int64_t now) {
    auto data = read_report_data(store, book, now);
    if (!data) return data.error();
    if (format == ReportFormat::html) return render_report_html(*data);
    const bool json = format == ReportFormat::json;
    const std::vector<HostRecord>* hosts = &data->hosts;
    const std::vector<AlertRecord>* alerts = &data->alerts;
    const std::vector<Silence>& silences = data->silences;
    std::map<std::string, size_t> open_per_host;
    std::map<std::string, const HostRecord*> by_name;
    for (const auto& a : *alerts) ++open_per_host[a.host];
    for (const auto& h : *hosts) by_name[h.name] = &h;
    auto tags_of = [&](const std::string& host) {
        auto it = by_name.find(host);
        return it == by_name.end() ? std::vector<std::string>() : it->second->tags;
    };

    std::string out;
    if (json) {
        out = "{\"generated\":";
        json_time(now, out);
        out += ",\"alerts\":[";
        for (size_t i = 0; i < alerts->size(); ++i) {
            const AlertRecord& a = (*alerts)[i];
            if (i) out += ',';
            append_alert_record_json(a, tags_of(a.host),
                                     silenced_until(silences, a.host, a.rule, a.key), out);
        }
        out += "],\"hosts\":[";
        for (size_t i = 0; i < hosts->size(); ++i) {
            const HostRecord& h = (*hosts)[i];
            if (i) out += ',';
            out += "{\"name\":";
            append_json_string(h.name, out);
            out += ",\"tags\":";
            json_tags(h.tags, out);
            for (auto [key, t] : {std::pair{"first_fetch", h.first_fetch},
                                  {"last_ok", h.last_ok},
                                  {"last_attempt", h.last_attempt},
                                  {"last_change", h.last_change},
                                  {"last_reset", h.last_reset}}) {
                out += fmt::format(",\"{}\":", key);
                json_time(t, out);
            }
            out += ",\"last_error\":";
            append_json_string(h.last_error, out);
            out += fmt::format(",\"domains\":{},\"ips\":{},\"open_alerts\":{}}}", h.domains, h.ips,
                               open_per_host[h.name]);
        }
        out += "]}\n";
        return out;
    }

    out = fmt::format("egress-monitor collector report, {}\n\nopen alerts: {}\n",
                      format_rfc3339(now), alerts->size());
    for (const auto& a : *alerts) {
        out += fmt::format("  {:<15} {:<20} {}: {} (since {}, last {}, seen {}x){} #{}",
                           escape_text(a.rule), escape_text(a.host), escape_text(a.key),
                           escape_text(a.message), format_rfc3339(a.first_seen),
                           format_rfc3339(a.last_seen), a.occurrences, text_tags(tags_of(a.host)),
                           a.id);
        if (!a.acked_by.empty()) out += " acked by " + escape_text(a.acked_by);
        if (int64_t until = silenced_until(silences, a.host, a.rule, a.key))
            out += " silenced until " + format_rfc3339(until);
        out += '\n';
    }
    out += fmt::format("\nhosts: {}\n", hosts->size());
    for (const auto& h : *hosts) {
        out += fmt::format("  {:<20} last ok {:<20} domains {:>7}  ips {:>7}  open alerts {:>4}{}",
                           escape_text(h.name), when(h.last_ok), h.domains, h.ips,
                           open_per_host[h.name], text_tags(h.tags));
        if (!h.last_error.empty()) {
            std::string_view first = h.last_error;
            first = first.substr(0, first.find('\n'));
            out += fmt::format("  last error: {}", escape_text(first));
        }
        out += '\n';
    }
    return out;
}

}  // namespace em
