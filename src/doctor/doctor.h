#pragma once
// `egress-monitor doctor`: checks one monitored host's set-up the way an operator would, and
// says what to fix. Each check reads what the product reads (the config, the resolver, the
// firewall's logging table, the ledger, the two files, the endpoint) and ends ok, warn (works,
// but look), fail (monitoring is broken or blind) or skip (does not apply to this mode).
// Read-only: nothing is changed, started or stopped.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace em {

struct DoctorCheck {
    enum class Status { ok, warn, fail, skip };
    std::string name;  // "resolver", "log rule", ...
    Status status = Status::ok;
    std::string detail;  // what was found
    std::string fix;     // what to do (fail and warn)
};

const char* doctor_status_name(DoctorCheck::Status s);  // "ok", "WARN", "FAIL", "skip"

/// cron: dnsmasq + kernel LOG lines + consolidate; agent: the live daemon.
enum class DoctorMode { cron, agent };

struct DoctorInput {
    DoctorMode mode = DoctorMode::cron;
    std::string config_path;
    std::string config_error;  // "" when the config loaded (or is absent and optional)
    std::string resolv_conf = "/etc/resolv.conf";
    std::string dnsmasq_log;
    std::string state_dir, output_dir;
    // The endpoint, when [serve] is configured: listen ADDR:PORT, token file, certificate.
    std::string serve_listen, serve_token_file, serve_cert;
    bool serve_plain_http = false;
    int64_t now = 0;  // Unix seconds
    /// Runs a command (argv) and says whether it succeeded: the log rule's check (`nft list
    /// table ...`). Tests give their own.
    std::function<bool(const std::vector<std::string>&)> command_succeeds;
};

/// The checks in the order an operator would look: config, resolver, dnsmasq's log, log
/// rule, ledger, files, endpoint.
std::vector<DoctorCheck> run_doctor(const DoctorInput& in);

/// The report: one line per check ("ok    resolver  /etc/resolv.conf asks 127.0.0.1 first"),
/// a "fix:" line under each warn and fail, and a last line with the counts.
std::string render_doctor(const std::vector<DoctorCheck>& checks);

/// The resolver check alone, on the text of resolv.conf: fine when the first nameserver is
/// the local dnsmasq (127.0.0.1 or ::1).
DoctorCheck check_resolver_text(const std::string& text, const std::string& path);

}  // namespace em
