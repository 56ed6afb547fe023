#pragma once
// The two aggregate files, and the agent's third, optional one: the contract between every
// producer (consolidate, the agent, replay) and every consumer (the collector, `rules`).
// DESIGN.md ("The two aggregate files") is the specification; this folder is its one
// implementation:
//   aggregate.h   the file names and the values one line carries
//   writer.h      the one writer (the spelling of each line, the atomic replacement)
//   parser.h      the one strict parser (what a consumer accepts)
//
//   unique-domains.log   <domain> <count> <last_seen> <ip>[,<ip>...]|-
//   unique-ips.log       <ip> <count> <last_seen>
//   flow-names.log       <ip> <name> <protocol> <count> <last_seen>[ ech]
//   process-uses.log     <kind> <dest> <exe> <user> <container> <count> <first_seen> <last_seen>
// One line per key, sorted by key (byte order for names, numeric for addresses), every line
// ending in '\n'; times RFC 3339 UTC to the second; addresses as IpAddress::to_string().
//
// flow-names.log (the agent only, when its ledger has any; consolidate never writes it): the
// names the first packets of flows to an address gave — a TLS or QUIC ClientHello's server
// name, an HTTP/1.x Host. Key: (address numerically, name, protocol in byte order); protocol
// "http", "quic" or "tls"; count: flows whose first packet gave that name; "ech": a client
// offered Encrypted Client Hello, so the name may be only the outer one. The two files keep
// their meaning: these names are never in unique-domains.log.
//
// process-uses.log (the agent only, when it attributes queries and flows to processes and its
// ledger has any): who used a destination. kind "d" (dest: a domain the process queried, as
// unique-domains.log spells it) or "i" (dest: an address it opened a flow to, as
// unique-ips.log spells it); exe the executable's path ("[comm]" when the path was not had),
// user the user name, container the container id. Those three are what a local user chooses
// (a file name, a user name), so they are percent-encoded: every byte outside '!'..'~' and '%'
// itself as "%XX" (upper-case hex), nothing else; an empty value is "-" and a value that is
// "-" is "%2D" (the host's processes have container "-"). Key: (kind, dest, exe, user,
// container) in byte order of the decoded values; count: queries or flows; first and last
// seen as times.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/ip_address.h"

namespace em {

inline constexpr const char* kDomainsFile = "unique-domains.log";
inline constexpr const char* kIpsFile = "unique-ips.log";
inline constexpr const char* kFlowNamesFile = "flow-names.log";
inline constexpr const char* kProcessUsesFile = "process-uses.log";
/// What a process-uses.log may hold: the agent writes at most this much (the most recently
/// used lines when it has more) and the collector accepts no more, so a busy host's file is
/// never refused for its size.
inline constexpr size_t kMaxProcessUsesLines = 200000;
inline constexpr size_t kMaxProcessUsesBytes = size_t{16} << 20;

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

/// One line of flow-names.log.
struct FlowNameFileEntry {
    IpAddress ip;
    std::string name;      // letters, digits, '-', '_', '.', ':' (an IPv6 literal Host)
    std::string protocol;  // "http", "quic" or "tls"
    int64_t count = 0;
    int64_t last_seen = 0;
    bool ech = false;
    bool operator==(const FlowNameFileEntry&) const = default;
};

/// One line of process-uses.log, decoded.
struct ProcessUseEntry {
    char kind = 'd';                   // 'd' a domain queried, 'i' an address a flow went to
    std::string dest;                  // the domain, or the address's text (IpAddress::to_string())
    std::string exe, user, container;  // container "" for the host
    int64_t count = 0;
    int64_t first_seen = 0, last_seen = 0;
    bool operator==(const ProcessUseEntry&) const = default;
};

/// Both files of one host.
struct Snapshot {
    std::vector<DomainEntry> domains;  // sorted by name
    std::vector<IpEntry> ips;          // sorted numerically
    bool operator==(const Snapshot&) const = default;
};

}  // namespace em
