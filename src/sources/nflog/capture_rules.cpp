#include "sources/nflog/capture_rules.h"

#include <fmt/core.h>

#include <vector>

#include "common/process.h"

namespace em {

namespace {

using Argv = std::vector<std::string>;

// iptables rules per family: chain, arguments after "-A CHAIN".
// `ipv6`: for ip6tables (the first-payload rule's length bound differs).
std::vector<std::pair<std::string, Argv>> iptables_rules(const CaptureRules& r, bool ipv6) {
    const std::string g = std::to_string(r.group);
    const std::string mark = fmt::format("0x0/{:#x}", r.ct_mark_bit);
    const std::string bit = fmt::format("{:#x}", r.ct_mark_bit);
    const std::string first_mark = fmt::format("0x0/{:#x}", r.first_mark_bit);
    const std::string first_bit = fmt::format("{:#x}", r.first_mark_bit);
    const std::string snap = std::to_string(r.first_snaplen);
    const Argv first_udp{"-p",        "udp", "--dport", "443",      "-m",     "conntrack",
                         "--ctstate", "NEW", "-m",      "connmark", "--mark", first_mark};
    const Argv first_tcp{"-p",        "tcp",         "-m",       "conntrack",
                         "--ctstate", "ESTABLISHED", "--ctdir",  "ORIGINAL",
                         "-m",        "connmark",    "--mark",   first_mark,
                         "-m",        "length",      "--length", ipv6 ? "101:65535" : "81:65535"};
    auto nflog = [&](const char* prefix) {
        return Argv{"-j", "NFLOG", "--nflog-group", g, "--nflog-prefix", prefix};
    };
    auto cat = [](Argv a, const Argv& b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    return {
        {"EGRESS_MONITOR_OUT", cat({"-p", "udp", "--dport", "53"}, nflog(kNflogPrefixQuery))},
        {"EGRESS_MONITOR_OUT", cat({"-p", "tcp", "--dport", "53"}, nflog(kNflogPrefixQuery))},
        {"EGRESS_MONITOR_OUT", {"-o", "lo", "-j", "RETURN"}},
        {"EGRESS_MONITOR_OUT",
         cat(cat({"-m", "conntrack", "--ctstate", "NEW", "-m", "connmark", "--mark", mark},
                 nflog(kNflogPrefixFlow)),
             {"--nflog-size", "128"})},
        {"EGRESS_MONITOR_OUT",
         {"-m", "conntrack", "--ctstate", "NEW", "-j", "CONNMARK", "--or-mark", bit}},
        {"EGRESS_MONITOR_OUT",
         cat(cat(first_udp, nflog(kNflogPrefixFirst)), {"--nflog-size", snap})},
        {"EGRESS_MONITOR_OUT", cat(first_udp, {"-j", "CONNMARK", "--or-mark", first_bit})},
        {"EGRESS_MONITOR_OUT",
         cat(cat(first_tcp, nflog(kNflogPrefixFirst)), {"--nflog-size", snap})},
        {"EGRESS_MONITOR_OUT", cat(first_tcp, {"-j", "CONNMARK", "--or-mark", first_bit})},
        {"EGRESS_MONITOR_IN", cat({"-p", "udp", "--sport", "53"}, nflog(kNflogPrefixResponse))},
        {"EGRESS_MONITOR_IN", cat({"-p", "tcp", "--sport", "53"}, nflog(kNflogPrefixResponse))},
    };
}

Result<void> remove_iptables(const std::string& tool) {
    // Each step may fail when the piece is already gone; that is the goal state.
    for (auto [hook, chain] :
         {std::pair{"OUTPUT", "EGRESS_MONITOR_OUT"}, std::pair{"INPUT", "EGRESS_MONITOR_IN"}}) {
        while (run_command({tool, "-w", "-D", hook, "-j", chain})) {
        }
        (void)run_command({tool, "-w", "-F", chain});
        (void)run_command({tool, "-w", "-X", chain});
    }
    return {};
}

Result<void> install_iptables(const CaptureRules& r, const std::string& tool) {
    (void)remove_iptables(tool);
    for (const char* chain : {"EGRESS_MONITOR_OUT", "EGRESS_MONITOR_IN"})
        if (auto x = run_command({tool, "-w", "-N", chain}); !x) return x.error();
    for (auto& [chain, args] : iptables_rules(r, tool == "ip6tables")) {
        Argv argv{tool, "-w", "-A", chain};
        argv.insert(argv.end(), args.begin(), args.end());
        if (auto x = run_command(argv); !x) return x.error();
    }
    for (auto [hook, chain] :
         {std::pair{"OUTPUT", "EGRESS_MONITOR_OUT"}, std::pair{"INPUT", "EGRESS_MONITOR_IN"}})
        if (auto x = run_command({tool, "-w", "-I", hook, "1", "-j", chain}); !x) return x.error();
    return {};
}

}  // namespace

std::string nft_capture_script(const CaptureRules& r) {
    return fmt::format(
        R"(table inet {t}
delete table inet {t}
table inet {t} {{
    chain output {{
        type filter hook output priority filter + 20; policy accept;
        udp dport 53 log prefix "{q}" group {g}
        tcp dport 53 log prefix "{q}" group {g}
        oif "lo" return
        ct state new ct mark and {m:#x} == 0 ct mark set ct mark or {m:#x} log prefix "{f}" group {g} snaplen 128
        udp dport 443 ct state new ct mark and {fm:#x} == 0 ct mark set ct mark or {fm:#x} log prefix "{fp}" group {g} snaplen {fs}
        meta nfproto ipv4 meta l4proto tcp ct direction original ct state established meta length > 80 ct mark and {fm:#x} == 0 ct mark set ct mark or {fm:#x} log prefix "{fp}" group {g} snaplen {fs}
        meta nfproto ipv6 meta l4proto tcp ct direction original ct state established meta length > 100 ct mark and {fm:#x} == 0 ct mark set ct mark or {fm:#x} log prefix "{fp}" group {g} snaplen {fs}
    }}
    chain input {{
        type filter hook input priority filter + 20; policy accept;
        udp sport 53 log prefix "{r}" group {g}
        tcp sport 53 log prefix "{r}" group {g}
    }}
}}
)",
        fmt::arg("t", r.table), fmt::arg("g", r.group), fmt::arg("m", r.ct_mark_bit),
        fmt::arg("q", kNflogPrefixQuery), fmt::arg("r", kNflogPrefixResponse),
        fmt::arg("f", kNflogPrefixFlow), fmt::arg("fm", r.first_mark_bit),
        fmt::arg("fp", kNflogPrefixFirst), fmt::arg("fs", r.first_snaplen));
}

Result<std::string> install_capture_rules(const CaptureRules& r) {
    bool nft = r.backend == "nft" || (r.backend == "auto" && !find_program("nft").empty());
    if (nft) {
        if (auto x = run_command({"nft", "-f", "-"}, nft_capture_script(r)); !x) return x.error();
        return std::string("nft");
    }
    if (r.backend != "auto" && r.backend != "iptables")
        return Error{"unknown firewall backend \"" + r.backend + "\" (auto, nft or iptables)"};
    if (auto x = install_iptables(r, "iptables"); !x) return x.error();
    if (auto x = install_iptables(r, "ip6tables"); !x) {
        (void)remove_iptables("iptables");
        return x.error();
    }
    return std::string("iptables");
}

Result<void> remove_capture_rules(const CaptureRules& r, const std::string& backend) {
    if (backend == "nft") {
        auto x = run_command({"nft", "-f", "-"},
                             fmt::format("table inet {0}\ndelete table inet {0}\n", r.table));
        if (!x) return x.error();
        return {};
    }
    (void)remove_iptables("iptables");
    (void)remove_iptables("ip6tables");
    return {};
}

Result<void> install_conntrack_enabler() {
    auto x = run_command({"nft", "-f", "-"}, R"(table inet egress_monitor_ct
delete table inet egress_monitor_ct
table inet egress_monitor_ct {
    chain output {
        type filter hook output priority filter + 20; policy accept;
        ct state new counter
    }
}
)");
    if (!x) return x.error();
    return {};
}

Result<void> remove_conntrack_enabler() {
    auto x = run_command({"nft", "-f", "-"},
                         "table inet egress_monitor_ct\ndelete table inet egress_monitor_ct\n");
    if (!x) return x.error();
    return {};
}

}  // namespace em
