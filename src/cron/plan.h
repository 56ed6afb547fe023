#pragma once
// Cron step 1: which inputs to read, from the cursors stored in the ledger. Plans the dnsmasq
// log and a kernel syslog file (LogFile::plan: rotation, truncation, nothing new) and reads
// the stored cursor of journald or kmsg, whose readers plan for themselves (read.h).
#include <map>
#include <optional>
#include <string>

#include "common/result.h"
#include "core/ledger.h"
#include "cron/cron.h"
#include "sources/log_file/log_file.h"

namespace em {

struct CronPlan {
    std::string dnsmasq_key;         // "dnsmasq:<path>"
    std::string dnsmasq_state_key;   // "dnsmasq-state:<path>": the parser's pending queries
    std::optional<LogFile> dnsmasq;  // always set by plan_inputs
    std::optional<std::string> dnsmasq_state;
    // Kernel lines: kernel_key is empty for "none"; kernel_file is set for a syslog file,
    // kernel_cursor holds the stored journald / kmsg cursor.
    std::string kernel_key;
    std::optional<LogFile> kernel_file;
    std::optional<std::string> kernel_cursor;
    /// The stored text of every cursor read (source → text), to tell whether one moved.
    std::map<std::string, std::string> before;
};

/// Reads the stored cursors of the inputs `options` names (paths already absolute) and plans
/// the byte ranges to read. A stored cursor that does not decode is an error naming it.
/// Rotation and truncation notes are logged as warnings.
Result<CronPlan> plan_inputs(Ledger& ledger, const CronOptions& options);

}  // namespace em
