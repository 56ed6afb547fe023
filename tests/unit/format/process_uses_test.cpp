// process-uses.log: the one writer and the strict parser (format/writer.h, format/parser.h).
// Its exe, user and container are what a local user chooses, so the tests feed them every
// byte a path or name can hold.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "format/fields.h"
#include "format/parser.h"
#include "format/writer.h"

namespace em {

namespace {

constexpr const char* kT0 = "2026-11-22T11:30:00Z";  // 1795347000
constexpr const char* kT = "2026-11-22T11:35:35Z";   // 1795347335
constexpr int64_t kUnix0 = 1795347000, kUnix = 1795347335;

std::string uline(const std::string& kind, const std::string& dest, const std::string& exe,
                  const std::string& user = "root", const std::string& container = "-") {
    return kind + " " + dest + " " + exe + " " + user + " " + container + " 1 " + kT0 + " " + kT +
           "\n";
}

std::string error_of(const std::string& text, const SnapshotLimits& limits = {}) {
    auto r = parse_process_uses_file(text, "web1", limits);
    return r.ok() ? "" : r.error().message;
}

}  // namespace

TEST(ProcessUsesFile, WriterSpellsTheLinesAndTheParserGivesThemBack) {
    std::string out;
    append_process_use_line(out, 'd', "api.github.com", "/usr/bin/curl", "root", "", 3, kUnix0,
                            kUnix);
    append_process_use_line(out, 'i', "2001:db8::1", "/opt/my app/run", "svc", "3f2a9c", 1, kUnix,
                            kUnix);
    EXPECT_EQ(out, std::string("d api.github.com /usr/bin/curl root - 3 ") + kT0 + " " + kT +
                       "\ni 2001:db8::1 /opt/my%20app/run svc 3f2a9c 1 " + kT + " " + kT + "\n");
    auto r = parse_process_uses_file(out, "web1");
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0], (ProcessUseEntry{'d', "api.github.com", "/usr/bin/curl", "root", "", 3,
                                        kUnix0, kUnix}));
    EXPECT_EQ((*r)[1].exe, "/opt/my app/run");
    EXPECT_EQ((*r)[1].container, "3f2a9c");
    EXPECT_EQ(render_process_uses_file(*r), out);
}

// Every byte value in an exe path, a user named "-" and an empty one: each comes back as it
// was, and the text has one spelling (so writing what was read gives the same bytes).
TEST(ProcessUsesFile, EveryByteOfAFieldRoundTrips) {
    std::string every;
    for (int c = 1; c < 256; ++c) every += static_cast<char>(c);
    const std::vector<ProcessUseEntry> uses = {
        {'d', "a.test", "", "-", "", 1, kUnix, kUnix},
        {'d', "a.test", every, "root", "", 2, kUnix, kUnix},  // "\x01..." sorts before "-x"
        {'d', "a.test", "-x", "%", "-", 1, kUnix, kUnix},
    };
    const std::string out = render_process_uses_file(uses);
    EXPECT_NE(out.find("d a.test - %2D - 1 "), std::string::npos) << out;
    EXPECT_NE(out.find("d a.test -x %25 %2D 1 "), std::string::npos) << out;
    for (char c : std::string_view(out).substr(0, out.size() - 1))
        ASSERT_TRUE(c == '\n' || (c > 0x20 && c < 0x7f) || c == ' ') << static_cast<int>(c);
    auto r = parse_process_uses_file(out, "web1");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, uses);
    EXPECT_EQ(render_process_uses_file(*r), out);
}

TEST(ProcessUsesFile, OnlyTheWritersSpellingIsAccepted) {
    EXPECT_EQ(error_of(uline("d", "a.test", "/usr/bin/curl")), "");
    // A byte written as itself may not be escaped, hex is upper case, escapes are whole.
    EXPECT_NE(error_of(uline("d", "a.test", "/usr/bin/%63url")).find("written as itself"),
              std::string::npos);
    EXPECT_NE(error_of(uline("d", "a.test", "/opt/a%2fb")).find("upper-case"), std::string::npos);
    EXPECT_NE(error_of(uline("d", "a.test", "/opt/a%2")).find("short"), std::string::npos);
    EXPECT_NE(error_of(uline("d", "a.test", "/opt/a%")).find("short"), std::string::npos);
    EXPECT_NE(error_of(uline("d", "a.test", "/x", "%2D%2D")).find("written as itself"),
              std::string::npos);
    // A byte the writer escapes may not be there as itself.
    for (std::string raw :
         {std::string("/opt/a\tb"), std::string("/opt/\xa4"), std::string("/opt/\x7f")})
        EXPECT_NE(error_of(uline("d", "a.test", raw)).find("not %-escaped"), std::string::npos)
            << raw;
    // A field over 4096 bytes decoded.
    EXPECT_NE(error_of(uline("d", "a.test", "/" + std::string(4096, 'a'))).find("4096"),
              std::string::npos);
}

TEST(ProcessUsesFile, KindsAndDestinationsAreChecked) {
    EXPECT_EQ(error_of(uline("i", "192.0.2.1", "/x")), "");
    EXPECT_EQ(error_of(uline("d", "*.example.test", "/x")), "");
    EXPECT_EQ(error_of(uline("x", "a.test", "/x")),
              "web1: process-uses.log:1: bad kind (want d or i) \"x\"");
    EXPECT_EQ(error_of(uline("dd", "a.test", "/x")),
              "web1: process-uses.log:1: bad kind (want d or i) \"dd\"");
    EXPECT_NE(error_of(uline("i", "a.test", "/x")).find("bad address"), std::string::npos);
    EXPECT_NE(error_of(uline("i", "192.0.2.01", "/x")).find("bad address"), std::string::npos);
    EXPECT_NE(error_of(uline("d", "A.test", "/x")).find("upper case"), std::string::npos);
}

TEST(ProcessUsesFile, LinesAreSortedByTheDecodedKeyWithoutDuplicates) {
    // Decoded, " " (0x20) sorts before "!" (0x21) although "%20" sorts after "!".
    const std::string sorted = uline("d", "a.test", "/a%20") + uline("d", "a.test", "/a!") +
                               uline("d", "b.test", "/a") + uline("i", "192.0.2.1", "/a");
    EXPECT_EQ(error_of(sorted), "");
    EXPECT_NE(error_of(uline("d", "b.test", "/a") + uline("d", "a.test", "/a")).find("not sorted"),
              std::string::npos);
    EXPECT_NE(error_of(uline("d", "a.test", "/a") + uline("d", "a.test", "/a")).find("duplicate"),
              std::string::npos);
    EXPECT_NE(error_of(uline("d", "a.test", "/a", "root", "c2") +
                       uline("d", "a.test", "/a", "root", "c1"))
                  .find("not sorted"),
              std::string::npos);
}

TEST(ProcessUsesFile, CountsTimesAndShapeAreStrict) {
    EXPECT_NE(error_of("d a.test /x root - 0 " + std::string(kT0) + " " + kT + "\n").find("zero"),
              std::string::npos);
    EXPECT_NE(error_of("d a.test /x root - 1 " + std::string(kT) + " " + kT0 + "\n")
                  .find("first seen after last seen"),
              std::string::npos);
    EXPECT_NE(
        error_of("d a.test /x root - 1 2026-11-22 " + std::string(kT) + "\n").find("bad time"),
        std::string::npos);
    EXPECT_NE(
        error_of("d a.test /x root 1 " + std::string(kT0) + " " + kT + "\n").find("too few fields"),
        std::string::npos);
    EXPECT_NE(
        error_of("d  a.test /x root - 1 " + std::string(kT0) + " " + kT + "\n").find("empty field"),
        std::string::npos);
    std::string truncated = uline("d", "a.test", "/x");
    truncated.pop_back();
    EXPECT_NE(error_of(truncated).find("no newline"), std::string::npos);
    SnapshotLimits small;
    small.max_lines = 1;
    EXPECT_NE(error_of(uline("d", "a.test", "/x") + uline("d", "b.test", "/x"), small)
                  .find("too many lines"),
              std::string::npos);
    EXPECT_TRUE(parse_process_uses_file("", "web1").ok());
}

// What a hostile local user can put into the ledger (an exe path of 5,000 bytes, an address
// the ledger did not canonicalise) is left out by the writer: one such line would cost the
// reader the whole file.
TEST(ProcessUsesFile, TheWriterLeavesOutWhatTheParserRefuses) {
    const std::vector<ProcessUseEntry> uses = {
        {'d', "a.test", "/" + std::string(5000, 'a'), "root", "", 1, kUnix, kUnix},
        {'d', "A.test", "/x", "root", "", 1, kUnix, kUnix},
        {'i', "192.0.2.01", "/x", "root", "", 1, kUnix, kUnix},
        {'q', "a.test", "/x", "root", "", 1, kUnix, kUnix},
        {'d', "b.test", "/x", "root", "", 1, kUnix0, kUnix},
    };
    const std::string out = render_process_uses_file(uses);
    EXPECT_EQ(out, uline("d", "b.test", "/x"));
    EXPECT_TRUE(parse_process_uses_file(out, "web1").ok());
}

// Counts and times the parser refuses are not written either; beyond kMaxProcessUsesLines the
// least recently used lines are left out (counted), the rest still in key order.
TEST(ProcessUsesFile, TheWriterKeepsTheMostRecentWithinTheLimits) {
    const std::vector<ProcessUseEntry> bad = {
        {'d', "a.test", "/x", "root", "", 0, kUnix, kUnix},
        {'d', "b.test", "/x", "root", "", 1, kUnix, kUnix0},
        {'d', "c.test", "/x", "root", "", 1, -1, kUnix},
    };
    size_t left_out = 0;
    EXPECT_EQ(render_process_uses_file(bad, &left_out), "");
    EXPECT_EQ(left_out, 3u);

    std::vector<ProcessUseEntry> many;
    for (size_t i = 0; i <= kMaxProcessUsesLines; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "h%07zu.test", i);
        // Every line as recent as the next but one: h0000000 is the least recently used.
        many.push_back({'d', name, "/x", "root", "", 1, kUnix0, kUnix + (i == 0 ? -1 : 0)});
    }
    const std::string out = render_process_uses_file(many, &left_out);
    EXPECT_EQ(left_out, 1u);
    EXPECT_EQ(out.find("h0000000.test"), std::string::npos);
    SnapshotLimits limits;
    limits.max_lines = kMaxProcessUsesLines;
    limits.max_bytes = kMaxProcessUsesBytes;
    auto r = parse_process_uses_file(out, "web1", limits);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->size(), kMaxProcessUsesLines);
    EXPECT_EQ(r->front().dest, "h0000001.test");
}

}  // namespace em
