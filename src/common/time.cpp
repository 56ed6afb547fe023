#include "common/time.h"

#include <cstring>
#include <ctime>

namespace em {

namespace {

int month_index(const char* m) {
    static constexpr const char* kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; ++i)
        if (std::memcmp(kMonths + 3 * static_cast<size_t>(i), m, 3) == 0) return i;
    return -1;
}

bool digit(char c) { return c >= '0' && c <= '9'; }
int two(const char* p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

int64_t local_hour_base(int year, int mon, int day, int hour) {
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_isdst = -1;
    return static_cast<int64_t>(std::mktime(&tm));
}

}  // namespace

SyslogClock::SyslogClock(int64_t now) : now_(now) {
    std::time_t t = static_cast<std::time_t>(now);
    std::tm tm{};
    localtime_r(&t, &tm);
    now_year_ = tm.tm_year + 1900;
}

std::optional<int64_t> SyslogClock::parse(std::string_view s) {
    if (s.size() < 15) return std::nullopt;
    if (last_value_ >= 0) {  // the common case: the same second as the previous line
        uint64_t a0, a1, b0, b1;
        std::memcpy(&a0, s.data(), 8);
        std::memcpy(&a1, s.data() + 7, 8);
        std::memcpy(&b0, last_stamp_, 8);
        std::memcpy(&b1, last_stamp_ + 7, 8);
        if (a0 == b0 && a1 == b1) return last_value_;
    }
    const char* p = s.data();
    int mon = month_index(p);
    // "Nov 22 11:35:35" or "Nov  2 11:35:35"
    if (mon < 0 || p[3] != ' ' || p[6] != ' ' || p[9] != ':' || p[12] != ':') return std::nullopt;
    if (!digit(p[5]) || !(digit(p[4]) || p[4] == ' ')) return std::nullopt;
    for (int i : {7, 8, 10, 11, 13, 14})
        if (!digit(p[i])) return std::nullopt;
    int day = (p[4] == ' ' ? 0 : p[4] - '0') * 10 + (p[5] - '0');
    int hour = two(p + 7), min = two(p + 10), sec = two(p + 13);
    if (day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return std::nullopt;

    uint32_t key = static_cast<uint32_t>(mon * 10000 + day * 100 + hour);
    if (key != hour_key_) {
        int64_t base = local_hour_base(now_year_, mon, day, hour);
        if (base > now_ + 86400) base = local_hour_base(now_year_ - 1, mon, day, hour);
        hour_key_ = key;
        hour_base_ = base;
    }
    std::memcpy(last_stamp_, p, 15);
    last_value_ = hour_base_ + int64_t{min} * 60 + sec;
    return last_value_;
}

std::optional<int64_t> parse_rfc3339(std::string_view s) {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
    if (s.size() < 20) return std::nullopt;
    const char* p = s.data();
    for (int i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18})
        if (!digit(p[i])) return std::nullopt;
    if (p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != ' ') || p[13] != ':' ||
        p[16] != ':')
        return std::nullopt;
    std::tm tm{};
    tm.tm_year = two(p) * 100 + two(p + 2) - 1900;
    tm.tm_mon = two(p + 5) - 1;
    tm.tm_mday = two(p + 8);
    tm.tm_hour = two(p + 11);
    tm.tm_min = two(p + 14);
    tm.tm_sec = two(p + 17);
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return std::nullopt;
    size_t i = 19;
    if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && digit(s[i])) ++i;
    }
    if (i >= s.size()) return std::nullopt;
    int64_t offset = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        ++i;
    } else if ((s[i] == '+' || s[i] == '-') && i + 6 <= s.size() && digit(s[i + 1]) &&
               digit(s[i + 2]) && s[i + 3] == ':' && digit(s[i + 4]) && digit(s[i + 5])) {
        offset = (int64_t{two(p + i + 1)} * 60 + two(p + i + 4)) * 60;
        if (s[i] == '-') offset = -offset;
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != s.size() && s[i] != ' ') return std::nullopt;
    return static_cast<int64_t>(timegm(&tm)) - offset;
}

std::string format_rfc3339(int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string format_rfc3339_ms(int64_t ms) {
    int64_t s = ms / 1000;
    int64_t frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        s -= 1;
    }
    std::string out = format_rfc3339(s);
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(frac));
    out.insert(out.size() - 1, buf);
    return out;
}

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace em
