#include "cli/enforce_cmd.h"

#include <fmt/core.h>

#include "common/log.h"
#include "enforce/enforce.h"
#include "enforce/server_names.h"

namespace em {

struct EnforceFlags {
    std::string config = "/etc/egress-monitor/enforce.toml";
    bool check = false;
    std::string log = "-";
    bool queue_bypass = false;
    bool no_harden = false;
    int nice = -10;
};

std::shared_ptr<EnforceFlags> add_enforce_command(CLI::App& app) {
    auto f = std::make_shared<EnforceFlags>();
    auto* sub = app.add_subcommand(
        "enforce",
        "Allow only traffic to addresses that DNS answers for allowed hostnames named "
        "(NFQUEUE)");
    sub->add_option("--config", f->config, "filters (TOML)")->capture_default_str();
    sub->add_flag("--check", f->check, "validate the config, print a summary and exit");
    sub->add_option("--log", f->log, "verdict lines (JSON): - for stdout, a file, or '' for none")
        ->capture_default_str();
    sub->add_flag("--queue-bypass", f->queue_bypass,
                  "fail open: full queues accept packets (pair with --queue-bypass on the rules)");
    sub->add_option("--nice", f->nice,
                    "scheduling priority of the verdict loop (-20..19; 0: inherited)")
        ->check(CLI::Range(-20, 19))
        ->capture_default_str();
    sub->add_flag("--no-harden", f->no_harden,
                  "keep capabilities and skip the seccomp allowlist (debugging only)");
    return f;
}

int run_enforce_command(CLI::App& app, const EnforceFlags& f) {
    CLI::App* sub = app.get_subcommand("enforce");
    if (!sub->parsed()) return -1;
    auto cfg = load_enforce_config(f.config);
    if (!cfg) {
        log_error("enforce: {}", cfg.error().message);
        return 2;
    }
    if (f.check) {
        auto q = [](const QueuePair& p) {
            return fmt::format("ipv4 {}, ipv6 {}", p.ipv4 ? std::to_string(*p.ipv4) : "-",
                               p.ipv6 ? std::to_string(*p.ipv6) : "-");
        };
        fmt::print("{}: ok; inbound DNS queue {}{}\n", f.config, q(cfg->inbound_dns_queue),
                   cfg->self_dns_queue.any() ? fmt::format("; self DNS queue {} (filter {})",
                                                           q(cfg->self_dns_queue), kSelfFilterName)
                                             : "");
        for (const auto& fl : cfg->filters)
            fmt::print("filter {}: DNS queue {}; traffic queue {}; {} allowed hostnames{}{}{}{}\n",
                       fl.name, q(fl.dns_queue), q(fl.traffic_queue), fl.allowed_hostnames.size(),
                       fl.allow_all_hostnames ? " (all allowed)" : "",
                       fl.allow_by_server_name
                           ? fmt::format(" (also by server name: hold mark {:#x}, docs/enforce.md)",
                                         kServerNameHeldMark)
                           : "",
                       fl.cached_hostnames.empty()
                           ? ""
                           : fmt::format("; {} cached", fl.cached_hostnames.size()),
                       fl.dns_queue.any()
                           ? fmt::format("; answers awaited {} ms, at most {} queries",
                                         fl.query_timeout_ms, fl.outstanding_queries)
                           : "");
        return 0;
    }
    EnforceOptions opt;
    opt.log_path = f.log;
    opt.queue_bypass = f.queue_bypass;
    opt.harden = !f.no_harden;
    opt.nice = f.nice;
    if (auto r = run_enforce(*cfg, opt); !r) {
        log_error("{}", r.error().message);
        return 1;
    }
    return 0;
}

}  // namespace em
