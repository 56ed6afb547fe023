#pragma once
// The two files the collector pulls, rendered from the ledger's committed state by the one
// writer of their format (format/writer.h) and replaced atomically (mode 0640):
//   unique-domains.log   <domain> <count> <last_seen> <ip>[,<ip>...]|-
//   unique-ips.log       <ip> <count> <last_seen>
// Used by consolidate and the agent.
#include <string>

#include "common/result.h"
#include "core/ledger.h"
#include "format/aggregate.h"

namespace em {

std::string render_domains(Ledger& ledger, Result<void>& status);
std::string render_ips(Ledger& ledger, Result<void>& status);

/// Renders both files into `dir`, replacing them together. On failure (a full disk, say)
/// both previous files stay as they were and the error names the path.
Result<void> export_aggregate_files(Ledger& ledger, const std::string& dir);

}  // namespace em
