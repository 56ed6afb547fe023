// The rules that need more than one host's snapshot or a data file: public_resolver (its
// list), rare (the fleet), stale (every host of the inventory).
#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>

#include "collector/rules.h"
#include "common/files.h"
#include "common/time.h"
#include "core/domain_folder.h"

namespace em {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

bool valid_host_name(std::string_view s) {
    if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.') return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
            return false;
    return s.find("..") == std::string_view::npos;
}

}  // namespace

// ---- public_resolver ----

Result<ResolverList> ResolverList::load(const std::string& path) {
    auto text = read_file_limited(path, 4u << 20,
                                  {"cannot read the public resolver list " + path,
                                   path + ": resolver list larger than 4 MiB"});
    if (!text) return text.error();
    return parse(*text, path);
}

Result<ResolverList> ResolverList::parse(std::string_view text, const std::string& path) {
    ResolverList list;
    size_t lineno = 0;
    while (!text.empty()) {
        ++lineno;
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        std::string_view label;
        if (size_t hash = line.find('#'); hash != std::string_view::npos) {
            label = trim(line.substr(hash + 1));
            line = line.substr(0, hash);
        }
        line = trim(line);
        if (line.empty()) continue;
        size_t sp = line.find_first_of(" \t");
        std::string_view kind = line.substr(0, sp);
        std::string_view value =
            sp == std::string_view::npos ? std::string_view() : trim(line.substr(sp));
        auto bad = [&](std::string_view why) {
            return Error{fmt::format("{}:{}: {}", path, lineno, why)};
        };
        if (value.empty() || value.find_first_of(" \t") != std::string_view::npos)
            return bad("want \"ip ADDRESS  # label\" or \"host NAME  # label\"");
        std::string lab(label.empty() ? value : label);
        if (kind == "ip") {
            auto ip = IpAddress::parse(value);
            if (!ip) return bad(fmt::format("bad address \"{}\"", value));
            list.ips_[*ip] = lab;
        } else if (kind == "host") {
            if (!valid_host_name(value))
                return bad(
                    fmt::format("bad host name \"{}\" (lower case, no trailing dot)", value));
            list.hosts_[std::string(value)] = lab;
        } else {
            return bad(fmt::format("unknown entry kind \"{}\": want ip or host", kind));
        }
    }
    return list;
}

const std::string* ResolverList::match_ip(const IpAddress& ip) const {
    auto it = ips_.find(ip);
    return it == ips_.end() ? nullptr : &it->second;
}

const std::string* ResolverList::match_host(std::string_view name) const {
    for (;;) {
        auto it = hosts_.find(name);
        if (it != hosts_.end()) return &it->second;
        size_t dot = name.find('.');
        if (dot == std::string_view::npos) return nullptr;
        name.remove_prefix(dot + 1);
    }
}

void PublicResolverRule::evaluate(const HostContext& ctx, std::vector<Finding>& out) const {
    // A DoH/DoT name and the connections to the addresses it resolved to are one incident:
    // the address facts go into the name's finding.
    std::unordered_map<IpAddress, size_t, IpAddressHash> answered;  // address -> finding
    for (const auto& d : ctx.state.domains) {
        if (!d.stats.present) continue;
        std::string_view n = d.name;
        n = DomainFolder::unfolded(n);
        if (const std::string* label = list_.match_host(n)) {
            for (const auto& ip : d.ips) answered.emplace(ip, out.size());
            out.push_back(Finding{
                d.name, fmt::format("{} queries for a DNS-over-HTTPS/TLS resolver name ({}): DNS "
                                    "around the host's resolver; to silence, remove the entry "
                                    "from the resolver list (rules.public_resolver.list)",
                                    d.stats.count, *label)});
        }
    }
    // A DoH/DoT name a flow's first packet gave (TLS/QUIC server name, HTTP Host): DNS around
    // the host's resolver even when no DNS answer led there (a hard-coded address). Joined to
    // the DNS finding of the same name if there is one; its addresses' facts go into it.
    if (ctx.flow_names) {
        struct Named {
            const std::string* label;
            int64_t count = 0;
            std::vector<std::string> seen;  // "TLS name X to ADDR", first few
            size_t more = 0;
        };
        std::map<std::string_view, Named> by_name;
        for (const FlowNameFileEntry& n : *ctx.flow_names) {
            const std::string* label = list_.match_host(n.name);
            if (!label) continue;
            Named& m = by_name.try_emplace(n.name, Named{label, 0, {}, 0}).first->second;
            m.count += n.count;
            const char* what = n.protocol == "http"   ? "HTTP Host"
                               : n.protocol == "quic" ? "QUIC"
                                                      : "TLS";
            if (m.seen.size() < 3)
                m.seen.push_back(fmt::format("{} to {}", what, n.ip.to_string()));
            else
                ++m.more;
        }
        for (auto& [key, named] : by_name) {
            const std::string_view name = key;
            const Named& m = named;
            std::string facts;
            for (const auto& x : m.seen) facts += (facts.empty() ? "" : ", ") + x;
            if (m.more) facts += fmt::format(", and {} more", m.more);
            auto same = std::find_if(out.begin(), out.end(),
                                     [&](const Finding& f) { return f.key == name; });
            size_t index = static_cast<size_t>(same - out.begin());
            if (same != out.end()) {
                same->message += fmt::format("; {} connections whose first packet named it ({})",
                                             m.count, facts);
            } else {
                out.push_back(Finding{
                    std::string(name),
                    fmt::format("{} connections whose first packet named a DNS-over-HTTPS/TLS "
                                "resolver ({}; {}) with no DNS answer for it seen on this "
                                "host: DNS around the host's resolver, to a hard-coded address; "
                                "to silence, remove the entry from the resolver list "
                                "(rules.public_resolver.list)",
                                m.count, *m.label, facts)});
            }
            // Its addresses' direct_ip findings fold into it (correlate.h) only where the list
            // names the address too: a name is only what a client sent, and any process can
            // send a resolver's name to its own server to hide that address's direct_ip.
            for (const FlowNameFileEntry& n : *ctx.flow_names)
                if (n.name == name && list_.match_ip(n.ip) && answered.emplace(n.ip, index).second)
                    out[index].covers.push_back(n.ip.to_string());
        }
    }
    for (const auto& e : ctx.state.ips) {
        if (!e.stats.present) continue;
        const std::string* label = list_.match_ip(e.ip);
        if (!label) continue;
        if (auto it = answered.find(e.ip); it != answered.end()) {
            out[it->second].message +=
                fmt::format("; {} connections to its address {}", e.stats.count, e.ip.to_string());
            continue;
        }
        out.push_back(Finding{e.ip.to_string(),
                              fmt::format("{} connections to a public DNS resolver ({}): DNS "
                                          "around the host's resolver; to silence, remove the "
                                          "entry from the resolver list "
                                          "(rules.public_resolver.list)",
                                          e.stats.count, *label)});
    }
}

// ---- rare ----

void RareRule::begin_cycle(const HistoryStore& store) {
    fleet_before_ = store.fleet_size();
    noted_.clear();
    dropped_.clear();
    scanned_ = false;
}

void RareRule::note(const HostRecord& h, const HostState& s, const IngestOutcome& oc,
                    const HistoryStore& store) {
    Noted& n = noted_[h.name];
    n = Noted{};
    n.complete = oc.first;
    for (size_t i : oc.fleet_added) {
        const std::string& name = s.domains[i].name;
        int64_t c = store.fleet_hosts(name);
        if (c > 0 && c <= c_.max_hosts) n.added.push_back(name);
    }
    for (size_t i : oc.fleet_removed) {
        const std::string& name = s.domains[i].name;
        n.removed.insert(name);
        int64_t c = store.fleet_hosts(name);
        if (c > 0 && c <= c_.max_hosts) dropped_.insert(name);
    }
}

Finding RareRule::finding(const std::string& domain, int64_t holders, int64_t fleet) const {
    return Finding{domain, fmt::format("listed by {} of {} hosts (at most {} is rare)", holders,
                                       fleet, c_.max_hosts)};
}

Result<void> RareRule::finish(HistoryStore& store, AlertBook& book, int64_t now,
                              std::vector<AlertEvent>& events) {
    scanned_ = false;
    const int64_t fleet = store.fleet_size();
    auto hosts = store.hosts();
    if (!hosts) return hosts.error();
    std::map<std::string, const HostRecord*> by_name;
    for (const auto& h : *hosts) by_name[h.name] = &h;
    auto tags_of = [&](const std::string& name) {
        auto it = by_name.find(name);
        return it == by_name.end() ? std::vector<std::string>() : it->second->tags;
    };
    auto open = book.open_alerts("", kName);
    if (!open) return open.error();
    auto rare = [&](const std::string& name) {
        int64_t n = store.fleet_hosts(name);
        return n > 0 && n <= c_.max_hosts;
    };
    auto resolve = [&](const AlertRecord& a, const std::string& why) {
        return book.resolve(a.host, tags_of(a.host), kName, a.key, now, why, events);
    };

    if (fleet < c_.min_fleet) {
        for (const auto& a : *open)
            if (auto r = resolve(
                    a, fmt::format("the fleet has {} hosts, fewer than {}", fleet, c_.min_fleet));
                !r)
                return r;
        return {};
    }

    const int64_t settings = (c_.max_hosts << 32) | (c_.min_fleet & 0xffffffff);
    auto stored = store.meta("rare.settings");
    if (!stored) return stored.error();
    const bool dropped = std::any_of(dropped_.begin(), dropped_.end(), rare);
    bool scan = dropped || !*stored || **stored != settings;
    if (fleet_before_ < c_.min_fleet) scan = true;

    auto findings_of = [&](const std::vector<std::string>& names) {
        std::vector<Finding> out;
        for (const auto& name : names)
            if (rare(name)) out.push_back(finding(name, store.fleet_hosts(name), fleet));
        return out;
    };
    if (scan) {
        // A host whose first snapshot came in this cycle had every domain noted (when rare
        // at that moment); unless a domain became rare later by a drop, that is complete.
        for (const auto& h : *hosts) {
            if (h.first_fetch == 0) continue;
            auto it = noted_.find(h.name);
            std::vector<std::string> names;
            if (!dropped && it != noted_.end() && it->second.complete) {
                names = it->second.added;
            } else {
                scanned_ = true;
                auto state = store.load_state(h.id, true, false);
                if (!state) return state.error();
                for (const auto& d : state->domains)
                    if (d.stats.present && rare(d.name)) names.push_back(d.name);
            }
            if (auto r = book.reconcile(h.name, h.tags, kName, findings_of(names), now, events); !r)
                return r;
        }
    } else {
        // Open alerts stay while their domain is still on the host and still rare.
        std::map<std::string, std::vector<std::string>> still;
        for (const auto& a : *open) {
            auto it = noted_.find(a.host);
            if (it != noted_.end()) {
                if (!it->second.removed.count(a.key)) still[a.host].push_back(a.key);
            } else if (!rare(a.key)) {
                int64_t n = store.fleet_hosts(a.key);
                if (auto r = resolve(a, fmt::format("now listed by {} of {} hosts", n, fleet)); !r)
                    return r;
            }
        }
        for (auto& [host, n] : noted_) {
            std::vector<std::string> names = std::move(still[host]);
            names.insert(names.end(), n.added.begin(), n.added.end());
            if (auto r =
                    book.reconcile(host, tags_of(host), kName, findings_of(names), now, events);
                !r)
                return r;
        }
    }
    return store.set_meta("rare.settings", settings);
}

// ---- stale ----

void StaleRule::evaluate(const HostRecord& h, int64_t now, std::vector<Finding>& out) const {
    // Age counts only while fetches fail: a host fetched well in this cycle is never stale
    // by age, so max_age_minutes = 0 alerts on the first failed fetch.
    const int64_t ref = h.last_ok ? h.last_ok : h.added;
    const bool failing = !h.last_error.empty() || !h.last_ok;
    if (failing && now - ref >= c_.max_age_minutes * 60) {
        std::string since = h.last_ok ? "since " + format_rfc3339(h.last_ok)
                                      : "since the host was added " + format_rfc3339(h.added);
        std::string why = h.last_error.empty() ? "" : "; last error: " + h.last_error;
        out.push_back(Finding{h.name, fmt::format("unreachable: no good fetch {} ({} minutes){}",
                                                  since, (now - ref) / 60, why)});
    } else if (h.last_ok && h.last_change && now - h.last_change >= c_.unchanged_minutes * 60) {
        out.push_back(Finding{
            h.name, fmt::format("files stopped changing: unchanged since {} ({} minutes) while "
                                "fetches succeed: the monitor may be tampered with or dead",
                                format_rfc3339(h.last_change), (now - h.last_change) / 60)});
    }
}

}  // namespace em
