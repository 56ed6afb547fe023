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
