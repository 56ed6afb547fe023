#include "enforce/enforce_config.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "common/domain_name.h"
#include "common/duration.h"
#include "common/toml/toml_section.h"

namespace em {

namespace {

// A queue pair as written: 0 is "not set", as egress-eddie's zero value.
struct Queue {
    uint16_t v4 = 0, v6 = 0;
    uint32_t line = 0;  // where it was written; 0 when it was not
    bool either() const { return v4 != 0 || v6 != 0; }
    bool both() const { return v4 != 0 && v6 != 0; }
    bool valid() const { return !either() || v4 != v6; }
    QueuePair pair() const {
        QueuePair p;
        if (v4) p.ipv4 = v4;
        if (v6) p.ipv6 = v6;
        return p;
    }
};

bool shared(const Queue& a, const Queue& b) {
    auto same = [](uint16_t x, uint16_t y) { return x != 0 && y != 0 && x == y; };
    return same(a.v4, b.v4) || same(a.v6, b.v6) || same(a.v4, b.v6) || same(a.v6, b.v4);
}

// A filter as written, before the rules are checked.
struct RawFilter {
    uint32_t line = 0;  // the [[filters]] table
    std::string name;
    Queue dns, traffic;
    bool allow_all = false, lookup_unknown_ips = false;
    int64_t allow_answers_for_ns = 0, recache_every_ns = 0;
    uint32_t allow_answers_for_line = 0, recache_every_line = 0;
    std::vector<std::string> allowed, cached;
    std::vector<uint32_t> allowed_lines, cached_lines;
    // Our extensions.
    RecordTtl record_ttl = RecordTtl::ignore;
    int64_t query_timeout_ms = 5000;
    size_t outstanding_queries = 4096;
    bool allow_by_server_name = false;
    uint32_t allow_by_server_name_line = 0;
};

uint32_t line_of(const toml::node& n) { return n.source().begin.line; }

// Keys match as egress-eddie's TOML decoder (BurntSushi/toml) matches them to its fields:
// exactly, or else ignoring ASCII case.
bool key_is(std::string_view k, std::string_view want) {
    return k.size() == want.size() &&
           std::equal(k.begin(), k.end(), want.begin(), [](char a, char b) {
               auto low = [](char c) {
                   return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
               };
               return low(a) == low(b);
           });
}

// egress-eddie takes Go's domain names (common/domain_name.h) and refuses a trailing dot.
bool valid_domain_name(std::string_view s) { return go_is_domain_name(s) && s.back() != '.'; }

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// Go's strconv.Quote, as egress-eddie quotes names (%q); other Unicode than ASCII is kept.
std::string quote(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if ((c >= 0x20 && c < 0x7f) || c >= 0x80) {  // UTF-8 (toml++ checked it)
            out += static_cast<char>(c);
        } else if (const char* e = std::strchr("a\ab\bf\fn\nr\rt\tv\v", c); e && c) {
            out += '\\';
            out += e[-1];
        } else {
            out += fmt::format("\\x{:02x}", c);
        }
    }
    return out + "\"";
}

// Reads the file's values into RawFilters with their types checked (the TOML decoder's part
// of egress-eddie's parse) and collects the keys nobody reads.
class Reader {
  public:
    explicit Reader(const std::string& path) : path_(path) {}

    std::string at(uint32_t line) const {
        return line ? fmt::format("{}:{}: ", path_, line) : path_ + ": ";
    }
    std::string at(const toml::node& n) const { return at(line_of(n)); }

    Result<Queue> queue(const toml::node& n, const std::string& key) {
        const auto* t = n.as_table();
        if (!t) return Error{at(n) + key + " must be a table { ipv4 = N, ipv6 = N }"};
        Queue q;
        q.line = line_of(n);
        for (auto&& [k, v] : *t) {
            const bool v4 = key_is(k.str(), "ipv4");
            if (!v4 && !key_is(k.str(), "ipv6")) {
                unknown(key + "." + std::string(k.str()), v);
                continue;
            }
            const auto* i = v.as_integer();
            if (!i || i->get() < 0 || i->get() > 65535)
                return Error{at(v) + key + "." + (v4 ? "ipv4" : "ipv6") +
                             " must be a queue number in [0, 65535]"};
            (v4 ? q.v4 : q.v6) = static_cast<uint16_t>(i->get());
            if (q.line == 0 || line_of(v) < q.line) q.line = line_of(v);
        }
        return q;
    }
    Result<void> names(const toml::node& n, const std::string& key, std::vector<std::string>& out,
                       std::vector<uint32_t>& lines) {
        const auto* a = n.as_array();
        if (!a) return Error{at(n) + key + " must be an array of host names"};
        for (const auto& e : *a) {
            const auto* s = e.as_string();
            if (!s) return Error{at(e) + key + " must be an array of host names"};
            out.push_back(s->get());
            lines.push_back(line_of(e) ? line_of(e) : line_of(n));
        }
        return {};
    }
    // A Go duration as egress-eddie's decoder reads one: a string for time.ParseDuration, or
    // an integer number of nanoseconds.
    Result<int64_t> duration_ns(const toml::node& n, const std::string& key) {
        if (const auto* i = n.as_integer()) return i->get();
        const auto* s = n.as_string();
        if (!s) return Error{at(n) + key + " must be a duration such as \"10s\""};
        auto ns = parse_go_duration(s->get());
        if (!ns) return Error{at(n) + key + ": " + ns.error().message};
        return *ns;
    }
    Result<bool> boolean(const toml::node& n, const std::string& key) {
        const auto* b = n.as_boolean();
        if (!b) return Error{at(n) + key + " must be true or false"};
        return b->get();
    }
    // A key no field takes, with whatever it holds (as egress-eddie's decoder lists them).
    void unknown(const std::string& key, const toml::node& v) {
        unknown_.emplace_back(v.source().begin.line, v.source().begin.column, key);
        if (const auto* t = v.as_table()) {
            for (auto&& [k, c] : *t) unknown(key + "." + std::string(k.str()), c);
        } else if (const auto* a = v.as_array(); a && a->is_array_of_tables()) {
            for (const auto& e : *a)
                for (auto&& [k, c] : *e.as_table()) unknown(key + "." + std::string(k.str()), c);
        }
    }
    // egress-eddie's `unknown keys "a", "b"`, in the order of the file, at the first of them.
    Result<void> unknown_keys() {
        if (unknown_.empty()) return {};
        std::sort(unknown_.begin(), unknown_.end());
        std::string msg = at(std::get<0>(unknown_.front())) + "unknown keys ";
        for (size_t i = 0; i < unknown_.size(); ++i)
            msg += (i ? ", " : "") + quote(std::get<2>(unknown_[i]));
        return Error{msg};
    }

  private:
    const std::string& path_;
    std::vector<std::tuple<uint32_t, uint32_t, std::string>> unknown_;
};

Result<RawFilter> read_filter(const toml::table& t, const toml::node& at, Reader& rd) {
    RawFilter f;
    f.line = line_of(at);
    for (auto&& [k, v] : t) {
        const std::string_view key = k.str();
        Result<void> r;
        if (key_is(key, "name")) {
            const auto* s = v.as_string();
            if (!s) return Error{rd.at(v) + "name must be a string"};
            f.name = s->get();
        } else if (key_is(key, "dnsQueue") || key_is(key, "trafficQueue")) {
            const bool dns = key_is(key, "dnsQueue");
            auto q = rd.queue(v, dns ? "filters.dnsQueue" : "filters.trafficQueue");
            if (!q) return q.error();
            (dns ? f.dns : f.traffic) = *q;
        } else if (key_is(key, "allowedHostnames")) {
            r = rd.names(v, "allowedHostnames", f.allowed, f.allowed_lines);
        } else if (key_is(key, "cachedHostnames")) {
            r = rd.names(v, "cachedHostnames", f.cached, f.cached_lines);
        } else if (key_is(key, "allowAllHostnames") || key_is(key, "lookupUnknownIPs")) {
            const bool all = key_is(key, "allowAllHostnames");
            auto b = rd.boolean(v, all ? "allowAllHostnames" : "lookupUnknownIPs");
            if (!b) return b.error();
            (all ? f.allow_all : f.lookup_unknown_ips) = *b;
        } else if (key_is(key, "allowAnswersFor") || key_is(key, "reCacheEvery")) {
            const bool allow = key_is(key, "allowAnswersFor");
            auto d = rd.duration_ns(v, allow ? "allowAnswersFor" : "reCacheEvery");
            if (!d) return d.error();
            (allow ? f.allow_answers_for_ns : f.recache_every_ns) = *d;
            (allow ? f.allow_answers_for_line : f.recache_every_line) = line_of(v);
        } else if (key_is(key, "queryTimeout")) {  // an extension
            auto d = rd.duration_ns(v, "queryTimeout");
            if (!d) return d.error();
            if (*d < 100000000 || *d > 120000000000)
                return Error{rd.at(v) + "queryTimeout must be from 100ms to 2m"};
            f.query_timeout_ms = *d / 1000000;
        } else if (key_is(key, "outstandingQueries")) {  // an extension
            const auto* i = v.as_integer();
            if (!i || i->get() < 1 || i->get() > 1000000)
                return Error{rd.at(v) + "outstandingQueries must be from 1 to 1000000"};
            f.outstanding_queries = static_cast<size_t>(i->get());
        } else if (key_is(key, "allowByServerName")) {  // an extension
            auto b = rd.boolean(v, "allowByServerName");
            if (!b) return b.error();
            f.allow_by_server_name = *b;
            f.allow_by_server_name_line = line_of(v);
        } else if (key_is(key, "recordTTL")) {  // an extension
            const auto* s = v.as_string();
            static const std::map<std::string, RecordTtl> kModes = {{"ignore", RecordTtl::ignore},
                                                                    {"shorter", RecordTtl::shorter},
                                                                    {"longer", RecordTtl::longer},
                                                                    {"always", RecordTtl::always}};
            auto it = s ? kModes.find(s->get()) : kModes.end();
            if (it == kModes.end())
                return Error{rd.at(v) +
                             "recordTTL must be \"ignore\", \"shorter\", \"longer\" or \"always\""};
            f.record_ttl = it->second;
        } else {
            rd.unknown("filters." + std::string(key), v);
        }
        if (!r) return r.error();
    }
    return f;
}

// Milliseconds of a duration set in nanoseconds: a set one (not zero) stays set.
int64_t to_ms(int64_t ns) { return ns > 0 ? std::max<int64_t>(1, ns / 1000000) : 0; }

// egress-eddie's parseConfigBytes after decoding, rule by rule in its order with its text.
Result<void> check(const Queue& inbound, const Queue& self, const std::vector<RawFilter>& filters,
                   const Reader& rd) {
    if (filters.empty()) return Error{rd.at(0) + "at least one filter must be specified"};
    if (!inbound.either()) return Error{rd.at(0) + "\"inboundDNSQueue\" must be set"};
    if (!inbound.valid())
        return Error{rd.at(inbound.line) +
                     "\"inboundDNSQueue.ipv4\" and \"inboundDNSQueue.ipv6\" cannot be the same"};
    const bool ipv4_used = inbound.v4 != 0, ipv6_used = inbound.v6 != 0;
    bool reverse_lookups = false, any_cached = false;
    std::map<std::string, size_t> filter_names;
    std::map<uint16_t, std::string> filter_queues;

    for (size_t i = 0; i < filters.size(); ++i) {
        const RawFilter& f = filters[i];
        if (f.name.empty())
            return Error{fmt::format("{}filter #{}: \"name\" must be set", rd.at(f.line), i)};
        const std::string who = "filter " + quote(f.name) + ": ";
        auto fail = [&](uint32_t line, const std::string& what) {
            return Error{rd.at(line ? line : f.line) + who + what};
        };
        // The queue rules, for the DNS queue and then the traffic queue.
        const auto family_rules = [&](const Queue& q, const char* name) -> Result<void> {
            const std::string n = name;
            if (!q.valid())
                return fail(q.line, "\"" + n + ".ipv4\" and \"" + n + ".ipv6\" cannot be the same");
            if (ipv4_used && q.either() && q.v4 == 0)
                return fail(q.line,
                            "\"" + n + ".ipv4\" must be set when \"inboundDNSQueue.ipv4\" is set");
            if (!ipv4_used && q.both())
                return fail(q.line, "\"" + n +
                                        ".ipv4\" must not be set when \"inboundDNSQueue.ipv4\" "
                                        "is not set");
            if (ipv6_used && q.either() && q.v6 == 0)
                return fail(q.line,
                            "\"" + n + ".ipv6\" must be set when \"inboundDNSQueue.ipv6\" is set");
            if (!ipv6_used && q.both())
                return fail(q.line, "\"" + n +
                                        ".ipv6\" must not be set when \"inboundDNSQueue.ipv6\" "
                                        "is not set");
            return {};
        };

        if (!f.dns.either() && f.cached.empty() && !f.lookup_unknown_ips)
            return fail(0, "\"dnsQueue\" must be set");
        if (auto r = family_rules(f.dns, "dnsQueue"); !r) return r;
        if (f.dns.either() && f.allowed.empty() && (!f.cached.empty() || f.lookup_unknown_ips))
            return fail(f.dns.line,
                        "\"dnsQueue\" must not be set when \"allowedHostnames\" is empty and "
                        "either \"cachedHostames\" is not empty or \"lookupUnknownIPs\" is true");
        if (shared(inbound, f.dns))
            return fail(f.dns.line, "\"inboundDNSQueue\" and \"dnsQueue\" must be different");

        if (!f.traffic.either() && !f.allow_all) return fail(0, "\"trafficQueue\" must be set");
        if (auto r = family_rules(f.traffic, "trafficQueue"); !r) return r;
        if (f.traffic.either() && f.allow_all)
            return fail(f.traffic.line,
                        "\"trafficQueue\" must not be set when \"allowAllHostnames\" is true");
        if (shared(inbound, f.traffic))
            return fail(f.traffic.line,
                        "\"inboundDNSQueue\" and \"trafficQueue\" must be different");
        if (shared(f.dns, f.traffic))
            return fail(f.traffic.line, "\"dnsQueue\" and \"trafficQueue\" must be different");

        const uint32_t allowed_line = f.allowed_lines.empty() ? 0 : f.allowed_lines.front();
        const uint32_t cached_line = f.cached_lines.empty() ? 0 : f.cached_lines.front();
        if (f.allowed.empty() && !f.allow_all && f.cached.empty() && !f.lookup_unknown_ips)
            return fail(0, "\"allowedHostnames\" must not be empty");
        if (!f.allowed.empty() && f.allow_all)
            return fail(allowed_line,
                        "\"allowedHostnames\" must be empty when \"allowAllHostnames\" is true");
        if (f.allow_answers_for_ns == 0 && !f.allowed.empty())
            return fail(allowed_line,
                        "\"allowAnswersFor\" must be set when \"allowedHostnames\" is not empty");
        if (f.allow_answers_for_ns != 0 && f.allow_all)
            return fail(f.allow_answers_for_line,
                        "\"allowAnswersFor\" must not be set when \"allowAllHostnames\" is true");
        if (f.allow_answers_for_ns < 0)
            return fail(f.allow_answers_for_line, "\"allowAnswersFor\" must not be negative");
        if (f.allow_by_server_name && f.allow_all)  // an extension: no traffic queue to judge
            return fail(
                f.allow_by_server_name_line,
                "\"allowByServerName\" must not be true when \"allowAllHostnames\" is true");

        if (!f.cached.empty() && f.allow_all)
            return fail(cached_line,
                        "\"cachedHostnames\" must be empty when \"allowAllHostnames\" is true");
        if (f.recache_every_ns == 0 && !f.cached.empty())
            return fail(cached_line,
                        "\"reCacheEvery\" must be set when \"cachedHostnames\" is not empty");
        if (f.recache_every_ns != 0 && f.cached.empty())
            return fail(f.recache_every_line,
                        "\"reCacheEvery\" must not be set when \"cachedHostnames\" is empty");
        if (f.recache_every_ns < 0)
            return fail(f.recache_every_line, "\"reCacheEvery\" must not be negative");

        for (size_t j = 0; j < f.allowed.size(); ++j) {
            const std::string& name = f.allowed[j];
            const uint32_t line = f.allowed_lines[j];
            if (!valid_domain_name(name))
                return fail(line,
                            "allowed hostname " + quote(name) + " is not a valid domain name");
            if (std::find(f.cached.begin(), f.cached.end(), name) != f.cached.end())
                return fail(line, "allowed hostname " + quote(name) +
                                      " is specified as a hostname to be cached as well");
            if (std::find(f.allowed.begin() + static_cast<ptrdiff_t>(j) + 1, f.allowed.end(),
                          name) != f.allowed.end())
                return fail(line,
                            "allowed hostname " + quote(name) + " is specified more than once");
        }
        for (size_t j = 0; j < f.cached.size(); ++j) {
            const std::string& name = f.cached[j];
            const uint32_t line = f.cached_lines[j];
            if (!valid_domain_name(name))
                return fail(line,
                            "hostname to be cached " + quote(name) + " is not a valid domain name");
            if (std::find(f.cached.begin() + static_cast<ptrdiff_t>(j) + 1, f.cached.end(), name) !=
                f.cached.end())
                return fail(
                    line, "hostname to be cached " + quote(name) + " is specified more than once");
        }

        if (auto it = filter_names.find(f.name); it != filter_names.end())
            return Error{fmt::format("{}filter #{}: filter name {} is already used by filter #{}",
                                     rd.at(f.line), i, quote(f.name), it->second)};
        for (const auto& [q, key, qline] :
             {std::tuple{f.dns.v4, "dnsQueue.ipv4", f.dns.line},
              std::tuple{f.dns.v6, "dnsQueue.ipv6", f.dns.line},
              std::tuple{f.traffic.v4, "trafficQueue.ipv4", f.traffic.line},
              std::tuple{f.traffic.v6, "trafficQueue.ipv6", f.traffic.line}}) {
            if (q == 0) continue;
            if (auto it = filter_queues.find(q); it != filter_queues.end())
                return fail(qline, fmt::format("\"{}\" {} is already used by filter {}", key, q,
                                               quote(it->second)));
        }

        reverse_lookups = reverse_lookups || f.lookup_unknown_ips;
        any_cached = any_cached || !f.cached.empty();
        filter_names[f.name] = i;
        for (uint16_t q : {f.dns.v4, f.dns.v6, f.traffic.v4, f.traffic.v6})
            if (q != 0) filter_queues[q] = f.name;
    }

    const uint32_t sl = self.line;
    if (!self.either() && (reverse_lookups || any_cached))
        return Error{rd.at(0) +
                     "\"selfDNSQueue\" must be set when at least one filter either sets "
                     "\"lookupUnknownIPs\" to true or \"cachedHostnames\" is not empty"};
    if (self.either() && !reverse_lookups && !any_cached)
        return Error{rd.at(sl) +
                     "\"selfDNSQueue\" must only be set when at least one filter either sets "
                     "\"lookupUnknownIPs\" to true or \"cachedHostnames\" is not empty"};
    if (!self.valid())
        return Error{rd.at(sl) +
                     "\"selfDNSQueue.ipv4\" and \"selfDNSQueue.ipv6\" cannot be the same"};
    if (ipv4_used && self.either() && self.v4 == 0)
        return Error{rd.at(sl) +
                     "\"selfDNSQueue.ipv4\" must be set when \"inboundDNSQueue.ipv4\" is set"};
    if (!ipv4_used && self.both())
        return Error{rd.at(sl) +
                     "\"selfDNSQueue.ipv4\" must not be set when \"inboundDNSQueue.ipv4\" is not "
                     "set"};
    if (ipv6_used && self.either() && self.v6 == 0)
        return Error{rd.at(sl) +
                     "\"selfDNSQueue.ipv6\" must be set when \"inboundDNSQueue.ipv6\" is set"};
    if (!ipv6_used && self.both())
        return Error{rd.at(sl) +
                     "\"selfDNSQueue.ipv6\" must not be set when \"inboundDNSQueue.ipv6\" is not "
                     "set"};
    if (shared(inbound, self))
        return Error{rd.at(sl) + "\"inboundDNSQueue\" and \"selfDNSQueue\" must be different"};
    for (const RawFilter& f : filters) {
        if (shared(self, f.dns))
            return Error{rd.at(f.dns.line ? f.dns.line : f.line) + "filter " + quote(f.name) +
                         ": \"selfDNSQueue\" and \"dnsQueue\" must be different"};
        if (shared(self, f.traffic))
            return Error{rd.at(f.traffic.line ? f.traffic.line : f.line) + "filter " +
                         quote(f.name) +
                         ": \"selfDNSQueue\" and \"trafficQueue\" must be different"};
    }
    return {};
}

FilterConfig to_filter(const RawFilter& r) {
    FilterConfig f;
    f.name = r.name;
    f.dns_queue = r.dns.pair();
    f.traffic_queue = r.traffic.pair();
    for (const auto& n : r.allowed) f.allowed_hostnames.push_back(lower(n));
    f.allow_all_hostnames = r.allow_all;
    f.allow_answers_for_ms = to_ms(r.allow_answers_for_ns);
    f.record_ttl = r.record_ttl;
    for (const auto& n : r.cached) f.cached_hostnames.push_back(lower(n));
    f.recache_every_ms = to_ms(r.recache_every_ns);
    f.lookup_unknown_ips = r.lookup_unknown_ips;
    f.query_timeout_ms = r.query_timeout_ms;
    f.outstanding_queries = r.outstanding_queries;
    f.allow_by_server_name = r.allow_by_server_name;
    return f;
}

}  // namespace

Result<EnforceConfig> parse_enforce_config(std::string_view text, const std::string& path) {
    auto doc = parse_toml(text, path);
    if (!doc) return doc.error();
    const toml::table& t = *doc;
    Reader rd(path);
    Queue inbound, self;
    std::vector<RawFilter> raw;
    for (auto&& [k, v] : t) {
        const std::string_view key = k.str();
        if (key_is(key, "inboundDNSQueue") || key_is(key, "selfDNSQueue")) {
            const bool in = key_is(key, "inboundDNSQueue");
            auto q = rd.queue(v, in ? "inboundDNSQueue" : "selfDNSQueue");
            if (!q) return q.error();
            (in ? inbound : self) = *q;
        } else if (key_is(key, "filters")) {
            const auto* a = v.as_array();
            if (!a) return Error{rd.at(v) + "filters must be [[filters]] tables"};
            for (const auto& e : *a) {
                const auto* ft = e.as_table();
                if (!ft) return Error{rd.at(e) + "filters must be [[filters]] tables"};
                auto f = read_filter(*ft, e, rd);
                if (!f) return f.error();
                raw.push_back(std::move(f.value()));
            }
        } else {
            rd.unknown(std::string(key), v);
        }
    }
    if (auto r = rd.unknown_keys(); !r) return r.error();
    if (auto r = check(inbound, self, raw, rd); !r) return r.error();

    EnforceConfig c;
    c.inbound_dns_queue = inbound.pair();
    c.self_dns_queue = self.pair();
    if (self.either()) {
        // egress-eddie's self filter: enforce's own lookups (PTR, cachedHostnames) go out
        // through selfDNSQueue and may ask for these names only.
        FilterConfig s;
        s.name = kSelfFilterName;
        s.dns_queue = c.self_dns_queue;
        s.allow_answers_for_ms = kSelfFilterAllowAnswersForMs;
        if (std::any_of(raw.begin(), raw.end(), [](const auto& f) { return f.lookup_unknown_ips; }))
            s.allowed_hostnames = {"in-addr.arpa", "ip6.arpa"};
        for (const auto& f : raw)
            for (const auto& n : f.cached) s.allowed_hostnames.push_back(lower(n));
        c.filters.push_back(std::move(s));
    }
    for (const auto& f : raw) c.filters.push_back(to_filter(f));
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
