#include "collector/collector_config.h"

#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <set>

#include <toml++/toml.h>

namespace em {

namespace {

// One table of the config: typed getters, and finish() reports keys nobody asked for.
class Section {
  public:
    Section(const toml::table* t, std::string name, const std::string& path)
        : t_(t), name_(std::move(name)), path_(path) {}

    Result<void> boolean(const char* key, bool& out) {
        const toml::node* n = get(key);
        if (!n) return {};
        const auto* v = n->as_boolean();
        if (!v) return bad(*n, key, "must be true or false");
        out = v->get();
        return {};
    }
    Result<void> integer(const char* key, int64_t& out, int64_t lo, int64_t hi) {
        const toml::node* n = get(key);
        if (!n) return {};
        // as_integer: toml++ 3.3 converts floats to integers without a range check.
        const auto* v = n->as_integer();
        if (!v || v->get() < lo || v->get() > hi)
            return bad(*n, key, fmt::format("must be an integer in [{}, {}]", lo, hi));
        out = v->get();
        return {};
    }
    Result<void> number(const char* key, double& out, double lo, double hi) {
        const toml::node* n = get(key);
        if (!n) return {};
        double d;
        if (const auto* i = n->as_integer())
            d = static_cast<double>(i->get());
        else if (const auto* f = n->as_floating_point())
            d = f->get();
        else
            return bad(*n, key, "must be a number");
        if (!(d >= lo && d <= hi)) return bad(*n, key, fmt::format("must be in [{}, {}]", lo, hi));
        out = d;
        return {};
    }
    Result<void> text(const char* key, std::string& out) {
        const toml::node* n = get(key);
        if (!n) return {};
        const auto* v = n->as_string();
        if (!v) return bad(*n, key, "must be a string");
        out = v->get();
        return {};
    }
    Result<void> strings(const char* key, std::vector<std::string>& out) {
        const toml::node* n = get(key);
        if (!n) return {};
        const auto* a = n->as_array();
        if (!a) return bad(*n, key, "must be an array of strings");
        out.clear();
        for (const auto& e : *a) {
            const auto* v = e.as_string();
            if (!v) return bad(e, key, "must be an array of strings");
            out.push_back(v->get());
        }
        return {};
    }
    Result<void> finish() const {
        if (!t_) return {};
        for (auto&& [k, n] : *t_)
            if (!used_.count(std::string(k.str())))
                return Error{fmt::format("{}:{}: unknown key {}.{}", path_, n.source().begin.line,
                                         name_, k.str())};
        return {};
    }
    Error bad(const toml::node& n, std::string_view key, std::string_view what) const {
        return Error{
            fmt::format("{}:{}: {}.{} {}", path_, n.source().begin.line, name_, key, what)};
    }

  private:
    const toml::node* get(const char* key) {
        used_.insert(key);
        return t_ ? t_->get(key) : nullptr;
    }
    const toml::table* t_;
    std::string name_;
    const std::string& path_;
    std::set<std::string> used_;
};

// Runs the steps in order (finish() must come after the getters) and stops at the first error.
Result<void> all(std::initializer_list<std::function<Result<void>()>> steps) {
    for (const auto& step : steps)
        if (auto r = step(); !r) return r;
    return {};
}

Result<void> parse_rules(const toml::table* rules, const std::string& path, RulesConfig& c) {
    auto table = [&](const char* name, const toml::table*& out) -> Result<void> {
        out = nullptr;
        if (!rules) return {};
        const toml::node* n = rules->get(name);
        if (!n) return {};
        out = n->as_table();
        if (!out)
            return Error{
                fmt::format("{}:{}: rules.{} must be a table", path, n->source().begin.line, name)};
        return {};
    };
    static constexpr const char* kNames[] = {
        "new_domain", "capacity",    "direct_ip",          "public_resolver",
        "tunnel",     "dga",         "volume_spike",       "rare",
        "stale",      "fleet_hosts", "max_alerts_per_host"};
    if (rules)
        for (auto&& [k, n] : *rules)
            if (std::find(std::begin(kNames), std::end(kNames), k.str()) == std::end(kNames))
                return Error{fmt::format("{}:{}: unknown rule rules.{}", path,
                                         n.source().begin.line, k.str())};
    const toml::table* t;
    constexpr int64_t kBig = int64_t{1} << 40;
    if (auto r = Section(rules, "rules", path).integer("fleet_hosts", c.fleet_hosts, 0, kBig); !r)
        return r;
    if (auto r = Section(rules, "rules", path)
                     .integer("max_alerts_per_host", c.max_alerts_per_host, 0, kBig);
        !r)
        return r;

    if (auto r = table("new_domain", t); !r) return r;
    Section nd(t, "rules.new_domain", path);
    if (auto r = all(
            {[&] { return nd.boolean("enabled", c.new_domain.enabled); },
             [&] { return nd.integer("learning_days", c.new_domain.learning_days, 0, 3650); },
             [&] { return nd.strings("allow", c.new_domain.allow); }, [&] { return nd.finish(); }});
        !r)
        return r;

    if (auto r = table("capacity", t); !r) return r;
    Section ca(t, "rules.capacity", path);
    if (auto r = all({[&] { return ca.boolean("enabled", c.capacity.enabled); },
                      [&] { return ca.finish(); }});
        !r)
        return r;

    if (auto r = table("direct_ip", t); !r) return r;
    Section di(t, "rules.direct_ip", path);
    std::vector<std::string> cidrs;
    if (auto r =
            all({[&] { return di.boolean("enabled", c.direct_ip.enabled); },
                 [&] { return di.strings("allow_cidrs", cidrs); }, [&] { return di.finish(); }});
        !r)
        return r;
    for (const auto& s : cidrs) {
        auto cidr = Cidr::parse(s);
        if (!cidr)
            return Error{
                fmt::format("{}: rules.direct_ip.allow_cidrs: bad network \"{}\"", path, s)};
        c.direct_ip.allow_cidrs.push_back(*cidr);
    }

    if (auto r = table("public_resolver", t); !r) return r;
    Section pr(t, "rules.public_resolver", path);
    if (auto r = all({[&] { return pr.boolean("enabled", c.public_resolver.enabled); },
                      [&] { return pr.text("list", c.public_resolver.list); },
                      [&] { return pr.finish(); }});
        !r)
        return r;

    if (auto r = table("tunnel", t); !r) return r;
    Section tu(t, "rules.tunnel", path);
    if (auto r = all(
            {[&] { return tu.boolean("enabled", c.tunnel.enabled); },
             [&] {
                 return tu.integer("max_names_per_domain", c.tunnel.max_names_per_domain, 1, kBig);
             },
             [&] { return tu.integer("max_label", c.tunnel.max_label, 1, 253); },
             [&] { return tu.number("min_entropy_bits", c.tunnel.min_entropy_bits, 0, 8); },
             [&] { return tu.finish(); }});
        !r)
        return r;

    if (auto r = table("dga", t); !r) return r;
    Section dg(t, "rules.dga", path);
    if (auto r =
            all({[&] { return dg.boolean("enabled", c.dga.enabled); },
                 [&] { return dg.integer("min_length", c.dga.min_length, 1, 63); },
                 [&] { return dg.number("threshold", c.dga.threshold, 0, 1000); },
                 [&] { return dg.integer("burst_min", c.dga.burst_min, 0, 1000000); },
                 [&] { return dg.integer("burst_minutes", c.dga.burst_minutes, 1, 10080); },
                 [&] { return dg.strings("allow", c.dga.allow); }, [&] { return dg.finish(); }});
        !r)
        return r;

    if (auto r = table("volume_spike", t); !r) return r;
    Section vs(t, "rules.volume_spike", path);
    if (auto r =
            all({[&] { return vs.boolean("enabled", c.volume_spike.enabled); },
                 [&] { return vs.number("factor", c.volume_spike.factor, 1, 1e9); },
                 [&] { return vs.integer("min_history", c.volume_spike.min_history, 1, 1000000); },
                 [&] { return vs.integer("min_delta", c.volume_spike.min_delta, 0, kBig); },
                 [&] { return vs.finish(); }});
        !r)
        return r;

    if (auto r = table("rare", t); !r) return r;
    Section ra(t, "rules.rare", path);
    if (auto r = all({[&] { return ra.boolean("enabled", c.rare.enabled); },
                      [&] { return ra.integer("max_hosts", c.rare.max_hosts, 1, 1000000); },
                      [&] { return ra.integer("min_fleet", c.rare.min_fleet, 1, 1000000000); },
                      [&] { return ra.finish(); }});
        !r)
        return r;

    if (auto r = table("stale", t); !r) return r;
    Section st(t, "rules.stale", path);
    return all(
        {[&] { return st.boolean("enabled", c.stale.enabled); },
         [&] { return st.integer("max_age_minutes", c.stale.max_age_minutes, 0, 5256000); },
         [&] { return st.integer("unchanged_minutes", c.stale.unchanged_minutes, 1, 5256000); },
         [&] { return st.finish(); }});
}

}  // namespace

Result<CollectorConfig> parse_collector_config(std::string_view text, const std::string& path) {
    toml::table doc;
    try {
        doc = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        return Error{fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                 e.source().begin.column, e.description())};
    }
    CollectorConfig c;
    auto table = [&](const char* name) -> Result<const toml::table*> {
        const toml::node* n = doc.get(name);
        if (!n) return static_cast<const toml::table*>(nullptr);
        if (!n->is_table())
            return Error{
                fmt::format("{}:{}: {} must be a table", path, n->source().begin.line, name)};
        return n->as_table();
    };
    auto history = table("history");
    if (!history) return history.error();
    Section h(*history, "history", path);
    if (auto r =
            all({[&] { return h.text("path", c.history.path); },
                 [&] { return h.integer("retention_days", c.history.retention_days, 0, 36500); },
                 [&] { return h.finish(); }});
        !r)
        return r.error();
    if (c.history.path.empty()) return Error{path + ": history.path is empty"};

    auto rules = table("rules");
    if (!rules) return rules.error();
    if (auto r = parse_rules(*rules, path, c.rules); !r) return r.error();

    auto alerts = table("alerts");
    if (!alerts) return alerts.error();
    Section a(*alerts, "alerts", path);
    if (auto r = all({[&] { return a.boolean("stdout", c.alerts.to_stdout); },
                      [&] { return a.text("jsonl", c.alerts.jsonl); },
                      [&] { return a.boolean("syslog", c.alerts.syslog); },
                      [&] { return a.text("webhook", c.alerts.webhook); },
                      [&] { return a.text("webhook_ca_file", c.alerts.webhook_ca_file); },
                      [&] {
                          return a.integer("webhook_timeout_ms", c.alerts.webhook_timeout_ms, 1,
                                           600000);
                      },
                      [&] { return a.finish(); }});
        !r)
        return r.error();
    return c;
}

Result<CollectorConfig> load_collector_config(const std::string& path, bool required) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (errno == ENOENT && !required) return CollectorConfig{};
        return errno_error("cannot read config " + path);
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.size() > (1 << 20)) return Error{path + ": config larger than 1 MiB"};
    return parse_collector_config(text, path);
}

}  // namespace em
