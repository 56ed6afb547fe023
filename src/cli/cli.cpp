#include "cli/cli.h"

#include <CLI/CLI.hpp>

#include <fmt/core.h>

#include "cli/agent_cmd.h"
#include "cli/alerts_cmd.h"
#include "cli/collector_cmd.h"
#include "cli/config.h"
#include "cli/consolidate.h"
#include "cli/doctor_cmd.h"
#include "cli/enforce_cmd.h"
#include "cli/rules_cmd.h"
#include "cli/show_cmd.h"
#include "common/log.h"

namespace em {

namespace {

void add_consolidate(CLI::App& app, ConsolidateConfig& cfg, bool& verbose) {
    auto* sub = app.add_subcommand(
        "consolidate",
        "Fold new dnsmasq and kernel LOG lines since the stored cursors into the ledger and "
        "rewrite unique-domains.log and unique-ips.log (run from cron)");
    sub->add_option("--dnsmasq-log", cfg.dnsmasq_log, "dnsmasq query log (log-queries[=extra])")
        ->capture_default_str();
    sub->add_option("--kernel-log", cfg.kernel_log,
                    "where kernel LOG lines are read: journald, kmsg, or the PATH of a "
                    "syslog-format file such as kern.log")
        ->capture_default_str();
    sub->add_option("--log-prefix", cfg.log_prefix, "prefix of the firewall's LOG rule")
        ->capture_default_str();
    sub->add_option("--state-dir", cfg.state_dir, "ledger and cursors")->capture_default_str();
    sub->add_option("--output-dir", cfg.output_dir, "where the two files are written")
        ->capture_default_str();
    sub->add_option("--config", cfg.config, "TOML config (optional at its default path)")
        ->capture_default_str();
    sub->add_flag("-v,--verbose", verbose, "print a summary of the run");
}

}  // namespace

int run_cli(int argc, char** argv) {
    CLI::App app{"egress-monitor: where this server reaches out to", "egress-monitor"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "egress-monitor 0.1.0");
    ConsolidateConfig flags;
    bool verbose = false;
    add_consolidate(app, flags, verbose);
    auto agent_flags = add_agent_commands(app);
    auto collector_flags = add_collector_commands(app);
    auto alerts_flags = add_alerts_command(app);
    auto rules_flags = add_rules_command(app);
    auto enforce_flags = add_enforce_command(app);
    auto show_flags = add_show_command(app);
    auto doctor_flags = add_doctor_command(app);
    for (auto* sub :
         {app.get_subcommand("agent"), app.get_subcommand("replay"), app.get_subcommand("serve"),
          app.get_subcommand("collect"), app.get_subcommand("report"),
          app.get_subcommand("enforce"), app.get_subcommand("dashboard")})
        sub->add_flag("-v,--verbose", verbose, "log what is done at info level");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (verbose) set_log_level(LogLevel::info);

    if (int rc = run_agent_commands(app, *agent_flags); rc >= 0) return rc;
    if (int rc = run_collector_commands(app, *collector_flags); rc >= 0) return rc;
    if (int rc = run_alerts_command(app, *alerts_flags); rc >= 0) return rc;
    if (int rc = run_rules_command(app, *rules_flags); rc >= 0) return rc;
    if (int rc = run_enforce_command(app, *enforce_flags); rc >= 0) return rc;
    if (int rc = run_show_command(app, *show_flags); rc >= 0) return rc;
    if (int rc = run_doctor_command(app, *doctor_flags); rc >= 0) return rc;
    CLI::App* sub = app.get_subcommand("consolidate");
    if (sub->parsed()) {
        // Defaults < config file < flags given on the command line.
        ConsolidateConfig cfg;
        bool explicit_config = sub->count("--config") > 0;
        if (auto r = load_config(flags.config, explicit_config, cfg); !r) {
            log_error("{}", r.error().message);
            return 2;
        }
        auto take = [&](const char* flag, std::string ConsolidateConfig::*field) {
            if (sub->count(flag) > 0) cfg.*field = flags.*field;
        };
        take("--dnsmasq-log", &ConsolidateConfig::dnsmasq_log);
        take("--kernel-log", &ConsolidateConfig::kernel_log);
        take("--log-prefix", &ConsolidateConfig::log_prefix);
        take("--state-dir", &ConsolidateConfig::state_dir);
        take("--output-dir", &ConsolidateConfig::output_dir);
        return run_consolidate(cfg);
    }
    return 2;
}

}  // namespace em
