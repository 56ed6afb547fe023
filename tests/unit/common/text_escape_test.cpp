#include "common/text_escape.h"

#include <gtest/gtest.h>

namespace em {
namespace {

TEST(TextEscapeTest, ControlBytesAndDelAreEscaped) {
    EXPECT_EQ(escape_text("a\nb\rc\td\x1b[31m"), "a\\x0ab\\x0dc\\x09d\\x1b[31m");
    EXPECT_EQ(escape_text(std::string_view("\x00\x7f", 2)), "\\x00\\x7f");
    EXPECT_EQ(escape_text("back\\slash"), "back\\\\slash");
}

TEST(TextEscapeTest, C1ControlsAreEscapedAsBytesAndAsCodePoints) {
    // A single C1 byte (an 8-bit CSI is 0x9b) is not UTF-8: escaped as the byte.
    EXPECT_EQ(escape_text("x\x9b"
                          "31my\x85z"),
              "x\\x9b31my\\x85z");
    // U+009B and U+0085 (NEL, a newline to some readers) encoded in UTF-8.
    EXPECT_EQ(escape_text("x\xc2\x9b"
                          "31my\xc2\x85z"),
              "x\\u009b31my\\u0085z");
    EXPECT_EQ(escape_text("\xc2\x80\xc2\x9f"), "\\u0080\\u009f");
}

TEST(TextEscapeTest, SeparatorsAndBidiControlsAreEscaped) {
    EXPECT_EQ(escape_text("a\xe2\x80\xa8"
                          "b\xe2\x80\xa9"
                          "c"),
              "a\\u2028b\\u2029c");
    EXPECT_EQ(escape_text("evil\xe2\x80\xae"
                          "moc.x"),
              "evil\\u202emoc.x");
    EXPECT_EQ(escape_text("\xe2\x81\xa6\xe2\x80\x8f"), "\\u2066\\u200f");
}

TEST(TextEscapeTest, PrintableTextAndOtherUtf8PassUnchanged) {
    EXPECT_EQ(escape_text("api.github.com 42 [prod,web] a:b"), "api.github.com 42 [prod,web] a:b");
    EXPECT_EQ(escape_text("b\xc3\xbc"
                          "cher.example \xc2\xa0 \xe2\x82\xac"),
              "b\xc3\xbc"
              "cher.example \xc2\xa0 \xe2\x82\xac");
    // Invalid UTF-8: overlong NUL, a lone continuation byte, a truncated sequence.
    EXPECT_EQ(escape_text("\xc0\x80|\xa0|\xe2\x82"), "\\xc0\\x80|\\xa0|\\xe2\\x82");
}

TEST(TextEscapeTest, SlackMarkupIsEscaped) {
    EXPECT_EQ(escape_slack("<!channel>-<https://evil.example/login|click>.x.test & co"),
              "&lt;!channel&gt;-&lt;https://evil.example/login|click&gt;.x.test &amp; co");
}

TEST(StorableText, KeepsWellFormedUtf8AndSpellsOtherBytes) {
    EXPECT_EQ(storable_text("web1: connection refused"), "web1: connection refused");
    // Controls and C1 characters are well-formed: kept (escaped where shown, not here).
    EXPECT_EQ(storable_text("a\x1b[2J\xc2\x9b\xe2\x82\xac"), "a\x1b[2J\xc2\x9b\xe2\x82\xac");
    EXPECT_EQ(storable_text(std::string_view("a\0b", 3)), "a\\x00b");
    EXPECT_EQ(storable_text("\x9b"
                            "1m \xff\xfe \xc0\xaf \xed\xa0\x80 tail\xe2\x82"),
              "\\x9b1m \\xff\\xfe \\xc0\\xaf \\xed\\xa0\\x80 tail\\xe2\\x82");
    EXPECT_EQ(storable_text(""), "");
}

}  // namespace
}  // namespace em
