#include "common/duration.h"

#include <string_view>

namespace em {

Result<int64_t> parse_duration_ms(const std::string& text) {
    size_t pos = 0;
    double v = 0;
    try {
        v = std::stod(text, &pos);
    } catch (...) {
        return Error{"bad duration \"" + text + "\" (e.g. 5s, 500ms, 2m)"};
    }
    std::string unit = text.substr(pos);
    double scale = unit == "ms"                  ? 1
                   : unit == "s" || unit.empty() ? 1000
                   : unit == "m"                 ? 60000
                   : unit == "h"                 ? 3600000
                                                 : -1;
    if (scale < 0 || !(v > 0) || v * scale > 86400000.0)
        return Error{"bad duration \"" + text + "\" (e.g. 5s, 500ms, 2m; at most 24h)"};
    return static_cast<int64_t>(v * scale);
}

}  // namespace em

namespace em {

Result<int64_t> parse_period_s(const std::string& text) {
    int64_t n = 0;
    size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && n < 1000000)
        n = n * 10 + (text[i++] - '0');
    std::string_view unit = std::string_view(text).substr(i);
    const int64_t scale = unit == "m"   ? 60
                          : unit == "h" ? 3600
                          : unit == "d" ? 86400
                          : unit == "w" ? 7 * 86400
                                        : 0;
    if (i == 0 || !scale || n <= 0 || n * scale > 366 * 86400)
        return Error{"bad period \"" + text + "\" (e.g. 30m, 12h, 7d, 2w; at most a year)"};
    return n * scale;
}

}  // namespace em

namespace em {

namespace {

constexpr uint64_t kMaxMagnitude = uint64_t{1} << 63;  // -2^63 ns is representable

Error go_duration_error(std::string_view what, std::string_view orig) {
    return Error{"time: " + std::string(what) + " \"" + std::string(orig) + "\""};
}

}  // namespace

// A line-by-line port of Go's time.ParseDuration (go 1.25), overflow checks included.
Result<int64_t> parse_go_duration(std::string_view text) {
    const std::string_view orig = text;
    std::string_view s = text;
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s == "0") return int64_t{0};
    if (s.empty()) return go_duration_error("invalid duration", orig);
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    uint64_t d = 0;
    while (!s.empty()) {
        if (!(s[0] == '.' || digit(s[0]))) return go_duration_error("invalid duration", orig);
        // [0-9]*
        uint64_t v = 0;
        size_t i = 0;
        for (; i < s.size() && digit(s[i]); ++i) {
            if (v > kMaxMagnitude / 10) return go_duration_error("invalid duration", orig);
            v = v * 10 + static_cast<uint64_t>(s[i] - '0');
            if (v > kMaxMagnitude) return go_duration_error("invalid duration", orig);
        }
        const bool pre = i > 0;
        s.remove_prefix(i);
        // (\.[0-9]*)?: digits beyond uint64's precision are consumed and ignored.
        uint64_t f = 0;
        double scale = 1;
        bool post = false;
        if (!s.empty() && s[0] == '.') {
            s.remove_prefix(1);
            bool overflow = false;
            size_t j = 0;
            for (; j < s.size() && digit(s[j]); ++j) {
                if (overflow) continue;
                if (f > (kMaxMagnitude - 1) / 10) {
                    overflow = true;
                    continue;
                }
                const uint64_t y = f * 10 + static_cast<uint64_t>(s[j] - '0');
                if (y > kMaxMagnitude) {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10;
            }
            post = j > 0;
            s.remove_prefix(j);
        }
        if (!pre && !post) return go_duration_error("invalid duration", orig);
        // The unit: everything up to the next number.
        size_t u = 0;
        while (u < s.size() && s[u] != '.' && !digit(s[u])) ++u;
        if (u == 0) return go_duration_error("missing unit in duration", orig);
        const std::string_view unit_text = s.substr(0, u);
        s.remove_prefix(u);
        const uint64_t unit = unit_text == "ns" ? 1
                              : unit_text == "us" || unit_text == "\xc2\xb5s" ||  // µ U+00B5
                                      unit_text == "\xce\xbcs"                    // μ U+03BC
                                  ? 1000
                                  : unit_text == "ms"  ? 1000000
                                    : unit_text == "s" ? 1000000000
                                    : unit_text == "m" ? 60 * uint64_t{1000000000}
                                    : unit_text == "h" ? 3600 * uint64_t{1000000000}
                                                       : 0;
        if (unit == 0)
            return Error{"time: unknown unit \"" + std::string(unit_text) + "\" in duration \"" +
                         std::string(orig) + "\""};
        if (v > kMaxMagnitude / unit) return go_duration_error("invalid duration", orig);
        v *= unit;
        if (f > 0) {
            v +=
                static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
            if (v > kMaxMagnitude) return go_duration_error("invalid duration", orig);
        }
        d += v;
        if (d > kMaxMagnitude) return go_duration_error("invalid duration", orig);
    }
    if (neg) return d == kMaxMagnitude ? INT64_MIN : -static_cast<int64_t>(d);
    if (d > kMaxMagnitude - 1) return go_duration_error("invalid duration", orig);
    return static_cast<int64_t>(d);
}

}  // namespace em
