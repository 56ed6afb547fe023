#include "cli/agent_cmd.h"

#include <filesystem>

#include "agent/agent.h"
#include "cli/config.h"
#include "common/duration.h"
#include "common/log.h"
#include "exporters/loki/loki.h"

namespace em {

struct AgentFlags {
    std::string source = "ebpf";
    std::string ebpf_cgroup;
    std::string output_dir = "/var/log/egress-monitor";
    std::string state_dir = "/var/lib/egress-monitor";
    std::string config = "/etc/egress-monitor/config.toml";
    std::string flush_interval = "5s";
    std::string events;
    std::string loki_url;
    std::vector<std::string> loki_labels;
    std::string pcap;
    bool no_state = false;
};

namespace {

// Defaults < config file < flags given on the command line.
Result<AgentSettings> settings_for(CLI::App* sub, const AgentFlags& f) {
    ConsolidateConfig cfg;
    if (auto r = load_config(f.config, sub->count("--config") > 0, cfg); !r) return r.error();
    AgentSettings s = cfg.agent;
    s.output_dir = cfg.output_dir;
    s.state_dir = cfg.state_dir;
    s.pipeline.max_ips_per_domain = static_cast<size_t>(cfg.max_ips_per_domain);
    s.max_names_per_domain = cfg.max_names_per_domain;
    s.lock_timeout_ms = cfg.lock_timeout_ms;
    s.max_domains = cfg.max_domains;
    if (cfg.serve_in_agent) s.serve = cfg.serve;
    s.max_ips = cfg.max_ips;
    auto given = [&](const char* flag) {
        return sub->get_option_no_throw(flag) && sub->count(flag) > 0;
    };
    if (given("--source")) s.source.source = f.source;
    if (given("--ebpf-cgroup")) s.source.ebpf_cgroup = f.ebpf_cgroup;
    if (given("--output-dir")) s.output_dir = f.output_dir;
    if (given("--state-dir")) s.state_dir = f.state_dir;
    if (given("--flush-interval")) {
        auto ms = parse_duration_ms(f.flush_interval);
        if (!ms) return Error{"--flush-interval: " + ms.error().message};
        s.flush_interval_ms = *ms;
    }
    if (given("--events")) s.events = f.events;
    if (given("--loki-url")) s.loki_url = f.loki_url;
    for (const auto& kv : f.loki_labels) {
        auto l = parse_loki_label(kv);
        if (!l) return Error{"--loki-label: " + l.error().message};
        s.loki_labels[l->first] = l->second;
    }
    if (f.no_state) s.state_dir.clear();
    for (std::string* p : {&s.output_dir, &s.state_dir})
        if (!p->empty()) *p = std::filesystem::absolute(*p).lexically_normal().string();
    return s;
}

void common_flags(CLI::App* sub, AgentFlags& f) {
    sub->add_option("--output-dir", f.output_dir, "where the two files are written")
        ->capture_default_str();
    sub->add_option("--state-dir", f.state_dir, "ledger")->capture_default_str();
    sub->add_option("--config", f.config, "TOML config (optional at its default path)")
        ->capture_default_str();
    sub->add_option("--events", f.events, "write JSON event lines to PATH, or - for stdout");
    sub->add_option("--loki-url", f.loki_url, "push event lines to Loki at URL");
    sub->add_option("--loki-label", f.loki_labels, "Loki stream label K=V (repeatable)");
}

}  // namespace

std::shared_ptr<AgentFlags> add_agent_commands(CLI::App& app) {
    auto f = std::make_shared<AgentFlags>();
    auto* agent = app.add_subcommand(
        "agent",
        "Watch DNS and new outbound flows live and keep unique-domains.log and unique-ips.log "
        "current (runs in the foreground; SIGTERM stops, SIGHUP reloads)");
    agent
        ->add_option("--source", f->source,
                     "ebpf (falls back to nflog where it cannot load), nflog, conntrack or "
                     "pcap:IFACE")
        ->capture_default_str();
    agent->add_option("--ebpf-cgroup", f->ebpf_cgroup,
                      "cgroup v2 directory the eBPF programs attach to (default: the root)");
    agent
        ->add_option("--flush-interval", f->flush_interval,
                     "how often observations are committed and the files rewritten")
        ->capture_default_str();
    common_flags(agent, *f);
    auto* replay = app.add_subcommand(
        "replay", "Run a pcap capture through the agent's pipeline (forensics, tests)");
    replay->add_option("FILE", f->pcap, "capture file (pcap or pcapng)")->required();
    replay->add_flag("--no-state", f->no_state,
                     "count nothing: only write events (no ledger, no files)");
    common_flags(replay, *f);
    return f;
}

int run_agent_commands(CLI::App& app, const AgentFlags& f) {
    if (CLI::App* sub = app.get_subcommand("agent"); sub->parsed()) {
        auto s = settings_for(sub, f);
        if (!s) {
            log_error("agent: {}", s.error().message);
            return 2;
        }
        auto r = run_agent(*s, [sub, &f] { return settings_for(sub, f); });
        if (!r) {
            log_error("agent: {}", r.error().message);
            return 1;
        }
        return 0;
    }
    if (CLI::App* sub = app.get_subcommand("replay"); sub->parsed()) {
        auto s = settings_for(sub, f);
        if (!s) {
            log_error("replay: {}", s.error().message);
            return 2;
        }
        auto r = run_replay(f.pcap, *s);
        if (!r) {
            log_error("replay: {}", r.error().message);
            return 1;
        }
        if (r->already_replayed) {
            log_warn("replay: {} was already counted into {}; nothing counted again", f.pcap,
                     s->state_dir);
            return 0;
        }
        log_info("replay: {} packets: {} flows, {} DNS queries, {} DNS responses", r->packets,
                 r->flows, r->queries, r->responses);
        return 0;
    }
    return -1;
}

}  // namespace em
