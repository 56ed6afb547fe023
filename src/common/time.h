#pragma once
// Time stamps of log lines. All times inside the program are Unix seconds (UTC).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace em {

/// Reads the "Mon DD HH:MM:SS" stamps of syslog-format lines, which carry no year or zone:
/// they are local time (TZ), in the year that puts them at most a day after `now` (so a
/// December line read in January belongs to the previous year). Caches per hour, so a log's
/// worth of stamps costs a handful of mktime calls. Not thread-safe; one per reader.
class SyslogClock {
  public:
    explicit SyslogClock(int64_t now);
    /// `stamp` is the first 15 bytes of the line; nullopt when it is not a valid stamp.
    std::optional<int64_t> parse(std::string_view stamp);

  private:
    int64_t now_;
    int now_year_;
    char last_stamp_[15] = {};
    int64_t last_value_ = -1;
    uint32_t hour_key_ = UINT32_MAX;  // month * 10000 + day * 100 + hour
    int64_t hour_base_ = 0;
};

/// Parses an RFC 3339 stamp such as "2026-11-22T11:35:35.123456+01:00" (rsyslog's
/// high-precision format) to Unix seconds, fraction dropped.
std::optional<int64_t> parse_rfc3339(std::string_view text);

/// "2026-11-22T11:35:35Z".
std::string format_rfc3339(int64_t unix_seconds);
/// "2026-11-22T11:35:35.123Z".
std::string format_rfc3339_ms(int64_t unix_millis);

/// Seconds since the epoch, now (CLOCK_REALTIME).
int64_t unix_now();

}  // namespace em
