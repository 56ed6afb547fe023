#include "policy/policy.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "enforce/enforce_config.h"

namespace em {

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

PolicyInput sample() {
    PolicyInput in;
    in.source = "test";
    in.domains = {
        {"api.example.test", 5, 1000, {ip("192.0.2.10"), ip("192.0.2.11"), ip("2001:db8::10")}},
        {"cdn.example.test", 2, 1000, {ip("192.0.2.11")}},
        {"gone.example.test", 1, 1000, {ip("192.0.2.99")}},  // never connected to
    };
    in.ips = {
        {ip("192.0.2.10"), 3, 1000, {{6, 443, 3}}},
        {ip("192.0.2.11"), 1, 500, {{6, 443, 1}, {6, 80, 1}}},
        {ip("198.51.100.1"), 4, 1000, {{17, 53, 3}, {6, 53, 1}}},
        {ip("203.0.113.7"), 2, 1000, {{6, 22, 1}, {6, 0, 1}}},  // port 0: "other ports"
        {ip("127.0.0.1"), 9, 1000, {}},
        {ip("2001:db8::10"), 1, 1000, {{6, 443, 1}}},
        {ip("2001:db8::99"), 1, 1000, {}},  // no ports known
    };
    return in;
}

}  // namespace

TEST(Policy, NftSetsPerDomainExactPortsDirectAndDrop) {
    auto text = render_policy(sample(), PolicyOptions{});
    ASSERT_TRUE(text.ok()) << text.error().message;
    const std::string& t = *text;
    for (const char* want : {
             "table inet egress_monitor_allow\ndelete table inet egress_monitor_allow\n",
             // 192.0.2.10 and .11 were reached on different ports: two sets, nothing widened.
             "    set d0001_v4 {\n        type ipv4_addr\n        comment \"api.example.test\"\n"
             "        elements = { 192.0.2.10 }\n",
             "    set d0001_v4_2 {\n        type ipv4_addr\n        comment \"api.example.test\"\n"
             "        elements = { 192.0.2.11 }\n",
             "    set d0001_v6 {\n        type ipv6_addr\n",
             "        ip daddr @d0001_v4 tcp dport 443 accept comment \"api.example.test\"\n",
             "        ip daddr @d0001_v4_2 tcp dport { 80,443 } accept comment "
             "\"api.example.test\"\n",
             "        ip6 daddr @d0001_v6 tcp dport 443 accept comment \"api.example.test\"\n",
             "        ip daddr @d0002_v4 tcp dport { 80,443 } accept comment "
             "\"cdn.example.test\"\n",
             "        ip daddr 198.51.100.1 tcp dport 53 accept comment \"direct: no DNS answer "
             "named it\"\n",
             "        ip daddr 198.51.100.1 udp dport 53 accept",
             "        ip daddr 203.0.113.7 meta l4proto tcp accept",  // other ports: all of tcp
             "        ip6 daddr 2001:db8::99 accept comment",
             "        counter drop comment \"not observed\"\n    }\n}\n",
             "# 6 addresses (3 named by 2 domains, 3 direct); min count 1\n",
         })
        EXPECT_NE(t.find(want), std::string::npos) << want << "\nin:\n" << t;
    EXPECT_EQ(t.find("127.0.0.1"), std::string::npos);
    EXPECT_EQ(t.find("gone.example.test"), std::string::npos);
    EXPECT_EQ(t.find("203.0.113.7 tcp dport 22"), std::string::npos);
    // Deterministic.
    EXPECT_EQ(*render_policy(sample(), PolicyOptions{}), t);
}

TEST(Policy, MinCountSinceAndLogOnly) {
    PolicyOptions opt;
    opt.min_count = 2;
    opt.since = 900;
    opt.log_only = true;
    auto t = render_policy(sample(), opt);
    ASSERT_TRUE(t.ok());
    EXPECT_NE(t->find("192.0.2.10"), std::string::npos);
    EXPECT_EQ(t->find("192.0.2.11"), std::string::npos);  // count 1 and seen at 500
    EXPECT_EQ(t->find("2001:db8::10"), std::string::npos);
    EXPECT_NE(t->find("log prefix \"egress-monitor-unlisted \""), std::string::npos);
    EXPECT_EQ(t->find("drop"), std::string::npos);
}

TEST(Policy, IptablesRestoreInputPerFamily) {
    PolicyOptions opt;
    opt.format = PolicyFormat::iptables;
    opt.table = "EGRESS_ALLOW";
    auto v4 = render_policy(sample(), opt);
    ASSERT_TRUE(v4.ok());
    for (const char* want : {
             "*filter\n:EGRESS_ALLOW - [0:0]\n-A EGRESS_ALLOW -o lo -j ACCEPT\n",
             "-A EGRESS_ALLOW -d 192.0.2.11/32 -p tcp -m multiport --dports 80,443 -m comment "
             "--comment \"api.example.test\" -j ACCEPT\n",
             "-A EGRESS_ALLOW -d 203.0.113.7/32 -p tcp -m comment",
             "-A EGRESS_ALLOW -m comment --comment \"not observed\" -j DROP\nCOMMIT\n",
         })
        EXPECT_NE(v4->find(want), std::string::npos) << want << "\nin:\n" << *v4;
    EXPECT_EQ(v4->find("2001:db8"), std::string::npos);
    opt.format = PolicyFormat::ip6tables;
    auto v6 = render_policy(sample(), opt);
    ASSERT_TRUE(v6.ok());
    EXPECT_NE(v6->find("-A EGRESS_ALLOW -d 2001:db8::10/128 -p tcp --dport 443"),
              std::string::npos);
    EXPECT_NE(v6->find("-A EGRESS_ALLOW -d 2001:db8::99/128 -m comment"), std::string::npos);
    EXPECT_EQ(v6->find("192.0.2"), std::string::npos);
}

TEST(Policy, ManyPortsSplitIntoMultiportsOfFifteen) {
    PolicyInput in;
    PolicyAddress a{ip("192.0.2.1"), 20, 1000, {}};
    for (uint16_t p = 1; p <= 16; ++p) a.ports.push_back({6, p, 1});
    in.ips = {a};
    PolicyOptions opt;
    opt.format = PolicyFormat::iptables;
    auto t = render_policy(in, opt);
    ASSERT_TRUE(t.ok());
    EXPECT_NE(t->find("--dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 "), std::string::npos) << *t;
    EXPECT_NE(t->find("--dports 16 -m comment"), std::string::npos) << *t;
}

TEST(Policy, NothingFromTheInputReachesTheRulesetUnquoted) {
    PolicyInput in;
    in.source = "x\"; flush ruleset; #";
    in.domains = {{"evil\";flush-ruleset;#\\x.test", 1, 1000, {ip("192.0.2.1")}}};
    in.ips = {{ip("192.0.2.1"), 1, 1000, {}}};
    for (auto f : {PolicyFormat::nft, PolicyFormat::iptables}) {
        PolicyOptions opt;
        opt.format = f;
        auto t = render_policy(in, opt);
        ASSERT_TRUE(t.ok());
        // Only comment lines may mention it (the source, sanitised, in the header).
        for (size_t at = t->find("flush ruleset"); at != std::string::npos;
             at = t->find("flush ruleset", at + 1))
            EXPECT_EQ((*t)[t->rfind('\n', at) + 1], '#') << *t;
        EXPECT_EQ(t->find("\";"), std::string::npos) << *t;
        EXPECT_NE(t->find("\"evil__flush-ruleset___x.test\""), std::string::npos) << *t;
    }
    EXPECT_EQ(safe_comment(std::string(300, 'a')).size(), 100u);
    PolicyOptions bad;
    bad.table = "x; flush ruleset";
    EXPECT_FALSE(render_policy(in, bad).ok());
}

}  // namespace em

namespace em {

namespace {

// sample() with who used what: curl (root) queried api.example.test and connected to
// 192.0.2.10; wget (alice) queried cdn.example.test; nc of a container, with no exe known,
// connected straight to 203.0.113.7.
PolicyInput with_uses() {
    PolicyInput in = sample();
    in.uses = {
        {'d', "api.example.test", "/usr/bin/curl", "root", "", 5},
        {'i', "192.0.2.10", "/usr/bin/curl", "root", "", 3},
        {'d', "cdn.example.test", "/usr/bin/wget", "alice", "", 2},
        {'d', "cdn.example.test", "/usr/bin/curl", "root", "", 1},
        {'i', "203.0.113.7", "[nc]", "bob", "0123456789abcdef", 2},
    };
    return in;
}

std::string rules(const PolicyInput& in, const PolicyOptions& opt) {
    auto t = render_policy(in, opt);
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t.ok() ? *t : std::string();
}

}  // namespace

TEST(Policy, CommentsNameTheProcessesAndUsersSeen) {
    std::string t = rules(with_uses(), PolicyOptions{});
    for (const char* want : {
             // A set is labelled by its domain alone; its rules say who used it.
             "    set d0001_v4 {\n        type ipv4_addr\n        comment \"api.example.test\"\n",
             "@d0001_v4 tcp dport 443 accept comment \"api.example.test by /usr/bin/curl@root\"",
             // By count: wget queried it twice, curl once.
             "comment \"cdn.example.test by /usr/bin/wget@alice /usr/bin/curl@root\"",
             "ip daddr 203.0.113.7 meta l4proto tcp accept comment \"direct: no DNS answer "
             "named it by nc@bob:0123456789ab\"",
             // Nobody known: the comment as without per-process data.
             "ip daddr 198.51.100.1 tcp dport 53 accept comment \"direct: no DNS answer "
             "named it\"\n",
         })
        EXPECT_NE(t.find(want), std::string::npos) << want << "\nin:\n" << t;
    EXPECT_EQ(rules(with_uses(), PolicyOptions{}), t);  // deterministic
}

TEST(Policy, ProcessUserAndContainerFiltersKeepOnlyTheirDestinations) {
    PolicyOptions opt;
    opt.processes = {"curl"};  // the file name matches /usr/bin/curl
    std::string t = rules(with_uses(), opt);
    // curl queried both domains: their addresses; and its direct flow's address.
    for (const char* want : {"192.0.2.10", "192.0.2.11", "2001:db8::10",
                             "# only what matching processes used: --process curl\n"})
        EXPECT_NE(t.find(want), std::string::npos) << want << "\nin:\n" << t;
    for (const char* gone : {"203.0.113.7", "198.51.100.1", "2001:db8::99", "wget"})
        EXPECT_EQ(t.find(gone), std::string::npos) << gone << "\nin:\n" << t;
    // Comments name only the matching processes.
    EXPECT_NE(t.find("comment \"cdn.example.test by /usr/bin/curl@root\""), std::string::npos) << t;

    opt = PolicyOptions{};
    opt.users = {"alice"};
    t = rules(with_uses(), opt);
    EXPECT_NE(t.find("@d0002_v4 tcp dport { 80,443 } accept comment \"cdn.example.test by "
                     "/usr/bin/wget@alice\""),
              std::string::npos)
        << t;
    EXPECT_EQ(t.find("192.0.2.10"), std::string::npos) << t;
    // api.example.test also named 192.0.2.11 (alice never queried it: no one to name).
    EXPECT_NE(t.find("comment \"api.example.test\""), std::string::npos) << t;
    EXPECT_NE(t.find("# 1 addresses (1 named by 2 domains, 0 direct)"), std::string::npos) << t;

    opt = PolicyOptions{};
    opt.containers = {"0123"};  // a prefix of the id
    opt.processes = {"nc", "curl"};
    opt.users = {"bob"};  // and: curl ran as root, so only nc's address is left
    t = rules(with_uses(), opt);
    EXPECT_NE(t.find("203.0.113.7"), std::string::npos) << t;
    EXPECT_EQ(t.find("192.0.2."), std::string::npos) << t;

    opt = PolicyOptions{};
    opt.containers = {"host"};  // processes in no container
    t = rules(with_uses(), opt);
    EXPECT_EQ(t.find("203.0.113.7"), std::string::npos) << t;
    EXPECT_NE(t.find("192.0.2.10"), std::string::npos) << t;

    opt = PolicyOptions{};
    opt.processes = {"/usr/bin/cur"};  // neither the path nor a file name
    t = rules(with_uses(), opt);
    EXPECT_NE(t.find("# 0 addresses"), std::string::npos) << t;
}

TEST(Policy, FiltersWithoutPerProcessDataAreAnError) {
    PolicyOptions opt;
    opt.users = {"root"};
    auto t = render_policy(sample(), opt);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("no per-process data in test"), std::string::npos)
        << t.error().message;
}

TEST(Policy, ProcessNamesInCommentsAreSanitisedAndBounded) {
    PolicyInput in;
    in.source = "test";
    in.ips = {{ip("192.0.2.1"), 1, 1000, {}}};
    in.uses = {{'i', "192.0.2.1", "/tmp/x\"; flush ruleset; #", "r\"oot", "", 9}};
    for (int i = 0; i < 20; ++i)
        in.uses.push_back({'i', "192.0.2.1", "/usr/lib/p" + std::to_string(i), "u", "", 1});
    for (auto f : {PolicyFormat::nft, PolicyFormat::iptables}) {
        PolicyOptions opt;
        opt.format = f;
        std::string t = rules(in, opt);
        EXPECT_EQ(t.find("\";"), std::string::npos) << t;
        EXPECT_NE(t.find("direct: no DNS answer named it by /tmp/x__ flush ruleset_ _@r_oot "
                         "/usr/lib/p0@u"),
                  std::string::npos)
            << t;
        // As many as fit in 100 bytes, then how many more.
        size_t at = t.find("direct: no DNS");
        size_t end = t.find('"', at);
        ASSERT_NE(end, std::string::npos);
        std::string comment = t.substr(at, end - at);
        EXPECT_LE(comment.size(), 100u) << comment;
        EXPECT_NE(comment.find(" /usr/lib/p1@u +18"), std::string::npos) << comment;
    }
}

// A direct address whose flows' first packets named a host says so in its comment.
TEST(Policy, DirectAddressesNamedByFirstPacketsSaySo) {
    PolicyInput in = sample();
    in.first_packet_names = {{ip("198.51.100.1"), "dns.example.test", "tls", 2, 1000},
                             {ip("198.51.100.1"), "dns.example.test", "quic", 1, 1000}};
    auto text = render_policy(in, PolicyOptions{});
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_NE(text->find("ip daddr 198.51.100.1 tcp dport 53 accept comment \"direct: first "
                         "packet named tls:dns.example.test quic:dns.example.test\"\n"),
              std::string::npos)
        << *text;
    EXPECT_NE(text->find("ip daddr 203.0.113.7 meta l4proto tcp accept comment \"direct: no DNS "
                         "answer named it\""),
              std::string::npos)
        << *text;
}

// --format enforce: the names queried (a folded line as its base, a coarser one left out) and
// the names only first packets gave, as an enforce config that enforce itself accepts, with
// allowByServerName because some names were resolved where the host did not see it.
TEST(Policy, EnforceConfigAllowsQueriedAndFirstPacketNames) {
    PolicyInput in = sample();
    in.domains.push_back({"*.cdn.example.test", 7, 1000, {}});
    in.domains.push_back({"*.*.test", 3, 1000, {}});
    in.domains.push_back({"bad name.test", 3, 1000, {}});
    in.first_packet_names = {{ip("198.51.100.1"), "doh.example.test", "tls", 2, 1000},
                             {ip("192.0.2.10"), "api.example.test", "tls", 3, 1000},
                             // Public suffixes would allow whole zones: left out.
                             {ip("192.0.2.10"), "com", "http", 1, 1000},
                             {ip("192.0.2.10"), "github.io", "http", 1, 1000}};
    PolicyOptions opt;
    opt.format = PolicyFormat::enforce;
    auto text = render_policy(in, opt);
    ASSERT_TRUE(text.ok()) << text.error().message;
    const std::string& t = *text;
    for (const char* want : {
             // cdn.example.test is queried and the base of the folded line: one name.
             "# 4 host names (3 queried through DNS, 1 named only by the first packets of flows)",
             "# left out: 1 folded lines coarser than a registrable domain, 3 names enforce "
             "cannot take or that are public suffixes\n",
             "[[filters]]\nname = \"egress_monitor_allow\"\n",
             "allowByServerName = true\n",
             "    \"api.example.test\",  # 5 DNS queries, 3 first packets (tls)\n",
             "    \"cdn.example.test\",  # 9 DNS queries\n",
             "    \"doh.example.test\",  # 2 first packets (tls)\n",
             "    \"gone.example.test\",  # 1 DNS queries\n",
         })
        EXPECT_NE(t.find(want), std::string::npos) << want << "\nin:\n" << t;
    auto cfg = parse_enforce_config(t, "rules.toml");
    ASSERT_TRUE(cfg.ok()) << cfg.error().message << "\n" << t;

    // Only DNS names: no allowByServerName; the same config keys otherwise.
    in.first_packet_names.clear();
    auto dns_only = render_policy(in, opt);
    ASSERT_TRUE(dns_only.ok());
    EXPECT_EQ(dns_only->find("allowByServerName"), std::string::npos) << *dns_only;
    ASSERT_TRUE(parse_enforce_config(*dns_only, "rules.toml").ok());

    // Nothing qualifies: an error, not an empty allowlist enforce would refuse.
    opt.min_count = 1000;
    auto none = render_policy(in, opt);
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.error().message.find("no host name to allow"), std::string::npos);
}

// --files reads the agent's flow-names.log next to the two files when there is one (strictly,
// as the collector does), and does without it.
TEST(Policy, FilesInputReadsFlowNamesWhereTheAgentWroteThem) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("em-policy-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "unique-domains.log")
        << "a.example.test 2 2026-12-03T10:00:00Z 192.0.2.1\n";
    std::ofstream(dir / "unique-ips.log") << "192.0.2.1 1 2026-12-03T10:00:00Z\n"
                                             "198.51.100.7 3 2026-12-03T10:00:00Z\n";
    auto without = load_policy_from_files(dir.string());
    ASSERT_TRUE(without.ok()) << without.error().message;
    EXPECT_TRUE(without->first_packet_names.empty());
    std::ofstream(dir / "flow-names.log") << "198.51.100.7 doh.example.test tls 3 "
                                             "2026-12-03T10:00:00Z\n";
    auto with = load_policy_from_files(dir.string());
    ASSERT_TRUE(with.ok()) << with.error().message;
    ASSERT_EQ(with->first_packet_names.size(), 1u);
    EXPECT_EQ(with->first_packet_names[0].name, "doh.example.test");
    PolicyOptions opt;
    opt.format = PolicyFormat::enforce;
    auto text = render_policy(*with, opt);
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_NE(text->find("    \"doh.example.test\",  # 3 first packets (tls)\n"), std::string::npos)
        << *text;
    std::ofstream(dir / "flow-names.log") << "198.51.100.7 doh.example.test ftp 3 "
                                             "2026-12-03T10:00:00Z\n";
    EXPECT_FALSE(load_policy_from_files(dir.string()).ok());
    fs::remove_all(dir);
}

// process-uses.log beside the two files: --process filters a host's files as it filters its
// ledger; a file the strict parser refuses fails the load with its line.
TEST(PolicyFromFiles, ProcessUsesFilterByProcess) {
    namespace fs = std::filesystem;
    const fs::path dir =
        fs::temp_directory_path() / ("em-policy-uses-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "unique-domains.log")
        << "a.example.test 2 2026-12-03T10:00:00Z 192.0.2.1\n";
    std::ofstream(dir / "unique-ips.log") << "192.0.2.1 1 2026-12-03T10:00:00Z\n"
                                             "198.51.100.7 3 2026-12-03T10:00:00Z\n";
    std::ofstream(dir / "process-uses.log")
        << "i 198.51.100.7 /opt/my%20agent root - 3 2026-12-03T10:00:00Z 2026-12-03T10:00:00Z\n";
    auto in = load_policy_from_files(dir.string());
    ASSERT_TRUE(in.ok()) << in.error().message;
    ASSERT_EQ(in->uses.size(), 1u);
    EXPECT_EQ(in->uses[0].exe, "/opt/my agent");
    PolicyOptions opt;
    opt.processes = {"my agent"};
    auto text = render_policy(*in, opt);
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_NE(text->find("198.51.100.7"), std::string::npos) << *text;
    EXPECT_EQ(text->find("192.0.2.1"), std::string::npos) << *text;
    std::ofstream(dir / "process-uses.log")
        << "i 198.51.100.7 /opt/my agent root - 3 2026-12-03T10:00:00Z 2026-12-03T10:00:00Z\n";
    auto bad = load_policy_from_files(dir.string());
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("process-uses.log:1: too many fields"), std::string::npos)
        << bad.error().message;
    fs::remove_all(dir);
}

}  // namespace em
