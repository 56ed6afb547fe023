#include "common/duration.h"

#include <gtest/gtest.h>

namespace em {

namespace {

int64_t ms(const char* text) {
    auto r = parse_duration_ms(text);
    EXPECT_TRUE(r.ok()) << text << ": " << r.error().message;
    return r.ok() ? *r : -1;
}

std::string error_of(const char* text) {
    auto r = parse_duration_ms(text);
    return r.ok() ? "" : r.error().message;
}

}  // namespace

TEST(Duration, UnitsAndPlainSeconds) {
    EXPECT_EQ(ms("500ms"), 500);
    EXPECT_EQ(ms("5s"), 5000);
    EXPECT_EQ(ms("2m"), 120000);
    EXPECT_EQ(ms("1h"), 3600000);
    EXPECT_EQ(ms("7"), 7000);
    EXPECT_EQ(ms("1.5s"), 1500);
    EXPECT_EQ(ms("0.5"), 500);
    EXPECT_EQ(ms("24h"), 86400000);  // the bound itself is allowed
}

TEST(Duration, RejectsWithTheText) {
    EXPECT_EQ(error_of("soon"), "bad duration \"soon\" (e.g. 5s, 500ms, 2m)");
    EXPECT_EQ(error_of(""), "bad duration \"\" (e.g. 5s, 500ms, 2m)");
    EXPECT_EQ(error_of("5d"), "bad duration \"5d\" (e.g. 5s, 500ms, 2m; at most 24h)");
    EXPECT_EQ(error_of("5 s"), "bad duration \"5 s\" (e.g. 5s, 500ms, 2m; at most 24h)");
    EXPECT_EQ(error_of("0"), "bad duration \"0\" (e.g. 5s, 500ms, 2m; at most 24h)");
    EXPECT_EQ(error_of("-1s"), "bad duration \"-1s\" (e.g. 5s, 500ms, 2m; at most 24h)");
    EXPECT_EQ(error_of("25h"), "bad duration \"25h\" (e.g. 5s, 500ms, 2m; at most 24h)");
    EXPECT_EQ(error_of("nan"), "bad duration \"nan\" (e.g. 5s, 500ms, 2m; at most 24h)");
    EXPECT_EQ(error_of("inf"), "bad duration \"inf\" (e.g. 5s, 500ms, 2m; at most 24h)");
}

}  // namespace em

namespace em {

TEST(Size, BinaryUnitsAndPlainBytes) {
    auto bytes = [](const char* text) -> int64_t {
        auto r = parse_size_bytes(text);
        EXPECT_TRUE(r.ok()) << text << ": " << r.error().message;
        return r.ok() ? static_cast<int64_t>(*r) : -1;
    };
    EXPECT_EQ(bytes("0"), 0);
    EXPECT_EQ(bytes("4096"), 4096);
    EXPECT_EQ(bytes("4096B"), 4096);
    EXPECT_EQ(bytes("64KiB"), 65536);
    EXPECT_EQ(bytes("64K"), 65536);
    EXPECT_EQ(bytes("4MiB"), 4 << 20);
    EXPECT_EQ(bytes("4M"), 4 << 20);
    EXPECT_EQ(bytes("2GiB"), int64_t{2} << 30);
    EXPECT_EQ(bytes("8589934591G"), (int64_t{8589934591}) << 30);  // the largest in GiB
}

TEST(Size, RejectsWithTheText) {
    for (const char* bad : {"", "MiB", "1.5MiB", "-1", "+1", "4 MiB", "4MB", "4kB", "4mib", "4T",
                            "9223372036854775808", "8589934592G", "99999999999999999999999"}) {
        auto r = parse_size_bytes(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().message,
                  "bad size \"" + std::string(bad) + "\" (e.g. 4096, 64KiB, 4MiB, 1GiB)");
    }
    auto max = parse_size_bytes("9223372036854775807");
    ASSERT_TRUE(max.ok());
    EXPECT_EQ(*max, uint64_t{INT64_MAX});
}

}  // namespace em
