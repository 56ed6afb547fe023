#pragma once
// From audit to policy: firewall rules that accept exactly the egress the monitor saw
// (`egress-monitor rules`). The input is what the agent's ledger or the two aggregate files
// hold; the output is one nftables table, or iptables-restore input for IPv4 or IPv6.
//
// What is accepted: every observed destination address, with the protocols and ports the
// agent recorded for it (flow_ports: port 0 means "other ports beyond the bound", so every
// port of that protocol); an address with no recorded ports (cron mode, or the two files
// only) is accepted on every port. Addresses named by a domain's answers go into one named
// set per domain (nft) and carry the domain in their comments; the rest are "direct".
// Loopback and established/related traffic are accepted first; the chain's policy drops
// the rest (or, with `log_only` / `--log-only`, logs it and lets it pass, to try a policy first).
//
// Who used a destination (the agent's process_use rows, when it attributed flows and queries
// to processes) is named in the rules' comments: "fixed.test by /usr/bin/curl@root", the
// executables and users by count, as many as fit (an nft set's comment stays the domain). With
// process, user or container filters only the destinations those processes used are accepted: the
// addresses they opened flows to, and the addresses of the domains they queried (so a process
// behind the local resolver, whose queries were attributed to the resolver, is still matched by its
// flows).
//
// Names and other text from the input never reach the ruleset unquoted: comments keep only
// [A-Za-z0-9._:*/@+-] and spaces and replace everything else with '_', at most 100 bytes; set names
// are generated (d0001_v4, ...), never derived from the input. Output is deterministic: the same
// input gives the same bytes.
#include <cstdint>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace em {

struct PolicyPort {
    uint8_t proto = 0;  // 6 tcp, 17 udp, 1 icmp, 58 icmpv6, ...
    uint16_t port = 0;  // 0: any port of proto
    int64_t count = 0;
};

struct PolicyAddress {
    IpAddress ip;
    int64_t count = 0;
    int64_t last_seen = 0;
    std::vector<PolicyPort> ports;  // empty: not known (any protocol, any port)
};

struct PolicyDomain {
    std::string name;
    int64_t count = 0;
    int64_t last_seen = 0;
    std::vector<IpAddress> ips;
};

/// One process_use row: `kind` 'd' (dest is a domain it queried) or 'i' (an address it opened
/// a flow to); exe is a path, or "[comm]" when the executable was unknown.
struct PolicyUse {
    char kind = 'i';
    std::string dest, exe, user, container;
    int64_t count = 0;
};

/// A name the first packets of flows to an address gave (the agent's flow_names: a TLS or
/// QUIC server name, an HTTP Host).
struct PolicyFirstPacketName {
    IpAddress ip;
    std::string name;
    std::string protocol;  // "tls", "quic", "http"
    int64_t count = 0;
    int64_t last_seen = 0;
};

struct PolicyInput {
    std::vector<PolicyDomain> domains;                      // sorted by name
    std::vector<PolicyAddress> ips;                         // sorted numerically
    std::vector<PolicyUse> uses;                            // empty: no per-process data
    std::vector<PolicyFirstPacketName> first_packet_names;  // sorted by address, then name
    std::string source;  // where it came from, for the header comment
};

/// Reads the agent's (or consolidate's) ledger, `STATE_DIR/ledger.sqlite`, read-only.
Result<PolicyInput> load_policy_from_ledger(const std::string& state_dir);
/// Reads unique-domains.log and unique-ips.log of `dir`, strictly (format/parser.h, the
/// collector's parser too), and flow-names.log and process-uses.log where the agent wrote
/// them.
Result<PolicyInput> load_policy_from_files(const std::string& dir);

/// nft, iptables and ip6tables accept addresses. enforce is name-based: an `egress-monitor
/// enforce` config (egress-eddie's format) whose one filter allows the names queried through
/// DNS and the names flows' first packets gave; when some of those come only from first packets
/// (resolved where the host's resolver did not see it: DoH, hard-coded addresses), the filter
/// sets allowByServerName so their connections are judged by the name they send.
enum class PolicyFormat { nft, iptables, ip6tables, enforce };

struct PolicyOptions {
    PolicyFormat format = PolicyFormat::nft;
    int64_t min_count = 1;  // addresses with fewer flows are left out (so are their ports)
    int64_t since = 0;      // addresses last seen before this (Unix seconds) are left out
    std::string table = "egress_monitor_allow";  // nft table / iptables chain / enforce filter
    bool log_only = false;  // the final rule logs and accepts instead of dropping
    // Keep only destinations of matching processes: any value of a list matches, and every
    // list given must match. A process matches its exe path, the path's last component, or
    // the comm of a "[comm]" entry; a user its name (or number, when it had none); a
    // container a prefix of its id, or "host" for processes in no container.
    std::vector<std::string> processes, users, containers;
};

/// The ruleset text. Errors for a bad table name, and for filters on an input with no
/// per-process data.
Result<std::string> render_policy(const PolicyInput& in, const PolicyOptions& opt);

/// `text` reduced to what may stand inside a quoted comment (see above).
std::string safe_comment(std::string_view text);

}  // namespace em
