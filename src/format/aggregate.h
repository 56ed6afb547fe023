#pragma once
// The two aggregate files: the contract between every producer (consolidate, the agent,
// replay) and every consumer (the collector, `rules`). DESIGN.md ("The two aggregate files")
// is the specification; this folder is its one implementation:
//   aggregate.h   the file names and the values one line carries
//   writer.h      the one writer (the spelling of each line, the atomic replacement)
//   parser.h      the one strict parser (what a consumer accepts)
//
//   unique-domains.log   <domain> <count> <last_seen> <ip>[,<ip>...]|-
//   unique-ips.log       <ip> <count> <last_seen>
// One line per key, sorted by key (byte order for names, numeric for addresses), every line
// ending in '\n'; times RFC 3339 UTC to the second; addresses as IpAddress::to_string().
#include <cstdint>
#include <string>
#include <vector>

#include "common/ip_address.h"

namespace em {

inline constexpr const char* kDomainsFile = "unique-domains.log";
inline constexpr const char* kIpsFile = "unique-ips.log";

/// One line of unique-domains.log.
struct DomainEntry {
    std::string name;
    int64_t count = 0;
    int64_t last_seen = 0;  // Unix seconds
    std::vector<IpAddress> ips;
    bool operator==(const DomainEntry&) const = default;
};

/// One line of unique-ips.log.
struct IpEntry {
    IpAddress ip;
    int64_t count = 0;
    int64_t last_seen = 0;
    bool operator==(const IpEntry&) const = default;
};

/// Both files of one host.
struct Snapshot {
    std::vector<DomainEntry> domains;  // sorted by name
    std::vector<IpEntry> ips;          // sorted numerically
    bool operator==(const Snapshot&) const = default;
};

}  // namespace em
