#include "policy/policy.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "common/time.h"
#include "policy/policy_enforce.h"
#include "policy/policy_uses.h"

namespace em {

namespace {

constexpr size_t kMaxComment = 100;
constexpr size_t kMultiportMax = 15;  // iptables' multiport takes at most 15 ports

bool valid_table_name(const std::string& s) {
    if (s.empty() || s.size() > 28) return false;  // iptables chain names: < 29 bytes
    if (!(std::isalpha(static_cast<unsigned char>(s[0])))) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

bool has_ports(uint8_t proto) { return proto == 6 || proto == 17 || proto == 132 || proto == 33; }

// The (protocol, port) pairs an address may be reached on; empty = anything.
using Signature = std::vector<std::pair<uint8_t, uint16_t>>;

Signature signature_of(const PolicyAddress& a) {
    Signature sig;
    for (const auto& p : a.ports) sig.emplace_back(p.proto, has_ports(p.proto) ? p.port : 0);
    std::sort(sig.begin(), sig.end());
    sig.erase(std::unique(sig.begin(), sig.end()), sig.end());
    // Port 0 of a protocol ("other ports"): every port of it, so its single ports go.
    Signature out;
    for (const auto& e : sig) {
        bool any =
            std::binary_search(sig.begin(), sig.end(), std::pair<uint8_t, uint16_t>{e.first, 0});
        if (!any || e.second == 0) out.push_back(e);
    }
    return out;
}

// Per protocol of a signature: its ports (empty: any port).
std::map<uint8_t, std::vector<uint16_t>> by_proto(const Signature& sig) {
    std::map<uint8_t, std::vector<uint16_t>> out;
    for (const auto& [proto, port] : sig) {
        auto& ports = out[proto];
        if (port) ports.push_back(port);
    }
    return out;
}

std::string nft_proto(uint8_t proto, bool v6) {
    switch (proto) {
        case 6:
            return "tcp";
        case 17:
            return "udp";
        case 1:
            return v6 ? "1" : "icmp";
        case 58:
            return "icmpv6";
        default:
            return std::to_string(proto);
    }
}

std::string ipt_proto(uint8_t proto) {
    switch (proto) {
        case 6:
            return "tcp";
        case 17:
            return "udp";
        case 1:
            return "icmp";
        case 58:
            return "ipv6-icmp";
        default:
            return std::to_string(proto);
    }
}

std::string join_ports(const std::vector<uint16_t>& ports, size_t from, size_t n) {
    std::string out;
    for (size_t i = from; i < from + n && i < ports.size(); ++i) {
        if (i > from) out += ',';
        out += std::to_string(ports[i]);
    }
    return out;
}

// One group of addresses of a family reachable on the same signature, named by `label`.
struct Group {
    std::string set;          // nft set name; empty for a single direct address
    std::string set_comment;  // the domain alone (nft sets)
    std::string comment;      // of the rules: with who used it, when known
    bool v6 = false;
    std::vector<IpAddress> ips;
    Signature sig;
};

struct Plan {
    std::vector<Group> groups;  // domains first (by name), then direct addresses
    size_t addresses = 0, named = 0, direct = 0, domains = 0;
};

Plan make_plan(const PolicyInput& in, const PolicyOptions& opt) {
    const UseIndex uses(in, opt);
    std::map<IpAddress, const PolicyAddress*> chosen;
    for (const auto& a : in.ips)
        if (a.count >= opt.min_count && a.last_seen >= opt.since && !a.ip.is_loopback() &&
            !a.ip.is_unspecified() && uses.selected(a.ip))
            chosen.emplace(a.ip, &a);
    Plan plan;
    plan.addresses = chosen.size();
    std::set<IpAddress> named;
    size_t index = 0;
    for (const auto& d : in.domains) {
        // Per family, the domain's chosen addresses grouped by what they were reached on.
        std::map<std::pair<bool, Signature>, std::vector<IpAddress>> groups;
        for (const auto& ip : d.ips) {
            auto it = chosen.find(ip);
            if (it == chosen.end()) continue;
            groups[{ip.is_v6(), signature_of(*it->second)}].push_back(ip);
            named.insert(ip);
        }
        if (groups.empty()) continue;
        ++index;
        ++plan.domains;
        // Named in address order: the set holding the lowest address first.
        std::vector<std::pair<std::pair<bool, Signature>, std::vector<IpAddress>>> ordered(
            groups.begin(), groups.end());
        std::sort(ordered.begin(), ordered.end(),
                  [](const auto& a, const auto& b) { return a.second.front() < b.second.front(); });
        std::map<bool, int> per_family;
        for (auto& [key, ips] : ordered) {
            Group g;
            g.v6 = key.first;
            int n = ++per_family[g.v6];
            g.set = fmt::format("d{:04}_v{}{}", index, g.v6 ? 6 : 4,
                                n > 1 ? "_" + std::to_string(n) : std::string());
            g.sig = key.second;
            g.ips = std::move(ips);
            g.set_comment = safe_comment(d.name);
            g.comment = safe_comment(uses.label(d.name, &d.name, g.ips));
            plan.groups.push_back(std::move(g));
        }
    }
    plan.named = named.size();
    // What the first packets of flows to an address said, for the comments of direct ones:
    // "tls:api.example.test http:a.test" (a comma would not survive safe_comment).
    std::map<IpAddress, std::string> first_names;
    for (const PolicyFirstPacketName& n : in.first_packet_names) {
        std::string& s = first_names[n.ip];
        s += (s.empty() ? "" : " ") + n.protocol + ":" + n.name;
    }
    for (const auto& [ip, a] : chosen) {
        if (named.count(ip)) continue;
        ++plan.direct;
        Group g;
        g.v6 = ip.is_v6();
        g.ips = {ip};
        auto first = first_names.find(ip);
        g.comment = safe_comment(uses.label(first == first_names.end()
                                                ? std::string("direct: no DNS answer named it")
                                                : "direct: first packet named " + first->second,
                                            nullptr, g.ips));
        g.sig = signature_of(*a);
        plan.groups.push_back(std::move(g));
    }
    return plan;
}

std::string header(const PolicyInput& in, const Plan& p, const PolicyOptions& opt) {
    std::string h = fmt::format(
        "# egress-monitor rules from {}\n"
        "# {} addresses ({} named by {} domains, {} direct); min count {}{}\n",
        safe_comment(in.source), p.addresses, p.named, p.domains, p.direct, opt.min_count,
        opt.since ? ", since " + format_rfc3339(opt.since) : std::string());
    if (has_process_filters(opt)) {
        std::string f;
        for (const auto& [flag, values] :
             {std::pair{"process", &opt.processes}, std::pair{"user", &opt.users},
              std::pair{"container", &opt.containers}})
            for (const std::string& v : *values) f += fmt::format(" --{} {}", flag, v);
        h += "# only what matching processes used:" + safe_comment(f) + "\n";
    }
    return h;
}

std::string render_nft(const PolicyInput& in, const Plan& p, const PolicyOptions& opt) {
    const std::string& t = opt.table;
    std::string out = header(in, p, opt);
    out += fmt::format(
        "# Load with: nft -f FILE (replaces table inet {0} in one transaction; the rest of the\n"
        "# ruleset is left alone). Remove with: nft delete table inet {0}\n",
        t);
    out += fmt::format("table inet {0}\ndelete table inet {0}\ntable inet {0} {{\n", t);
    for (const Group& g : p.groups) {
        if (g.set.empty()) continue;
        out += fmt::format(
            "    set {} {{\n        type {}\n        comment \"{}\"\n        elements = {{ ", g.set,
            g.v6 ? "ipv6_addr" : "ipv4_addr", g.set_comment);
        for (size_t i = 0; i < g.ips.size(); ++i) out += (i ? ", " : "") + g.ips[i].to_string();
        out += " }\n    }\n";
    }
    out +=
        "    chain output {\n"
        "        type filter hook output priority filter + 10; policy accept;\n"
        "        oif \"lo\" accept\n"
        "        ct state established,related accept\n";
    for (const Group& g : p.groups) {
        std::string dst = std::string(g.v6 ? "ip6" : "ip") + " daddr " +
                          (g.set.empty() ? g.ips[0].to_string() : "@" + g.set);
        if (g.sig.empty()) {
            out += fmt::format("        {} accept comment \"{}\"\n", dst, g.comment);
            continue;
        }
        for (const auto& [proto, ports] : by_proto(g.sig)) {
            std::string match;
            if (!has_ports(proto) || ports.empty())
                match = "meta l4proto " + nft_proto(proto, g.v6);
            else if (ports.size() == 1)
                match = nft_proto(proto, g.v6) + " dport " + std::to_string(ports[0]);
            else
                match = nft_proto(proto, g.v6) + " dport { " + join_ports(ports, 0, ports.size()) +
                        " }";
            // join_ports separates with ',' only; nft takes that inside { } too.
            out += fmt::format("        {} {} accept comment \"{}\"\n", dst, match, g.comment);
        }
    }
    if (opt.log_only)
        out +=
            "        log prefix \"egress-monitor-unlisted \" comment \"not observed: logged, "
            "accepted\"\n";
    else
        out += "        counter drop comment \"not observed\"\n";
    out += "    }\n}\n";
    return out;
}

std::string render_ipt(const PolicyInput& in, const Plan& p, const PolicyOptions& opt, bool v6) {
    const std::string& c = opt.table;
    std::string out = header(in, p, opt);
    out += fmt::format(
        "# {1} addresses only. Load with: {0}-restore --noflush FILE (creates or empties chain\n"
        "# {2} of the filter table), then once: {0} -I OUTPUT -j {2}\n",
        v6 ? "ip6tables" : "iptables", v6 ? "IPv6" : "IPv4", c);
    out += "*filter\n:" + c + " - [0:0]\n";
    out += "-A " + c + " -o lo -j ACCEPT\n";
    out += "-A " + c + " -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n";
    for (const Group& g : p.groups) {
        if (g.v6 != v6) continue;
        const std::string comment = " -m comment --comment \"" + g.comment + "\" -j ACCEPT\n";
        for (const IpAddress& ip : g.ips) {
            std::string dst = "-A " + c + " -d " + ip.to_string() + (v6 ? "/128" : "/32");
            if (g.sig.empty()) {
                out += dst + comment;
                continue;
            }
            for (const auto& [proto, ports] : by_proto(g.sig)) {
                std::string pr = " -p " + ipt_proto(proto);
                if (!has_ports(proto) || ports.empty()) {
                    out += dst + pr + comment;
                } else if (ports.size() == 1) {
                    out += dst + pr + " --dport " + std::to_string(ports[0]) + comment;
                } else {
                    for (size_t i = 0; i < ports.size(); i += kMultiportMax)
                        out += dst + pr + " -m multiport --dports " +
                               join_ports(ports, i, kMultiportMax) + comment;
                }
            }
        }
    }
    if (opt.log_only)
        out += "-A " + c + " -j LOG --log-prefix \"egress-monitor-unlisted \"\n";
    else
        out += "-A " + c + " -m comment --comment \"not observed\" -j DROP\n";
    out += "COMMIT\n";
    return out;
}

}  // namespace

std::string safe_comment(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (out.size() >= kMaxComment) break;
        bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
                  c == '*' || c == '/' || c == '@' || c == '+' || c == '-' || c == ' ';
        out += ok ? c : '_';
    }
    return out;
}

Result<std::string> render_policy(const PolicyInput& in, const PolicyOptions& opt) {
    if (!valid_table_name(opt.table))
        return Error{fmt::format(
            "bad table name '{}': 1 to 28 letters, digits, '_' or '-', starting with a letter",
            safe_comment(opt.table))};
    if (has_process_filters(opt) && in.uses.empty())
        return Error{fmt::format(
            "no per-process data in {}: process, user and container filters need the agent's "
            "ledger with attribution (run the agent with --source ebpf or attribute_processes "
            "= true)",
            in.source)};
    Plan plan = make_plan(in, opt);
    switch (opt.format) {
        case PolicyFormat::nft:
            return render_nft(in, plan, opt);
        case PolicyFormat::iptables:
            return render_ipt(in, plan, opt, false);
        case PolicyFormat::ip6tables:
            return render_ipt(in, plan, opt, true);
        case PolicyFormat::enforce:
            return render_enforce(in, opt);
    }
    return Error{"unknown format"};
}

}  // namespace em
