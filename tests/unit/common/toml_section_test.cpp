#include "common/toml_section.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace em {
namespace {

// The document must outlive the sections read from it.
struct Doc {
    explicit Doc(const std::string& text) {
        auto r = parse_toml(text, "f.toml");
        EXPECT_TRUE(r) << r.error().message;
        if (r) table = std::move(r).value();
    }
    const toml::table* section(const char* name) const { return table[name].as_table(); }
    toml::table table;
};

TEST(ParseToml, SyntaxErrorsNameFileLineAndColumn) {
    auto r = parse_toml("a = 1\nb = \n", "f.toml");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message.rfind("f.toml:2:", 0), 0u) << r.error().message;
    r = parse_toml("[s\n", "g.toml");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message.rfind("g.toml:1:", 0), 0u) << r.error().message;
}

TEST(TomlSection, TypedGettersReadPresentKeysAndKeepDefaults) {
    Doc d(R"([s]
flag = true
count = 42
small = 7
ratio = 0.25
whole = 3
name = "web"
list = ["a", "b"]
wait = "500ms"
size = "4MiB"
plain_size = 4096
labels = { host = "h1", env = "prod" }
)");
    TomlSection s(d.section("s"), "s", "f.toml");
    bool flag = false, absent_flag = true;
    int64_t count = 0, absent = -1;
    uint16_t small = 0;
    double ratio = 0, whole = 0;
    std::string name, absent_text = "keep";
    std::vector<std::string> list = {"old"};
    int64_t wait = 0;
    uint64_t size = 0, plain_size = 0;
    std::map<std::string, std::string> labels = {{"job", "x"}};
    EXPECT_TRUE(s.boolean("flag", flag));
    EXPECT_TRUE(s.boolean("nope", absent_flag));
    EXPECT_TRUE(s.integer("count", count, 0, 100));
    EXPECT_TRUE(s.integer("missing", absent, 0, 100));
    EXPECT_TRUE(s.integer("small", small, 0, 65535));
    EXPECT_TRUE(s.number("ratio", ratio, 0, 1));
    EXPECT_TRUE(s.number("whole", whole, 0, 10));
    EXPECT_TRUE(s.text("name", name, TomlSection::Empty::refused));
    EXPECT_TRUE(s.text("gone", absent_text));
    EXPECT_TRUE(s.strings("list", list));
    EXPECT_TRUE(s.duration_ms("wait", wait));
    EXPECT_TRUE(s.size_bytes("size", size, 0, uint64_t{1} << 30));
    EXPECT_TRUE(s.size_bytes("plain_size", plain_size, 0, uint64_t{1} << 30));
    EXPECT_TRUE(s.string_table("labels", labels));
    ASSERT_TRUE(s.finish()) << s.finish().error().message;
    EXPECT_TRUE(flag);
    EXPECT_TRUE(absent_flag);
    EXPECT_EQ(count, 42);
    EXPECT_EQ(absent, -1);
    EXPECT_EQ(small, 7);
    EXPECT_DOUBLE_EQ(ratio, 0.25);
    EXPECT_DOUBLE_EQ(whole, 3.0);
    EXPECT_EQ(name, "web");
    EXPECT_EQ(absent_text, "keep");
    EXPECT_EQ(list, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(wait, 500);
    EXPECT_EQ(size, uint64_t{4} << 20);
    EXPECT_EQ(plain_size, 4096u);
    EXPECT_EQ(labels,
              (std::map<std::string, std::string>{{"env", "prod"}, {"host", "h1"}, {"job", "x"}}));
}

// Each wrong value: the message names the file, the line of the value and the key.
TEST(TomlSection, WrongValuesNameFileLineAndKey) {
    struct Case {
        const char* text;
        std::function<void(TomlSection&)> read;
        const char* want;
    };
    bool b;
    int64_t i;
    double n;
    std::string t;
    std::vector<std::string> v;
    uint64_t z;
    std::map<std::string, std::string> m;
    const Case cases[] = {
        {"[s]\n\nk = 1\n", [&](TomlSection& s) { s.boolean("k", b); },
         "f.toml:3: s.k must be true or false"},
        {"[s]\nk = 1.5\n", [&](TomlSection& s) { s.integer("k", i, 0, 9); },
         "f.toml:2: s.k must be an integer in [0, 9]"},
        {"[s]\nk = 10\n", [&](TomlSection& s) { s.integer("k", i, 0, 9); },
         "f.toml:2: s.k must be an integer in [0, 9]"},
        {"[s]\nk = \"1\"\n", [&](TomlSection& s) { s.number("k", n, 0, 9); },
         "f.toml:2: s.k must be a number"},
        {"[s]\nk = 9.5\n", [&](TomlSection& s) { s.number("k", n, 0, 9); },
         "f.toml:2: s.k must be in [0, 9]"},
        {"[s]\nk = 1\n", [&](TomlSection& s) { s.text("k", t); }, "f.toml:2: s.k must be a string"},
        {"[s]\nk = \"\"\n", [&](TomlSection& s) { s.text("k", t, TomlSection::Empty::refused); },
         "f.toml:2: s.k must not be empty"},
        {"[s]\nk = \"a\"\n", [&](TomlSection& s) { s.strings("k", v); },
         "f.toml:2: s.k must be an array of strings"},
        {"[s]\nk = [\n  \"a\",\n  2,\n]\n", [&](TomlSection& s) { s.strings("k", v); },
         "f.toml:4: s.k must be an array of strings"},
        {"[s]\nk = 5\n", [&](TomlSection& s) { s.duration_ms("k", i); },
         "f.toml:2: s.k must be a duration such as \"5s\""},
        {"[s]\nk = \"5d\"\n", [&](TomlSection& s) { s.duration_ms("k", i); },
         "f.toml:2: s.k: bad duration \"5d\" (e.g. 5s, 500ms, 2m; at most 24h)"},
        {"[s]\nk = \"3m\"\n", [&](TomlSection& s) { s.duration_ms("k", i, 100, 120000); },
         "f.toml:2: s.k must be from 100ms to 2m"},
        {"[s]\nk = \"4MB\"\n", [&](TomlSection& s) { s.size_bytes("k", z, 0, 1 << 30); },
         "f.toml:2: s.k: bad size \"4MB\" (e.g. 4096, 64KiB, 4MiB, 1GiB)"},
        {"[s]\nk = \"2GiB\"\n", [&](TomlSection& s) { s.size_bytes("k", z, 1, 1 << 30); },
         "f.toml:2: s.k must be from 1 to 1073741824 bytes"},
        {"[s]\nk = -1\n", [&](TomlSection& s) { s.size_bytes("k", z, 0, 1 << 30); },
         "f.toml:2: s.k must be from 0 to 1073741824 bytes"},
        {"[s]\nk = true\n", [&](TomlSection& s) { s.size_bytes("k", z, 0, 1 << 30); },
         "f.toml:2: s.k must be a size such as \"4MiB\" or a number of bytes"},
        {"[s]\nk = 1\n", [&](TomlSection& s) { s.string_table("k", m); },
         "f.toml:2: s.k must be a table"},
        {"[s]\nk = { a = \"x\", b = 2 }\n", [&](TomlSection& s) { s.string_table("k", m); },
         "f.toml:2: s.k values are strings"},
        {"[s]\nk = 1\n", [&](TomlSection& s) { s.table("k"); }, "f.toml:2: s.k must be a table"},
    };
    for (const auto& c : cases) {
        Doc d(c.text);
        TomlSection s(d.section("s"), "s", "f.toml");
        c.read(s);
        EXPECT_FALSE(s.ok()) << c.text;
        auto r = s.finish();
        ASSERT_FALSE(r) << c.text;
        EXPECT_EQ(r.error().message, c.want) << c.text;
    }
}

TEST(TomlSection, AWrongValueLeavesTheDefault) {
    Doc d("[s]\nn = 99\nname = 3\nlist = [\"a\", 1]\n");
    TomlSection s(d.section("s"), "s", "f.toml");
    int64_t n = 5;
    EXPECT_FALSE(s.integer("n", n, 0, 10));
    EXPECT_EQ(n, 5);
    std::vector<std::string> list = {"keep"};
    TomlSection s2(d.section("s"), "s", "f.toml");
    EXPECT_FALSE(s2.strings("list", list));
    EXPECT_EQ(list, std::vector<std::string>{"keep"});
}

TEST(TomlSection, UnknownKeysAreRejectedByFinish) {
    Doc d("[s]\nknown = 1\n\ncolour = \"red\"\n");
    TomlSection s(d.section("s"), "s", "f.toml");
    int64_t k = 0;
    s.integer("known", k, 0, 9);
    ASSERT_TRUE(s.status());
    auto r = s.finish();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "f.toml:4: unknown key s.colour");
    EXPECT_EQ(s.finish("rule").error().message, "f.toml:4: unknown rule s.colour");

    // node() and table() mark their keys as known; find() does not.
    TomlSection s2(d.section("s"), "s", "f.toml");
    ASSERT_NE(s2.node("known"), nullptr);
    ASSERT_NE(s2.find("colour"), nullptr);
    EXPECT_EQ(s2.finish().error().message, "f.toml:4: unknown key s.colour");
    s2.node("colour");
    EXPECT_TRUE(s2.finish());

    // The top level: keys without a section prefix.
    TomlSection top(&d.table, "", "f.toml");
    EXPECT_EQ(top.finish().error().message, "f.toml:1: unknown key s");
    EXPECT_EQ(top.qualified("k"), "k");
    EXPECT_EQ(s.qualified("k"), "s.k");
}

TEST(TomlSection, TheFirstErrorSticks) {
    Doc d("[s]\na = \"x\"\nb = \"y\"\nzzz = 1\n");
    TomlSection s(d.section("s"), "s", "f.toml");
    int64_t a = 0, b = 0;
    EXPECT_FALSE(s.integer("a", a, 0, 9));
    EXPECT_FALSE(s.integer("b", b, 0, 9));
    EXPECT_FALSE(s.fail("b", "is wrong too"));
    EXPECT_EQ(s.finish().error().message, "f.toml:2: s.a must be an integer in [0, 9]");
}

TEST(TomlSection, AbsentSectionKeepsDefaults) {
    TomlSection s(nullptr, "absent", "f.toml");
    std::string t = "default";
    int64_t i = 3;
    EXPECT_TRUE(s.text("t", t));
    EXPECT_TRUE(s.integer("i", i, 0, 9));
    EXPECT_EQ(s.table("sub"), nullptr);
    EXPECT_TRUE(s.finish());
    EXPECT_EQ(t, "default");
    EXPECT_EQ(i, 3);
    EXPECT_EQ(s.where(), "f.toml");
    s.fail("t", "is missing");
    EXPECT_EQ(s.finish().error().message, "f.toml: absent.t is missing");
}

TEST(TomlSection, ChecksAcrossKeysUseTheLinesOfTheirNodes) {
    Doc d("a = 1\n\n[s]\nx = \"1\"\n\ny = \"2\"\n");
    TomlSection s(d.section("s"), "s", "f.toml");
    EXPECT_EQ(s.where(), "f.toml:3");
    ASSERT_NE(s.find("y"), nullptr);
    EXPECT_EQ(s.where(*s.find("y")), "f.toml:6");
    s.fail_at(*s.find("y"), "x and y exclude each other");
    EXPECT_EQ(s.status().error().message, "f.toml:6: x and y exclude each other");
    TomlSection s2(d.section("s"), "s", "f.toml");
    s2.fail_here("needs z");
    EXPECT_EQ(s2.status().error().message, "f.toml:3: needs z");
    TomlSection s3(d.section("s"), "s", "f.toml");
    std::string x;
    if (s3.text("x", x) && x != "2") s3.fail("x", "'" + x + "': want 2");
    EXPECT_EQ(s3.status().error().message, "f.toml:4: s.x '1': want 2");
}

}  // namespace
}  // namespace em
