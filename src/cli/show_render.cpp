#include "cli/show_render.h"

#include <fmt/core.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "common/json.h"
#include "common/time.h"
#include "core/ledger.h"
#include "flowname/first_packet.h"

namespace em {

namespace {

using Who = std::tuple<std::string, std::string, std::string>;  // exe, user, container
Who who_of(const ShowUse& u) { return {u.exe, u.user, u.container}; }

constexpr size_t kTextNames = 3;  // names per address in text; JSON lists them all

std::string text(std::string_view s) {
    std::string out;
    for (char c : s) {
        auto b = static_cast<unsigned char>(c);
        if (b < 0x20 || b >= 0x7f || b == '\\')
            out += fmt::format("\\x{:02x}", b);
        else
            out += c;
    }
    return out;
}

std::string json(std::string_view s) {
    std::string out;
    append_json_string(s, out);
    return out;
}

std::string process_text(const Who& w) {
    const auto& [exe, user, container] = w;
    return fmt::format("{} (user {}, {})", text(exe), text(user),
                       container.empty() ? "host" : "container " + text(container.substr(0, 12)));
}

std::string process_json(const Who& w) {
    const auto& [exe, user, container] = w;
    return fmt::format("\"exe\":{},\"user\":{},\"container\":{}", json(exe), json(user),
                       json(container));
}

std::string times_json(const ShowUse& u) {
    return fmt::format("\"count\":{},\"first_seen\":\"{}\",\"last_seen\":\"{}\"", u.count,
                       format_rfc3339(u.first_seen), format_rfc3339(u.last_seen));
}

std::string names_json(const std::vector<std::string>& names) {
    std::string out = "[";
    for (size_t i = 0; i < names.size(); ++i) out += (i ? "," : "") + json(names[i]);
    return out + "]";
}

std::string first_packet_json(const std::vector<ShowFirstPacketName>& names) {
    std::string out = "[";
    for (size_t i = 0; i < names.size(); ++i)
        out += fmt::format("{}{{\"name\":{},\"protocol\":{},\"count\":{}}}", i ? "," : "",
                           json(names[i].name), json(names[i].protocol), names[i].count);
    return out + "]";
}

// " (a.test, b.test)", and the names first packets gave: " (a.test; first packet: tls
// c.test)"; "" when there are none.
std::string names_text(const std::vector<std::string>& names,
                       const std::vector<ShowFirstPacketName>& first = {}) {
    if (names.empty() && first.empty()) return "";
    std::string out = " (";
    for (size_t i = 0; i < names.size() && i < kTextNames; ++i)
        out += (i ? ", " : "") + text(names[i]);
    if (names.size() > kTextNames) out += fmt::format(", +{}", names.size() - kTextNames);
    if (!first.empty()) out += names.empty() ? "first packet: " : "; first packet: ";
    for (size_t i = 0; i < first.size() && i < kTextNames; ++i)
        out += (i ? ", " : "") + text(first[i].protocol) + " " + text(first[i].name);
    if (first.size() > kTextNames) out += fmt::format(", +{}", first.size() - kTextNames);
    return out + ")";
}

// Everything indexed once: per process, per domain, per address.
struct Index {
    struct Group {
        int64_t total = 0;
        std::vector<const ShowUse*> domains, ips;
    };
    std::map<Who, Group> by_process;
    std::map<std::string, std::vector<const ShowUse*>> by_domain;
    std::map<IpAddress, std::vector<const ShowUse*>> by_ip;
    std::map<IpAddress, std::vector<std::string>> names;  // by name, from domain_ips
    std::map<const ShowUse*, IpAddress> address;          // of each 'i' use

    explicit Index(const ShowInput& in) : first(&in.first_packet_names) {
        for (const auto& [name, ips] : in.domain_ips)
            for (const IpAddress& ip : ips) names[ip].push_back(name);
        for (const ShowUse& u : in.uses) {
            if (u.kind == 'd') {
                by_domain[u.dest].push_back(&u);
                Group& g = by_process[who_of(u)];
                g.total += u.count;
                g.domains.push_back(&u);
            } else if (auto ip = IpAddress::parse(u.dest)) {
                by_ip[*ip].push_back(&u);
                address.emplace(&u, *ip);
                Group& g = by_process[who_of(u)];
                g.total += u.count;
                g.ips.push_back(&u);
            }
        }
        auto by_count_then_dest = [&](const ShowUse* a, const ShowUse* b) {
            if (a->count != b->count) return a->count > b->count;
            if (a->kind == 'i' && b->kind == 'i') return address.at(a) < address.at(b);
            return a->dest < b->dest;
        };
        auto by_count_then_who = [](const ShowUse* a, const ShowUse* b) {
            if (a->count != b->count) return a->count > b->count;
            return who_of(*a) < who_of(*b);
        };
        for (auto& [who, g] : by_process) {
            std::sort(g.domains.begin(), g.domains.end(), by_count_then_dest);
            std::sort(g.ips.begin(), g.ips.end(), by_count_then_dest);
        }
        for (auto& [name, uses] : by_domain) std::sort(uses.begin(), uses.end(), by_count_then_who);
        for (auto& [ip, uses] : by_ip) std::sort(uses.begin(), uses.end(), by_count_then_who);
    }
    const std::vector<std::string>& names_of(const IpAddress& ip) const {
        auto it = names.find(ip);
        return it == names.end() ? no_names : it->second;
    }
    const std::vector<ShowFirstPacketName>& first_of(const IpAddress& ip) const {
        auto it = first->find(ip);
        return it == first->end() ? no_first : it->second;
    }
    const std::vector<std::string> no_names;
    const std::vector<ShowFirstPacketName> no_first;
    const std::map<IpAddress, std::vector<ShowFirstPacketName>>* first;
};

int64_t total(const std::vector<const ShowUse*>& uses) {
    int64_t n = 0;
    for (const ShowUse* u : uses) n += u->count;
    return n;
}

// Keys of a map in order of their total count (descending), then of the key.
template <class Map, class Total>
std::vector<typename Map::const_iterator> ranked(const Map& m, Total&& total_of) {
    std::vector<typename Map::const_iterator> out;
    for (auto it = m.begin(); it != m.end(); ++it) out.push_back(it);
    std::stable_sort(out.begin(), out.end(),
                     [&](auto a, auto b) { return total_of(a->second) > total_of(b->second); });
    return out;
}

std::string plural(int64_t n, const char* one, const char* many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string by_process(const ShowInput& in, const Index& x, bool as_json) {
    std::string out =
        as_json ? "{\"by\":\"process\",\"source\":" + json(in.source) + ",\"processes\":[" : "";
    bool first = true;
    for (auto it : ranked(x.by_process, [](const Index::Group& g) { return g.total; })) {
        const auto& [who, g] = *it;
        if (!as_json) {
            out += fmt::format("{}: {}, {}\n", process_text(who),
                               plural(static_cast<int64_t>(g.domains.size()), "domain", "domains"),
                               plural(static_cast<int64_t>(g.ips.size()), "address", "addresses"));
            for (const ShowUse* u : g.domains)
                out += fmt::format("    queried {} {}, last {}\n", text(u->dest),
                                   plural(u->count, "time", "times"), format_rfc3339(u->last_seen));
            for (const ShowUse* u : g.ips)
                out += fmt::format(
                    "    connected to {}{} {}, last {}\n", text(u->dest),
                    names_text(x.names_of(x.address.at(u)), x.first_of(x.address.at(u))),
                    plural(u->count, "time", "times"), format_rfc3339(u->last_seen));
            continue;
        }
        out += fmt::format("{}{{{},\"count\":{},\"domains\":[", first ? "" : ",", process_json(who),
                           g.total);
        first = false;
        for (size_t i = 0; i < g.domains.size(); ++i)
            out += fmt::format("{}{{\"name\":{},{}}}", i ? "," : "", json(g.domains[i]->dest),
                               times_json(*g.domains[i]));
        out += "],\"ips\":[";
        for (size_t i = 0; i < g.ips.size(); ++i)
            out += fmt::format("{}{{\"ip\":{},{},\"names\":{},\"first_packet_names\":{}}}",
                               i ? "," : "", json(g.ips[i]->dest), times_json(*g.ips[i]),
                               names_json(x.names_of(x.address.at(g.ips[i]))),
                               first_packet_json(x.first_of(x.address.at(g.ips[i]))));
        out += "]}";
    }
    return as_json ? out + "]}\n" : out;
}

// The processes of one destination, as text lines or a JSON array.
std::string processes(const std::vector<const ShowUse*>& uses, bool as_json) {
    std::string out = as_json ? "[" : "";
    for (size_t i = 0; i < uses.size(); ++i) {
        const ShowUse& u = *uses[i];
        if (as_json)
            out += fmt::format("{}{{{},{}}}", i ? "," : "", process_json(who_of(u)), times_json(u));
        else
            out += fmt::format("    {} {}, last {}\n", process_text(who_of(u)),
                               plural(u.count, "time", "times"), format_rfc3339(u.last_seen));
    }
    return as_json ? out + "]" : out;
}

std::string by_domain(const ShowInput& in, const Index& x, bool as_json) {
    std::string out =
        as_json ? "{\"by\":\"domain\",\"source\":" + json(in.source) + ",\"domains\":[" : "";
    bool first = true;
    for (auto it : ranked(x.by_domain, total)) {
        const auto& [name, uses] = *it;
        std::vector<std::string> answers;
        if (auto a = in.domain_ips.find(name); a != in.domain_ips.end())
            for (const IpAddress& ip : a->second) answers.push_back(ip.to_string());
        if (as_json) {
            out += fmt::format("{}{{\"name\":{},\"count\":{},\"ips\":{},\"processes\":{}}}",
                               first ? "" : ",", json(name), total(uses), names_json(answers),
                               processes(uses, true));
            first = false;
            continue;
        }
        std::string ips;
        for (const std::string& a : answers) ips += (ips.empty() ? "" : ",") + a;
        out += fmt::format("{}: {} by {}{}\n", text(name), plural(total(uses), "query", "queries"),
                           plural(static_cast<int64_t>(uses.size()), "process", "processes"),
                           ips.empty() ? "" : "; answers " + ips);
        out += processes(uses, false);
    }
    return as_json ? out + "]}\n" : out;
}

std::string by_ip(const ShowInput& in, const Index& x, bool as_json) {
    std::string out = as_json ? "{\"by\":\"ip\",\"source\":" + json(in.source) + ",\"ips\":[" : "";
    bool first = true;
    for (auto it : ranked(x.by_ip, total)) {
        const auto& [ip, uses] = *it;
        const auto& names = x.names_of(ip);
        if (as_json) {
            out += fmt::format(
                "{}{{\"ip\":\"{}\",\"count\":{},\"names\":{},\"first_packet_names\":{},"
                "\"processes\":{}}}",
                first ? "" : ",", ip.to_string(), total(uses), names_json(names),
                first_packet_json(x.first_of(ip)), processes(uses, true));
            first = false;
            continue;
        }
        out += fmt::format("{}{}: {} by {}\n", ip.to_string(), names_text(names, x.first_of(ip)),
                           plural(total(uses), "flow", "flows"),
                           plural(static_cast<int64_t>(uses.size()), "process", "processes"));
        out += processes(uses, false);
    }
    return as_json ? out + "]}\n" : out;
}

}  // namespace

Result<ShowInput> load_show_input(const std::string& state_dir) {
    const std::string path = state_dir + "/ledger.sqlite";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return Error{
            fmt::format("no ledger at {}: {} (run the agent first)", path, std::strerror(errno))};
    auto ledger = Ledger::open(path, 1 << 20);
    if (!ledger) return ledger.error();
    ShowInput in;
    in.source = path;
    if (auto r = ledger->for_each_process_use([&](const ProcessUseRow& u) {
            in.uses.push_back(ShowUse{u.kind, std::string(u.dest), std::string(u.exe),
                                      std::string(u.user), std::string(u.container), u.count,
                                      u.first_seen, u.last_seen});
        });
        !r)
        return r.error();
    if (in.uses.empty()) return in;
    if (auto r = ledger->for_each_domain([&](const DomainRow& d) {
            if (d.ips && !d.ips->empty()) in.domain_ips.emplace(std::string(d.name), *d.ips);
        });
        !r)
        return r.error();
    if (auto r = ledger->for_each_flow_name([&](const FlowNameRow& n) {
            in.first_packet_names[n.ip].push_back(ShowFirstPacketName{
                std::string(n.name), first_packet_protocol_name(n.protocol), n.count});
        });
        !r)
        return r.error();
    return in;
}

std::string render_show(const ShowInput& in, ShowBy by, bool as_json) {
    if (in.uses.empty()) return "";
    Index x(in);
    switch (by) {
        case ShowBy::process:
            return by_process(in, x, as_json);
        case ShowBy::domain:
            return by_domain(in, x, as_json);
        case ShowBy::ip:
            return by_ip(in, x, as_json);
    }
    return "";
}

}  // namespace em
