#pragma once
// `egress-monitor consolidate`: folds the dnsmasq and kernel LOG lines written since the
// stored cursors into the ledger (one transaction) and re-renders the two aggregate files.
#include "cli/config.h"
#include "common/result.h"

namespace em {

struct ConsolidateSummary {
    uint64_t bytes = 0;
    uint64_t dns_lines = 0, queries = 0, kernel_lines = 0, flows = 0;
    uint64_t malformed = 0;
    bool committed = false;
    bool rendered = false;
};

Result<ConsolidateSummary> consolidate(const ConsolidateConfig& cfg);

}  // namespace em
