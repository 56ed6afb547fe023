#pragma once
// Cron mode (`egress-monitor consolidate`) as a library: folds the dnsmasq and kernel LOG
// lines written since the stored cursors into the ledger (one transaction) and re-renders the
// two aggregate files. run_cron() does it all under the state directory's lock; the steps it
// is made of are in plan.h (which bytes to read, from the cursors), read.h (parse them, on up
// to `threads` threads), merge.h (one Batch, the counters and the cursors to commit) and
// exporters/commit_render.h (commit, render, mark rendered: shared with the agent).
#include <cstdint>
#include <string>

#include "common/result.h"

namespace em {

struct CronOptions {
    std::string dnsmasq_log;
    std::string kernel_log;  // journald | kmsg | none | PATH of a syslog file
    std::string log_prefix;
    std::string state_dir;
    std::string output_dir;
    std::string journal_directory;  // empty: the system journal
    std::string kmsg_device = "/dev/kmsg";
    int lock_timeout_ms = 30000;
    int max_ips_per_domain = 32;
    int max_names_per_domain = 1000;  // per registrable domain; beyond: "*.<domain>"; 0 = off
    int threads = 2;
    int max_domains = 500000;
    int max_ips = 500000;
};

struct CronSummary {
    uint64_t bytes = 0;
    uint64_t dns_lines = 0, queries = 0, kernel_lines = 0, flows = 0;
    uint64_t malformed = 0;
    bool committed = false;
    bool rendered = false;
};

/// One cron run. Relative paths are made absolute first (cursors are keyed by absolute
/// path). Waits up to lock_timeout_ms for the state directory's lock. Warnings (rotations,
/// malformed lines, folding) are logged; an error leaves the ledger as the last commit left
/// it (a failed render is repaired by the next run).
Result<CronSummary> run_cron(const CronOptions& options);

}  // namespace em
