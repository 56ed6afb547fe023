#pragma once
// The collector's analysis side (`egress-monitor collect` / `report`): history, rules,
// alerts. One cycle takes the fetch results for the whole inventory, applies each good
// snapshot to the history store (whole or not at all), records failures, runs every
// enabled rule, and raises or resolves alerts, deduplicated per (host, rule, key).
//
// Config (TOML, `--config`), every section optional:
//   [history]  path = "/var/lib/egress-collector/history.sqlite"
//   [rules.new_domain]       enabled, learning_days = 7, allow = ["*.debian.org", "example.com"]
//   [rules.capacity]         enabled (the host's agent folds at its max_domains/max_ips)
//   [rules.direct_ip]        enabled, allow_cidrs = ["10.0.0.0/8", ...]
//   [rules.public_resolver]  enabled, list = "PATH" (default: the shipped list)
//   [rules.tunnel]           enabled, max_names_per_domain = 500, max_label = 50,
//                            min_entropy_bits = 4.0 (Shannon, per char, labels >= 20 chars)
//   [rules.volume_spike]     enabled, factor = 10.0, min_history = 5, min_delta = 100
//   [rules.rare]             enabled, max_hosts = 1, min_fleet = 10
//   [rules.stale]            enabled, max_age_minutes = 30 (no good fetch), unchanged_minutes =
//   1440 [alerts] stdout = true, jsonl = "PATH", syslog = false, webhook = "URL",
//            webhook_ca_file = "PATH", webhook_timeout_ms = 5000
// Also: [history] retention_days = 90 (deltas older than that are deleted; 0 keeps them).
// Rule semantics: rules.h; the parsed form: collector_config.h.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collector/alerts.h"
#include "collector/collector_config.h"
#include "collector/fetch.h"
#include "collector/report.h"
#include "common/result.h"

namespace em {

struct CycleSummary {
    size_t hosts = 0, fetched = 0, not_modified = 0, failed = 0, rejected = 0;
    size_t alerts_opened = 0, alerts_updated = 0, alerts_resolved = 0, alerts_open = 0;
    size_t alerts_silenced = 0;  // transitions recorded but kept from the sinks
    size_t sink_failures = 0;    // alert deliveries that failed (counted, logged, not fatal)
    /// Hosts whose flow-names.log was bad (malformed, oversized, tampered): their snapshot was
    /// applied without names (logged with the file and line).
    size_t names_rejected = 0;
    /// Hosts whose process-uses.log was bad: their snapshot was applied, the process uses
    /// stored before kept (logged with the file and line).
    size_t uses_rejected = 0;
};

/// Produces the fetch result of host `index`. run_cycle calls it once per index, in order,
/// from one thread at a time (not necessarily the caller's: the next host is prepared on a
/// worker while the current one is applied).
using FetchSource = std::function<FetchResult(size_t index)>;

class Collector {
  public:
    /// Opens (creates, migrates) the history store named by the config; reads the rule and
    /// alert settings. Errors name the file and line.
    static Result<std::unique_ptr<Collector>> open(const std::string& config_path,
                                                   bool config_required);
    /// The same from a parsed config; `extra_sinks` receive every transition too (tests).
    static Result<std::unique_ptr<Collector>> create(
        const CollectorConfig& config, std::vector<std::unique_ptr<AlertSink>> extra_sinks = {});
    virtual ~Collector() = default;
    /// The ETags stored for each host (for conditional fetches).
    virtual std::map<std::string, PrevTags> etags() = 0;
    /// One cycle at `now` (Unix seconds) for `hosts` with their `results` (same order).
    virtual Result<CycleSummary> run_cycle(const std::vector<HostSpec>& hosts,
                                           const std::vector<FetchResult>& results,
                                           int64_t now) = 0;
    /// The same with results produced one at a time, so that at most two hosts' files are in
    /// memory at once (see FetchSource).
    virtual Result<CycleSummary> run_cycle(const std::vector<HostSpec>& hosts,
                                           const FetchSource& results, int64_t now) = 0;
    /// Current alerts and per-host summaries, as text or JSON.
    virtual Result<std::string> report(ReportFormat format) = 0;
};

}  // namespace em
