#include "enforce/enforce_config.h"

#include <fmt/core.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "common/duration.h"

namespace em {

namespace {

std::string where(const std::string& path, const toml::node& n) {
    return fmt::format("{}:{}", path, n.source().begin.line);
}

// Lower case, no trailing dot; empty when the name cannot be a host name.
std::string normalise_name(std::string_view s) {
    if (!s.empty() && s.back() == '.') s.remove_suffix(1);
    if (s.empty() || s.size() > 253) return {};
    std::string out;
    for (char c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
        if (!ok) return {};
        out += c;
    }
    if (out.front() == '.' || out.find("..") != std::string::npos) return {};
    return out;
}

class Reader {
  public:
    Reader(const std::string& path, std::set<uint16_t>& queues) : path_(path), queues_(queues) {}

    Result<void> queue_pair(const toml::node& n, const std::string& key, QueuePair& out) {
        const auto* t = n.as_table();
        if (!t)
            return Error{where(path_, n) + ": " + key + " must be a table { ipv4 = N, ipv6 = N }"};
        for (auto&& [k, v] : *t) {
            std::string fam(k.str());
            if (fam != "ipv4" && fam != "ipv6")
                return Error{where(path_, v) + ": unknown key " + key + "." + fam};
            const auto* i = v.as_integer();
            if (!i || i->get() < 0 || i->get() > 65535)
                return Error{where(path_, v) + ": " + key + "." + fam +
                             " must be a queue number in [0, 65535]"};
            auto q = static_cast<uint16_t>(i->get());
            if (!queues_.insert(q).second)
                return Error{
                    fmt::format("{}: {}.{}: queue {} is used twice", where(path_, v), key, fam, q)};
            (fam == "ipv4" ? out.ipv4 : out.ipv6) = q;
        }
        return {};
    }
    Result<void> names(const toml::node& n, const std::string& key, std::vector<std::string>& out) {
        const auto* a = n.as_array();
        if (!a) return Error{where(path_, n) + ": " + key + " must be an array of host names"};
        for (const auto& e : *a) {
            const auto* s = e.as_string();
            std::string name = s ? normalise_name(s->get()) : std::string();
            if (name.empty())
                return Error{where(path_, e) + ": " + key + ": not a host name" +
                             (s ? " '" + s->get() + "'" : std::string())};
            out.push_back(std::move(name));
        }
        return {};
    }
    Result<int64_t> duration(const toml::node& n, const std::string& key) {
        const auto* s = n.as_string();
        if (!s) return Error{where(path_, n) + ": " + key + " must be a duration such as \"10s\""};
        auto ms = parse_duration_ms(s->get());
        if (!ms) return Error{where(path_, n) + ": " + key + ": " + ms.error().message};
        return *ms;
    }
    Result<bool> boolean(const toml::node& n, const std::string& key) {
        const auto* b = n.as_boolean();
        if (!b) return Error{where(path_, n) + ": " + key + " must be true or false"};
        return b->get();
    }

  private:
    const std::string& path_;
    std::set<uint16_t>& queues_;
};

Result<FilterConfig> parse_filter(const toml::table& t, const toml::node& at,
                                  const std::string& path, Reader& rd) {
    FilterConfig f;
    const toml::node* allow_for = nullptr;
    for (auto&& [k, v] : t) {
        const std::string key(k.str());
        Result<void> r;
        if (key == "name") {
            const auto* s = v.as_string();
            if (!s || s->get().empty() || s->get().size() > 64)
                return Error{where(path, v) + ": name must be a string of 1 to 64 bytes"};
            f.name = s->get();
        } else if (key == "dnsQueue") {
            r = rd.queue_pair(v, key, f.dns_queue);
        } else if (key == "trafficQueue") {
            r = rd.queue_pair(v, key, f.traffic_queue);
        } else if (key == "allowedHostnames") {
            r = rd.names(v, key, f.allowed_hostnames);
        } else if (key == "cachedHostnames") {
            r = rd.names(v, key, f.cached_hostnames);
        } else if (key == "allowAllHostnames" || key == "lookupUnknownIPs") {
            auto b = rd.boolean(v, key);
            if (!b) return b.error();
            (key == "allowAllHostnames" ? f.allow_all_hostnames : f.lookup_unknown_ips) = *b;
        } else if (key == "queryTimeout") {
            auto d = rd.duration(v, key);
            if (!d) return d.error();
            if (*d < 100 || *d > 120000)
                return Error{where(path, v) + ": queryTimeout must be from 100ms to 2m"};
            f.query_timeout_ms = *d;
        } else if (key == "outstandingQueries") {
            const auto* i = v.as_integer();
            if (!i || i->get() < 1 || i->get() > 1000000)
                return Error{where(path, v) + ": outstandingQueries must be from 1 to 1000000"};
            f.outstanding_queries = static_cast<size_t>(i->get());
        } else if (key == "allowAnswersFor" || key == "reCacheEvery") {
            auto d = rd.duration(v, key);
            if (!d) return d.error();
            (key == "allowAnswersFor" ? f.allow_answers_for_ms : f.recache_every_ms) = *d;
            if (key == "allowAnswersFor") allow_for = &v;
        } else if (key == "recordTTL") {
            const auto* s = v.as_string();
            static const std::map<std::string, RecordTtl> kModes = {{"ignore", RecordTtl::ignore},
                                                                    {"shorter", RecordTtl::shorter},
                                                                    {"longer", RecordTtl::longer},
                                                                    {"always", RecordTtl::always}};
            auto it = s ? kModes.find(s->get()) : kModes.end();
            if (it == kModes.end())
                return Error{
                    where(path, v) +
                    ": recordTTL must be \"ignore\", \"shorter\", \"longer\" or \"always\""};
            f.record_ttl = it->second;
        } else {
            return Error{where(path, v) + ": unknown key filters." + key};
        }
        if (!r) return r.error();
    }
    const std::string who =
        where(path, at) + ": filter" + (f.name.empty() ? "" : " '" + f.name + "'");
    if (f.name.empty()) return Error{who + " has no name"};
    if (!f.dns_queue.any() && !f.traffic_queue.any())
        return Error{who + " has neither dnsQueue nor trafficQueue"};
    if (f.allow_all_hostnames && !f.allowed_hostnames.empty())
        return Error{who + ": allowAllHostnames and allowedHostnames exclude each other"};
    if (!f.allow_all_hostnames && f.allowed_hostnames.empty() && f.cached_hostnames.empty())
        return Error{who +
                     " allows nothing: set allowedHostnames, cachedHostnames or "
                     "allowAllHostnames"};
    if (!f.allowed_hostnames.empty() || f.allow_all_hostnames) {
        if (!allow_for) return Error{who + " needs allowAnswersFor"};
    }
    if (!f.cached_hostnames.empty() && f.recache_every_ms == 0)
        return Error{who + ": cachedHostnames needs reCacheEvery"};
    if (f.cached_hostnames.empty() && f.recache_every_ms)
        return Error{who + ": reCacheEvery without cachedHostnames"};
    return f;
}

}  // namespace

Result<EnforceConfig> parse_enforce_config(std::string_view text, const std::string& path) {
    toml::table t;
    try {
        t = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        return Error{fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                 e.source().begin.column, e.description())};
    }
    EnforceConfig c;
    std::set<uint16_t> queues;
    Reader rd(path, queues);
    std::set<std::string> names;
    for (auto&& [k, v] : t) {
        const std::string key(k.str());
        if (key == "inboundDNSQueue") {
            if (auto r = rd.queue_pair(v, key, c.inbound_dns_queue); !r) return r.error();
        } else if (key == "filters") {
            const auto* a = v.as_array();
            if (!a) return Error{where(path, v) + ": filters must be [[filters]] tables"};
            for (const auto& e : *a) {
                const auto* ft = e.as_table();
                if (!ft) return Error{where(path, e) + ": filters must be [[filters]] tables"};
                auto f = parse_filter(*ft, e, path, rd);
                if (!f) return f.error();
                if (!names.insert(f->name).second)
                    return Error{where(path, e) + ": filter name '" + f->name + "' is used twice"};
                c.filters.push_back(std::move(f.value()));
            }
        } else {
            return Error{where(path, v) + ": unknown key " + key};
        }
    }
    if (c.filters.empty()) return Error{path + ": no [[filters]]"};
    bool dns = false;
    for (const auto& f : c.filters) dns = dns || f.dns_queue.any();
    if (dns && !c.inbound_dns_queue.any())
        return Error{path + ": filters with a dnsQueue need inboundDNSQueue (the answers)"};
    return c;
}

Result<EnforceConfig> load_enforce_config(const std::string& path) {
    std::ifstream f(path);
    if (!f) return Error{"cannot read " + path};
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_enforce_config(ss.str(), path);
}

}  // namespace em
