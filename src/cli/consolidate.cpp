#include "cli/consolidate.h"

#include "common/log.h"
#include "cron/cron.h"

namespace em {

int run_consolidate(const ConsolidateConfig& cfg) {
    CronOptions o;
    o.dnsmasq_log = cfg.dnsmasq_log;
    o.kernel_log = cfg.kernel_log;
    o.log_prefix = cfg.log_prefix;
    o.state_dir = cfg.state_dir;
    o.output_dir = cfg.output_dir;
    o.journal_directory = cfg.journal_directory;
    o.kmsg_device = cfg.kmsg_device;
    o.lock_timeout_ms = cfg.lock_timeout_ms;
    o.max_ips_per_domain = cfg.max_ips_per_domain;
    o.max_names_per_domain = cfg.max_names_per_domain;
    o.threads = cfg.threads;
    o.max_domains = cfg.max_domains;
    o.max_ips = cfg.max_ips;
    auto r = run_cron(o);
    if (!r) {
        log_error("consolidate: {}", r.error().message);
        return 1;
    }
    log_info(
        "read {} bytes: {} dnsmasq lines ({} queries), {} kernel lines ({} flows), {} "
        "malformed; {}{}",
        r->bytes, r->dns_lines, r->queries, r->kernel_lines, r->flows, r->malformed,
        r->committed ? "committed" : "nothing new", r->rendered ? ", files rewritten" : "");
    return 0;
}

}  // namespace em
