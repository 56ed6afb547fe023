// The agent/serve config file (cli/config.h): values read, and each mistake named with its
// file, line and key.
#include "cli/config.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace em {
namespace {

TEST(ConfigFile, ReadsTopLevelAgentAndServeValues) {
    ConsolidateConfig c;
    auto r = parse_config(
        "threads = 4\nstate_dir = \"/s\"\n"
        "[agent]\nflush_interval = \"2s\"\nebpf_ring_mb = 4\nnflog_group = 7\n"
        "firewall_backend = \"nft\"\nloki_labels = { env = \"prod\" }\n"
        "attribute_processes = false\nebpf_first_packets = false\n"
        "[serve]\nlisten = \"127.0.0.1:9000\"\nplain_http = true\nin_agent = true\n",
        "c.toml", c);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(c.threads, 4);
    EXPECT_EQ(c.state_dir, "/s");
    EXPECT_EQ(c.agent.flush_interval_ms, 2000);
    EXPECT_EQ(c.agent.source.ebpf_ring_bytes, size_t{4} << 20);
    EXPECT_EQ(c.agent.source.nflog_group, 7);
    EXPECT_EQ(c.agent.source.firewall_backend, "nft");
    EXPECT_EQ(c.agent.loki_labels.at("env"), "prod");
    EXPECT_FALSE(c.agent.attribute_processes);
    EXPECT_FALSE(c.agent.source.ebpf_first_packets);
    EXPECT_EQ(c.serve.listen, "127.0.0.1:9000");
    EXPECT_TRUE(c.serve.plain_http);
    EXPECT_TRUE(c.serve_in_agent);
}

TEST(ConfigFile, MistakesNameFileLineAndKey) {
    const std::pair<const char*, const char*> cases[] = {
        {"threads = 0\n", "c.toml:1: threads must be an integer in [1, 64]"},
        {"threads = 2.0\n", "c.toml:1: threads must be an integer in [1, 64]"},
        {"state_dir = 1\n", "c.toml:1: state_dir must be a string"},
        {"bogus = 1\n", "c.toml:1: unknown key bogus"},
        {"agent = 3\n", "c.toml:1: unknown key agent"},
        {"[agent]\nnflog_group = 70000\n",
         "c.toml:2: agent.nflog_group must be an integer in [0, 65535]"},
        {"[agent]\nebpf_ring_mb = 3\n", "c.toml:2: agent.ebpf_ring_mb must be a power of two"},
        {"[agent]\nfirewall_backend = \"pf\"\n",
         "c.toml:2: agent.firewall_backend: auto, nft or iptables"},
        {"[agent]\nloki_labels = 1\n", "c.toml:2: agent.loki_labels must be a table"},
        {"[agent]\nloki_labels = { a = 1 }\n", "c.toml:2: agent.loki_labels values are strings"},
        {"[agent]\nattribute_processes = 1\n",
         "c.toml:2: agent.attribute_processes must be true or false"},
        {"[agent]\ncolour = 1\n", "c.toml:2: unknown key agent.colour"},
        {"[serve]\nplain_http = 1\n", "c.toml:2: serve.plain_http must be true or false"},
        {"[serve]\nlisten = 1\n", "c.toml:2: serve.listen must be a string"},
        {"[serve]\nport = 1\n", "c.toml:2: unknown key serve.port"},
    };
    for (const auto& [text, want] : cases) {
        ConsolidateConfig c;
        auto r = parse_config(text, "c.toml", c);
        ASSERT_FALSE(r) << text;
        EXPECT_EQ(r.error().message, want) << text;
    }
    ConsolidateConfig c;
    auto r = parse_config("[agent]\nflush_interval = \"soon\"\n", "c.toml", c);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message.rfind("c.toml:2: agent.flush_interval: ", 0), 0u)
        << r.error().message;
}

TEST(ConfigFile, MissingFileIsFineUnlessRequired) {
    ConsolidateConfig c;
    EXPECT_TRUE(load_config("/nonexistent/em.toml", false, c));
    auto r = load_config("/nonexistent/em.toml", true, c);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message,
              "cannot read config /nonexistent/em.toml: No such file or directory");
}

}  // namespace
}  // namespace em
