#pragma once
// The one writer of the two aggregate files (aggregate.h). Every producer spells its lines
// here: the agent and consolidate through exporters/aggregate_files.h (rows of the ledger),
// tests and the fuzz target from entries. The format has one spelling per value, so for
// lines the parser accepted, writing them again gives back the exact bytes.
//
// The writer spells, it does not check: callers pass lines in key order with values the
// parser accepts (parser.h). Not thread-safe per output string; no state otherwise.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "format/aggregate.h"

namespace em {

/// Appends "<name> <count> <last_seen> <ip>[,<ip>...]\n" to `out`, "-" for no address.
void append_domain_line(std::string& out, std::string_view name, int64_t count, int64_t last_seen,
                        std::span<const IpAddress> ips);
/// Appends "<ip> <count> <last_seen>\n" to `out`.
void append_ip_line(std::string& out, const IpAddress& ip, int64_t count, int64_t last_seen);

/// Appends "<ip> <name> <protocol> <count> <last_seen>[ ech]\n" to `out`.
void append_flow_name_line(std::string& out, const IpAddress& ip, std::string_view name,
                           std::string_view protocol, int64_t count, int64_t last_seen, bool ech);

/// Appends a process-uses.log line (aggregate.h), exe, user and container percent-encoded.
void append_process_use_line(std::string& out, char kind, std::string_view dest,
                             std::string_view exe, std::string_view user,
                             std::string_view container, int64_t count, int64_t first_seen,
                             int64_t last_seen);

/// Whole files from entries, in the order given. flow-names.log leaves out an entry whose
/// name or protocol its parser refuses.
std::string render_domains_file(const std::vector<DomainEntry>& domains);
std::string render_ips_file(const std::vector<IpEntry>& ips);
std::string render_flow_names_file(const std::vector<FlowNameFileEntry>& names);
/// process-uses.log leaves out an entry whose kind, destination, field, count or times its
/// parser refuses; and when more than kMaxProcessUsesLines lines or kMaxProcessUsesBytes
/// bytes remain, keeps the most recently used ones that fit (still in key order).
/// `left_out`, when given: how many entries were not written.
std::string render_process_uses_file(const std::vector<ProcessUseEntry>& uses,
                                     size_t* left_out = nullptr);

/// Replaces `dir`/unique-domains.log and `dir`/unique-ips.log together, mode 0640
/// (common/files.h, write_files_atomically). On failure (a full disk, say) both previous
/// files stay as they were and the error names the path.
Result<void> write_aggregate_files(const std::string& dir, std::string_view domains,
                                   std::string_view ips);
/// The same with flow-names.log (`names`) replaced together with them.
Result<void> write_aggregate_files(const std::string& dir, std::string_view domains,
                                   std::string_view ips, std::string_view names);
/// The two files and the optional ones of `extra` (file name, content: flow-names.log,
/// process-uses.log), all replaced together.
Result<void> write_aggregate_files(
    const std::string& dir, std::string_view domains, std::string_view ips,
    const std::vector<std::pair<std::string, std::string_view>>& extra);

}  // namespace em
