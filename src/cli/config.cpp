#include "cli/config.h"

#include "common/files.h"
#include "common/toml_section.h"

namespace em {

namespace {

constexpr size_t kMaxConfigBytes = size_t{1} << 20;

Result<void> parse_agent_table(const toml::table* t, const std::string& path, AgentSettings& a) {
    TomlSection s(t, "agent", path);
    s.text("source", a.source.source);
    s.duration_ms("flush_interval", a.flush_interval_ms);
    s.text("events", a.events);
    s.text("loki_url", a.loki_url);
    s.string_table("loki_labels", a.loki_labels);
    s.integer("nflog_group", a.source.nflog_group, 0, 65535);
    const std::string& fw = a.source.firewall_backend;
    if (s.text("firewall_backend", a.source.firewall_backend) && fw != "auto" && fw != "nft" &&
        fw != "iptables")
        s.fail_at(*s.find("firewall_backend"), "agent.firewall_backend: auto, nft or iptables");
    size_t ring_mb = 0;  // stays 0 when absent
    if (s.integer("ebpf_ring_mb", ring_mb, 1, 1024) && ring_mb != 0) {
        if (ring_mb & (ring_mb - 1))
            s.fail("ebpf_ring_mb", "must be a power of two");
        else
            a.source.ebpf_ring_bytes = ring_mb << 20;
    }
    s.integer("rcvbuf_bytes", a.source.rcvbuf, 65536, int64_t{1} << 30);
    s.integer("cache_entries", a.pipeline.cache_entries, 0, 100000000);
    s.integer("min_ttl", a.pipeline.min_ttl_s, 0, 86400 * 7);
    s.integer("max_ttl", a.pipeline.max_ttl_s, 1, 86400 * 7);
    s.integer("max_batch_keys", a.pipeline.max_batch_keys, 1000, 100000000);
    s.integer("memory_limit_mb", a.memory_limit_mb, 0, 1 << 20);
    s.integer("forward_window_ms", a.pipeline.forward_window_ms, 0, 600000);
    s.boolean("attribute_processes", a.attribute_processes);
    return s.finish();
}

Result<void> parse_serve_table(const toml::table* t, const std::string& path,
                               ConsolidateConfig& c) {
    TomlSection s(t, "serve", path);
    s.text("listen", c.serve.listen);
    s.text("token_file", c.serve.token_file);
    s.text("tls_cert", c.serve.tls_cert);
    s.text("tls_key", c.serve.tls_key);
    s.boolean("plain_http", c.serve.plain_http);
    s.text("user", c.serve.user);
    s.boolean("in_agent", c.serve_in_agent);
    return s.finish();
}

}  // namespace

Result<void> load_config(const std::string& path, bool required, ConsolidateConfig& cfg) {
    auto text = read_file_if_present(path, kMaxConfigBytes, "config", required);
    if (!text) return text.error();
    if (!*text) return {};
    return parse_config(**text, path, cfg);
}

Result<void> parse_config(std::string_view text, const std::string& path, ConsolidateConfig& cfg) {
    auto doc = parse_toml(text, path);
    if (!doc) return doc.error();
    TomlSection s(&*doc, "", path);
    s.text("dnsmasq_log", cfg.dnsmasq_log);
    s.text("kernel_log", cfg.kernel_log);
    s.text("log_prefix", cfg.log_prefix);
    s.text("state_dir", cfg.state_dir);
    s.text("output_dir", cfg.output_dir);
    s.text("journal_directory", cfg.journal_directory);
    s.text("kmsg_device", cfg.kmsg_device);
    s.integer("lock_timeout_ms", cfg.lock_timeout_ms, 0, 3600000);
    s.integer("max_ips_per_domain", cfg.max_ips_per_domain, 1, 4096);
    s.integer("threads", cfg.threads, 1, 64);
    s.integer("max_domains", cfg.max_domains, 0, 100000000);
    s.integer("max_ips", cfg.max_ips, 0, 100000000);
    s.integer("max_names_per_domain", cfg.max_names_per_domain, 0, 100000000);
    const toml::table* agent = s.table("agent");
    const toml::table* serve = s.table("serve");
    if (auto r = s.finish(); !r) return r;
    if (auto r = parse_agent_table(agent, path, cfg.agent); !r) return r;
    return parse_serve_table(serve, path, cfg);
}

}  // namespace em
