#pragma once
// The bodies of the endpoint's two computed pages, from values gathered by the server
// (server.cpp): /v1/summary.json and /metrics (Prometheus text format 0.0.4). Pure
// functions: no files, no ledger, no clock read here.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/ledger_view.h"

namespace em::http {

/// What the pages tell about one aggregate file.
struct FileState {
    const char* name = nullptr;
    bool present = false;           // the file exists and could be read
    std::optional<uint64_t> lines;  // absent for a file too large to count on request
    uint64_t bytes = 0;
    int64_t age = 0;  // seconds since it was last rewritten
};

/// /v1/summary.json generated at `now` (unix seconds): the files, the ledger's generations
/// and capacity, `counters` (the ledger's with the live ones over them) and the agent's
/// ports per destination.
std::string render_summary_json(int64_t now, const std::vector<FileState>& files,
                                const LedgerSnapshot& ledger,
                                const std::map<std::string, int64_t>& counters);

/// /metrics: `counters` as above, the endpoint's own `serve_counters`, whether the ledger
/// was readable, its capacity and generations, and the files.
std::string render_metrics(const std::map<std::string, int64_t>& counters,
                           const std::map<std::string, uint64_t>& serve_counters,
                           const LedgerSnapshot& ledger, const std::vector<FileState>& files);

}  // namespace em::http
