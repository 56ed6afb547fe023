#include "cli/config.h"

#include <fmt/core.h>

#include "common/duration.h"
#include "common/files.h"
#include "common/toml/toml_section.h"

namespace em {

namespace {

void parse_agent_table(TomlSection& s, AgentSettings& a) {
    std::string flush;
    s.text("source", a.source.source).text("flush_interval", flush);
    if (const toml::node* n = s.node("flush_interval"); n && s.ok()) {
        auto ms = parse_duration_ms(flush);
        if (!ms)
            s.fail(Error{s.where(*n) + ": agent.flush_interval: " + ms.error().message});
        else
            a.flush_interval_ms = *ms;
    }
    s.text("events", a.events).text("loki_url", a.loki_url);
    if (const toml::table* labels = s.table("loki_labels"); labels && s.ok()) {
        for (auto&& l : *labels) {
            const auto* v = l.second.as_string();
            if (!v) {
                s.fail(Error{s.where(l.second) + ": agent.loki_labels values are strings"});
                break;
            }
            a.loki_labels[std::string(l.first.str())] = v->get();
        }
    }
    s.integer("nflog_group", a.source.nflog_group, 0, 65535);
    s.text("firewall_backend", a.source.firewall_backend);
    if (const toml::node* n = s.node("firewall_backend"); n && s.ok()) {
        const std::string& fb = a.source.firewall_backend;
        if (fb != "auto" && fb != "nft" && fb != "iptables")
            s.fail(Error{s.where(*n) + ": agent.firewall_backend: auto, nft or iptables"});
    }
    s.text("ebpf_cgroup", a.source.ebpf_cgroup);
    size_t mb = 0;
    s.integer("ebpf_ring_mb", mb, 1, 1024);
    if (const toml::node* n = s.node("ebpf_ring_mb"); n && s.ok()) {
        if (mb & (mb - 1))
            s.fail(Error{s.where(*n) + ": agent.ebpf_ring_mb must be a power of two"});
        else
            a.source.ebpf_ring_bytes = mb << 20;
    }
    s.boolean("ebpf_first_packets", a.source.ebpf_first_packets);
    s.integer("rcvbuf_bytes", a.source.rcvbuf, 65536, int64_t{1} << 30)
        .integer("cache_entries", a.pipeline.cache_entries, 0, 100000000)
        .integer("min_ttl", a.pipeline.min_ttl_s, 0, 86400 * 7)
        .integer("max_ttl", a.pipeline.max_ttl_s, 1, 86400 * 7)
        .integer("max_batch_keys", a.pipeline.max_batch_keys, 1000, 100000000)
        .integer("memory_limit_mb", a.memory_limit_mb, 0, 1 << 20)
        .integer("forward_window_ms", a.pipeline.forward_window_ms, 0, 600000)
        .boolean("attribute_processes", a.attribute_processes);
}

void parse_serve_table(TomlSection& s, ConsolidateConfig& c) {
    s.text("listen", c.serve.listen)
        .text("token_file", c.serve.token_file)
        .text("tls_cert", c.serve.tls_cert)
        .text("tls_key", c.serve.tls_key)
        .boolean("plain_http", c.serve.plain_http)
        .text("user", c.serve.user)
        .boolean("in_agent", c.serve_in_agent);
}

}  // namespace

Result<void> load_config(const std::string& path, bool required, ConsolidateConfig& cfg) {
    const ReadErrors errors{"cannot read config " + path, path + ": config larger than 1 MiB"};
    auto text = read_file_if_present(path, 1 << 20, errors);
    if (!text) return text.error();
    if (!*text) {
        if (required) return errno_error(errors.cannot_read, ENOENT);
        return {};
    }
    return parse_config(**text, path, cfg);
}

Result<void> parse_config(std::string_view text, const std::string& path, ConsolidateConfig& cfg) {
    auto doc = parse_toml(text, path);
    if (!doc) return doc.error();
    TomlSection top(&*doc, "", path);
    top.text("dnsmasq_log", cfg.dnsmasq_log)
        .text("kernel_log", cfg.kernel_log)
        .text("log_prefix", cfg.log_prefix)
        .text("state_dir", cfg.state_dir)
        .text("output_dir", cfg.output_dir)
        .text("journal_directory", cfg.journal_directory)
        .text("kmsg_device", cfg.kmsg_device)
        .integer("lock_timeout_ms", cfg.lock_timeout_ms, 0, 3600000)
        .integer("max_ips_per_domain", cfg.max_ips_per_domain, 1, 4096)
        .integer("threads", cfg.threads, 1, 64)
        .integer("max_domains", cfg.max_domains, 0, 100000000)
        .integer("max_ips", cfg.max_ips, 0, 100000000)
        .integer("max_names_per_domain", cfg.max_names_per_domain, 0, 100000000);
    if (auto r = top.status(); !r) return r;
    // [agent] and [serve] are sections; as any other value they are unknown keys.
    if (const toml::node* n = doc->get("agent"); n && n->is_table()) {
        top.ignore("agent");
        TomlSection agent(n->as_table(), "agent", path);
        parse_agent_table(agent, cfg.agent);
        if (auto r = agent.finish(); !r) return r;
    }
    if (const toml::node* n = doc->get("serve"); n && n->is_table()) {
        top.ignore("serve");
        TomlSection serve(n->as_table(), "serve", path);
        parse_serve_table(serve, cfg);
        if (auto r = serve.finish(); !r) return r;
    }
    return top.finish();
}

}  // namespace em
