#include "format/parser.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/ledger.h"
#include "exporters/aggregate_files.h"
#include "format/writer.h"

namespace em {

namespace {

namespace fs = std::filesystem;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

constexpr const char* kT = "2026-11-22T11:35:35Z";  // 1795347335
constexpr int64_t kUnix = 1795347335;

std::string dline(const std::string& name, const std::string& rest = "-") {
    return name + " 1 " + kT + " " + rest + "\n";
}
std::string iline(const std::string& addr) { return addr + " 1 " + kT + "\n"; }

// The error for `domains`/`ips`, or "" when they parse.
std::string error_of(const std::string& domains, const std::string& ips,
                     const SnapshotLimits& limits = {}) {
    auto r = parse_snapshot(domains, ips, "web1", limits);
    return r.ok() ? "" : r.error().message;
}

class SnapshotTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("em-snapshot-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

}  // namespace

// The agent's own rendering (ledger → aggregate_files) parses, and renders back to the same
// bytes.
TEST_F(SnapshotTest, AgentOutputRoundTrips) {
    auto l = Ledger::open((dir_ / "ledger.sqlite").string(), 4);
    ASSERT_TRUE(l.ok()) << l.error().message;
    Batch b(4);
    b.add_query("b.test", kUnix);
    b.add_query("a.test", kUnix - 10);
    b.add_query("a.test", kUnix + 1);
    b.add_answer("a.test", ip("10.0.0.2"), kUnix);
    b.add_answer("a.test", ip("9.0.0.1"), kUnix);
    b.add_answer("a.test", ip("2001:db8::1"), kUnix);
    b.add_answer("a.test", ip("::ffff:1.2.3.4"), kUnix);
    b.add_query("*.folded.test", kUnix);
    b.add_flow(ip("10.0.0.2"), kUnix + 5);
    b.add_flow(ip("10.0.0.2"), kUnix + 6);
    b.add_flow(ip("9.255.0.1"), kUnix + 6);
    b.add_flow(ip("2001:db8::1"), kUnix + 7);
    b.add_flow(ip("fe80::1:0:0:1"), kUnix + 7);
    ASSERT_TRUE(l->commit(b, {}).ok());
    Result<void> st;
    std::string domains = render_domains(*l, st);
    ASSERT_TRUE(st.ok());
    std::string ips = render_ips(*l, st);
    ASSERT_TRUE(st.ok());

    auto s = parse_snapshot(domains, ips, "web1");
    ASSERT_TRUE(s.ok()) << s.error().message;
    ASSERT_EQ(s->domains.size(), 3u);
    EXPECT_EQ(s->domains[0].name, "*.folded.test");
    EXPECT_EQ(s->domains[1].name, "a.test");
    EXPECT_EQ(s->domains[1].count, 2);
    EXPECT_EQ(s->domains[1].last_seen, kUnix + 1);
    EXPECT_EQ(s->domains[1].ips, (std::vector<IpAddress>{ip("9.0.0.1"), ip("10.0.0.2"),
                                                         ip("::ffff:1.2.3.4"), ip("2001:db8::1")}));
    EXPECT_TRUE(s->domains[2].ips.empty());
    ASSERT_EQ(s->ips.size(), 4u);
    EXPECT_EQ(s->ips[0].ip, ip("9.255.0.1"));
    EXPECT_EQ(s->ips[1].ip, ip("10.0.0.2"));
    EXPECT_EQ(s->ips[1].count, 2);
    EXPECT_EQ(s->ips[1].last_seen, kUnix + 6);
    EXPECT_EQ(s->ips[3].ip, ip("fe80::1:0:0:1"));

    EXPECT_EQ(render_domains_file(s->domains), domains);
    EXPECT_EQ(render_ips_file(s->ips), ips);
    auto d = parse_domains_file(domains, "web1");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s->domains);
    auto i = parse_ips_file(ips, "web1");
    ASSERT_TRUE(i.ok());
    EXPECT_EQ(*i, s->ips);
}

TEST(Snapshot, EmptyFilesAreAnEmptySnapshot) {
    auto s = parse_snapshot("", "", "web1");
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_TRUE(s->domains.empty());
    EXPECT_TRUE(s->ips.empty());
}

TEST(Snapshot, AcceptsBoundaryValues) {
    std::string d = std::string("a 4611686018427387904 1970-01-01T00:00:00Z -\n") +
                    "b 1 9999-12-31T23:59:59Z 0.0.0.0,255.255.255.255,::,ffff:ffff:ffff:ffff:"
                    "ffff:ffff:ffff:ffff\n" +
                    "c 1 2024-02-29T12:00:00Z 1.2.3.4\n" + std::string(253, 'z') + " 1 " + kT +
                    " -\n";
    auto s = parse_domains_file(d, "web1");
    ASSERT_TRUE(s.ok()) << s.error().message;
    ASSERT_EQ(s->size(), 4u);
    EXPECT_EQ((*s)[0].count, int64_t{1} << 62);
    EXPECT_EQ((*s)[0].last_seen, 0);
    EXPECT_EQ((*s)[1].last_seen, 253402300799);
    EXPECT_EQ((*s)[1].ips.size(), 4u);
    EXPECT_EQ((*s)[2].last_seen, 1709208000);
    EXPECT_EQ(render_domains_file(*s), d);
}

TEST(Snapshot, ErrorNamesHostFileLineAndExcerpt) {
    EXPECT_EQ(error_of(dline("a.test") + "b.test 01 " + kT + " -\n", ""),
              "web1: unique-domains.log:2: bad count (leading zero) \"01\"");
    EXPECT_EQ(error_of("", iline("1.2.3.4") + iline("01.2.3.5")),
              "web1: unique-ips.log:2: bad address \"01.2.3.5\"");
}

struct BadCase {
    const char* what;
    std::string domains, ips;
    const char* expect;  // substring of the error
};

TEST(Snapshot, RejectsEveryMalformedCase) {
    const std::string t = kT;
    const std::vector<BadCase> cases = {
        {"missing final newline", "a.test 1 " + t + " -", "",
         "unique-domains.log:1: no newline at end of file"},
        {"truncated ips", "", "1.2.3.4 1 2026-11-", "unique-ips.log:1: no newline"},
        {"double space", "a.test  1 " + t + " -\n", "", ":1: extra space"},
        {"trailing space", "a.test 1 " + t + " - \n", "", ":1: extra space"},
        {"leading space", " a.test 1 " + t + " -\n", "", ":1: extra space"},
        {"tab", "a.test\t1 " + t + " -\n", "", ":1: too few fields"},
        {"too many fields", "a.test 1 " + t + " - x\n", "", ":1: too many fields"},
        {"too few fields", "a.test 1 " + t + "\n", "", ":1: too few fields"},
        {"ips too many fields", "", "1.2.3.4 1 " + t + " -\n", "unique-ips.log:1: too many"},
        {"empty line", dline("a.test") + "\n", "", ":2: empty line"},
        {"CRLF", "a.test 1 " + t + " -\r\n", "", ":1: carriage return"},
        {"count word", "a.test x " + t + " -\n", "", "bad count (not a decimal integer) \"x\""},
        {"negative", "a.test -1 " + t + " -\n", "", "bad count (not a decimal integer) \"-1\""},
        {"plus", "a.test +1 " + t + " -\n", "", "bad count (not a decimal integer)"},
        {"zero", "a.test 0 " + t + " -\n", "", "bad count (zero) \"0\""},
        {"leading zero", "a.test 007 " + t + " -\n", "", "bad count (leading zero) \"007\""},
        {"above 2^62", "a.test 4611686018427387905 " + t + " -\n", "", "bad count (too large)"},
        {"beyond uint64", "", "1.2.3.4 99999999999999999999 " + t + "\n", "bad count (too large)"},
        {"space for T", "", "1.2.3.4 1 2026-11-22 11:35:35Z\n", "too many fields"},
        {"offset", "", "1.2.3.4 1 2026-11-22T11:35:35+00:00\n", "bad time"},
        {"fraction", "", "1.2.3.4 1 2026-11-22T11:35:35.5Z\n", "bad time"},
        {"lower z", "", "1.2.3.4 1 2026-11-22T11:35:35z\n", "bad time"},
        {"Feb 30", "", "1.2.3.4 1 2026-02-30T00:00:00Z\n", "bad time \"2026-02-30T00:00:00Z\""},
        {"Feb 29 non-leap", "", "1.2.3.4 1 2100-02-29T00:00:00Z\n", "bad time"},
        {"leap second", "", "1.2.3.4 1 2026-12-31T23:59:60Z\n", "bad time"},
        {"hour 24", "", "1.2.3.4 1 2026-12-31T24:00:00Z\n", "bad time"},
        {"before 1970", "", "1.2.3.4 1 1969-12-31T23:59:59Z\n", "bad time"},
        {"unsorted domains", dline("b.test") + dline("a.test"), "",
         ":2: domains not sorted \"a.test\""},
        {"duplicate domain", dline("a.test") + dline("a.test"), "", ":2: duplicate domain"},
        {"byte order, not length", dline("ab.test") + dline("b.test") + dline("a.test"), "",
         ":3: domains not sorted"},
        {"unsorted ips (numeric)", "", iline("10.0.0.2") + iline("9.0.0.1"),
         "unique-ips.log:2: addresses not sorted \"9.0.0.1\""},
        {"v6 before v4", "", iline("::1") + iline("1.2.3.4"), ":2: addresses not sorted"},
        {"duplicate ip", "", iline("1.2.3.4") + iline("1.2.3.4"), ":2: duplicate address"},
        {"unsorted answer list", dline("a.test", "10.0.0.2,9.0.0.1"), "",
         "addresses not sorted \"9.0.0.1\""},
        {"duplicate answer", dline("a.test", "1.2.3.4,1.2.3.4"), "", "duplicate address"},
        {"empty answer", dline("a.test", "1.2.3.4,"), "", "bad address \"\""},
        {"leading comma", dline("a.test", ",1.2.3.4"), "", "bad address"},
        {"dash in list", dline("a.test", "-,1.2.3.4"), "", "bad address \"-\""},
        {"leading zero quad", "", iline("01.2.3.4"), "bad address \"01.2.3.4\""},
        {"zero-padded octet", "", iline("1.2.3.00"), "bad address"},
        {"short quad", "", iline("1.2.3"), "bad address"},
        {"octet 256", "", iline("1.2.3.256"), "bad address"},
        {"upper-case v6", "", iline("2001:DB8::1"), "bad address \"2001:DB8::1\""},
        {"uncompressed v6", "", iline("2001:db8:0:0:0:0:0:1"), "bad address"},
        {"zero-padded v6", "", iline("2001:0db8::1"), "bad address"},
        {"v6 zone", "", iline("fe80::1%eth0"), "bad address"},
        {"name as ip", "", iline("example.com"), "bad address"},
        {"upper case domain", dline("Example.com"), "", "bad domain (upper case) \"Example.com\""},
        {"trailing dot", dline("example.com."), "", "bad domain (trailing dot)"},
        {"control byte", dline("a\x01.test"), "",
         "bad domain (not printable ASCII) \"a\\x01.test\""},
        {"non-ASCII", dline("caf\xc3\xa9.test"), "", "bad domain (not printable ASCII)"},
        {"domain too long", dline(std::string(254, 'a')), "", "bad domain (longer than 253"},
    };
    for (const auto& c : cases) {
        std::string err = error_of(c.domains, c.ips);
        EXPECT_NE(err.find(c.expect), std::string::npos)
            << c.what << ": got \"" << err << "\", want \"" << c.expect << "\"";
        EXPECT_EQ(err.rfind("web1: unique-", 0), 0u) << c.what << ": " << err;
    }
}

// The parser checks IPv6 text with its own RFC 5952 formatter: it must accept exactly what
// the agent writes (IpAddress::to_string, glibc's inet_ntop) for every shape of zero runs,
// including the ::a.b.c.d and ::ffff:a.b.c.d forms, and reject the other spellings.
TEST(Snapshot, Ipv6TextIsExactlyTheAgents) {
    size_t checked = 0;
    for (unsigned mask = 0; mask < 256; ++mask) {
        for (unsigned v : {0x1u, 0xffffu, 0x0a0bu, 0xc000u}) {
            for (bool ffff5 : {false, true}) {
                uint8_t b[16];
                for (int i = 0; i < 8; ++i) {
                    unsigned w = (mask >> i) & 1 ? 0 : v + static_cast<unsigned>(i);
                    if (i == 5 && ffff5) w = 0xffff;
                    w &= 0xffff;
                    b[2 * i] = static_cast<uint8_t>(w >> 8);
                    b[2 * i + 1] = static_cast<uint8_t>(w);
                }
                IpAddress a = IpAddress::v6(b);
                std::string text = a.to_string();
                auto r = parse_ips_file(iline(text), "web1");
                ASSERT_TRUE(r.ok()) << text << ": " << r.error().message;
                ASSERT_EQ((*r)[0].ip, a);
                ++checked;
                // Upper case, or the fully expanded form, is another spelling: rejected.
                std::string upper = text;
                for (char& c : upper) c = static_cast<char>(std::toupper(c));
                if (upper != text) {
                    EXPECT_FALSE(parse_ips_file(iline(upper), "web1").ok()) << upper;
                }
                char full[40];
                std::snprintf(full, sizeof full, "%x:%x:%x:%x:%x:%x:%x:%x", b[0] << 8 | b[1],
                              b[2] << 8 | b[3], b[4] << 8 | b[5], b[6] << 8 | b[7],
                              b[8] << 8 | b[9], b[10] << 8 | b[11], b[12] << 8 | b[13],
                              b[14] << 8 | b[15]);
                if (full != text) {
                    EXPECT_FALSE(parse_ips_file(iline(full), "web1").ok()) << full;
                }
            }
        }
    }
    EXPECT_EQ(checked, 2048u);
}

TEST(Snapshot, EnforcesLimits) {
    SnapshotLimits lim;
    lim.max_bytes = 100;
    lim.max_lines = 3;
    lim.max_line_bytes = 40;
    std::string three = dline("a.test") + dline("b.test") + dline("c.test");
    ASSERT_LE(three.size(), 100u);
    EXPECT_EQ(error_of(three, "", lim), "");
    EXPECT_EQ(error_of(three + dline("d.test"), "", lim),
              "web1: unique-domains.log: too large: 128 bytes, limit 100");
    lim.max_bytes = 1000;
    EXPECT_EQ(error_of(three + dline("d.test"), "", lim),
              "web1: unique-domains.log:4: too many lines (limit 3) \"d.test 1 " + std::string(kT) +
                  " -\"");
    std::string long_line = "a.test 1 " + std::string(kT) + " 10.0.0.1,10.0.0.2,10.0.0.3\n";
    EXPECT_NE(error_of(long_line, "", lim).find(":1: line too long (56 bytes, limit 40)"),
              std::string::npos);
    // Limits apply to each file alone.
    EXPECT_EQ(error_of(three, iline("1.2.3.4") + iline("1.2.3.5") + iline("1.2.3.6"), lim), "");
}

TEST(Snapshot, ListsUpToMaxReportedThenCounts) {
    std::string d;
    for (int i = 0; i < 5; ++i) d += "a" + std::to_string(i) + " 0 " + kT + " -\n";
    SnapshotLimits lim;
    lim.max_reported = 2;
    EXPECT_EQ(error_of(d, "1.2.3.4 1 x\n", lim),
              "web1: unique-domains.log:1: bad count (zero) \"0\"\n"
              "web1: unique-domains.log:2: bad count (zero) \"0\"\n"
              "... and 4 more");
    // Several problems on one line are all reported.
    EXPECT_EQ(error_of("", "1.2.3.4 0 x\n"),
              "web1: unique-ips.log:1: bad count (zero) \"0\"\n"
              "web1: unique-ips.log:1: bad time \"x\"");
}

TEST(Snapshot, ExcerptIsCutAndEscaped) {
    std::string name = "a\"b\\c\x7f" + std::string(100, 'x');
    std::string err = error_of(dline(name), "");
    EXPECT_EQ(err,
              "web1: unique-domains.log:1: bad domain (not printable ASCII) \"a\\x22b\\x5cc\\x7f" +
                  std::string(54, 'x') + "...\"");
}

// 10,000 domains and 20,000 addresses: about 4 ms in an optimised build, under 200 ms with
// ASan in Debug; the bound only catches a parser gone quadratic, on a loaded machine too.
TEST(Snapshot, ParsesLargeFilesQuickly) {
    std::vector<DomainEntry> domains;
    for (int i = 0; i < 10000; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "host%05d.example.com", i);
        DomainEntry e{name, i + 1, kUnix + i, {}};
        e.ips.push_back(IpAddress::v4(0x0a000000u + static_cast<uint32_t>(i)));
        if (i % 2) e.ips.push_back(IpAddress::v4(0x0b000000u + static_cast<uint32_t>(i)));
        domains.push_back(std::move(e));
    }
    std::vector<IpEntry> ips;
    for (int i = 0; i < 15000; ++i)
        ips.push_back({IpAddress::v4(0x01000000u + static_cast<uint32_t>(i) * 977), i + 1, kUnix});
    for (int i = 0; i < 5000; ++i) {
        uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
        b[12] = static_cast<uint8_t>(i >> 8);
        b[13] = static_cast<uint8_t>(i);
        b[15] = 1;
        ips.push_back({IpAddress::v6(b), 1, kUnix});
    }
    std::string d = render_domains_file(domains), a = render_ips_file(ips);
    auto start = std::chrono::steady_clock::now();
    auto s = parse_snapshot(d, a, "web1");
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(s->domains, domains);
    EXPECT_EQ(s->ips, ips);
    EXPECT_LT(ms, 2000) << "parse took " << ms << " ms";
}

}  // namespace em
