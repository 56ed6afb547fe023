#pragma once
// A snapshot: the two aggregate files of one host as fetched, parsed strictly. The collector
// applies a snapshot whole or not at all: any malformed line rejects it, with every problem
// reported (host, file, line number, what) up to a limit.
//
// Strict means the contract of DESIGN.md ("The two aggregate files"):
//   unique-domains.log   <domain> <count> <last_seen> <ip>[,<ip>...]|-
//   unique-ips.log       <ip> <count> <last_seen>
// - exactly those fields separated by one space, every line ending in '\n' (a file that does
//   not end in a newline was truncated);
// - domain: 1..253 bytes of printable ASCII without spaces, lower case, no trailing dot (a
//   folded "*.<domain>" is allowed); count: a decimal integer 1..2^62 without sign or
//   leading zeros; last_seen: RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ"; IPs as the agent writes
//   them (dotted quad, RFC 5952), numerically sorted, no duplicates;
// - lines sorted by key (byte order for names, numeric for addresses), no duplicate keys;
// - bounded: at most max_bytes per file, max_lines per file, max_line_bytes per line.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace em {

struct DomainEntry {
    std::string name;
    int64_t count = 0;
    int64_t last_seen = 0;  // Unix seconds
    std::vector<IpAddress> ips;
    bool operator==(const DomainEntry&) const = default;
};

struct IpEntry {
    IpAddress ip;
    int64_t count = 0;
    int64_t last_seen = 0;
    bool operator==(const IpEntry&) const = default;
};

struct Snapshot {
    std::vector<DomainEntry> domains;  // sorted by name
    std::vector<IpEntry> ips;          // sorted numerically
    bool operator==(const Snapshot&) const = default;
};

struct SnapshotLimits {
    size_t max_bytes = 256u << 20;
    size_t max_lines = 2000000;
    size_t max_line_bytes = size_t{64} * 1024;
    size_t max_reported = 20;  // problems listed in the error; the rest are counted
};

/// Parses both files of `host`. The error lists problems as
/// "<host>: unique-domains.log:17: bad count \"01\"" lines.
Result<Snapshot> parse_snapshot(std::string_view domains_text, std::string_view ips_text,
                                const std::string& host, const SnapshotLimits& limits = {});

/// One file alone (for the fuzz target and tests); `file` names it in errors.
Result<std::vector<DomainEntry>> parse_domains_file(std::string_view text, const std::string& host,
                                                    const SnapshotLimits& limits = {});
Result<std::vector<IpEntry>> parse_ips_file(std::string_view text, const std::string& host,
                                            const SnapshotLimits& limits = {});

/// The files as the agent writes them (exporters/aggregate_files.cpp), from parsed entries:
/// for a snapshot that parsed, rendering gives back the exact bytes (the format has one
/// spelling per value). Used by the fuzz target and tests.
std::string render_domains_file(const std::vector<DomainEntry>& domains);
std::string render_ips_file(const std::vector<IpEntry>& ips);

}  // namespace em
