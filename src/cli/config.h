#pragma once
// Settings of `consolidate`: built-in defaults, overridden by the TOML config file, overridden
// by command-line flags. Config keys are the flag names with '_' for '-', plus the few
// settings that have no flag.
#include <string>
#include <string_view>

#include "agent/agent.h"
#include "common/result.h"
#include "exporters/http/server.h"

namespace em {

struct ConsolidateConfig {
    std::string dnsmasq_log = "/var/log/dnsmasq/dnsmasq.log";
    std::string kernel_log = "journald";  // journald | kmsg | none | PATH of a syslog file
    std::string log_prefix = "EGRESS: ";
    std::string state_dir = "/var/lib/egress-monitor";
    std::string output_dir = "/var/log/egress-monitor";
    std::string config = "/etc/egress-monitor/config.toml";
    // Config-file only:
    std::string journal_directory;  // empty: the system journal
    std::string kmsg_device = "/dev/kmsg";
    int lock_timeout_ms = 30000;
    int max_ips_per_domain = 32;
    int max_names_per_domain = 1000;  // per registrable domain; beyond: "*.<domain>"; 0 = off
    int threads = 2;
    int max_domains = 500000;  // lines of unique-domains.log; beyond: counted as over cap
    int max_ips = 500000;      // lines of unique-ips.log
    // The [agent] table: settings of `egress-monitor agent` (its output_dir, state_dir and
    // the per-domain bounds come from the keys above).
    AgentSettings agent;
    // The [serve] table: the HTTP(S) endpoint of `egress-monitor serve`, and of the agent
    // when `serve_in_agent` is true.
    ServeConfig serve;
    bool serve_in_agent = false;
};

/// Reads `path` into `cfg`. A missing file is fine unless `required`; unknown keys, wrong
/// types and out-of-range values are errors naming the file, line and key.
Result<void> load_config(const std::string& path, bool required, ConsolidateConfig& cfg);
/// The same for text already read; `path` names it in errors.
Result<void> parse_config(std::string_view text, const std::string& path, ConsolidateConfig& cfg);

}  // namespace em
