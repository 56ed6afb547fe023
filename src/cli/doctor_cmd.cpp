#include "cli/doctor_cmd.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "cli/config.h"
#include "common/files.h"
#include "common/process.h"
#include "common/time.h"
#include "doctor/doctor.h"

namespace em {

struct DoctorFlags {
    std::string config = "/etc/egress-monitor/config.toml";
    std::string mode = "auto";
    std::string manifest = "/var/lib/egress-monitor/install/manifest";
    std::string resolv_conf = "/etc/resolv.conf";
};

namespace {

// install.sh's record of the mode: its "mode cron" or "mode agent" line.
std::string installed_mode(const std::string& manifest) {
    auto text = read_file_if_present(manifest, 1 << 20,
                                     {"cannot read " + manifest, manifest + ": too large"});
    if (!text || !*text) return "";
    std::string_view rest = **text;
    while (!rest.empty()) {
        size_t nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        if (line == "mode cron" || line == "mode agent") return std::string(line.substr(5));
    }
    return "";
}

}  // namespace

std::shared_ptr<DoctorFlags> add_doctor_command(CLI::App& app) {
    auto f = std::make_shared<DoctorFlags>();
    auto* sub = app.add_subcommand(
        "doctor",
        "Check this host's set-up (config, resolver, log rule, ledger, files, endpoint) and say "
        "what to fix");
    sub->add_option("--config", f->config, "the config to check")->capture_default_str();
    sub->add_option("--mode", f->mode,
                    "cron or agent; auto: as install.sh recorded it (cron when it did not)")
        ->check(CLI::IsMember({"auto", "cron", "agent"}))
        ->capture_default_str();
    sub->add_option("--resolv-conf", f->resolv_conf, "the resolver configuration to check")
        ->capture_default_str();
    return f;
}

int run_doctor_command(CLI::App& app, const DoctorFlags& f) {
    CLI::App* sub = app.get_subcommand("doctor");
    if (!sub->parsed()) return -1;
    DoctorInput in;
    std::string mode = f.mode;
    if (mode == "auto") mode = installed_mode(f.manifest);
    const char* how = f.mode != "auto" ? ""
                      : mode.empty()   ? " (no install.sh record: cron assumed)"
                                       : " (as install.sh recorded it)";
    in.mode = mode == "agent" ? DoctorMode::agent : DoctorMode::cron;
    in.resolv_conf = f.resolv_conf;
    ConsolidateConfig cfg;
    in.config_path = f.config;
    if (auto r = load_config(f.config, false, cfg); !r) in.config_error = r.error().message;
    in.dnsmasq_log = cfg.dnsmasq_log;
    in.state_dir = cfg.state_dir;
    in.output_dir = cfg.output_dir;
    if (!cfg.serve.token_file.empty()) {
        in.serve_listen = cfg.serve.listen;
        in.serve_token_file = cfg.serve.token_file;
        in.serve_cert = cfg.serve.tls_cert;
        in.serve_plain_http = cfg.serve.plain_http;
    }
    in.now = unix_now();
    if (::geteuid() == 0)
        in.command_succeeds = [](const std::vector<std::string>& argv) {
            if (find_program(argv[0]).empty()) return false;
            CommandLimits limits;
            limits.timeout_ms = 5000;
            limits.max_stdout = 1 << 20;
            auto r = run_command_bounded(argv, limits);
            return r && r->success();
        };
    std::printf("egress-monitor doctor: %s mode%s\n",
                in.mode == DoctorMode::agent ? "agent" : "cron", how);
    const std::vector<DoctorCheck> checks = run_doctor(in);
    std::string report = render_doctor(checks);
    std::fwrite(report.data(), 1, report.size(), stdout);
    std::fflush(stdout);
    for (const DoctorCheck& c : checks)
        if (c.status == DoctorCheck::Status::fail) return 1;
    return 0;
}

}  // namespace em
