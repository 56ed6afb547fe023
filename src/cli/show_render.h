#pragma once
// `egress-monitor show`: who talks to what, from the agent's per-process counts
// (process_use) — grouped by process, by domain or by address, as text or one JSON
// document. Ordering is deterministic: by count (descending), then by name (byte order;
// addresses numerically). Text output escapes every byte outside printable ASCII (and the
// backslash) as \xNN, so a crafted executable name cannot drive the terminal.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace em {

struct ShowUse {
    char kind = 'i';  // 'd': dest is a domain queried; 'i': an address a flow went to
    std::string dest, exe, user, container;
    int64_t count = 0;
    int64_t first_seen = 0, last_seen = 0;  // Unix seconds
};

/// A name a flow's first packet gave an address (TLS/QUIC server name, HTTP Host).
struct ShowFirstPacketName {
    std::string name;
    std::string protocol;  // "tls", "quic", "http"
    int64_t count = 0;
};

struct ShowInput {
    std::vector<ShowUse> uses;
    std::map<std::string, std::vector<IpAddress>> domain_ips;  // a domain's answers
    std::map<IpAddress, std::vector<ShowFirstPacketName>> first_packet_names;
    std::string source;  // the ledger's path
};

enum class ShowBy { process, domain, ip };

/// Reads `STATE_DIR/ledger.sqlite` (as `rules` does).
Result<ShowInput> load_show_input(const std::string& state_dir);

/// The report; "" when `in` holds no uses.
std::string render_show(const ShowInput& in, ShowBy by, bool json);

}  // namespace em
