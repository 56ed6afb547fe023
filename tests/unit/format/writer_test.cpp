#include "format/writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace em {

namespace {

namespace fs = std::filesystem;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

std::string read(const fs::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

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

TEST(AggregateWriter, ReplacesBothFilesWithMode0640) {
    fs::path dir = fs::temp_directory_path() / ("em-writer-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / kDomainsFile) << "old\n";
    ASSERT_TRUE(write_aggregate_files(dir.string(), "a.test 1 2026-11-22T11:30:55Z -\n",
                                      "192.0.2.1 1 2026-11-22T11:30:55Z\n")
                    .ok());
    EXPECT_EQ(read(dir / kDomainsFile), "a.test 1 2026-11-22T11:30:55Z -\n");
    EXPECT_EQ(read(dir / kIpsFile), "192.0.2.1 1 2026-11-22T11:30:55Z\n");
    for (const char* name : {kDomainsFile, kIpsFile})
        EXPECT_EQ(fs::status(dir / name).permissions() & fs::perms::all,
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read)
            << name;
    auto r = write_aggregate_files((dir / "missing").string(), "", "");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find((dir / "missing").string()), std::string::npos)
        << r.error().message;
    fs::remove_all(dir);
}

}  // namespace em
