#include "cli/alerts_cmd.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>
#include <map>

#include "collector/actions.h"
#include "collector/alerts.h"
#include "collector/collector_config.h"
#include "collector/history.h"
#include "collector/report.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/text_escape.h"
#include "common/time.h"

namespace em {

struct AlertsFlags {
    std::string config = "/etc/egress-monitor/collector.toml";
    std::string format = "text";
    bool all = false;
    std::string host, rule, key, period, reason, value;
    int64_t id = 0;
};

namespace {

void print(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

std::string when(int64_t t) { return t ? format_rfc3339(t) : "never"; }

// "#12 OPEN new_domain web1 example.net (3) last 2026-..: message [acked by alice]"
std::string alert_text(const AlertRecord& a, const std::vector<Silence>& silences) {
    std::string out = fmt::format("#{:<5} {:<8} ", a.id, a.open ? "OPEN" : "resolved");
    append_text_escaped(a.rule, out);
    out += ' ';
    append_text_escaped(a.host, out);
    out += ' ';
    append_text_escaped(a.key, out);
    out += fmt::format(" (weight {}, last {}): ", a.weight, when(a.last_seen));
    append_text_escaped(a.message, out);
    if (!a.acked_by.empty()) {
        out += " [acked by ";
        append_text_escaped(a.acked_by, out);
        out += " at " + when(a.acked_at) + "]";
    }
    if (int64_t until = silenced_until(silences, a.host, a.rule, a.key))
        out += fmt::format(" [silenced until {}]", when(until));
    return out + '\n';
}

int run(CLI::App* sub, const AlertsFlags& f) {
    auto config = load_collector_config(f.config, sub->count("--config") > 0);
    if (!config) {
        log_error("alerts: {}", config.error().message);
        return 2;
    }
    const std::string& target = config->history.target();
    if (config->history.url.empty() && ::access(target.c_str(), F_OK) != 0) {
        log_error("alerts: no history at {}: has the collector run? (set [history] path)", target);
        return 2;
    }
    auto store = HistoryStore::open(target);
    if (!store) {
        log_error("alerts: {}", store.error().message);
        return 2;
    }
    auto book = AlertBook::create((*store)->db());
    auto actions = OperatorActions::create((*store)->db());
    if (!book || !actions) {
        log_error("alerts: {}", (!book ? book.error() : actions.error()).message);
        return 2;
    }
    const int64_t now = unix_now();
    const std::string who = OperatorActions::who();
    auto fail = [](const Error& e) {
        log_error("alerts: {}", e.message);
        return 1;
    };

    if (sub->got_subcommand("ack")) {
        auto a = actions->ack(f.id, who, f.reason, now);
        if (!a) return fail(a.error());
        std::string out = fmt::format("acknowledged #{}: ", a->id);
        append_text_escaped(a->rule + " " + a->host + " " + a->key, out);
        print(out + " (its updates no longer go out; its resolution will)\n");
        return 0;
    }
    if (sub->got_subcommand("silence")) {
        auto seconds = parse_period_s(f.period);
        if (!seconds) return fail(seconds.error());
        Silence s;
        s.host = f.host;
        s.rule = f.rule;
        s.key = f.key;
        s.who = who;
        s.why = f.reason;
        auto id = actions->silence(s, *seconds, now);
        if (!id) return fail(id.error());
        print(fmt::format("silence #{} until {}: no sink hears of matching alerts until then\n",
                          *id, format_rfc3339(now + *seconds)));
        return 0;
    }
    if (sub->got_subcommand("allow")) {
        auto entry = actions->allow(f.value, f.host, who, f.reason, now);
        if (!entry) return fail(entry.error());
        auto open = book->open_alerts();
        if (!open) return fail(open.error());
        size_t explained = 0;
        for (const auto& a : *open) explained += entry->explains(a.host, a.rule, a.key);
        print(fmt::format(
            "allow #{}: {} on {}; it explains {} open alert{}, resolved at the collector's next "
            "cycle\n",
            entry->id, f.value, f.host.empty() ? "every host" : f.host, explained,
            explained == 1 ? "" : "s"));
        return 0;
    }
    auto silences = actions->silences(now);
    if (!silences) return fail(silences.error());
    if (sub->got_subcommand("audit")) {
        auto log = actions->audit(1000);
        if (!log) return fail(log.error());
        std::string out;
        for (const auto& r : *log) {
            out += format_rfc3339(r.time) + ' ';
            append_text_escaped(r.who, out);
            out += ' ';
            append_text_escaped(r.action, out);
            out += ' ';
            append_text_escaped(r.detail, out);
            out += ": ";
            append_text_escaped(r.why.empty() ? "(no reason given)" : r.why, out);
            out += '\n';
        }
        print(out);
        return 0;
    }
    // list
    auto alerts = f.all ? book->all_alerts() : book->open_alerts();
    if (!alerts) return fail(alerts.error());
    auto hosts = (*store)->hosts();
    if (!hosts) return fail(hosts.error());
    std::map<std::string, std::vector<std::string>> tags;
    for (auto& h : *hosts) tags[h.name] = std::move(h.tags);
    std::string out = f.format == "json" ? "[" : "";
    bool first = true;
    for (const auto& a : *alerts) {
        if ((!f.host.empty() && a.host != f.host) || (!f.rule.empty() && a.rule != f.rule))
            continue;
        if (f.format == "json") {
            if (!first) out += ',';
            append_alert_record_json(a, tags[a.host],
                                     silenced_until(*silences, a.host, a.rule, a.key), out);
        } else {
            out += alert_text(a, *silences);
        }
        first = false;
    }
    if (f.format == "json") out += "]\n";
    print(out);
    return 0;
}

}  // namespace

std::shared_ptr<AlertsFlags> add_alerts_command(CLI::App& app) {
    auto f = std::make_shared<AlertsFlags>();
    auto* sub = app.add_subcommand(
        "alerts", "List, acknowledge, silence and allow the collector's alerts (audited)");
    sub->add_option("--config", f->config, "collector config (TOML)")->capture_default_str();
    sub->require_subcommand(0, 1);
    sub->fallthrough();  // `alerts list --config X` as well as `alerts --config X list`

    auto* list = sub->add_subcommand("list", "the open alerts (the default)");
    for (auto* s : {sub, list}) {
        s->add_flag("--all", f->all, "resolved ones too");
        s->add_option("--host", f->host, "only this host (\"*\": fleet alerts)");
        s->add_option("--rule", f->rule, "only this rule");
        s->add_option("--format", f->format, "text or json")
            ->check(CLI::IsMember({"text", "json"}))
            ->capture_default_str();
    }
    auto* ack = sub->add_subcommand("ack", "the incident is being handled: no more updates");
    ack->add_option("ID", f->id, "the alert's id (alerts list)")->required();
    ack->add_option("--reason", f->reason, "why (kept in the audit log)");

    auto* silence =
        sub->add_subcommand("silence",
                            "keep matching alerts from every sink for a while (at least one of "
                            "--host, --rule, --key)");
    silence->add_option("--host", f->host, "host name (\"*\": fleet alerts)");
    silence->add_option("--rule", f->rule, "rule name");
    silence->add_option("--key", f->key, "the domain or address the alert is about");
    silence->add_option("--for", f->period, "30m, 12h, 7d, 2w")->required();
    silence->add_option("--reason", f->reason, "why (kept in the audit log)")->required();

    auto* allow = sub->add_subcommand(
        "allow", "add a domain or a network to the allow lists of new_domain and direct_ip");
    allow->add_option("VALUE", f->value, "example.com, *.example.com, 203.0.113.0/24")->required();
    allow->add_option("--host", f->host, "only for this host");
    allow->add_option("--reason", f->reason, "why (kept in the audit log)")->required();

    sub->add_subcommand("audit", "who did what, when and why (newest first)");
    return f;
}

int run_alerts_command(CLI::App& app, const AlertsFlags& flags) {
    CLI::App* sub = app.get_subcommand("alerts");
    if (!sub->parsed()) return -1;
    return run(sub, flags);
}

}  // namespace em
