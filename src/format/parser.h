#pragma once
// The one strict parser of the two aggregate files (aggregate.h), used by every consumer:
// the collector (a host's files as fetched) and `rules --files`. A snapshot is accepted
// whole or not at all: any malformed line rejects it, with every problem reported (host,
// file, line number, what) up to a limit.
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
// Whatever it accepts, the writer (writer.h) gives back byte for byte.
//
// flow-names.log (aggregate.h) is parsed alone, with the same rules and limits: a host's
// names are accepted whole or not at all, apart from its two files (a bad names file costs
// the collector the names, never the snapshot):
//   flow-names.log       <ip> <name> <protocol> <count> <last_seen>[ ech]
// - name: 1..253 bytes of lower-case letters, digits, '-', '_', '.', ':', no trailing dot or
//   empty label; protocol: "http", "quic" or "tls"; the sixth field, when present, "ech";
// - lines sorted by (address numerically, name, protocol in byte order), no duplicate key.
//
// process-uses.log (aggregate.h) likewise, alone and whole:
//   process-uses.log     <kind> <dest> <exe> <user> <container> <count> <first_seen> <last_seen>
// - kind "d" with a domain as above or "i" with an address as above; exe, user and container
//   percent-encoded as the writer does it (one spelling per value, at most 4096 bytes
//   decoded); first_seen not after last_seen;
// - lines sorted by (kind, dest, exe, user, container) in byte order of the decoded values, no
//   duplicate key.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "format/aggregate.h"

namespace em {

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

/// One file alone (`rules --files`, the fuzz target, tests); `host` names the source in
/// errors.
Result<std::vector<DomainEntry>> parse_domains_file(std::string_view text, const std::string& host,
                                                    const SnapshotLimits& limits = {});
Result<std::vector<IpEntry>> parse_ips_file(std::string_view text, const std::string& host,
                                            const SnapshotLimits& limits = {});

/// flow-names.log alone; the error lists problems as
/// "<host>: flow-names.log:3: bad protocol (want http, quic or tls) \"ftp\"" lines.
Result<std::vector<FlowNameFileEntry>> parse_flow_names_file(std::string_view text,
                                                             const std::string& host,
                                                             const SnapshotLimits& limits = {});

/// process-uses.log alone; the error lists problems as
/// "<host>: process-uses.log:3: bad kind (want d or i) \"x\"" lines.
Result<std::vector<ProcessUseEntry>> parse_process_uses_file(std::string_view text,
                                                             const std::string& host,
                                                             const SnapshotLimits& limits = {});

}  // namespace em
