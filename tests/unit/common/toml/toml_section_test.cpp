// The TOML section reader: typed getters, the first error kept, unknown keys, file:line.
#include "common/toml/toml_section.h"

#include <gtest/gtest.h>

namespace em {
namespace {

const std::string kPath = "/etc/x.toml";

toml::table parse(std::string_view text) {
    auto t = parse_toml(text, kPath);
    EXPECT_TRUE(t) << (t ? "" : t.error().message);
    return t ? std::move(*t) : toml::table{};
}

TEST(TomlSection, SyntaxErrorNamesFileLineAndColumn) {
    auto t = parse_toml("a = 1\nb = = 2\n", kPath);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().message.rfind("/etc/x.toml:2:", 0), 0u) << t.error().message;
}

TEST(TomlSection, ReadsEachTypeAndLeavesAbsentKeys) {
    auto doc = parse("[s]\nb = true\ni = 7\nf = 1.5\nn = 3\nt = \"x\"\na = [\"p\", \"q\"]\n");
    TomlSection s(doc["s"].as_table(), "s", kPath);
    bool b = false;
    int i = 0;
    uint16_t small = 9;
    double f = 0, n = 0;
    std::string t, absent = "kept";
    std::vector<std::string> a = {"old"};
    s.boolean("b", b).integer("i", i, 0, 10).integer("none", small, 0, 10);
    s.number("f", f, 0, 2).number("n", n, 0, 5).text("t", t).text("zz", absent).strings("a", a);
    ASSERT_TRUE(s.finish());
    EXPECT_TRUE(b);
    EXPECT_EQ(i, 7);
    EXPECT_EQ(small, 9);
    EXPECT_EQ(f, 1.5);
    EXPECT_EQ(n, 3.0);
    EXPECT_EQ(t, "x");
    EXPECT_EQ(absent, "kept");
    EXPECT_EQ(a, (std::vector<std::string>{"p", "q"}));
}

TEST(TomlSection, AbsentTableIsAllDefaults) {
    TomlSection s(nullptr, "s", kPath);
    int i = 4;
    s.integer("i", i, 0, 10);
    EXPECT_TRUE(s.finish());
    EXPECT_EQ(i, 4);
}

TEST(TomlSection, WrongTypesAndRangesNameFileLineAndKey) {
    auto doc = parse("[s]\nb = 1\ni = 11\nfl = 2.0\nt = 5\na = [\"p\",\n 3]\ne = \"\"\ntab = 1\n");
    const toml::table* s_table = doc["s"].as_table();
    auto first_error = [&](auto get) {
        TomlSection s(s_table, "rules.s", kPath);
        get(s);
        auto r = s.status();
        return r ? std::string("ok") : r.error().message;
    };
    bool b;
    int i;
    double d;
    std::string t;
    std::vector<std::string> a;
    EXPECT_EQ(first_error([&](TomlSection& s) { s.boolean("b", b); }),
              "/etc/x.toml:2: rules.s.b must be true or false");
    EXPECT_EQ(first_error([&](TomlSection& s) { s.integer("i", i, 0, 10); }),
              "/etc/x.toml:3: rules.s.i must be an integer in [0, 10]");
    EXPECT_EQ(first_error([&](TomlSection& s) { s.integer("fl", i, 0, 10); }),
              "/etc/x.toml:4: rules.s.fl must be an integer in [0, 10]");
    EXPECT_EQ(first_error([&](TomlSection& s) { s.number("i", d, 0, 10); }),
              "/etc/x.toml:3: rules.s.i must be in [0, 10]");
    EXPECT_EQ(first_error([&](TomlSection& s) { s.number("e", d, 0, 10); }),
              "/etc/x.toml:8: rules.s.e must be a number");
    EXPECT_EQ(first_error([&](TomlSection& s) { s.text("t", t); }),
              "/etc/x.toml:5: rules.s.t must be a string");
    EXPECT_EQ(first_error([&](TomlSection& s) { s.text("e", t); }), "ok");
    EXPECT_EQ(first_error([&](TomlSection& s) { s.text("e", t, true); }),
              "/etc/x.toml:8: rules.s.e must not be empty");
    // An element's own line.
    EXPECT_EQ(first_error([&](TomlSection& s) { s.strings("a", a); }),
              "/etc/x.toml:7: rules.s.a must be an array of strings");
    EXPECT_EQ(first_error([&](TomlSection& s) { (void)s.table("tab"); }),
              "/etc/x.toml:9: rules.s.tab must be a table");
}

TEST(TomlSection, FirstErrorInCallOrderIsKeptAndLaterGettersDoNothing) {
    auto doc = parse("z = \"no\"\na = \"no\"\nc = 3\n");
    TomlSection s(&doc, "", kPath);
    int z = 0, a = 0, c = 0;
    s.integer("z", z, 0, 9).integer("a", a, 0, 9).integer("c", c, 0, 9);
    auto r = s.finish();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "/etc/x.toml:1: z must be an integer in [0, 9]");
    EXPECT_EQ(c, 0);  // not read after the error
    s.fail(Error{"later"});
    EXPECT_EQ(s.finish().error().message, "/etc/x.toml:1: z must be an integer in [0, 9]");
}

TEST(TomlSection, UnknownKeyIsTheFirstUnreadInTableOrder) {
    auto doc = parse("[agent]\nzeta = 1\nknown = 2\nbeta = 3\n");
    TomlSection s(doc["agent"].as_table(), "agent", kPath);
    int known = 0;
    s.integer("known", known, 0, 9);
    EXPECT_TRUE(s.status());
    auto r = s.finish();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "/etc/x.toml:4: unknown key agent.beta");
    s.ignore("beta");
    EXPECT_EQ(s.finish().error().message, "/etc/x.toml:2: unknown key agent.zeta");
    (void)s.node("zeta");
    EXPECT_TRUE(s.finish());
}

TEST(TomlSection, TopLevelKeysHaveNoSectionPrefix) {
    auto doc = parse("threads = 0\n");
    TomlSection s(&doc, "", kPath);
    int threads = 2;
    s.integer("threads", threads, 1, 64);
    EXPECT_EQ(s.finish().error().message, "/etc/x.toml:1: threads must be an integer in [1, 64]");
    auto doc2 = parse("other = 1\n");
    EXPECT_EQ(TomlSection(&doc2, "", kPath).finish().error().message,
              "/etc/x.toml:1: unknown key other");
}

}  // namespace
}  // namespace em
