#include "cli/config.h"

#include <fstream>
#include <iterator>

#include <toml++/toml.h>

#include <fmt/core.h>

#include "common/duration.h"

namespace em {

namespace {

std::string where(const std::string& path, const toml::node& n) {
    return fmt::format("{}:{}", path, n.source().begin.line);
}

Result<void> parse_agent_table(const toml::table& t, const std::string& path, AgentSettings& a) {
    for (auto&& entry : t) {
        const std::string key(entry.first.str());
        const toml::node& node = entry.second;
        auto text = [&](std::string& out) -> Result<void> {
            const auto* v = node.as_string();
            if (!v) return Error{where(path, node) + ": agent." + key + " must be a string"};
            out = v->get();
            return {};
        };
        auto integer = [&](auto& out, int64_t lo, int64_t hi) -> Result<void> {
            const auto* v = node.as_integer();
            if (!v || v->get() < lo || v->get() > hi)
                return Error{fmt::format("{}: agent.{} must be an integer in [{}, {}]",
                                         where(path, node), key, lo, hi)};
            out = static_cast<std::remove_reference_t<decltype(out)>>(v->get());
            return {};
        };
        Result<void> r;
        std::string s;
        if (key == "source") {
            r = text(a.source.source);
        } else if (key == "flush_interval") {
            r = text(s);
            if (r) {
                auto ms = parse_duration_ms(s);
                if (!ms)
                    return Error{where(path, node) +
                                 ": agent.flush_interval: " + ms.error().message};
                a.flush_interval_ms = *ms;
            }
        } else if (key == "events") {
            r = text(a.events);
        } else if (key == "loki_url") {
            r = text(a.loki_url);
        } else if (key == "loki_labels") {
            const auto* lt = node.as_table();
            if (!lt) return Error{where(path, node) + ": agent.loki_labels must be a table"};
            for (auto&& l : *lt) {
                const auto* v = l.second.as_string();
                if (!v)
                    return Error{where(path, l.second) + ": agent.loki_labels values are strings"};
                a.loki_labels[std::string(l.first.str())] = v->get();
            }
        } else if (key == "nflog_group") {
            r = integer(a.source.nflog_group, 0, 65535);
        } else if (key == "firewall_backend") {
            r = text(a.source.firewall_backend);
            if (r && a.source.firewall_backend != "auto" && a.source.firewall_backend != "nft" &&
                a.source.firewall_backend != "iptables")
                r = Error{where(path, node) + ": agent.firewall_backend: auto, nft or iptables"};
        } else if (key == "ebpf_cgroup") {
            r = text(a.source.ebpf_cgroup);
        } else if (key == "ebpf_ring_mb") {
            size_t mb = 0;
            r = integer(mb, 1, 1024);
            if (r && (mb & (mb - 1)))
                r = Error{where(path, node) + ": agent.ebpf_ring_mb must be a power of two"};
            a.source.ebpf_ring_bytes = mb << 20;
        } else if (key == "rcvbuf_bytes") {
            r = integer(a.source.rcvbuf, 65536, int64_t{1} << 30);
        } else if (key == "cache_entries") {
            r = integer(a.pipeline.cache_entries, 0, 100000000);
        } else if (key == "min_ttl") {
            r = integer(a.pipeline.min_ttl_s, 0, 86400 * 7);
        } else if (key == "max_ttl") {
            r = integer(a.pipeline.max_ttl_s, 1, 86400 * 7);
        } else if (key == "max_batch_keys") {
            r = integer(a.pipeline.max_batch_keys, 1000, 100000000);
        } else if (key == "memory_limit_mb") {
            r = integer(a.memory_limit_mb, 0, 1 << 20);
        } else if (key == "forward_window_ms") {
            r = integer(a.pipeline.forward_window_ms, 0, 600000);
        } else if (key == "attribute_processes") {
            const auto* b = node.as_boolean();
            if (!b)
                return Error{where(path, node) +
                             ": agent.attribute_processes must be true or false"};
            a.attribute_processes = b->get();
        } else {
            r = Error{where(path, node) + ": unknown key agent." + key};
        }
        if (!r) return r;
    }
    return {};
}

Result<void> parse_serve_table(const toml::table& t, const std::string& path,
                               ConsolidateConfig& c) {
    for (auto&& entry : t) {
        const std::string key(entry.first.str());
        const toml::node& node = entry.second;
        auto text = [&](std::string& out) -> Result<void> {
            const auto* v = node.as_string();
            if (!v) return Error{where(path, node) + ": serve." + key + " must be a string"};
            out = v->get();
            return {};
        };
        auto boolean = [&](bool& out) -> Result<void> {
            const auto* v = node.as_boolean();
            if (!v) return Error{where(path, node) + ": serve." + key + " must be true or false"};
            out = v->get();
            return {};
        };
        Result<void> r;
        if (key == "listen")
            r = text(c.serve.listen);
        else if (key == "token_file")
            r = text(c.serve.token_file);
        else if (key == "tls_cert")
            r = text(c.serve.tls_cert);
        else if (key == "tls_key")
            r = text(c.serve.tls_key);
        else if (key == "plain_http")
            r = boolean(c.serve.plain_http);
        else if (key == "user")
            r = text(c.serve.user);
        else if (key == "in_agent")
            r = boolean(c.serve_in_agent);
        else
            r = Error{where(path, node) + ": unknown key serve." + key};
        if (!r) return r;
    }
    return {};
}

}  // namespace

Result<void> load_config(const std::string& path, bool required, ConsolidateConfig& cfg) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (errno == ENOENT && !required) return {};
        return errno_error("cannot read config " + path);
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.size() > (1 << 20)) return Error{path + ": config larger than 1 MiB"};
    return parse_config(text, path, cfg);
}

Result<void> parse_config(std::string_view text, const std::string& path, ConsolidateConfig& cfg) {
    toml::table t;
    try {
        t = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        return Error{fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                 e.source().begin.column, e.description())};
    }
    for (auto&& entry : t) {
        // clang 14 cannot capture structured bindings in lambdas.
        const std::string key(entry.first.str());
        const toml::node& node = entry.second;
        auto text = [&](std::string& out) -> Result<void> {
            const auto* v = node.as_string();
            if (!v) return Error{where(path, node) + ": " + key + " must be a string"};
            out = v->get();
            return {};
        };
        auto integer = [&](int& out, int lo, int hi) -> Result<void> {
            // as_integer, not value<int64_t>: toml++ 3.3 converts floats to integers without
            // a range check (undefined behaviour found by the config fuzzer).
            const auto* v = node.as_integer();
            if (!v || v->get() < lo || v->get() > hi)
                return Error{fmt::format("{}: {} must be an integer in [{}, {}]", where(path, node),
                                         key, lo, hi)};
            out = static_cast<int>(v->get());
            return {};
        };
        Result<void> r;
        if (key == "dnsmasq_log")
            r = text(cfg.dnsmasq_log);
        else if (key == "kernel_log")
            r = text(cfg.kernel_log);
        else if (key == "log_prefix")
            r = text(cfg.log_prefix);
        else if (key == "state_dir")
            r = text(cfg.state_dir);
        else if (key == "output_dir")
            r = text(cfg.output_dir);
        else if (key == "journal_directory")
            r = text(cfg.journal_directory);
        else if (key == "kmsg_device")
            r = text(cfg.kmsg_device);
        else if (key == "lock_timeout_ms")
            r = integer(cfg.lock_timeout_ms, 0, 3600000);
        else if (key == "max_ips_per_domain")
            r = integer(cfg.max_ips_per_domain, 1, 4096);
        else if (key == "threads")
            r = integer(cfg.threads, 1, 64);
        else if (key == "max_domains")
            r = integer(cfg.max_domains, 0, 100000000);
        else if (key == "max_ips")
            r = integer(cfg.max_ips, 0, 100000000);
        else if (key == "max_names_per_domain")
            r = integer(cfg.max_names_per_domain, 0, 100000000);
        else if (key == "agent" && node.is_table())
            r = parse_agent_table(*node.as_table(), path, cfg.agent);
        else if (key == "serve" && node.is_table())
            r = parse_serve_table(*node.as_table(), path, cfg);
        else
            r = Error{where(path, node) + ": unknown key " + key};
        if (!r) return r;
    }
    return {};
}

}  // namespace em
