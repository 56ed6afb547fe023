#pragma once
// Cron step 2: parse what the plan names. dnsmasq lines run as one sequential task (answers
// are tied to earlier queries); a kernel syslog file is split into ranges parsed on up to
// `threads` threads; journald and kmsg are read on the calling thread. Each task fills its
// own Batch. After reading, the planned files are checked to be the files planned.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/batch.h"
#include "core/domain_folder.h"
#include "cron/plan.h"
#include "sources/dnsmasq_log/dnsmasq_parser.h"
#include "sources/kernel_log/kernel_line.h"

namespace em {

struct CronRead {
    /// One Batch per task, then the journald / kmsg batch (last): merged in this order.
    std::vector<std::unique_ptr<Batch>> batches;
    DnsmasqCounters dnsmasq;
    KernelCounters kernel;      // all kernel readers together
    std::string dnsmasq_state;  // the parser's state after the lines read
    /// The journald / kmsg cursor after reading (key → text), when anything was read.
    std::map<std::string, std::string> kernel_cursors;
};

/// `folder` (which must outlive the batches) folds names per registrable domain; `now` is the
/// year guess for syslog timestamps. An unreadable or replaced file is an error.
Result<CronRead> read_inputs(const CronPlan& plan, const CronOptions& options,
                             const DomainFolder& folder, int64_t now);

}  // namespace em
