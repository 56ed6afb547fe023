#pragma once
// Cron step 3: the batches read become one Batch with the parsers' counters, the cursors to
// commit with it, and whether anything moved since the stored cursors (a cursor can move past
// lines that count nothing: that is still a commit).
#include <map>
#include <string>

#include "core/batch.h"
#include "core/domain_folder.h"
#include "cron/cron.h"
#include "cron/plan.h"
#include "cron/read.h"

namespace em {

struct CronMerged {
    Batch total;
    std::map<std::string, std::string> cursors;  // source → text, to commit
    bool moved = false;
    CronSummary summary;  // bytes and line counts (committed / rendered: not yet)
};

/// Merges `read` (consumed) in its order into one Batch folded by `folder`.
CronMerged merge_inputs(const CronPlan& plan, CronRead&& read, size_t max_ips_per_domain,
                        const DomainFolder* folder);

}  // namespace em
