#include "cli/rules_cmd.h"

#include <cstdio>
#include <string>
#include <vector>

#include "common/duration.h"
#include "common/log.h"
#include "common/time.h"
#include "policy/policy.h"

namespace em {

struct RulesFlags {
    std::string state_dir = "/var/lib/egress-monitor";
    std::string files;
    std::string format = "nft";
    int64_t min_count = 1;
    std::string since;
    std::string table = "egress_monitor_allow";
    bool log_only = false;
    std::vector<std::string> processes, users, containers;
};

namespace {

// "2026-11-22T11:35:35Z" (any RFC 3339 stamp), or a duration back from now ("7d", "12h").
Result<int64_t> parse_since(const std::string& text, int64_t now) {
    if (auto t = parse_rfc3339(text)) return *t;
    std::string d = text;
    int64_t unit_ms = 0;
    if (!d.empty() && d.back() == 'd') {
        d.pop_back();
        unit_ms = 86400000;
    }
    if (unit_ms) {
        char* end = nullptr;
        long long n = std::strtoll(d.c_str(), &end, 10);
        if (d.empty() || *end || n < 0) return Error{"--since: bad value '" + text + "'"};
        return now - n * (unit_ms / 1000);
    }
    auto ms = parse_duration_ms(text);
    if (!ms) return Error{"--since: '" + text + "' is neither an RFC 3339 time nor a duration"};
    return now - *ms / 1000;
}

}  // namespace

std::shared_ptr<RulesFlags> add_rules_command(CLI::App& app) {
    auto f = std::make_shared<RulesFlags>();
    auto* sub = app.add_subcommand(
        "rules", "Print firewall rules that accept exactly the egress observed (audit -> policy)");
    sub->add_option("--state-dir", f->state_dir, "the ledger to read")->capture_default_str();
    sub->add_option("--files", f->files,
                    "read unique-domains.log and unique-ips.log of this directory instead");
    sub->add_option("--format", f->format,
                    "nft, iptables or ip6tables (addresses), or enforce (host names: an "
                    "`enforce` config)")
        ->check(CLI::IsMember({"nft", "iptables", "ip6tables", "enforce"}))
        ->capture_default_str();
    sub->add_option("--min-count", f->min_count, "leave out addresses with fewer flows")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 62))
        ->capture_default_str();
    sub->add_option("--since", f->since,
                    "leave out addresses last seen before this (RFC 3339 time, or 7d, 12h, 30m)");
    sub->add_option("--table", f->table, "nft table / iptables chain / enforce filter name")
        ->capture_default_str();
    sub->add_flag("--log-only", f->log_only,
                  "log what was not observed instead of dropping it (to try a policy first)");
    sub->add_option("--process", f->processes,
                    "only destinations of this executable (path or file name; repeatable)")
        ->allow_extra_args(false);
    sub->add_option("--user", f->users, "only destinations of processes of this user (repeatable)")
        ->allow_extra_args(false);
    sub->add_option("--container", f->containers,
                    "only destinations of this container (id or prefix, or host; repeatable)")
        ->allow_extra_args(false);
    return f;
}

int run_rules_command(CLI::App& app, const RulesFlags& f) {
    CLI::App* sub = app.get_subcommand("rules");
    if (!sub->parsed()) return -1;
    PolicyOptions opt;
    opt.format = f.format == "nft"        ? PolicyFormat::nft
                 : f.format == "iptables" ? PolicyFormat::iptables
                 : f.format == "enforce"  ? PolicyFormat::enforce
                                          : PolicyFormat::ip6tables;
    opt.min_count = f.min_count;
    opt.table = f.table;
    opt.log_only = f.log_only;
    opt.processes = f.processes;
    opt.users = f.users;
    opt.containers = f.containers;
    if (!f.since.empty()) {
        auto since = parse_since(f.since, unix_now());
        if (!since) {
            log_error("rules: {}", since.error().message);
            return 2;
        }
        opt.since = *since;
    }
    auto in =
        f.files.empty() ? load_policy_from_ledger(f.state_dir) : load_policy_from_files(f.files);
    if (!in) {
        log_error("rules: {}", in.error().message);
        return 1;
    }
    auto text = render_policy(*in, opt);
    if (!text) {
        log_error("rules: {}", text.error().message);
        return 2;
    }
    std::fwrite(text->data(), 1, text->size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace em
