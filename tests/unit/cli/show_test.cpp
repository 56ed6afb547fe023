#include "cli/show_render.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/ledger.h"

namespace em {

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

// curl (root) queried a.test 3 times and went to its address twice; git (alice, in a
// container) queried b.test once and went to 10.0.0.9 (which both names share) 4 times.
ShowInput sample() {
    ShowInput in;
    in.source = "ledger";
    in.uses = {
        {'d', "a.test", "/usr/bin/curl", "root", "", 3, 100, 300},
        {'d', "b.test", "/usr/bin/git", "alice", "0123456789abcdef", 1, 200, 200},
        {'i', "192.0.2.1", "/usr/bin/curl", "root", "", 2, 110, 310},
        {'i', "10.0.0.9", "/usr/bin/git", "alice", "0123456789abcdef", 4, 210, 400},
        {'i', "10.0.0.9", "/usr/bin/curl", "root", "", 1, 120, 120},
    };
    in.domain_ips = {{"a.test", {ip("10.0.0.9"), ip("192.0.2.1")}}, {"b.test", {ip("10.0.0.9")}}};
    return in;
}

}  // namespace

TEST(Show, ByProcessText) {
    EXPECT_EQ(render_show(sample(), ShowBy::process, false),
              // curl: 6 uses, git: 5; within one, domains then addresses, by count.
              "/usr/bin/curl (user root, host): 1 domain, 2 addresses\n"
              "    queried a.test 3 times, last 1970-01-01T00:05:00Z\n"
              "    connected to 192.0.2.1 (a.test) 2 times, last 1970-01-01T00:05:10Z\n"
              "    connected to 10.0.0.9 (a.test, b.test) 1 time, last 1970-01-01T00:02:00Z\n"
              "/usr/bin/git (user alice, container 0123456789ab): 1 domain, 1 address\n"
              "    queried b.test 1 time, last 1970-01-01T00:03:20Z\n"
              "    connected to 10.0.0.9 (a.test, b.test) 4 times, last "
              "1970-01-01T00:06:40Z\n");
}

TEST(Show, ByDomainAndByIpText) {
    EXPECT_EQ(render_show(sample(), ShowBy::domain, false),
              "a.test: 3 queries by 1 process; answers 10.0.0.9,192.0.2.1\n"
              "    /usr/bin/curl (user root, host) 3 times, last 1970-01-01T00:05:00Z\n"
              "b.test: 1 query by 1 process; answers 10.0.0.9\n"
              "    /usr/bin/git (user alice, container 0123456789ab) 1 time, last "
              "1970-01-01T00:03:20Z\n");
    EXPECT_EQ(render_show(sample(), ShowBy::ip, false),
              "10.0.0.9 (a.test, b.test): 5 flows by 2 processes\n"
              "    /usr/bin/git (user alice, container 0123456789ab) 4 times, last "
              "1970-01-01T00:06:40Z\n"
              "    /usr/bin/curl (user root, host) 1 time, last 1970-01-01T00:02:00Z\n"
              "192.0.2.1 (a.test): 2 flows by 1 process\n"
              "    /usr/bin/curl (user root, host) 2 times, last 1970-01-01T00:05:10Z\n");
}

TEST(Show, Json) {
    EXPECT_EQ(render_show(sample(), ShowBy::ip, true),
              "{\"by\":\"ip\",\"source\":\"ledger\",\"ips\":["
              "{\"ip\":\"10.0.0.9\",\"count\":5,\"names\":[\"a.test\",\"b.test\"],"
              "\"first_packet_names\":[],\"processes\":["
              "{\"exe\":\"/usr/bin/git\",\"user\":\"alice\",\"container\":\"0123456789abcdef\","
              "\"count\":4,\"first_seen\":\"1970-01-01T00:03:30Z\",\"last_seen\":"
              "\"1970-01-01T00:06:40Z\"},"
              "{\"exe\":\"/usr/bin/curl\",\"user\":\"root\",\"container\":\"\",\"count\":1,"
              "\"first_seen\":\"1970-01-01T00:02:00Z\",\"last_seen\":\"1970-01-01T00:02:00Z\"}]},"
              "{\"ip\":\"192.0.2.1\",\"count\":2,\"names\":[\"a.test\"],"
              "\"first_packet_names\":[],\"processes\":["
              "{\"exe\":\"/usr/bin/curl\",\"user\":\"root\",\"container\":\"\",\"count\":2,"
              "\"first_seen\":\"1970-01-01T00:01:50Z\",\"last_seen\":"
              "\"1970-01-01T00:05:10Z\"}]}]}\n");
    std::string p = render_show(sample(), ShowBy::process, true);
    EXPECT_EQ(
        p.rfind(
            "{\"by\":\"process\",\"source\":\"ledger\",\"processes\":[{\"exe\":\"/usr/bin/curl\","
            "\"user\":\"root\",\"container\":\"\",\"count\":6,\"domains\":[{\"name\":",
            0),
        0u)
        << p;
    EXPECT_NE(p.find("\"ips\":[{\"ip\":\"192.0.2.1\",\"count\":2,"), std::string::npos) << p;
    std::string d = render_show(sample(), ShowBy::domain, true);
    EXPECT_NE(d.find("{\"name\":\"a.test\",\"count\":3,\"ips\":[\"10.0.0.9\",\"192.0.2.1\"],"
                     "\"processes\":[{\"exe\":\"/usr/bin/curl\""),
              std::string::npos)
        << d;
}

// An address both DNS and first packets named lists both, DNS names first.
TEST(Show, FirstPacketNamesNextToDnsNames) {
    ShowInput in = sample();
    in.first_packet_names[ip("192.0.2.1")] = {{"a.test", "tls", 2}, {"other.test", "http", 1}};
    std::string t = render_show(in, ShowBy::ip, false);
    EXPECT_NE(t.find("192.0.2.1 (a.test; first packet: tls a.test, http other.test): 2 flows"),
              std::string::npos)
        << t;
    std::string p = render_show(in, ShowBy::process, false);
    EXPECT_NE(p.find("connected to 192.0.2.1 (a.test; first packet: tls a.test, http "
                     "other.test) 2 times"),
              std::string::npos)
        << p;
    std::string j = render_show(in, ShowBy::ip, true);
    EXPECT_NE(j.find("\"names\":[\"a.test\"],\"first_packet_names\":[{\"name\":\"a.test\","
                     "\"protocol\":\"tls\",\"count\":2},{\"name\":\"other.test\",\"protocol\":"
                     "\"http\",\"count\":1}]"),
              std::string::npos)
        << j;
}

TEST(Show, CraftedNamesAreEscaped) {
    ShowInput in;
    in.uses = {{'i', "192.0.2.1", "/tmp/\x1b[2Jx\\\"", "r\noot", "", 1, 1, 1}};
    std::string t = render_show(in, ShowBy::ip, false);
    EXPECT_NE(t.find("/tmp/\\x1b[2Jx\\x5c\" (user r\\x0aoot, host)"), std::string::npos) << t;
    std::string j = render_show(in, ShowBy::ip, true);
    EXPECT_NE(j.find("\"exe\":\"/tmp/\\u001b[2Jx\\\\\\\"\",\"user\":\"r\\noot\""),
              std::string::npos)
        << j;
    EXPECT_EQ(render_show(ShowInput{}, ShowBy::process, true), "");
}

// Observed names (queried domains, the names an address resolved from) with DEL and C1
// controls, as single bytes and as UTF-8 code points: escaped in text and in JSON.
TEST(Show, ObservedNamesWithDelAndC1AreEscaped) {
    const std::string name =
        "a\x7f"
        "b\x9b"
        "c\xc2\x9b"
        "d\xc2\x85"
        "e.test";
    ShowInput in;
    in.uses = {{'d', name, "/usr/bin/curl", "root", "", 2, 1, 1},
               {'i', "192.0.2.1", "/usr/bin/curl", "root", "", 1, 1, 1}};
    in.domain_ips[name] = {*IpAddress::parse("192.0.2.1")};
    for (ShowBy by : {ShowBy::domain, ShowBy::ip, ShowBy::process}) {
        std::string t = render_show(in, by, false);
        EXPECT_NE(t.find("a\\x7fb\\x9bc\\xc2\\x9bd\\xc2\\x85e.test"), std::string::npos) << t;
        for (char c : t) {
            auto b = static_cast<unsigned char>(c);
            EXPECT_TRUE(c == '\n' || (b >= 0x20 && b < 0x7f)) << "byte " << int(b) << " in " << t;
        }
        std::string j = render_show(in, by, true);
        EXPECT_NE(j.find(R"("a\u007fb\u009bc\u009bd\u0085e.test")"), std::string::npos) << j;
        for (char c : j) EXPECT_LT(static_cast<unsigned char>(c), 0x7f) << j;
    }
}

TEST(Show, LoadsTheLedger) {
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("em-show-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    {
        auto l = Ledger::open((dir / "ledger.sqlite").string(), 8);
        ASSERT_TRUE(l.ok());
        Batch b;
        b.add_query("a.test", 100);
        b.add_answer("a.test", ip("192.0.2.1"), 100);
        ASSERT_TRUE(l->commit(b, {}).ok());
    }
    auto none = load_show_input(dir.string());
    ASSERT_TRUE(none.ok()) << none.error().message;
    EXPECT_TRUE(none->uses.empty());  // the command says so and prints nothing
    {
        auto l = Ledger::open((dir / "ledger.sqlite").string(), 8);
        ASSERT_TRUE(l.ok());
        Batch b;
        b.add_flow(ip("192.0.2.1"), 101);
        b.add_process_use('i', "192.0.2.1", "/usr/bin/curl", "root", "", 101);
        b.add_flow(ip("198.51.100.7"), 102);
        b.add_process_use('i', "198.51.100.7", "/usr/bin/curl", "root", "", 102);
        b.add_flow_name(ip("198.51.100.7"), 0, "doh.example.test", false, 102);
        ASSERT_TRUE(l->commit(b, {}).ok());
    }
    auto in = load_show_input(dir.string());
    ASSERT_TRUE(in.ok()) << in.error().message;
    EXPECT_EQ(render_show(*in, ShowBy::ip, false),
              "192.0.2.1 (a.test): 1 flow by 1 process\n"
              "    /usr/bin/curl (user root, host) 1 time, last 1970-01-01T00:01:41Z\n"
              "198.51.100.7 (first packet: tls doh.example.test): 1 flow by 1 process\n"
              "    /usr/bin/curl (user root, host) 1 time, last 1970-01-01T00:01:42Z\n");
    EXPECT_FALSE(load_show_input((dir / "missing").string()).ok());
    fs::remove_all(dir);
}

}  // namespace em
