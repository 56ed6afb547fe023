#pragma once
// The one step that ends a unit of work, shared by `consolidate` (src/cron) and the agent's
// sink: commit a Batch and the new cursors into the ledger, then bring the two aggregate
// files (and flow-names.log, when the ledger has names: aggregate_files.h) up to date with
// it.
//
// Commit: when `moved` (anything new: totals, counters or a cursor that differs from the
// stored one) or `force`. Render: when the commit brought new totals, when `force`, or when
// the files are not known to match the ledger — either file missing, or the rendered
// generation behind the commit generation (a run that died, or failed to write, between
// its commit and its render). The rendered generation is then set to the commit generation;
// after a commit of counters or cursors only, onto files that matched, the files still match
// and are not rewritten.
//
// A crash or a failed write between commit and render leaves the rendered generation
// behind: the next call renders whatever it brings. Single-threaded, like the Ledger.
#include <functional>
#include <map>
#include <string>

#include "common/result.h"
#include "core/batch.h"
#include "core/domain_folder.h"
#include "core/ledger.h"

namespace em {

struct CommitRequest {
    const Batch& batch;
    const std::map<std::string, std::string>& cursors;  // source → text, committed with it
    bool moved = false;                    // something to commit (the caller compared its cursors)
    bool force = false;                    // commit and render even when nothing moved
    const DomainFolder* folder = nullptr;  // Ledger::commit's folder
    /// Called after a successful commit, before rendering (the callers' warnings).
    std::function<void()> on_committed;
};

struct CommitOutcome {
    bool committed = false;
    bool rendered = false;
};

/// Commits and renders into `output_dir` (created, mode 0750, when rendering) as above.
Result<CommitOutcome> commit_and_render(Ledger& ledger, const std::string& output_dir,
                                        const CommitRequest& req);

}  // namespace em
