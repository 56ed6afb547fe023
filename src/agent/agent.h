#pragma once
// `egress-monitor agent` and `egress-monitor replay`: the daemon-mode pipeline of DESIGN.md.
//   live source(s) ──► Pipeline ──► Batch ──(every flush interval)──► Ledger.commit
//                          │                                            └─► the two files
//                          └──► JSON event lines (file / stdout) and Loki
// The agent runs in the foreground until SIGINT/SIGTERM (final drain, commit, export, and
// the capture rules removed), re-reads its settings on SIGHUP (cache bounds, TTLs, flush
// interval; events file reopened for log rotation). It holds the state directory's lock
// for its lifetime, so `consolidate` and a second agent cannot write the same ledger.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent/live_source.h"
#include "agent/pipeline.h"
#include "common/result.h"
#include "exporters/http/serve_child.h"
#include "exporters/http/server.h"

namespace em {

struct AgentSettings {
    LiveSourceOptions source;
    PipelineConfig pipeline;
    std::string output_dir = "/var/log/egress-monitor";
    std::string state_dir = "/var/lib/egress-monitor";
    int64_t flush_interval_ms = 5000;
    std::string events;  // path, "-" for stdout, empty: off
    std::string loki_url;
    std::map<std::string, std::string> loki_labels;
    int max_names_per_domain = 1000;
    int lock_timeout_ms = 30000;
    // Resident memory ceiling: above 80 % of it the agent commits at once (the batch is the
    // part that grows with traffic) and, if still above, halves the answer cache's bound.
    int memory_limit_mb = 256;
    std::optional<ServeConfig> serve;  // the collector's endpoint, served by the agent too
    int max_domains = 500000;          // ledger bounds (Ledger::set_caps)
    int max_ips = 500000;
    bool attribute_processes = false;  // FlowAttribution on flow events (attribution.h)
};

/// Re-reads the settings (SIGHUP); an error keeps the running ones.
using ReloadSettings = std::function<Result<AgentSettings>()>;

/// Builds the live source from its options: make_live_source, or a test's own.
using LiveSourceFactory =
    std::function<Result<std::unique_ptr<LiveSource>>(const LiveSourceOptions&)>;

/// Runs until a stop signal; returns after the final commit. Blocks SIGINT, SIGTERM and
/// SIGHUP in the calling thread and reads them from a signalfd: a signal sent to that
/// thread (or to the process, where no other thread takes it) stops or reloads the agent.
Result<void> run_agent(const AgentSettings& settings, const ReloadSettings& reload);
/// The same with the source built by `make_source` (tests: a scripted source).
Result<void> run_agent(const AgentSettings& settings, const ReloadSettings& reload,
                       const LiveSourceFactory& make_source);

struct ReplaySummary {
    uint64_t packets = 0, flows = 0, queries = 0, responses = 0;
    bool already_replayed = false;
};

/// Runs a capture file through the same pipeline and commits once. The file is identified
/// by its size and a hash of its first 64 KiB: a capture already replayed into this state
/// directory is not counted again. `state_dir` empty: nothing stored (events only).
Result<ReplaySummary> run_replay(const std::string& pcap_path, const AgentSettings& settings);

}  // namespace em
