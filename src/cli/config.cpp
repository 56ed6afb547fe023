#include "cli/config.h"

#include <fstream>
#include <iterator>

#include <toml++/toml.h>

#include <fmt/core.h>

namespace em {

namespace {

std::string where(const std::string& path, const toml::node& n) {
    return fmt::format("{}:{}", path, n.source().begin.line);
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
        else
            r = Error{where(path, node) + ": unknown key " + key};
        if (!r) return r;
    }
    return {};
}

}  // namespace em
