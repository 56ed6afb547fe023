#include "common/time.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace em {

class TimeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* tz = std::getenv("TZ");
        saved_ = tz ? tz : "";
        had_ = tz != nullptr;
    }
    void TearDown() override {
        if (had_)
            setenv("TZ", saved_.c_str(), 1);
        else
            unsetenv("TZ");
        tzset();
    }
    void use_tz(const char* tz) {
        setenv("TZ", tz, 1);
        tzset();
    }
    std::string saved_;
    bool had_ = false;
};

TEST_F(TimeTest, SyslogStampInUtc) {
    use_tz("UTC");
    int64_t now = *parse_rfc3339("2026-11-24T12:00:00Z");
    SyslogClock clock(now);
    EXPECT_EQ(format_rfc3339(*clock.parse("Nov 22 11:35:35")), "2026-11-22T11:35:35Z");
    EXPECT_EQ(format_rfc3339(*clock.parse("Nov  2 01:02:03")), "2026-11-02T01:02:03Z");
}

TEST_F(TimeTest, SyslogStampIsLocalTime) {
    use_tz("Europe/Berlin");
    SyslogClock clock(*parse_rfc3339("2026-11-24T12:00:00Z"));
    EXPECT_EQ(format_rfc3339(*clock.parse("Nov 22 11:35:35")), "2026-11-22T10:35:35Z");
    // Summer time: UTC+2.
    EXPECT_EQ(format_rfc3339(*clock.parse("Jul  1 12:00:00")), "2026-07-01T10:00:00Z");
}

TEST_F(TimeTest, NewYearRollover) {
    use_tz("UTC");
    SyslogClock clock(*parse_rfc3339("2027-01-01T00:10:00Z"));
    EXPECT_EQ(format_rfc3339(*clock.parse("Dec 31 23:59:59")), "2026-12-31T23:59:59Z");
    EXPECT_EQ(format_rfc3339(*clock.parse("Jan  1 00:05:00")), "2027-01-01T00:05:00Z");
    // A line up to a day ahead of the clock (skew) stays in this year.
    EXPECT_EQ(format_rfc3339(*clock.parse("Jan  1 12:00:00")), "2027-01-01T12:00:00Z");
}

TEST_F(TimeTest, RejectsBadStamps) {
    SyslogClock clock(0);
    for (const char* s : {"Foo 22 11:35:35", "Nov 22 11:35", "Nov 32 11:35:35", "Nov 22 25:00:00",
                          "Nov 22 11-35-35", "Nov 22 1a:35:35"})
        EXPECT_FALSE(clock.parse(s)) << s;
}

TEST(Rfc3339, ParsesOffsetsAndFractions) {
    EXPECT_EQ(*parse_rfc3339("2026-11-22T11:35:35Z"), 1795347335);
    EXPECT_EQ(*parse_rfc3339("2026-11-22T12:35:35.123456+01:00"), 1795347335);
    EXPECT_FALSE(parse_rfc3339("2026-11-22 11:35"));
    EXPECT_FALSE(parse_rfc3339("2026-13-22T11:35:35Z"));
    EXPECT_EQ(format_rfc3339_ms(1795347335123), "2026-11-22T11:35:35.123Z");
}

}  // namespace em
