#include "format/writer.h"

#include <gtest/gtest.h>

namespace em {

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

}  // namespace

// DESIGN.md's example lines, byte for byte.
TEST(AggregateWriter, SpellsTheLinesOfTheSpecification) {
    std::string d = render_domains_file(
        {{"api.github.com", 42, 1795347055, {ip("140.82.112.5"), ip("140.82.112.6")}},
         {"gone.test", 1, 0, {}},
         {"v6.test", 3, 1795347062, {ip("2001:db8:0:0:0:0:0:1"), ip("::ffff:1.2.3.4")}}});
    EXPECT_EQ(d,
              "api.github.com 42 2026-11-22T11:30:55Z 140.82.112.5,140.82.112.6\n"
              "gone.test 1 1970-01-01T00:00:00Z -\n"
              "v6.test 3 2026-11-22T11:31:02Z 2001:db8::1,::ffff:1.2.3.4\n");
    EXPECT_EQ(
        render_ips_file({{ip("140.82.112.5"), 17, 1795347062}, {ip("2001:DB8::A"), 1, 1795347062}}),
        "140.82.112.5 17 2026-11-22T11:31:02Z\n"
        "2001:db8::a 1 2026-11-22T11:31:02Z\n");
    EXPECT_EQ(render_domains_file({}), "");
    EXPECT_EQ(render_ips_file({}), "");
}

}  // namespace em
