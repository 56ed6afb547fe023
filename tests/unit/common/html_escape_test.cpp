// HTML escaping of what monitored hosts report: markup stays text, quotes cannot end an
// attribute, and controls are made visible first, as for a terminal.
#include <gtest/gtest.h>

#include "common/html_escape.h"

namespace em {
namespace {

TEST(HtmlEscape, MarkupAndQuotesBecomeReferences) {
    EXPECT_EQ(escape_html("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
    EXPECT_EQ(escape_html(R"(a" onmouseover="x' &amp;)"),
              "a&quot; onmouseover=&quot;x&#39; &amp;amp;");
    EXPECT_EQ(escape_html("plain.example.com 203.0.113.9"), "plain.example.com 203.0.113.9");
    EXPECT_EQ(escape_html("bücher.example"), "bücher.example");
}

TEST(HtmlEscape, ControlsAndBidiAreVisibleEscapes) {
    EXPECT_EQ(escape_html("a\nb\x1b[2J"), "a\\x0ab\\x1b[2J");
    EXPECT_EQ(escape_html("evil\u202Egnp.exe"), "evil\\u202egnp.exe");
    EXPECT_EQ(escape_html(std::string("x\xff<", 3)), "x\\xff&lt;");
    std::string out = "kept:";
    append_html_escaped("<", out);
    EXPECT_EQ(out, "kept:&lt;");
}

TEST(HtmlEscape, UrlComponentsArePercentEncoded) {
    std::string out;
    append_url_component("a.b-c_d~9 &x=\"<'/%", out);
    EXPECT_EQ(out, "a.b-c_d~9%20%26x%3D%22%3C%27%2F%25");
    out.clear();
    append_url_component("*.*.example.com", out);
    EXPECT_EQ(out, "%2A.%2A.example.com");
}

}  // namespace
}  // namespace em
