#pragma once
// The files the collector pulls, rendered from the ledger's committed state by the one
// writer of their format (format/writer.h) and replaced atomically together (mode 0640):
//   unique-domains.log   <domain> <count> <last_seen> <ip>[,<ip>...]|-
//   unique-ips.log       <ip> <count> <last_seen>
//   flow-names.log       <ip> <name> <protocol> <count> <last_seen>[ ech]
//   process-uses.log     <kind> <dest> <exe> <user> <container> <count> <first_seen> <last_seen>
// flow-names.log only when the ledger has flow names (the agent's first packets) or the file
// is already there (so it follows a ledger that lost them), process-uses.log likewise with
// the ledger's process uses (the agent's attribution); consolidate, which has neither, keeps
// writing exactly the two files. Used by consolidate and the agent.
#include <string>

#include "common/result.h"
#include "core/ledger.h"
#include "format/aggregate.h"

namespace em {

std::string render_domains(Ledger& ledger, Result<void>& status);
std::string render_ips(Ledger& ledger, Result<void>& status);
/// flow-names.log, sorted by (address, name, protocol name); rows of a protocol this version
/// cannot name (a later version's ledger) are left out. `rows`: how many lines.
std::string render_flow_names(Ledger& ledger, Result<void>& status, size_t& rows);

/// process-uses.log in the ledger's order (kind, destination, exe, user, container: byte
/// order, the file's); rows the format cannot carry are left out, and beyond
/// kMaxProcessUsesLines or kMaxProcessUsesBytes the least recently used (a warning, once).
/// `rows`: how many lines.
std::string render_process_uses(Ledger& ledger, Result<void>& status, size_t& rows);

/// Renders the files into `dir` (flow-names.log as said above), replacing them together. On
/// failure (a full disk, say) every previous file stays as it was and the error names the
/// path.
Result<void> export_aggregate_files(Ledger& ledger, const std::string& dir);

}  // namespace em
