// flow-names.log: the one writer and the strict parser (format/writer.h, format/parser.h).
#include <gtest/gtest.h>

#include <string>

#include "format/parser.h"
#include "format/writer.h"

namespace em {

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

constexpr const char* kT = "2026-11-22T11:35:35Z";  // 1795347335
constexpr int64_t kUnix = 1795347335;

std::string nline(const std::string& addr, const std::string& name,
                  const std::string& protocol = "tls", const std::string& tail = "") {
    return addr + " " + name + " " + protocol + " 1 " + kT + tail + "\n";
}

std::string error_of(const std::string& text, const SnapshotLimits& limits = {}) {
    auto r = parse_flow_names_file(text, "web1", limits);
    return r.ok() ? "" : r.error().message;
}

}  // namespace

TEST(FlowNamesFile, WriterSpellsTheLinesAndTheParserGivesThemBack) {
    std::string out;
    append_flow_name_line(out, ip("140.82.112.5"), "api.github.com", "tls", 3, kUnix, false);
    append_flow_name_line(out, ip("2001:db8::1"), "cloudflare-dns.com", "quic", 1, kUnix, true);
    EXPECT_EQ(out, std::string("140.82.112.5 api.github.com tls 3 ") + kT + "\n" +
                       "2001:db8::1 cloudflare-dns.com quic 1 " + kT + " ech\n");
    auto r = parse_flow_names_file(out, "web1");
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0],
              (FlowNameFileEntry{ip("140.82.112.5"), "api.github.com", "tls", 3, kUnix, false}));
    EXPECT_TRUE((*r)[1].ech);
    EXPECT_EQ(render_flow_names_file(*r), out);
}

// A name the parser would refuse (one any local process can send in a Host header) is left
// out by the writer, so it never costs the reader the whole file.
TEST(FlowNamesFile, TheWriterLeavesOutWhatTheParserRefuses) {
    const std::vector<FlowNameFileEntry> names = {
        {ip("192.0.2.1"), "1..2", "http", 1, kUnix, false},
        {ip("192.0.2.1"), "a.", "http", 1, kUnix, false},
        {ip("192.0.2.1"), "good.example.test", "http", 2, kUnix, false},
        {ip("192.0.2.1"), "good.example.test", "ftp", 1, kUnix, false},
    };
    const std::string out = render_flow_names_file(names);
    EXPECT_EQ(out, std::string("192.0.2.1 good.example.test http 2 ") + kT + "\n");
    EXPECT_TRUE(parse_flow_names_file(out, "web1").ok());
}

TEST(FlowNamesFile, EmptyFileIsNoNames) {
    auto r = parse_flow_names_file("", "web1");
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->empty());
}

TEST(FlowNamesFile, SortedByAddressNumericallyThenNameThenProtocol) {
    // 9.x before 10.x (numeric, not byte order); IPv4 before IPv6; http < quic < tls.
    std::string ok = nline("9.9.9.9", "a.test") + nline("10.0.0.1", "a.test", "http") +
                     nline("10.0.0.1", "a.test", "quic") + nline("10.0.0.1", "a.test", "tls") +
                     nline("10.0.0.1", "b.test") + nline("::1", "a.test");
    EXPECT_EQ(error_of(ok), "");
    EXPECT_NE(error_of(nline("10.0.0.1", "a.test") + nline("9.9.9.9", "a.test"))
                  .find("flow-names.log:2: lines not sorted"),
              std::string::npos);
    EXPECT_NE(error_of(nline("10.0.0.1", "a.test", "tls") + nline("10.0.0.1", "a.test", "quic"))
                  .find("not sorted"),
              std::string::npos);
    EXPECT_NE(error_of(nline("10.0.0.1", "a.test") + nline("10.0.0.1", "a.test"))
                  .find("flow-names.log:2: duplicate address, name and protocol"),
              std::string::npos);
}

TEST(FlowNamesFile, HostileLinesAreRejectedNamingFileAndLine) {
    struct Case {
        std::string text, want;
    } cases[] = {
        {nline("10.0.0.1", "A.test"), "web1: flow-names.log:1: bad name (upper case)"},
        {nline("10.0.0.1", "a.test."), "bad name (trailing dot)"},
        {nline("10.0.0.1", "a..test"), "bad name (empty label)"},
        {nline("10.0.0.1", "a\"b"), "bad name (not a host name) \"a\\x22b\""},
        {nline("10.0.0.1", std::string(254, 'a')), "longer than 253"},
        {nline("10.0.0.01", "a.test"), "bad address"},
        {nline("2001:DB8::1", "a.test"), "bad address"},
        {nline("10.0.0.1", "a.test", "ftp"), "bad protocol (want http, quic or tls) \"ftp\""},
        {nline("10.0.0.1", "a.test", "tls", " ECH"), "bad flag (want ech)"},
        {nline("10.0.0.1", "a.test", "tls", " ech ech"), "too many fields"},
        {nline("10.0.0.1", "a.test", "tls", " "), "extra space or empty field"},
        {"10.0.0.1 a.test tls 1\n", "too few fields"},
        {"10.0.0.1 a.test tls 01 " + std::string(kT) + "\n", "bad count (leading zero)"},
        {"10.0.0.1 a.test tls 0 " + std::string(kT) + "\n", "bad count (zero)"},
        {"10.0.0.1 a.test tls 1 2026-11-22 11:35:35\n", "bad flag (want ech) \"11:35:35\""},
        {"10.0.0.1 a.test tls 1 2026-02-30T00:00:00Z\n", "bad time"},
        {"10.0.0.1 a.test tls 1 " + std::string(kT), "no newline at end of file"},
        {nline("10.0.0.1", "a.test") + "\n", "flow-names.log:2: empty line"},
        {"10.0.0.1 a.test tls 1 " + std::string(kT) + "\r\n", "carriage return"},
    };
    for (const auto& c : cases) {
        std::string e = error_of(c.text);
        EXPECT_NE(e.find(c.want), std::string::npos) << c.text << " -> " << e;
    }
}

TEST(FlowNamesFile, Bounded) {
    SnapshotLimits limits;
    limits.max_bytes = 100;
    EXPECT_NE(error_of(std::string(101, 'x'), limits).find("flow-names.log: too large"),
              std::string::npos);
    limits = {};
    limits.max_lines = 1;
    EXPECT_NE(error_of(nline("10.0.0.1", "a.test") + nline("10.0.0.2", "a.test"), limits)
                  .find("too many lines"),
              std::string::npos);
    limits = {};
    limits.max_line_bytes = 20;
    EXPECT_NE(error_of(nline("10.0.0.1", "a.test"), limits).find("line too long"),
              std::string::npos);
    limits = {};
    limits.max_reported = 2;
    std::string bad;
    for (int i = 1; i <= 5; ++i) bad += "x\n";
    EXPECT_NE(error_of(bad, limits).find("... and 3 more"), std::string::npos);
}

}  // namespace em
