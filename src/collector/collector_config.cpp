#include "collector/collector_config.h"

#include <fmt/core.h>

#include <algorithm>
#include <iterator>

#include "common/files.h"
#include "common/toml/toml_section.h"
#include "store/store.h"

namespace em {

namespace {

Result<void> parse_rules(const toml::table* rules, const std::string& path, RulesConfig& c) {
    static constexpr const char* kNames[] = {
        "new_domain", "capacity",    "direct_ip",          "public_resolver",
        "tunnel",     "dga",         "volume_spike",       "rare",
        "stale",      "fleet_hosts", "max_alerts_per_host"};
    if (rules)
        for (auto&& [k, n] : *rules)
            if (std::find(std::begin(kNames), std::end(kNames), k.str()) == std::end(kNames))
                return Error{fmt::format("{}:{}: unknown rule rules.{}", path,
                                         n.source().begin.line, k.str())};
    constexpr int64_t kBig = int64_t{1} << 40;
    TomlSection top(rules, "rules", path);
    top.integer("fleet_hosts", c.fleet_hosts, 0, kBig)
        .integer("max_alerts_per_host", c.max_alerts_per_host, 0, kBig);
    if (auto r = top.status(); !r) return r;
    // One rule's table: `read` asks for its keys, then any other key is an error.
    auto rule = [&](const char* name, const auto& read) -> Result<void> {
        const toml::table* t = top.table(name);
        if (auto r = top.status(); !r) return r;
        TomlSection s(t, std::string("rules.") + name, path);
        read(s);
        return s.finish();
    };

    if (auto r = rule("new_domain",
                      [&](TomlSection& s) {
                          s.boolean("enabled", c.new_domain.enabled)
                              .integer("learning_days", c.new_domain.learning_days, 0, 3650)
                              .strings("allow", c.new_domain.allow);
                      });
        !r)
        return r;
    if (auto r =
            rule("capacity", [&](TomlSection& s) { s.boolean("enabled", c.capacity.enabled); });
        !r)
        return r;
    std::vector<std::string> cidrs;
    if (auto r = rule("direct_ip",
                      [&](TomlSection& s) {
                          s.boolean("enabled", c.direct_ip.enabled).strings("allow_cidrs", cidrs);
                      });
        !r)
        return r;
    for (const auto& s : cidrs) {
        auto cidr = Cidr::parse(s);
        if (!cidr)
            return Error{
                fmt::format("{}: rules.direct_ip.allow_cidrs: bad network \"{}\"", path, s)};
        c.direct_ip.allow_cidrs.push_back(*cidr);
    }
    if (auto r = rule("public_resolver",
                      [&](TomlSection& s) {
                          s.boolean("enabled", c.public_resolver.enabled)
                              .text("list", c.public_resolver.list);
                      });
        !r)
        return r;
    if (auto r = rule("tunnel",
                      [&](TomlSection& s) {
                          s.boolean("enabled", c.tunnel.enabled)
                              .integer("max_names_per_domain", c.tunnel.max_names_per_domain, 1,
                                       kBig)
                              .integer("max_label", c.tunnel.max_label, 1, 253)
                              .number("min_entropy_bits", c.tunnel.min_entropy_bits, 0, 8);
                      });
        !r)
        return r;
    if (auto r = rule("dga",
                      [&](TomlSection& s) {
                          s.boolean("enabled", c.dga.enabled)
                              .integer("min_length", c.dga.min_length, 1, 63)
                              .number("threshold", c.dga.threshold, 0, 1000)
                              .integer("burst_min", c.dga.burst_min, 0, 1000000)
                              .integer("burst_minutes", c.dga.burst_minutes, 1, 10080)
                              .strings("allow", c.dga.allow);
                      });
        !r)
        return r;
    if (auto r = rule("volume_spike",
                      [&](TomlSection& s) {
                          s.boolean("enabled", c.volume_spike.enabled)
                              .number("factor", c.volume_spike.factor, 1, 1e9)
                              .integer("min_history", c.volume_spike.min_history, 1, 1000000)
                              .integer("min_delta", c.volume_spike.min_delta, 0, kBig);
                      });
        !r)
        return r;
    if (auto r = rule("rare",
                      [&](TomlSection& s) {
                          s.boolean("enabled", c.rare.enabled)
                              .integer("max_hosts", c.rare.max_hosts, 1, 1000000)
                              .integer("min_fleet", c.rare.min_fleet, 1, 1000000000);
                      });
        !r)
        return r;
    return rule("stale", [&](TomlSection& s) {
        s.boolean("enabled", c.stale.enabled)
            .integer("max_age_minutes", c.stale.max_age_minutes, 0, 5256000)
            .integer("unchanged_minutes", c.stale.unchanged_minutes, 1, 5256000);
    });
}

}  // namespace

Result<CollectorConfig> parse_collector_config(std::string_view text, const std::string& path) {
    auto doc = parse_toml(text, path);
    if (!doc) return doc.error();
    CollectorConfig c;
    // Other top-level keys belong to the rest of `collect`: no finish() here.
    TomlSection top(&*doc, "", path);
    const toml::table* history = top.table("history");
    if (auto r = top.status(); !r) return r.error();
    TomlSection h(history, "history", path);
    h.text("path", c.history.path)
        .text("url", c.history.url)
        .integer("retention_days", c.history.retention_days, 0, 36500);
    if (auto r = h.finish(); !r) return r.error();
    if (c.history.path.empty()) return Error{path + ": history.path is empty"};
    if (!c.history.url.empty() && !store::is_postgres_url(c.history.url))
        return Error{
            path + ": history.url is not a postgresql:// URL: " + store::redact_url(c.history.url)};

    const toml::table* rules = top.table("rules");
    if (auto r = top.status(); !r) return r.error();
    if (auto r = parse_rules(rules, path, c.rules); !r) return r.error();

    const toml::table* alerts = top.table("alerts");
    if (auto r = top.status(); !r) return r.error();
    TomlSection a(alerts, "alerts", path);
    a.boolean("stdout", c.alerts.to_stdout)
        .text("jsonl", c.alerts.jsonl)
        .boolean("syslog", c.alerts.syslog)
        .text("webhook", c.alerts.webhook)
        .text("webhook_ca_file", c.alerts.webhook_ca_file)
        .integer("webhook_timeout_ms", c.alerts.webhook_timeout_ms, 1, 600000);
    if (auto r = a.finish(); !r) return r.error();

    const toml::table* dashboard = top.table("dashboard");
    if (auto r = top.status(); !r) return r.error();
    TomlSection d(dashboard, "dashboard", path);
    d.text("listen", c.dashboard.listen)
        .text("token_file", c.dashboard.token_file)
        .text("users_file", c.dashboard.users_file)
        .text("tls_cert", c.dashboard.tls_cert)
        .text("tls_key", c.dashboard.tls_key)
        .boolean("plain_http", c.dashboard.plain_http)
        .text("user", c.dashboard.user);
    if (auto r = d.finish(); !r) return r.error();
    return c;
}

Result<CollectorConfig> load_collector_config(const std::string& path, bool required) {
    const ReadErrors errors{"cannot read config " + path, path + ": config larger than 1 MiB"};
    auto text = read_file_if_present(path, 1 << 20, errors);
    if (!text) return text.error();
    if (!*text) {
        if (required) return errno_error(errors.cannot_read, ENOENT);
        return CollectorConfig{};
    }
    return parse_collector_config(**text, path);
}

}  // namespace em
