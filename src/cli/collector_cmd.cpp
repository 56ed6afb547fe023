#include "cli/collector_cmd.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>

#include "cli/config.h"
#include "collector/collector.h"
#include "collector/fetch.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/time.h"
#include "dashboard/dashboard.h"
#include "dashboard/users.h"
#include "exporters/http/serve_child.h"
#include "exporters/http/server.h"

namespace em {

struct CollectorFlags {
    // serve
    std::string config = "/etc/egress-monitor/config.toml";
    std::string listen, token_file, tls_cert, tls_key, output_dir, state_dir, user;
    int live_fd = -1;
    bool plain_http = false;
    // collect / report
    std::string collector_config = "/etc/egress-monitor/collector.toml";
    std::string inventory = "/etc/egress-monitor/inventory.toml";
    bool once = false;
    std::string interval = "5m";
    int parallel = 16;
    std::string timeout = "10s";
    int retries = 2;
    std::string format = "text";
    std::string add_user;  // dashboard --add-user
};

namespace {

// Blocks the stop signals and waits up to `ms` for one; true when one came.
bool wait_for_stop(int ms) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0) return false;
    pollfd p{fd, POLLIN, 0};
    bool got = poll(&p, 1, ms) == 1;
    close(fd);
    return got;
}

int run_serve(CLI::App* sub, const CollectorFlags& f) {
    ConsolidateConfig cfg;
    if (auto r = load_config(f.config, sub->count("--config") > 0, cfg); !r) {
        log_error("serve: {}", r.error().message);
        return 2;
    }
    ServeConfig sc = cfg.serve;
    sc.output_dir = cfg.output_dir;
    sc.state_dir = cfg.state_dir;
    auto given = [&](const char* flag) { return sub->count(flag) > 0; };
    if (given("--listen")) sc.listen = f.listen;
    if (given("--token-file")) sc.token_file = f.token_file;
    if (given("--tls-cert")) sc.tls_cert = f.tls_cert;
    if (given("--tls-key")) sc.tls_key = f.tls_key;
    if (given("--plain-http")) sc.plain_http = f.plain_http;
    if (given("--user")) sc.user = f.user;
    if (given("--output-dir")) sc.output_dir = f.output_dir;
    if (given("--state-dir")) sc.state_dir = f.state_dir;
    wait_for_stop(0);  // block the signals before the server's threads start
    // Spawned by the agent (serve_child.h): its live counters come over the feed, and the
    // end of the feed stops this process.
    std::unique_ptr<LiveFeed> feed;
    if (f.live_fd >= 0)
        feed = std::make_unique<LiveFeed>(f.live_fd, [] { ::kill(::getpid(), SIGTERM); });
    auto server = HttpServer::start(sc, feed ? feed->counters() : LiveCounters{});
    if (!server) {
        log_error("serve: {}", server.error().message);
        if (feed) feed->report_error(server.error().message);
        return 1;
    }
    if (feed) feed->report_ok((*server)->port());
    if (sc.user.empty() && ::geteuid() == 0 && f.live_fd < 0) {  // the agent warned already
        log_warn("serve: running as root; set --user (or serve.user) to an unprivileged user");
    }
    log_info("serve: {} on {}", sc.plain_http ? "HTTP" : "HTTPS", sc.listen);
    while (!wait_for_stop(60000)) {
    }
    (*server)->stop();
    return 0;
}

int run_collect(CLI::App* sub, const CollectorFlags& f) {
    auto hosts = load_inventory(f.inventory);
    if (!hosts) {
        log_error("collect: {}", hosts.error().message);
        return 2;
    }
    auto collector = Collector::open(f.collector_config, sub->count("--config") > 0);
    if (!collector) {
        log_error("collect: {}", collector.error().message);
        return 2;
    }
    FetchOptions opt;
    opt.parallel = f.parallel;
    opt.retries = f.retries;
    auto timeout = parse_duration_ms(f.timeout);
    auto interval = parse_duration_ms(f.interval);
    if (!timeout || !interval) {
        log_error("collect: {}", (!timeout ? timeout.error() : interval.error()).message);
        return 2;
    }
    opt.timeout_ms = static_cast<int>(*timeout);
    wait_for_stop(0);
    for (;;) {
        // Fetched in parallel, applied in inventory order as they come: at most
        // 2 × parallel hosts' files are held at once, whatever the fleet's size.
        const auto etags = (*collector)->etags();
        FetchStream stream(*hosts, opt, etags);
        auto sum = (*collector)
                       ->run_cycle(*hosts, FetchSource([&](size_t i) { return stream.take(i); }),
                                   unix_now());
        if (!sum) {
            log_error("collect: {}", sum.error().message);
            return 1;
        }
        log_info(
            "collect: {} hosts: {} fetched, {} unchanged, {} failed, {} rejected; alerts: {} "
            "opened, {} updated, {} resolved, {} open; {} silenced",
            sum->hosts, sum->fetched, sum->not_modified, sum->failed, sum->rejected,
            sum->alerts_opened, sum->alerts_updated, sum->alerts_resolved, sum->alerts_open,
            sum->alerts_silenced);
        if (sum->names_rejected)
            log_info(
                "collect: {} hosts' flow-names.log rejected (their snapshots applied "
                "without names)",
                sum->names_rejected);
        if (sum->uses_rejected)
            log_info(
                "collect: {} hosts' process-uses.log rejected (their snapshots applied, their "
                "last good process uses kept)",
                sum->uses_rejected);
        if (f.once) return 0;
        if (wait_for_stop(static_cast<int>(*interval))) return 0;
    }
}

int run_report(CLI::App* sub, const CollectorFlags& f) {
    auto config = load_collector_config(f.collector_config, sub->count("--config") > 0);
    if (!config) {
        log_error("report: {}", config.error().message);
        return 2;
    }
    // A report only reads: no alert goes out from it, so no sink is opened.
    config->alerts = AlertsConfig{};
    config->alerts.to_stdout = false;
    auto collector = Collector::create(*config);
    if (!collector) {
        log_error("report: {}", collector.error().message);
        return 2;
    }
    auto text = (*collector)
                    ->report(f.format == "json"   ? ReportFormat::json
                             : f.format == "html" ? ReportFormat::html
                                                  : ReportFormat::text);
    if (!text) {
        log_error("report: {}", text.error().message);
        return 1;
    }
    std::fwrite(text->data(), 1, text->size(), stdout);
    return 0;
}

int run_dashboard(CLI::App* sub, const CollectorFlags& f) {
    auto config = load_collector_config(f.collector_config, sub->count("--config") > 0);
    if (!config) {
        log_error("dashboard: {}", config.error().message);
        return 2;
    }
    if (!f.add_user.empty()) {
        if (config->dashboard.users_file.empty()) {
            log_error("dashboard: --add-user: no users file ([dashboard] users_file) configured");
            return 2;
        }
        auto token = add_dashboard_user(config->dashboard.users_file, f.add_user);
        if (!token) {
            log_error("dashboard: --add-user: {}", token.error().message);
            return 1;
        }
        std::fprintf(stderr,
                     "dashboard: added %s to %s; their token (shown this once; the file keeps "
                     "only its SHA-256) is the password of the login:\n",
                     f.add_user.c_str(), config->dashboard.users_file.c_str());
        std::printf("%s\n", token->c_str());
        return 0;
    }
    wait_for_stop(0);  // block the signals before the server's threads start
    auto dashboard = Dashboard::start(config->dashboard, config->history.target());
    if (!dashboard) {
        log_error("dashboard: {}", dashboard.error().message);
        return 1;
    }
    if (config->dashboard.user.empty() && ::geteuid() == 0)
        log_warn("dashboard: running as root; set dashboard.user to an unprivileged user");
    while (!wait_for_stop(60000)) {
    }
    (*dashboard)->stop();
    return 0;
}

}  // namespace

std::shared_ptr<CollectorFlags> add_collector_commands(CLI::App& app) {
    auto f = std::make_shared<CollectorFlags>();
    auto* serve = app.add_subcommand(
        "serve",
        "Serve unique-domains.log, unique-ips.log, a summary and metrics to collectors "
        "over HTTPS (read-only, bearer token)");
    serve->add_option("--listen", f->listen, "ADDR:PORT (default 0.0.0.0:8443)");
    serve->add_option("--token-file", f->token_file, "file whose first line is the bearer token");
    serve->add_option("--tls-cert", f->tls_cert, "PEM certificate (chain)");
    serve->add_option("--tls-key", f->tls_key, "PEM private key");
    serve->add_flag("--plain-http", f->plain_http, "serve without TLS (explicitly insecure)");
    serve->add_option("--user", f->user,
                      "run as this unprivileged user once bound (read access to the files and "
                      "the ledger is all it needs)");
    serve->add_option("--output-dir", f->output_dir, "where the two files are");
    serve->add_option("--live-fd", f->live_fd, "")->group("");  // the agent's, see serve_child.h
    serve->add_option("--state-dir", f->state_dir, "the ledger (read-only, for the metrics)");
    serve->add_option("--config", f->config, "TOML config ([serve] table)")->capture_default_str();

    auto* collect =
        app.add_subcommand("collect",
                           "Fetch the two files from every host of the inventory, keep history, "
                           "analyse and alert");
    collect->add_option("--inventory", f->inventory, "hosts (TOML)")->capture_default_str();
    collect->add_option("--config", f->collector_config, "history, rules and alerts (TOML)")
        ->capture_default_str();
    collect->add_flag("--once", f->once, "one cycle, then exit");
    collect->add_option("--interval", f->interval, "time between cycles")->capture_default_str();
    collect->add_option("--parallel", f->parallel, "fetches at once")->capture_default_str();
    collect->add_option("--timeout", f->timeout, "per fetch attempt")->capture_default_str();
    collect->add_option("--retries", f->retries, "after a failed attempt")->capture_default_str();

    auto* report = app.add_subcommand("report", "Print open alerts and per-host summaries");
    report->add_option("--config", f->collector_config, "collector config (TOML)")
        ->capture_default_str();
    report
        ->add_option("--format", f->format,
                     "text, json (for scripts), or html (one self-contained page)")
        ->check(CLI::IsMember({"text", "json", "html"}))
        ->capture_default_str();

    auto* dashboard = app.add_subcommand(
        "dashboard", "Serve the fleet as web pages from the history ([dashboard] table)");
    dashboard->add_option("--config", f->collector_config, "collector config (TOML)")
        ->capture_default_str();
    dashboard->add_option("--add-user", f->add_user,
                          "add a login with a new token to the users file (printed once), "
                          "then exit");
    return f;
}

int run_collector_commands(CLI::App& app, const CollectorFlags& f) {
    if (CLI::App* sub = app.get_subcommand("serve"); sub->parsed()) return run_serve(sub, f);
    if (CLI::App* sub = app.get_subcommand("collect"); sub->parsed()) return run_collect(sub, f);
    if (CLI::App* sub = app.get_subcommand("report"); sub->parsed()) return run_report(sub, f);
    if (CLI::App* sub = app.get_subcommand("dashboard"); sub->parsed())
        return run_dashboard(sub, f);
    return -1;
}

}  // namespace em
