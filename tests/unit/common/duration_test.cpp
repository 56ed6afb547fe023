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

namespace {

int64_t go_ns(const char* text) {
    auto r = parse_go_duration(text);
    EXPECT_TRUE(r.ok()) << text << ": " << r.error().message;
    return r.ok() ? *r : -12345;
}

std::string go_error(const char* text) {
    auto r = parse_go_duration(text);
    return r.ok() ? "" : r.error().message;
}

constexpr int64_t kMs = 1000000, kS = 1000 * kMs, kM = 60 * kS, kH = 60 * kM;

}  // namespace

// The cases of Go's time.ParseDuration tests (src/time/time_test.go, parseDurationTests).
TEST(GoDuration, AcceptsWhatGoAccepts) {
    EXPECT_EQ(go_ns("0"), 0);
    EXPECT_EQ(go_ns("-0"), 0);
    EXPECT_EQ(go_ns("+0"), 0);
    EXPECT_EQ(go_ns("0s"), 0);
    EXPECT_EQ(go_ns("5s"), 5 * kS);
    EXPECT_EQ(go_ns("30s"), 30 * kS);
    EXPECT_EQ(go_ns("1478s"), 1478 * kS);
    EXPECT_EQ(go_ns("-5s"), -5 * kS);
    EXPECT_EQ(go_ns("+5s"), 5 * kS);
    EXPECT_EQ(go_ns("-0s"), 0);
    EXPECT_EQ(go_ns("5.0s"), 5 * kS);
    EXPECT_EQ(go_ns("5.6s"), 5 * kS + 600 * kMs);
    EXPECT_EQ(go_ns("5.s"), 5 * kS);
    EXPECT_EQ(go_ns(".5s"), kS / 2);
    EXPECT_EQ(go_ns("1.0s"), kS);
    EXPECT_EQ(go_ns("1.00s"), kS);
    EXPECT_EQ(go_ns("1.004s"), kS + 4 * kMs);
    EXPECT_EQ(go_ns("1.0040s"), kS + 4 * kMs);
    EXPECT_EQ(go_ns("100.00100s"), 100 * kS + kMs);
    EXPECT_EQ(go_ns("10ns"), 10);
    EXPECT_EQ(go_ns("11us"), 11000);
    EXPECT_EQ(go_ns("12\xc2\xb5s"), 12000);  // µs, U+00B5
    EXPECT_EQ(go_ns("12\xce\xbcs"), 12000);  // μs, U+03BC
    EXPECT_EQ(go_ns("13ms"), 13 * kMs);
    EXPECT_EQ(go_ns("300ms"), 300 * kMs);
    EXPECT_EQ(go_ns("14s"), 14 * kS);
    EXPECT_EQ(go_ns("15m"), 15 * kM);
    EXPECT_EQ(go_ns("16h"), 16 * kH);
    EXPECT_EQ(go_ns("3h30m"), 3 * kH + 30 * kM);
    EXPECT_EQ(go_ns("1h30m"), 90 * kM);
    EXPECT_EQ(go_ns("1.5h"), 90 * kM);
    EXPECT_EQ(go_ns("10.5s4m"), 4 * kM + 10 * kS + 500 * kMs);
    EXPECT_EQ(go_ns("-2m3.4s"), -(2 * kM + 3 * kS + 400 * kMs));
    EXPECT_EQ(go_ns("1h2m3s4ms5us6ns"), kH + 2 * kM + 3 * kS + 4 * kMs + 5000 + 6);
    EXPECT_EQ(go_ns("39h9m14.425s"), 39 * kH + 9 * kM + 14 * kS + 425 * kMs);
    EXPECT_EQ(go_ns("52763797000ns"), 52763797000);
    EXPECT_EQ(go_ns("0.3333333333333333333h"), 20 * kM);
    EXPECT_EQ(go_ns("9007199254740993ns"), 9007199254740993);
    EXPECT_EQ(go_ns("9223372036854775807ns"), INT64_MAX);
    EXPECT_EQ(go_ns("9223372036854775.807us"), INT64_MAX);
    EXPECT_EQ(go_ns("9223372036s854ms775us807ns"), INT64_MAX);
    EXPECT_EQ(go_ns("-9223372036854775808ns"), INT64_MIN);
    EXPECT_EQ(go_ns("-9223372036854775.808us"), INT64_MIN);
    EXPECT_EQ(go_ns("-9223372036s854ms775us808ns"), INT64_MIN);
    EXPECT_EQ(go_ns("0.100000000000000000000h"), 6 * kM);
    EXPECT_EQ(go_ns("0.830103483285477580700h"), 49 * kM + 48 * kS + 372539827);
}

TEST(GoDuration, RejectsWithGosText) {
    EXPECT_EQ(go_error(""), "time: invalid duration \"\"");
    EXPECT_EQ(go_error("3"), "time: missing unit in duration \"3\"");
    EXPECT_EQ(go_error("-"), "time: invalid duration \"-\"");
    EXPECT_EQ(go_error("s"), "time: invalid duration \"s\"");
    EXPECT_EQ(go_error("."), "time: invalid duration \".\"");
    EXPECT_EQ(go_error("-."), "time: invalid duration \"-.\"");
    EXPECT_EQ(go_error(".s"), "time: invalid duration \".s\"");
    EXPECT_EQ(go_error("+.s"), "time: invalid duration \"+.s\"");
    EXPECT_EQ(go_error("1d"), "time: unknown unit \"d\" in duration \"1d\"");
    EXPECT_EQ(go_error("5 s"), "time: unknown unit \" s\" in duration \"5 s\"");
    EXPECT_EQ(go_error("soon"), "time: invalid duration \"soon\"");
    EXPECT_EQ(go_error("\x85\x85"), "time: invalid duration \"\x85\x85\"");
    EXPECT_EQ(go_error("9223372036854775808ns"),
              "time: invalid duration \"9223372036854775808ns\"");
    EXPECT_EQ(go_error("9223372036854775.808us"),
              "time: invalid duration \"9223372036854775.808us\"");
    EXPECT_EQ(go_error("9223372036854ms775us808ns"),
              "time: invalid duration \"9223372036854ms775us808ns\"");
    EXPECT_EQ(go_error("-9223372036854775809ns"),
              "time: invalid duration \"-9223372036854775809ns\"");
    EXPECT_EQ(go_error("3000000h"), "time: invalid duration \"3000000h\"");
}

}  // namespace em
