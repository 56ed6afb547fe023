// The agent/consolidate config file (cli/config.h), read through common/toml_section.h.
#include "cli/config.h"

#include <gtest/gtest.h>

namespace em {
namespace {

std::string error_of(const std::string& text) {
    ConsolidateConfig c;
    auto r = parse_config(text, "c.toml", c);
    return r ? "" : r.error().message;
}

TEST(ConfigFile, ReadsTopLevelAgentAndServe) {
    ConsolidateConfig c;
    auto r = parse_config(R"(
dnsmasq_log = "/var/log/d.log"
threads = 4
[agent]
flush_interval = "2s"
nflog_group = 7
ebpf_ring_mb = 4
loki_labels = { host = "h1" }
firewall_backend = "nft"
attribute_processes = false
[serve]
listen = "127.0.0.1:9100"
in_agent = true
)",
                          "c.toml", c);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(c.dnsmasq_log, "/var/log/d.log");
    EXPECT_EQ(c.threads, 4);
    EXPECT_EQ(c.agent.flush_interval_ms, 2000);
    EXPECT_EQ(c.agent.source.nflog_group, 7);
    EXPECT_EQ(c.agent.source.ebpf_ring_bytes, size_t{4} << 20);
    EXPECT_EQ(c.agent.loki_labels.at("host"), "h1");
    EXPECT_EQ(c.agent.source.firewall_backend, "nft");
    EXPECT_FALSE(c.agent.attribute_processes);
    EXPECT_EQ(c.serve.listen, "127.0.0.1:9100");
    EXPECT_TRUE(c.serve_in_agent);

    ConsolidateConfig d;  // absent keys keep the defaults
    ASSERT_TRUE(parse_config("", "c.toml", d));
    EXPECT_EQ(d.agent.source.ebpf_ring_bytes, ConsolidateConfig{}.agent.source.ebpf_ring_bytes);
    EXPECT_EQ(d.threads, ConsolidateConfig{}.threads);
}

TEST(ConfigFile, ErrorsNameFileLineAndKey) {
    EXPECT_EQ(error_of("threads = 65\n"), "c.toml:1: threads must be an integer in [1, 64]");
    EXPECT_EQ(error_of("\nstate_dir = 3\n"), "c.toml:2: state_dir must be a string");
    EXPECT_EQ(error_of("colour = 1\n"), "c.toml:1: unknown key colour");
    EXPECT_EQ(error_of("[agent]\nsauce = 1\n"), "c.toml:2: unknown key agent.sauce");
    EXPECT_EQ(error_of("[agent]\nflush_interval = \"5d\"\n"),
              "c.toml:2: agent.flush_interval: bad duration \"5d\" (e.g. 5s, 500ms, 2m; at most "
              "24h)");
    EXPECT_EQ(error_of("[agent]\nebpf_ring_mb = 3\n"),
              "c.toml:2: agent.ebpf_ring_mb must be a power of two");
    EXPECT_EQ(error_of("[agent]\nfirewall_backend = \"pf\"\n"),
              "c.toml:2: agent.firewall_backend: auto, nft or iptables");
    EXPECT_EQ(error_of("[agent]\nloki_labels = { a = 1 }\n"),
              "c.toml:2: agent.loki_labels values are strings");
    EXPECT_EQ(error_of("[serve]\nplain_http = \"yes\"\n"),
              "c.toml:2: serve.plain_http must be true or false");
    EXPECT_EQ(error_of("agent = 1\n"), "c.toml:1: agent must be a table");
    EXPECT_EQ(error_of("[agent\n").rfind("c.toml:1:", 0), 0u);
}

TEST(ConfigFile, LoadNamesTheFileAndMissingIsFineUnlessRequired) {
    ConsolidateConfig c;
    EXPECT_TRUE(load_config("/nonexistent/em-config.toml", false, c));
    auto r = load_config("/nonexistent/em-config.toml", true, c);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message.rfind("cannot read config /nonexistent/em-config.toml: ", 0), 0u)
        << r.error().message;
}

}  // namespace
}  // namespace em
