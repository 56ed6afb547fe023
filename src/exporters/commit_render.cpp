#include "exporters/commit_render.h"

#include <sys/stat.h>

#include "common/files.h"
#include "exporters/aggregate_files.h"

namespace em {

namespace {

bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

Result<CommitOutcome> commit_and_render(Ledger& ledger, const std::string& output_dir,
                                        const CommitRequest& req) {
    auto gen = ledger.generation("commit_generation");
    if (!gen) return gen.error();
    auto rendered = ledger.generation("rendered_generation");
    if (!rendered) return rendered.error();
    const bool files_current = *gen == *rendered && file_exists(output_dir + "/" + kDomainsFile) &&
                               file_exists(output_dir + "/" + kIpsFile);
    CommitOutcome out;
    int64_t generation = *gen;
    if (req.moved || req.force) {
        if (auto r = ledger.commit(req.batch, req.cursors, req.folder); !r) return r.error();
        if (req.on_committed) req.on_committed();
        out.committed = true;
        ++generation;
    }
    if (!req.batch.empty() || req.force || !files_current) {
        if (auto r = make_directories(output_dir, 0750); !r) return r.error();
        if (auto r = export_aggregate_files(ledger, output_dir); !r) return r.error();
        out.rendered = true;
    }
    if (generation != *rendered) {
        // The files now match this generation (rendered above, or unchanged totals).
        if (auto r = ledger.set_rendered(generation); !r) return r.error();
    }
    return out;
}

}  // namespace em
