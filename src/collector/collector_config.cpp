#include "collector/collector_config.h"

#include <fmt/core.h>

#include "common/files.h"
#include "common/toml_section.h"

namespace em {

namespace {

constexpr size_t kMaxConfigBytes = size_t{1} << 20;

Result<void> parse_rules(TomlSection& rules, RulesConfig& c) {
    // Every rule's table first, so that an unknown rule is reported before anything in them.
    const toml::table* nd_t = rules.table("new_domain");
    const toml::table* ca_t = rules.table("capacity");
    const toml::table* di_t = rules.table("direct_ip");
    const toml::table* pr_t = rules.table("public_resolver");
    const toml::table* tu_t = rules.table("tunnel");
    const toml::table* vs_t = rules.table("volume_spike");
    const toml::table* ra_t = rules.table("rare");
    const toml::table* st_t = rules.table("stale");
    constexpr int64_t kBig = int64_t{1} << 40;
    rules.integer("fleet_hosts", c.fleet_hosts, 0, kBig);
    rules.integer("max_alerts_per_host", c.max_alerts_per_host, 0, kBig);
    if (auto r = rules.finish("rule"); !r) return r;
    const std::string& path = rules.path();

    TomlSection nd(nd_t, "rules.new_domain", path);
    nd.boolean("enabled", c.new_domain.enabled);
    nd.integer("learning_days", c.new_domain.learning_days, 0, 3650);
    nd.strings("allow", c.new_domain.allow);
    if (auto r = nd.finish(); !r) return r;

    TomlSection ca(ca_t, "rules.capacity", path);
    ca.boolean("enabled", c.capacity.enabled);
    if (auto r = ca.finish(); !r) return r;

    TomlSection di(di_t, "rules.direct_ip", path);
    std::vector<std::string> cidrs;
    di.boolean("enabled", c.direct_ip.enabled);
    di.strings("allow_cidrs", cidrs);
    if (auto r = di.finish(); !r) return r;
    for (const auto& s : cidrs) {
        auto cidr = Cidr::parse(s);
        if (!cidr)
            return Error{
                fmt::format("{}: rules.direct_ip.allow_cidrs: bad network \"{}\"", path, s)};
        c.direct_ip.allow_cidrs.push_back(*cidr);
    }

    TomlSection pr(pr_t, "rules.public_resolver", path);
    pr.boolean("enabled", c.public_resolver.enabled);
    pr.text("list", c.public_resolver.list);
    if (auto r = pr.finish(); !r) return r;

    TomlSection tu(tu_t, "rules.tunnel", path);
    tu.boolean("enabled", c.tunnel.enabled);
    tu.integer("max_names_per_domain", c.tunnel.max_names_per_domain, 1, kBig);
    tu.integer("max_label", c.tunnel.max_label, 1, 253);
    tu.number("min_entropy_bits", c.tunnel.min_entropy_bits, 0, 8);
    if (auto r = tu.finish(); !r) return r;

    TomlSection vs(vs_t, "rules.volume_spike", path);
    vs.boolean("enabled", c.volume_spike.enabled);
    vs.number("factor", c.volume_spike.factor, 1, 1e9);
    vs.integer("min_history", c.volume_spike.min_history, 1, 1000000);
    vs.integer("min_delta", c.volume_spike.min_delta, 0, kBig);
    if (auto r = vs.finish(); !r) return r;

    TomlSection ra(ra_t, "rules.rare", path);
    ra.boolean("enabled", c.rare.enabled);
    ra.integer("max_hosts", c.rare.max_hosts, 1, 1000000);
    ra.integer("min_fleet", c.rare.min_fleet, 1, 1000000000);
    if (auto r = ra.finish(); !r) return r;

    TomlSection st(st_t, "rules.stale", path);
    st.boolean("enabled", c.stale.enabled);
    st.integer("max_age_minutes", c.stale.max_age_minutes, 0, 5256000);
    st.integer("unchanged_minutes", c.stale.unchanged_minutes, 1, 5256000);
    return st.finish();
}

}  // namespace

Result<CollectorConfig> parse_collector_config(std::string_view text, const std::string& path) {
    auto doc = parse_toml(text, path);
    if (!doc) return doc.error();
    CollectorConfig c;
    // The top level holds keys of the rest of `collect` too: no unknown-key check there.
    TomlSection top(&*doc, "", path);
    const toml::table* history = top.table("history");
    const toml::table* rules = top.table("rules");
    const toml::table* alerts = top.table("alerts");
    if (auto r = top.status(); !r) return r.error();

    TomlSection h(history, "history", path);
    h.text("path", c.history.path);
    h.integer("retention_days", c.history.retention_days, 0, 36500);
    if (auto r = h.finish(); !r) return r.error();
    if (c.history.path.empty()) return Error{path + ": history.path is empty"};

    TomlSection rs(rules, "rules", path);
    if (auto r = parse_rules(rs, c.rules); !r) return r.error();

    TomlSection a(alerts, "alerts", path);
    a.boolean("stdout", c.alerts.to_stdout);
    a.text("jsonl", c.alerts.jsonl);
    a.boolean("syslog", c.alerts.syslog);
    a.text("webhook", c.alerts.webhook);
    a.text("webhook_ca_file", c.alerts.webhook_ca_file);
    a.integer("webhook_timeout_ms", c.alerts.webhook_timeout_ms, 1, 600000);
    if (auto r = a.finish(); !r) return r.error();
    return c;
}

Result<CollectorConfig> load_collector_config(const std::string& path, bool required) {
    auto text = read_file_if_present(path, kMaxConfigBytes, "config", required);
    if (!text) return text.error();
    if (!*text) return CollectorConfig{};
    return parse_collector_config(**text, path);
}

}  // namespace em
