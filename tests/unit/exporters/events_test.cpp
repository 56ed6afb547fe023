#include "exporters/jsonl/events.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace em {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

std::string json_string(std::string_view s) {
    std::string out;
    append_json_string(s, out);
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/em-events-test-XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const char* name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

TEST(JsonEvents, FlowEventExactText) {
    PacketMeta meta;
    meta.time_ms = 1795514400123;  // 2026-11-24T10:00:00.123Z
    meta.proto = 6;
    meta.src = ip("10.0.0.5");
    meta.sport = 43210;
    meta.dst = ip("140.82.112.5");
    meta.dport = 443;
    meta.owner.uid = 1000;
    meta.owner.gid = 100;
    std::string out = "prefix:";  // appends, never replaces
    format_flow_event(meta, {"github.com", "www.github.com"}, false, out);
    EXPECT_EQ(out,
              "prefix:{\"type\":\"flow\",\"time\":\"2026-11-24T10:00:00.123Z\",\"proto\":\"tcp\","
              "\"src\":\"10.0.0.5\",\"sport\":43210,\"dst\":\"140.82.112.5\",\"dport\":443,"
              "\"names\":[\"github.com\",\"www.github.com\"],\"direct\":false,\"uid\":1000,"
              "\"gid\":100}");
}

TEST(JsonEvents, FlowEventWithoutOwnerOrNames) {
    PacketMeta meta;
    meta.time_ms = 1795514400000;
    meta.proto = 17;
    meta.src = ip("2001:0db8:0000:0000:0000:0000:0000:0005");
    meta.sport = 5353;
    meta.dst = ip("2001:db8::1");
    meta.dport = 123;
    std::string out;
    format_flow_event(meta, {}, true, out);
    EXPECT_EQ(out,
              "{\"type\":\"flow\",\"time\":\"2026-11-24T10:00:00.000Z\",\"proto\":\"udp\","
              "\"src\":\"2001:db8::5\",\"sport\":5353,\"dst\":\"2001:db8::1\",\"dport\":123,"
              "\"names\":[],\"direct\":true}");
}

TEST(JsonEvents, FlowEventWithProcessObject) {
    PacketMeta meta;
    meta.time_ms = 1795514400000;
    meta.proto = 6;
    meta.src = ip("10.0.0.5");
    meta.sport = 1;
    meta.dst = ip("192.0.2.1");
    meta.dport = 2;
    ProcessInfo p;
    p.pid = 4711;
    p.comm = "py\"thon";
    p.exe = "/usr/bin/python3";
    p.cmdline = "python3 -c x";
    p.uid = 33;
    p.user = "www-data";
    p.ppid = 1;
    p.parent_comm = "gunicorn";
    p.cgroup = "/system.slice/docker-abc.scope";
    std::string out;
    format_flow_event(meta, {}, true, &p, out);
    EXPECT_EQ(
        out,
        "{\"type\":\"flow\",\"time\":\"2026-11-24T10:00:00.000Z\",\"proto\":\"tcp\","
        "\"src\":\"10.0.0.5\",\"sport\":1,\"dst\":\"192.0.2.1\",\"dport\":2,\"names\":[],"
        "\"direct\":true,\"process\":{\"pid\":4711,\"comm\":\"py\\\"thon\",\"exe\":"
        "\"/usr/bin/python3\",\"cmdline\":\"python3 -c x\",\"uid\":33,\"user\":\"www-data\","
        "\"ppid\":1,\"parent_comm\":\"gunicorn\",\"cgroup\":\"/system.slice/docker-abc.scope\","
        "\"container_id\":null}}");
    out.clear();
    format_flow_event(meta, {}, true, nullptr, out);
    EXPECT_TRUE(out.ends_with(",\"direct\":true,\"process\":null}")) << out;
}

TEST(JsonEvents, DnsResponseWithCnameAndA) {
    PacketMeta meta;
    meta.time_ms = 1795514400007;
    meta.proto = 17;
    meta.src = ip("192.0.2.53");
    meta.sport = 53;
    meta.dst = ip("10.0.0.5");
    meta.dport = 40000;
    DnsMessage msg;
    msg.id = 4711;
    msg.response = true;
    msg.rcode = 0;
    msg.qname = "www.example.com";
    msg.qtype = 1;
    msg.question_count = 1;
    DnsRecord cname;
    cname.name = "www.example.com";
    cname.type = 5;
    cname.ttl = 300;
    cname.target = "example.com";
    DnsRecord a;
    a.name = "example.com";
    a.type = 1;
    a.ttl = 60;
    a.address = ip("93.184.216.34");
    msg.answers = {cname, a};
    std::string out;
    format_dns_event(meta, msg, out);
    EXPECT_EQ(out,
              "{\"type\":\"dns\",\"time\":\"2026-11-24T10:00:00.007Z\",\"proto\":\"udp\","
              "\"src\":\"192.0.2.53\",\"sport\":53,\"dst\":\"10.0.0.5\",\"dport\":40000,"
              "\"response\":true,\"id\":4711,\"qname\":\"www.example.com\",\"qtype\":\"A\","
              "\"rcode\":\"NOERROR\",\"answers\":["
              "{\"name\":\"www.example.com\",\"type\":\"CNAME\",\"ttl\":300,"
              "\"data\":\"example.com\"},"
              "{\"name\":\"example.com\",\"type\":\"A\",\"ttl\":60,\"data\":\"93.184.216.34\"}]}");
}

TEST(JsonEvents, DnsQueryHasNoRcodeOrAnswers) {
    PacketMeta meta;
    meta.time_ms = 1795514400999;
    meta.proto = 17;
    meta.src = ip("10.0.0.5");
    meta.sport = 40000;
    meta.dst = ip("192.0.2.53");
    meta.dport = 53;
    meta.owner.uid = 0;  // root is known, gid is not
    DnsMessage msg;
    msg.id = 1;
    msg.qname = "example.org";
    msg.qtype = 28;
    std::string out;
    format_dns_event(meta, msg, out);
    EXPECT_EQ(out,
              "{\"type\":\"dns\",\"time\":\"2026-11-24T10:00:00.999Z\",\"proto\":\"udp\","
              "\"src\":\"10.0.0.5\",\"sport\":40000,\"dst\":\"192.0.2.53\",\"dport\":53,"
              "\"response\":false,\"id\":1,\"qname\":\"example.org\",\"qtype\":\"AAAA\","
              "\"uid\":0}");
}

TEST(JsonEvents, DnsNxdomainWithoutAnswers) {
    PacketMeta meta;
    meta.time_ms = 0;
    meta.proto = 6;
    meta.src = ip("::1");
    meta.dst = ip("::1");
    DnsMessage msg;
    msg.response = true;
    msg.rcode = 3;
    msg.qname = "nx.example";
    msg.qtype = 16;
    std::string out;
    format_dns_event(meta, msg, out);
    EXPECT_NE(out.find("\"qtype\":\"TXT\",\"rcode\":\"NXDOMAIN\",\"answers\":[]}"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("\"time\":\"1970-01-01T00:00:00.000Z\""), std::string::npos) << out;
}

TEST(JsonEvents, TimeIsRightAcrossSecondsAndBackwards) {
    PacketMeta meta;
    meta.proto = 6;
    meta.src = ip("10.0.0.1");
    meta.dst = ip("10.0.0.2");
    auto time_of = [&](int64_t ms) {
        meta.time_ms = ms;
        std::string out;
        format_flow_event(meta, {}, false, out);
        size_t at = out.find("\"time\":\"") + 8;
        return out.substr(at, out.find('"', at) - at);
    };
    EXPECT_EQ(time_of(1795514400999), "2026-11-24T10:00:00.999Z");
    EXPECT_EQ(time_of(1795514401000), "2026-11-24T10:00:01.000Z");
    EXPECT_EQ(time_of(1795514401050), "2026-11-24T10:00:01.050Z");
    EXPECT_EQ(time_of(1795514400001), "2026-11-24T10:00:00.001Z");  // an older event
    EXPECT_EQ(time_of(-1), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(time_of(1795514400999), "2026-11-24T10:00:00.999Z");
}

TEST(JsonEvents, ProtoNames) {
    EXPECT_EQ(proto_name(1), "icmp");
    EXPECT_EQ(proto_name(6), "tcp");
    EXPECT_EQ(proto_name(17), "udp");
    EXPECT_EQ(proto_name(58), "icmpv6");
    EXPECT_EQ(proto_name(132), "132");
}

TEST(JsonString, EscapesQuotesBackslashesAndControlBytes) {
    EXPECT_EQ(json_string("plain"), "\"plain\"");
    EXPECT_EQ(json_string(""), "\"\"");
    EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(json_string("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
    EXPECT_EQ(json_string(std::string_view("\x00\x01\x1f\x7f", 4)),
              "\"\\u0000\\u0001\\u001f\\u007f\"");
}

// DEL and the C1 controls are legal raw in JSON, but a reader printing a value must not meet
// them: escaped, as single bytes (not UTF-8) and as UTF-8 code points alike.
TEST(JsonString, EscapesDelC1AndLineSeparators) {
    EXPECT_EQ(json_string("a\x7f"
                          "b"),
              R"("a\u007fb")");
    EXPECT_EQ(json_string("a\xc2\x85"
                          "b\xc2\x9b"
                          "c\xc2\x80"),
              R"("a\u0085b\u009bc\u0080")");
    EXPECT_EQ(json_string("a\xe2\x80\xa8"
                          "b\xe2\x80\xa9"),
              R"("a\u2028b\u2029")");
    EXPECT_EQ(json_string("a\x9b"
                          "b"),
              R"("a\u009bb")");
    EXPECT_EQ(json_string("\xc2\xa0\xc3\xbc\xe2\x82\xac"), "\"\xc2\xa0\xc3\xbc\xe2\x82\xac\"");
}

TEST(JsonString, KeepsValidUtf8) {
    // é, €, U+10FFFF, 😀
    const char* s = "caf\xc3\xa9 \xe2\x82\xac \xf4\x8f\xbf\xbf \xf0\x9f\x98\x80";
    EXPECT_EQ(json_string(s), std::string("\"") + s + "\"");
}

TEST(JsonString, EscapesBytesThatAreNotUtf8) {
    EXPECT_EQ(json_string("a\xff"
                          "b"),
              "\"a\\u00ffb\"");
    EXPECT_EQ(json_string("\xc3"), "\"\\u00c3\"");                        // cut short at the end
    EXPECT_EQ(json_string("\xc3x"), "\"\\u00c3x\"");                      // bad continuation
    EXPECT_EQ(json_string("\xc0\xaf"), "\"\\u00c0\\u00af\"");             // overlong '/'
    EXPECT_EQ(json_string("\xe0\x80\xaf"), "\"\\u00e0\\u0080\\u00af\"");  // overlong
    EXPECT_EQ(json_string("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"");  // surrogate
    EXPECT_EQ(json_string("\xf4\x90\x80\x80"),
              "\"\\u00f4\\u0090\\u0080\\u0080\"");                  // above U+10FFFF
    EXPECT_EQ(json_string("\x80\xc3\xa9"), "\"\\u0080\xc3\xa9\"");  // stray continuation
}

TEST(JsonEvents, EscapesNamesInEvents) {
    PacketMeta meta;
    meta.proto = 6;
    meta.src = ip("10.0.0.1");
    meta.dst = ip("10.0.0.2");
    std::string out;
    format_flow_event(meta, {"we\"ird\x01.example"}, false, out);
    EXPECT_NE(out.find("\"names\":[\"we\\\"ird\\u0001.example\"]"), std::string::npos) << out;
}

TEST(JsonLinesWriter, WritesAppendsAndReopensAfterRename) {
    TempDir dir;
    std::string path = dir.file("events.jsonl");
    { std::ofstream(path) << "old\n"; }
    ::chmod(path.c_str(), 0600);
    mode_t old_umask = ::umask(022);
    auto w = JsonLinesWriter::open(path);
    ASSERT_TRUE(w) << w.error().message;
    w->write_line("{\"n\":1}");
    w->write_line("{\"n\":2}");
    ASSERT_TRUE(w->flush());
    EXPECT_EQ(read_file(path), "old\n{\"n\":1}\n{\"n\":2}\n");

    // logrotate: rename, then SIGHUP. A line written in between still reaches the old file.
    std::string rotated = dir.file("events.jsonl.1");
    ASSERT_EQ(std::rename(path.c_str(), rotated.c_str()), 0);
    w->write_line("{\"n\":3}");
    ASSERT_TRUE(w->reopen());
    w->write_line("{\"n\":4}");
    ASSERT_TRUE(w->flush());
    ::umask(old_umask);

    EXPECT_EQ(read_file(rotated), "old\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
    EXPECT_EQ(read_file(path), "{\"n\":4}\n");
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
    EXPECT_EQ(w->lines(), 4u);
    EXPECT_EQ(w->errors(), 0u);

    // Moved-from writers give up their file; the destination keeps writing.
    JsonLinesWriter moved = std::move(*w);
    moved.write_line("{\"n\":5}");
    ASSERT_TRUE(moved.flush());
    EXPECT_EQ(read_file(path), "{\"n\":4}\n{\"n\":5}\n");
}

TEST(JsonLinesWriter, FlushesOnDestruction) {
    TempDir dir;
    std::string path = dir.file("e.jsonl");
    {
        auto w = JsonLinesWriter::open(path);
        ASSERT_TRUE(w);
        w->write_line("x");
    }
    EXPECT_EQ(read_file(path), "x\n");
}

TEST(JsonLinesWriter, OpenErrorNamesThePath) {
    auto w = JsonLinesWriter::open("/nonexistent-dir-em/events.jsonl");
    ASSERT_FALSE(w);
    EXPECT_NE(w.error().message.find("/nonexistent-dir-em/events.jsonl"), std::string::npos);
    EXPECT_NE(w.error().message.find("No such file"), std::string::npos) << w.error().message;
}

TEST(JsonLinesWriter, WriteErrorsAreCountedNotThrown) {
    if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
    auto w = JsonLinesWriter::open("/dev/full");
    ASSERT_TRUE(w) << w.error().message;
    w->write_line("lost");
    auto r = w->flush();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("/dev/full"), std::string::npos);
    EXPECT_NE(r.error().message.find("No space left"), std::string::npos) << r.error().message;
    EXPECT_GE(w->errors(), 1u);
    // Still usable, still counting.
    uint64_t before = w->errors();
    w->write_line("lost too");
    EXPECT_FALSE(w->flush());
    EXPECT_GT(w->errors(), before);
}

}  // namespace
}  // namespace em
